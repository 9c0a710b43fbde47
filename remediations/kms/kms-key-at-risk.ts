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
 * `PutKeyPolicy` whose policy (JSON text, or a JSON object in some records)
 * lets anyone in (`Principal *`, `{"AWS": "*"}`) without a condition confining
 * the callers (`kms:CallerAccount`, `aws:PrincipalOrgID`, …), read with the
 * IAM policy analyzer.
 *
 * Changes: `CancelKeyDeletion` (the key is then Disabled; enabling it is only
 * proposed, since the bot cannot know whether it was enabled before), whose
 * undo schedules the deletion again with the event's waiting period: that
 * restores what the caller chose, and the key stays recoverable for that
 * period. `EnableKey` for `DisableKey` (undo `DisableKey`), `EnableKeyRotation`
 * for `DisableKeyRotation` (undo `DisableKeyRotation`). Every step reads the
 * key just before it writes and again just after: `DescribeKey` (key state)
 * for CancelKeyDeletion and EnableKey, `GetKeyRotationStatus` for
 * EnableKeyRotation. A key already out of pending deletion, already enabled or
 * already rotating is "already done" with no write; a key deleted since, or
 * (for EnableKey) pending deletion since, is stale: nothing is written.
 * Proposes: `EnableKey` after a cancelled deletion; for an open key policy,
 * `PutKeyPolicy` without the open statements (never applied: a wrong key
 * policy can lock every administrator out of the key), checked against
 * `GetKeyPolicy`: still the event's policy (needed), no longer open (done), or
 * replaced since by another open policy (stale: the proposal would overwrite it).
 * Never touches: the key material, the key policy (only proposed), aliases,
 * grants, AWS managed keys, and keys carrying the exemption tag.
 * Permissions: `kms:CancelKeyDeletion`, `kms:EnableKey` and
 * `kms:EnableKeyRotation` on the account's keys in the region (the key policy
 * must let IAM policies grant them, as the default key policy does); lookups
 * `kms:DescribeKey`, `kms:ListResourceTags` and `kms:ListAliases`; reads
 * before and after each step `kms:DescribeKey`, `kms:GetKeyRotationStatus`
 * and `kms:GetKeyPolicy`.
 */
import {
  CancelKeyDeletionCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, type Tags } from '../../engine/exemption.js';
import { checkedBothWays, type Fact, type Facts, type Finding, type PlanStep, type RuleContext, type Severity, type Verdict } from '../../engine/types.js';
import { accountOf, defineAction, defineLookup, defineProbe, defineProposedWrite, defineRule, defineUndo, factValue, partitionOf, readFact } from '../../rulekit/index.js';
import { kms } from '../../rulekit/aws/kms.js';
import { confinedNote, documentText, documentWithout, KMS_CONFINING_KEYS, openFindings, publicGrants, rawDocument, statementLabel } from '../s3/resource-policy.js';

const KmsKeyAtRiskSettingsSchema = z.strictObject({
  /** Tag keys that mark a key as in use (besides having an alias): deleting such a key is a violation. */
  inUseTagKeys: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(128))), []),
});
type KmsKeyAtRiskSettings = z.infer<typeof KmsKeyAtRiskSettingsSchema>;

/** KMS's key policy size limit. */
const MAX_KEY_POLICY_CHARACTERS = 32_768;

/** The waiting period KMS uses when a ScheduleKeyDeletion request names none. */
const DEFAULT_PENDING_WINDOW_DAYS = 30;

/** The only key policy name KMS knows. */
const POLICY_NAME = 'default';

const KEY_ID = /^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const KEY_ID_FORMS = 'a key id is a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk- and 32 hex digits for a multi-Region key';

/** The key the call named, or exactly what is wrong with the `keyId` it carries. */
type KeyReference = { readonly ok: true; readonly keyId: string } | { readonly ok: false; readonly problem: string };

