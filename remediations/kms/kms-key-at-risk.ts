/**
 * kms-key-at-risk: a customer managed KMS key was scheduled for deletion while
 * in use, disabled, had its automatic rotation turned off, or had its key
 * policy opened to everyone.
 *
 * Triggers (`kms.amazonaws.com`): `ScheduleKeyDeletion` of a key in use: one
 * that has an alias (`ListAliases`) or carries one of the configured in-use
 * tags (`ListResourceTags`). When those lookups cannot answer, the key is
 * treated as in use and the alert says the facts were unavailable: the rule
 * never guesses its way to a pass. `DisableKey`, `DisableKeyRotation`, and
 * `PutKeyPolicy` whose policy lets anyone in (`Principal *`, `{"AWS": "*"}`)
 * without a condition confining the callers (`kms:CallerAccount`,
 * `aws:PrincipalOrgID`, …), read with the IAM policy analyzer.
 *
 * Changes: `CancelKeyDeletion` (the key is then Disabled; enabling it is only
 * proposed, since the bot cannot know whether it was enabled before), whose
 * undo schedules the deletion again with the event's waiting period: that
 * restores what the caller chose, and the key stays recoverable for that
 * period. `EnableKey` for `DisableKey` (undo `DisableKey`), `EnableKeyRotation`
 * for `DisableKeyRotation` (undo `DisableKeyRotation`). A `DescribeKey` lookup
 * that shows the work already done (the key no longer pending deletion, or
 * enabled) makes the step "already done" without a call.
 * Proposes: `EnableKey` after a cancelled deletion; for an open key policy,
 * `PutKeyPolicy` without the open statements (never applied: a wrong key
 * policy can lock every administrator out of the key).
 * Never touches: the key material, the key policy (only proposed), aliases,
 * grants, AWS managed keys, and keys carrying the exemption tag.
 * Permissions: `kms:CancelKeyDeletion`, `kms:EnableKey` and
 * `kms:EnableKeyRotation` on the account's keys in the region (the key policy
 * must let IAM policies grant them, as the default key policy does); lookups
 * `kms:DescribeKey`, `kms:ListResourceTags` and `kms:ListAliases`.
 */
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, type Tags } from '../../engine/exemption.js';
import type { Fact, Facts, Finding, Lookup, PlanStep, Rule, RuleContext, Verdict } from '../../engine/types.js';
import { confinedNote, documentText, documentWithout, KMS_CONFINING_KEYS, openFindings, publicGrants, rawDocument, statementLabel } from '../s3/resource-policy.js';

export const KmsKeyAtRiskSettingsSchema = z.strictObject({
  /** Tag keys that mark a key as in use (besides having an alias): deleting such a key is a violation. */
  inUseTagKeys: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(128))), []),
});
export type KmsKeyAtRiskSettings = z.infer<typeof KmsKeyAtRiskSettingsSchema>;

/** KMS's key policy size limit. */
export const MAX_KEY_POLICY_CHARACTERS = 32_768;

/** The waiting period KMS uses when a ScheduleKeyDeletion request names none. */
export const DEFAULT_PENDING_WINDOW_DAYS = 30;

const KEY_ID = /^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** The key the call named (key id or key ARN, as these APIs accept); aliases and placeholders are not keys. */
export function keyIdOf(event: CloudTrailEvent): string | undefined {
  const keyId = stringField(event.detail.requestParameters, 'keyId');
  return keyId !== undefined && (KEY_ID.test(keyId) || KEY_ARN.test(keyId)) ? keyId : undefined;
}

/** The key's ARN for alerts: from the request, the response, the record's resources, or composed. */
export function keyArnOf(event: CloudTrailEvent, keyId: string): string {
  if (KEY_ARN.test(keyId)) return keyId;
  const fromResponse = stringField(event.detail.responseElements, 'keyId');
  if (fromResponse !== undefined && KEY_ARN.test(fromResponse)) return fromResponse;
  const resources = field(event.detail, 'resources');
  const fromResources = Array.isArray(resources) ? resources.map((r) => stringField(r, 'ARN')).find((arn) => arn !== undefined && KEY_ARN.test(arn)) : undefined;
  if (fromResources !== undefined) return fromResources;
  const region = event.detail.awsRegion;
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  return `arn:${partition}:kms:${region}:${event.detail.recipientAccountId ?? event.account}:key/${keyId}`;
}

