/**
 * `remediate history` against a history table in DynamoDB (dynalite on
 * 127.0.0.1), seeded as the functions write it: the three formats (exact
 * output), newest first, the filters, the range across days, the empty
 * result, where the table is found, and bad input (one line, exit 1, no AWS call).
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { historyCommand } from '../cli/history.js';
import { dynamoDbHistoryStore, HISTORY_TABLE_SCHEMA, type HistoryReader, type HistoryRecord } from '../engine/history-store.js';
import { captureIo } from './helpers/cli.js';
import { TEST_REGION, useDynalite } from './helpers/dynalite.js';

const NOW = new Date('2025-03-08T12:00:00.000Z');
const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const GROUP = 'sg-0a1b2c3d4e5f67890';
const REAUTHORIZE = {
  service: 'ec2' as const,
  operation: 'AuthorizeSecurityGroupIngress',
  input: { GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] },
  reason: 'Re-open the revoked ingress exactly as it was granted.',
};

function record(overrides: Partial<HistoryRecord> & Pick<HistoryRecord, 'time' | 'eventId' | 'rule' | 'family' | 'outcome'>): HistoryRecord {
  return {
    recordedAt: overrides.time,
    eventName: 'AuthorizeSecurityGroupIngress',
    eventSource: 'ec2.amazonaws.com',
    severity: 'high',
    mode: 'remediate',
    verdict: 'violation',
    account: ACCOUNT,
    region: 'us-east-1',
    principal: `arn:aws:iam::${ACCOUNT}:user/alice`,
    resources: [GROUP],
    summary: 'tcp/22 open to 0.0.0.0/0',
    undo: [],
    ...overrides,
  };
}

/** Newest first, over four days; the oldest is outside the default 7 days. */
const APPLIED = record({ time: '2025-03-07T09:30:00.000Z', eventId: '7cbd12f7-48e3-4e4c-a988-254bb5154dfb', rule: 'sg-open-ingress', family: 'security-groups', outcome: 'applied', undo: [REAUTHORIZE] });
const PROPOSED = record({
  time: '2025-03-06T14:00:00.000Z',
  eventId: '0b8a3f52-1c9d-4e7b-8a6f-2d3c4b5a6978',
  rule: 'iam-attached-admin-policy',
  family: 'iam',
  outcome: 'proposed',
  severity: 'critical',
  mode: 'propose',
  eventName: 'AttachRolePolicy',
  eventSource: 'iam.amazonaws.com',
  principal: `arn:aws:sts::${ACCOUNT}:assumed-role/Deployer/ci`,
  resources: [`arn:aws:iam::${ACCOUNT}:role/app`],
  summary: 'AdministratorAccess attached to role app',
});
const EXEMPT = record({
  time: '2025-03-05T08:15:00.000Z',
  eventId: 'f3e2d1c0-b9a8-4765-9432-10fedcba9876',
  rule: 's3-public-access-block-weakened',
  family: 's3',
  outcome: 'exempt',
  verdict: 'exempt',
  severity: 'medium',
  account: OTHER_ACCOUNT,
  eventName: 'DeletePublicAccessBlock',
  eventSource: 's3.amazonaws.com',
  principal: `arn:aws:iam::${OTHER_ACCOUNT}:user/bob`,
  resources: ['arn:aws:s3:::reports-public-website-assets-for-marketing', 'arn:aws:s3:::logs'],
  summary: 'tagged remediation:exempt: public website',
});
const OLD = record({ time: '2025-02-20T23:00:00.000Z', eventId: '11111111-2222-4333-8444-555555555555', rule: 'sg-open-ingress', family: 'security-groups', outcome: 'notified', mode: 'notify' });

const dynamo = useDynalite({ env: true });
let table: string;
let tables = 0;


const createHistoryTable = (name: string) => dynamo.createTable(name, HISTORY_TABLE_SCHEMA);

