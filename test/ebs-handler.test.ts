/** The ebs family end to end through `createRemediationHandler`, with a gateway on mocked SDK clients. */
import {
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  EC2ServiceException,
  EnableEbsEncryptionByDefaultCommand,
  GetEbsDefaultKmsKeyIdCommand,
  GetEbsEncryptionByDefaultCommand,
  ModifyEbsDefaultKmsKeyIdCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import type { Mode } from '../engine/types.js';
import { ebsRules } from '../remediations/ebs/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { ebsFamily } from '../remediations/ebs/index.js';

const ebsCommands = runtimeCommands(ebsFamily);

const ec2 = mockClient(EC2Client);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const VOLUME = 'vol-0a1b2c3d4e5f60001';
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const AWS_MANAGED_KEY = 'arn:aws:kms:us-east-1:111122223333:alias/aws/ebs';

function handlerFor(modes: Record<string, Mode>, settings: Record<string, Record<string, unknown>> = {}) {
  const rules = Object.fromEntries(ebsRules.map((rule) => [rule.id, { ...(modes[rule.id] ? { mode: modes[rule.id] } : {}), ...settings[rule.id] }]));
  const config = parseConfig({ rules }, ebsRules);
  return remediationHandler({
    rules: ebsRules,
    commands: ebsCommands,
    logger: recordingLogger(),
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-ebs' },
    gateway: createAwsGateway(ebsCommands, { region: 'us-east-1' }),
  });
}

const inputs = (command: Parameters<typeof ec2.commandCalls>[0]) => ec2.commandCalls(command).map((call) => call.args[0].input);
const writeCalls = () =>
  ec2.calls().filter((call) => !/^(Describe|Get)/.test((call.args[0] as { constructor: { name: string } }).constructor.name));

const readsAndWrites = () => ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
const notFound = (name: string) => new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message: `${name}: gone` });

/** The account and one volume as EC2 keeps them: writes change them, reads answer from them. */
function account(initial: { encryptionByDefault: boolean; defaultKey: string; tags?: { Key: string; Value: string }[] }) {
  const state = { ...initial, tags: [{ Key: 'team', Value: 'ml' }, ...(initial.tags ?? [])] };
  ec2.on(GetEbsEncryptionByDefaultCommand).callsFake(() => ({ EbsEncryptionByDefault: state.encryptionByDefault }));
  ec2.on(EnableEbsEncryptionByDefaultCommand).callsFake(() => {
    state.encryptionByDefault = true;
    return { EbsEncryptionByDefault: true };
  });
  ec2.on(GetEbsDefaultKmsKeyIdCommand).callsFake(() => ({ KmsKeyId: state.defaultKey }));
  ec2.on(ModifyEbsDefaultKmsKeyIdCommand).callsFake((input: { KmsKeyId?: string }) => {
    state.defaultKey = String(input.KmsKeyId);
    return { KmsKeyId: state.defaultKey };
  });
  ec2.on(DescribeVolumesCommand).callsFake(() => ({
    Volumes: [
      {
        VolumeId: VOLUME,
        AvailabilityZone: 'us-east-1a',
        Encrypted: false,
        VolumeType: 'gp3',
        Size: 100,
        Iops: 3000,
        Throughput: 125,
        State: 'available',
        Tags: state.tags,
        Attachments: [],
      },
    ],
  }));
  ec2.on(CreateTagsCommand).callsFake((input: { Tags?: { Key?: string; Value?: string }[] }) => {
    state.tags.push(...(input.Tags ?? []).map((t) => ({ Key: String(t.Key), Value: String(t.Value) })));
    return {};
  });
  return state;
}

/** A snapshot's or an AMI's sharing as EC2 keeps it. */
function sharing(kind: 'snapshot' | 'image', id: string, initial: { Group?: 'all'; UserId?: string }[], options: { exists?: boolean } = {}) {
  let permissions = [...initial];
  const gone = () => notFound(kind === 'snapshot' ? 'InvalidSnapshot.NotFound' : 'InvalidAMIID.NotFound');
  const remove = (input: { CreateVolumePermission?: { Remove?: { Group?: string; UserId?: string }[] }; LaunchPermission?: { Remove?: { Group?: string; UserId?: string }[] } }) => {
    const removed = (kind === 'snapshot' ? input.CreateVolumePermission?.Remove : input.LaunchPermission?.Remove) ?? [];
    permissions = permissions.filter((p) => !removed.some((r) => r.Group === p.Group && r.UserId === p.UserId));
    return {};
  };
  if (kind === 'snapshot') {
    ec2.on(DescribeSnapshotAttributeCommand).callsFake(() => {
      if (options.exists === false) throw gone();
      return { SnapshotId: id, CreateVolumePermissions: permissions };
    });
    ec2.on(ModifySnapshotAttributeCommand).callsFake(remove);
  } else {
    ec2.on(DescribeImageAttributeCommand).callsFake(() => {
      if (options.exists === false) throw gone();
      return { ImageId: id, LaunchPermissions: permissions };
    });
    ec2.on(ModifyImageAttributeCommand).callsFake(remove);
  }
}

