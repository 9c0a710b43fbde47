/**
 * The proposed migration of unencrypted volumes to encrypted copies: a
 * complete, resumable plan a person approves and runs. It is never applied
 * automatically, and it never deletes anything: the original volume and every
 * snapshot stay, tagged, for a person to retire once the copy is proven.
 *
 * Unattached volume: snapshot → wait → encrypted copy → wait → new volume in
 * the same Availability Zone with the same type, size, IOPS, throughput and
 * tags → wait → tag the original as superseded.
 * Attached volume: the instances are stopped first, so that the snapshot holds
 * every write; after the new volume is available the original is detached and
 * the new one attached at the same device, and the instances start again.
 */
import type { Tags } from '../../engine/exemption.js';
import { stepOutput, type Plan, type PlanStep, type StepOutputRef, type UnknownValue } from '../../engine/types.js';
import type { VolumeFacts } from './volumes.js';

/** The tag the containment plan puts on an unencrypted volume; not copied to the encrypted volume. */
export const UNENCRYPTED_TAG_KEY = 'remediation:unencrypted';
export const SUPERSEDED_TAG_KEY = 'remediation:superseded-by';
export const REPLACES_TAG_KEY = 'remediation:replaces';
export const SOURCE_VOLUME_TAG_KEY = 'remediation:source-volume';

export interface MigrationOptions {
  /** Region of the volumes: `CopySnapshot` needs it as `SourceRegion`. */
  readonly region: string;
  /** KMS key of the encrypted copy; without one, the account's default EBS key. */
  readonly kmsKeyId?: string;
}

type Value = string | UnknownValue | StepOutputRef;

const snapshotStep = (volume: VolumeFacts) => `snapshot-${volume.key}`;
const copyStep = (volume: VolumeFacts) => `encrypted-snapshot-${volume.key}`;
const newVolumeStep = (volume: VolumeFacts) => `encrypted-volume-${volume.key}`;

/** Volume types whose IOPS (and, for gp3, throughput) are provisioned and so must be carried over. */
const PROVISIONED_IOPS_TYPES = new Set(['io1', 'io2', 'gp3']);

/** Tags a person set on the original, for the encrypted volume; AWS-reserved and the bot's own markers stay behind. */
function carriedTags(tags: Tags): { Key: string; Value: string }[] {
  return Object.entries(tags)
    .filter(([key]) => !key.startsWith('aws:') && key !== UNENCRYPTED_TAG_KEY && key !== SUPERSEDED_TAG_KEY)
    .map(([key, value]) => ({ Key: key, Value: value }));
}

function tagSpecification(resourceType: 'snapshot' | 'volume', tags: { Key: string; Value: Value }[]) {
  return [{ ResourceType: resourceType, Tags: tags }];
}

function createVolumeInput(volume: VolumeFacts): Record<string, unknown> {
  const type = volume.volumeType;
  const provisioned = typeof type === 'string' && PROVISIONED_IOPS_TYPES.has(type);
  return {
    AvailabilityZone: volume.availabilityZone,
    SnapshotId: stepOutput(copyStep(volume), 'SnapshotId'),
    VolumeType: type,
    ...(volume.size !== undefined ? { Size: volume.size } : {}),
    ...(provisioned && volume.iops !== undefined ? { Iops: volume.iops } : {}),
    ...(type === 'gp3' && volume.throughput !== undefined ? { Throughput: volume.throughput } : {}),
    ...(volume.multiAttachEnabled === true ? { MultiAttachEnabled: true } : {}),
    Encrypted: true,
    TagSpecifications: tagSpecification('volume', [...carriedTags(volume.tags), { Key: REPLACES_TAG_KEY, Value: volume.volumeId }]),
  };
}

