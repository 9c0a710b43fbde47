/**
 * iam-policy-version-admin: a customer-managed policy whose new default
 * version grants admin, service wildcards on every resource or a path to
 * privilege escalation.
 *
 * Triggers: `CreatePolicyVersion` with `setAsDefault` (the document is in the
 * event, as JSON text or an object) and `SetDefaultPolicyVersion` (the
 * document is read with `GetPolicyVersion`), from `iam.amazonaws.com`; IAM
 * events reach EventBridge in us-east-1 only, where the deployment puts this
 * rule. A version created without `setAsDefault` is not in effect and is judged
 * when it becomes the default. A record whose document CloudTrail omitted is a
 * high-severity "could not inspect".
 *
 * Changes: makes an earlier version the default again (`SetDefaultPolicyVersion`),
 * but only one the same analyzer finds clean: IAM does not record which version
 * was the default before, so the rule reads `ListPolicyVersions`, counts as
 * earlier versions those created before the violating version (for
 * `CreatePolicyVersion`) or before the call (for `SetDefaultPolicyVersion`),
 * and reads their documents (`GetPolicyVersion`, newest first, up to the first
 * clean one):
 * - exactly one earlier version, and it is clean: it was the default, and the
 *   plan restores it;
 * - several, and one is clean: the most recently created clean one is the
 *   likeliest, but a version can be created without becoming the default, so it
 *   is only proposed unless the `rollbackWhenAmbiguous` setting is true;
 * - none, or every earlier version grants as much: the plan contains instead,
 *   detaching the policy from every role, user and group it is attached to
 *   (`ListEntitiesForPolicy`), one `Detach…Policy` per identity, and says why;
 * - the versions or their documents cannot be read (offline replay): a rollback
 *   to a version a person picks is proposed.
 * The rollback runs only while the violating version is still the default
 * (`GetPolicy`; the target already the default: done; another version: stale)
 * and is verified by reading the default again; each detach runs only while
 * the violating version is still the default, and is verified by reading the
 * identity's attachments. The undo makes the violating version the default
 * again, or attaches the policy again.
 * Only proposes: the rollback in the ambiguous and unknown cases.
 * Never touches: any version's content (no version is ever deleted), policies
 * carrying the exemption tag, AWS managed policies (they cannot be versioned by
 * customers), the bot's own roles (never detached from), and a policy whose
 * default has changed again since the event.
 * Permissions: `iam:SetDefaultPolicyVersion` on the account's policies;
 * `iam:DetachRolePolicy`, `iam:DetachUserPolicy`, `iam:DetachGroupPolicy` on
 * its roles, users and groups; lookups `iam:GetPolicy` (tags),
 * `iam:ListPolicyVersions`, `iam:GetPolicyVersion`, `iam:ListEntitiesForPolicy`;
 * reads before and after `iam:GetPolicy` and `iam:ListAttached{Role,User,Group}Policies`.
 */
import { GetPolicyVersionCommand, ListEntitiesForPolicyCommand, SetDefaultPolicyVersionCommand } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact } from '../../engine/exemption.js';
import { analyzePermissionsPolicy, IAM_POLICY_SIZE_LIMITS, type PolicyAnalysis } from '../../engine/policy/analyzer.js';
import {
  unknownValue,
  type Fact,
  type Facts,
  type Finding,
  type Plan,
  type PlanStep,
  type RuleContext,
  type UnknownValue,
  type Verdict,
} from '../../engine/types.js';
import { accountOf, defineAction, defineLookup, defineRule, defineUndo, factValue, NO_SUCH_ENTITY, readFact, type KitLookup } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';
import { DETACH_POLICY, detachStep } from './actions.js';
import {
  belowNote,
  describeFindings,
  factGap,
  identityLabel,
  isBotRoleName,
  MinSeveritySchema,
  policyNameOf,
  recordedDocument,
  requestOmitted,
  splitBySeverity,
  uninspectedDocument,
  verdictFindings,
  type Identity,
} from './common.js';
import {
  ENTITIES_PAGE,
  isCustomerManaged,
  managedPolicyLookup,
  newDefaultVersionLookup,
  policyVersionsLookup,
  selectPolicyEntities,
  selectPolicyVersion,
  type PolicyEntities,
  type PolicyVersionFact,
  type PolicyVersionInfo,
} from './lookups.js';
import { ALL_ATTACHMENT_PROBES, attachmentCheck, policyDefaultCheck, policyDefaultProbe } from './probes.js';

