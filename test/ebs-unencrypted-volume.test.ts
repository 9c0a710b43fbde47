import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../engine/config.js';
import type { CloudTrailEvent } from '../engine/event.js';
import type { Facts, Plan, Verdict } from '../engine/types.js';
import { ebsUnencryptedVolume, sameKmsKey } from '../remediations/ebs/ebs-unencrypted-volume.js';
import { volumesFromSdk } from '../remediations/ebs/volumes.js';
import { loadEvent } from './helpers/fixtures.js';

const rules = [ebsUnencryptedVolume];
const NOW = new Date('2025-03-10T00:00:00Z');
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const VOLUME = 'vol-0a1b2c3d4e5f60001';
const INSTANCE = 'i-0a1b2c3d4e5f60001';

function evaluate(event: CloudTrailEvent, facts: Facts = {}, rawConfig: unknown = {}): Verdict {
  const config = parseConfig(rawConfig, rules);
  return ebsUnencryptedVolume.evaluate(event, facts, { config, settings: config.rules['ebs-unencrypted-volume']?.settings, now: NOW });
}

function violation(event: CloudTrailEvent, facts: Facts = {}, rawConfig: unknown = {}): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event, facts, rawConfig);
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

const enableStep = {
  service: 'ec2',
  operation: 'EnableEbsEncryptionByDefault',
  input: {},
  reason: 'Turn on EBS encryption by default in us-east-1, so that no further volume is created unencrypted. Existing volumes are not changed.',
  undo: { service: 'ec2', operation: 'DisableEbsEncryptionByDefault', input: {}, reason: 'Turn encryption by default off again.' },
};

function tagStep(ids: string[], date = '2025-03-04') {
  const input = { Resources: ids, Tags: [{ Key: 'remediation:unencrypted', Value: date }] };
  return {
    service: 'ec2',
    operation: 'CreateTags',
    input,
    reason: `Mark ${ids.join(', ')} as unencrypted since ${date}, so the volume can be found and migrated.`,
    undo: { service: 'ec2', operation: 'DeleteTags', input, reason: 'Remove the marker tag (only if it still has this value).' },
  };
}