/** `remediate history <args> --table <the test's table>`, at NOW. */
async function history(args: string[], env: Record<string, string> = { AWS_REGION: TEST_REGION }) {
  const io = captureIo();
  const code = await historyCommand(args, io, env, { now: () => NOW });
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const withTable = (args: string[]) => history([...args, '--table', table]);

describe('remediate history', () => {
  beforeEach(async () => {
    table = await createHistoryTable(`remediation-bot-test${(tables += 1)}-history`);
    const store = dynamoDbHistoryStore({ tableName: table, client: dynamo.client });
    for (const item of [OLD, EXEMPT, APPLIED, PROPOSED]) await store.record(item);
  });

  it('prints a table, newest first, over the last 7 days by default, with the undo command of what was applied', async () => {
    expect(await withTable([])).toStrictEqual({
      code: 0,
      stdout: [
        'TIME                      RULE                                    SEVERITY  RESOURCE                          ACCOUNT       PRINCIPAL                         OUTCOME        APPROVER      UNDO',
        '2025-03-07T09:30:00.000Z  sg-open-ingress                         high      sg-0a1b2c3d4e5f67890              111122223333  user/alice                        applied        -             remediate undo 7cbd12f7-48e3-4e4c-a988-254bb5154dfb',
        '2025-03-06T14:00:00.000Z  iam-attached-admin-policy               critical  role/app                          111122223333  assumed-role/Deployer/ci          proposed       -             -',
        '2025-03-05T08:15:00.000Z  s3-public-access-block-weakened         medium    …bsite-assets-for-marketing (+1)  444455556666  user/bob                          exempt         -             -',
      ],
      stderr: [],
    });
  });

  it('--format markdown: a table with every resource and whole ARNs', async () => {
    expect(await withTable(['--format', 'markdown'])).toStrictEqual({
      code: 0,
      stdout: [
        '| Time | Rule | Severity | Resource | Account | Principal | Outcome | Approver | Undo |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        '| 2025-03-07T09:30:00.000Z | sg-open-ingress | high | sg-0a1b2c3d4e5f67890 | 111122223333 | arn:aws:iam::111122223333:user/alice | applied | - | remediate undo 7cbd12f7-48e3-4e4c-a988-254bb5154dfb |',
        '| 2025-03-06T14:00:00.000Z | iam-attached-admin-policy | critical | arn:aws:iam::111122223333:role/app | 111122223333 | arn:aws:sts::111122223333:assumed-role/Deployer/ci | proposed | - | - |',
        '| 2025-03-05T08:15:00.000Z | s3-public-access-block-weakened | medium | arn:aws:s3:::reports-public-website-assets-for-marketing, arn:aws:s3:::logs | 444455556666 | arn:aws:iam::444455556666:user/bob | exempt | - | - |',
      ],
      stderr: [],
    });
  });

  it('--format jsonl: one whole record per line, with its undo command when something can be undone', async () => {
    const { code, stdout, stderr } = await withTable(['--format', 'jsonl']);
    expect({ code, stderr, records: stdout.map((line) => JSON.parse(line) as unknown) }).toStrictEqual({
      code: 0,
      stderr: [],
      records: [{ ...APPLIED, undoCommand: 'remediate undo 7cbd12f7-48e3-4e4c-a988-254bb5154dfb' }, PROPOSED, EXEMPT],
    });
  });

  const times = async (args: string[]) => {
    const { code, stdout, stderr } = await withTable([...args, '--format', 'jsonl']);
    return { code, stderr, times: stdout.map((line) => (JSON.parse(line) as HistoryRecord).time) };
  };

  it.each([
    [['--rule', 'sg-open-ingress'], ['2025-03-07T09:30:00.000Z']],
    [['--account', OTHER_ACCOUNT], ['2025-03-05T08:15:00.000Z']],
    [['--outcome', 'proposed,exempt'], ['2025-03-06T14:00:00.000Z', '2025-03-05T08:15:00.000Z']],
    [['--outcome', 'applied', '--outcome', 'exempt'], ['2025-03-07T09:30:00.000Z', '2025-03-05T08:15:00.000Z']],
    [['--since', '30d'], ['2025-03-07T09:30:00.000Z', '2025-03-06T14:00:00.000Z', '2025-03-05T08:15:00.000Z', '2025-02-20T23:00:00.000Z']],
    [['--since', '2025-02-20', '--until', '2025-03-06T14:00:00Z'], ['2025-03-05T08:15:00.000Z', '2025-02-20T23:00:00.000Z']],
    [['--since', '2025-03-06T14:00:00Z', '--until', '2025-03-08'], ['2025-03-07T09:30:00.000Z', '2025-03-06T14:00:00.000Z']],
    [['--since', '2025-02-01', '--rule', 'sg-open-ingress', '--outcome', 'notified'], ['2025-02-20T23:00:00.000Z']],
    [['--since', '30h'], ['2025-03-07T09:30:00.000Z']],
  ])('%j: only the matching decisions, newest first', async (args, expected) => {
    expect(await times(args)).toStrictEqual({ code: 0, stderr: [], times: expected });
  });

  it('an empty result is one line saying so, and exit 0', async () => {
    expect(await withTable(['--rule', 'sg-open-ingress', '--outcome', 'failed'])).toStrictEqual({
      code: 0,
      stdout: ['No decision recorded from 2025-03-01T12:00:00.000Z to 2025-03-08T12:00:00.000Z for rule sg-open-ingress, outcome failed.'],
      stderr: [],
    });
    // JSON Lines readers get an empty stdout; the line goes to stderr.
    expect(await withTable(['--account', '999999999999', '--format', 'jsonl'])).toStrictEqual({
      code: 0,
      stdout: [],
      stderr: ['No decision recorded from 2025-03-01T12:00:00.000Z to 2025-03-08T12:00:00.000Z for account 999999999999.'],
    });
  });

  it('finds the table as HISTORY_TABLE, or beside the IDEMPOTENCY_TABLE that remediate undo uses', async () => {
    const rules = async (env: Record<string, string>) => (await history(['--format', 'jsonl'], { AWS_REGION: TEST_REGION, ...env })).stdout.map((line) => (JSON.parse(line) as HistoryRecord).rule);
    const expected = ['sg-open-ingress', 'iam-attached-admin-policy', 's3-public-access-block-weakened'];
    expect(await rules({ HISTORY_TABLE: table })).toStrictEqual(expected);
    expect(await rules({ IDEMPOTENCY_TABLE: table.replace(/-history$/, '-idempotency') })).toStrictEqual(expected);
  });

  it('a table that cannot be read: one line, exit 2', async () => {
    expect(await history(['--table', 'remediation-bot-test-missing-history'])).toStrictEqual({
      code: 2,
      stdout: [],
      stderr: [expect.stringMatching(/^remediate history: cannot read the history from table remediation-bot-test-missing-history: ResourceNotFoundException: /)],
    });
  });

  it('an item that is not a history record is named on stderr, the rest printed, and the exit code is 2', async () => {
    await dynamo.client.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'iam#2025-03-07' }, sk: { S: '2025-03-07T10:00:00.000Z#x#iam-attached-admin-policy' }, outcome: { S: 'applied' } } }),
    );
    const { code, stdout, stderr } = await withTable(['--format', 'jsonl']);
    expect({ code, stderr, lines: stdout.length }).toStrictEqual({
      code: 2,
      stderr: ['remediate history: skipped item iam#2025-03-07 / 2025-03-07T10:00:00.000Z#x#iam-attached-admin-policy: not a history record (time: Invalid input)'],
      lines: 3,
    });
  });
});

