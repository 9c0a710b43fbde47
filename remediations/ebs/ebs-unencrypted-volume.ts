/**
 * ebs-unencrypted-volume: an EBS volume was created without encryption at rest.
 *
 * Triggers: `CreateVolume` and `RunInstances`.
 * - `CreateVolume`: the truth is `responseElements.encrypted`. The request may
 *   omit `encrypted` when the account's encryption by default decided it, and
 *   the volume is then encrypted although the request said nothing.
 * - `RunInstances`: the volumes are not in the event. A read-only
 *   `DescribeVolumes` lookup, filtered by `attachment.instance-id` with the ids
 *   in `responseElements.instancesSet`, says which attached volumes are
 *   unencrypted. When that fact is unavailable (offline replay, lookup denied)
 *   the rule never turns the gap into a pass: it reports a violation only when
 *   the event itself asked for an unencrypted volume (`blockDeviceMapping …
 *   ebs.encrypted: false`, said to be unconfirmed, because encryption by
 *   default or an encrypted snapshot would still encrypt it), and otherwise
 *   `skipped`, naming the missing fact. Volumes that come from the AMI alone
 *   are invisible in the event, so guessing either way would be dishonest.
 *
 * Changes (containment, applied in `remediate` mode, all idempotent):
 * `EnableEbsEncryptionByDefault` in the event's region (reported already done
 * when `GetEbsEncryptionByDefault` says it is on); `ModifyEbsDefaultKmsKeyId`
 * when the `kmsKeyId` setting names a key (already done when
 * `GetEbsDefaultKmsKeyId` shows it); `CreateTags`
 * `remediation:unencrypted=<date of the event>` on each unencrypted volume.
 * Proposes (never applied): the migration to an encrypted copy, see
 * `migration.ts`, with explicit wait steps run by SDK waiters within the
 * Lambda's remaining time, and `{"$unknown": …}` placeholders for any input
 * the bot could not know.
 * Never touches: the data. No volume, snapshot or instance is ever deleted;
 * encrypted volumes; volumes carrying the exemption tag.
 * Permissions: `ec2:EnableEbsEncryptionByDefault` and
 * `ec2:ModifyEbsDefaultKmsKeyId` (no resource-level support: `*`),
 * `ec2:CreateTags` on volumes; lookups `ec2:DescribeVolumes`,
 * `ec2:GetEbsEncryptionByDefault`, `ec2:GetEbsDefaultKmsKeyId`.
 */
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason } from '../../engine/exemption.js';
import type { Fact, Facts, Finding, Lookup, Plan, PlanStep, Rule, RuleContext, UndoStep, Verdict } from '../../engine/types.js';
import { planMigration, UNENCRYPTED_TAG_KEY } from './migration.js';
import {
  createdVolumeEncrypted,
  createdVolumeId,
  describeVolume,
  launchedInstances,
  requestedUnencryptedVolumes,
  volumeFromCreateEvent,
  volumesFromSdk,
  type VolumeFacts,
} from './volumes.js';

