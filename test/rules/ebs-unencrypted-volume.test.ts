import {
  CreateTagsCommand,
  type CreateTagsCommandInput,
  DescribeVolumesCommand,
  type DescribeVolumesCommandInput,
  EC2Client,
  EC2ServiceException,
  EnableEbsEncryptionByDefaultCommand,
  GetEbsDefaultKmsKeyIdCommand,
  GetEbsEncryptionByDefaultCommand,
  ModifyEbsDefaultKmsKeyIdCommand,
  type ModifyEbsDefaultKmsKeyIdCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import { ConfigError, parseConfig } from '../../engine/config.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { executePlan } from '../../engine/executor.js';
import type { Facts, Plan, Verdict } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { sameKmsKey } from '../../remediations/ebs/default-encryption.js';
import { ebsFamily } from '../../remediations/ebs/index.js';
import { volumesFromSdk } from '../../remediations/ebs/volumes.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator, TEST_REGION, type EvaluateOptions } from '../helpers/rule-harness.js';

const ebsCommands = runtimeCommands(ebsFamily);
const ebsUnencryptedVolume = registeredRule('ebs-unencrypted-volume');
const evaluate = ruleEvaluator('ebs-unencrypted-volume');

const rules = [ebsUnencryptedVolume];
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const VOLUME = 'vol-0a1b2c3d4e5f60001';
const INSTANCE = 'i-0a1b2c3d4e5f60001';
const AWS_MANAGED_KEY = 'arn:aws:kms:us-east-1:111122223333:alias/aws/ebs';
const ec2 = mockClient(EC2Client);

/** The verdict, which the test expects to be a violation. */
function violation(event: CloudTrailEvent, options?: EvaluateOptions): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event, options);
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

const lookup = (name: string) => {
  const found = ebsUnencryptedVolume.lookups.find((l) => l.name === name);
  if (!found) throw new Error(name);
  return found;
};

/** A `DescribeVolumes` answer, reduced by the rule's own `select`. */
function volumeFact(volume: Record<string, unknown>): Facts {
  return { volume: { status: 'ok', value: lookup('volume').select({ Volumes: [volume] }) } };
}

const sdkVolume = (extra: Record<string, unknown> = {}) => ({
  VolumeId: VOLUME,
  AvailabilityZone: 'us-east-1a',
  Encrypted: false,
  VolumeType: 'gp3',
  Size: 100,
  Iops: 3000,
  Throughput: 125,
  MultiAttachEnabled: false,
  State: 'in-use',
  Tags: [
    { Key: 'Name', Value: 'training-data' },
    { Key: 'team', Value: 'ml' },
  ],
  Attachments: [],
  ...extra,
});

const encryptionCheck = (description: string) => ({
  service: 'ec2',
  operation: 'GetEbsEncryptionByDefault',
  input: {},
  probe: 'encryptionByDefault',
  expect: { region: 'us-east-1' },
  description,
});

const enableStep = {
  service: 'ec2',
  operation: 'EnableEbsEncryptionByDefault',
  input: {},
  reason: 'Turn on EBS encryption by default in us-east-1, so that no further volume is created unencrypted. Existing volumes are not changed.',
  undo: { service: 'ec2', operation: 'DisableEbsEncryptionByDefault', input: {}, reason: 'Turn encryption by default off again.' },
  precondition: encryptionCheck('shows encryption by default still off in us-east-1'),
  verification: encryptionCheck('shows encryption by default on in us-east-1'),
};

function kmsKeyStep(kmsKeyId: string, previous?: string) {
  const check = (description: string) => ({
    service: 'ec2',
    operation: 'GetEbsDefaultKmsKeyId',
    input: {},
    probe: 'defaultKmsKey',
    expect: { kmsKeyId, ...(previous ? { previous } : {}) },
    description,
  });
  return {
    service: 'ec2',
    operation: 'ModifyEbsDefaultKmsKeyId',
    input: { KmsKeyId: kmsKeyId },
    reason: `Make ${kmsKeyId} the default key for EBS encryption in us-east-1, as configured.`,
    undo: previous
      ? { service: 'ec2', operation: 'ModifyEbsDefaultKmsKeyId', input: { KmsKeyId: previous }, reason: `Set the default EBS key back to ${previous}.` }
      : {
          service: 'ec2',
          operation: 'ResetEbsDefaultKmsKeyId',
          input: {},
          reason:
            'Set the default EBS key back to the AWS managed key (alias/aws/ebs); if another key was the default before, set that one instead (it was not known when this plan was made).',
        },
    precondition: check(`shows a default EBS key other than ${kmsKeyId}${previous ? `, still ${previous}` : ''}`),
    verification: check(`shows ${kmsKeyId} as the default EBS key`),
  };
}