function quoted(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 199)}…` : value);
}

/** Every way a `keyId` that starts with `arn:` falls short of `arn:<partition>:kms:<region>:<12-digit account>:key/<key id>`. */
function keyArnProblems(arn: string): string[] {
  const [, partition = '', service = '', region = '', account = '', ...rest] = arn.split(':');
  const resource = rest.join(':');
  if (rest.length === 0) return ['it is not a complete ARN (arn:<partition>:kms:<region>:<account>:key/<key id>)'];
  const problems: string[] = [];
  if (!/^aws(-[a-z]+)*$/.test(partition)) problems.push(`its partition ${quoted(partition)} is not an AWS partition`);
  if (service !== 'kms') problems.push(`its service ${quoted(service)} is not kms`);
  if (!/^[a-z0-9-]+$/.test(region)) problems.push(`its Region ${quoted(region)} is not a Region name`);
  if (!/^\d{12}$/.test(account)) problems.push(`its account ${quoted(account)} is not a 12-digit account id`);
  if (resource.startsWith('alias/')) problems.push('it names an alias, not a key (an alias can point to another key by now)');
  else if (!resource.startsWith('key/')) problems.push(`its resource ${quoted(resource)} is not key/<key id>`);
  else if (!KEY_ID.test(resource.slice('key/'.length))) problems.push(`its key id ${quoted(resource.slice('key/'.length))} is not a key id (${KEY_ID_FORMS})`);
  return problems;
}

/** The `keyId` of the request, when it is a key id or key ARN (what these APIs accept); otherwise what is wrong with it. */
export function keyReferenceOf(event: CloudTrailEvent): KeyReference {
  const raw = field(event.detail.requestParameters, 'keyId');
  if (raw === undefined || raw === null) return { ok: false, problem: 'the request carries no keyId' };
  if (typeof raw !== 'string') return { ok: false, problem: `its keyId is a ${Array.isArray(raw) ? 'list' : typeof raw}, not a key id or key ARN` };
  if (KEY_ID.test(raw) || KEY_ARN.test(raw)) return { ok: true, keyId: raw };
  if (raw === '') return { ok: false, problem: 'its keyId is empty' };
  if (raw.startsWith('arn:')) return { ok: false, problem: `keyId ${quoted(raw)} is not a KMS key ARN: ${keyArnProblems(raw).join('; ')}` };
  if (raw.startsWith('alias/')) return { ok: false, problem: `keyId ${quoted(raw)} is an alias name, not a key id or key ARN (an alias can point to another key by now)` };
  return { ok: false, problem: `keyId ${quoted(raw)} is neither a key id (${KEY_ID_FORMS}) nor a key ARN` };
}

/** The key the call named (key id or key ARN, as these APIs accept); aliases and placeholders are not keys. */
export function keyIdOf(event: CloudTrailEvent): string | undefined {
  const reference = keyReferenceOf(event);
  return reference.ok ? reference.keyId : undefined;
}

/** The key's ARN for alerts: from the request, the response, the record's resources, or composed. */
function keyArnOf(event: CloudTrailEvent, keyId: string): string {
  if (KEY_ARN.test(keyId)) return keyId;
  const fromResponse = stringField(event.detail.responseElements, 'keyId');
  if (fromResponse !== undefined && KEY_ARN.test(fromResponse)) return fromResponse;
  const resources = field(event.detail, 'resources');
  const fromResources = Array.isArray(resources) ? resources.map((r) => stringField(r, 'ARN')).find((arn) => arn !== undefined && KEY_ARN.test(arn)) : undefined;
  if (fromResources !== undefined) return fromResources;
  return `arn:${partitionOf(event)}:kms:${event.detail.awsRegion}:${accountOf(event)}:key/${keyId}`;
}

/** The policy `PutKeyPolicy` set: JSON text in most records, a JSON object in some. */
function keyPolicyOf(event: CloudTrailEvent): string | object | undefined {
  const policy = field(event.detail.requestParameters, 'policy');
  return typeof policy === 'string' || (typeof policy === 'object' && policy !== null && !Array.isArray(policy)) ? policy : undefined;
}

const KEY_NOT_FOUND = ['NotFoundException'] as const;

/** `{KeyId}` of the key the event named, for the lookups; `undefined` when it names none. */
function eventKeyInput(event: CloudTrailEvent): { KeyId: string } | undefined {
  const keyId = keyIdOf(event);
  return keyId !== undefined ? { KeyId: keyId } : undefined;
}

/** What DescribeKey says of the key now. */
interface KeyFact {
  readonly state?: string;
  readonly manager?: string;
}

/** DescribeKey: `{state, manager}` of the key now; `null` when it no longer exists. */
const keyLookup = defineLookup(kms, DescribeKeyCommand, {
  name: 'key',
  input: eventKeyInput,
  select: (output): KeyFact | null => {
    const metadata = field(output, 'KeyMetadata');
    if (typeof metadata !== 'object' || metadata === null) return null;
    const state = stringField(metadata, 'KeyState');
    const manager = stringField(metadata, 'KeyManager');
    return { ...(state !== undefined && { state }), ...(manager !== undefined && { manager }) };
  },
  notFoundCodes: KEY_NOT_FOUND,
});

/** ListResourceTags: the key's tags, `{tags}` (KMS lists them as `TagKey`/`TagValue`); `null` when the key no longer exists. */
const keyTagsLookup = defineLookup(kms, ListResourceTagsCommand, {
  name: 'keyTags',
  input: eventKeyInput,
  select: (output): { readonly tags: Tags } | null => {
    const list = field(output, 'Tags');
    const tags: Record<string, string> = {};
    for (const tag of Array.isArray(list) ? list : []) {
      const key = stringField(tag, 'TagKey');
      if (key !== undefined) tags[key] = stringField(tag, 'TagValue') ?? '';
    }
    return { tags };
  },
  notFoundCodes: KEY_NOT_FOUND,
});

/** ListAliases of the key (only for ScheduleKeyDeletion): `{aliases}`; `null` when the key no longer exists. */
const keyAliasesLookup = defineLookup(kms, ListAliasesCommand, {
  name: 'keyAliases',
  input: (event) => (event.detail.eventName === 'ScheduleKeyDeletion' ? eventKeyInput(event) : undefined),
  select: (output): { readonly aliases: readonly string[] } | null => {
    const list = field(output, 'Aliases');
    return { aliases: (Array.isArray(list) ? list : []).map((alias) => stringField(alias, 'AliasName')).filter((name): name is string => name !== undefined) };
  },
  notFoundCodes: KEY_NOT_FOUND,
});

const PENDING_DELETION: ReadonlySet<string> = new Set(['PendingDeletion', 'PendingReplicaDeletion']);

function isoDate(value: unknown): string | undefined {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  return typeof value === 'string' ? value : undefined;
}

/**
 * The key's state as `DescribeKey` answers now, against what a step needs:
 * `goal: not-pending-deletion` (CancelKeyDeletion) or `goal: enabled` (EnableKey).
 * A key that no longer exists cannot be saved or enabled: `changed`.
 */
export const keyStateProbe = defineProbe(kms, DescribeKeyCommand, {
  name: 'keyState',
  notFoundCodes: KEY_NOT_FOUND,
  judge(output, expected) {
    const key = String(expected['keyId']);
    const goal = expected['goal'];
    if (output === null) {
      return {
        state: 'changed',
        evidence:
          goal === 'not-pending-deletion'
            ? `key ${key} no longer exists (NotFoundException): its deletion has completed and cannot be cancelled`
            : `key ${key} no longer exists (NotFoundException): nothing to enable`,
      };
    }
    const state = stringField(output, 'KeyMetadata', 'KeyState');
    if (state === undefined) throw new Error('DescribeKey answered without KeyMetadata.KeyState');
    if (goal === 'not-pending-deletion') {
      if (!PENDING_DELETION.has(state)) return { state: 'done', evidence: `key ${key} is ${state}, no longer pending deletion` };
      const date = isoDate(field(output, 'KeyMetadata', 'DeletionDate'));
      return { state: 'needed', evidence: `key ${key} is still ${state}${date ? ` (deletion on ${date})` : ''}` };
    }
    if (goal === 'enabled') {
      if (state === 'Enabled') return { state: 'done', evidence: `key ${key} is Enabled` };
      if (state === 'Disabled') return { state: 'needed', evidence: `key ${key} is still Disabled` };
      const why = PENDING_DELETION.has(state) ? ' (its ScheduleKeyDeletion event is judged on its own)' : '';
      return { state: 'changed', evidence: `key ${key} is now ${state}, not Disabled as the event left it${why}: nothing enabled` };
    }
    throw new Error(`unknown goal ${JSON.stringify(goal)} for DescribeKey`);
  },
});

/** Automatic rotation as `GetKeyRotationStatus` answers now: on (done) or still off (needed). */
export const keyRotationProbe = defineProbe(kms, GetKeyRotationStatusCommand, {
  name: 'keyRotation',
  notFoundCodes: KEY_NOT_FOUND,
  judge(output, expected) {
    const key = String(expected['keyId']);
    if (output === null) return { state: 'changed', evidence: `key ${key} no longer exists (NotFoundException): nothing to rotate` };
    const enabled = field(output, 'KeyRotationEnabled');
    const period = field(output, 'RotationPeriodInDays');
    if (enabled === true) return { state: 'done', evidence: `automatic rotation of key ${key} is on${typeof period === 'number' ? ` (every ${period} days)` : ''}` };
    if (enabled === false) return { state: 'needed', evidence: `automatic rotation of key ${key} is still off` };
    throw new Error('GetKeyRotationStatus answered without KeyRotationEnabled');
  },
});

/** The document with its object keys sorted, as JSON text: the same policy whatever its whitespace or key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 of the canonical document: how a probe recognises the event's policy without carrying it twice. */
export function policyDigest(document: string | object): string | undefined {
  const raw = rawDocument(document);
  return raw === undefined ? undefined : createHash('sha256').update(canonicalJson(raw), 'utf8').digest('hex');
}

function publicGrantsOf(policy: string | object) {
  return publicGrants(policy, { confiningKeys: KMS_CONFINING_KEYS, maxPolicyCharacters: MAX_KEY_POLICY_CHARACTERS });
}

/**
 * The key policy as `GetKeyPolicy` answers now: no statement open to everyone
 * (done); still exactly the policy the event set (needed); or another policy
 * that is still open (changed: putting the proposed policy would overwrite a
 * newer change).
 */
export const keyPolicyProbe = defineProbe(kms, GetKeyPolicyCommand, {
  name: 'keyPolicy',
  notFoundCodes: KEY_NOT_FOUND,
  judge(output, expected) {
    const key = String(expected['keyId']);
    if (output === null) return { state: 'done', evidence: `key ${key} no longer exists (NotFoundException), so no policy lets anyone use it` };
    const policy = stringField(output, 'Policy');
    if (policy === undefined) throw new Error('GetKeyPolicy answered without a Policy');
    const analysis = publicGrantsOf(policy);
    if (!analysis.ok) throw new Error(`the key policy could not be analysed: ${analysis.error}`);
    if (analysis.open.length === 0) return { state: 'done', evidence: `the policy of key ${key} lets no one in without a confining condition` };
    const open = analysis.open.map(({ statement }) => statementLabel(statement)).join(', ');
    if (policyDigest(policy) === expected['policySha256']) {
      return { state: 'needed', evidence: `key ${key} still has the policy the event set: ${open} open to everyone` };
    }
    return {
      state: 'changed',
      evidence: `the policy of key ${key} changed since the event and ${open} still lets everyone in: the proposed policy would overwrite the newer one; nothing put`,
    };
  },
});

function unavailableReason(fact: Fact | undefined, operation: string): string {
  if (fact?.status === 'unavailable') return fact.reason;
  if (fact?.status === 'ok' && fact.value === null) return 'the key no longer exists (NotFoundException)';
  return `${operation} was not looked up`;
}

function keyTags(facts: Facts): Tags | undefined {
  return tagsFromFact(readFact(facts, keyTagsLookup));
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
function keyInUse(facts: Facts, settings: KmsKeyAtRiskSettings): InUse {
  const aliases = factValue(readFact(facts, keyAliasesLookup))?.aliases;
  if (aliases !== undefined && aliases.length > 0) return { verdict: 'in-use', why: `it has the alias${aliases.length > 1 ? 'es' : ''} ${aliases.join(', ')}` };
  const tags = keyTags(facts);
  const inUseTag = settings.inUseTagKeys.find((key) => tags !== undefined && Object.hasOwn(tags, key));
  if (inUseTag !== undefined) return { verdict: 'in-use', why: `it carries the in-use tag ${inUseTag}` };
  const gaps = [
    ...(aliases !== undefined ? [] : [`ListAliases: ${unavailableReason(readFact(facts, keyAliasesLookup), 'ListAliases')}`]),
    ...(settings.inUseTagKeys.length > 0 && tags === undefined ? [`ListResourceTags: ${unavailableReason(readFact(facts, keyTagsLookup), 'ListResourceTags')}`] : []),
  ];
  return gaps.length > 0 ? { verdict: 'unknown', why: gaps.join('; ') } : { verdict: 'unused' };
}

function keyStateCheck(keyId: string, goal: 'not-pending-deletion' | 'enabled') {
  return checkedBothWays(
    keyStateProbe.check({ KeyId: keyId }, { keyId, goal }, goal === 'enabled' ? `key ${keyId} is still Disabled` : `key ${keyId} is still pending deletion`),
  );
}

/** On the account's keys in the Region (the key policy must let IAM policies grant them, as the default key policy does). */
const cancelKeyDeletion = defineAction(kms, CancelKeyDeletionCommand);
const enableKey = defineAction(kms, EnableKeyCommand);
const enableKeyRotation = defineAction(kms, EnableKeyRotationCommand);
const scheduleKeyDeletion = defineUndo(kms, ScheduleKeyDeletionCommand);
const disableKey = defineUndo(kms, DisableKeyCommand);
const disableKeyRotation = defineUndo(kms, DisableKeyRotationCommand);
const restoreKeyPolicy = defineUndo(kms, PutKeyPolicyCommand);
/** The proposed key policy: a person puts it (or approves it); the function is never granted it. */
const proposedKeyPolicy = defineProposedWrite(kms, PutKeyPolicyCommand);

/** CancelKeyDeletion; its undo schedules the deletion again with the event's waiting period. */
function planCancelDeletion(keyId: string, window: number): PlanStep {
  return cancelKeyDeletion.step(
    { KeyId: keyId },
    {
      reason: `Cancel the scheduled deletion of key ${keyId}. The key is then Disabled: enabling it is proposed, not applied, because the bot cannot know whether it was enabled before.`,
      undo: scheduleKeyDeletion.undo(
        { KeyId: keyId, PendingWindowInDays: window },
        `Schedule the deletion of key ${keyId} again with the ${window}-day waiting period the event chose: this restores the caller's decision, and the key stays recoverable (CancelKeyDeletion) until the period ends.`,
      ),
      // KMS answers KMSInvalidStateException when the key is no longer pending deletion; the executor believes it only after DescribeKey agrees.
      alreadyDoneCodes: ['KMSInvalidStateException'],
      ...keyStateCheck(keyId, 'not-pending-deletion'),
    },
  );
}