const IamPolicyVersionAdminSettingsSchema = z.strictObject({
  /** Analyzer findings below this severity are reported, not acted on; an earlier version is a rollback target only with none at or above it. */
  minSeverity: MinSeveritySchema,
  /**
   * With several earlier versions IAM does not say which one was the default:
   * `true` applies the most recently created clean one anyway, `false` only proposes it.
   */
  rollbackWhenAmbiguous: z._default(z.boolean(), false),
});
type IamPolicyVersionAdminSettings = z.infer<typeof IamPolicyVersionAdminSettingsSchema>;

/** A policy has at most five versions (IAM and AWS STS quotas), so at most four came before the violating one. */
const MAX_EARLIER_VERSIONS = 4;

function versionNumber(versionId: string): number {
  const match = /^v(\d+)$/i.exec(versionId);
  return match?.[1] ? Number(match[1]) : Number.NaN;
}

/** Newest first: by creation time, then by version number (IAM numbers versions in creation order). */
function newestFirst(a: PolicyVersionInfo, b: PolicyVersionInfo): number {
  if (a.createDate && b.createDate && a.createDate !== b.createDate) return a.createDate < b.createDate ? 1 : -1;
  return (versionNumber(b.versionId) || 0) - (versionNumber(a.versionId) || 0);
}

type Trigger = 'CreatePolicyVersion' | 'SetDefaultPolicyVersion';

/**
 * The versions that may have been the default before `violating` became it,
 * newest first. For `CreatePolicyVersion` they are those created before the new
 * version; for `SetDefaultPolicyVersion` those that existed at the call.
 */
export function earlierVersions(versions: readonly PolicyVersionInfo[], violating: string, trigger: Trigger, eventTime: string): PolicyVersionInfo[] {
  const others = versions.filter((version) => version.versionId !== violating);
  const created = versions.find((version) => version.versionId === violating);
  const callTime = new Date(eventTime);
  const existedAtCall = (version: PolicyVersionInfo): boolean =>
    version.createDate === undefined || Number.isNaN(callTime.getTime()) || new Date(version.createDate) <= callTime;
  const candidates =
    trigger === 'CreatePolicyVersion'
      ? others.filter((version) => (created ? newestFirst(version, created) > 0 : versionNumber(version.versionId) < versionNumber(violating)))
      : others.filter(existedAtCall);
  return candidates.sort(newestFirst);
}

function triggerOf(event: CloudTrailEvent): Trigger {
  return event.detail.eventName === 'CreatePolicyVersion' ? 'CreatePolicyVersion' : 'SetDefaultPolicyVersion';
}

/**
 * The settings where only an untyped context reaches (a lookup's input): the
 * context holds them validated and defaulted already, so the schema gives
 * them back typed as they are; the defaults when a context carries none.
 */
function settingsOf(context: RuleContext | undefined): IamPolicyVersionAdminSettings {
  const parsed = IamPolicyVersionAdminSettingsSchema.safeParse(context?.settings);
  return parsed.success ? parsed.data : IamPolicyVersionAdminSettingsSchema.parse({});
}

function analyse(document: string | object): PolicyAnalysis {
  return analyzePermissionsPolicy(document, { maxPolicyCharacters: IAM_POLICY_SIZE_LIMITS.managedPolicy });
}

/** The version the event made the default: its id (when the record says) and its document. */
interface Violating {
  readonly versionId?: string;
  readonly document: string | object;
}

type Subject = { readonly kind: 'violating'; readonly version: Violating } | { readonly kind: 'done'; readonly verdict: Verdict };