describe('ebs handler', () => {
  beforeEach(() => {
    ec2.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  describe('ebs-unencrypted-volume', () => {
    it('in remediate mode reads before and after each step: turns on encryption by default, sets the configured key and tags the volume; the migration is only proposed', async () => {
      // Arrange
      account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY });
      const handler = handlerFor({ 'ebs-unencrypted-volume': 'remediate' }, { 'ebs-unencrypted-volume': { kmsKeyId: KEY } });
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      // Act
      const result = await handler(event);
      // Assert
      expect(readsAndWrites()).toStrictEqual([
        'DescribeVolumes', // lookup: the volume
        'GetEbsDefaultKmsKeyId', // lookup: the key the undo restores
        'GetEbsEncryptionByDefault',
        'EnableEbsEncryptionByDefault',
        'GetEbsEncryptionByDefault',
        'GetEbsDefaultKmsKeyId',
        'ModifyEbsDefaultKmsKeyId',
        'GetEbsDefaultKmsKeyId',
        'DescribeVolumes',
        'CreateTags',
        'DescribeVolumes',
      ]);
      expect(inputs(DescribeVolumesCommand)).toStrictEqual([{ VolumeIds: [VOLUME] }, { VolumeIds: [VOLUME] }, { VolumeIds: [VOLUME] }]);
      expect(inputs(GetEbsEncryptionByDefaultCommand)).toStrictEqual([{}, {}]);
      expect(inputs(EnableEbsEncryptionByDefaultCommand)).toStrictEqual([{}]);
      expect(inputs(ModifyEbsDefaultKmsKeyIdCommand)).toStrictEqual([{ KmsKeyId: KEY }]);
      expect(inputs(CreateTagsCommand)).toStrictEqual([{ Resources: [VOLUME], Tags: [{ Key: 'remediation:unencrypted', Value: '2025-03-04' }] }]);
      expect(writeCalls()).toHaveLength(3);
      expect(ec2.commandCalls(CreateSnapshotCommand)).toHaveLength(0);
      expect(ec2.commandCalls(CopySnapshotCommand)).toHaveLength(0);
      expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(0);
      expect(result).toStrictEqual({
        status: 'processed',
        eventId: event.detail.eventID,
        decisions: [{ rule: 'ebs-unencrypted-volume', verdict: 'violation', outcome: 'applied', summary: `${VOLUME} created unencrypted`, execution: 'applied' }],
      });
      const publishes = sns.commandCalls(PublishCommand);
      expect(publishes).toHaveLength(1);
      expect(publishes[0]?.args[0].input.MessageAttributes?.['outcome']).toStrictEqual({ DataType: 'String', StringValue: 'applied' });
    });

    it('is "already fixed", never "applied", when the same event is delivered again: every read before shows the step in place', async () => {
      account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY });
      const handler = handlerFor({ 'ebs-unencrypted-volume': 'remediate' }, { 'ebs-unencrypted-volume': { kmsKeyId: KEY } });
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(first.status === 'processed' && first.decisions[0]?.outcome).toBe('applied');
      expect(second.status === 'processed' && second.decisions[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
      expect(writeCalls()).toHaveLength(3);
      expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input.MessageAttributes?.['outcome']?.StringValue)).toStrictEqual(['applied', 'already-fixed']);
    });

    it('in propose mode reads the present and says "already fixed" when everything is in place, writing nothing', async () => {
      account({ encryptionByDefault: true, defaultKey: AWS_MANAGED_KEY, tags: [{ Key: 'remediation:unencrypted', Value: '2025-03-04' }] });
      const handler = handlerFor({});
      const result = await handler(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'));
      expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('already-fixed');
      expect(readsAndWrites()).toStrictEqual(['DescribeVolumes', 'GetEbsEncryptionByDefault', 'DescribeVolumes']);
      expect(writeCalls()).toHaveLength(0);
    });

    it('tags only the unencrypted volume DescribeVolumes finds on a launched instance, and leaves encryption by default that reads on', async () => {
      const tags: { Key: string; Value: string }[] = [];
      ec2.on(DescribeVolumesCommand).callsFake((input: { VolumeIds?: string[] }) =>
        input.VolumeIds
          ? { Volumes: [{ VolumeId: 'vol-0a1b2c3d4e5f6000b', Encrypted: false, Tags: tags }] }
          : {
              Volumes: [
                { VolumeId: 'vol-0a1b2c3d4e5f6000a', Encrypted: true, VolumeType: 'gp3', Size: 30, Attachments: [{ InstanceId: 'i-0a1b2c3d4e5f60002', Device: '/dev/xvda', State: 'attached' }] },
                { VolumeId: 'vol-0a1b2c3d4e5f6000b', Encrypted: false, VolumeType: 'gp3', Size: 8, Attachments: [{ InstanceId: 'i-0a1b2c3d4e5f60002', Device: '/dev/sdb', State: 'attached' }] },
              ],
            },
      );
      ec2.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
      ec2.on(CreateTagsCommand).callsFake((input: { Tags?: { Key?: string; Value?: string }[] }) => {
        tags.push(...(input.Tags ?? []).map((t) => ({ Key: String(t.Key), Value: String(t.Value) })));
        return {};
      });
      const handler = handlerFor({ 'ebs-unencrypted-volume': 'remediate' });
      const result = await handler(loadEvent('ec2/RunInstances-volumes-not-in-event.json'));
      expect(inputs(DescribeVolumesCommand)).toStrictEqual([
        { Filters: [{ Name: 'attachment.instance-id', Values: ['i-0a1b2c3d4e5f60002'] }] },
        { VolumeIds: ['vol-0a1b2c3d4e5f6000b'] },
        { VolumeIds: ['vol-0a1b2c3d4e5f6000b'] },
      ]);
      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)).toHaveLength(0);
      expect(ec2.commandCalls(GetEbsDefaultKmsKeyIdCommand)).toHaveLength(0);
      expect(inputs(CreateTagsCommand)).toStrictEqual([{ Resources: ['vol-0a1b2c3d4e5f6000b'], Tags: [{ Key: 'remediation:unencrypted', Value: '2025-03-04' }] }]);
      expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
    });

    it('reports a denied EnableEbsEncryptionByDefault as failed with the missing permission, without rethrowing', async () => {
      account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY });
      ec2.on(EnableEbsEncryptionByDefaultCommand).rejects(new EC2ServiceException({ name: 'UnauthorizedOperation', $fault: 'client', $metadata: {}, message: 'denied' }));
      const handler = handlerFor({ 'ebs-unencrypted-volume': 'remediate' });
      const result = await handler(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
      expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
      const text = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as { default: string };
      expect(text.default).toContain('grant ec2:EnableEbsEncryptionByDefault to function remediation-bot-test-ebs');
    });

    it('makes no AWS call at all for a failed CreateVolume', async () => {
      const handler = handlerFor({ 'ebs-unencrypted-volume': 'remediate' });
      const result = await handler(loadEvent('ec2/CreateVolume-failed-unauthorized.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'skipped', outcome: 'none' });
      expect(ec2.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('ebs-default-encryption-disabled', () => {
    it('turns encryption by default back on once, verified by a read; the second delivery is "already fixed"', async () => {
      account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY });
      const handler = handlerFor({ 'ebs-default-encryption-disabled': 'remediate' });
      const event = loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(readsAndWrites()).toStrictEqual(['GetEbsEncryptionByDefault', 'EnableEbsEncryptionByDefault', 'GetEbsEncryptionByDefault', 'GetEbsEncryptionByDefault']);
      expect(inputs(EnableEbsEncryptionByDefaultCommand)).toStrictEqual([{}]);
      expect(first.status === 'processed' && first.decisions[0]?.outcome).toBe('applied');
      expect(second.status === 'processed' && second.decisions[0]?.outcome).toBe('already-fixed');
    });
  });

  describe('ebs-public-snapshot', () => {
    const SNAPSHOT = 'snap-0a1b2c3d4e5f60001';

    it('removes group all exactly once across two deliveries, reading DescribeSnapshotAttribute before and after', async () => {
      ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAPSHOT, Tags: [] }] });
      sharing('snapshot', SNAPSHOT, [{ Group: 'all' }]);
      const handler = handlerFor({ 'ebs-public-snapshot': 'remediate' });
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(readsAndWrites()).toStrictEqual([
        'DescribeSnapshots',
        'DescribeSnapshotAttribute',
        'ModifySnapshotAttribute',
        'DescribeSnapshotAttribute',
        'DescribeSnapshots',
        'DescribeSnapshotAttribute',
      ]);
      expect(inputs(DescribeSnapshotsCommand)[0]).toStrictEqual({ SnapshotIds: [SNAPSHOT] });
      expect(inputs(DescribeSnapshotAttributeCommand)).toStrictEqual(Array(3).fill({ SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission' }));
      expect(inputs(ModifySnapshotAttributeCommand)).toStrictEqual([{ SnapshotId: SNAPSHOT, CreateVolumePermission: { Remove: [{ Group: 'all' }] } }]);
      expect(first.status === 'processed' && first.decisions.map((d) => [d.rule, d.outcome])).toStrictEqual([
        ['ebs-public-snapshot', 'applied'],
        ['ebs-snapshot-shared-untrusted-account', 'none'],
      ]);
      expect(second.status === 'processed' && second.decisions[0]?.outcome).toBe('already-fixed');
    });

    it('leaves an exempt snapshot public, says why, and shows what the exemption let through', async () => {
      ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SNAPSHOT, Tags: [{ Key: 'remediation:exempt', Value: 'open dataset' }] }] });
      sharing('snapshot', SNAPSHOT, [{ Group: 'all' }]);
      const handler = handlerFor({ 'ebs-public-snapshot': 'remediate' });
      const result = await handler(loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'exempt', outcome: 'exempt' });
      expect(writeCalls()).toHaveLength(0);
      const message = String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message);
      expect(message).toContain(`Snapshot ${SNAPSHOT} was made public`);
    });
  });

  describe('ebs-snapshot-shared-untrusted-account', () => {
    it('only notifies by default: no change, one alert', async () => {
      ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-0a1b2c3d4e5f60002', Tags: [] }] });
      sharing('snapshot', 'snap-0a1b2c3d4e5f60002', [{ UserId: '444455556666' }]);
      const handler = handlerFor({});
      const result = await handler(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([
        ['ebs-public-snapshot', 'compliant', 'none'],
        ['ebs-snapshot-shared-untrusted-account', 'violation', 'notified'],
      ]);
      expect(writeCalls()).toHaveLength(0);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    });

    it('in remediate mode removes exactly the untrusted account', async () => {
      ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-0a1b2c3d4e5f60002', Tags: [] }] });
      sharing('snapshot', 'snap-0a1b2c3d4e5f60002', [{ UserId: '444455556666' }]);
      const handler = handlerFor({ 'ebs-snapshot-shared-untrusted-account': 'remediate' });
      const result = await handler(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      expect(inputs(ModifySnapshotAttributeCommand)).toStrictEqual([
        { SnapshotId: 'snap-0a1b2c3d4e5f60002', CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] } },
      ]);
      expect(result.status === 'processed' && result.decisions[1]?.outcome).toBe('applied');
    });
  });

  describe('ami-public', () => {
    const IMAGE = 'ami-0a1b2c3d4e5f60001';

    it('removes the public launch permission once; DescribeImageAttribute shows it gone after, and on the second delivery', async () => {
      ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: IMAGE, Public: true, Tags: [] }] });
      sharing('image', IMAGE, [{ Group: 'all' }]);
      const handler = handlerFor({ 'ami-public': 'remediate' });
      const event = loadEvent('ec2/ModifyImageAttribute-public-group-all.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(inputs(DescribeImagesCommand)[0]).toStrictEqual({ ImageIds: [IMAGE] });
      expect(inputs(DescribeImageAttributeCommand)).toStrictEqual(Array(3).fill({ ImageId: IMAGE, Attribute: 'launchPermission' }));
      expect(inputs(ModifyImageAttributeCommand)).toStrictEqual([{ ImageId: IMAGE, LaunchPermission: { Remove: [{ Group: 'all' }] } }]);
      expect(first.status === 'processed' && first.decisions[0]?.outcome).toBe('applied');
      expect(second.status === 'processed' && second.decisions[0]?.outcome).toBe('already-fixed');
    });

    it('says "already fixed", with no write, for an AMI deregistered since the event: the read before finds it gone', async () => {
      ec2.on(DescribeImagesCommand).rejects(notFound('InvalidAMIID.NotFound'));
      sharing('image', IMAGE, [], { exists: false });
      const handler = handlerFor({ 'ami-public': 'remediate' });
      const result = await handler(loadEvent('ec2/ModifyImageAttribute-public-group-all.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'violation', outcome: 'already-fixed' });
      expect(writeCalls()).toHaveLength(0);
    });
  });
});
