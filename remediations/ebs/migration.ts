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
 *
 * Every call step acts on one instance, volume or snapshot, and reads the
 * present just before and just after it (the probes below): an instance that
 * was terminated, a volume attached elsewhere or already encrypted, a
 * snapshot gone, stops the migration as stale before anything is written on
 * a wrong assumption; and what a step created is read back by the id it
 * returned (`$ref`). Waits stay waits: they change nothing.
 */
import {
  AttachVolumeCommand,
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  VolumeType,
  waitUntilInstanceStopped,
  waitUntilSnapshotCompleted,
  waitUntilVolumeAvailable,
  type CreateVolumeCommandInput,
} from '@aws-sdk/client-ec2';
import { field, stringField } from '../../engine/event.js';
import type { Tags } from '../../engine/exemption.js';
import { stepOutput, unknownValue, type Plan, type PlanStep, type StepOutputRef, type UnknownValue } from '../../engine/types.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { defineAction, defineProbe, defineProposedWrite, defineUndo, defineWaiter, type Placeheld } from '../../rulekit/index.js';
import type { VolumeAttachment, VolumeFacts } from './volumes.js';

/** The tag the containment plan puts on an unencrypted volume; not copied to the encrypted volume. */
export const UNENCRYPTED_TAG_KEY = 'remediation:unencrypted';
const SUPERSEDED_TAG_KEY = 'remediation:superseded-by';
const REPLACES_TAG_KEY = 'remediation:replaces';
const SOURCE_VOLUME_TAG_KEY = 'remediation:source-volume';