function violatingVersion(event: CloudTrailEvent, facts: Facts, policyArn: string, resources: readonly string[]): Subject {
  const params = event.detail.requestParameters;
  const name = policyNameOf(policyArn);
  if (event.detail.eventName === 'CreatePolicyVersion') {
    const versionId = stringField(event.detail.responseElements, 'policyVersion', 'versionId');
    const setAsDefault = field(params, 'setAsDefault');
    if (setAsDefault !== true && setAsDefault !== 'true') {
      return {
        kind: 'done',
        verdict: {
          kind: 'compliant',
          summary: `policy ${name}: version ${versionId ?? '(new)'} was created without setAsDefault, so it is not in effect; it is judged if it becomes the default`,
          resources,
        },
      };
    }
    const recorded = recordedDocument(params, 'policyDocument');
    const what = `the new default version${versionId !== undefined ? ` ${versionId}` : ''} of policy ${name}`;
    if (recorded.kind === 'omitted') return { kind: 'done', verdict: uninspectedDocument(what, recorded.why, resources) };
    if (recorded.kind === 'absent') return { kind: 'done', verdict: uninspectedDocument(what, 'the record carries no document', resources) };
    return { kind: 'violating', version: { ...(versionId !== undefined && { versionId }), document: recorded.value } };
  }
  const versionId = stringField(params, 'versionId');
  if (versionId === undefined) return { kind: 'done', verdict: { kind: 'skipped', reason: `the event names no version of ${name}`, resources } };
  const fact = readFact(facts, newDefaultVersionLookup);
  if (fact?.status === 'ok' && fact.value === null) {
    // IAM never deletes the default version (DeletePolicyVersion), so a deleted version is no longer in effect.
    return {
      kind: 'done',
      verdict: { kind: 'skipped', severity: 'low', reason: `version ${versionId} of ${name} no longer exists, so what it granted cannot be read; a deleted version is not the default`, resources },
    };
  }
  const document = factValue(fact)?.document;
  if (document === undefined) {
    return {
      kind: 'done',
      verdict: { kind: 'skipped', reason: `version ${versionId} of ${name} could not be read (${factGap(fact, 'GetPolicyVersion')}), so what it grants is unknown`, resources },
    };
  }
  return { kind: 'violating', version: { versionId, document } };
}

/**
 * The violating version, when the rule will plan for it: a known version the
 * analyzer flags, of a policy that is not exempt. Lookups that only serve the
 * plan read nothing otherwise.
 */
function actedOn(event: CloudTrailEvent, facts: Facts, context: RuleContext | undefined): { policyArn: string; versionId: string } | undefined {
  const settings = settingsOf(context);
  const policyArn = stringField(event.detail.requestParameters, 'policyArn');
  if (!isCustomerManaged(policyArn)) return undefined;
  if (context !== undefined && exemptionReason(tagsFromFact(readFact(facts, managedPolicyLookup)), context.config) !== undefined) return undefined;
  const subject = violatingVersion(event, facts, policyArn, []);
  if (subject.kind !== 'violating' || subject.version.versionId === undefined) return undefined;
  const analysis = analyse(subject.version.document);
  if (!analysis.ok || splitBySeverity(analysis.findings, settings.minSeverity).acted.length === 0) return undefined;
  return { policyArn, versionId: subject.version.versionId };
}

/** What an earlier version grants, once its document was read. */
type Candidate =
  | { readonly kind: 'clean'; readonly versionId: string }
  | { readonly kind: 'admin'; readonly versionId: string; readonly findings: readonly Finding[] }
  | { readonly kind: 'unknown'; readonly versionId: string; readonly why: string };