function proposeEnable(keyId: string): PlanStep {
  return enableKey.step(
    { KeyId: keyId },
    {
      reason: `PROPOSAL, not applied: enable key ${keyId} again if it was enabled before its deletion was scheduled; until then nothing can decrypt with it.`,
      undo: disableKey.undo({ KeyId: keyId }, `Disable key ${keyId} again.`),
      ...keyStateCheck(keyId, 'enabled'),
    },
  );
}

function planEnable(keyId: string): PlanStep {
  return enableKey.step(
    { KeyId: keyId },
    {
      reason: `Enable key ${keyId} again, so data encrypted under it can be decrypted.`,
      undo: disableKey.undo({ KeyId: keyId }, `Disable key ${keyId} again, as the event did.`),
      ...keyStateCheck(keyId, 'enabled'),
    },
  );
}

function planEnableRotation(keyId: string): PlanStep {
  return enableKeyRotation.step(
    { KeyId: keyId },
    {
      reason: `Turn automatic rotation of key ${keyId} back on (KMS's default period of 365 days; set another with RotationPeriodInDays if the key had one).`,
      undo: disableKeyRotation.undo({ KeyId: keyId }, `Turn automatic rotation of key ${keyId} off again, as the event did.`),
      ...checkedBothWays(keyRotationProbe.check({ KeyId: keyId }, { keyId }, `key ${keyId} still has automatic rotation off`)),
    },
  );
}

