/**
 * `remediate replay --from athena`: the SQL built from the registry, its
 * WHERE clause run for real in SQLite (sql.js) over every recorded event to
 * show it selects exactly what a rule can act on, and the Athena round trip
 * (start, poll, page, rebuild each record) against a mocked client.
 */
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { athenaRecordLines, athenaSql, athenaWhere, recordFromRow, SELECTED_COLUMNS } from '../cli/athena.js';
import { allRules } from '../remediations/registry.js';
import { expectUsageError, runCli } from './helpers/cli.js';
import { loadEvent } from './helpers/fixtures.js';
import { ACCOUNT, runWhere, WINDOW } from './helpers/history-where.js';

const athena = mockClient(AthenaClient);
beforeEach(() => athena.reset());

const SINCE = new Date('2025-03-01T00:00:00Z');
const UNTIL = new Date('2025-03-08T00:00:00Z');
const sgOpenIngress = allRules.filter((rule) => rule.id === 'sg-open-ingress');

function at(record: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined), record);
}

/** A record as Athena returns its row: each selected column as text, JSON columns as JSON text, absent ones without a value. */
function rowOf(record: Record<string, unknown>) {
  return {
    Data: SELECTED_COLUMNS.map(([, path]) => {
      const value = at(record, path);
      if (value === undefined) return {};
      return { VarCharValue: typeof value === 'string' ? value : JSON.stringify(value) };
    }),
  };
}
const HEADER = { Data: SELECTED_COLUMNS.map(([column]) => ({ VarCharValue: column.replace(/\./g, '_') })) };