function assessCandidate(policyArn: string, version: PolicyVersionInfo, fact: Fact<PolicyVersionFact | null> | undefined, settings: IamPolicyVersionAdminSettings): Candidate {
  const { versionId } = version;
  const value = factValue(fact);
  const document = value?.document;
  if (document === undefined || value?.versionId !== versionId) return { kind: 'unknown', versionId, why: factGap(fact, 'GetPolicyVersion') };
  const analysis = analyse(document);
  if (!analysis.ok) return { kind: 'unknown', versionId, why: `it could not be analysed: ${analysis.error}` };
  const { acted } = splitBySeverity(analysis.findings, settings.minSeverity);
  if (acted.length === 0) return { kind: 'clean', versionId };
  return { kind: 'admin', versionId, findings: verdictFindings(acted, analysis.statements, `policy ${policyNameOf(policyArn)} ${versionId}`) };
}

/** What the rule can do about the violating version. */
type Choice =
  | { readonly kind: 'gone' }
  | { readonly kind: 'unknown'; readonly why: string }
  | { readonly kind: 'rollback'; readonly target: string; readonly earlier: readonly string[]; readonly passedOver: readonly Candidate[] }
  | { readonly kind: 'contain'; readonly why: string };

function versionsOf(facts: Facts): readonly PolicyVersionInfo[] | undefined {
  const versions = factValue(readFact(facts, policyVersionsLookup))?.versions;
  return Array.isArray(versions) ? versions : undefined;
}

function policyGone(facts: Facts): boolean {
  return [readFact(facts, managedPolicyLookup), readFact(facts, policyVersionsLookup)].some((fact) => fact?.status === 'ok' && fact.value === null);
}

function describeCandidate(candidate: Candidate): string {
  switch (candidate.kind) {
    case 'clean':
      return `${candidate.versionId} grants nothing the rule acts on`;
    case 'admin':
      return `${candidate.versionId} ${describeFindings(candidate.findings)}`;
    case 'unknown':
      return `${candidate.versionId} could not be read (${candidate.why})`;
  }
}

/** The earlier versions, judged newest first up to the first clean one (the facts hold only those). */
function candidatesOf(event: CloudTrailEvent, facts: Facts, settings: IamPolicyVersionAdminSettings, policyArn: string, violating: string): { earlier: PolicyVersionInfo[]; judged: Candidate[] } | undefined {
  const versions = versionsOf(facts);
  if (versions === undefined) return undefined;
  const earlier = earlierVersions(versions, violating, triggerOf(event), event.detail.eventTime);
  const judged: Candidate[] = [];
  for (const [index, version] of earlier.entries()) {
    const candidate =
      index < MAX_EARLIER_VERSIONS ? assessCandidate(policyArn, version, earlierVersionFact(facts, index), settings) : ({ kind: 'unknown', versionId: version.versionId, why: 'not read' } as const);
    judged.push(candidate);
    if (candidate.kind === 'clean') break;
  }
  return { earlier, judged };
}

function choose(event: CloudTrailEvent, facts: Facts, settings: IamPolicyVersionAdminSettings, policyArn: string, violating: string): Choice {
  if (policyGone(facts)) return { kind: 'gone' };
  const candidates = candidatesOf(event, facts, settings, policyArn, violating);
  if (candidates === undefined) return { kind: 'unknown', why: `its versions could not be listed (${factGap(readFact(facts, policyVersionsLookup), 'ListPolicyVersions')})` };
  const { earlier, judged } = candidates;
  const clean = judged.find((candidate) => candidate.kind === 'clean');
  if (clean) return { kind: 'rollback', target: clean.versionId, earlier: earlier.map((version) => version.versionId), passedOver: judged.filter((candidate) => candidate !== clean) };
  if (earlier.length === 0) return { kind: 'contain', why: 'no earlier version exists to roll back to' };
  if (judged.every((candidate) => candidate.kind === 'admin')) return { kind: 'contain', why: `every earlier version also grants admin: ${judged.map(describeCandidate).join('; ')}` };
  return { kind: 'unknown', why: `no earlier version could be shown to grant less (${judged.map(describeCandidate).join('; ')})` };
}