/** PutKeyPolicy without the open statements; `undefined` when none would remain (a person must write the policy). */
function proposeKeyPolicyFix(keyId: string, policy: string | object, open: readonly number[], openLabels: readonly string[]): PlanStep | undefined {
  const digest = policyDigest(policy);
  const fixed = documentWithout(policy, new Set(open));
  if (digest === undefined || fixed === undefined) return undefined;
  return proposedKeyPolicy.step(
    { KeyId: keyId, PolicyName: POLICY_NAME, Policy: fixed },
    {
      reason: `PROPOSAL, not applied: replace the policy of key ${keyId} with the same document minus statement${open.length > 1 ? 's' : ''} ${open.join(', ')}. Check that the remaining statements still let your administrators manage the key before you apply it.`,
      undo: restoreKeyPolicy.undo({ KeyId: keyId, PolicyName: POLICY_NAME, Policy: documentText(policy) }, `Put the policy of key ${keyId} back exactly as the event set it.`),
      ...checkedBothWays(
        keyPolicyProbe.check(
          { KeyId: keyId, PolicyName: POLICY_NAME },
          { keyId, policySha256: digest },
          `key ${keyId} still has the policy the event set, with ${openLabels.join(', ')} open to everyone`,
        ),
      ),
    },
  );
}