/** The account's keys in the deployment's Region: what the plans and the key lookups are granted on. */
const KEY_RESOURCE = 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*';

/** DescribeKey: `{state, manager}` of the key now; `null` when it no longer exists. */
export const keyLookup: Lookup = {
  name: 'key',
  service: 'kms',
  operation: 'DescribeKey',
  permission: 'kms:DescribeKey',
  resource: KEY_RESOURCE,
  input: (event) => {
    const keyId = keyIdOf(event);
    return keyId !== undefined ? { KeyId: keyId } : undefined;
  },
  select: (output) => {
    const metadata = field(output, 'KeyMetadata');
    if (typeof metadata !== 'object' || metadata === null) return null;
    const state = stringField(metadata, 'KeyState');
    const manager = stringField(metadata, 'KeyManager');
    return { ...(state !== undefined && { state }), ...(manager !== undefined && { manager }) };
  },
  notFoundCodes: ['NotFoundException'],
};

/** ListResourceTags: the key's tags, `{tags}` (KMS lists them as `TagKey`/`TagValue`). */
export const keyTagsLookup: Lookup = {
  name: 'keyTags',
  service: 'kms',
  operation: 'ListResourceTags',
  permission: 'kms:ListResourceTags',
  resource: KEY_RESOURCE,
  input: (event) => {
    const keyId = keyIdOf(event);
    return keyId !== undefined ? { KeyId: keyId } : undefined;
  },
  select: (output) => {
    const list = field(output, 'Tags');
    const tags: Record<string, string> = {};
    for (const tag of Array.isArray(list) ? list : []) {
      const key = stringField(tag, 'TagKey');
      if (key !== undefined) tags[key] = stringField(tag, 'TagValue') ?? '';
    }
    return { tags };
  },
  notFoundCodes: ['NotFoundException'],
};

/** ListAliases of the key (only for ScheduleKeyDeletion): `{aliases}`. */
export const keyAliasesLookup: Lookup = {
  name: 'keyAliases',
  service: 'kms',
  operation: 'ListAliases',
  permission: 'kms:ListAliases',
  input: (event) => {
    const keyId = keyIdOf(event);
    return keyId !== undefined && event.detail.eventName === 'ScheduleKeyDeletion' ? { KeyId: keyId } : undefined;
  },
  select: (output) => {
    const list = field(output, 'Aliases');
    return { aliases: (Array.isArray(list) ? list : []).map((alias) => stringField(alias, 'AliasName')).filter((name): name is string => name !== undefined) };
  },
  notFoundCodes: ['NotFoundException'],
};

function okValue(fact: Fact | undefined): unknown {
  return fact?.status === 'ok' ? fact.value : undefined;
}

function unavailableReason(fact: Fact | undefined, operation: string): string {
  return fact?.status === 'unavailable' ? fact.reason : `${operation} was not looked up`;
}

function keyTags(facts: Facts): Tags | undefined {
  const tags = field(okValue(facts[keyTagsLookup.name]), 'tags');
  return typeof tags === 'object' && tags !== null ? (tags as Tags) : undefined;
}

function keyGone(facts: Facts): boolean {
  return [keyLookup.name, keyTagsLookup.name, keyAliasesLookup.name].some((name) => {
    const fact = facts[name];
    return fact?.status === 'ok' && fact.value === null;
  });
}

/** The waiting period the event chose (7–30 days), else KMS's default. */
export function pendingWindowOf(event: CloudTrailEvent): number {
  for (const value of [field(event.detail.requestParameters, 'pendingWindowInDays'), field(event.detail.responseElements, 'pendingWindowInDays')]) {
    const days = typeof value === 'string' && /^\d{1,2}$/.test(value) ? Number(value) : value;
    if (typeof days === 'number' && Number.isInteger(days) && days >= 7 && days <= 30) return days;
  }
  return DEFAULT_PENDING_WINDOW_DAYS;
}

