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
 *   `skipped` ("could not inspect"), naming the missing fact. Volumes that
 *   come from the AMI alone are invisible in the event, so guessing either way
 *   would be dishonest.
 *
 * Changes (containment, applied in `remediate` mode), each step read just
 * before and just after it: `EnableEbsEncryptionByDefault` in the event's
 * region (`GetEbsEncryptionByDefault`: already on is "already done");
 * `ModifyEbsDefaultKmsKeyId` when the `kmsKeyId` setting names a key
 * (`GetEbsDefaultKmsKeyId`: already that key is "already done"; a default key
 * changed since the plan was made is stale); `CreateTags`
 * `remediation:unencrypted=<date of the event>` on each unencrypted volume,
 * one step per volume (`DescribeVolumes`: the tag already there, or the
 * volume deleted, is "already done").
 * Proposes (never applied): the migration to an encrypted copy, see
 * `migration.ts`, with explicit wait steps run by SDK waiters within the
 * Lambda's remaining time, a read before and after every call, and
 * `{"$unknown": …}` placeholders for any input the bot could not know.
 * Never touches: the data. No volume, snapshot or instance is ever deleted;
 * encrypted volumes; volumes carrying the exemption tag.
 * Permissions: `ec2:EnableEbsEncryptionByDefault` and, only when `kmsKeyId`
 * is set, `ec2:ModifyEbsDefaultKmsKeyId` (no resource-level support: `*`),
 * `ec2:CreateTags` on volumes; lookups `ec2:DescribeVolumes` and (with
 * `kmsKeyId`) `ec2:GetEbsDefaultKmsKeyId`; the reads around the steps
 * `ec2:GetEbsEncryptionByDefault`, `ec2:GetEbsDefaultKmsKeyId`,
 * `ec2:DescribeVolumes`, and for the proposal `ec2:DescribeInstances` and
 * `ec2:DescribeSnapshots`.
 */
import { DescribeVolumesCommand, GetEbsDefaultKmsKeyIdCommand } from '@aws-sdk/client-ec2';
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromList } from '../../engine/exemption.js';
import type { Facts, Finding, Plan, PlanStep, RuleContext, Verdict } from '../../engine/types.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { defineLookup, defineProbe, defineRule, factValue, readFact } from '../../rulekit/index.js';
import {
  defaultKmsKeyProbe,
  disableEncryptionByDefault,
  enableEncryptionByDefault,
  encryptionByDefaultProbe,
  planDefaultKmsKey,
  planEnableEncryptionByDefault,
  resetDefaultKmsKey,
  restoreDefaultKmsKey,
  setDefaultKmsKey,
} from './default-encryption.js';
import { migrationProbes, migrationWaiters, migrationWrites, planMigration, tagVolume, UNENCRYPTED_TAG_KEY, untagVolume } from './migration.js';
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

const EbsUnencryptedVolumeSettingsSchema = z.strictObject({
  /**
   * Symmetric KMS key for EBS encryption by default and for the proposed
   * encrypted copies. Unset: the account's current default key is left as is,
   * and the function is not granted `ec2:ModifyEbsDefaultKmsKeyId`. Name it by
   * key ARN or alias as `GetEbsDefaultKmsKeyId` reports it, so the read after
   * the change can recognise it.
   */
  kmsKeyId: z.optional(z.string().check(z.regex(KMS_KEY_PATTERN, 'a KMS key id, key ARN, alias/… name or alias ARN'))),
});
type EbsUnencryptedVolumeSettings = z.infer<typeof EbsUnencryptedVolumeSettingsSchema>;

function isCreateVolume(event: CloudTrailEvent): boolean {
  return event.detail.eventName === 'CreateVolume';
}

/** Only an event that may have made an unencrypted volume needs the default EBS key (for the undo of setting the configured one). */
function mayBeUnencrypted(event: CloudTrailEvent): boolean {
  return isCreateVolume(event) ? createdVolumeEncrypted(event) !== true && createdVolumeId(event) !== undefined : launchedInstances(event).length > 0;
}

/** The volume a `CreateVolume` made, as it is now; `null` when it no longer exists. */
const volumeLookup = defineLookup(ec2, DescribeVolumesCommand, {
  name: 'volume',
  input: (event) => {
    const volumeId = createdVolumeId(event);
    return isCreateVolume(event) && volumeId && createdVolumeEncrypted(event) !== true ? { VolumeIds: [volumeId] } : undefined;
  },
  select: (output): VolumeFacts | null => volumesFromSdk(output)[0] ?? null,
  notFoundCodes: ['InvalidVolume.NotFound'],
});