/** The gravest finding each event can carry: how grave it is when the bot cannot inspect one. */
const CEILING: Readonly<Record<string, Severity>> = { ScheduleKeyDeletion: 'critical', PutKeyPolicy: 'critical', DisableKey: 'high', DisableKeyRotation: 'medium' };

function evaluateKeyPolicy(event: CloudTrailEvent, keyId: string, resources: string[], exempt: () => string | undefined): Verdict {
  const policy = keyPolicyOf(event);
  if (policy === undefined) {
    return { kind: 'skipped', reason: `the event carries no policy document for key ${keyId} (requestParameters.policy is absent or not JSON), so what it set cannot be inspected`, resources, severity: 'high' };
  }
  const analysis = publicGrantsOf(policy);
  if (!analysis.ok) return { kind: 'skipped', reason: `the policy of key ${keyId} could not be analysed: ${analysis.error}`, resources, severity: 'high' };
  if (analysis.open.length === 0) {
    return { kind: 'compliant', summary: `key ${keyId}: no statement of the key policy lets everyone in without a confining condition${confinedNote(analysis.confined)}`, resources };
  }
  const findings = openFindings(analysis.open, 'key-policy-public', 'critical', `policy of key ${keyId}`);
  const reason = exempt();
  if (reason) return { kind: 'exempt', reason, resources, findings };
  const open = analysis.open.map(({ statement }) => statement.index);
  const labels = analysis.open.map(({ statement }) => statementLabel(statement));
  const proposal = proposeKeyPolicyFix(keyId, policy, open, labels);
  return {
    kind: 'violation',
    summary: `key ${keyId}: ${labels.join(', ')} of the key policy ${open.length === 1 ? 'lets' : 'let'} everyone use the key; ${proposal ? 'a fixed policy is proposed' : 'every statement is open, so a person must write the policy'}`,
    resources,
    findings,
    plan: [],
    ...(proposal && { proposal: [proposal] }),
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<KmsKeyAtRiskSettings>): Verdict {
  const { settings } = context;
  const name = event.detail.eventName;
  const reference = keyReferenceOf(event);
  if (!reference.ok) {
    return { kind: 'skipped', reason: `the event names no KMS key the bot can inspect: ${reference.problem}`, ...(CEILING[name] ? { severity: CEILING[name] } : {}) };
  }
  const { keyId } = reference;
  const resources = [keyArnOf(event, keyId)];
  if (factValue(readFact(facts, keyLookup))?.manager === 'AWS') {
    return { kind: 'compliant', summary: `key ${keyId} is an AWS managed key: AWS manages its state, rotation and policy, and no one in the account can change them`, resources };
  }
  const exempt = () => {
    const reason = exemptionReason(keyTags(facts), context.config);
    return reason ? `key ${keyId} is ${reason}` : undefined;
  };

  switch (name) {
    case 'PutKeyPolicy':
      return evaluateKeyPolicy(event, keyId, resources, exempt);
    case 'ScheduleKeyDeletion': {
      const window = pendingWindowOf(event);
      const use = keyInUse(facts, settings);
      if (use.verdict === 'unused') {
        return { kind: 'compliant', summary: `key ${keyId}: deletion in ${window} days of a key with no alias and no in-use tag`, resources };
      }
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
      const reason = exempt();
      if (reason) return { kind: 'exempt', reason, resources, findings: [finding] };
      return {
        kind: 'violation',
        summary:
          use.verdict === 'in-use'
            ? `key ${keyId}: deletion scheduled in ${window} days although ${use.why}`
            : `key ${keyId}: deletion scheduled in ${window} days; whether it is in use is unknown (facts unavailable), so it is treated as in use`,
        resources,
        findings: [finding],
        plan: [planCancelDeletion(keyId, window)],
        proposal: [proposeEnable(keyId)],
      };
    }
    case 'DisableKey': {
      const findings: Finding[] = [
        { code: 'key-disabled', severity: 'high', message: `Key ${keyId} was disabled: nothing encrypted under it can be decrypted until it is enabled again.`, subject: keyId },
      ];
      const reason = exempt();
      if (reason) return { kind: 'exempt', reason, resources, findings };
      return { kind: 'violation', summary: `key ${keyId} was disabled`, resources, findings, plan: [planEnable(keyId)] };
    }
    case 'DisableKeyRotation': {
      const findings: Finding[] = [
        { code: 'key-rotation-disabled', severity: 'medium', message: `Automatic rotation of key ${keyId} was turned off, so its key material is no longer renewed.`, subject: keyId },
      ];
      const reason = exempt();
      if (reason) return { kind: 'exempt', reason, resources, findings };
      return { kind: 'violation', summary: `key ${keyId}: automatic rotation turned off`, resources, findings, plan: [planEnableRotation(keyId)] };
    }
    default:
      return { kind: 'skipped', reason: `${name} is not a KMS call this rule judges`, resources };
  }
}

export const kmsKeyAtRisk = defineRule<KmsKeyAtRiskSettings>({
  id: 'kms-key-at-risk',
  title: 'KMS key scheduled for deletion, disabled, not rotated or open to everyone',
  severity: 'critical',
  rationale:
    'A KMS key guards every dataset, volume and model artifact encrypted under it: deleting a key in use destroys that data for good, disabling it makes the data unreadable, an unrotated key stays exposed longer, and a key policy open to everyone lets any AWS account use or manage it.',
  triggers: [{ eventSource: 'kms.amazonaws.com', eventNames: ['ScheduleKeyDeletion', 'DisableKey', 'DisableKeyRotation', 'PutKeyPolicy'] }],
  actions: [cancelKeyDeletion, enableKey, enableKeyRotation],
  proposals: [proposedKeyPolicy],
  lookups: [keyLookup, keyTagsLookup, keyAliasesLookup],
  probes: [keyStateProbe, keyRotationProbe, keyPolicyProbe],
  settings: KmsKeyAtRiskSettingsSchema,
  evaluate,
});