type InUse = { readonly verdict: 'in-use'; readonly why: string } | { readonly verdict: 'unused' } | { readonly verdict: 'unknown'; readonly why: string };

/** Whether the key is in use: an alias, or an in-use tag. Unknown facts never count as "unused". */
export function keyInUse(facts: Facts, settings: KmsKeyAtRiskSettings): InUse {
  const aliases = field(okValue(facts[keyAliasesLookup.name]), 'aliases');
  if (Array.isArray(aliases) && aliases.length > 0) return { verdict: 'in-use', why: `it has the alias${aliases.length > 1 ? 'es' : ''} ${aliases.join(', ')}` };
  const tags = keyTags(facts);
  const inUseTag = settings.inUseTagKeys.find((key) => tags !== undefined && Object.hasOwn(tags, key));
  if (inUseTag !== undefined) return { verdict: 'in-use', why: `it carries the in-use tag ${inUseTag}` };
  const gaps = [
    ...(Array.isArray(aliases) ? [] : [`ListAliases: ${unavailableReason(facts[keyAliasesLookup.name], 'ListAliases')}`]),
    ...(settings.inUseTagKeys.length > 0 && tags === undefined ? [`ListResourceTags: ${unavailableReason(facts[keyTagsLookup.name], 'ListResourceTags')}`] : []),
  ];
  return gaps.length > 0 ? { verdict: 'unknown', why: gaps.join('; ') } : { verdict: 'unused' };
}

function keyState(facts: Facts): string | undefined {
  return stringField(okValue(facts[keyLookup.name]), 'state');
}

/** CancelKeyDeletion; its undo schedules the deletion again with the event's waiting period. */
export function planCancelDeletion(keyId: string, window: number, state: string | undefined): PlanStep {
  const pending = state === undefined || state === 'PendingDeletion' || state === 'PendingReplicaDeletion';
  return {
    service: 'kms',
    operation: 'CancelKeyDeletion',
    input: { KeyId: keyId },
    reason: `Cancel the scheduled deletion of key ${keyId}. The key is then Disabled: enabling it is proposed, not applied, because the bot cannot know whether it was enabled before.`,
    undo: {
      service: 'kms',
      operation: 'ScheduleKeyDeletion',
      input: { KeyId: keyId, PendingWindowInDays: window },
      reason: `Schedule the deletion of key ${keyId} again with the ${window}-day waiting period the event chose: this restores the caller's decision, and the key stays recoverable (CancelKeyDeletion) until the period ends.`,
    },
    // KMS answers KMSInvalidStateException when the key is no longer pending deletion: the cancellation is in place.
    alreadyDoneCodes: ['KMSInvalidStateException'],
    ...(!pending && { alreadyDone: `DescribeKey: key state is ${state}, not pending deletion` }),
  };
}

export function proposeEnable(keyId: string): PlanStep {
  return {
    service: 'kms',
    operation: 'EnableKey',
    input: { KeyId: keyId },
    reason: `PROPOSAL, not applied: enable key ${keyId} again if it was enabled before its deletion was scheduled; until then nothing can decrypt with it.`,
    undo: { service: 'kms', operation: 'DisableKey', input: { KeyId: keyId }, reason: `Disable key ${keyId} again.` },
  };
}

export function planEnable(keyId: string, state: string | undefined): PlanStep {
  return {
    service: 'kms',
    operation: 'EnableKey',
    input: { KeyId: keyId },
    reason: `Enable key ${keyId} again, so data encrypted under it can be decrypted.`,
    undo: { service: 'kms', operation: 'DisableKey', input: { KeyId: keyId }, reason: `Disable key ${keyId} again, as the event did.` },
    ...(state === 'Enabled' && { alreadyDone: 'DescribeKey: key state is Enabled' }),
  };
}

export function planEnableRotation(keyId: string): PlanStep {
  return {
    service: 'kms',
    operation: 'EnableKeyRotation',
    input: { KeyId: keyId },
    reason: `Turn automatic rotation of key ${keyId} back on (KMS's default period of 365 days; set another with RotationPeriodInDays if the key had one).`,
    undo: { service: 'kms', operation: 'DisableKeyRotation', input: { KeyId: keyId }, reason: `Turn automatic rotation of key ${keyId} off again, as the event did.` },
  };
}

