/**
 * iam-policy-version-admin: a customer-managed policy whose new default
 * version grants admin, service wildcards on every resource or a path to
 * privilege escalation.
 *
 * Triggers: `CreatePolicyVersion` with `setAsDefault` (the document is in the
 * event) and `SetDefaultPolicyVersion` (the document is read with
 * `GetPolicyVersion`), from `iam.amazonaws.com`; IAM events reach EventBridge in
 * us-east-1 only, where the deployment puts this rule. A version created
 * without `setAsDefault` is not in effect and is judged when it becomes the default.
 *
 * Changes: makes the previous default version the default again
 * (`SetDefaultPolicyVersion`); the undo makes the violating version the default
 * again. IAM does not record which version was the default before, so the rule
 * reads `ListPolicyVersions` and counts as earlier versions those created before
 * the violating version (for `CreatePolicyVersion`) or before the call (for
 * `SetDefaultPolicyVersion`):
 * - exactly one earlier version: it was the default, and the plan restores it;
 * - several: the most recently created one is the likeliest, but a version can
 *   be created without becoming the default, so it is only proposed unless the
 *   `rollbackWhenAmbiguous` setting is true;
 * - none, or the versions cannot be read (offline replay): the violation is
 *   reported with an empty plan and says why; a person chooses the version.
 * Only proposes: the rollback in the ambiguous and unknown cases.
 * Never touches: any version's content (no version is ever deleted), the
 * policy's attachments, policies carrying the exemption tag, AWS managed
 * policies (they cannot be versioned by customers), and a policy whose default
 * has changed again since the event.
 * Permissions: `iam:SetDefaultPolicyVersion` on the account's policies; lookups
 * `iam:GetPolicy` (tags), `iam:ListPolicyVersions`, `iam:GetPolicyVersion`.
 */
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact } from '../../engine/exemption.js';
import { analyzePermissionsPolicy, IAM_POLICY_SIZE_LIMITS } from '../../engine/policy/analyzer.js';
import { unknownValue, type Facts, type PlanStep, type Rule, type RuleContext, type UnknownValue, type Verdict } from '../../engine/types.js';
import { accountEntities, belowNote, describeFindings, factGap, factValue, MinSeveritySchema, policyNameOf, splitBySeverity, verdictFindings } from './common.js';
import {
  isCustomerManaged,
  managedPolicyLookup,
  newDefaultVersionLookup,
  policyVersionsLookup,
  type PolicyVersionInfo,
} from './lookups.js';

export const IamPolicyVersionAdminSettingsSchema = z.strictObject({
  /** Analyzer findings below this severity are reported, not acted on. */
  minSeverity: MinSeveritySchema,
  /**
   * With several earlier versions IAM does not say which one was the default:
   * `true` applies the most recently created one anyway, `false` only proposes it.
   */
  rollbackWhenAmbiguous: z._default(z.boolean(), false),
});
export type IamPolicyVersionAdminSettings = z.infer<typeof IamPolicyVersionAdminSettingsSchema>;

function versionNumber(versionId: string): number {
  const match = /^v(\d+)$/i.exec(versionId);
  return match?.[1] ? Number(match[1]) : Number.NaN;
}

/** Newest first: by creation time, then by version number (IAM numbers versions in creation order). */
function newestFirst(a: PolicyVersionInfo, b: PolicyVersionInfo): number {
  if (a.createDate && b.createDate && a.createDate !== b.createDate) return a.createDate < b.createDate ? 1 : -1;
  return (versionNumber(b.versionId) || 0) - (versionNumber(a.versionId) || 0);
}

/**
 * The versions that may have been the default before `violating` became it,
 * newest first. For `CreatePolicyVersion` they are those created before the new
 * version; for `SetDefaultPolicyVersion` those that existed at the call.
 */