/** The volumes attached to the instances a `RunInstances` launched. */
const instanceVolumesLookup = defineLookup(ec2, DescribeVolumesCommand, {
  name: 'instanceVolumes',
  input: (event) => {
    const ids = launchedInstances(event).map((i) => i.instanceId);
    return !isCreateVolume(event) && ids.length > 0 ? { Filters: [{ Name: 'attachment.instance-id', Values: ids }] } : undefined;
  },
  // `null` only in a fact recorded elsewhere (no not-found code here): read as no volume.
  select: (output): { readonly volumes: readonly VolumeFacts[] } | null => ({ volumes: volumesFromSdk(output) }),
});

/** The default key before the change, for the undo: only looked up when a key is configured. */
const defaultKmsKeyLookup = defineLookup(ec2, GetEbsDefaultKmsKeyIdCommand, {
  name: 'ebsDefaultKmsKey',
  input: (event, _earlier, context?: RuleContext<EbsUnencryptedVolumeSettings>) => {
    // Without the context (a caller outside decide) the key may be configured: look it up.
    return mayBeUnencrypted(event) && (context === undefined || context.settings.kmsKeyId !== undefined) ? {} : undefined;
  },
  select: (output): string | null => stringField(output, 'KmsKeyId') ?? null,
});

/**
 * One volume and the containment marker tag (`expect.tagKey`): the tag there
 * (whatever its value), or the volume deleted, is done; a volume that reads
 * encrypted is not the one the event showed.
 */
const unencryptedVolumeTagProbe = defineProbe(ec2, DescribeVolumesCommand, {
  name: 'unencryptedVolumeTag',
  notFoundCodes: ['InvalidVolume.NotFound'],
  judge(output, expected) {
    const id = String(expected['volumeId']);
    const key = String(expected['tagKey']);
    const volume = output === null ? undefined : (field(output, 'Volumes') as unknown[] | undefined)?.[0];
    if (volume === undefined) return { state: 'done', evidence: `${id} no longer exists: there is nothing to mark` };
    if (field(volume, 'Encrypted') === true) return { state: 'changed', evidence: `${id} reads encrypted, not unencrypted as the event showed: nothing marked` };
    const tags = tagsFromList(field(volume, 'Tags'));
    if (Object.hasOwn(tags, key)) return { state: 'done', evidence: `${id} carries ${key}=${tags[key] ?? ''}` };
    return { state: 'needed', evidence: `${id} is unencrypted and not tagged ${key}` };
  },
});

/** The date (`YYYY-MM-DD`) the volume was created, for the marker tag. */
function eventDate(event: CloudTrailEvent, now: Date): string {
  const date = event.detail.eventTime.slice(0, 10);
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : now.toISOString().slice(0, 10);
}

/** Marks one unencrypted volume, read before (tag already there? volume gone?) and after (tag there?). */
function planMarkVolume(volumeId: string, date: string): PlanStep {
  const input = { Resources: [volumeId], Tags: [{ Key: UNENCRYPTED_TAG_KEY, Value: date }] };
  const read = { VolumeIds: [volumeId] };
  const expected = { volumeId, tagKey: UNENCRYPTED_TAG_KEY };
  return tagVolume.step(input, {
    reason: `Mark ${volumeId} as unencrypted since ${date}, so the volume can be found and migrated.`,
    undo: untagVolume.undo(input, 'Remove the marker tag (only if it still has this value).'),
    // The volume deleted between the read and the write: nothing left to mark (the read after confirms).
    alreadyDoneCodes: ['InvalidVolume.NotFound'],
    precondition: unencryptedVolumeTagProbe.check(read, expected, `shows ${volumeId} unencrypted and not yet tagged ${UNENCRYPTED_TAG_KEY}`),
    verification: unencryptedVolumeTagProbe.check(read, expected, `shows ${volumeId} tagged ${UNENCRYPTED_TAG_KEY}`),
  });
}

/**
 * Containment: switch encryption by default on (and to the configured key) so
 * no further unencrypted volume can be created in the region, and mark each
 * volume. Every step reads the present before and after it.
 */
function planContainment(
  volumes: readonly VolumeFacts[],
  options: { region: string; date: string; kmsKeyId?: string; facts: Facts },
): Plan {
  const steps: PlanStep[] = [
    planEnableEncryptionByDefault(
      options.region,
      `Turn on EBS encryption by default in ${options.region}, so that no further volume is created unencrypted. Existing volumes are not changed.`,
      'Turn encryption by default off again.',
    ),
  ];
  if (options.kmsKeyId) {
    const previous = factValue(readFact(options.facts, defaultKmsKeyLookup));
    steps.push(planDefaultKmsKey(options.region, options.kmsKeyId, typeof previous === 'string' ? previous : undefined));
  }
  for (const volume of volumes) if (typeof volume.volumeId === 'string') steps.push(planMarkVolume(volume.volumeId, options.date));
  return steps;
}