/** Key id, key ARN, alias name or alias ARN: the forms `ModifyEbsDefaultKmsKeyId` and `CopySnapshot` accept. */
const KMS_KEY_PATTERN =
  /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_+=.@-]+|alias\/[A-Za-z0-9/_+=.@-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;

export const EbsUnencryptedVolumeSettingsSchema = z.strictObject({
  /**
   * Symmetric KMS key for EBS encryption by default and for the proposed
   * encrypted copies. Unset: the account's current default key is left as is.
   */
  kmsKeyId: z.optional(z.string().check(z.regex(KMS_KEY_PATTERN, 'a KMS key id, key ARN, alias/… name or alias ARN'))),
});
export type EbsUnencryptedVolumeSettings = z.infer<typeof EbsUnencryptedVolumeSettingsSchema>;

function isCreateVolume(event: CloudTrailEvent): boolean {
  return event.detail.eventName === 'CreateVolume';
}

/** Only an event that may have made an unencrypted volume needs the account's encryption settings. */
function mayBeUnencrypted(event: CloudTrailEvent): boolean {
  return isCreateVolume(event) ? createdVolumeEncrypted(event) !== true && createdVolumeId(event) !== undefined : launchedInstances(event).length > 0;
}

const volumeLookup: Lookup = {
  name: 'volume',
  service: 'ec2',
  operation: 'DescribeVolumes',
  permission: 'ec2:DescribeVolumes',
  input: (event) => {
    const volumeId = createdVolumeId(event);
    return isCreateVolume(event) && volumeId && createdVolumeEncrypted(event) !== true ? { VolumeIds: [volumeId] } : undefined;
  },
  select: (output) => volumesFromSdk(output)[0] ?? null,
  notFoundCodes: ['InvalidVolume.NotFound'],
};

const instanceVolumesLookup: Lookup = {
  name: 'instanceVolumes',
  service: 'ec2',
  operation: 'DescribeVolumes',
  permission: 'ec2:DescribeVolumes',
  input: (event) => {
    const ids = launchedInstances(event).map((i) => i.instanceId);
    return !isCreateVolume(event) && ids.length > 0 ? { Filters: [{ Name: 'attachment.instance-id', Values: ids }] } : undefined;
  },
  select: (output) => ({ volumes: volumesFromSdk(output) }),
};

const encryptionByDefaultLookup: Lookup = {
  name: 'ebsEncryptionByDefault',
  service: 'ec2',
  operation: 'GetEbsEncryptionByDefault',
  permission: 'ec2:GetEbsEncryptionByDefault',
  input: (event) => (mayBeUnencrypted(event) ? {} : undefined),
  select: (output) => {
    const enabled = field(output, 'EbsEncryptionByDefault');
    return typeof enabled === 'boolean' ? enabled : null;
  },
};

const defaultKmsKeyLookup: Lookup = {
  name: 'ebsDefaultKmsKey',
  service: 'ec2',
  operation: 'GetEbsDefaultKmsKeyId',
  permission: 'ec2:GetEbsDefaultKmsKeyId',
  input: (event) => (mayBeUnencrypted(event) ? {} : undefined),
  select: (output) => stringField(output, 'KmsKeyId') ?? null,
};

function okValue(fact: Fact | undefined): unknown {
  return fact?.status === 'ok' ? fact.value : undefined;
}

/** `GetEbsDefaultKmsKeyId` answers with an ARN; the setting may name the key by id, ARN, alias or alias ARN. */
export function sameKmsKey(current: string, configured: string): boolean {
  if (current === configured) return true;
  const tail = configured.startsWith('arn:') ? configured.replace(/^arn:[^:]+:kms:[^:]*:\d*:/, '') : configured;
  return current.endsWith(`:${tail}`) || current.endsWith(`:key/${tail}`);
}

/** The date (`YYYY-MM-DD`) the volume was created, for the marker tag. */
function eventDate(event: CloudTrailEvent, now: Date): string {
  const date = event.detail.eventTime.slice(0, 10);
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : now.toISOString().slice(0, 10);
}

/**
 * Containment: switch encryption by default on (and to the configured key) so
 * no further unencrypted volume can be created in the region, and mark the
 * volumes. Steps that lookups show are already in place are marked so.
 */
export function planContainment(
  volumes: readonly VolumeFacts[],
  options: { region: string; date: string; kmsKeyId?: string; facts: Facts },
): Plan {
  const steps: PlanStep[] = [];
  const enabled = okValue(options.facts['ebsEncryptionByDefault']);
  steps.push({
    service: 'ec2',
    operation: 'EnableEbsEncryptionByDefault',
    input: {},
    reason: `Turn on EBS encryption by default in ${options.region}, so that no further volume is created unencrypted. Existing volumes are not changed.`,
    undo: { service: 'ec2', operation: 'DisableEbsEncryptionByDefault', input: {}, reason: 'Turn encryption by default off again.' },
    ...(enabled === true ? { alreadyDone: 'GetEbsEncryptionByDefault says encryption by default is already on' } : {}),
  });

  if (options.kmsKeyId) {
    const current = okValue(options.facts['ebsDefaultKmsKey']);
    const undo: UndoStep =
      typeof current === 'string'
        ? { service: 'ec2', operation: 'ModifyEbsDefaultKmsKeyId', input: { KmsKeyId: current }, reason: `Set the default EBS key back to ${current}.` }
        : {
            service: 'ec2',
            operation: 'ResetEbsDefaultKmsKeyId',
            input: {},
            reason: 'Set the default EBS key back to the AWS managed key (alias/aws/ebs); if another key was the default before, set that one instead (it was not known when this plan was made).',
          };
    steps.push({
      service: 'ec2',
      operation: 'ModifyEbsDefaultKmsKeyId',
      input: { KmsKeyId: options.kmsKeyId },
      reason: `Make ${options.kmsKeyId} the default key for EBS encryption in ${options.region}, as configured.`,
      undo,
      ...(typeof current === 'string' && sameKmsKey(current, options.kmsKeyId)
        ? { alreadyDone: `GetEbsDefaultKmsKeyId says the default key is already ${current}` }
        : {}),
    });
  }

  const volumeIds = volumes.map((v) => v.volumeId).filter((id): id is string => typeof id === 'string');
  if (volumeIds.length > 0) {
    const input = { Resources: volumeIds, Tags: [{ Key: UNENCRYPTED_TAG_KEY, Value: options.date }] };
    const tagged = volumes.every((v) => v.source === 'lookup' && Object.hasOwn(v.tags, UNENCRYPTED_TAG_KEY));
    steps.push({
      service: 'ec2',
      operation: 'CreateTags',
      input,
      reason: `Mark ${volumeIds.join(', ')} as unencrypted since ${options.date}, so the volume can be found and migrated.`,
      undo: { service: 'ec2', operation: 'DeleteTags', input, reason: 'Remove the marker tag (only if it still has this value).' },
      ...(tagged ? { alreadyDone: `DescribeVolumes shows ${UNENCRYPTED_TAG_KEY} already on ${volumeIds.join(', ')}` } : {}),
    });
  }
  return steps;
}

type Found =
  | { readonly kind: 'volumes'; readonly unencrypted: readonly VolumeFacts[]; readonly resources: readonly string[]; readonly confirmed: boolean }
  | { readonly kind: 'verdict'; readonly verdict: Verdict };

function findFromCreateVolume(event: CloudTrailEvent, facts: Facts): Found {
  const volumeId = createdVolumeId(event);
  if (!volumeId) return { kind: 'verdict', verdict: { kind: 'skipped', reason: 'the event names no volume' } };
  const resources = [volumeId];
  const encrypted = createdVolumeEncrypted(event);
  const requested = field(event.detail.requestParameters, 'encrypted');
  if (encrypted === true) {
    const snapshotId = stringField(event.detail.requestParameters, 'snapshotId');
    const how =
      requested === true
        ? 'as requested'
        : snapshotId
          ? `from snapshot ${snapshotId} (the snapshot's encryption or the account's encryption by default; the request did not ask)`
          : "by the account's encryption by default (the request did not ask)";
    return { kind: 'verdict', verdict: { kind: 'compliant', summary: `${volumeId} was created encrypted ${how}`, resources } };
  }
  const fact = facts['volume'];
  if (fact?.status === 'ok' && fact.value === null) {
    return { kind: 'verdict', verdict: { kind: 'skipped', reason: `volume ${volumeId} no longer exists`, resources } };
  }
  const looked = okValue(fact) as VolumeFacts | undefined;
  const fromEvent = volumeFromCreateEvent(event, volumeId);
  const volume = looked ?? fromEvent;
  if (volume.encrypted === true) return { kind: 'verdict', verdict: { kind: 'compliant', summary: `${volumeId} is encrypted`, resources } };
  if (volume.encrypted === undefined) {
    return {
      kind: 'verdict',
      verdict: { kind: 'skipped', reason: `the event does not say whether ${volumeId} is encrypted, and DescribeVolumes was unavailable`, resources },
    };
  }
  return { kind: 'volumes', unencrypted: [volume], resources, confirmed: true };
}

function findFromRunInstances(event: CloudTrailEvent, facts: Facts): Found {
  const instances = launchedInstances(event);
  if (instances.length === 0) return { kind: 'verdict', verdict: { kind: 'skipped', reason: 'the event names no launched instance' } };
  const instanceIds = instances.map((i) => i.instanceId);
  const fact = facts['instanceVolumes'];
  if (fact?.status === 'ok') {
    const volumes = (field(fact.value, 'volumes') as VolumeFacts[] | undefined) ?? [];
    const unencrypted = volumes.filter((v) => v.encrypted === false);
    if (unencrypted.length > 0) {
      return { kind: 'volumes', unencrypted, resources: unencrypted.map((v) => v.label), confirmed: true };
    }
    const ebsBacked = instances.filter((i) => i.rootDeviceType === 'ebs' && !volumes.some((v) => v.attachments?.some((a) => a.instanceId === i.instanceId)));
    if (ebsBacked.length > 0) {
      return {
        kind: 'verdict',
        verdict: {
          kind: 'skipped',
          reason: `DescribeVolumes shows no volume attached yet to ${ebsBacked.map((i) => i.instanceId).join(', ')}, so their encryption cannot be confirmed`,
          resources: instanceIds,
        },
      };
    }
    return {
      kind: 'verdict',
      verdict: {
        kind: 'compliant',
        summary: `all ${volumes.length} EBS volume${volumes.length === 1 ? '' : 's'} attached to ${instanceIds.join(', ')} ${volumes.length === 1 ? 'is' : 'are'} encrypted`,
        resources: [...instanceIds, ...volumes.map((v) => v.label)],
      },
    };
  }
  const requested = requestedUnencryptedVolumes(event);
  if (requested.length > 0) return { kind: 'volumes', unencrypted: requested, resources: requested.map((v) => v.label), confirmed: false };
  const why = fact?.status === 'unavailable' ? fact.reason : 'not looked up';
  return {
    kind: 'verdict',
    verdict: {
      kind: 'skipped',
      reason: `the volumes of ${instanceIds.join(', ')} are not in the event and DescribeVolumes is unavailable (${why}); their encryption is unknown, not assumed`,
      resources: instanceIds,
    },
  };
}

function finding(volume: VolumeFacts, confirmed: boolean, event: CloudTrailEvent): Finding {
  if (!confirmed) {
    return {
      code: 'unencrypted-volume-requested',
      severity: 'medium',
      message: `RunInstances asked for ${volume.label} with encrypted=false. DescribeVolumes was unavailable to confirm it: encryption by default or an encrypted snapshot would still have encrypted it.`,
      subject: volume.label,
    };
  }
  const omitted = isCreateVolume(event) && field(event.detail.requestParameters, 'encrypted') === undefined;
  return {
    code: 'unencrypted-volume',
    severity: 'medium',
    message: `${volume.label} (${describeVolume(volume)}) is not encrypted at rest${omitted ? '; the request did not set encrypted and encryption by default was off' : ''}.`,
    subject: volume.label,
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const settings = context.settings as EbsUnencryptedVolumeSettings;
  const found = isCreateVolume(event) ? findFromCreateVolume(event, facts) : findFromRunInstances(event, facts);
  if (found.kind === 'verdict') return found.verdict;

  const exempt = found.unencrypted.flatMap((v) => {
    const reason = exemptionReason(v.tags, context.config);
    return reason ? [`${v.label} is ${reason}`] : [];
  });
  const volumes = found.unencrypted.filter((v) => exemptionReason(v.tags, context.config) === undefined);
  if (volumes.length === 0) return { kind: 'exempt', reason: exempt.join('; '), resources: found.resources };

  const region = event.detail.awsRegion;
  const plan = planContainment(volumes, {
    region,
    date: eventDate(event, context.now),
    ...(settings.kmsKeyId ? { kmsKeyId: settings.kmsKeyId } : {}),
    facts,
  });
  const proposal = planMigration(volumes, { region, ...(settings.kmsKeyId ? { kmsKeyId: settings.kmsKeyId } : {}) });
  const [first] = volumes;
  const what = volumes.length === 1 && first ? first.label : `${volumes.length} volumes`;
  const summary = found.confirmed ? `${what} created unencrypted` : `${what} requested unencrypted (unconfirmed: DescribeVolumes unavailable)`;
  return {
    kind: 'violation',
    summary: `${summary}${exempt.length > 0 ? `; exempt: ${exempt.join('; ')}` : ''}`,
    resources: volumes.map((v) => v.label),
    findings: volumes.map((v) => finding(v, found.confirmed, event)),
    plan,
    proposal,
  };
}

export const ebsUnencryptedVolume = {
  id: 'ebs-unencrypted-volume',
  title: 'EBS volume created unencrypted',
  severity: 'medium',
  rationale:
    'Encryption at rest with KMS is the first data-protection control for EC2 and ML workloads: an unencrypted volume, and every snapshot taken of it, holds its data readable by anyone who obtains a copy.',
  family: 'ebs',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['CreateVolume', 'RunInstances'] }],
  permissions: [
    { action: 'ec2:EnableEbsEncryptionByDefault', resource: '*' },
    { action: 'ec2:ModifyEbsDefaultKmsKeyId', resource: '*' },
    { action: 'ec2:CreateTags', resource: 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/*' },
  ],
  lookups: [volumeLookup, instanceVolumesLookup, encryptionByDefaultLookup, defaultKmsKeyLookup],
  settings: EbsUnencryptedVolumeSettingsSchema,
  docs: {
    changes:
      'Turns on EBS encryption by default in the region (EnableEbsEncryptionByDefault, and ModifyEbsDefaultKmsKeyId when kmsKeyId is configured) and tags each unencrypted volume remediation:unencrypted=<date of the event>.',
    proposes:
      'The migration to an encrypted copy, as a resumable step list: for an attached volume stop the instance and wait; snapshot and wait; copy the snapshot encrypted with the configured key and wait; create a volume from it in the same Availability Zone with the same type, size, IOPS, throughput and tags and wait; detach the original, wait, attach the copy at the same device and start the instance; tag the original remediation:superseded-by=<new volume>.',
    neverTouches:
      'The data: no volume, snapshot or instance is ever deleted, and the migration is never applied automatically. Encrypted volumes, and volumes carrying the exemption tag, are left alone.',
  },
  evaluate,
} as const satisfies Rule;