describe('remediate history: bad input is one usage error and exit 1, before any AWS call', () => {
  let queries = 0;
  const reader: HistoryReader = {
    async *query() {
      queries += 1;
      throw new Error('no AWS call was expected');
    },
  };
  beforeEach(() => {
    queries = 0;
  });

  it.each([
    [['--since', 'yesterday'], '--since must be a duration like 7d or 12h, or an ISO 8601 date or date-time with a zone (2025-03-01, 2025-03-01T12:00:00Z), got "yesterday"'],
    [['--until', '7d'], '--until must be an ISO 8601 date or date-time with a zone (2025-03-01, 2025-03-01T12:00:00Z), got "7d"'],
    [['--since', '2025-03-08T12:00:00Z'], '--since (2025-03-08T12:00:00.000Z) must be earlier than --until (2025-03-08T12:00:00.000Z)'],
    [['--since', '2024-01-01'], 'the range from --since to --until is longer than 366 days; ask for a shorter one'],
    [['--account', '1234'], '--account must be a 12-digit AWS account id, got "1234"'],
    [['--rule', 'sg-open-ingres'], 'unknown rule "sg-open-ingres"; did you mean sg-open-ingress?'],
    [['--outcome', 'applied,aplied'], '--outcome must be one of applied, unverified, already-fixed, stale, proposed, notified, failed, exempt, uninspected, got "aplied"; did you mean applied?'],
    [['--format', 'html'], '--format must be table, jsonl, markdown, got "html"'],
    [['--sinse', '7d'], 'unknown option --sinse; did you mean --since?'],
    [['--rule'], 'option --rule needs a value'],
    [['last-week'], 'history takes no argument, got "last-week"'],
  ])('%j', async (args, message) => {
    const io = captureIo();
    const code = await historyCommand(args, io, { AWS_REGION: TEST_REGION }, { reader, now: () => NOW });
    expect({ code, stdout: io.stdout, stderr: io.stderr, queries }).toStrictEqual({
      code: 1,
      stdout: [],
      stderr: [`remediate: ${message} (see "remediate history --help")`],
      queries: 0,
    });
  });

  it('no table named anywhere', async () => {
    expect(await history([])).toStrictEqual({
      code: 1,
      stdout: [],
      stderr: ['remediate: name the history table with --table or HISTORY_TABLE (the stack output HistoryTableName) (see "remediate history --help")'],
    });
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await history(['--help']);
    expect({ code, first: stdout[0] }).toStrictEqual({ code: 0, first: expect.stringMatching(/^Usage: remediate history \[options\]/) });
  });
});
