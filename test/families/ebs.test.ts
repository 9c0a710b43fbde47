/**
 * The ebs family as one Lambda function.
 *
 * - End to end through its handler, with a gateway on mocked SDK clients.
 * - Its command table: the function can run everything its rules plan,
 *   propose, look up and read around each step, and `remediate undo` every
 *   undo step; its role holds exactly the permissions the automatic plans need.
 * - Its promise: no plan and no proposal ever deletes anything, and nothing
 *   is written unread. Every rule runs over every recorded event, offline and
 *   with lookups, and over thousands of mutated events and random lookup
 *   answers. Undo steps may remove only the bot's own marker tags
 *   (`DeleteTags`). Every call step carries a read before and a read after,
 *   both read-only calls judged by one of the rule's own probes, and each
 *   probe answers any SDK output with a verdict (or an error the executor
 *   turns into "could not read"), never with anything else.
 */
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
import * as fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { statementsFor } from '../../deploy/deployment.js';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import { parseEvent, type CloudTrailEvent } from '../../engine/event.js';
import { isWaitStep, type Fact, type Facts, type Plan, type Rule, type StateCheck, type Verdict } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { ebsFamily, ebsRules } from '../../remediations/ebs/index.js';
import { allFixtureNames, loadEvent } from '../helpers/fixtures.js';
import { lookupOf, registeredRule } from '../helpers/registered.js';
import { evaluateRule, familyHandler, NOW } from '../helpers/rule-harness.js';

const ebsCommands = runtimeCommands(ebsFamily);
const ebsUnencryptedVolume = registeredRule('ebs-unencrypted-volume');

const ec2 = mockClient(EC2Client);
const sns = mockClient(SNSClient);
const VOLUME = 'vol-0a1b2c3d4e5f60001';
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const AWS_MANAGED_KEY = 'arn:aws:kms:us-east-1:111122223333:alias/aws/ebs';

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

describe('the ebs function, end to end', () => {
  beforeEach(() => {
    ec2.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  describe('ebs-unencrypted-volume', () => {
    it('in remediate mode reads before and after each step: turns on encryption by default, sets the configured key and tags the volume; the migration is only proposed', async () => {
      // Arrange
      account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY });
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-unencrypted-volume': 'remediate' }, settings: { 'ebs-unencrypted-volume': { kmsKeyId: KEY } } }).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-unencrypted-volume': 'remediate' }, settings: { 'ebs-unencrypted-volume': { kmsKeyId: KEY } } }).handler;
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
      const handler = familyHandler(ebsFamily).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-unencrypted-volume': 'remediate' } }).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-unencrypted-volume': 'remediate' } }).handler;
      const result = await handler(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
      expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
      const text = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as { default: string };
      expect(text.default).toContain('grant ec2:EnableEbsEncryptionByDefault to function remediation-bot-test-ebs');
    });

    it('makes no AWS call at all for a failed CreateVolume', async () => {
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-unencrypted-volume': 'remediate' } }).handler;
      const result = await handler(loadEvent('ec2/CreateVolume-failed-unauthorized.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'skipped', outcome: 'none' });
      expect(ec2.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('ebs-default-encryption-disabled', () => {
    it('turns encryption by default back on once, verified by a read; the second delivery is "already fixed"', async () => {
      account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY });
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-default-encryption-disabled': 'remediate' } }).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-public-snapshot': 'remediate' } }).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-public-snapshot': 'remediate' } }).handler;
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
      const handler = familyHandler(ebsFamily).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ebs-snapshot-shared-untrusted-account': 'remediate' } }).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ami-public': 'remediate' } }).handler;
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
      const handler = familyHandler(ebsFamily, { modes: { 'ami-public': 'remediate' } }).handler;
      const result = await handler(loadEvent('ec2/ModifyImageAttribute-public-group-all.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'violation', outcome: 'already-fixed' });
      expect(writeCalls()).toHaveLength(0);
    });
  });
});

const WITH_KEY = { rules: { 'ebs-unencrypted-volume': { kmsKeyId: 'alias/ebs-data' } } };
const config = parseConfig(WITH_KEY, ebsRules);