/** The unattached migration of vol-…0001 (gp3, 100 GiB, 3000 IOPS, 125 MiB/s) as proposed. */
function unattachedMigration(kmsKeyId?: string): Plan {
  const source = [{ Key: 'remediation:source-volume', Value: VOLUME }];
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
    },
    {
      service: 'ec2',
      operation: 'waitUntilSnapshotCompleted',
      kind: 'wait',
      input: { SnapshotIds: [{ $ref: `snapshot-${VOLUME}.SnapshotId` }] },
      reason: 'Wait until the snapshots are completed (minutes to hours, depending on the data written).',
    },
    {
      service: 'ec2',
      operation: 'CopySnapshot',
      id: `encrypted-snapshot-${VOLUME}`,
      input: {
        SourceRegion: 'us-east-1',
        SourceSnapshotId: { $ref: `snapshot-${VOLUME}.SnapshotId` },
        Encrypted: true,
        ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}),
        Description: `Encrypted copy of ${VOLUME}`,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: source }],
      },
      reason: `Copy the snapshot of ${VOLUME} encrypted with ${kmsKeyId ?? "the account's default EBS KMS key"}.`,
    },
    {
      service: 'ec2',
      operation: 'waitUntilSnapshotCompleted',
      kind: 'wait',
      input: { SnapshotIds: [{ $ref: `encrypted-snapshot-${VOLUME}.SnapshotId` }] },
      reason: 'Wait until the encrypted copies are completed.',
    },
    {
      service: 'ec2',
      operation: 'CreateVolume',
      id: `encrypted-volume-${VOLUME}`,
      input: {
        AvailabilityZone: 'us-east-1a',
        SnapshotId: { $ref: `encrypted-snapshot-${VOLUME}.SnapshotId` },
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
    },
    {
      service: 'ec2',
      operation: 'waitUntilVolumeAvailable',
      kind: 'wait',
      input: { VolumeIds: [{ $ref: `encrypted-volume-${VOLUME}.VolumeId` }] },
      reason: 'Wait until the encrypted volumes are available.',
    },
    {
      service: 'ec2',
      operation: 'CreateTags',
      input: { Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: { $ref: `encrypted-volume-${VOLUME}.VolumeId` } }] },
      reason: `Mark ${VOLUME} as superseded by its encrypted copy. Retiring it is left to a person, once the copy is proven.`,
      undo: {
        service: 'ec2',
        operation: 'DeleteTags',
        input: { Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: { $ref: `encrypted-volume-${VOLUME}.VolumeId` } }] },
        reason: 'Remove the superseded marker tag (and only that tag).',
      },
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
        plan: [enableStep, tagStep([VOLUME])],
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
      const verdict = violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), {}, config);
      expect(verdict.plan).toStrictEqual([
        enableStep,
        {
          service: 'ec2',
          operation: 'ModifyEbsDefaultKmsKeyId',
          input: { KmsKeyId: KEY },
          reason: `Make ${KEY} the default key for EBS encryption in us-east-1, as configured.`,
          undo: {
            service: 'ec2',
            operation: 'ResetEbsDefaultKmsKeyId',
            input: {},
            reason:
              'Set the default EBS key back to the AWS managed key (alias/aws/ebs); if another key was the default before, set that one instead (it was not known when this plan was made).',
          },
        },
        tagStep([VOLUME]),
      ]);
      expect(verdict.proposal).toStrictEqual(unattachedMigration(KEY));
    });

    it('restores the previous default key on undo when the lookup knows it', () => {
      const previous = 'arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
      const facts: Facts = { ebsDefaultKmsKey: { status: 'ok', value: previous } };
      const config = { rules: { 'ebs-unencrypted-volume': { kmsKeyId: KEY } } };
      const step = violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), facts, config).plan[1];
      expect(step?.undo).toStrictEqual({
        service: 'ec2',
        operation: 'ModifyEbsDefaultKmsKeyId',
        input: { KmsKeyId: previous },
        reason: `Set the default EBS key back to ${previous}.`,
      });
      expect(step?.alreadyDone).toBeUndefined();
    });

    it('marks every containment step already done when lookups show it in place (second delivery)', () => {
      const facts: Facts = {
        ...volumeFact(sdkVolume({ Tags: [{ Key: 'remediation:unencrypted', Value: '2025-03-04' }] })),
        ebsEncryptionByDefault: { status: 'ok', value: true },
        ebsDefaultKmsKey: { status: 'ok', value: KEY },
      };
      const config = { rules: { 'ebs-unencrypted-volume': { kmsKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' } } };
      const plan = violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), facts, config).plan;
      expect(plan.map((step) => [step.operation, step.alreadyDone])).toStrictEqual([
        ['EnableEbsEncryptionByDefault', 'GetEbsEncryptionByDefault says encryption by default is already on'],
        ['ModifyEbsDefaultKmsKeyId', `GetEbsDefaultKmsKeyId says the default key is already ${KEY}`],
        ['CreateTags', `DescribeVolumes shows remediation:unencrypted already on ${VOLUME}`],
      ]);
    });

    it('proposes stop, detach, attach at the same device and start when the lookup shows the volume attached', () => {
      const facts = volumeFact(sdkVolume({ Attachments: [{ InstanceId: INSTANCE, Device: '/dev/sdf', State: 'attached' }] }));
      const proposal = violation(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), facts).proposal ?? [];
      const migration = unattachedMigration();
      const newVolume = { $ref: `encrypted-volume-${VOLUME}.VolumeId` };
      expect(proposal).toStrictEqual([
        {
          service: 'ec2',
          operation: 'StopInstances',
          input: { InstanceIds: [INSTANCE] },
          reason: `Stop ${INSTANCE} so that the snapshot holds every write. The instance stays down until the encrypted volume is attached; plan the downtime.`,
          undo: { service: 'ec2', operation: 'StartInstances', input: { InstanceIds: [INSTANCE] }, reason: 'Start the instances again.' },
        },
        { service: 'ec2', operation: 'waitUntilInstanceStopped', kind: 'wait', input: { InstanceIds: [INSTANCE] }, reason: 'Wait until the instances have stopped.' },
        ...migration.slice(0, 6),
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
        },
        {
          service: 'ec2',
          operation: 'StartInstances',
          input: { InstanceIds: [INSTANCE] },
          reason: 'Start the instances again on their encrypted volumes (skip this step for an instance that was stopped before the migration).',
          undo: { service: 'ec2', operation: 'StopInstances', input: { InstanceIds: [INSTANCE] }, reason: 'Stop the instances again.' },
        },
        migration[6],
      ]);
    });

    it('gives an exempt verdict from the tags requested at creation, even offline', () => {
      expect(evaluate(loadEvent('ec2/CreateVolume-unencrypted-exempt-tag.json'))).toStrictEqual({
        kind: 'exempt',
        reason: 'vol-0a1b2c3d4e5f60004 is tagged remediation:exempt: throwaway benchmark volume, ticket SEC-108',
        resources: ['vol-0a1b2c3d4e5f60004'],
      });
    });

    it('takes current tags from the lookup over the tags at creation', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      const facts = volumeFact(sdkVolume({ Tags: [{ Key: 'secops/allow', Value: 'approved' }] }));
      expect(evaluate(event, facts, { exemptionTagKey: 'secops/allow' })).toStrictEqual({
        kind: 'exempt',
        reason: `${VOLUME} is tagged secops/allow: approved`,
        resources: [VOLUME],
      });
    });

    it('skips a volume that no longer exists, and an event that names none', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      expect(evaluate(event, { volume: { status: 'ok', value: null } })).toStrictEqual({
        kind: 'skipped',
        reason: `volume ${VOLUME} no longer exists`,
        resources: [VOLUME],
      });
      delete (event.detail.responseElements as Record<string, unknown>)['volumeId'];
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no volume' });
      expect(lookup('volume').input(event)).toBeUndefined();
    });

    it('never guesses: a response without encrypted and no lookup is skipped, not compliant', () => {
      const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      delete (event.detail.responseElements as Record<string, unknown>)['encrypted'];
      expect(evaluate(event, { volume: { status: 'unavailable', reason: 'offline' } })).toStrictEqual({
        kind: 'skipped',
        reason: `the event does not say whether ${VOLUME} is encrypted, and DescribeVolumes was unavailable`,
        resources: [VOLUME],
      });
      expect(evaluate(event, volumeFact(sdkVolume())).kind).toBe('violation');
    });

    it('looks up only what an unencrypted CreateVolume needs', () => {
      const unencrypted = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
      const encrypted = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-true-compliant.json');
      expect(lookup('volume').input(unencrypted)).toStrictEqual({ VolumeIds: [VOLUME] });
      expect(lookup('ebsEncryptionByDefault').input(unencrypted)).toStrictEqual({});
      expect(lookup('instanceVolumes').input(unencrypted)).toBeUndefined();
      for (const name of ['volume', 'ebsEncryptionByDefault', 'ebsDefaultKmsKey', 'instanceVolumes']) expect(lookup(name).input(encrypted)).toBeUndefined();
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
      const verdict = violation(event(), instanceVolumes([root, data]));
      expect(verdict.summary).toBe('vol-0a1b2c3d4e5f6000b created unencrypted');
      expect(verdict.resources).toStrictEqual(['vol-0a1b2c3d4e5f6000b']);
      expect(verdict.plan).toStrictEqual([enableStep, tagStep(['vol-0a1b2c3d4e5f6000b'], '2025-03-04')]);
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
      expect(evaluate(event(), instanceVolumes([root, { ...data, Encrypted: true }]))).toStrictEqual({
        kind: 'compliant',
        summary: `all 2 EBS volumes attached to ${INSTANCE} are encrypted`,
        resources: [INSTANCE, 'vol-0a1b2c3d4e5f6000a', 'vol-0a1b2c3d4e5f6000b'],
      });
    });

    it('skips, rather than passes, an EBS-backed instance whose volumes are not visible yet', () => {
      expect(evaluate(event(), instanceVolumes([]))).toStrictEqual({
        kind: 'skipped',
        reason: `DescribeVolumes shows no volume attached yet to ${INSTANCE}, so their encryption cannot be confirmed`,
        resources: [INSTANCE],
      });
    });

    it('offline, reports the explicitly requested encrypted:false volume as an unconfirmed violation with placeholders', () => {
      const verdict = violation(event(), { instanceVolumes: { status: 'unavailable', reason: 'offline replay has no AWS access' } });
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
        instanceVolumes: { status: 'unavailable', reason: 'offline replay has no AWS access' },
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

  it('gives the same verdict when the same event is evaluated twice', () => {
    const event = loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json');
    expect(evaluate(event)).toStrictEqual(evaluate(structuredClone(event)));
  });
});