/** GetPolicyVersion of the n-th earlier version (newest first), read only while every newer one grants as much as the violating version. */
function earlierVersionLookup(index: number): KitLookup<PolicyVersionFact | null> {
  return defineLookup(iam, GetPolicyVersionCommand, {
    name: `earlierVersion${index + 1}`,
    input: (event, earlier, context) => {
      const subject = actedOn(event, earlier, context);
      if (subject === undefined) return undefined;
      const candidates = candidatesOf(event, earlier, settingsOf(context), subject.policyArn, subject.versionId);
      const version = candidates?.earlier[index];
      // A newer clean version is the rollback target: anything older is not needed.
      if (version === undefined || candidates?.judged.slice(0, index).some((candidate) => candidate.kind === 'clean')) return undefined;
      return { PolicyArn: subject.policyArn, VersionId: version.versionId };
    },
    select: selectPolicyVersion,
    notFoundCodes: NO_SUCH_ENTITY,
  });
}

const earlierVersionLookups = Array.from({ length: MAX_EARLIER_VERSIONS }, (_, index) => earlierVersionLookup(index));

/** The n-th earlier version's document, newest first: `undefined` when it was not read. */
function earlierVersionFact(facts: Facts, index: number): Fact<PolicyVersionFact | null> | undefined {
  const lookup = earlierVersionLookups[index];
  return lookup === undefined ? undefined : readFact(facts, lookup);
}

/** ListEntitiesForPolicy, read only when the plan contains: who holds the policy now. */
const policyEntitiesLookup = defineLookup(iam, ListEntitiesForPolicyCommand, {
  name: 'policyEntities',
  input: (event, earlier, context) => {
    const subject = actedOn(event, earlier, context);
    if (subject === undefined || choose(event, earlier, settingsOf(context), subject.policyArn, subject.versionId).kind !== 'contain') return undefined;
    return { PolicyArn: subject.policyArn, MaxItems: ENTITIES_PAGE };
  },
  select: selectPolicyEntities,
  notFoundCodes: NO_SUCH_ENTITY,
});

/** SetDefaultPolicyVersion: the rollback, and its undo (the violating version the default again). */
const setDefaultVersion = defineAction(iam, SetDefaultPolicyVersionCommand);
const setDefaultAgain = defineUndo(iam, SetDefaultPolicyVersionCommand);

/**
 * Makes `target` the default version, only while the violating version still
 * is (the target already the default: done), and reads the default again
 * afterwards; the undo makes the violating version the default again. No
 * version is deleted.
 */
function planSetDefault(policyArn: string, target: string | UnknownValue, violating: string, reason: string): PlanStep {
  const name = policyNameOf(policyArn);
  const known = typeof target === 'string' ? target : undefined;
  return setDefaultVersion.step(
    { PolicyArn: policyArn, VersionId: target },
    {
      reason: `${reason} Version ${violating} is kept, not deleted.`,
      undo: setDefaultAgain.undo({ PolicyArn: policyArn, VersionId: violating }, `Make ${violating} the default version of ${name} again.`),
      precondition: policyDefaultCheck(policyArn, violating, known),
      // A version a person fills in is verified by the violating version no longer being the default.
      verification: known !== undefined ? policyDefaultCheck(policyArn, violating, known) : policyDefaultCheck(policyArn, violating, undefined, true),
    },
  );
}

/**
 * Contains the policy: one detach per identity holding it, each only while the
 * violating version is still the default (another default: stale; the policy
 * gone: done), each verified by reading that identity's attachments; an
 * identity it is no longer attached to answers NoSuchEntity, which that read
 * confirms. The undo attaches it again.
 */
function planDetachEverywhere(policyArn: string, violating: string, identities: readonly Identity[], why: string): Plan {
  const name = policyNameOf(policyArn);
  return identities.map((identity) =>
    detachStep(
      identity,
      policyArn,
      {
        reason: `Detach ${name} from ${identityLabel(identity)}: ${why}. The policy and its versions are not changed.`,
        undoReason: `Attach ${name} to ${identityLabel(identity)} again.`,
      },
      { precondition: policyDefaultCheck(policyArn, violating), verification: attachmentCheck(identity, policyArn, 'detached') },
    ),
  );
}

