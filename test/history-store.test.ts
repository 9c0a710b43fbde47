/**
 * The history the Lambdas write (`engine/history-store.ts`), against DynamoDB
 * (dynalite on 127.0.0.1): `runEvent` records one item per decision that
 * alerted (proposed, applied, exempt) and none for a compliant one; a
 * redelivered event overwrites its item; a history store that fails or does
 * not answer changes nothing in the remediation, and is counted; a query
 * reads day partitions newest first, across families, page by page.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { dynamoDbHistoryStore, HISTORY_TABLE_SCHEMA, type HistoryRecord, type HistoryRow, type HistoryStore } from '../engine/history-store.js';
import { runEvent, type EngineDeps } from '../engine/lambda.js';
import type { Mode } from '../engine/types.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { securityGroupRules, securityGroupsFamily } from '../remediations/security-groups/index.js';
import { TEST_REGION, useDynalite } from './helpers/dynalite.js';
import { fakeSecurityGroups, ingressRule } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger, type RecordingLogger } from './helpers/logger.js';

const VIOLATION = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';
const COMPLIANT = 'ec2/AuthorizeSecurityGroupIngress-private-postgres-compliant.json';
const EVENT_ID = '7cbd12f7-48e3-4e4c-a988-254bb5154dfb';
const GROUP = 'sg-0a1b2c3d4e5f67890';
const RULE_ID = 'sgr-0f1e2d3c4b5a69788';
const NOW = new Date('2025-03-04T10:20:00.000Z');
const REAUTHORIZE = {
  service: 'ec2' as const,
  operation: 'AuthorizeSecurityGroupIngress',
  input: { GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'temp access' }] }] },
  reason: 'Re-open the revoked ingress exactly as it was granted.',
};

const dynamo = useDynalite();
let table: string;
let tables = 0;


const createHistoryTable = (name: string) => dynamo.createTable(name, HISTORY_TABLE_SCHEMA);

const store = (options: { pageSize?: number } = {}) => dynamoDbHistoryStore({ tableName: table, client: dynamo.client, ...options });

async function items() {
  return (await dynamo.client.send(new ScanCommand({ TableName: table }))).Items ?? [];
}

async function collect(rows: AsyncIterable<HistoryRow>): Promise<HistoryRow[]> {
  const all: HistoryRow[] = [];
  for await (const row of rows) all.push(row);
  return all;
}

/** The security-groups function's engine, in `mode`, with the group holding (or not) the rule the event opened. */
function deps(mode: Mode, options: { history?: HistoryStore; logger?: RecordingLogger; counted?: [string, string | undefined][]; tags?: { Key: string; Value: string }[]; open?: boolean } = {}): EngineDeps {
  const rules = options.open === false ? [] : [ingressRule(GROUP, RULE_ID, 'tcp', 22, 22, '0.0.0.0/0')];
  fakeSecurityGroups([{ groupId: GROUP, groupName: 'web', tags: options.tags ?? [], rules: new Map(rules.map((rule) => [rule.SecurityGroupRuleId ?? '', rule])) }]);
  const counted = options.counted;
  return {
    rules: securityGroupRules,
    config: parseConfig({ rules: { 'sg-open-ingress': { mode } } }, securityGroupRules),
    env: { AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-security-groups' },
    gateway: createAwsGateway(runtimeCommands(securityGroupsFamily), { region: TEST_REGION }),
    logger: options.logger ?? recordingLogger(),
    now: () => NOW,
    history: options.history ?? store(),
    ...(counted ? { metrics: { count: (name: string, rule?: string) => void counted.push([name, rule]) } } : {}),
  };
}

/** The record every test of the violation fixture starts from. */
function recordOf(overrides: Partial<HistoryRecord>): HistoryRecord {
  return {
    time: '2025-03-04T10:15:00.000Z',
    recordedAt: '2025-03-04T10:20:00.000Z',
    eventId: EVENT_ID,
    eventName: 'AuthorizeSecurityGroupIngress',
    eventSource: 'ec2.amazonaws.com',
    rule: 'sg-open-ingress',
    family: 'security-groups',
    severity: 'high',
    mode: 'remediate',
    verdict: 'violation',
    outcome: 'applied',
    account: '111122223333',
    region: 'us-east-1',
    principal: 'arn:aws:iam::111122223333:user/alice',
    sourceIp: '198.51.100.23',
    resources: [GROUP],
    summary: expect.any(String) as unknown as string,
    functionName: 'remediation-bot-test-security-groups',
    undo: [],
    ...overrides,
  };
}

const wholeRange = { since: new Date('2025-03-01T00:00:00Z'), until: new Date('2025-03-10T00:00:00Z'), families: ['security-groups'] };

describe('history records written by runEvent', () => {
  beforeEach(async () => {
    table = await createHistoryTable(`remediation-bot-test-history-${(tables += 1)}`);
  });

  it('records a violation in propose mode as proposed, with no undo steps', async () => {
    const report = await runEvent(loadEvent(VIOLATION), deps('propose'));
    expect(report.records.map((record) => record.outcome)).toStrictEqual(['proposed']);
    expect(await collect(store().query(wholeRange))).toStrictEqual([{ kind: 'record', record: recordOf({ mode: 'propose', outcome: 'proposed' }) }]);
  });

  it('records an applied fix with the steps that undo it', async () => {
    const report = await runEvent(loadEvent(VIOLATION), deps('remediate'));
    expect(report.records.map((record) => record.outcome)).toStrictEqual(['applied']);
    expect(await collect(store().query(wholeRange))).toStrictEqual([{ kind: 'record', record: recordOf({ outcome: 'applied', undo: [REAUTHORIZE] }) }]);
  });

  it('records an exempt decision with the exemption as its summary', async () => {
    const report = await runEvent(loadEvent(VIOLATION), deps('remediate', { tags: [{ Key: 'remediation:exempt', Value: 'bastion, SEC-42' }] }));
    expect(report.records.map((record) => record.outcome)).toStrictEqual(['exempt']);
    const rows = await collect(store().query(wholeRange));
    expect(rows).toStrictEqual([{ kind: 'record', record: recordOf({ verdict: 'exempt', outcome: 'exempt', summary: expect.stringContaining('bastion, SEC-42') as unknown as string }) }]);
  });

  it('records nothing for a compliant decision', async () => {
    const report = await runEvent(loadEvent(COMPLIANT), deps('remediate'));
    expect(report.records.map((record) => [record.decision.verdict.kind, record.outcome])).toStrictEqual([['compliant', 'none']]);
    expect(await items()).toStrictEqual([]);
  });

  it('keys the item by family and event day, then event time, event id and rule, and keeps it 90 days after the event', async () => {
    await runEvent(loadEvent(VIOLATION), deps('propose'));
    const [item] = await items();
    expect([item?.['pk'], item?.['sk'], item?.['expiration']]).toStrictEqual([
      { S: 'security-groups#2025-03-04' },
      { S: `2025-03-04T10:15:00.000Z#${EVENT_ID}#sg-open-ingress` },
      { N: String(Date.parse('2025-03-04T10:15:00Z') / 1000 + 90 * 86_400) },
    ]);
  });

  it('a redelivered event overwrites its item: one item, with what the last delivery did', async () => {
    await runEvent(loadEvent(VIOLATION), deps('remediate'));
    // The group is closed now: the retry reads it fixed.
    await runEvent(loadEvent(VIOLATION), deps('remediate', { open: false }));
    expect(await collect(store().query(wholeRange))).toStrictEqual([{ kind: 'record', record: recordOf({ outcome: 'already-fixed' }) }]);
    expect(await items()).toHaveLength(1);
  });

  it('a history table that cannot be written changes nothing in the remediation: same outcome, logged and counted', async () => {
    const counted: [string, string | undefined][] = [];
    const logger = recordingLogger();
    const missing = dynamoDbHistoryStore({ tableName: 'remediation-bot-test-no-such-table', client: dynamo.client });
    const report = await runEvent(loadEvent(VIOLATION), deps('remediate', { history: missing, counted, logger }));
    expect(report.result).toStrictEqual({
      status: 'processed',
      eventId: EVENT_ID,
      decisions: [{ rule: 'sg-open-ingress', verdict: 'violation', outcome: 'applied', summary: expect.any(String), execution: 'applied' }],
    });
    expect(counted.filter(([name]) => name === 'HistoryWriteFailed')).toStrictEqual([
      ['HistoryWriteFailed', 'sg-open-ingress'],
      ['HistoryWriteFailed', undefined],
    ]);
    expect(logger.lines.filter((line) => line.level === 'error').map((line) => [line.message, line.extra['error']])).toStrictEqual([
      ['history record could not be stored: the alert went out', expect.stringContaining('ResourceNotFoundException')],
    ]);
  });

  it('a history table that does not answer is abandoned after the store timeout: the remediation completes, counted', async () => {
    // A server that accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const client = new DynamoDBClient({
      region: TEST_REGION,
      endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
      maxAttempts: 1,
    });
    const counted: [string, string | undefined][] = [];
    try {
      const report = await runEvent(loadEvent(VIOLATION), deps('remediate', { history: dynamoDbHistoryStore({ tableName: table, client, timeoutMs: 50 }), counted }));
      expect(report.records.map((record) => record.outcome)).toStrictEqual(['applied']);
      expect(counted.filter(([name]) => name === 'HistoryWriteFailed')).toStrictEqual([
        ['HistoryWriteFailed', 'sg-open-ingress'],
        ['HistoryWriteFailed', undefined],
      ]);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('history query', () => {
  const at = (time: string, rule: string, family: string, overrides: Partial<HistoryRecord> = {}): HistoryRecord =>
    recordOf({ time, rule, family, eventId: `event-${time}`, summary: `summary of ${rule} at ${time}`, ...overrides });

  beforeEach(async () => {
    table = await createHistoryTable(`remediation-bot-test-history-${(tables += 1)}`);
  });

  it('reads day partitions newest first, merging families by time, page by page', async () => {
    const records = [
      at('2025-03-02T08:00:00.000Z', 'sg-open-ingress', 'security-groups'),
      at('2025-03-02T09:00:00.000Z', 'iam-attached-admin-policy', 'iam'),
      at('2025-03-02T10:00:00.000Z', 'sg-open-ingress', 'security-groups'),
      at('2025-03-03T07:00:00.000Z', 'iam-attached-admin-policy', 'iam'),
      at('2025-03-03T23:59:59.999Z', 'sg-open-ingress', 'security-groups'),
    ];
    for (const record of records) await store().record(record);
    const rows = await collect(store({ pageSize: 1 }).query({ ...wholeRange, families: ['security-groups', 'iam'] }));
    expect(rows.map((row) => (row.kind === 'record' ? row.record.time : row.key))).toStrictEqual([
      '2025-03-03T23:59:59.999Z',
      '2025-03-03T07:00:00.000Z',
      '2025-03-02T10:00:00.000Z',
      '2025-03-02T09:00:00.000Z',
      '2025-03-02T08:00:00.000Z',
    ]);
  });

  it('since is inclusive and until exclusive, to the millisecond, across days', async () => {
    for (const time of ['2025-03-01T23:59:59.999Z', '2025-03-02T00:00:00.000Z', '2025-03-03T12:00:00.000Z', '2025-03-03T12:00:00.001Z']) {
      await store().record(at(time, 'sg-open-ingress', 'security-groups'));
    }
    const rows = await collect(store().query({ since: new Date('2025-03-02T00:00:00.000Z'), until: new Date('2025-03-03T12:00:00.001Z'), families: ['security-groups'] }));
    expect(rows.map((row) => (row.kind === 'record' ? row.record.time : row.key))).toStrictEqual(['2025-03-03T12:00:00.000Z', '2025-03-02T00:00:00.000Z']);
  });

  it('filters by account, rule and outcome', async () => {
    await store().record(at('2025-03-02T08:00:00.000Z', 'sg-open-ingress', 'security-groups', { account: '444455556666' }));
    await store().record(at('2025-03-02T09:00:00.000Z', 'sg-open-ingress', 'security-groups', { outcome: 'proposed' }));
    await store().record(at('2025-03-02T10:00:00.000Z', 'sg-open-ingress', 'security-groups'));
    await store().record(at('2025-03-02T11:00:00.000Z', 'iam-attached-admin-policy', 'iam'));
    const times = async (filters: { account?: string; rule?: string; outcomes?: ('applied' | 'proposed')[] }) =>
      (await collect(store().query({ ...wholeRange, families: ['security-groups', 'iam'], ...filters }))).map((row) => (row.kind === 'record' ? row.record.time.slice(11, 13) : row.key));
    expect(await times({ account: '111122223333' })).toStrictEqual(['11', '10', '09']);
    expect(await times({ rule: 'sg-open-ingress' })).toStrictEqual(['10', '09', '08']);
    expect(await times({ outcomes: ['proposed'] })).toStrictEqual(['09']);
    expect(await times({ account: '111122223333', rule: 'sg-open-ingress', outcomes: ['applied'] })).toStrictEqual(['10']);
  });

  it('names an item that is not a history record instead of dropping it', async () => {
    await store().record(at('2025-03-02T08:00:00.000Z', 'sg-open-ingress', 'security-groups'));
    await dynamo.client.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'security-groups#2025-03-02' }, sk: { S: '2025-03-02T09:00:00.000Z#x#sg-open-ingress' }, outcome: { S: 'deleted-everything' } } }),
    );
    const rows = await collect(store().query(wholeRange));
    expect(rows.map((row) => (row.kind === 'record' ? row.record.time : row))).toStrictEqual([
      { kind: 'invalid', key: 'security-groups#2025-03-02 / 2025-03-02T09:00:00.000Z#x#sg-open-ingress', problem: expect.any(String) },
      '2025-03-02T08:00:00.000Z',
    ]);
  });
});