/** PutKeyPolicy without the open statements; `undefined` when none would remain (a person must write the policy). */
export function proposeKeyPolicyFix(keyId: string, policy: string, open: readonly number[]): PlanStep | undefined {
  if (rawDocument(policy) === undefined) return undefined;
  const fixed = documentWithout(policy, new Set(open));
  if (fixed === undefined) return undefined;
  return {
    service: 'kms',
    operation: 'PutKeyPolicy',
    input: { KeyId: keyId, PolicyName: 'default', Policy: fixed },
    reason: `PROPOSAL, not applied: replace the policy of key ${keyId} with the same document minus statement${open.length > 1 ? 's' : ''} ${open.join(', ')}. Check that the remaining statements still let your administrators manage the key before you apply it.`,
    undo: { service: 'kms', operation: 'PutKeyPolicy', input: { KeyId: keyId, PolicyName: 'default', Policy: documentText(policy) }, reason: `Put the policy of key ${keyId} back exactly as the event set it.` },
  };
}

function evaluateKeyPolicy(event: CloudTrailEvent, keyId: string, resources: string[], exempt: () => string | undefined): Verdict {
  const policy = stringField(event.detail.requestParameters, 'policy');
  if (policy === undefined) return { kind: 'skipped', reason: `the event carries no policy for key ${keyId}`, resources };
  const analysis = publicGrants(policy, { confiningKeys: KMS_CONFINING_KEYS, maxPolicyCharacters: MAX_KEY_POLICY_CHARACTERS });
  if (!analysis.ok) return { kind: 'skipped', reason: `the policy of key ${keyId} could not be analysed: ${analysis.error}`, resources };
  if (analysis.open.length === 0) {
    return { kind: 'compliant', summary: `key ${keyId}: no statement of the key policy lets everyone in without a confining condition${confinedNote(analysis.confined)}`, resources };
  }
  const reason = exempt();
  if (reason) return { kind: 'exempt', reason, resources };
  const open = analysis.open.map(({ statement }) => statement.index);
  const proposal = proposeKeyPolicyFix(keyId, policy, open);
  return {
    kind: 'violation',
    summary: `key ${keyId}: ${analysis.open.map(({ statement }) => statementLabel(statement)).join(', ')} of the key policy ${open.length === 1 ? 'lets' : 'let'} everyone use the key; ${proposal ? 'a fixed policy is proposed' : 'every statement is open, so a person must write the policy'}`,
    resources,
    findings: openFindings(analysis.open, 'key-policy-public', 'critical', `policy of key ${keyId}`),
    plan: [],
    ...(proposal && { proposal: [proposal] }),
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const settings = context.settings as KmsKeyAtRiskSettings;
  const keyId = keyIdOf(event);
  if (keyId === undefined) return { kind: 'skipped', reason: 'the event names no KMS key id or key ARN' };
  const resources = [keyArnOf(event, keyId)];
  if (keyGone(facts)) return { kind: 'skipped', reason: `key ${keyId} no longer exists`, resources };
  if (field(okValue(facts[keyLookup.name]), 'manager') === 'AWS') return { kind: 'skipped', reason: `key ${keyId} is an AWS managed key, which AWS manages`, resources };
  const exempt = () => {
    const reason = exemptionReason(keyTags(facts), context.config);
    return reason ? `key ${keyId} is ${reason}` : undefined;
  };
  const state = keyState(facts);

  switch (event.detail.eventName) {
    case 'PutKeyPolicy':
      return evaluateKeyPolicy(event, keyId, resources, exempt);
    case 'ScheduleKeyDeletion': {
      const window = pendingWindowOf(event);
      const use = keyInUse(facts, settings);
      if (use.verdict === 'unused') {
        return { kind: 'compliant', summary: `key ${keyId}: deletion in ${window} days of a key with no alias and no in-use tag`, resources };
      }
      const reason = exempt();
      if (reason) return { kind: 'exempt', reason, resources };
      const finding: Finding =
        use.verdict === 'in-use'
          ? {
              code: 'deletion-of-key-in-use',
              severity: 'critical',
              message: `Key ${keyId} is scheduled for deletion in ${window} days although it is in use (${use.why}); once deleted, everything encrypted under it is lost for good.`,
              subject: keyId,
            }
          : {
              code: 'deletion-of-key-maybe-in-use',
              severity: 'high',
              message: `Key ${keyId} is scheduled for deletion in ${window} days, and whether it is in use could not be checked (${use.why}), so it is treated as in use; once deleted, everything encrypted under it is lost for good.`,
              subject: keyId,
            };
      return {
        kind: 'violation',
        summary:
          use.verdict === 'in-use'
            ? `key ${keyId}: deletion scheduled in ${window} days although ${use.why}`
            : `key ${keyId}: deletion scheduled in ${window} days; whether it is in use is unknown (facts unavailable), so it is treated as in use`,
        resources,
        findings: [finding],
        plan: [planCancelDeletion(keyId, window, state)],
        proposal: [proposeEnable(keyId)],
      };
    }
    case 'DisableKey': {
      if (state === 'PendingDeletion' || state === 'PendingReplicaDeletion') {
        return { kind: 'skipped', reason: `key ${keyId} is now pending deletion; that is judged on its ScheduleKeyDeletion event`, resources };
      }
      const reason = exempt();
      if (reason) return { kind: 'exempt', reason, resources };
      return {
        kind: 'violation',
        summary: `key ${keyId} was disabled`,
        resources,
        findings: [{ code: 'key-disabled', severity: 'high', message: `Key ${keyId} was disabled: nothing encrypted under it can be decrypted until it is enabled again.`, subject: keyId }],
        plan: [planEnable(keyId, state)],
      };
    }
    case 'DisableKeyRotation': {
      const reason = exempt();
      if (reason) return { kind: 'exempt', reason, resources };
      return {
        kind: 'violation',
        summary: `key ${keyId}: automatic rotation turned off`,
        resources,
        findings: [{ code: 'key-rotation-disabled', severity: 'medium', message: `Automatic rotation of key ${keyId} was turned off, so its key material is no longer renewed.`, subject: keyId }],
        plan: [planEnableRotation(keyId)],
      };
    }
    default:
      return { kind: 'skipped', reason: `${event.detail.eventName} is not a KMS call this rule judges`, resources };
  }
}

export const kmsKeyAtRisk = {
  id: 'kms-key-at-risk',
  title: 'KMS key scheduled for deletion, disabled, not rotated or open to everyone',
  severity: 'high',
  rationale:
    'A KMS key guards every dataset, volume and model artifact encrypted under it: deleting a key in use destroys that data for good, disabling it makes the data unreadable, an unrotated key stays exposed longer, and a key policy open to everyone lets any AWS account use or manage it.',
  family: 'kms',
  triggers: [{ eventSource: 'kms.amazonaws.com', eventNames: ['ScheduleKeyDeletion', 'DisableKey', 'DisableKeyRotation', 'PutKeyPolicy'] }],
  permissions: [
    { action: 'kms:CancelKeyDeletion', resource: KEY_RESOURCE },
    { action: 'kms:EnableKey', resource: KEY_RESOURCE },
    { action: 'kms:EnableKeyRotation', resource: KEY_RESOURCE },
  ],
  lookups: [keyLookup, keyTagsLookup, keyAliasesLookup],
  settings: KmsKeyAtRiskSettingsSchema,
  docs: {
    changes:
      'CancelKeyDeletion for a key in use (undo: ScheduleKeyDeletion with the event’s waiting period), EnableKey for DisableKey (undo: DisableKey), EnableKeyRotation for DisableKeyRotation (undo: DisableKeyRotation).',
    proposes: 'EnableKey after a cancelled deletion (the key is left Disabled), and PutKeyPolicy without the statements open to everyone (its undo restores the event’s policy).',
    neverTouches: 'Key material, the key policy (only proposed), aliases and grants, AWS managed keys, and keys carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