export function earlierVersions(
  versions: readonly PolicyVersionInfo[],
  violating: string,
  trigger: 'CreatePolicyVersion' | 'SetDefaultPolicyVersion',
  eventTime: string,
): PolicyVersionInfo[] {
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

type Rollback =
  | { readonly kind: 'certain'; readonly versionId: string; readonly why: string }
  | { readonly kind: 'ambiguous'; readonly versionId: string; readonly candidates: readonly string[] }
  | { readonly kind: 'none' }
  | { readonly kind: 'unknown'; readonly why: string };

function chooseRollback(facts: Facts, violating: string, trigger: 'CreatePolicyVersion' | 'SetDefaultPolicyVersion', eventTime: string): Rollback {
  const fact = facts['policyVersions'];
  const versions = field(factValue(fact), 'versions');
  if (!Array.isArray(versions)) return { kind: 'unknown', why: `its versions could not be listed (${factGap(fact, 'ListPolicyVersions')})` };
  const earlier = earlierVersions(versions as PolicyVersionInfo[], violating, trigger, eventTime);
  const [newest] = earlier;
  if (!newest) return { kind: 'none' };
  if (earlier.length === 1) {
    return { kind: 'certain', versionId: newest.versionId, why: `the only version that existed before ${violating} became the default, so it was the default then` };
  }
  return { kind: 'ambiguous', versionId: newest.versionId, candidates: earlier.map((version) => version.versionId) };
}

/** Makes `target` the default version; the undo makes the violating version the default again. No version is deleted. */
export function planSetDefault(policyArn: string, target: string | UnknownValue, violating: string, reason: string): PlanStep {
  const name = policyNameOf(policyArn);
  return {
    service: 'iam',
    operation: 'SetDefaultPolicyVersion',
    input: { PolicyArn: policyArn, VersionId: target },
    reason: `${reason} Version ${violating} is kept, not deleted.`,
    undo: {
      service: 'iam',
      operation: 'SetDefaultPolicyVersion',
      input: { PolicyArn: policyArn, VersionId: violating },
      reason: `Make ${violating} the default version of ${name} again.`,
    },
  };
}

interface Violating {
  readonly versionId?: string;
  readonly document: string;
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
    const document = stringField(params, 'policyDocument');
    if (document === undefined) return { kind: 'done', verdict: { kind: 'skipped', reason: `the event carries no document for the new version of ${name}`, resources } };
    return { kind: 'violating', version: { ...(versionId !== undefined && { versionId }), document } };
  }
  const versionId = stringField(params, 'versionId');
  if (versionId === undefined) return { kind: 'done', verdict: { kind: 'skipped', reason: `the event names no version of ${name}`, resources } };
  const fact = facts['newDefaultVersion'];
  if (fact?.status === 'ok' && fact.value === null) {
    return { kind: 'done', verdict: { kind: 'skipped', reason: `version ${versionId} of ${name} no longer exists`, resources } };
  }
  const document = stringField(factValue(fact), 'document');
  if (document === undefined) {
    return {
      kind: 'done',
      verdict: { kind: 'skipped', reason: `version ${versionId} of ${name} could not be read (${factGap(fact, 'GetPolicyVersion')}), so what it grants is unknown`, resources },
    };
  }
  return { kind: 'violating', version: { versionId, document } };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const settings = context.settings as IamPolicyVersionAdminSettings;
  const policyArn = stringField(event.detail.requestParameters, 'policyArn');
  if (!isCustomerManaged(policyArn)) return { kind: 'skipped', reason: 'the event names no customer-managed policy' };
  const name = policyNameOf(policyArn);
  const resources = [policyArn];
  const subject = violatingVersion(event, facts, policyArn, resources);
  if (subject.kind === 'done') return subject.verdict;
  const { versionId, document } = subject.version;
  const where = `policy ${name} ${versionId ?? '(new version)'}`;

  const analysis = analyzePermissionsPolicy(document, { maxPolicyCharacters: IAM_POLICY_SIZE_LIMITS.managedPolicy });
  if (!analysis.ok) return { kind: 'skipped', reason: `${where} could not be analysed: ${analysis.error}`, resources };
  const { acted, below } = splitBySeverity(analysis.findings, settings.minSeverity);
  if (acted.length === 0) {
    return {
      kind: 'compliant',
      summary: `${where} (now the default) grants no admin, service-wide or escalation permission at or above ${settings.minSeverity}${belowNote(below, settings.minSeverity)}`,
      resources,
    };
  }

  const policyFact = facts['managedPolicy'];
  if (policyFact?.status === 'ok' && policyFact.value === null) return { kind: 'skipped', reason: `policy ${name} no longer exists`, resources };
  const versions = field(factValue(facts['policyVersions']), 'versions');
  const currentDefault = Array.isArray(versions) ? (versions as PolicyVersionInfo[]).find((version) => version.isDefault)?.versionId : undefined;
  if (versionId !== undefined && currentDefault !== undefined && currentDefault !== versionId) {
    return { kind: 'skipped', reason: `${versionId} is no longer the default version of ${name} (${currentDefault} is): nothing to roll back`, resources };
  }
  const exempt = exemptionReason(tagsFromFact(policyFact), context.config);
  if (exempt) return { kind: 'exempt', reason: `policy ${name} is ${exempt}`, resources };

  const findings = verdictFindings(acted, analysis.statements, where);
  const grants = `${where} became the default and grants ${describeFindings(findings)}`;
  const base = { kind: 'violation', resources, findings } as const;
  if (versionId === undefined) {
    return { ...base, summary: `${grants}; the event does not say which version was created, so a person must restore the previous default`, plan: [] };
  }
  const trigger = event.detail.eventName === 'CreatePolicyVersion' ? 'CreatePolicyVersion' : 'SetDefaultPolicyVersion';
  const rollback = chooseRollback(facts, versionId, trigger, event.detail.eventTime);
  switch (rollback.kind) {
    case 'certain':
      return {
        ...base,
        summary: `${grants}; plan: roll back to ${rollback.versionId}, the default before it`,
        plan: [planSetDefault(policyArn, rollback.versionId, versionId, `Make ${rollback.versionId} the default version of ${name} again: it is ${rollback.why}.`)],
      };
    case 'ambiguous': {
      const why = `${rollback.versionId} is the most recently created of the versions that existed before (${rollback.candidates.join(', ')}); IAM does not record which of them was the default.`;
      const step = planSetDefault(policyArn, rollback.versionId, versionId, `Make ${rollback.versionId} the default version of ${name} again: ${why}`);
      return settings.rollbackWhenAmbiguous
        ? { ...base, summary: `${grants}; plan: roll back to ${rollback.versionId}, the most recent of ${rollback.candidates.length} earlier versions (rollbackWhenAmbiguous)`, plan: [step] }
        : {
            ...base,
            summary: `${grants}; proposal: roll back to ${rollback.versionId}, the most recent of ${rollback.candidates.length} earlier versions (not applied: IAM does not record which was the default)`,
            plan: [],
            proposal: [step],
          };
    }
    case 'none':
      return {
        ...base,
        summary: `${grants}; no earlier version exists to roll back to, so a person must create a compliant version or detach the policy`,
        plan: [],
      };
    case 'unknown':
      return {
        ...base,
        summary: `${grants}; the previous default version is unknown because ${rollback.why}, so no rollback can be planned; a person must pick the version`,
        plan: [],
        proposal: [
          planSetDefault(
            policyArn,
            unknownValue(`the version of ${name} that was the default before ${versionId} (aws iam list-policy-versions --policy-arn ${policyArn})`),
            versionId,
            `Make the previous default version of ${name} the default again.`,
          ),
        ],
      };
  }
}