function tagStep(id: string, date = '2025-03-04') {
  const input = { Resources: [id], Tags: [{ Key: 'remediation:unencrypted', Value: date }] };
  const check = (description: string) => ({
    service: 'ec2',
    operation: 'DescribeVolumes',
    input: { VolumeIds: [id] },
    probe: 'unencryptedVolumeTag',
    expect: { volumeId: id, tagKey: 'remediation:unencrypted' },
    description,
  });
  return {
    service: 'ec2',
    operation: 'CreateTags',
    input,
    reason: `Mark ${id} as unencrypted since ${date}, so the volume can be found and migrated.`,
    undo: { service: 'ec2', operation: 'DeleteTags', input, reason: 'Remove the marker tag (only if it still has this value).' },
    alreadyDoneCodes: ['InvalidVolume.NotFound'],
    precondition: check(`shows ${id} unencrypted and not yet tagged remediation:unencrypted`),
    verification: check(`shows ${id} tagged remediation:unencrypted`),
  };
}

const ref = ($ref: string) => ({ $ref });
const read = (operation: string, probe: string, input: Record<string, unknown>, expect: Record<string, unknown>, description: string) => ({
  service: 'ec2' as const,
  operation,
  input,
  probe,
  expect,
  description,
});

/** The unattached migration of vol-…0001 (gp3, 100 GiB, 3000 IOPS, 125 MiB/s) as proposed, with the read before and after every call. */
function unattachedMigration(kmsKeyId?: string): Plan {
  const source = [{ Key: 'remediation:source-volume', Value: VOLUME }];
  const snapshot = ref(`snapshot-${VOLUME}.SnapshotId`);
  const copy = ref(`encrypted-snapshot-${VOLUME}.SnapshotId`);
  const newVolume = ref(`encrypted-volume-${VOLUME}.VolumeId`);
  const superseded = read(
    'DescribeVolumes',
    'supersededTag',
    { VolumeIds: [VOLUME], Filters: [{ Name: 'tag:remediation:superseded-by', Values: [newVolume] }] },
    { volume: VOLUME },
    `shows ${VOLUME} tagged remediation:superseded-by with the encrypted volume's id`,
  );
  return [
    {
      service: 'ec2',
      operation: 'CreateSnapshot',
      id: `snapshot-${VOLUME}`,
      input: {
        VolumeId: VOLUME,
        Description: `Unencrypted source of the encrypted copy of ${VOLUME}`,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: source }],
      },
      reason: `Snapshot ${VOLUME}. The snapshot is kept, never deleted by the bot.`,
      precondition: read('DescribeVolumes', 'sourceVolume', { VolumeIds: [VOLUME] }, { volume: VOLUME, attachments: [] }, `shows ${VOLUME} still unencrypted and unattached`),
      verification: read(
        'DescribeSnapshots',
        'createdSnapshot',
        { SnapshotIds: [snapshot] },
        { what: `snapshot of ${VOLUME}`, encrypted: false, volumeId: VOLUME },
        `shows the new snapshot of ${VOLUME}`,
      ),
    },
    {
      service: 'ec2',
      operation: 'waitUntilSnapshotCompleted',
      kind: 'wait',
      input: { SnapshotIds: [snapshot] },
      reason: 'Wait until the snapshots are completed (minutes to hours, depending on the data written).',
    },
    {
      service: 'ec2',
      operation: 'CopySnapshot',
      id: `encrypted-snapshot-${VOLUME}`,
      input: {
        SourceRegion: 'us-east-1',
        SourceSnapshotId: snapshot,
        Encrypted: true,
        ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}),
        Description: `Encrypted copy of ${VOLUME}`,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: source }],
      },
      reason: `Copy the snapshot of ${VOLUME} encrypted with ${kmsKeyId ?? "the account's default EBS KMS key"}.`,
      precondition: read(
        'DescribeSnapshots',
        'sourceSnapshot',
        { SnapshotIds: [snapshot] },
        { what: `snapshot of ${VOLUME}`, encrypted: false, volumeId: VOLUME },
        `shows the snapshot of ${VOLUME} completed`,
      ),
      verification: read(
        'DescribeSnapshots',
        'createdSnapshot',
        { SnapshotIds: [copy] },
        { what: `encrypted copy of ${VOLUME}`, encrypted: true },
        `shows the encrypted copy of ${VOLUME}`,
      ),
    },
    {
      service: 'ec2',
      operation: 'waitUntilSnapshotCompleted',
      kind: 'wait',
      input: { SnapshotIds: [copy] },
      reason: 'Wait until the encrypted copies are completed.',
    },
    {
      service: 'ec2',
      operation: 'CreateVolume',
      id: `encrypted-volume-${VOLUME}`,
      input: {
        AvailabilityZone: 'us-east-1a',
        SnapshotId: copy,
        VolumeType: 'gp3',
        Size: 100,
        Iops: 3000,
        Throughput: 125,
        Encrypted: true,
        TagSpecifications: [
          {
            ResourceType: 'volume',
            Tags: [
              { Key: 'Name', Value: 'training-data' },
              { Key: 'team', Value: 'ml' },
              { Key: 'remediation:replaces', Value: VOLUME },
            ],
          },
        ],
      },
      reason: `Create the encrypted replacement of ${VOLUME} in the same Availability Zone, with the same type, size, IOPS, throughput and tags.`,
      precondition: read(
        'DescribeSnapshots',
        'sourceSnapshot',
        { SnapshotIds: [copy] },
        { what: `encrypted copy of ${VOLUME}`, encrypted: true },
        `shows the encrypted copy of ${VOLUME} completed`,
      ),
      verification: read(
        'DescribeVolumes',
        'createdVolume',
        { VolumeIds: [newVolume] },
        { volume: VOLUME, availabilityZone: 'us-east-1a' },
        `shows the encrypted replacement of ${VOLUME}`,
      ),
    },
    {
      service: 'ec2',
      operation: 'waitUntilVolumeAvailable',
      kind: 'wait',
      input: { VolumeIds: [newVolume] },
      reason: 'Wait until the encrypted volumes are available.',
    },
    {
      service: 'ec2',
      operation: 'CreateTags',
      input: { Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: newVolume }] },
      reason: `Mark ${VOLUME} as superseded by its encrypted copy. Retiring it is left to a person, once the copy is proven.`,
      undo: {
        service: 'ec2',
        operation: 'DeleteTags',
        input: { Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: newVolume }] },
        reason: 'Remove the superseded marker tag (and only that tag).',
      },
      precondition: { ...superseded, description: `shows ${VOLUME} still there and not yet tagged remediation:superseded-by` },
      verification: superseded,
    },
  ];
}

