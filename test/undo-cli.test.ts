/**
 * `remediate undo` against records as a family's function would write them
 * (dynalite on 127.0.0.1), with every SDK client the undo could use mocked:
 * a planted record is refused before any AWS call, a valid one is replayed
 * with its exact inputs, a person confirms on a terminal (or passes --yes),
 * and who undid what is written back to the record.
 *
 * Mutations these tests catch (each checked by hand): skipping the record
 * check in `cli/undo.ts` (`refusal`), the resource comparison in
 * `inverseProblem`, the confirmation off a terminal, and the write of
 * `undoneBy`; `test/undo-inverses.test.ts` catches a table entry a rule's undo
 * does not pass, and a command table wider than the inverse table.
 */
import { PassThrough } from 'node:stream';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { AttachRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { DeletePublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ControlClient } from '@aws-sdk/client-s3-control';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { undoCommand, undoCommandTable, UNDO_COMMANDS } from '../cli/undo.js';
import { UnsupportedOperationError } from '../engine/aws.js';
import type { UndoStep } from '../engine/types.js';
import { UNDO_OPERATIONS } from '../engine/undo-inverses.js';
import { dynamoDbUndoStore, undoRecordKey, UndoRecordError, type UndoEntry } from '../engine/undo-store.js';
import { captureIo, type CapturedIo } from './helpers/cli.js';
import { TEST_REGION, useDynalite } from './helpers/dynalite.js';

const ec2 = mockClient(EC2Client);
const iam = mockClient(IAMClient);
const s3 = mockClient(S3Client);
const s3control = mockClient(S3ControlClient);
const kms = mockClient(KMSClient);
const cloudtrail = mockClient(CloudTrailClient);
const sagemaker = mockClient(SageMakerClient);
const sts = mockClient(STSClient);
const clients = { ec2, iam, s3, s3control, kms, cloudtrail, sagemaker, sts };

const ACCOUNT = '111122223333';
const OPERATOR = `arn:aws:sts::${ACCOUNT}:assumed-role/Operator/alice`;
const EVENT = '5f0c2a11-7b7e-4c52-9a55-0a1b2c3d4e5f';
const NOW = new Date('2025-03-02T09:30:00.000Z');
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

const step = (service: UndoStep['service'], operation: string, input: Record<string, unknown>, reason = 'test'): UndoStep => ({ service, operation, input, reason });
const detachAdmin = step('iam', 'DetachRolePolicy', { RoleName: 'app', PolicyArn: ADMIN }, 'Detach AdministratorAccess from role app.');
const reattachAdmin = step('iam', 'AttachRolePolicy', { RoleName: 'app', PolicyArn: ADMIN }, 'Attach AdministratorAccess to role app again.');
const BUCKET = { Bucket: 'reports', ExpectedBucketOwner: ACCOUNT };
const blockBucket = step('s3', 'PutPublicAccessBlock', {
  ...BUCKET,
  PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
});
const unblockBucket = step('s3', 'DeletePublicAccessBlock', BUCKET, 'Remove the public access block of bucket reports again, as the event did.');

function entry(family: string, rule: string, applied: UndoStep[], undo: UndoStep[], overrides: Partial<UndoEntry> = {}): UndoEntry {
  return { rule, family, appliedAt: '2025-03-01T10:00:00.000Z', account: ACCOUNT, region: 'us-east-1', outcome: 'applied', applied, undo, irreversible: [], ...overrides };
}
const iamEntry = (overrides: Partial<UndoEntry> = {}) => entry('iam', 'iam-attached-admin-policy', [detachAdmin], [reattachAdmin], overrides);
const s3Entry = (overrides: Partial<UndoEntry> = {}) => entry('s3', 's3-public-access-block-weakened', [blockBucket], [unblockBucket], overrides);

const dynamo = useDynalite({ env: true });
let table: string;
let tables = 0;


/** A terminal: stdout and stdin are TTYs, and the person types `answer`. */
function terminalIo(answer: string): CapturedIo {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  stdin.end(answer);
  return { ...captureIo(), stdoutIsTTY: true, stdin };
}

const store = () => dynamoDbUndoStore({ tableName: table, client: dynamo.client });
const undo = (args: string[], io: CapturedIo = captureIo()) => undoCommand([EVENT, ...args, '--table', table], io, { AWS_REGION: TEST_REGION }, { now: () => NOW }).then((code) => ({ code, io }));
const writes = () => Object.entries(clients).flatMap(([name, client]) => client.calls().map((call) => `${name}:${(call.args[0] as object).constructor.name}`));

async function rawItem(family: string) {
  const { Item: item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { id: { S: undoRecordKey(family, EVENT) } } }));
  return item;
}

