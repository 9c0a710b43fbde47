import {
  CancelKeyDeletionCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  KMSClient,
  KMSInvalidStateException,
  ListAliasesCommand,
  ListResourceTagsCommand,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { createRemediationHandler } from '../engine/lambda.js';
import { kmsCommands } from '../remediations/kms/commands.js';
import { kmsRules } from '../remediations/kms/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const kms = mockClient(KMSClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY}`;

function handlerFor(mode: 'remediate' | 'propose') {
  return createRemediationHandler({
    rules: kmsRules,
    commands: kmsCommands,
    logger: recordingLogger(),
    config: parseConfig({ defaultMode: mode }, kmsRules),
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-kms' },
    gateway: createAwsGateway(kmsCommands, { region: 'us-east-1' }),
  });
}

function decisions(result: Awaited<ReturnType<ReturnType<typeof handlerFor>>>) {
  return result.status === 'processed' ? result.decisions : [];
}

const metadata = (KeyState: 'Enabled' | 'Disabled' | 'PendingDeletion') => ({ KeyMetadata: { KeyId: KEY, Arn: KEY_ARN, KeyState, KeyManager: 'CUSTOMER' as const } });

describe('kms handler', () => {
  beforeEach(() => {
    kms.reset();
    sns.reset();
    kms.on(DescribeKeyCommand).resolves(metadata('PendingDeletion'));
    kms.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: 'team', TagValue: 'ml-platform' }], Truncated: false });
    kms.on(ListAliasesCommand).resolves({ Aliases: [{ AliasName: 'alias/ml-training-data', AliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/ml-training-data', TargetKeyId: KEY }] });
    kms.on(CancelKeyDeletionCommand).resolves({ KeyId: KEY_ARN });
    kms.on(EnableKeyCommand).resolves({});
    kms.on(EnableKeyRotationCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('cancels the deletion of a key with an alias, with exactly the planned input, after its lookups', async () => {
    // Arrange
    const handler = handlerFor('remediate');
    // Act
    const result = await handler(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
    // Assert
    expect(kms.commandCalls(DescribeKeyCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY }]);
    expect(kms.commandCalls(ListResourceTagsCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY }]);
    expect(kms.commandCalls(ListAliasesCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY }]);
    expect(kms.commandCalls(CancelKeyDeletionCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY }]);
    expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
    expect(decisions(result)).toMatchObject([{ rule: 'kms-key-at-risk', verdict: 'violation', outcome: 'applied', execution: 'applied' }]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('is harmless when delivered twice: KMSInvalidStateException means the deletion is already cancelled', async () => {
    kms.on(CancelKeyDeletionCommand).resolvesOnce({ KeyId: KEY_ARN }).rejects(new KMSInvalidStateException({ $metadata: {}, message: `${KEY_ARN} is not pending deletion` }));
    const handler = handlerFor('remediate');
    const event = loadEvent('kms/ScheduleKeyDeletion-20-day-window.json');
    const first = await handler(event);
    const second = await handler(structuredClone(event));
    expect(kms.commandCalls(CancelKeyDeletionCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY }, { KeyId: KEY }]);
    expect(decisions(first)[0]?.outcome).toBe('applied');
    expect(decisions(second)[0]?.outcome).toBe('already-fixed');
  });

  it('makes no call when DescribeKey already shows the key out of pending deletion', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata('Disabled'));
    const handler = handlerFor('remediate');
    const result = await handler(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
    expect(kms.commandCalls(CancelKeyDeletionCommand)).toHaveLength(0);
    expect(decisions(result)[0]?.outcome).toBe('already-fixed');
  });

  it('lets an unused key be deleted: no alias, no in-use tag', async () => {
    kms.on(ListAliasesCommand).resolves({ Aliases: [] });
    const handler = handlerFor('remediate');
    const result = await handler(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
    expect(kms.commandCalls(CancelKeyDeletionCommand)).toHaveLength(0);
    expect(decisions(result)).toMatchObject([{ verdict: 'compliant', outcome: 'none' }]);
    expect(sns.calls()).toHaveLength(0);
  });

  it('still cancels when the alias lookup is denied: unknown use counts as use', async () => {
    kms.on(ListAliasesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const handler = handlerFor('remediate');
    await handler(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'));
    expect(kms.commandCalls(CancelKeyDeletionCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY }]);
  });

  it('skips a key that no longer exists (NotFoundException)', async () => {
    kms.on(DescribeKeyCommand).rejects(new NotFoundException({ $metadata: {}, message: 'not found' }));
    const handler = handlerFor('remediate');
    const result = await handler(loadEvent('kms/DisableKey-key-id.json'));
    expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
    expect(decisions(result)).toMatchObject([{ verdict: 'skipped', summary: `key ${KEY} no longer exists` }]);
  });

  it('enables a disabled key, then finds it enabled on the second delivery without a call', async () => {
    kms.on(DescribeKeyCommand).resolvesOnce(metadata('Disabled')).resolves(metadata('Enabled'));
    const handler = handlerFor('remediate');
    const event = loadEvent('kms/DisableKey-key-id.json');
    const first = await handler(event);
    const second = await handler(structuredClone(event));
    expect(kms.commandCalls(EnableKeyCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY }]);
    expect(kms.commandCalls(ListAliasesCommand)).toHaveLength(0);
    expect(decisions(first)[0]?.outcome).toBe('applied');
    expect(decisions(second)[0]?.outcome).toBe('already-fixed');
  });

  it('turns rotation back on with the key ARN from the event', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata('Enabled'));
    const handler = handlerFor('remediate');
    await handler(loadEvent('kms/DisableKeyRotation-key-arn.json'));
    expect(kms.commandCalls(EnableKeyRotationCommand).map((c) => c.args[0].input)).toStrictEqual([{ KeyId: KEY_ARN }]);
  });

  it('leaves an exempt key alone', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata('Disabled'));
    kms.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: 'remediation:exempt', TagValue: 'decommissioned' }] });
    const handler = handlerFor('remediate');
    const result = await handler(loadEvent('kms/DisableKey-key-id.json'));
    expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
    expect(decisions(result)).toMatchObject([{ verdict: 'exempt', outcome: 'exempt' }]);
  });

  it('never writes a key policy, even in remediate mode: the fix is only proposed', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata('Enabled'));
    const handler = handlerFor('remediate');
    const result = await handler(loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json'));
    expect(kms.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name).sort()).toStrictEqual(['DescribeKeyCommand', 'ListResourceTagsCommand']);
    expect(decisions(result)[0]?.verdict).toBe('violation');
    const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
    expect(message['email']).toContain('kms:PutKeyPolicy');
  });

  it('makes no call at all for a failed call', async () => {
    const handler = handlerFor('remediate');
    await handler(loadEvent('kms/DisableKey-failed-not-found-panther.json'));
    expect(kms.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });

  it('makes no write call in propose mode', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata('Disabled'));
    const handler = handlerFor('propose');
    const result = await handler(loadEvent('kms/DisableKey-key-id.json'));
    expect(kms.commandCalls(EnableKeyCommand)).toHaveLength(0);
    expect(decisions(result)[0]?.outcome).toBe('proposed');
  });
});