describe('ebs-unencrypted-volume', () => {
  describe('evaluate CreateVolume', () => {
    it('flags a volume whose response says encrypted:false although the request did not mention encryption', () => {
      // Arrange
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `${VOLUME} created unencrypted`,
        resources: [VOLUME],
        findings: [
          {
            code: 'unencrypted-volume',
            severity: 'medium',
            message: `${VOLUME} (gp3, 100 GiB, us-east-1a) is not encrypted at rest; the request did not set encrypted and encryption by default was off.`,
            subject: VOLUME,
          },
        ],
        plan: [enableStep, tagStep(VOLUME)],
        proposal: unattachedMigration(),
      });
    });

    it('is compliant when the request omits encrypted but the response says true (encryption by default)', () => {
      expect(evaluate(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-true-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: "vol-0a1b2c3d4e5f60002 was created encrypted by the account's encryption by default (the request did not ask)",
        resources: ['vol-0a1b2c3d4e5f60002'],
      });
    });

    it('reads the genuine Cloud Custodian record: a volume restored from a snapshot, encrypted', () => {
      expect(evaluate(loadEvent('ec2/CreateVolume-c7n-genuine-from-snapshot-encrypted-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary:
          "vol-97c02b3e was created encrypted from snapshot snap-37beda4c (the snapshot's encryption or the account's encryption by default; the request did not ask)",
        resources: ['vol-97c02b3e'],
      });
    });

    it('trusts the response over the request: encrypted:true asked but false answered is a violation', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      (event.detail.requestParameters as Record<string, unknown>)['encrypted'] = true;
      expect(violation(event).findings[0]?.message).toBe(`${VOLUME} (gp3, 100 GiB, us-east-1a) is not encrypted at rest.`);
    });

    it('carries io2 IOPS, leaves throughput out, and omits a KMS key nobody configured', () => {
      const verdict = violation(loadEvent('ec2/CreateVolume-explicit-unencrypted-io2.json'));
      const create = verdict.proposal?.find((step) => step.operation === 'CreateVolume');
      expect(create?.input).toStrictEqual({
        AvailabilityZone: 'us-east-1b',
        SnapshotId: { $ref: 'encrypted-snapshot-vol-0a1b2c3d4e5f60003.SnapshotId' },
        VolumeType: 'io2',
        Size: 500,
        Iops: 16000,
        Encrypted: true,
        TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'remediation:replaces', Value: 'vol-0a1b2c3d4e5f60003' }] }],
      });
    });

    it('switches the default key and encrypts the copy with the configured KMS key', () => {
      const config = { rules: { 'ebs-unencrypted-volume': { kmsKeyId: KEY } } };
      const verdict = violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), { config });
      expect(verdict.plan).toStrictEqual([enableStep, kmsKeyStep(KEY), tagStep(VOLUME)]);
      expect(verdict.proposal).toStrictEqual(unattachedMigration(KEY));
    });

    it('restores the previous default key on undo when the lookup knows it, and checks before the change that it is still the default', () => {
      const previous = 'arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
      const facts: Facts = { ebsDefaultKmsKey: { status: 'ok', value: previous } };
      const config = { rules: { 'ebs-unencrypted-volume': { kmsKeyId: KEY } } };
      const step = violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), { facts, config }).plan[1];
      expect(step).toStrictEqual(kmsKeyStep(KEY, previous));
    });

    it('plans no ModifyEbsDefaultKmsKeyId, and looks no key up, when no key is configured', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      const config = parseConfig({}, rules);
      expect(violation(event).plan.map((step) => step.operation)).toStrictEqual(['EnableEbsEncryptionByDefault', 'CreateTags']);
      const context = { config, settings: config.rules['ebs-unencrypted-volume']?.settings, now: NOW };
      expect(lookup('ebsDefaultKmsKey').input(event, {}, context)).toBeUndefined();
      const withKey = parseConfig({ rules: { 'ebs-unencrypted-volume': { kmsKeyId: KEY } } }, rules);
      expect(lookup('ebsDefaultKmsKey').input(event, {}, { config: withKey, settings: withKey.rules['ebs-unencrypted-volume']?.settings, now: NOW })).toStrictEqual({});
    });

    it('grants ec2:ModifyEbsDefaultKmsKeyId only when kmsKeyId is set', () => {
      expect(ebsUnencryptedVolume.permissions.find((p) => p.action === 'ec2:ModifyEbsDefaultKmsKeyId')).toStrictEqual({
        action: 'ec2:ModifyEbsDefaultKmsKeyId',
        resource: '*',
        requiresSetting: 'kmsKeyId',
      });
    });

    it('proposes stop, detach, attach at the same device and start when the lookup shows the volume attached, each call read before and after', () => {
      const facts = volumeFact(sdkVolume({ Attachments: [{ InstanceId: INSTANCE, Device: '/dev/sdf', State: 'attached' }] }));
      const proposal = violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), { facts }).proposal ?? [];
      const migration = unattachedMigration();
      const newVolume = ref(`encrypted-volume-${VOLUME}.VolumeId`);
      const instance = (want: string, before: string, after: string) => ({
        precondition: read('DescribeInstances', 'instanceState', { InstanceIds: [INSTANCE] }, { instanceId: INSTANCE, want }, `shows ${INSTANCE} ${before}`),
        verification: read('DescribeInstances', 'instanceState', { InstanceIds: [INSTANCE] }, { instanceId: INSTANCE, want }, `shows ${INSTANCE} ${after}`),
      });
      const attachment = (volumeId: unknown, label: string, want: string, before: string, after: string) => ({
        precondition: read('DescribeVolumes', 'volumeAttachment', { VolumeIds: [volumeId] }, { volume: label, instanceId: INSTANCE, device: '/dev/sdf', want }, before),
        verification: read('DescribeVolumes', 'volumeAttachment', { VolumeIds: [volumeId] }, { volume: label, instanceId: INSTANCE, device: '/dev/sdf', want }, after),
      });
      const replacement = `the encrypted replacement of ${VOLUME}`;
      const snapshot = migration[0];
      expect(proposal).toStrictEqual([
        {
          service: 'ec2',
          operation: 'StopInstances',
          input: { InstanceIds: [INSTANCE] },
          reason: `Stop ${INSTANCE} so that the snapshot holds every write. The instance stays down until the encrypted volume is attached; plan the downtime.`,
          undo: { service: 'ec2', operation: 'StartInstances', input: { InstanceIds: [INSTANCE] }, reason: `Start ${INSTANCE} again.` },
          ...instance('stopped', 'still running', 'stopping or stopped'),
        },
        { service: 'ec2', operation: 'waitUntilInstanceStopped', kind: 'wait', input: { InstanceIds: [INSTANCE] }, reason: 'Wait until the instances have stopped.' },
        {
          ...snapshot,
          precondition: read(
            'DescribeVolumes',
            'sourceVolume',
            { VolumeIds: [VOLUME] },
            { volume: VOLUME, attachments: [{ instanceId: INSTANCE, device: '/dev/sdf' }] },
            `shows ${VOLUME} still unencrypted and attached to ${INSTANCE} as /dev/sdf`,
          ),
        },
        ...migration.slice(1, 6),
        {
          service: 'ec2',
          operation: 'DetachVolume',
          input: { VolumeId: VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' },
          reason: `Detach the unencrypted ${VOLUME} from ${INSTANCE} (/dev/sdf). It is kept, not deleted.`,
          undo: {
            service: 'ec2',
            operation: 'AttachVolume',
            input: { VolumeId: VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' },
            reason: 'Attach the original volume back at /dev/sdf.',
          },
          alreadyDoneCodes: ['IncorrectState'],
          ...attachment(VOLUME, VOLUME, 'detached', `shows ${VOLUME} still attached to ${INSTANCE} as /dev/sdf`, `shows ${VOLUME} detaching or detached from ${INSTANCE}`),
        },
        { service: 'ec2', operation: 'waitUntilVolumeAvailable', kind: 'wait', input: { VolumeIds: [VOLUME] }, reason: 'Wait until the original volumes are detached.' },
        {
          service: 'ec2',
          operation: 'AttachVolume',
          input: { VolumeId: newVolume, InstanceId: INSTANCE, Device: '/dev/sdf' },
          reason: `Attach the encrypted volume to ${INSTANCE} at the same device, /dev/sdf.`,
          undo: {
            service: 'ec2',
            operation: 'DetachVolume',
            input: { VolumeId: newVolume, InstanceId: INSTANCE, Device: '/dev/sdf' },
            reason: 'Detach the encrypted volume again.',
          },
          ...attachment(
            newVolume,
            replacement,
            'attached',
            `shows ${replacement} available and not attached to ${INSTANCE} as /dev/sdf yet`,
            `shows ${replacement} attaching or attached to ${INSTANCE} as /dev/sdf`,
          ),
        },
        {
          service: 'ec2',
          operation: 'StartInstances',
          input: { InstanceIds: [INSTANCE] },
          reason: `Start ${INSTANCE} again on its encrypted volumes (skip this step if it was stopped before the migration).`,
          undo: { service: 'ec2', operation: 'StopInstances', input: { InstanceIds: [INSTANCE] }, reason: `Stop ${INSTANCE} again.` },
          ...instance('running', 'still stopped', 'pending or running'),
        },
        migration[6],
      ]);
    });

    it('gives an exempt verdict from the tags requested at creation, even offline, showing what it let through', () => {
      expect(evaluate(loadEvent('ec2/CreateVolume-unencrypted-exempt-tag.json'))).toStrictEqual({
        kind: 'exempt',
        reason: 'vol-0a1b2c3d4e5f60004 is tagged remediation:exempt: throwaway benchmark volume, ticket SEC-108',
        resources: ['vol-0a1b2c3d4e5f60004'],
        findings: [
          {
            code: 'unencrypted-volume',
            severity: 'medium',
            message: 'vol-0a1b2c3d4e5f60004 (gp3, 100 GiB, us-east-1a) is not encrypted at rest; the request did not set encrypted and encryption by default was off.',
            subject: 'vol-0a1b2c3d4e5f60004',
          },
        ],
      });
    });

    it('takes current tags from the lookup over the tags at creation', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      const facts = volumeFact(sdkVolume({ Tags: [{ Key: 'secops/allow', Value: 'approved' }] }));
      const verdict = evaluate(event, { facts, config: { exemptionTagKey: 'secops/allow' } });
      expect(verdict.kind === 'exempt' && [verdict.reason, verdict.resources, verdict.findings?.map((f) => f.code)]).toStrictEqual([
        `${VOLUME} is tagged secops/allow: approved`,
        [VOLUME],
        ['unencrypted-volume'],
      ]);
    });

    it('still reports a volume deleted since the event: the containment is planned, the marker step will find it gone, and nothing is left to migrate', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      expect(evaluate(event, { facts: { volume: { status: 'ok', value: null } } })).toStrictEqual({
        kind: 'violation',
        summary: `${VOLUME} created unencrypted (since deleted)`,
        resources: [VOLUME],
        findings: [
          {
            code: 'unencrypted-volume',
            severity: 'medium',
            message: `${VOLUME} (gp3, 100 GiB, us-east-1a) was created unencrypted (the request did not set encrypted and encryption by default was off); DescribeVolumes shows it no longer exists.`,
            subject: VOLUME,
          },
        ],
        plan: [enableStep, tagStep(VOLUME)],
      });
    });

    it('cannot inspect an event that names no volume, and says so', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      delete (event.detail.responseElements as Record<string, unknown>)['volumeId'];
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no volume' });
      expect(lookup('volume').input(event)).toBeUndefined();
    });

    it('never guesses: a response without encrypted and no lookup is skipped, not compliant', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      delete (event.detail.responseElements as Record<string, unknown>)['encrypted'];
      expect(evaluate(event, { facts: { volume: { status: 'unavailable', reason: 'offline' } } })).toStrictEqual({
        kind: 'skipped',
        reason: `the event does not say whether ${VOLUME} is encrypted, and DescribeVolumes was unavailable`,
        resources: [VOLUME],
      });
      expect(evaluate(event, { facts: volumeFact(sdkVolume()) }).kind).toBe('violation');
      expect(evaluate(event, { facts: { volume: { status: 'ok', value: null } } })).toStrictEqual({
        kind: 'skipped',
        reason: `the event does not say whether ${VOLUME} is encrypted, and DescribeVolumes shows it no longer exists`,
        resources: [VOLUME],
      });
    });

    it('looks up only what an unencrypted CreateVolume needs', () => {
      const unencrypted = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      const encrypted = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-true-compliant.json');
      expect(ebsUnencryptedVolume.lookups.map((l) => l.name)).toStrictEqual(['volume', 'instanceVolumes', 'ebsDefaultKmsKey']);
      expect(lookup('volume').input(unencrypted)).toStrictEqual({ VolumeIds: [VOLUME] });
      expect(lookup('instanceVolumes').input(unencrypted)).toBeUndefined();
      for (const name of ['volume', 'ebsDefaultKmsKey', 'instanceVolumes']) expect(lookup(name).input(encrypted)).toBeUndefined();
    });
  });

  describe('evaluate RunInstances', () => {
    const event = () => loadEvent('ec2/RunInstances-unencrypted-data-volume-requested.json');
    const instanceVolumes = (volumes: Record<string, unknown>[]): Facts => ({
      instanceVolumes: { status: 'ok', value: lookup('instanceVolumes').select({ Volumes: volumes }) },
    });
    const root = {
      VolumeId: 'vol-0a1b2c3d4e5f6000a',
      AvailabilityZone: 'us-east-1b',
      Encrypted: true,
      VolumeType: 'gp3',
      Size: 30,
      Attachments: [{ InstanceId: INSTANCE, Device: '/dev/xvda', State: 'attached' }],
    };
    const data = {
      VolumeId: 'vol-0a1b2c3d4e5f6000b',
      AvailabilityZone: 'us-east-1b',
      Encrypted: false,
      VolumeType: 'gp3',
      Size: 200,
      Iops: 3000,
      Throughput: 250,
      Tags: [{ Key: 'team', Value: 'ml' }],
      Attachments: [{ InstanceId: INSTANCE, Device: '/dev/sdf', State: 'attaching' }],
    };

    it('looks the volumes up by attachment.instance-id with the launched instance ids', () => {
      expect(lookup('instanceVolumes').input(event())).toStrictEqual({ Filters: [{ Name: 'attachment.instance-id', Values: [INSTANCE] }] });
      expect(lookup('volume').input(event())).toBeUndefined();
    });

    it('flags only the unencrypted attached volume the lookup reports, and tags it', () => {
      const verdict = violation(event(), { facts: instanceVolumes([root, data]) });
      expect(verdict.summary).toBe('vol-0a1b2c3d4e5f6000b created unencrypted');
      expect(verdict.resources).toStrictEqual(['vol-0a1b2c3d4e5f6000b']);
      expect(verdict.plan).toStrictEqual([enableStep, tagStep('vol-0a1b2c3d4e5f6000b', '2025-03-04')]);
      expect(verdict.findings[0]?.message).toBe(
        'vol-0a1b2c3d4e5f6000b (gp3, 200 GiB, us-east-1b, attached to i-0a1b2c3d4e5f60001 as /dev/sdf) is not encrypted at rest.',
      );
      expect(verdict.proposal?.map((s) => s.operation)).toStrictEqual([
        'StopInstances',
        'waitUntilInstanceStopped',
        'CreateSnapshot',
        'waitUntilSnapshotCompleted',
        'CopySnapshot',
        'waitUntilSnapshotCompleted',
        'CreateVolume',
        'waitUntilVolumeAvailable',
        'DetachVolume',
        'waitUntilVolumeAvailable',
        'AttachVolume',
        'StartInstances',
        'CreateTags',
      ]);
    });

    it('is compliant when the lookup shows every attached volume encrypted', () => {
      expect(evaluate(event(), { facts: instanceVolumes([root, { ...data, Encrypted: true }]) })).toStrictEqual({
        kind: 'compliant',
        summary: `all 2 EBS volumes attached to ${INSTANCE} are encrypted`,
        resources: [INSTANCE, 'vol-0a1b2c3d4e5f6000a', 'vol-0a1b2c3d4e5f6000b'],
      });
    });

    it('skips, rather than passes, an EBS-backed instance whose volumes are not visible yet', () => {
      expect(evaluate(event(), { facts: instanceVolumes([]) })).toStrictEqual({
        kind: 'skipped',
        reason: `DescribeVolumes shows no volume attached yet to ${INSTANCE}, so their encryption cannot be confirmed`,
        resources: [INSTANCE],
      });
    });

    it('offline, reports the explicitly requested encrypted:false volume as an unconfirmed violation with placeholders', () => {
      const verdict = violation(event(), { facts: { instanceVolumes: { status: 'unavailable', reason: 'offline replay has no AWS access' } } });
      const label = `/dev/sdf on ${INSTANCE}`;
      const unknownVolume = { $unknown: `VolumeId of ${label} (DescribeVolumes was unavailable)` };
      expect(verdict.summary).toBe(`${label} requested unencrypted (unconfirmed: DescribeVolumes unavailable)`);
      expect(verdict.findings).toStrictEqual([
        {
          code: 'unencrypted-volume-requested',
          severity: 'medium',
          message: `RunInstances asked for ${label} with encrypted=false. DescribeVolumes was unavailable to confirm it: encryption by default or an encrypted snapshot would still have encrypted it.`,
          subject: label,
        },
      ]);
      // No volume id is known, so nothing is tagged: only the idempotent account setting is planned.
      expect(verdict.plan).toStrictEqual([enableStep]);
      expect(verdict.proposal?.[2]?.input).toStrictEqual({
        VolumeId: unknownVolume,
        Description: `Unencrypted source of the encrypted copy of ${label}`,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'remediation:source-volume', Value: unknownVolume }] }],
      });
      expect(verdict.proposal?.[6]?.input).toStrictEqual({
        AvailabilityZone: 'us-east-1b',
        SnapshotId: { $ref: `encrypted-snapshot-${INSTANCE}-sdf.SnapshotId` },
        VolumeType: 'gp3',
        Size: 200,
        Iops: 3000,
        Throughput: 250,
        Encrypted: true,
        TagSpecifications: [
          {
            ResourceType: 'volume',
            Tags: [
              { Key: 'team', Value: 'ml' },
              { Key: 'remediation:replaces', Value: unknownVolume },
            ],
          },
        ],
      });
    });

    it('offline, says the volumes are unknown when the event shows no unencrypted mapping: never a pass', () => {
      const verdict = evaluate(loadEvent('ec2/RunInstances-volumes-not-in-event.json'), {
        facts: { instanceVolumes: { status: 'unavailable', reason: 'offline replay has no AWS access' } },
      });
      expect(verdict).toStrictEqual({
        kind: 'skipped',
        reason:
          'the volumes of i-0a1b2c3d4e5f60002 are not in the event and DescribeVolumes is unavailable (offline replay has no AWS access); their encryption is unknown, not assumed',
        resources: ['i-0a1b2c3d4e5f60002'],
      });
    });

    it('skips a RunInstances record that names no instance', () => {
      const broken = event();
      broken.detail.responseElements = { instancesSet: {} };
      expect(evaluate(broken)).toStrictEqual({ kind: 'skipped', reason: 'the event names no launched instance' });
      expect(lookup('instanceVolumes').input(broken)).toBeUndefined();
    });
  });

  describe('settings', () => {
    it('accepts key ids, key ARNs, aliases and alias ARNs, and rejects anything else', () => {
      for (const kmsKeyId of [KEY, 'alias/ebs-data', 'arn:aws:kms:us-east-1:111122223333:alias/ebs-data', '1234abcd-12ab-34cd-56ef-1234567890ab']) {
        expect(parseConfig({ rules: { 'ebs-unencrypted-volume': { kmsKeyId } } }, rules).rules['ebs-unencrypted-volume']?.settings).toStrictEqual({ kmsKeyId });
      }
      expect(() => parseConfig({ rules: { 'ebs-unencrypted-volume': { kmsKeyId: 'my key' } } }, rules)).toThrow(ConfigError);
      expect(() => parseConfig({ rules: { 'ebs-unencrypted-volume': { kmsKey: KEY } } }, rules)).toThrow(ConfigError);
    });

    it('compares the configured key with the ARN GetEbsDefaultKmsKeyId answers', () => {
      expect(sameKmsKey(KEY, KEY)).toBe(true);
      expect(sameKmsKey(KEY, '1234abcd-12ab-34cd-56ef-1234567890ab')).toBe(true);
      expect(sameKmsKey('arn:aws:kms:us-east-1:111122223333:alias/aws/ebs', 'alias/aws/ebs')).toBe(true);
      expect(sameKmsKey(KEY, 'alias/ebs-data')).toBe(false);
    });
  });

  describe('volumesFromSdk', () => {
    it('ignores detached attachments and volumes without an id', () => {
      const volumes = volumesFromSdk({
        Volumes: [{ ...sdkVolume(), Attachments: [{ InstanceId: INSTANCE, Device: '/dev/sdf', State: 'detached' }] }, { Encrypted: false }],
      });
      expect(volumes.map((v) => [v.volumeId, v.attachments])).toStrictEqual([[VOLUME, []]]);
    });
  });

  describe('execute the containment', () => {
    interface Account {
      encryptionByDefault: boolean;
      defaultKey: string;
      /** Volume id → its tags; absent: deleted. */
      volumes: Record<string, { Key: string; Value: string }[]>;
    }

    /**
     * The account as EC2 keeps it: each write changes it, each read answers
     * from it. `tagsStick: false` models a tag that does not hold.
     */
    function account(state: Account, options: { tagsStick?: boolean } = {}): Account {
      ec2.on(GetEbsEncryptionByDefaultCommand).callsFake(() => ({ EbsEncryptionByDefault: state.encryptionByDefault, SseType: 'sse-ebs' }));
      ec2.on(EnableEbsEncryptionByDefaultCommand).callsFake(() => {
        state.encryptionByDefault = true;
        return { EbsEncryptionByDefault: true };
      });
      ec2.on(GetEbsDefaultKmsKeyIdCommand).callsFake(() => ({ KmsKeyId: state.defaultKey }));
      ec2.on(ModifyEbsDefaultKmsKeyIdCommand).callsFake((input: ModifyEbsDefaultKmsKeyIdCommandInput) => {
        state.defaultKey = String(input.KmsKeyId);
        return { KmsKeyId: state.defaultKey };
      });
      ec2.on(DescribeVolumesCommand).callsFake((input: DescribeVolumesCommandInput) => {
        const id = input.VolumeIds?.[0] ?? '';
        const tags = state.volumes[id];
        if (tags === undefined) throw new EC2ServiceException({ name: 'InvalidVolume.NotFound', $fault: 'client', $metadata: {}, message: `The volume '${id}' does not exist.` });
        return { Volumes: [{ ...sdkVolume({ VolumeId: id }), Tags: tags }] };
      });
      ec2.on(CreateTagsCommand).callsFake((input: CreateTagsCommandInput) => {
        for (const id of input.Resources ?? []) {
          const tags = state.volumes[id];
          if (tags === undefined) throw new EC2ServiceException({ name: 'InvalidVolume.NotFound', $fault: 'client', $metadata: {}, message: `The volume '${id}' does not exist.` });
          if (options.tagsStick !== false) tags.push(...(input.Tags ?? []).map((t) => ({ Key: String(t.Key), Value: String(t.Value) })));
        }
        return {};
      });
      return state;
    }

    const withKey = { rules: { 'ebs-unencrypted-volume': { kmsKeyId: KEY } } };
    const containment = (facts: Facts = {}, config: unknown = withKey) => violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), { facts, config }).plan;
    const run = (plan: Plan) => executePlan(plan, createAwsGateway(ebsCommands, { region: TEST_REGION }), { probes: ebsUnencryptedVolume.probes });
    const calls = () => ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
    const writes = () => calls().filter((name) => !/^(Describe|Get)/.test(name));
    const inputs = (command: Parameters<typeof ec2.commandCalls>[0]) => ec2.commandCalls(command).map((call) => call.args[0].input);
    const marker = { Key: 'remediation:unencrypted', Value: '2025-03-04' };

    beforeEach(() => ec2.reset());

    it('applies each step only after a read shows it needed, and is applied because a read after each shows it in place', async () => {
      // Arrange
      const state = account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY, volumes: { [VOLUME]: [{ Key: 'team', Value: 'ml' }] } });
      const plan = containment({ ebsDefaultKmsKey: { status: 'ok', value: AWS_MANAGED_KEY } });
      // Act
      const report = await run(plan);
      // Assert
      expect(report.status).toBe('applied');
      expect(calls()).toStrictEqual([
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
      expect(inputs(EnableEbsEncryptionByDefaultCommand)).toStrictEqual([{}]);
      expect(inputs(ModifyEbsDefaultKmsKeyIdCommand)).toStrictEqual([{ KmsKeyId: KEY }]);
      expect(inputs(CreateTagsCommand)).toStrictEqual([{ Resources: [VOLUME], Tags: [marker] }]);
      expect(inputs(DescribeVolumesCommand)).toStrictEqual([{ VolumeIds: [VOLUME] }, { VolumeIds: [VOLUME] }]);
      expect(report.steps.map((step) => [step.precondition?.state, step.status, step.verification?.state])).toStrictEqual([
        ['needed', 'applied', 'done'],
        ['needed', 'applied', 'done'],
        ['needed', 'applied', 'done'],
      ]);
      expect(report.steps[2]?.verification?.evidence).toBe(`${VOLUME} carries remediation:unencrypted=2025-03-04`);
      expect(state.volumes[VOLUME]).toStrictEqual([{ Key: 'team', Value: 'ml' }, marker]);
      // The undo restores the key the lookup saw before.
      expect(report.steps[1]?.step.undo?.input).toStrictEqual({ KmsKeyId: AWS_MANAGED_KEY });
    });

    it('is "already fixed", never "applied", on a re-run: every read before shows the step in place and nothing is written', async () => {
      account({ encryptionByDefault: false, defaultKey: AWS_MANAGED_KEY, volumes: { [VOLUME]: [] } });
      const first = await run(containment({ ebsDefaultKmsKey: { status: 'ok', value: AWS_MANAGED_KEY } }));
      ec2.resetHistory();
      // The second delivery's lookup sees the key the first one set.
      const second = await run(containment({ ebsDefaultKmsKey: { status: 'ok', value: KEY } }));
      expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
      expect(calls()).toStrictEqual(['GetEbsEncryptionByDefault', 'GetEbsDefaultKmsKeyId', 'DescribeVolumes']);
      expect(second.steps.map((step) => step.precondition?.evidence)).toStrictEqual([
        'encryption by default is on in us-east-1',
        `the default EBS key is ${KEY}, the configured key`,
        `${VOLUME} carries remediation:unencrypted=2025-03-04`,
      ]);
    });

    it('is "stale" and leaves the key alone when the default key changed since the plan was made (its undo would restore the wrong key)', async () => {
      const other = 'arn:aws:kms:us-east-1:111122223333:key/99999999-8888-7777-6666-555555555555';
      const state = account({ encryptionByDefault: false, defaultKey: other, volumes: { [VOLUME]: [] } });
      const report = await run(containment({ ebsDefaultKmsKey: { status: 'ok', value: AWS_MANAGED_KEY } }));
      expect(report.status).toBe('stale');
      expect(writes()).toStrictEqual(['EnableEbsEncryptionByDefault']);
      expect(report.steps.map((step) => step.status)).toStrictEqual(['applied', 'stale', 'not-run']);
      expect(report.steps[1]?.precondition).toStrictEqual({
        state: 'changed',
        evidence: `the default EBS key is now ${other}, not ${AWS_MANAGED_KEY} as when the plan was made: its undo would restore the wrong key, so ${KEY} was not set`,
      });
      expect(state.defaultKey).toBe(other);
    });

    it('is "unverified" when the read after the tag does not show it', async () => {
      account({ encryptionByDefault: true, defaultKey: AWS_MANAGED_KEY, volumes: { [VOLUME]: [] } }, { tagsStick: false });
      const report = await run(containment({}, {}));
      expect(report.status).toBe('unverified');
      expect(writes()).toStrictEqual(['CreateTags']);
      expect(report.steps[1]).toMatchObject({
        status: 'applied',
        verification: { state: 'needed', evidence: `${VOLUME} is unencrypted and not tagged remediation:unencrypted` },
      });
    });

    it('is "already fixed" with the evidence when the volume was deleted before it could be marked', async () => {
      account({ encryptionByDefault: true, defaultKey: AWS_MANAGED_KEY, volumes: {} });
      const report = await run(containment({}, {}));
      expect(report.status).toBe('already-fixed');
      expect(report.steps[1]?.precondition).toStrictEqual({ state: 'done', evidence: `${VOLUME} no longer exists: there is nothing to mark` });
      expect(writes()).toStrictEqual([]);
    });

    it('is "stale" and marks nothing when the volume reads encrypted, not as the event showed it', async () => {
      account({ encryptionByDefault: true, defaultKey: AWS_MANAGED_KEY, volumes: { [VOLUME]: [] } });
      ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: VOLUME, AvailabilityZone: 'us-east-1a', Encrypted: true, VolumeType: 'gp3', Size: 100, Tags: [] }] });
      const report = await run(containment({}, {}));
      expect(report.status).toBe('stale');
      expect(writes()).toStrictEqual([]);
    });
  });

  it('gives the same verdict when the same event is evaluated twice', () => {
    const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
    expect(evaluate(event)).toStrictEqual(evaluate(structuredClone(event)));
  });
});