describe('remediate undo', () => {
  beforeEach(async () => {
    table = await dynamo.createTable(`remediation-bot-test-undo-cli-${(tables += 1)}`);
    for (const client of Object.values(clients)) client.reset();
    sts.on(GetCallerIdentityCommand).resolves({ Arn: OPERATOR, Account: ACCOUNT, UserId: 'AROAEXAMPLE:alice' });
    iam.on(AttachRolePolicyCommand).resolves({});
    s3.on(DeletePublicAccessBlockCommand).resolves({});
  });

  describe('refuses a record that is not the inverse of what the bot applied, before any AWS call', () => {
    const planted: [string, () => Promise<void>, string][] = [
      [
        'an iam:AttachUserPolicy AdministratorAccess as the undo of a DetachRolePolicy',
        () => store().record(EVENT, iamEntry({ undo: [step('iam', 'AttachUserPolicy', { UserName: 'mallory', PolicyArn: ADMIN })] })),
        'the undo record of family iam, entry 1 (iam-attached-admin-policy): undo step 1 (iam:AttachUserPolicy) is not the inverse of a step the bot applied: iam:AttachUserPolicy is not an undo of iam:DetachRolePolicy (allowed: iam:AttachRolePolicy)',
      ],
      [
        'the inverse operation on another resource',
        () => store().record(EVENT, iamEntry({ undo: [step('iam', 'AttachRolePolicy', { RoleName: 'mallory', PolicyArn: ADMIN })] })),
        'the undo record of family iam, entry 1 (iam-attached-admin-policy): undo step 1 (iam:AttachRolePolicy) is not the inverse of a step the bot applied: iam:AttachRolePolicy names another resource than iam:DetachRolePolicy (RoleName differ)',
      ],
      [
        'an operation outside the table',
        () => store().record(EVENT, iamEntry({ undo: [step('iam', 'CreateAccessKey', { UserName: 'app' })] })),
        'the undo record of family iam, entry 1 (iam-attached-admin-policy): undo step 1 (iam:CreateAccessKey) is not the inverse of a step the bot applied: iam:CreateAccessKey is not an undo of iam:DetachRolePolicy (allowed: iam:AttachRolePolicy)',
      ],
      [
        'an applied step its rule is never granted',
        () => store().record(EVENT, iamEntry({ applied: [step('iam', 'DetachUserPolicy', { UserName: 'mallory', PolicyArn: ADMIN }), detachAdmin], rule: 'iam-trust-policy-open' })),
        'the undo record of family iam, entry 1 (iam-trust-policy-open): rule iam-trust-policy-open never applies iam:DetachUserPolicy',
      ],
      [
        "another family's steps in a family's own record",
        () => store().record(EVENT, iamEntry({ family: 's3' })),
        'the undo record of family s3, entry 1 (iam-attached-admin-policy): rule iam-attached-admin-policy is not a rule of family s3',
      ],
      [
        'an entry claiming another family than its key',
        async () => {
          await dynamo.client.send(
            new PutItemCommand({ TableName: table, Item: { id: { S: undoRecordKey('s3', EVENT) }, entries: { L: [{ S: JSON.stringify(iamEntry()) }] } } }),
          );
        },
        'the undo record of family s3, entry 1 (iam-attached-admin-policy): it says family iam, but it is in the record of family s3',
      ],
    ];

    it.each(planted)('%s', async (_name, plant, reason) => {
      await plant();
      const { code, io } = await undo(['--yes']);
      expect(code).toBe(2);
      expect(io.stderr).toStrictEqual([
        `undo: refused, nothing was run: ${reason}. Only the inverse of a step the bot applied, on the same resource, can be undone (engine/undo-inverses.ts); do not trust this record.`,
      ]);
      expect(io.stdout).toStrictEqual([]);
      expect(writes()).toStrictEqual([]);
    });

    it('refuses the whole event when one family record is planted: the valid one does not run either', async () => {
      await store().record(EVENT, s3Entry());
      await store().record(EVENT, iamEntry({ undo: [step('iam', 'AttachUserPolicy', { UserName: 'mallory', PolicyArn: ADMIN })] }));
      const { code, io } = await undo(['--yes']);
      expect(code).toBe(2);
      expect(io.stderr).toHaveLength(1);
      expect(writes()).toStrictEqual([]);
    });

    it('refuses even when --rule names only the valid one', async () => {
      await store().record(EVENT, s3Entry());
      await store().record(EVENT, iamEntry({ undo: [step('iam', 'AttachUserPolicy', { UserName: 'mallory', PolicyArn: ADMIN })] }));
      const { code } = await undo(['--yes', '--rule', 's3-public-access-block-weakened']);
      expect(code).toBe(2);
      expect(writes()).toStrictEqual([]);
    });

    it('refuses in a dry run too', async () => {
      await store().record(EVENT, iamEntry({ undo: [step('iam', 'AttachUserPolicy', { UserName: 'mallory', PolicyArn: ADMIN })] }));
      const { code, io } = await undo(['--dry-run']);
      expect(code).toBe(2);
      expect(io.stderr[0]).toMatch(/^undo: refused, nothing was run: /);
      expect(writes()).toStrictEqual([]);
    });
  });

  describe('with a valid record in two families', () => {
    beforeEach(async () => {
      await store().record(EVENT, iamEntry({ appliedAt: '2025-03-01T10:00:00.000Z' }));
      await store().record(EVENT, s3Entry({ appliedAt: '2025-03-01T10:05:00.000Z' }));
    });

    it('reads the record of every family and replays each undo step with its exact input, newest first', async () => {
      const { code, io } = await undo(['--yes']);
      expect(code).toBe(0);
      expect(s3.commandCalls(DeletePublicAccessBlockCommand).map((call) => call.args[0].input)).toStrictEqual([BUCKET]);
      expect(iam.commandCalls(AttachRolePolicyCommand).map((call) => call.args[0].input)).toStrictEqual([{ RoleName: 'app', PolicyArn: ADMIN }]);
      expect(writes().sort()).toStrictEqual(['iam:AttachRolePolicyCommand', 's3:DeletePublicAccessBlockCommand', 'sts:GetCallerIdentityCommand']);
      expect(io.stdout.filter((line) => line.startsWith('Undoing'))).toStrictEqual(['Undoing 1. s3-public-access-block-weakened:', 'Undoing 2. iam-attached-admin-policy:']);
      expect(io.stdout.filter((line) => /^\d\. /.test(line))).toStrictEqual([
        '1. s3-public-access-block-weakened (s3) applied its plan at 2025-03-01T10:05:00.000Z, account 111122223333, region us-east-1',
        '2. iam-attached-admin-policy (iam) applied its plan at 2025-03-01T10:00:00.000Z, account 111122223333, region us-east-1',
      ]);
      expect(io.stdout.at(-1)).toBe(`Undone: 2 step(s) replayed for event ${EVENT} by ${OPERATOR} at 2025-03-02T09:30:00.000Z.`);
      // Undoing a fix re-opens what a rule in remediate would fix again: said before anything runs.
      const note = io.stdout.indexOf('Note: the bot sees these calls as new events; a rule in remediate mode fixes them again unless the resource is exempted first (docs/configuration.md#exemptions).');
      expect([note >= 0, note < io.stdout.indexOf('Undoing 1. s3-public-access-block-weakened:')]).toStrictEqual([true, true]);
    });

    it('records who undid what in each record: undoneBy, undoneAt, the steps, and a line in the undo log', async () => {
      await undo(['--yes']);
      const item = await rawItem('iam');
      const records = await store().read(EVENT, ['iam', 's3']);
      expect(item?.['undoneBy']?.S).toBe(OPERATOR);
      expect(item?.['undoneAt']?.S).toBe('2025-03-02T09:30:00.000Z');
      expect(item?.['undoneSteps']?.L?.map((value) => JSON.parse(value.S ?? '') as unknown)).toStrictEqual([reattachAdmin]);
      expect(item?.['undoLog']?.L?.map((value) => JSON.parse(value.S ?? '') as unknown)).toStrictEqual([
        { by: OPERATOR, at: '2025-03-02T09:30:00.000Z', complete: true, steps: [reattachAdmin] },
      ]);
      expect(records.map((record) => [record.family, record.undoneBy, record.undoneAt])).toStrictEqual([
        ['iam', OPERATOR, '2025-03-02T09:30:00.000Z'],
        ['s3', OPERATOR, '2025-03-02T09:30:00.000Z'],
      ]);
    });

    it('says who undid it on a second run, and changes nothing', async () => {
      await undo(['--yes']);
      for (const client of Object.values(clients)) client.resetHistory();
      const { code, io } = await undo(['--yes']);
      expect(code).toBe(0);
      expect(io.stdout.at(-1)).toBe(
        `Already undone at 2025-03-02T09:30:00.000Z by ${OPERATOR}; 2025-03-02T09:30:00.000Z by ${OPERATOR}: nothing to do (pass --force to replay the undo steps again).`,
      );
      expect(writes()).toStrictEqual([]);
    });

    it('--rule undoes one rule and leaves the records of the others open', async () => {
      const { code } = await undo(['--yes', '--rule', 'iam-attached-admin-policy']);
      const [undone, open] = [await rawItem('iam'), await rawItem('s3')];
      expect(code).toBe(0);
      expect(writes().filter((call) => !call.startsWith('sts:'))).toStrictEqual(['iam:AttachRolePolicyCommand']);
      expect(undone?.['undoneBy']?.S).toBe(OPERATOR);
      expect(open?.['undoneAt']).toBeUndefined();
      expect(open?.['undoLog']).toBeUndefined();
    });

    it("--rule on a record with other rules' entries logs the run but leaves the record open", async () => {
      await store().record(EVENT, entry('iam', 'iam-inline-policy-admin', [step('iam', 'DeleteRolePolicy', { RoleName: 'app', PolicyName: 'all' })], [step('iam', 'PutRolePolicy', { RoleName: 'app', PolicyName: 'all', PolicyDocument: '{}' })]));
      const { code } = await undo(['--yes', '--rule', 'iam-attached-admin-policy']);
      const item = await rawItem('iam');
      expect(code).toBe(0);
      expect(item?.['undoneAt']).toBeUndefined();
      expect(item?.['undoLog']?.L?.map((value) => JSON.parse(value.S ?? '') as unknown)).toStrictEqual([
        { by: OPERATOR, at: '2025-03-02T09:30:00.000Z', complete: false, steps: [reattachAdmin] },
      ]);
    });

    it('--dry-run prints the steps and makes no AWS call', async () => {
      const { code, io } = await undo(['--dry-run']);
      expect(code).toBe(0);
      expect(io.stdout.join('\n')).toContain(`     1. iam:AttachRolePolicy ${JSON.stringify({ RoleName: 'app', PolicyArn: ADMIN })}`);
      expect(io.stdout.at(-1)).toBe('Dry run: nothing was changed. Without --dry-run, 2 undo step(s) run in the order shown.');
      expect(writes()).toStrictEqual([]);
    });

    it('off a terminal without --yes, refuses with exit 1 and makes no AWS call', async () => {
      const { code, io } = await undo([]);
      expect(code).toBe(1);
      expect(io.stderr).toStrictEqual([
        'undo: nothing was run: stdin is not a terminal, so nobody can confirm 2 undo step(s). Review them with --dry-run, then pass --yes to run them.',
      ]);
      expect(writes()).toStrictEqual([]);
    });

    it('on a terminal, shows the steps and runs them once the person types yes', async () => {
      const { code, io } = await undo([], terminalIo('yes\n'));
      expect(code).toBe(0);
      expect(io.stdout).toContain(`Run these 2 undo step(s) in account ${ACCOUNT} as ${OPERATOR}? Type "yes" to continue:`);
      expect(io.stdout.indexOf(`Run these 2 undo step(s) in account ${ACCOUNT} as ${OPERATOR}? Type "yes" to continue:`)).toBeGreaterThan(io.stdout.indexOf('   undo steps, in order:'));
      expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(1);
      expect(s3.commandCalls(DeletePublicAccessBlockCommand)).toHaveLength(1);
    });

    it('on a terminal, runs nothing when the person answers anything but yes (or closes stdin)', async () => {
      const no = await undo([], terminalIo('n\n'));
      const closed = await undo([], terminalIo(''));
      expect([no.code, closed.code]).toStrictEqual([1, 1]);
      expect(no.io.stderr).toStrictEqual(['undo: not confirmed; nothing was run.']);
      expect(writes().filter((call) => !call.startsWith('sts:'))).toStrictEqual([]);
      expect((await rawItem('iam'))?.['undoLog']).toBeUndefined();
    });

    it('--yes on a terminal asks nothing', async () => {
      const io = terminalIo('');
      const { code } = await undo(['--yes'], io);
      expect(code).toBe(0);
      expect(io.stdout.some((line) => line.startsWith('Run these'))).toBe(false);
    });

    describe('from an Organization hub, for an event in a member account', () => {
      const HUB_OPERATOR = 'arn:aws:sts::444455556666:assumed-role/Operator/alice';
      const UNDO_ROLE = `arn:aws:iam::${ACCOUNT}:role/remediation-bot-undo`;
      beforeEach(() => {
        sts.on(GetCallerIdentityCommand).resolves({ Arn: HUB_OPERATOR, Account: '444455556666' });
        sts.on(AssumeRoleCommand).resolves({
          Credentials: { AccessKeyId: 'ASIAUNDOEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date('2025-03-02T10:30:00.000Z') },
        });
      });

      it("assumes the member account's undo role, in a session named after the caller, and runs the steps with its credentials", async () => {
        const { code, io } = await undo(['--yes']);
        expect(code).toBe(0);
        expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input)).toStrictEqual([
          {
            RoleArn: UNDO_ROLE,
            RoleSessionName: 'remediate-undo-alice',
            DurationSeconds: 3600,
            // The session may run this record's undo operations, and nothing else the role may.
            Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:AttachRolePolicy', 's3:PutBucketPublicAccessBlock'], Resource: '*' }] }),
          },
        ]);
        const [attach] = iam.commandCalls(AttachRolePolicyCommand);
        expect(attach?.args[0].input).toStrictEqual({ RoleName: 'app', PolicyArn: ADMIN });
        const credentials = await (attach?.thisValue as IAMClient).config.credentials();
        expect(credentials.accessKeyId).toBe('ASIAUNDOEXAMPLE');
        expect(s3.commandCalls(DeletePublicAccessBlockCommand)).toHaveLength(1);
        expect((await rawItem('iam'))?.['undoneBy']?.S).toBe(`${HUB_OPERATOR} as ${UNDO_ROLE}`);
        expect(io.stdout.at(-1)).toBe(`Undone: 2 step(s) replayed for event ${EVENT} by ${HUB_OPERATOR} at 2025-03-02T09:30:00.000Z.`);
      });

      it('names the role on the prompt', async () => {
        const io = terminalIo('yes\n');
        expect((await undo([], io)).code).toBe(0);
        expect(io.stdout).toContain(`Run these 2 undo step(s) in account ${ACCOUNT} as ${UNDO_ROLE}? Type "yes" to continue:`);
      });

      it('assumes the role --role names instead', async () => {
        await undo(['--yes', '--role', 'OrganizationAccountAccessRole']);
        expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input.RoleArn)).toStrictEqual([`arn:aws:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`]);
      });

      it('runs nothing when the role cannot be assumed, and says how to enrol', async () => {
        sts.on(AssumeRoleCommand).rejects(Object.assign(new Error(`User: ${HUB_OPERATOR} is not authorized to perform: sts:AssumeRole on resource: ${UNDO_ROLE}`), { name: 'AccessDenied' }));
        const { code, io } = await undo(['--yes']);
        expect(code).toBe(4);
        expect(io.stderr).toStrictEqual([
          `undo: nothing was run: event ${EVENT} was remediated in account ${ACCOUNT}, and ${UNDO_ROLE} could not be assumed as ${HUB_OPERATOR}: AccessDenied: User: ${HUB_OPERATOR} is not authorized to perform: sts:AssumeRole on resource: ${UNDO_ROLE}. ` +
            `Enrol who may undo with the member template's --undo-principals (docs/organizations.md), name another role you may assume there with --role, or run undo with credentials of account ${ACCOUNT}.`,
        ]);
        expect(writes()).toStrictEqual(['sts:GetCallerIdentityCommand', 'sts:AssumeRoleCommand']);
        expect((await rawItem('iam'))?.['undoLog']).toBeUndefined();
      });

      it('refuses a --role that is not a role name, before any call', async () => {
        const { code, io } = await undo(['--yes', '--role', 'arn:aws:iam::111122223333:role/x']);
        expect(code).toBe(1);
        expect(io.stderr).toStrictEqual(['undo: --role must be a role\'s name (with its path, if any), such as remediation-bot-undo']);
        expect(writes()).toStrictEqual([]);
      });
    });
  });

  it('runs nothing when an undo step holds a value the bot did not know', async () => {
    const unknownBefore = step('s3', 'PutPublicAccessBlock', { ...BUCKET, PublicAccessBlockConfiguration: { $unknown: 'the block bucket reports had before' } });
    await store().record(EVENT, s3Entry({ undo: [unknownBefore] }));
    const { code, io } = await undo(['--yes']);
    expect(code).toBe(2);
    expect(io.stderr[0]).toMatch(/^undo: nothing was run: s3-public-access-block-weakened: s3:PutPublicAccessBlock holds a value the bot did not know/);
    expect(writes()).toStrictEqual([]);
  });

  it('shows record text with its control characters escaped', async () => {
    await store().record(EVENT, iamEntry({ undo: [{ ...reattachAdmin, reason: 'fine\u001b[2K\u001b[1A\u202eevil' }] }));
    const { io } = await undo(['--dry-run']);
    expect(io.stdout.join('\n')).toContain('\n        why: fine\\u001b[2K\\u001b[1A\\u202eevil');
  });
});