/** The whole migration of `volumes`, in phases so that snapshots and copies of several volumes progress together. */
export function planMigration(volumes: readonly VolumeFacts[], options: MigrationOptions): Plan {
  if (volumes.length === 0) return [];
  const attached = volumes.filter((v) => (v.attachments ?? []).length > 0);
  const instanceIds = [...new Set(attached.flatMap((v) => (v.attachments ?? []).map((a) => a.instanceId)))];
  const steps: PlanStep[] = [];

  if (instanceIds.length > 0) {
    steps.push(
      {
        service: 'ec2',
        operation: 'StopInstances',
        input: { InstanceIds: instanceIds },
        reason: `Stop ${instanceIds.join(', ')} so that the snapshot holds every write. The instance stays down until the encrypted volume is attached; plan the downtime.`,
        undo: { service: 'ec2', operation: 'StartInstances', input: { InstanceIds: instanceIds }, reason: 'Start the instances again.' },
      },
      {
        service: 'ec2',
        operation: 'waitUntilInstanceStopped',
        kind: 'wait',
        input: { InstanceIds: instanceIds },
        reason: 'Wait until the instances have stopped.',
      },
    );
  }

  for (const volume of volumes) {
    steps.push({
      service: 'ec2',
      operation: 'CreateSnapshot',
      id: snapshotStep(volume),
      input: {
        VolumeId: volume.volumeId,
        Description: `Unencrypted source of the encrypted copy of ${volume.label}`,
        TagSpecifications: tagSpecification('snapshot', [{ Key: SOURCE_VOLUME_TAG_KEY, Value: volume.volumeId }]),
      },
      reason: `Snapshot ${volume.label}. The snapshot is kept, never deleted by the bot.`,
    });
  }
  steps.push({
    service: 'ec2',
    operation: 'waitUntilSnapshotCompleted',
    kind: 'wait',
    input: { SnapshotIds: volumes.map((v) => stepOutput(snapshotStep(v), 'SnapshotId')) },
    reason: 'Wait until the snapshots are completed (minutes to hours, depending on the data written).',
  });

  for (const volume of volumes) {
    steps.push({
      service: 'ec2',
      operation: 'CopySnapshot',
      id: copyStep(volume),
      input: {
        SourceRegion: options.region,
        SourceSnapshotId: stepOutput(snapshotStep(volume), 'SnapshotId'),
        Encrypted: true,
        ...(options.kmsKeyId ? { KmsKeyId: options.kmsKeyId } : {}),
        Description: `Encrypted copy of ${volume.label}`,
        TagSpecifications: tagSpecification('snapshot', [{ Key: SOURCE_VOLUME_TAG_KEY, Value: volume.volumeId }]),
      },
      reason: `Copy the snapshot of ${volume.label} encrypted with ${options.kmsKeyId ?? "the account's default EBS KMS key"}.`,
    });
  }
  steps.push({
    service: 'ec2',
    operation: 'waitUntilSnapshotCompleted',
    kind: 'wait',
    input: { SnapshotIds: volumes.map((v) => stepOutput(copyStep(v), 'SnapshotId')) },
    reason: 'Wait until the encrypted copies are completed.',
  });

  for (const volume of volumes) {
    steps.push({
      service: 'ec2',
      operation: 'CreateVolume',
      id: newVolumeStep(volume),
      input: createVolumeInput(volume),
      reason: `Create the encrypted replacement of ${volume.label} in the same Availability Zone, with the same type, size, IOPS, throughput and tags.`,
    });
  }
  steps.push({
    service: 'ec2',
    operation: 'waitUntilVolumeAvailable',
    kind: 'wait',
    input: { VolumeIds: volumes.map((v) => stepOutput(newVolumeStep(v), 'VolumeId')) },
    reason: 'Wait until the encrypted volumes are available.',
  });

  if (attached.length > 0) {
    for (const volume of attached) {
      for (const { instanceId, device } of volume.attachments ?? []) {
        const input = { VolumeId: volume.volumeId, InstanceId: instanceId, Device: device };
        steps.push({
          service: 'ec2',
          operation: 'DetachVolume',
          input,
          reason: `Detach the unencrypted ${volume.label} from ${instanceId} (${device}). It is kept, not deleted.`,
          undo: { service: 'ec2', operation: 'AttachVolume', input, reason: `Attach the original volume back at ${device}.` },
          // Detaching a volume that is already detached answers IncorrectState ("… is in the 'available' state").
          alreadyDoneCodes: ['IncorrectState'],
        });
      }
    }
    steps.push({
      service: 'ec2',
      operation: 'waitUntilVolumeAvailable',
      kind: 'wait',
      input: { VolumeIds: attached.map((v) => v.volumeId) },
      reason: 'Wait until the original volumes are detached.',
    });
    for (const volume of attached) {
      for (const { instanceId, device } of volume.attachments ?? []) {
        const input = { VolumeId: stepOutput(newVolumeStep(volume), 'VolumeId'), InstanceId: instanceId, Device: device };
        steps.push({
          service: 'ec2',
          operation: 'AttachVolume',
          input,
          reason: `Attach the encrypted volume to ${instanceId} at the same device, ${device}.`,
          undo: { service: 'ec2', operation: 'DetachVolume', input, reason: 'Detach the encrypted volume again.' },
        });
      }
    }
    steps.push({
      service: 'ec2',
      operation: 'StartInstances',
      input: { InstanceIds: instanceIds },
      reason: 'Start the instances again on their encrypted volumes (skip this step for an instance that was stopped before the migration).',
      undo: { service: 'ec2', operation: 'StopInstances', input: { InstanceIds: instanceIds }, reason: 'Stop the instances again.' },
    });
  }

  for (const volume of volumes) {
    const input = { Resources: [volume.volumeId], Tags: [{ Key: SUPERSEDED_TAG_KEY, Value: stepOutput(newVolumeStep(volume), 'VolumeId') }] };
    steps.push({
      service: 'ec2',
      operation: 'CreateTags',
      input,
      reason: `Mark ${volume.label} as superseded by its encrypted copy. Retiring it is left to a person, once the copy is proven.`,
      undo: { service: 'ec2', operation: 'DeleteTags', input, reason: 'Remove the superseded marker tag (and only that tag).' },
    });
  }
  return steps;
}