async function everyStep(): Promise<Plan> {
  const steps: Plan[number][] = [];
  for (const name of allFixtureNames()) {
    const parsed = parseEvent(loadEvent(name));
    if (!parsed.success) continue;
    for (const rule of ebsRules) {
      const { verdict } = await decide(parsed.event, rule, { config, env: {}, facts: offlineFacts, now: new Date(0) });
      if (verdict.kind === 'violation') steps.push(...verdict.plan, ...(verdict.proposal ?? []));
    }
  }
  // The attached-volume migration exists only with DescribeVolumes facts.
  const facts: Facts = {
    volume: {
      status: 'ok',
      value: lookupOf(ebsUnencryptedVolume).select({
        Volumes: [{ VolumeId: 'vol-1', Encrypted: false, Attachments: [{ InstanceId: 'i-1', Device: '/dev/sdf', State: 'attached' }] }],
      }),
    },
  };
  const attached = evaluateRule(ebsUnencryptedVolume, loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), {
    facts,
    config: WITH_KEY,
    now: new Date(0),
  });
  if (attached.kind === 'violation') steps.push(...attached.plan, ...(attached.proposal ?? []));
  return steps;
}

describe('ebs command table', () => {
  it('has a command for every call and every undo, and a waiter for every wait, of every plan and proposal', async () => {
    const steps = await everyStep();
    const operations = new Set(steps.map((s) => `${isWaitStep(s) ? 'wait ' : ''}${s.service}:${s.operation}`));
    expect([...operations].sort()).toStrictEqual([
      'ec2:AttachVolume',
      'ec2:CopySnapshot',
      'ec2:CreateSnapshot',
      'ec2:CreateTags',
      'ec2:CreateVolume',
      'ec2:DetachVolume',
      'ec2:EnableEbsEncryptionByDefault',
      'ec2:ModifyEbsDefaultKmsKeyId',
      'ec2:ModifyImageAttribute',
      'ec2:ModifySnapshotAttribute',
      'ec2:StartInstances',
      'ec2:StopInstances',
      'wait ec2:waitUntilInstanceStopped',
      'wait ec2:waitUntilSnapshotCompleted',
      'wait ec2:waitUntilVolumeAvailable',
    ]);
    for (const step of steps) {
      const key = `${step.service}:${step.operation}`;
      if (isWaitStep(step)) expect(ebsCommands.waiters?.[key], key).toBeTypeOf('function');
      else expect(ebsCommands.commands[key as keyof typeof ebsCommands.commands], key).toBeDefined();
    }
    const undos = new Set(steps.flatMap((s) => (s.undo ? [`${s.undo.service}:${s.undo.operation}`] : [])));
    expect([...undos].sort()).toStrictEqual([
      'ec2:AttachVolume',
      'ec2:DeleteTags',
      'ec2:DetachVolume',
      'ec2:DisableEbsEncryptionByDefault',
      'ec2:ModifyImageAttribute',
      'ec2:ModifySnapshotAttribute',
      'ec2:ResetEbsDefaultKmsKeyId',
      'ec2:StartInstances',
      'ec2:StopInstances',
    ]);
    for (const key of undos) expect(ebsCommands.commands[key as keyof typeof ebsCommands.commands], key).toBeDefined();
  });

  it('has a command for every read before and after a step, the same one its probe names', async () => {
    const steps = await everyStep();
    const reads = new Set(steps.flatMap((s) => [s.precondition, s.verification]).flatMap((check) => (check ? [`${check.service}:${check.operation}`] : [])));
    expect([...reads].sort()).toStrictEqual([
      'ec2:DescribeImageAttribute',
      'ec2:DescribeInstances',
      'ec2:DescribeSnapshotAttribute',
      'ec2:DescribeSnapshots',
      'ec2:DescribeVolumes',
      'ec2:GetEbsDefaultKmsKeyId',
      'ec2:GetEbsEncryptionByDefault',
    ]);
    for (const key of reads) expect(ebsCommands.commands[key as keyof typeof ebsCommands.commands], key).toBeDefined();
  });

  it('has a command for every lookup and every probe, and SNS for alerts', () => {
    for (const rule of ebsRules as readonly Rule[]) {
      for (const read of [...(rule.lookups ?? []), ...(rule.probes ?? [])]) {
        expect(ebsCommands.commands[`${read.service}:${read.operation}` as keyof typeof ebsCommands.commands], `${rule.id} ${read.name}`).toBeDefined();
      }
    }
    expect(ebsCommands.commands['sns:Publish']).toBeDefined();
  });
});