describe('undo records', () => {
  it("keys a family's record undo#<family>#<event id>, hashing an event id too long for a key", () => {
    expect(undoRecordKey('security-groups', EVENT)).toBe(`undo#security-groups#${EVENT}`);
    expect(undoRecordKey('iam', 'x'.repeat(2_000))).toMatch(/^undo#iam#sha256:[0-9a-f]{64}$/);
    expect(() => undoRecordKey('iam#x', EVENT)).toThrow(UndoRecordError);
  });
});

describe('the undo command table', () => {
  it('holds exactly the SDK commands of the inverse table, and a client for each of their services', () => {
    expect(Object.keys(UNDO_COMMANDS.commands).sort()).toStrictEqual([...UNDO_OPERATIONS].sort());
    for (const operation of UNDO_OPERATIONS) {
      expect(UNDO_COMMANDS.commands[operation], operation).toBeTypeOf('function');
      expect(UNDO_COMMANDS.clients[operation.split(':')[0] as keyof typeof UNDO_COMMANDS.clients], operation).toBeTypeOf('function');
    }
  });

  it('refuses a step outside the table', () => {
    expect(() => undoCommandTable([step('iam', 'CreateAccessKey', { UserName: 'x' })])).toThrow(UnsupportedOperationError);
  });
});
