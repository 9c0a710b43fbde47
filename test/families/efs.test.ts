/**
 * The efs family's function, with SNS mocked: an unencrypted file system is
 * one alert and no other call (the family has no AWS client of its own); an
 * encrypted one, or a failed create, is silence.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { efsFamily } from '../../remediations/efs/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { familyHandler } from '../helpers/rule-harness.js';

describe('efs-unencrypted through the Lambda path', () => {
  const sns = mockClient(SNSClient);

  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('holds no AWS client: its rule reads only the event', () => {
    expect(efsFamily.commands).toStrictEqual({ clients: {}, commands: {} });
  });

  it('publishes one medium alert with the migration steps, and makes no other call, even in remediate mode', async () => {
    const { handler } = familyHandler('efs', { modes: { 'efs-unencrypted': 'remediate' } });

    const result = await handler(loadEvent('efs/CreateFileSystem-unencrypted.json'));

    expect(result.status === 'processed' && result.decisions).toStrictEqual([
      {
        rule: 'efs-unencrypted',
        verdict: 'violation',
        outcome: 'notified',
        summary: 'fs-0a1b2c3d4e5f67890 created without encryption at rest; migrate it to an encrypted file system',
      },
    ]);
    const published = sns.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(published[0]?.args[0].input.MessageAttributes?.['severity']?.StringValue).toBe('medium');
    expect(String(published[0]?.args[0].input.Message)).toContain('AWS DataSync');
    expect(sns.calls()).toHaveLength(1);
  });

  it('stays quiet on an encrypted file system', async () => {
    const { handler } = familyHandler('efs');

    const result = await handler(loadEvent('efs/CreateFileSystem-encrypted-kms-compliant.json'));

    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([['efs-unencrypted', 'compliant', 'none']]);
    expect(sns.calls()).toHaveLength(0);
  });

  it('stays quiet on a failed create (FileSystemAlreadyExists): it changed nothing', async () => {
    const { handler } = familyHandler('efs');

    const result = await handler(loadEvent('efs/CreateFileSystem-failed-already-exists.json'));

    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([['efs-unencrypted', 'skipped', 'none']]);
    expect(sns.calls()).toHaveLength(0);
  });
});
