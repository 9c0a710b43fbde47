/**
 * The kms family with AWS mocked: its Lambda function as deployed, every
 * write read before (still needed? already done? changed since the event?)
 * and after (verified?), and proposals read before they are sent.
 */
import {
  CancelKeyDeletionCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  KMSInvalidStateException,
  ListAliasesCommand,
  ListResourceTagsCommand,
  NotFoundException,
  type KeyState,
} from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { UndoEntry, UndoStore } from '../../engine/undo-store.js';
import { kmsFamily } from '../../remediations/kms/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { recordingLogger, type RecordingLogger } from '../helpers/logger.js';
import { familyHandler } from '../helpers/rule-harness.js';

const kms = mockClient(KMSClient);
const sns = mockClient(SNSClient);
const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY}`;
const KEY3 = 'b3d2a1c0-7e6f-4a5b-9c8d-0f1e2d3c4b5a';

/** What the undo store was given, per event. */
function recordingUndoStore(): UndoStore & { entries: UndoEntry[] } {
  const entries: UndoEntry[] = [];
  return {
    entries,
    record: async (_eventId, entry) => void entries.push(entry),
    read: async () => [],
    markUndone: async () => undefined,
  };
}

/** The kms function as deployed, with every rule in `mode`, logging to `logger`, and recording undo steps in `undoStore` when one is given. */
function kmsHandler(mode: 'remediate' | 'propose', logger: RecordingLogger = recordingLogger(), undoStore?: UndoStore) {
  return familyHandler(kmsFamily, { config: { defaultMode: mode }, logger, ...(undoStore ? { undoStore } : {}) }).handler;
}

function decisions(result: Awaited<ReturnType<ReturnType<typeof kmsHandler>>>) {
  return result.status === 'processed' ? result.decisions : [];
}

/** The execution steps the engine logged for the decision: status and what the reads before and after found. */
function executionOf(logger: RecordingLogger) {
  const line = logger.lines.find((l) => l.message === 'decision');
  return line?.extra['execution'];
}

function preflightOf(logger: RecordingLogger) {
  return logger.lines.find((l) => l.message === 'decision')?.extra['preflight'];
}

const metadata = (KeyState: KeyState) => ({ KeyMetadata: { KeyId: KEY, Arn: KEY_ARN, KeyState, KeyManager: 'CUSTOMER' as const } });
const notFound = () => new NotFoundException({ $metadata: {}, message: `Key '${KEY_ARN}' does not exist` });

/** The order of the KMS calls, by command name. */
const callOrder = () => kms.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
const inputs = (command: Parameters<typeof kms.commandCalls>[0]) => kms.commandCalls(command).map((call) => call.args[0].input);

/**
 * A key whose state, rotation and policy change only through the mocked
 * writes: the reads before and after each step see what AWS would show.
 */
function keyWorld(initial: { state: KeyState; rotation?: boolean; policy?: string }) {
  const world = { state: initial.state, rotation: initial.rotation ?? false, policy: initial.policy ?? '' };
  kms.on(DescribeKeyCommand).callsFake(() => metadata(world.state));
  kms.on(GetKeyRotationStatusCommand).callsFake(() => ({ KeyId: KEY_ARN, KeyRotationEnabled: world.rotation, ...(world.rotation ? { RotationPeriodInDays: 365 } : {}) }));
  kms.on(GetKeyPolicyCommand).callsFake(() => ({ PolicyName: 'default', Policy: world.policy }));
  kms.on(CancelKeyDeletionCommand).callsFake(() => {
    if (world.state !== 'PendingDeletion') throw new KMSInvalidStateException({ $metadata: {}, message: `${KEY_ARN} is not pending deletion` });
    world.state = 'Disabled';
    return { KeyId: KEY_ARN };
  });
  kms.on(EnableKeyCommand).callsFake(() => {
    world.state = 'Enabled';
    return {};
  });
  kms.on(EnableKeyRotationCommand).callsFake(() => {
    world.rotation = true;
    return {};
  });
  return world;
}

describe('kms handler', () => {
  beforeEach(() => {
    kms.reset();
    sns.reset();
    kms.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: 'team', TagValue: 'ml-platform' }], Truncated: false });
    kms.on(ListAliasesCommand).resolves({ Aliases: [{ AliasName: 'alias/ml-training-data', AliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/ml-training-data', TargetKeyId: KEY }] });
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  describe('CancelKeyDeletion', () => {
    it('cancels the deletion of a key with an alias, reading the key state before and after: applied and verified', async () => {
      // Arrange
      const world = keyWorld({ state: 'PendingDeletion' });
      const logger = recordingLogger();
      // Act
      const result = await kmsHandler('remediate', logger)(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
      // Assert
      expect(callOrder()).toStrictEqual(['DescribeKey', 'ListResourceTags', 'ListAliases', 'DescribeKey', 'CancelKeyDeletion', 'DescribeKey']);
      expect(inputs(DescribeKeyCommand)).toStrictEqual([{ KeyId: KEY }, { KeyId: KEY }, { KeyId: KEY }]);
      expect(inputs(ListAliasesCommand)).toStrictEqual([{ KeyId: KEY }]);
      expect(inputs(CancelKeyDeletionCommand)).toStrictEqual([{ KeyId: KEY }]);
      expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
      expect(world.state).toBe('Disabled');
      expect(decisions(result)).toMatchObject([{ rule: 'kms-key-at-risk', verdict: 'violation', outcome: 'applied', execution: 'applied' }]);
      expect(executionOf(logger)).toStrictEqual([
        {
          index: 0,
          status: 'applied',
          precondition: { state: 'needed', evidence: `key ${KEY} is still PendingDeletion` },
          verification: { state: 'done', evidence: `key ${KEY} is Disabled, no longer pending deletion` },
        },
      ]);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    });

    it('is already fixed on a second delivery: the read before the write shows the key out of pending deletion, and nothing is sent', async () => {
      keyWorld({ state: 'PendingDeletion' });
      const handler = kmsHandler('remediate');
      const event = loadEvent('kms/ScheduleKeyDeletion-20-day-window.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(inputs(CancelKeyDeletionCommand)).toStrictEqual([{ KeyId: KEY }]);
      expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(5);
      expect(decisions(first)[0]?.outcome).toBe('applied');
      expect(decisions(second)[0]?.outcome).toBe('already-fixed');
    });

    it('believes KMSInvalidStateException only once DescribeKey agrees the key is no longer pending deletion', async () => {
      // Someone cancels between the read before and the write: KMS answers KMSInvalidStateException.
      kms.on(DescribeKeyCommand).resolvesOnce(metadata('PendingDeletion')).resolvesOnce(metadata('PendingDeletion')).resolves(metadata('Disabled'));
      kms.on(CancelKeyDeletionCommand).rejects(new KMSInvalidStateException({ $metadata: {}, message: `${KEY_ARN} is not pending deletion` }));
      const logger = recordingLogger();
      const result = await kmsHandler('remediate', logger)(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
      expect(callOrder()).toStrictEqual(['DescribeKey', 'ListResourceTags', 'ListAliases', 'DescribeKey', 'CancelKeyDeletion', 'DescribeKey']);
      expect(decisions(result)[0]?.outcome).toBe('already-fixed');
      expect(executionOf(logger)).toMatchObject([{ status: 'already-done', errorCode: 'KMSInvalidStateException', verification: { state: 'done' } }]);
    });

    it('reports unverified when the key is still pending deletion after CancelKeyDeletion succeeded', async () => {
      kms.on(DescribeKeyCommand).resolves(metadata('PendingDeletion'));
      kms.on(CancelKeyDeletionCommand).resolves({ KeyId: KEY_ARN });
      const logger = recordingLogger();
      const result = await kmsHandler('remediate', logger)(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
      expect(inputs(CancelKeyDeletionCommand)).toStrictEqual([{ KeyId: KEY }]);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'unverified', execution: 'unverified' });
      expect(executionOf(logger)).toMatchObject([{ status: 'applied', verification: { state: 'needed', evidence: `key ${KEY} is still PendingDeletion` } }]);
    });

    it('is stale, with no write, when the key was deleted since the event (NotFoundException)', async () => {
      kms.on(DescribeKeyCommand).rejects(notFound());
      kms.on(ListAliasesCommand).rejects(notFound());
      kms.on(ListResourceTagsCommand).rejects(notFound());
      const logger = recordingLogger();
      const result = await kmsHandler('remediate', logger)(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
      expect(kms.commandCalls(CancelKeyDeletionCommand)).toHaveLength(0);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'stale', execution: 'stale' });
      expect(executionOf(logger)).toStrictEqual([
        { index: 0, status: 'stale', precondition: { state: 'changed', evidence: `key ${KEY} no longer exists (NotFoundException): its deletion has completed and cannot be cancelled` } },
      ]);
    });

    it('still cancels when the alias lookup is denied: unknown use counts as use', async () => {
      keyWorld({ state: 'PendingDeletion' });
      kms.on(ListAliasesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
      await kmsHandler('remediate')(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
      expect(inputs(CancelKeyDeletionCommand)).toStrictEqual([{ KeyId: KEY }]);
    });

    it('lets an unused key be deleted: no alias, no in-use tag, no read of the key state', async () => {
      keyWorld({ state: 'PendingDeletion' });
      kms.on(ListAliasesCommand).resolves({ Aliases: [] });
      const result = await kmsHandler('remediate')(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
      expect(callOrder()).toStrictEqual(['DescribeKey', 'ListResourceTags', 'ListAliases']);
      expect(decisions(result)).toMatchObject([{ verdict: 'compliant', outcome: 'none' }]);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('EnableKey', () => {
    it('enables a disabled key and verifies it; a second delivery is already fixed with no write', async () => {
      const world = keyWorld({ state: 'Disabled' });
      const handler = kmsHandler('remediate');
      const event = loadEvent('kms/DisableKey-key-id.json');
      const first = await handler(event);
      expect(callOrder()).toStrictEqual(['DescribeKey', 'ListResourceTags', 'DescribeKey', 'EnableKey', 'DescribeKey']);
      const second = await handler(structuredClone(event));
      expect(inputs(EnableKeyCommand)).toStrictEqual([{ KeyId: KEY }]);
      expect(kms.commandCalls(ListAliasesCommand)).toHaveLength(0);
      expect(world.state).toBe('Enabled');
      expect(decisions(first)[0]?.outcome).toBe('applied');
      expect(decisions(second)[0]?.outcome).toBe('already-fixed');
    });

    it('is stale, with no write, when the key is pending deletion since the event', async () => {
      keyWorld({ state: 'PendingDeletion' });
      const logger = recordingLogger();
      const result = await kmsHandler('remediate', logger)(loadEvent('kms/DisableKey-key-id.json'));
      expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'stale' });
      expect(executionOf(logger)).toMatchObject([{ status: 'stale', precondition: { state: 'changed', evidence: expect.stringContaining('is now PendingDeletion, not Disabled') } }]);
      expect(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)).toContain('is now PendingDeletion, not Disabled as the event left it');
    });

    it('is stale, not skipped, when the key no longer exists', async () => {
      kms.on(DescribeKeyCommand).rejects(notFound());
      kms.on(ListResourceTagsCommand).rejects(notFound());
      const result = await kmsHandler('remediate')(loadEvent('kms/DisableKey-key-id.json'));
      expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'stale' });
    });

    it('reads the present in propose mode and writes nothing: proposed while still disabled, already fixed once enabled', async () => {
      const world = keyWorld({ state: 'Disabled' });
      const handler = kmsHandler('propose');
      const proposed = await handler(loadEvent('kms/DisableKey-key-id.json'));
      world.state = 'Enabled';
      const fixed = await handler(loadEvent('kms/DisableKey-key-id.json'));
      expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
      expect(inputs(DescribeKeyCommand)).toStrictEqual([{ KeyId: KEY }, { KeyId: KEY }, { KeyId: KEY }, { KeyId: KEY }]);
      expect(decisions(proposed)[0]?.outcome).toBe('proposed');
      expect(decisions(fixed)[0]?.outcome).toBe('already-fixed');
    });
  });

  describe('EnableKeyRotation (issue 13, scenario 4: a re-run is already fixed, never applied again)', () => {
    it('turns rotation on, verified by GetKeyRotationStatus; the re-run reads it on and sends nothing', async () => {
      // Arrange
      const world = keyWorld({ state: 'Enabled', rotation: false });
      const undo = recordingUndoStore();
      const logger = recordingLogger();
      const handler = kmsHandler('remediate', logger, undo);
      const event = loadEvent('kms/DisableKeyRotation-key-arn.json');
      // Act
      const first = await handler(event);
      const firstCalls = callOrder();
      const second = await handler(structuredClone(event));
      // Assert
      expect(firstCalls).toStrictEqual(['DescribeKey', 'ListResourceTags', 'GetKeyRotationStatus', 'EnableKeyRotation', 'GetKeyRotationStatus']);
      expect(inputs(EnableKeyRotationCommand)).toStrictEqual([{ KeyId: KEY_ARN }]);
      expect(inputs(GetKeyRotationStatusCommand)).toStrictEqual([{ KeyId: KEY_ARN }, { KeyId: KEY_ARN }, { KeyId: KEY_ARN }]);
      expect(world.rotation).toBe(true);
      expect(decisions(first)[0]).toMatchObject({ outcome: 'applied', execution: 'applied' });
      expect(decisions(second)[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
      expect(logger.lines.filter((l) => l.message === 'decision').map((l) => l.extra['execution'])).toStrictEqual([
        [
          {
            index: 0,
            status: 'applied',
            precondition: { state: 'needed', evidence: `automatic rotation of key ${KEY_ARN} is still off` },
            verification: { state: 'done', evidence: `automatic rotation of key ${KEY_ARN} is on (every 365 days)` },
          },
        ],
        [{ index: 0, status: 'already-done', precondition: { state: 'done', evidence: `automatic rotation of key ${KEY_ARN} is on (every 365 days)` } }],
      ]);
      // Only the first run changed anything, so only it has an undo record.
      expect(undo.entries.map((entry) => entry.undo.map((step) => [step.operation, step.input]))).toStrictEqual([[['DisableKeyRotation', { KeyId: KEY_ARN }]]]);
    });

    it('reports unverified when rotation still reads off after EnableKeyRotation succeeded', async () => {
      kms.on(DescribeKeyCommand).resolves(metadata('Enabled'));
      kms.on(GetKeyRotationStatusCommand).resolves({ KeyId: KEY_ARN, KeyRotationEnabled: false });
      kms.on(EnableKeyRotationCommand).resolves({});
      const result = await kmsHandler('remediate')(loadEvent('kms/DisableKeyRotation-key-arn.json'));
      expect(inputs(EnableKeyRotationCommand)).toStrictEqual([{ KeyId: KEY_ARN }]);
      expect(kms.commandCalls(GetKeyRotationStatusCommand)).toHaveLength(2);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'unverified', execution: 'unverified' });
    });

    it('fails without writing when the read before cannot be made (AccessDeniedException)', async () => {
      kms.on(DescribeKeyCommand).resolves(metadata('Enabled'));
      kms.on(GetKeyRotationStatusCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $fault: 'client', $metadata: {} }));
      kms.on(EnableKeyRotationCommand).resolves({});
      const logger = recordingLogger();
      const result = await kmsHandler('remediate', logger)(loadEvent('kms/DisableKeyRotation-key-arn.json'));
      expect(kms.commandCalls(EnableKeyRotationCommand)).toHaveLength(0);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
      expect(executionOf(logger)).toMatchObject([{ status: 'failed', errorCode: 'AccessDeniedException', precondition: { state: 'unreadable' } }]);
    });
  });

  describe('PutKeyPolicy (proposed only)', () => {
    const event = () => loadEvent('kms/PutKeyPolicy-policy-object-principal-star.json');
    const eventPolicy = () => JSON.stringify((event().detail.requestParameters as { policy: object }).policy);

    it('analyses a policy recorded as a JSON object, and reads GetKeyPolicy before proposing: still the event’s policy', async () => {
      keyWorld({ state: 'Enabled', policy: eventPolicy() });
      const logger = recordingLogger();
      const result = await kmsHandler('remediate', logger)(event());
      expect(callOrder()).toStrictEqual(['DescribeKey', 'ListResourceTags', 'GetKeyPolicy']);
      expect(inputs(GetKeyPolicyCommand)).toStrictEqual([{ KeyId: KEY3, PolicyName: 'default' }]);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'proposed' });
      expect(preflightOf(logger)).toStrictEqual({
        status: 'open',
        checks: [{ state: 'needed', evidence: `key ${KEY3} still has the policy the event set: Statement 1 ("AllowDecryptFromAnyAccount") open to everyone` }],
      });
      const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
      expect(message['email']).toContain('kms:PutKeyPolicy');
    });

    it('is already fixed when the key policy no longer lets everyone in', async () => {
      const policy = JSON.parse(eventPolicy()) as { Statement: unknown[] };
      keyWorld({ state: 'Enabled', policy: JSON.stringify({ ...policy, Statement: [policy.Statement[0]] }) });
      const result = await kmsHandler('remediate')(event());
      expect(decisions(result)[0]?.outcome).toBe('already-fixed');
    });

    it('is stale when the policy was replaced since by another open one: the proposal would overwrite it', async () => {
      const policy = JSON.parse(eventPolicy()) as { Statement: unknown[] };
      keyWorld({ state: 'Enabled', policy: JSON.stringify({ ...policy, Statement: [...policy.Statement, { Sid: 'Newer', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:Encrypt', Resource: '*' }] }) });
      const logger = recordingLogger();
      const result = await kmsHandler('remediate', logger)(event());
      expect(decisions(result)[0]?.outcome).toBe('stale');
      expect(preflightOf(logger)).toMatchObject({ status: 'stale', checks: [{ state: 'changed', evidence: expect.stringContaining('the proposed policy would overwrite the newer one') }] });
    });

    it('never writes a key policy, even in remediate mode', async () => {
      keyWorld({ state: 'Enabled', policy: eventPolicy() });
      await kmsHandler('remediate')(loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json'));
      expect(callOrder().filter((name) => !name.startsWith('Describe') && !name.startsWith('List') && !name.startsWith('Get'))).toStrictEqual([]);
    });
  });

  describe('every trigger', () => {
    it('leaves an exempt key alone, and the alert shows what the exemption let through', async () => {
      keyWorld({ state: 'Disabled' });
      kms.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: 'remediation:exempt', TagValue: 'decommissioned' }] });
      const result = await kmsHandler('remediate')(loadEvent('kms/DisableKey-key-id.json'));
      expect(callOrder()).toStrictEqual(['DescribeKey', 'ListResourceTags']);
      expect(decisions(result)).toMatchObject([{ verdict: 'exempt', outcome: 'exempt' }]);
      expect(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)).toContain(`Key ${KEY} was disabled`);
    });

    it('cannot inspect a key ARN whose account is not 12 digits: no KMS call, and the alert says exactly what was wrong', async () => {
      const event = loadEvent('kms/DisableKeyRotation-key-arn.json');
      event.detail.requestParameters = { keyId: `arn:aws:kms:us-east-1:XXXXXXXXXXXX:key/${KEY}` };
      const result = await kmsHandler('remediate')(event);
      expect(kms.calls()).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ verdict: 'skipped', outcome: 'uninspected' }]);
      expect(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)).toContain('its account \\"XXXXXXXXXXXX\\" is not a 12-digit account id');
    });

    it('makes no call at all for a failed call', async () => {
      await kmsHandler('remediate')(loadEvent('kms/DisableKey-failed-not-found-panther.json'));
      expect(kms.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });
});