describe('the SQL', () => {
  it('for one rule, a time range and an account, exactly', () => {
    expect(athenaSql({ database: 'security', table: 'cloudtrail_logs_pp', rules: sgOpenIngress, since: SINCE, until: UNTIL, accounts: ['111122223333'], projection: true })).toBe(
      [
        'SELECT',
        `  ${SELECTED_COLUMNS.map(([column]) => column).join(',\n  ')}`,
        'FROM "security"."cloudtrail_logs_pp"',
        "WHERE ((eventsource = 'ec2.amazonaws.com' AND eventname IN ('AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules')))",
        '  AND errorcode IS NULL',
        "  AND eventtime >= '2025-03-01T00:00:00Z'",
        "  AND eventtime < '2025-03-08T00:00:00Z'",
        "  AND recipientaccountid IN ('111122223333')",
        `  AND "timestamp" >= '2025/03/01'`,
        `  AND "timestamp" <= '2025/03/09'`,
        'ORDER BY eventtime',
      ].join('\n'),
    );
  });

  it('for the whole registry, names each event source once with exactly the event names of its rules', () => {
    const where = athenaWhere({ rules: allRules, since: SINCE, until: UNTIL });
    const expected = new Map<string, Set<string>>();
    for (const trigger of allRules.flatMap((rule) => rule.triggers)) for (const name of trigger.eventNames) expected.set(trigger.eventSource, (expected.get(trigger.eventSource) ?? new Set()).add(name));
    const found = [...where.matchAll(/\(eventsource = '([^']+)' AND eventname IN \(([^)]*)\)\)/g)].map((match) => [match[1], (match[2] ?? '').split(', ').map((name) => name.slice(1, -1))]);
    expect(Object.fromEntries(found)).toStrictEqual(Object.fromEntries([...expected].map(([source, names]) => [source, [...names].sort()])));
  });

  it('refuses a database or table name that is not letters, digits and underscores', () => {
    expect(() => athenaSql({ database: 'x"; DROP TABLE y; --', table: 't', rules: allRules, since: SINCE, until: UNTIL })).toThrow('letters, digits and underscores');
  });
});

describe('the WHERE clause, run in SQLite over every recorded event', () => {
  it('selects exactly the records that reach a rule (a trigger names their source and event), without an error code, in the window, of the account', async () => {
    const { selected, expected, matched } = await runWhere(athenaWhere({ rules: allRules, ...WINDOW, accounts: [ACCOUNT] }), (iso) => iso);
    expect(expected.length).toBeGreaterThan(100);
    expect(selected).toStrictEqual(expected);
    expect(matched.filter((record) => !selected.includes(record))).toStrictEqual([]);
  });
});

describe('the Athena round trip', () => {
  const SSH = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';

  it('rebuilds a record from its row, the JSON columns as objects', () => {
    const { detail } = loadEvent(SSH);
    const record = recordFromRow(rowOf(detail as unknown as Record<string, unknown>).Data.map((datum) => ('VarCharValue' in datum ? datum.VarCharValue : undefined)));
    expect(record['requestParameters']).toStrictEqual(detail.requestParameters);
    expect(record['userIdentity']).toMatchObject({ type: detail.userIdentity?.type, arn: detail.userIdentity?.arn });
    expect(record['eventName']).toBe('AuthorizeSecurityGroupIngress');
  });

  it('starts the query, waits for it, pages the results, and decides each record as a file replay does', async () => {
    const { detail } = loadEvent(SSH);
    const row = rowOf(detail as unknown as Record<string, unknown>);
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } }).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce({ ResultSet: { Rows: [HEADER, row] }, NextToken: 'p2' })
      .resolves({ ResultSet: { Rows: [row] } });
    const argv = ['replay', '--from', 'athena', '--database', 'security', '--table', 'cloudtrail_logs', '--workgroup', 'primary', '--since', '2025-01-01', '--rule', 'sg-open-ingress', '--format', 'jsonl'];
    const { code, stdout, stderr } = await runCli(argv, { AWS_REGION: 'us-east-1' });
    expect(stderr).toStrictEqual([]);
    expect(code).toBe(0);
    const start = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(start?.QueryExecutionContext).toStrictEqual({ Database: 'security' });
    expect(start?.WorkGroup).toBe('primary');
    expect(start?.QueryString).toContain('FROM "security"."cloudtrail_logs"');
    expect(athena.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueryExecutionId: 'q-1', MaxResults: 1000 },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: 'p2' },
    ]);
    const lines = stdout.join('\n').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const fromFile = (await runCli(['replay', `events/${SSH}`, '--rule', 'sg-open-ingress', '--format', 'jsonl'])).stdout.join('\n').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const withoutSource = ({ source: _source, ...rest }: Record<string, unknown>) => rest;
    expect(lines.map(withoutSource)).toStrictEqual([withoutSource(fromFile[0] ?? {}), withoutSource(fromFile[0] ?? {})]);
  });

  it('reports a failed query with Athena\'s reason as one unreadable line, exit code 2', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-2' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', StateChangeReason: 'TABLE_NOT_FOUND: line 3:6: Table awsdatacatalog.security.nope does not exist' } } });
    const { code, stdout } = await runCli(['replay', '--from', 'athena', '--database', 'security', '--table', 'nope', '--format', 'jsonl'], { AWS_REGION: 'us-east-1' });
    expect(code).toBe(2);
    expect(stdout.join('\n')).toContain('TABLE_NOT_FOUND');
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('retries a throttled call with growing waits, and gives up with the error after its attempts', async () => {
    const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
    athena.on(StartQueryExecutionCommand).rejectsOnce(throttled()).resolves({ QueryExecutionId: 'q-3' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena.on(GetQueryResultsCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({ ResultSet: { Rows: [HEADER, rowOf(loadEvent(SSH).detail as unknown as Record<string, unknown>)] } });
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const lines: string[] = [];
    for await (const line of athenaRecordLines({ sql: 'SELECT 1', database: 'security', client: new AthenaClient({ region: 'us-east-1' }), sleep })) lines.push(line);
    expect(lines).toHaveLength(1);
    expect(waits).toStrictEqual([1000, 1000, 2000]);

    athena.reset();
    athena.on(StartQueryExecutionCommand).rejects(throttled());
    waits.length = 0;
    await expect(athenaRecordLines({ sql: 'SELECT 1', database: 'security', client: new AthenaClient({ region: 'us-east-1' }), sleep }).next()).rejects.toThrow('Rate exceeded');
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(6);
    expect(waits).toStrictEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('--print-sql prints the query and calls nothing: no credentials needed', async () => {
    const { code, stdout } = await runCli(['replay', '--from', 'athena', '--database', 'security', '--table', 'cloudtrail_logs', '--rule', 'sg-open-ingress', '--since', '2025-03-01', '--until', '2025-03-08', '--print-sql']);
    expect(code).toBe(0);
    expect(stdout.join('\n')).toBe(athenaSql({ database: 'security', table: 'cloudtrail_logs', rules: sgOpenIngress, since: SINCE, until: UNTIL }));
    expect(athena.calls()).toHaveLength(0);
  });

  it.each([
    [['replay', '--from', 'athena', '--table', 't'], '--from athena needs --database'],
    [['replay', '--from', 'athena', '--database', 'd;x', '--table', 't'], '--database must be letters, digits and underscores'],
    [['replay', '--from', 'athena', '--database', 'd', '--table', 't', '--account', '12'], '--account must be a 12-digit account id'],
    [['replay', '--from', 'athena', '--database', 'd', '--table', 't', '--output-location', 'http://x'], '--output-location must be an s3:// location'],
    [['replay', 'events/', '--database', 'd'], '--database only applies with --from athena'],
  ])('refuses %j in one line, with no AWS call', (argv, message) => expectUsageError(argv, message, [athena]));
});
