/**
 * What the EBS rules know about a volume, from the best source available: a
 * `DescribeVolumes` lookup (the truth now), else the `CreateVolume` response
 * (the truth at creation), else a `RunInstances` block device mapping (only
 * what was asked for). Values nobody could know stay `UnknownValue`s, so a
 * proposal shows exactly which inputs a person must fill in.
 */
import { field, items, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { tagsFromList, type Tags } from '../../engine/exemption.js';
import { unknownValue, type UnknownValue } from '../../engine/types.js';
import { requestedTags, tagsFromEvent, text } from '../../rulekit/cloudtrail.js';

export interface VolumeAttachment {
  readonly instanceId: string;
  readonly device: string;
}

export interface VolumeFacts {
  /** `vol-…`; unknown when only a block device mapping was seen. */
  readonly volumeId: string | UnknownValue;
  /** Stable, `.`-free key for plan step ids: the volume id, or instance and device. */
  readonly key: string;
  /** How a person names it: `vol-…` or `/dev/sdb on i-…`. */
  readonly label: string;
  readonly encrypted?: boolean;
  readonly availabilityZone: string | UnknownValue;
  readonly volumeType: string | UnknownValue;
  readonly size?: number;
  readonly iops?: number;
  readonly throughput?: number;
  readonly multiAttachEnabled?: boolean;
  readonly tags: Tags;
  /** `undefined` when nobody could say (offline `CreateVolume`: it was unattached at creation). */
  readonly attachments?: readonly VolumeAttachment[];
  readonly source: 'lookup' | 'event' | 'request';
}

/** Sizes arrive as numbers or, in older records, numeric strings (`"size": "100"`). */
function integer(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= 0 ? number : undefined;
}

function bool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

/** One `Volume` of a `DescribeVolumes` answer. */
function volumeFromSdk(volume: unknown): VolumeFacts | undefined {
  const volumeId = stringField(volume, 'VolumeId');
  if (!volumeId) return undefined;
  const attachments = (Array.isArray(field(volume, 'Attachments')) ? (field(volume, 'Attachments') as unknown[]) : [])
    .map((a) => ({ instanceId: stringField(a, 'InstanceId'), device: stringField(a, 'Device'), state: stringField(a, 'State') }))
    .filter((a): a is { instanceId: string; device: string; state: string | undefined } => !!a.instanceId && !!a.device && a.state !== 'detached');
  const encrypted = bool(field(volume, 'Encrypted'));
  const size = integer(field(volume, 'Size'));
  const iops = integer(field(volume, 'Iops'));
  const throughput = integer(field(volume, 'Throughput'));
  const multiAttachEnabled = bool(field(volume, 'MultiAttachEnabled'));
  return {
    volumeId,
    key: volumeId,
    label: volumeId,
    ...(encrypted !== undefined ? { encrypted } : {}),
    availabilityZone: stringField(volume, 'AvailabilityZone') ?? unknownValue(`Availability Zone of ${volumeId}`),
    volumeType: stringField(volume, 'VolumeType') ?? unknownValue(`volume type of ${volumeId}`),
    ...(size !== undefined ? { size } : {}),
    ...(iops !== undefined ? { iops } : {}),
    ...(throughput !== undefined ? { throughput } : {}),
    ...(multiAttachEnabled !== undefined ? { multiAttachEnabled } : {}),
    tags: tagsFromList(field(volume, 'Tags')),
    attachments: attachments.map(({ instanceId, device }) => ({ instanceId, device })),
    source: 'lookup',
  };
}

export function volumesFromSdk(output: unknown): VolumeFacts[] {
  const list = field(output, 'Volumes');
  return (Array.isArray(list) ? list : []).map(volumeFromSdk).filter((v): v is VolumeFacts => v !== undefined);
}

/** The volume a `CreateVolume` call created. */
export function createdVolumeId(event: CloudTrailEvent): string | undefined {
  return text(stringField(event.detail.responseElements, 'volumeId'));
}

/** `responseElements.encrypted`: the truth, whatever the request said. */
export function createdVolumeEncrypted(event: CloudTrailEvent): boolean | undefined {
  return bool(field(event.detail.responseElements, 'encrypted'));
}

/** The volume as the `CreateVolume` record describes it at creation. */
export function volumeFromCreateEvent(event: CloudTrailEvent, volumeId: string): VolumeFacts {
  const response = event.detail.responseElements;
  const request = event.detail.requestParameters;
  const encrypted = createdVolumeEncrypted(event);
  const size = integer(field(response, 'size')) ?? integer(field(request, 'size'));
  const iops = integer(field(response, 'iops')) ?? integer(field(request, 'iops'));
  const throughput = integer(field(response, 'throughput')) ?? integer(field(request, 'throughput'));
  const multiAttachEnabled = bool(field(response, 'multiAttachEnabled')) ?? bool(field(request, 'multiAttachEnabled'));
  const zone = text(field(response, 'zone')) ?? text(field(response, 'availabilityZone')) ?? text(field(request, 'zone')) ?? text(field(request, 'availabilityZone'));
  const volumeType = text(field(response, 'volumeType')) ?? text(field(request, 'volumeType'));
  const responseTags = tagsFromEvent(field(response, 'tagSet'));
  return {
    volumeId,
    key: volumeId,
    label: volumeId,
    ...(encrypted !== undefined ? { encrypted } : {}),
    availabilityZone: zone ?? unknownValue(`Availability Zone of ${volumeId}`),
    volumeType: volumeType ?? unknownValue(`volume type of ${volumeId}`),
    ...(size !== undefined ? { size } : {}),
    ...(iops !== undefined ? { iops } : {}),
    ...(throughput !== undefined ? { throughput } : {}),
    ...(multiAttachEnabled !== undefined ? { multiAttachEnabled } : {}),
    tags: Object.keys(responseTags).length > 0 ? responseTags : requestedTags(event, 'volume'),
    source: 'event',
  };
}

interface LaunchedInstance {
  readonly instanceId: string;
  readonly availabilityZone?: string;
  readonly rootDeviceType?: string;
}

/** The instances a `RunInstances` call launched, from `responseElements.instancesSet`. */
export function launchedInstances(event: CloudTrailEvent): LaunchedInstance[] {
  return items(field(event.detail.responseElements, 'instancesSet')).flatMap((instance) => {
    const instanceId = text(instance['instanceId']);
    if (!instanceId) return [];
    const availabilityZone = text(field(instance, 'placement', 'availabilityZone'));
    const rootDeviceType = text(instance['rootDeviceType']);
    return [{ instanceId, ...(availabilityZone ? { availabilityZone } : {}), ...(rootDeviceType ? { rootDeviceType } : {}) }];
  });
}

/**
 * Volumes a `RunInstances` request explicitly asked to be unencrypted
 * (`blockDeviceMapping.items[].ebs.encrypted: false`), one per launched
 * instance. What was asked is not necessarily what happened: encryption by
 * default or an encrypted snapshot encrypts the volume anyway.
 */
export function requestedUnencryptedVolumes(event: CloudTrailEvent): VolumeFacts[] {
  const mappings = items(field(event.detail.requestParameters, 'blockDeviceMapping')).filter(
    (mapping) => typeof mapping['deviceName'] === 'string' && field(mapping, 'ebs', 'encrypted') === false,
  );
  const tags = requestedTags(event, 'volume');
  return launchedInstances(event).flatMap((instance) =>
    mappings.map((mapping) => {
      const device = mapping['deviceName'] as string;
      const label = `${device} on ${instance.instanceId}`;
      const size = integer(field(mapping, 'ebs', 'volumeSize'));
      const iops = integer(field(mapping, 'ebs', 'iops'));
      const throughput = integer(field(mapping, 'ebs', 'throughput'));
      const volumeType = text(field(mapping, 'ebs', 'volumeType'));
      return {
        volumeId: unknownValue(`VolumeId of ${label} (DescribeVolumes was unavailable)`),
        key: `${instance.instanceId}-${device.replace(/^\/dev\//, '').replace(/[^A-Za-z0-9-]/g, '-')}`,
        label,
        encrypted: false,
        availabilityZone: instance.availabilityZone ?? unknownValue(`Availability Zone of ${instance.instanceId}`),
        volumeType: volumeType ?? unknownValue(`volume type of ${label}`),
        ...(size !== undefined ? { size } : {}),
        ...(iops !== undefined ? { iops } : {}),
        ...(throughput !== undefined ? { throughput } : {}),
        tags,
        attachments: [{ instanceId: instance.instanceId, device }],
        source: 'request',
      } satisfies VolumeFacts;
    }),
  );
}

/** `gp3, 100 GiB, us-east-1a`: what a person needs to recognise the volume. */
export function describeVolume(volume: VolumeFacts): string {
  const parts = [
    typeof volume.volumeType === 'string' ? volume.volumeType : undefined,
    volume.size !== undefined ? `${volume.size} GiB` : undefined,
    typeof volume.availabilityZone === 'string' ? volume.availabilityZone : undefined,
  ].filter((part) => part !== undefined);
  const attached = volume.attachments?.map((a) => `attached to ${a.instanceId} as ${a.device}`) ?? [];
  return [...parts, ...attached].join(', ');
}