export const iamPolicyVersionAdmin = {
  id: 'iam-policy-version-admin',
  title: 'Managed policy default version grants admin or privilege escalation',
  severity: 'critical',
  rationale:
    'Making a new version of a customer-managed policy the default changes the permissions of every identity it is attached to at once; a version that allows everything, or the IAM actions that grant more, is a classic privilege-escalation step.',
  family: 'iam',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['CreatePolicyVersion', 'SetDefaultPolicyVersion'] }],
  permissions: [{ action: 'iam:SetDefaultPolicyVersion', resource: accountEntities('policy') }],
  lookups: [managedPolicyLookup, policyVersionsLookup, newDefaultVersionLookup],
  settings: IamPolicyVersionAdminSettingsSchema,
  docs: {
    changes:
      'Makes the previous default version the default again (SetDefaultPolicyVersion) when ListPolicyVersions shows exactly one version older than the violating one; the undo makes the violating version the default again.',
    proposes:
      'With several earlier versions, rolling back to the most recently created one (applied only with rollbackWhenAmbiguous: true); when the versions cannot be listed, rolling back to a version a person picks.',
    neverTouches:
      'The content of any version (no version is ever deleted), the policy attachments, AWS managed policies, policies carrying the exemption tag, and a policy whose default version has changed again since the event.',
  },
  evaluate,
} as const satisfies Rule;
