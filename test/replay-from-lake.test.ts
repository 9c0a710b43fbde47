/**
 * `remediate replay --from lake`: the SQL built from the registry, its WHERE
 * clause run for real in SQLite over every recorded event, and the CloudTrail
 * Lake round trip (start, wait, page, one record per row's `eventjson`)
 * against a mocked client.
 */
import { CloudTrailClient, DescribeQueryCommand, GetQueryResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { lakeRecordLines, lakeSql, lakeWhere, parseEventDataStore } from '../cli/lake.js';
import { allRules } from '../remediations/registry.js';
import { expectUsageError, runCli } from './helpers/cli.js';
import { loadEvent } from './helpers/fixtures.js';
import { ACCOUNT, runWhere, WINDOW } from './helpers/history-where.js';

const cloudtrail = mockClient(CloudTrailClient);
beforeEach(() => cloudtrail.reset());

const STORE_ID = 'EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE';
const STORE_ARN = `arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/${STORE_ID}`;
const SINCE = new Date('2025-03-01T00:00:00Z');
const UNTIL = new Date('2025-03-08T00:00:00Z');
const sgOpenIngress = allRules.filter((rule) => rule.id === 'sg-open-ingress');
const SSH = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
/** A result row as Lake returns it: a list of one-column maps. */
const rowOf = (record: unknown, column = 'eventjson') => [{ [column]: JSON.stringify(record, null, 2) }];

describe('the SQL', () => {
  it('for one rule, a time range, an account and a Region, exactly', () => {
    expect(lakeSql({ store: { id: STORE_ID }, rules: sgOpenIngress, since: SINCE, until: UNTIL, accounts: ['111122223333'], regions: ['eu-west-1'] })).toBe(
      [
        'SELECT eventjson',
        `FROM ${STORE_ID}`,
        "WHERE ((eventsource = 'ec2.amazonaws.com' AND eventname IN ('AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules')))",
        '  AND errorcode IS NULL',
        "  AND eventtime >= '2025-03-01 00:00:00'",
        "  AND eventtime < '2025-03-08 00:00:00'",
        "  AND recipientaccountid IN ('111122223333')",
        "  AND awsregion IN ('eu-west-1')",
        'ORDER BY eventtime',
      ].join('\n'),
    );
  });

  it('takes the store as an ARN (its Region is where the query runs) or as an id, and refuses anything else', () => {
    expect(parseEventDataStore(STORE_ARN)).toStrictEqual({ id: STORE_ID, region: 'eu-west-1' });
    expect(parseEventDataStore(STORE_ID)).toStrictEqual({ id: STORE_ID });
    for (const bad of ['x; DROP', 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/main', 'a b', 'arn-like']) expect(parseEventDataStore(bad), bad).toBeUndefined();
  });
});

describe('the WHERE clause, run in SQLite over every recorded event', () => {
  it('selects exactly the records that reach a rule, without an error code, in the window, of the account (eventtime as Lake writes a timestamp)', async () => {
    const { selected, expected, matched } = await runWhere(lakeWhere({ rules: allRules, ...WINDOW, accounts: [ACCOUNT] }), (iso) => iso.replace('T', ' ').replace('Z', ''));
    expect(expected.length).toBeGreaterThan(100);
    expect(selected).toStrictEqual(expected);
    expect(matched.filter((record) => !selected.includes(record))).toStrictEqual([]);
  });
});

describe('the CloudTrail Lake round trip', () => {
  it('starts the query in the store\'s Region, waits for it, pages the results, and decides each record as a file replay does', async () => {
    const { detail } = loadEvent(SSH);
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'q-1' });
    cloudtrail.on(DescribeQueryCommand).resolvesOnce({ QueryStatus: 'QUEUED' }).resolvesOnce({ QueryStatus: 'RUNNING' }).resolves({ QueryStatus: 'FINISHED' });
    // The record comes back pretty-printed, with line breaks: it is one record all the same.
    cloudtrail.on(GetQueryResultsCommand).resolvesOnce({ QueryResultRows: [rowOf(detail)], NextToken: 'p2' }).resolves({ QueryResultRows: [rowOf(detail, 'eventJson')] });
    const argv = ['replay', '--from', 'lake', '--event-data-store', STORE_ARN, '--since', '2025-01-01', '--until', '2025-06-01', '--rule', 'sg-open-ingress', '--format', 'jsonl'];
    const { code, stdout, stderr } = await runCli(argv, { AWS_REGION: 'us-east-1' });
    expect(stderr).toStrictEqual([]);
    expect(code).toBe(0);
    expect(cloudtrail.commandCalls(StartQueryCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueryStatement: lakeSql({ store: { id: STORE_ID }, rules: sgOpenIngress, since: new Date('2025-01-01T00:00:00Z'), until: new Date('2025-06-01T00:00:00Z') }) },
    ]);
    expect(await cloudtrail.commandCalls(StartQueryCommand)[0]?.thisValue.config.region()).toBe('eu-west-1');
    expect(cloudtrail.commandCalls(DescribeQueryCommand).map((call) => call.args[0].input)).toStrictEqual([{ QueryId: 'q-1' }, { QueryId: 'q-1' }, { QueryId: 'q-1' }]);
    expect(cloudtrail.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueryId: 'q-1', MaxQueryResults: 1000 },
      { QueryId: 'q-1', MaxQueryResults: 1000, NextToken: 'p2' },
    ]);
    const lines = stdout.join('\n').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const fromFile = (await runCli(['replay', `events/${SSH}`, '--rule', 'sg-open-ingress', '--format', 'jsonl'])).stdout.join('\n').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const withoutSource = ({ source: _source, ...rest }: Record<string, unknown>) => rest;
    expect(fromFile).toHaveLength(1);
    expect(lines.map(withoutSource)).toStrictEqual([withoutSource(fromFile[0] ?? {}), withoutSource(fromFile[0] ?? {})]);
  });

  it('reports a failed query with Lake\'s reason as one unreadable line, exit code 2', async () => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'q-2' });
    cloudtrail.on(DescribeQueryCommand).resolves({ QueryStatus: 'FAILED', ErrorMessage: 'Query failed: COLUMN_NOT_FOUND: eventjson' });
    const { code, stdout } = await runCli(['replay', '--from', 'lake', '--event-data-store', STORE_ID, '--format', 'jsonl'], { AWS_REGION: 'us-east-1' });
    expect(code).toBe(2);
    expect(stdout.join('\n')).toContain('COLUMN_NOT_FOUND: eventjson');
    expect(cloudtrail.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('retries a throttled call with growing waits, and gives up with the error after its attempts', async () => {
    const { detail } = loadEvent(SSH);
    cloudtrail.on(StartQueryCommand).rejectsOnce(throttled()).resolves({ QueryId: 'q-3' });
    cloudtrail.on(DescribeQueryCommand).rejectsOnce(throttled()).resolves({ QueryStatus: 'FINISHED' });
    cloudtrail.on(GetQueryResultsCommand).resolves({ QueryResultRows: [rowOf(detail)] });
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const lines: string[] = [];
    for await (const line of lakeRecordLines({ sql: 'SELECT eventjson FROM x', client: new CloudTrailClient({ region: 'us-east-1' }), sleep })) lines.push(line);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toStrictEqual([detail]);
    expect(waits).toStrictEqual([1000, 1000]);

    cloudtrail.reset();
    cloudtrail.on(StartQueryCommand).rejects(Object.assign(new Error('Too many concurrent queries'), { name: 'MaxConcurrentQueriesException' }));
    waits.length = 0;
    await expect(lakeRecordLines({ sql: 'SELECT eventjson FROM x', client: new CloudTrailClient({ region: 'us-east-1' }), sleep }).next()).rejects.toThrow('Too many concurrent queries');
    expect(cloudtrail.commandCalls(StartQueryCommand)).toHaveLength(6);
    expect(waits).toStrictEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('fails, naming the row, when a row has no eventjson (a store of other events)', async () => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'q-4' });
    cloudtrail.on(DescribeQueryCommand).resolves({ QueryStatus: 'FINISHED' });
    cloudtrail.on(GetQueryResultsCommand).resolves({ QueryResultRows: [[{ eventname: 'AuthorizeSecurityGroupIngress' }]] });
    const { code, stdout } = await runCli(['replay', '--from', 'lake', '--event-data-store', STORE_ID, '--format', 'jsonl'], { AWS_REGION: 'us-east-1' });
    expect(code).toBe(2);
    expect(stdout.join('\n')).toContain('row 1 has no eventjson column');
  });

  it('--print-sql prints the query and calls nothing: no credentials needed', async () => {
    const { code, stdout } = await runCli(['replay', '--from', 'lake', '--event-data-store', STORE_ARN, '--rule', 'sg-open-ingress', '--since', '2025-03-01', '--until', '2025-03-08', '--print-sql']);
    expect(code).toBe(0);
    expect(stdout.join('\n')).toBe(lakeSql({ store: { id: STORE_ID }, rules: sgOpenIngress, since: SINCE, until: UNTIL }));
    expect(cloudtrail.calls()).toHaveLength(0);
  });

  it.each([
    [['replay', '--from', 'lake'], '--from lake needs --event-data-store'],
    [['replay', '--from', 'lake', '--event-data-store', 'x;y'], '--event-data-store must be an event data store ARN'],
    [['replay', '--from', 'lake', '--event-data-store', STORE_ID, '--account', '12'], '--account must be a 12-digit account id'],
    [['replay', '--from', 'lake', '--event-data-store', STORE_ID, '--database', 'd'], '--database only applies with --from athena'],
    [['replay', 'events/', '--event-data-store', STORE_ID], '--event-data-store only applies with --from lake'],
    [['replay', '--from', 'cloudtrail', '--print-sql'], '--print-sql only applies with --from athena or lake'],
  ])('refuses %j in one line, with no AWS call', (argv, message) => expectUsageError(argv, message, [cloudtrail]));
});