function entitiesOf(facts: Facts): PolicyEntities | undefined {
  const value = factValue(readFact(facts, policyEntitiesLookup));
  return typeof value === 'object' && value !== null && Array.isArray(value.roles) ? value : undefined;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

type Base = { readonly kind: 'violation'; readonly resources: readonly string[]; readonly findings: readonly Finding[] };

/** The containment verdict: detach from every identity but the bot's own roles, and say why. */
function containment(event: CloudTrailEvent, facts: Facts, context: RuleContext, base: Base, grants: string, policyArn: string, violating: string, why: string): Verdict {
  const name = policyNameOf(policyArn);
  const entities = entitiesOf(facts);
  if (entities === undefined) {
    return {
      ...base,
      summary: `${grants}; ${why}, and the identities it is attached to could not be listed (${factGap(readFact(facts, policyEntitiesLookup), 'ListEntitiesForPolicy')}): a person must detach it or make a compliant version the default`,
      plan: [],
    };
  }
  const account = accountOf(event);
  const botRoles = entities.roles.filter((role) => isBotRoleName(account, role, context.botRoles ?? []));
  const identities: Identity[] = [
    ...entities.roles.filter((role) => !botRoles.includes(role)).map((name): Identity => ({ kind: 'role', name })),
    ...entities.users.map((name): Identity => ({ kind: 'user', name })),
    ...entities.groups.map((name): Identity => ({ kind: 'group', name })),
  ];
  const notes = [
    botRoles.length > 0 ? `never detached from the bot's own role${botRoles.length > 1 ? 's' : ''} ${botRoles.join(', ')}: a person must` : undefined,
    entities.truncated ? `ListEntitiesForPolicy has more than ${ENTITIES_PAGE.toLocaleString('en-US')} identities to list: those beyond are not detached` : undefined,
  ].filter((note) => note !== undefined);
  const extra = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  if (identities.length === 0) {
    return {
      ...base,
      summary: `${grants}; ${why}, and no role, user or group the bot may detach it from holds it now${extra}: a person must make a compliant version the default`,
      plan: [],
    };
  }
  const listed = identities.slice(0, 5).map(identityLabel).join(', ');
  const more = identities.length > 5 ? ` and ${identities.length - 5} more` : '';
  return {
    ...base,
    summary: `${grants}; ${why}, so it is not rolled back; plan: detach ${name} from ${plural(identities.length, 'identity', 'identities')} (${listed}${more})${extra}`,
    plan: planDetachEverywhere(policyArn, violating, identities, `${violating} of ${name} is the default and grants admin, and ${why}`),
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<IamPolicyVersionAdminSettings>): Verdict {
  const { settings } = context;
  const policyArn = stringField(event.detail.requestParameters, 'policyArn');
  if (!isCustomerManaged(policyArn)) {
    const omitted = requestOmitted(event);
    if (omitted !== undefined) {
      return uninspectedDocument(`the policy version this ${event.detail.eventName} call made the default`, `${omitted}, so neither the document nor the policy is in the record`);
    }
    return { kind: 'skipped', reason: 'the event names no customer-managed policy' };
  }
  const name = policyNameOf(policyArn);
  const resources = [policyArn];
  const subject = violatingVersion(event, facts, policyArn, resources);
  if (subject.kind === 'done') return subject.verdict;
  const { versionId, document } = subject.version;
  const where = `policy ${name} ${versionId ?? '(new version)'}`;

  const analysis = analyse(document);
  if (!analysis.ok) return { kind: 'skipped', reason: `${where} could not be analysed: ${analysis.error}`, resources };
  const { acted, below } = splitBySeverity(analysis.findings, settings.minSeverity);
  if (acted.length === 0) {
    return {
      kind: 'compliant',
      summary: `${where} (now the default) grants no admin, service-wide or escalation permission at or above ${settings.minSeverity}${belowNote(below, settings.minSeverity)}`,
      resources,
    };
  }

  const findings = verdictFindings(acted, analysis.statements, where);
  const exempt = exemptionReason(tagsFromFact(readFact(facts, managedPolicyLookup)), context.config);
  if (exempt) return { kind: 'exempt', reason: `policy ${name} is ${exempt}`, resources, findings };

  const grants = `${where} became the default and grants ${describeFindings(findings)}`;
  const base: Base = { kind: 'violation', resources, findings };
  if (versionId === undefined) {
    return { ...base, summary: `${grants}; the event does not say which version was created, so a person must restore the previous default`, plan: [] };
  }
  // Whether it is still the default is read just before any change: the plan speaks of the present.
  const choice = choose(event, facts, settings, policyArn, versionId);
  switch (choice.kind) {
    case 'gone':
      return { ...base, summary: `${grants}; policy ${name} no longer exists (NoSuchEntity), so no identity holds this version now: nothing to roll back`, plan: [] };
    case 'rollback': {
      const passed = choice.passedOver.length > 0 ? ` (newer: ${choice.passedOver.map(describeCandidate).join('; ')})` : '';
      if (choice.earlier.length === 1) {
        return {
          ...base,
          summary: `${grants}; plan: roll back to ${choice.target}, the default before it, which grants no admin`,
          plan: [
            planSetDefault(
              policyArn,
              choice.target,
              versionId,
              `Make ${choice.target} the default version of ${name} again: it is the only version that existed before ${versionId} became the default, so it was the default then, and it grants nothing at or above ${settings.minSeverity}.`,
            ),
          ],
        };
      }
      const why = `${choice.target} is the most recently created of the versions that existed before (${choice.earlier.join(', ')}) that grants nothing at or above ${settings.minSeverity}${passed}; IAM does not record which of them was the default.`;
      const step = planSetDefault(policyArn, choice.target, versionId, `Make ${choice.target} the default version of ${name} again: ${why}`);
      const count = plural(choice.earlier.length, 'earlier version', 'earlier versions');
      return settings.rollbackWhenAmbiguous
        ? { ...base, summary: `${grants}; plan: roll back to ${choice.target}, the most recent clean one of ${count} (rollbackWhenAmbiguous)`, plan: [step] }
        : {
            ...base,
            summary: `${grants}; proposal: roll back to ${choice.target}, the most recent clean one of ${count} (not applied: IAM does not record which was the default)`,
            plan: [],
            proposal: [step],
          };
    }
    case 'contain':
      return containment(event, facts, context, base, grants, policyArn, versionId, choice.why);
    case 'unknown':
      return {
        ...base,
        summary: `${grants}; no rollback can be planned because ${choice.why}; a person must pick the version`,
        plan: [],
        proposal: [
          planSetDefault(
            policyArn,
            unknownValue(`the version of ${name} that was the default before ${versionId}, once checked to grant no admin (aws iam list-policy-versions --policy-arn ${policyArn})`),
            versionId,
            `Make the previous default version of ${name} the default again.`,
          ),
        ],
      };
  }
}

export const iamPolicyVersionAdmin = defineRule<IamPolicyVersionAdminSettings>({
  id: 'iam-policy-version-admin',
  title: 'Managed policy default version grants admin or privilege escalation',
  severity: 'critical',
  rationale:
    'Making a new version of a customer-managed policy the default changes the permissions of every identity it is attached to at once; a version that allows everything, or the IAM actions that grant more, is a classic privilege-escalation step.',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['CreatePolicyVersion', 'SetDefaultPolicyVersion'] }],
  actions: [setDefaultVersion, DETACH_POLICY.role, DETACH_POLICY.user, DETACH_POLICY.group],
  lookups: [managedPolicyLookup, policyVersionsLookup, newDefaultVersionLookup, ...earlierVersionLookups, policyEntitiesLookup],
  probes: [policyDefaultProbe, ...ALL_ATTACHMENT_PROBES],
  settings: IamPolicyVersionAdminSettingsSchema,
  evaluate,
});