interface MigrationOptions {
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

const VOLUME_TYPES: ReadonlySet<string> = new Set(Object.values(VolumeType));

function isVolumeType(type: string): type is VolumeType {
  return VOLUME_TYPES.has(type);
}

/** The volume's type as `CreateVolume` takes it: one the SDK names, else a placeholder a person fills in. */
function creatableType(volume: VolumeFacts): VolumeType | UnknownValue {
  const type = volume.volumeType;
  if (typeof type !== 'string' || isVolumeType(type)) return type;
  return unknownValue(`volume type of ${volume.label} (read as ${type}, which CreateVolume does not list)`);
}

function createVolumeInput(volume: VolumeFacts): Placeheld<CreateVolumeCommandInput> {
  const type = volume.volumeType;
  const provisioned = typeof type === 'string' && PROVISIONED_IOPS_TYPES.has(type);
  return {
    AvailabilityZone: volume.availabilityZone,
    SnapshotId: stepOutput(copyStep(volume), 'SnapshotId'),
    VolumeType: creatableType(volume),
    ...(volume.size !== undefined ? { Size: volume.size } : {}),
    ...(provisioned && volume.iops !== undefined ? { Iops: volume.iops } : {}),
    ...(type === 'gp3' && volume.throughput !== undefined ? { Throughput: volume.throughput } : {}),
    ...(volume.multiAttachEnabled === true ? { MultiAttachEnabled: true } : {}),
    Encrypted: true,
    TagSpecifications: tagSpecification('volume', [...carriedTags(volume.tags), { Key: REPLACES_TAG_KEY, Value: volume.volumeId }]),
  };
}

const INSTANCE_NOT_FOUND = ['InvalidInstanceID.NotFound'];
const VOLUME_NOT_FOUND = ['InvalidVolume.NotFound'];
const SNAPSHOT_NOT_FOUND = ['InvalidSnapshot.NotFound'];

function firstOf(output: unknown, list: string): unknown {
  const entries = field(output, list);
  return Array.isArray(entries) ? entries[0] : undefined;
}

/**
 * One instance's state (`DescribeInstances`) against what a stop
 * (`expect.want: 'stopped'`) or start (`'running'`) step needs. Gone,
 * terminated or otherwise out of reach is `changed`: the migration stops there.
 */
const instanceStateProbe = defineProbe(ec2, DescribeInstancesCommand, {
  name: 'instanceState',
  notFoundCodes: INSTANCE_NOT_FOUND,
  judge(output, expected) {
    const id = String(expected['instanceId']);
    const reservations = field(output, 'Reservations');
    const instance = (Array.isArray(reservations) ? reservations : [])
      .flatMap((reservation) => (Array.isArray(field(reservation, 'Instances')) ? (field(reservation, 'Instances') as unknown[]) : []))
      .find((candidate) => field(candidate, 'InstanceId') === id);
    if (instance === undefined) return { state: 'changed', evidence: `${id} no longer exists` };
    const state = stringField(instance, 'State', 'Name');
    if (state === undefined) throw new Error(`the answer gives no state for ${id}`);
    if (expected['want'] === 'stopped') {
      if (state === 'stopping' || state === 'stopped') return { state: 'done', evidence: `${id} is ${state}` };
      if (state === 'pending' || state === 'running') return { state: 'needed', evidence: `${id} is ${state}` };
      return { state: 'changed', evidence: `${id} is ${state}: there is nothing to stop and migrate` };
    }
    if (state === 'pending' || state === 'running') return { state: 'done', evidence: `${id} is ${state}` };
    if (state === 'stopped') return { state: 'needed', evidence: `${id} is stopped` };
    return { state: 'changed', evidence: `${id} is ${state}, not stopped as the migration left it` };
  },
});

interface LiveAttachment {
  readonly instanceId: string;
  readonly device: string;
  readonly state: string;
}

/** A volume's attachments as `DescribeVolumes` answers them, without those already detached. */
function liveAttachments(volume: unknown): LiveAttachment[] {
  const list = field(volume, 'Attachments');
  return (Array.isArray(list) ? list : []).flatMap((attachment) => {
    const instanceId = stringField(attachment, 'InstanceId');
    const device = stringField(attachment, 'Device');
    const state = stringField(attachment, 'State') ?? 'attached';
    return instanceId && device && state !== 'detached' ? [{ instanceId, device, state }] : [];
  });
}

function describeAttachments(attachments: readonly VolumeAttachment[]): string {
  return attachments.length === 0 ? 'unattached' : `attached to ${attachments.map((a) => `${a.instanceId} as ${a.device}`).join(' and ')}`;
}

function sameAttachments(now: readonly VolumeAttachment[], planned: readonly VolumeAttachment[]): boolean {
  const key = (a: VolumeAttachment) => `${a.instanceId} ${a.device}`;
  const left = new Set(now.map(key));
  return left.size === planned.length && planned.every((a) => left.has(key(a)));
}

function plannedAttachments(expected: Readonly<Record<string, unknown>>): VolumeAttachment[] {
  const list = expected['attachments'];
  return (Array.isArray(list) ? list : []).flatMap((a) => {
    const instanceId = stringField(a, 'instanceId');
    const device = stringField(a, 'device');
    return instanceId && device ? [{ instanceId, device }] : [];
  });
}

/**
 * The volume to migrate, before it is snapshotted: still there, still
 * unencrypted and attached exactly where the plan says (`expect.attachments`;
 * an unattached plan must not snapshot a volume in use without stopping its instance).
 */
const sourceVolumeProbe = defineProbe(ec2, DescribeVolumesCommand, {
  name: 'sourceVolume',
  notFoundCodes: VOLUME_NOT_FOUND,
  judge(output, expected) {
    const label = String(expected['volume']);
    const volume = output === null ? undefined : firstOf(output, 'Volumes');
    if (volume === undefined) return { state: 'changed', evidence: `${label} no longer exists: there is nothing to migrate` };
    if (field(volume, 'Encrypted') === true) return { state: 'changed', evidence: `${label} is encrypted: there is nothing to migrate` };
    if (field(volume, 'Encrypted') !== false) throw new Error(`the answer does not say whether ${label} is encrypted`);
    const now = liveAttachments(volume);
    const planned = plannedAttachments(expected);
    if (!sameAttachments(now, planned)) {
      return { state: 'changed', evidence: `${label} is now ${describeAttachments(now)}, not ${describeAttachments(planned)} as the migration was planned` };
    }
    return { state: 'needed', evidence: `${label} is still unencrypted and ${describeAttachments(now)}` };
  },
});

function describeSnapshot(snapshot: unknown): string {
  const progress = stringField(snapshot, 'Progress');
  const state = stringField(snapshot, 'State') ?? 'in an unknown state';
  return `${stringField(snapshot, 'SnapshotId') ?? 'the snapshot'} (${state}${progress && state !== 'completed' ? `, ${progress}` : ''}, ${field(snapshot, 'Encrypted') === true ? 'encrypted' : 'unencrypted'})`;
}

/** Whether a snapshot is what the plan made it: encrypted or not, and of the source volume (`expect.volumeId`) where that is known. */
function snapshotMismatch(snapshot: unknown, expected: Readonly<Record<string, unknown>>): string | undefined {
  const encrypted = field(snapshot, 'Encrypted') === true;
  if (encrypted !== expected['encrypted']) return `${describeSnapshot(snapshot)} is ${encrypted ? '' : 'not '}encrypted`;
  const volumeId = expected['volumeId'];
  if (typeof volumeId === 'string' && field(snapshot, 'VolumeId') !== volumeId) {
    return `${describeSnapshot(snapshot)} is a snapshot of ${String(field(snapshot, 'VolumeId'))}, not of ${volumeId}`;
  }
  return undefined;
}

/**
 * A snapshot the migration created, read by the id its step returned: there,
 * not failed, and encrypted (the copy) or of the source volume (the first
 * snapshot). EC2 is eventually consistent: a snapshot not visible yet is not
 * verified, and the alert says so.
 */
const createdSnapshotProbe = defineProbe(ec2, DescribeSnapshotsCommand, {
  name: 'createdSnapshot',
  notFoundCodes: SNAPSHOT_NOT_FOUND,
  judge(output, expected) {
    const snapshot = output === null ? undefined : firstOf(output, 'Snapshots');
    if (snapshot === undefined) return { state: 'needed', evidence: `the new ${String(expected['what'])} is not visible (yet)` };
    if (field(snapshot, 'State') === 'error') return { state: 'changed', evidence: `${describeSnapshot(snapshot)} failed` };
    const mismatch = snapshotMismatch(snapshot, expected);
    return mismatch ? { state: 'changed', evidence: mismatch } : { state: 'done', evidence: `${describeSnapshot(snapshot)} exists` };
  },
});

/** A snapshot the next step builds on (the source of the copy, the copy behind the new volume): still there and completed. */
const sourceSnapshotProbe = defineProbe(ec2, DescribeSnapshotsCommand, {
  name: 'sourceSnapshot',
  notFoundCodes: SNAPSHOT_NOT_FOUND,
  judge(output, expected) {
    const snapshot = output === null ? undefined : firstOf(output, 'Snapshots');
    if (snapshot === undefined) return { state: 'changed', evidence: `the ${String(expected['what'])} no longer exists` };
    if (field(snapshot, 'State') !== 'completed') return { state: 'changed', evidence: `${describeSnapshot(snapshot)} is not completed` };
    const mismatch = snapshotMismatch(snapshot, expected);
    return mismatch ? { state: 'changed', evidence: mismatch } : { state: 'needed', evidence: `${describeSnapshot(snapshot)} is ready to build on` };
  },
});

/** The encrypted volume the migration created, read by the id `CreateVolume` returned: there, encrypted, in the planned Availability Zone. */
const createdVolumeProbe = defineProbe(ec2, DescribeVolumesCommand, {
  name: 'createdVolume',
  notFoundCodes: VOLUME_NOT_FOUND,
  judge(output, expected) {
    const volume = output === null ? undefined : firstOf(output, 'Volumes');
    if (volume === undefined) return { state: 'needed', evidence: `the encrypted replacement of ${String(expected['volume'])} is not visible (yet)` };
    const id = stringField(volume, 'VolumeId') ?? 'the new volume';
    const state = stringField(volume, 'State') ?? 'in an unknown state';
    if (state === 'error') return { state: 'changed', evidence: `${id} is in state error` };
    if (field(volume, 'Encrypted') !== true) return { state: 'changed', evidence: `${id} is not encrypted` };
    const zone = expected['availabilityZone'];
    if (typeof zone === 'string' && field(volume, 'AvailabilityZone') !== zone) {
      return { state: 'changed', evidence: `${id} is in ${String(field(volume, 'AvailabilityZone'))}, not ${zone}` };
    }
    return { state: 'done', evidence: `${id} exists (${state}), encrypted${typeof zone === 'string' ? `, in ${zone}` : ''}` };
  },
});

/**
 * One volume's attachment to one instance at one device, against what a
 * detach (`expect.want: 'detached'`) or attach (`'attached'`) step needs.
 * Attached somewhere the plan does not say is `changed`.
 */
const volumeAttachmentProbe = defineProbe(ec2, DescribeVolumesCommand, {
  name: 'volumeAttachment',
  notFoundCodes: VOLUME_NOT_FOUND,
  judge(output, expected) {
    const instanceId = String(expected['instanceId']);
    const device = String(expected['device']);
    const volume = output === null ? undefined : firstOf(output, 'Volumes');
    if (volume === undefined) return { state: 'changed', evidence: `${String(expected['volume'])} no longer exists` };
    const id = stringField(volume, 'VolumeId') ?? String(expected['volume']);
    const attachments = liveAttachments(volume);
    const here = attachments.find((a) => a.instanceId === instanceId && a.device === device);
    const elsewhere = attachments.filter((a) => a !== here);
    const where = `${instanceId} as ${device}`;
    if (expected['want'] === 'detached') {
      if (here && here.state !== 'detaching') return { state: 'needed', evidence: `${id} is still ${here.state} to ${where}` };
      if (here) return { state: 'done', evidence: `${id} is detaching from ${where}` };
      if (elsewhere.length > 0) return { state: 'changed', evidence: `${id} is now ${describeAttachments(elsewhere)}, not to ${where} as planned` };
      return { state: 'done', evidence: `${id} is not attached to ${instanceId} (${stringField(volume, 'State') ?? 'state unknown'})` };
    }
    if (here && here.state !== 'detaching') return { state: 'done', evidence: `${id} is ${here.state} to ${where}` };
    if (here || elsewhere.length > 0) return { state: 'changed', evidence: `${id} is ${describeAttachments(attachments)}, not free to attach to ${where}` };
    const state = stringField(volume, 'State');
    if (state === 'available') return { state: 'needed', evidence: `${id} is available, not attached to ${where} yet` };
    return { state: 'changed', evidence: `${id} is ${state ?? 'in an unknown state'}, not available to attach` };
  },
});

/**
 * Whether the original volume carries `remediation:superseded-by` with the
 * new volume's id: the read filters on that tag value (a `$ref`), so an empty
 * answer means the tag is not there (yet); a volume gone is `changed`.
 */
const supersededTagProbe = defineProbe(ec2, DescribeVolumesCommand, {
  name: 'supersededTag',
  notFoundCodes: VOLUME_NOT_FOUND,
  judge(output, expected) {
    const label = String(expected['volume']);
    if (output === null) return { state: 'changed', evidence: `${label} no longer exists` };
    const volume = firstOf(output, 'Volumes');
    if (volume === undefined) return { state: 'needed', evidence: `${label} does not carry ${SUPERSEDED_TAG_KEY} with the encrypted volume's id` };
    const tags = field(volume, 'Tags');
    const value = (Array.isArray(tags) ? tags : []).find((tag) => field(tag, 'Key') === SUPERSEDED_TAG_KEY);
    return { state: 'done', evidence: `${label} carries ${SUPERSEDED_TAG_KEY}=${String(field(value, 'Value') ?? '(the encrypted volume)')}` };
  },
});

/** Every read the migration's steps make, for the rule's `probes`. */
export const migrationProbes = [
  instanceStateProbe,
  sourceVolumeProbe,
  createdSnapshotProbe,
  sourceSnapshotProbe,
  createdVolumeProbe,
  volumeAttachmentProbe,
  supersededTagProbe,
];

/** Marks a volume: the containment's marker (granted, on volumes) and the migration's superseded tag. */
export const tagVolume = defineAction(ec2, CreateTagsCommand);
/** Removes only the marker a step added: the undo of both tags. */
export const untagVolume = defineUndo(ec2, DeleteTagsCommand);

const stopInstances = defineProposedWrite(ec2, StopInstancesCommand);
const startInstances = defineProposedWrite(ec2, StartInstancesCommand);
const createSnapshot = defineProposedWrite(ec2, CreateSnapshotCommand);
const copySnapshot = defineProposedWrite(ec2, CopySnapshotCommand);
const createVolume = defineProposedWrite(ec2, CreateVolumeCommand);
const detachVolume = defineProposedWrite(ec2, DetachVolumeCommand);
const attachVolume = defineProposedWrite(ec2, AttachVolumeCommand);

/** The migration's writes and undo steps, which a person runs (an approved proposal, `remediate undo`): for the rule's `proposals`, never granted. */
export const migrationWrites = [stopInstances, startInstances, createSnapshot, copySnapshot, createVolume, detachVolume, attachVolume, untagVolume];

const untilInstancesStopped = defineWaiter(ec2, 'waitUntilInstanceStopped', waitUntilInstanceStopped);
const untilSnapshotsCompleted = defineWaiter(ec2, 'waitUntilSnapshotCompleted', waitUntilSnapshotCompleted);
const untilVolumesAvailable = defineWaiter(ec2, 'waitUntilVolumeAvailable', waitUntilVolumeAvailable);

/** Every wait the migration makes, for the rule's `waiters`. */
export const migrationWaiters = [untilInstancesStopped, untilSnapshotsCompleted, untilVolumesAvailable];

function instanceChecks(instanceId: string, want: 'stopped' | 'running'): Pick<PlanStep, 'precondition' | 'verification'> {
  const input = { InstanceIds: [instanceId] };
  const expected = { instanceId, want };
  const before = want === 'stopped' ? 'still running' : 'still stopped';
  const after = want === 'stopped' ? 'stopping or stopped' : 'pending or running';
  return {
    precondition: instanceStateProbe.check(input, expected, `shows ${instanceId} ${before}`),
    verification: instanceStateProbe.check(input, expected, `shows ${instanceId} ${after}`),
  };
}

function attachmentChecks(volumeId: Value, label: string, attachment: VolumeAttachment, want: 'attached' | 'detached'): Pick<PlanStep, 'precondition' | 'verification'> {
  const input = { VolumeIds: [volumeId] };
  const expected = { volume: label, instanceId: attachment.instanceId, device: attachment.device, want };
  const where = `${attachment.instanceId} as ${attachment.device}`;
  return want === 'detached'
    ? {
        precondition: volumeAttachmentProbe.check(input, expected, `shows ${label} still attached to ${where}`),
        verification: volumeAttachmentProbe.check(input, expected, `shows ${label} detaching or detached from ${attachment.instanceId}`),
      }
    : {
        precondition: volumeAttachmentProbe.check(input, expected, `shows ${label} available and not attached to ${where} yet`),
        verification: volumeAttachmentProbe.check(input, expected, `shows ${label} attaching or attached to ${where}`),
      };
}

/** The whole migration of `volumes`, in phases so that snapshots and copies of several volumes progress together. */
export function planMigration(volumes: readonly VolumeFacts[], options: MigrationOptions): Plan {
  if (volumes.length === 0) return [];
  const attached = volumes.filter((v) => (v.attachments ?? []).length > 0);
  const instanceIds = [...new Set(attached.flatMap((v) => (v.attachments ?? []).map((a) => a.instanceId)))];
  const steps: PlanStep[] = [];
  const knownId = (volume: VolumeFacts) => (typeof volume.volumeId === 'string' ? { volumeId: volume.volumeId } : {});

  if (instanceIds.length > 0) {
    for (const instanceId of instanceIds) {
      steps.push(
        stopInstances.step(
          { InstanceIds: [instanceId] },
          {
            reason: `Stop ${instanceId} so that the snapshot holds every write. The instance stays down until the encrypted volume is attached; plan the downtime.`,
            undo: startInstances.undo({ InstanceIds: [instanceId] }, `Start ${instanceId} again.`),
            ...instanceChecks(instanceId, 'stopped'),
          },
        ),
      );
    }
    steps.push(untilInstancesStopped.step({ InstanceIds: instanceIds }, { reason: 'Wait until the instances have stopped.' }));
  }

  for (const volume of volumes) {
    const planned = (volume.attachments ?? []).map(({ instanceId, device }) => ({ instanceId, device }));
    steps.push(
      createSnapshot.step(
        {
          VolumeId: volume.volumeId,
          Description: `Unencrypted source of the encrypted copy of ${volume.label}`,
          TagSpecifications: tagSpecification('snapshot', [{ Key: SOURCE_VOLUME_TAG_KEY, Value: volume.volumeId }]),
        },
        {
          id: snapshotStep(volume),
          reason: `Snapshot ${volume.label}. The snapshot is kept, never deleted by the bot.`,
          precondition: sourceVolumeProbe.check({ VolumeIds: [volume.volumeId] },
            { volume: volume.label, attachments: planned },
            `shows ${volume.label} still unencrypted and ${describeAttachments(planned)}`,
          ),
          verification: createdSnapshotProbe.check({ SnapshotIds: [stepOutput(snapshotStep(volume), 'SnapshotId')] },
            { what: `snapshot of ${volume.label}`, encrypted: false, ...knownId(volume) },
            `shows the new snapshot of ${volume.label}`,
          ),
        },
      ),
    );
  }
  steps.push(
    untilSnapshotsCompleted.step(
      { SnapshotIds: volumes.map((v) => stepOutput(snapshotStep(v), 'SnapshotId')) },
      { reason: 'Wait until the snapshots are completed (minutes to hours, depending on the data written).' },
    ),
  );

  for (const volume of volumes) {
    steps.push(
      copySnapshot.step(
        {
          SourceRegion: options.region,
          SourceSnapshotId: stepOutput(snapshotStep(volume), 'SnapshotId'),
          Encrypted: true,
          ...(options.kmsKeyId ? { KmsKeyId: options.kmsKeyId } : {}),
          Description: `Encrypted copy of ${volume.label}`,
          TagSpecifications: tagSpecification('snapshot', [{ Key: SOURCE_VOLUME_TAG_KEY, Value: volume.volumeId }]),
        },
        {
          id: copyStep(volume),
          reason: `Copy the snapshot of ${volume.label} encrypted with ${options.kmsKeyId ?? "the account's default EBS KMS key"}.`,
          precondition: sourceSnapshotProbe.check({ SnapshotIds: [stepOutput(snapshotStep(volume), 'SnapshotId')] },
            { what: `snapshot of ${volume.label}`, encrypted: false, ...knownId(volume) },
            `shows the snapshot of ${volume.label} completed`,
          ),
          verification: createdSnapshotProbe.check({ SnapshotIds: [stepOutput(copyStep(volume), 'SnapshotId')] },
            { what: `encrypted copy of ${volume.label}`, encrypted: true },
            `shows the encrypted copy of ${volume.label}`,
          ),
        },
      ),
    );
  }
  steps.push(
    untilSnapshotsCompleted.step({ SnapshotIds: volumes.map((v) => stepOutput(copyStep(v), 'SnapshotId')) }, { reason: 'Wait until the encrypted copies are completed.' }),
  );

  for (const volume of volumes) {
    steps.push(
      createVolume.step(createVolumeInput(volume), {
        id: newVolumeStep(volume),
        reason: `Create the encrypted replacement of ${volume.label} in the same Availability Zone, with the same type, size, IOPS, throughput and tags.`,
        precondition: sourceSnapshotProbe.check({ SnapshotIds: [stepOutput(copyStep(volume), 'SnapshotId')] },
          { what: `encrypted copy of ${volume.label}`, encrypted: true },
          `shows the encrypted copy of ${volume.label} completed`,
        ),
        verification: createdVolumeProbe.check({ VolumeIds: [stepOutput(newVolumeStep(volume), 'VolumeId')] },
          { volume: volume.label, ...(typeof volume.availabilityZone === 'string' ? { availabilityZone: volume.availabilityZone } : {}) },
          `shows the encrypted replacement of ${volume.label}`,
        ),
      }),
    );
  }
  steps.push(
    untilVolumesAvailable.step({ VolumeIds: volumes.map((v) => stepOutput(newVolumeStep(v), 'VolumeId')) }, { reason: 'Wait until the encrypted volumes are available.' }),
  );

  if (attached.length > 0) {
    for (const volume of attached) {
      for (const attachment of volume.attachments ?? []) {
        const { instanceId, device } = attachment;
        const input = { VolumeId: volume.volumeId, InstanceId: instanceId, Device: device };
        steps.push(
          detachVolume.step(input, {
            reason: `Detach the unencrypted ${volume.label} from ${instanceId} (${device}). It is kept, not deleted.`,
            undo: attachVolume.undo(input, `Attach the original volume back at ${device}.`),
            // Detaching a volume that is already detached answers IncorrectState ("… is in the 'available' state"); the read after decides.
            alreadyDoneCodes: ['IncorrectState'],
            ...attachmentChecks(volume.volumeId, volume.label, attachment, 'detached'),
          }),
        );
      }
    }
    steps.push(untilVolumesAvailable.step({ VolumeIds: attached.map((v) => v.volumeId) }, { reason: 'Wait until the original volumes are detached.' }));
    for (const volume of attached) {
      for (const attachment of volume.attachments ?? []) {
        const { instanceId, device } = attachment;
        const newVolume = stepOutput(newVolumeStep(volume), 'VolumeId');
        const input = { VolumeId: newVolume, InstanceId: instanceId, Device: device };
        steps.push(
          attachVolume.step(input, {
            reason: `Attach the encrypted volume to ${instanceId} at the same device, ${device}.`,
            undo: detachVolume.undo(input, 'Detach the encrypted volume again.'),
            ...attachmentChecks(newVolume, `the encrypted replacement of ${volume.label}`, attachment, 'attached'),
          }),
        );
      }
    }
    for (const instanceId of instanceIds) {
      steps.push(
        startInstances.step(
          { InstanceIds: [instanceId] },
          {
            reason: `Start ${instanceId} again on its encrypted volumes (skip this step if it was stopped before the migration).`,
            undo: stopInstances.undo({ InstanceIds: [instanceId] }, `Stop ${instanceId} again.`),
            ...instanceChecks(instanceId, 'running'),
          },
        ),
      );
    }
  }

  for (const volume of volumes) {
    const newVolume = stepOutput(newVolumeStep(volume), 'VolumeId');
    const input = { Resources: [volume.volumeId], Tags: [{ Key: SUPERSEDED_TAG_KEY, Value: newVolume }] };
    const check = supersededTagProbe.check({ VolumeIds: [volume.volumeId], Filters: [{ Name: `tag:${SUPERSEDED_TAG_KEY}`, Values: [newVolume] }] },
      { volume: volume.label },
      `shows ${volume.label} tagged ${SUPERSEDED_TAG_KEY} with the encrypted volume's id`,
    );
    steps.push(
      tagVolume.step(input, {
        reason: `Mark ${volume.label} as superseded by its encrypted copy. Retiring it is left to a person, once the copy is proven.`,
        undo: untagVolume.undo(input, 'Remove the superseded marker tag (and only that tag).'),
        precondition: { ...check, description: `shows ${volume.label} still there and not yet tagged ${SUPERSEDED_TAG_KEY}` },
        verification: check,
      }),
    );
  }
  return steps;
}