type Found =
  | {
      readonly kind: 'volumes';
      readonly unencrypted: readonly VolumeFacts[];
      readonly resources: readonly string[];
      readonly confirmed: boolean;
      /** A lookup showed the volume deleted since the event: nothing is left to migrate. */
      readonly gone?: true;
    }
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
  const fact = readFact(facts, volumeLookup);
  const fromEvent = volumeFromCreateEvent(event, volumeId);
  if (fact?.status === 'ok' && fact.value === null) {
    // Created unencrypted, then deleted: the account still lets unencrypted volumes be made, and the marker step's read will find the volume gone.
    if (fromEvent.encrypted === false) return { kind: 'volumes', unencrypted: [fromEvent], resources, confirmed: true, gone: true };
    return {
      kind: 'verdict',
      verdict: { kind: 'skipped', reason: `the event does not say whether ${volumeId} is encrypted, and DescribeVolumes shows it no longer exists`, resources },
    };
  }
  const volume = factValue(fact) ?? fromEvent;
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
  const fact = readFact(facts, instanceVolumesLookup);
  if (fact?.status === 'ok') {
    const volumes = fact.value?.volumes ?? [];
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

function finding(volume: VolumeFacts, confirmed: boolean, event: CloudTrailEvent, gone: boolean): Finding {
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
    message: gone
      ? `${volume.label} (${describeVolume(volume)}) was created unencrypted${omitted ? ' (the request did not set encrypted and encryption by default was off)' : ''}; DescribeVolumes shows it no longer exists.`
      : `${volume.label} (${describeVolume(volume)}) is not encrypted at rest${omitted ? '; the request did not set encrypted and encryption by default was off' : ''}.`,
    subject: volume.label,
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<EbsUnencryptedVolumeSettings>): Verdict {
  const { settings } = context;
  const found = isCreateVolume(event) ? findFromCreateVolume(event, facts) : findFromRunInstances(event, facts);
  if (found.kind === 'verdict') return found.verdict;

  const gone = found.gone === true;
  const exemptVolumes = found.unencrypted.flatMap((volume) => {
    const reason = exemptionReason(volume.tags, context.config);
    return reason ? [{ volume, reason: `${volume.label} is ${reason}` }] : [];
  });
  const exempt = exemptVolumes.map((e) => e.reason);
  const volumes = found.unencrypted.filter((v) => exemptionReason(v.tags, context.config) === undefined);
  if (volumes.length === 0) {
    return {
      kind: 'exempt',
      reason: exempt.join('; '),
      resources: found.resources,
      findings: exemptVolumes.map((e) => finding(e.volume, found.confirmed, event, gone)),
    };
  }

  const region = event.detail.awsRegion;
  const plan = planContainment(volumes, {
    region,
    date: eventDate(event, context.now),
    ...(settings.kmsKeyId ? { kmsKeyId: settings.kmsKeyId } : {}),
    facts,
  });
  const [first] = volumes;
  const what = volumes.length === 1 && first ? first.label : `${volumes.length} volumes`;
  const summary = found.confirmed ? `${what} created unencrypted${gone ? ' (since deleted)' : ''}` : `${what} requested unencrypted (unconfirmed: DescribeVolumes unavailable)`;
  return {
    kind: 'violation',
    summary: `${summary}${exempt.length > 0 ? `; exempt: ${exempt.join('; ')}` : ''}`,
    resources: volumes.map((v) => v.label),
    findings: volumes.map((v) => finding(v, found.confirmed, event, gone)),
    plan,
    // A deleted volume has nothing left to migrate.
    ...(gone ? {} : { proposal: planMigration(volumes, { region, ...(settings.kmsKeyId ? { kmsKeyId: settings.kmsKeyId } : {}) }) }),
  };
}

export const ebsUnencryptedVolume = defineRule<EbsUnencryptedVolumeSettings>({
  id: 'ebs-unencrypted-volume',
  title: 'EBS volume created unencrypted',
  severity: 'medium',
  rationale:
    'Encryption at rest with KMS is the first data-protection control for EC2 and ML workloads: an unencrypted volume, and every snapshot taken of it, holds its data readable by anyone who obtains a copy.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['CreateVolume', 'RunInstances'] }],
  // The containment only: the migration is proposed, never granted. ModifyEbsDefaultKmsKeyId only with kmsKeyId set.
  actions: [enableEncryptionByDefault, setDefaultKmsKey, tagVolume],
  lookups: [volumeLookup, instanceVolumesLookup, defaultKmsKeyLookup],
  probes: [encryptionByDefaultProbe, defaultKmsKeyProbe, unencryptedVolumeTagProbe, ...migrationProbes],
  // The migration's writes and every undo step: sendable by a person through the family's command table, never granted.
  proposals: [...migrationWrites, disableEncryptionByDefault, restoreDefaultKmsKey, resetDefaultKmsKey],
  waiters: migrationWaiters,
  settings: EbsUnencryptedVolumeSettingsSchema,
  evaluate,
});