describe('ebs IAM statements', () => {
  it('grant the automatic plans, the attribute lookups and reads on scoped resources, account settings and the other reads on *, and never ec2:*', () => {
    expect(statementsFor(ebsRules)).toStrictEqual([
      {
        Effect: 'Allow',
        Action: [
          'ec2:DescribeImages',
          'ec2:DescribeInstances',
          'ec2:DescribeSnapshots',
          'ec2:DescribeVolumes',
          'ec2:EnableEbsEncryptionByDefault',
          'ec2:GetEbsDefaultKmsKeyId',
          'ec2:GetEbsEncryptionByDefault',
          'ec2:ModifyEbsDefaultKmsKeyId',
        ],
        Resource: '*',
      },
      { Effect: 'Allow', Action: ['ec2:DescribeImageAttribute'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' } },
      // Image and snapshot ARNs name no account: the writes hold only for the deploying account's resources.
      {
        Effect: 'Allow',
        Action: ['ec2:ModifyImageAttribute'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' },
        Condition: { StringEquals: { 'aws:ResourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } } },
      },
      { Effect: 'Allow', Action: ['ec2:DescribeSnapshotAttribute'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*' } },
      {
        Effect: 'Allow',
        Action: ['ec2:ModifySnapshotAttribute'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*' },
        Condition: { StringEquals: { 'aws:ResourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } } },
      },
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/*' } },
    ]);
  });

  it('grant ec2:ModifyEbsDefaultKmsKeyId only when ebs-unencrypted-volume remediates with a kmsKeyId set', () => {
    const writes = (raw: unknown) => statementsFor(ebsRules, parseConfig(raw, ebsRules)).flatMap((s) => s.Action).filter((a) => !/^ec2:(Describe|Get)/.test(a));
    expect(writes({})).toStrictEqual([]);
    expect(writes({ rules: { 'ebs-unencrypted-volume': { mode: 'remediate' } } }).sort()).toStrictEqual(['ec2:CreateTags', 'ec2:EnableEbsEncryptionByDefault']);
    expect(writes({ rules: { 'ebs-unencrypted-volume': { mode: 'remediate', kmsKeyId: 'alias/ebs-data' } } }).sort()).toStrictEqual([
      'ec2:CreateTags',
      'ec2:EnableEbsEncryptionByDefault',
      'ec2:ModifyEbsDefaultKmsKeyId',
    ]);
  });

  it('do not grant the proposed migration: a person approves and runs it with their own permissions', () => {
    const actions = statementsFor(ebsRules).flatMap((s) => s.Action);
    for (const action of ['ec2:CreateSnapshot', 'ec2:CopySnapshot', 'ec2:CreateVolume', 'ec2:StopInstances', 'ec2:StartInstances', 'ec2:DetachVolume', 'ec2:AttachVolume']) {
      expect(actions).not.toContain(action);
    }
    expect(actions.some((a) => a.startsWith('ec2:Delete') || a === 'ec2:*')).toBe(false);
  });
});

const DESTRUCTIVE = /^(Delete|Deregister|Terminate|Disable|Reset|Revoke|Cancel|Release)/;
const rules: readonly Rule[] = ebsRules;
const configs = [
  parseConfig({}, rules),
  parseConfig({ trustedAccounts: ['444455556666'], rules: { 'ebs-unencrypted-volume': { kmsKeyId: 'alias/ebs-data' } } }, rules),
];

const READ_ONLY = /^(Describe|Get)/;

/** The check is a read-only call that one of the rule's probes makes and judges. */
function assertReadByProbe(rule: Rule, check: StateCheck | undefined, where: string): void {
  expect(check, where).toBeDefined();
  if (!check) return;
  expect(check.operation, where).toMatch(READ_ONLY);
  const probe = rule.probes?.find((p) => p.name === check.probe);
  expect(probe && [probe.service, probe.operation], `${where}: probe ${check.probe}`).toStrictEqual([check.service, check.operation]);
}

function assertNeverDestructive(rule: Rule, verdict: Verdict, where: string): void {
  if (verdict.kind !== 'violation') return;
  const steps: Plan = [...verdict.plan, ...(verdict.proposal ?? [])];
  for (const step of steps) {
    const at = `${where}: ${step.operation}`;
    expect(step.operation, at).not.toMatch(DESTRUCTIVE);
    // Undo restores the state before the event: it may re-disable a setting or re-share (the event's own act), and remove only the bot's tags.
    if (step.undo && /^Delete/.test(step.undo.operation)) expect(step.undo.operation, where).toBe('DeleteTags');
    if (isWaitStep(step)) continue;
    expect(step.alreadyDone, at).toBeUndefined();
    assertReadByProbe(rule, step.precondition, `${at} precondition`);
    assertReadByProbe(rule, step.verification, `${at} verification`);
  }
}

const fixtures: CloudTrailEvent[] = allFixtureNames().flatMap((name) => {
  const parsed = parseEvent(loadEvent(name));
  return parsed.success ? [parsed.event] : [];
});

const sdkVolume = fc.record(
  {
    VolumeId: fc.constantFrom('vol-0a1b2c3d4e5f60001', 'vol-0a1b2c3d4e5f6000b', 'vol-x'),
    Encrypted: fc.boolean(),
    AvailabilityZone: fc.constantFrom('us-east-1a', 'us-east-1b'),
    VolumeType: fc.constantFrom('gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard'),
    Size: fc.integer({ min: 1, max: 16384 }),
    Iops: fc.integer({ min: 100, max: 64000 }),
    Throughput: fc.integer({ min: 125, max: 1000 }),
    MultiAttachEnabled: fc.boolean(),
    Tags: fc.array(fc.record({ Key: fc.constantFrom('Name', 'remediation:exempt', 'remediation:unencrypted', 'aws:cloudformation:stack-name'), Value: fc.string() }), {
      maxLength: 3,
    }),
    Attachments: fc.array(
      fc.record({
        InstanceId: fc.constantFrom('i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002'),
        Device: fc.constantFrom('/dev/xvda', '/dev/sdf'),
        State: fc.constantFrom('attached', 'attaching', 'detached'),
      }),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: ['VolumeId'] },
);

/** A plausible SDK answer for any of the family's lookups, or garbage. */
const sdkOutput = fc.oneof(
  fc.record({ Volumes: fc.array(sdkVolume, { maxLength: 3 }) }),
  fc.record({ EbsEncryptionByDefault: fc.boolean() }),
  fc.record({ KmsKeyId: fc.constantFrom('arn:aws:kms:us-east-1:111122223333:alias/aws/ebs', 'alias/ebs-data') }),
  fc.record({
    Snapshots: fc.array(
      fc.record(
        {
          SnapshotId: fc.string(),
          VolumeId: fc.constantFrom('vol-0a1b2c3d4e5f60001', 'vol-ffffffff'),
          State: fc.constantFrom('pending', 'completed', 'error', 'recoverable'),
          Encrypted: fc.boolean(),
          Tags: fc.array(fc.record({ Key: fc.string(), Value: fc.string() })),
        },
        { requiredKeys: ['SnapshotId'] },
      ),
      { maxLength: 1 },
    ),
  }),
  fc.record({
    Reservations: fc.array(
      fc.record({
        Instances: fc.array(
          fc.record(
            {
              InstanceId: fc.constantFrom('i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002'),
              State: fc.record({ Name: fc.constantFrom('pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated') }),
            },
            { requiredKeys: ['InstanceId'] },
          ),
          { maxLength: 2 },
        ),
      }),
      { maxLength: 2 },
    ),
  }),
  fc.record(
    {
      SnapshotId: fc.constantFrom('snap-0a1b2c3d4e5f60001', 'snap-0a1b2c3d4e5f60002', 'snap-x'),
      CreateVolumePermissions: fc.array(fc.record({ Group: fc.constant('all'), UserId: fc.constantFrom('444455556666', '999988887777') }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      ImageId: fc.constantFrom('ami-0a1b2c3d4e5f60001', 'ami-x'),
      LaunchPermissions: fc.array(fc.record({ Group: fc.constant('all'), UserId: fc.constantFrom('444455556666', '846424999548') }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  ),
  fc.record({ Images: fc.array(fc.record({ ImageId: fc.string(), Public: fc.boolean() }), { maxLength: 1 }) }),
  fc.jsonValue(),
);

const factFor = (rule: Rule) =>
  fc.tuple(
    ...(rule.lookups ?? []).map((lookup) =>
      fc.oneof(
        fc.constant<Fact>({ status: 'unavailable', reason: 'denied' }),
        fc.constant<Fact>({ status: 'ok', value: null }),
        sdkOutput.map<Fact>((output) => {
          try {
            return { status: 'ok', value: lookup.select(output) };
          } catch {
            return { status: 'unavailable', reason: 'select failed' };
          }
        }),
      ),
    ),
  ).map((facts): Facts => Object.fromEntries((rule.lookups ?? []).map((lookup, index) => [lookup.name, facts[index] as Fact])));

/** Replaces one value somewhere in the record with something hostile, or removes it. */
function mutate(event: CloudTrailEvent, path: readonly string[], replacement: unknown): CloudTrailEvent {
  const copy = structuredClone(event);
  let node: unknown = copy.detail;
  for (const [index, key] of path.entries()) {
    if (typeof node !== 'object' || node === null) return copy;
    const record = node as Record<string, unknown>;
    if (index === path.length - 1) {
      if (replacement === undefined) delete record[key];
      else record[key] = replacement;
    } else {
      node = record[key];
    }
  }
  return copy;
}

const mutationPaths = [
  ['requestParameters'],
  ['responseElements'],
  ['requestParameters', 'createVolumePermission', 'add'],
  ['requestParameters', 'launchPermission', 'add', 'items'],
  ['requestParameters', 'blockDeviceMapping', 'items'],
  ['requestParameters', 'snapshotId'],
  ['requestParameters', 'imageId'],
  ['requestParameters', 'encrypted'],
  ['responseElements', 'encrypted'],
  ['responseElements', 'volumeId'],
  ['responseElements', 'size'],
  ['responseElements', 'tagSet'],
  ['responseElements', 'instancesSet', 'items'],
  ['eventTime'],
  ['awsRegion'],
] as const;

const hostile = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom({ items: [{ group: 'all' }, { userId: '999988887777' }] }, [{ group: 'all' }], { items: [{ deviceName: '/dev/sdf', ebs: { encrypted: false } }] }, 'vol-0a1b2c3d4e5f60009'),
  fc.string({ maxLength: 2000 }),
);

describe('ebs rules never delete', () => {
  it('plans and proposes no destructive call for any recorded event, offline', async () => {
    let violations = 0;
    for (const event of fixtures) {
      for (const rule of rules) {
        for (const config of configs) {
          const { verdict } = await decide(event, rule, { config, env: {}, facts: offlineFacts, now: NOW });
          if (verdict.kind === 'violation') violations += 1;
          assertNeverDestructive(rule, verdict, `${rule.id} ${event.detail.eventName} ${event.detail.eventID}`);
        }
      }
    }
    expect(violations).toBeGreaterThan(10);
  });

  it.each(rules.map((rule) => [rule.id, rule] as const))('%s plans no destructive call for mutated events and any lookup answer', (_, rule) => {
    const own = fixtures.filter((event) => rule.triggers.some((t) => t.eventNames.includes(event.detail.eventName)));
    let violations = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...own),
        fc.constantFrom(...mutationPaths),
        hostile,
        factFor(rule),
        fc.constantFrom(...configs),
        (event, path, replacement, facts, config) => {
          const mutated = mutate(event, path, replacement);
          const parsed = parseEvent(mutated);
          if (!parsed.success) return;
          const verdict = rule.evaluate(parsed.event, facts, { config, settings: config.rules[rule.id]?.settings, now: NOW });
          if (verdict.kind === 'violation') violations += 1;
          assertNeverDestructive(rule, verdict, rule.id);
        },
      ),
      { numRuns: 2_000 },
    );
    expect(violations).toBeGreaterThan(0);
  });
});

describe('ebs probes judge any answer', () => {
  const checks = fixtures.flatMap((event) =>
    rules.flatMap((rule) =>
      configs.flatMap((config) => {
        const verdict = rule.evaluate(event, {}, { config, settings: config.rules[rule.id]?.settings, now: NOW });
        if (verdict.kind !== 'violation') return [];
        return [...verdict.plan, ...(verdict.proposal ?? [])].flatMap((step) => [step.precondition, step.verification]).flatMap((check) => (check ? [{ rule, check }] : []));
      }),
    ),
  );

  it('has checks to judge', () => {
    expect(new Set(checks.map(({ check }) => check.probe)).size).toBeGreaterThan(8);
  });

  it('answers needed, done or changed with evidence, or throws an Error (then the step is not run), for any SDK output and for "not found"', () => {
    fc.assert(
      fc.property(fc.constantFrom(...checks), fc.oneof(sdkOutput, fc.constant(null)), ({ rule, check }, output) => {
        const probe = rule.probes?.find((p) => p.name === check.probe);
        if (!probe) throw new Error(`no probe ${check.probe}`);
        if (output === null && probe.notFoundCodes === undefined) return;
        let verdict: unknown;
        try {
          verdict = probe.judge(output, check.expect);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          return;
        }
        expect(verdict).toStrictEqual({ state: expect.stringMatching(/^(needed|done|changed)$/), evidence: expect.any(String) });
      }),
      { numRuns: 3_000 },
    );
  });
});
