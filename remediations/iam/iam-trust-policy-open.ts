/**
 * iam-trust-policy-open: a role whose trust policy lets in anyone, an
 * untrusted account without an external id, or any GitHub repository.
 *
 * Triggers: `UpdateAssumeRolePolicy` and `CreateRole` (its
 * `assumeRolePolicyDocument`; the response repeats it URL-encoded), from
 * `iam.amazonaws.com`. IAM events reach EventBridge in us-east-1 only, where
 * the deployment puts this rule.
 *
 * Changes: the previous trust policy is not in the event, so the rule contains
 * instead of restoring: it attaches the AWS managed `AWSDenyAll` policy to the
 * role, which makes any session of the role powerless (undo: detach it).
 * Only proposes: `UpdateAssumeRolePolicy` with the offending statements removed
 * (the undo of the proposal restores the event's document). When every
 * statement offends there is no document to propose; a person writes one.
 * Never touches: the trust policy itself (only proposed), the role's other
 * policies, the bot's own roles (a person is alerted instead), roles carrying
 * the exemption tag, and a role whose trust policy changed again since the event.
 * Permissions: `iam:AttachRolePolicy` on the account's roles (ideally limited
 * by the condition `iam:PolicyARN` = `arn:aws:iam::aws:policy/AWSDenyAll`);
 * lookup `iam:GetRole` (path, tags, current trust policy).
 */
import * as z from 'zod/mini';
import { stringField, type CloudTrailEvent } from '../../engine/event.js';
import { analyzeTrustPolicy, parsePolicyDocument, type NormalizedStatement } from '../../engine/policy/analyzer.js';
import type { Facts, Plan, PlanStep, Rule, RuleContext, Verdict } from '../../engine/types.js';
import {
  accountOf,
  belowNote,
  botOwnReason,
  decodeSdkDocument,
  describeFindings,
  factValue,
  identityExemption,
  identityGone,
  MinSeveritySchema,
  partitionOf,
  plainDocument,
  sameDocument,
  splitBySeverity,
  statementJson,
  verdictFindings,
  type Identity,
  accountEntities,
} from './common.js';
import { roleLookup } from './lookups.js';

export const IamTrustPolicyOpenSettingsSchema = z.strictObject({
  /** Findings below this severity are reported, not acted on. Trusted accounts come from the global `trustedAccounts`. */
  minSeverity: MinSeveritySchema,
});
export type IamTrustPolicyOpenSettings = z.infer<typeof IamTrustPolicyOpenSettingsSchema>;

/** The largest trust policy IAM accepts once its quota is raised (the default is 2,048). */
const MAX_TRUST_POLICY_CHARACTERS = 4_096;

/** The trust policy the event set: CreateRole's request, else its URL-encoded response; UpdateAssumeRolePolicy's `policyDocument`. */
export function trustDocumentOf(event: CloudTrailEvent): string | undefined {
  const params = event.detail.requestParameters;
  if (event.detail.eventName === 'UpdateAssumeRolePolicy') return stringField(params, 'policyDocument');
  return stringField(params, 'assumeRolePolicyDocument') ?? decodeSdkDocument(stringField(event.detail.responseElements, 'role', 'assumeRolePolicyDocument'));
}

export function denyAllPolicyArn(partition: string): string {
  return `arn:${partition}:iam::aws:policy/AWSDenyAll`;
}

/** Contains the role: AWSDenyAll makes every session of it powerless; the undo detaches it. */
export function planContain(roleName: string, partition: string): Plan {
  const input = { RoleName: roleName, PolicyArn: denyAllPolicyArn(partition) };
  return [
    {
      service: 'iam',
      operation: 'AttachRolePolicy',
      input,
      reason: `Attach AWSDenyAll to role ${roleName}, so whoever assumes it through the open trust policy can do nothing; the trust policy itself is left for a person (see the proposal). If IAM answers LimitExceeded, the role already has as many managed policies as its quota allows: detach one or apply the proposed trust policy by hand.`,
      undo: { service: 'iam', operation: 'DetachRolePolicy', input, reason: `Detach AWSDenyAll from role ${roleName} once its trust policy is fixed.` },
    },
  ];
}

/** The trust policy without the offending statements, or `undefined` when none would remain. */
export function trustWithout(statements: readonly NormalizedStatement[], offending: ReadonlySet<number>, version: string | undefined): string | undefined {
  const kept = statements.filter((statement) => !offending.has(statement.index));
  if (kept.length === 0) return undefined;
  return JSON.stringify({ Version: version ?? '2012-10-17', Statement: kept.map(statementJson) });
}

export function proposeTrustFix(roleName: string, fixed: string, original: string, removed: readonly number[]): PlanStep {
  return {
    service: 'iam',
    operation: 'UpdateAssumeRolePolicy',
    input: { RoleName: roleName, PolicyDocument: fixed },
    reason: `PROPOSAL, not applied: replace the trust policy of role ${roleName} with the same document minus statement${removed.length > 1 ? 's' : ''} ${removed.join(', ')}. Review it, then detach AWSDenyAll.`,
    undo: {
      service: 'iam',
      operation: 'UpdateAssumeRolePolicy',
      input: { RoleName: roleName, PolicyDocument: plainDocument(original) },
      reason: `Restore the trust policy of role ${roleName} as the event set it.`,
    },
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const settings = context.settings as IamTrustPolicyOpenSettings;
  const roleName = stringField(event.detail.requestParameters, 'roleName');
  if (!roleName) return { kind: 'skipped', reason: 'the event names no role' };
  const identity: Identity = { kind: 'role', name: roleName };
  const resources = [`role ${roleName}`];
  const document = trustDocumentOf(event);
  if (document === undefined) return { kind: 'skipped', reason: `the event carries no trust policy for role ${roleName}`, resources };

  const analysis = analyzeTrustPolicy(document, {
    trustedAccounts: context.config.trustedAccounts,
    ownAccount: accountOf(event),
    maxPolicyCharacters: MAX_TRUST_POLICY_CHARACTERS,
  });
  if (!analysis.ok) return { kind: 'skipped', reason: `the trust policy of role ${roleName} could not be analysed: ${analysis.error}`, resources };
  const { acted, below } = splitBySeverity(analysis.findings, settings.minSeverity);
  if (acted.length === 0) {
    return {
      kind: 'compliant',
      summary: `role ${roleName}: the trust policy lets in no one public, no untrusted account without an external id and no unscoped web identity${belowNote(below, settings.minSeverity)}`,
      resources,
    };
  }

  if (identityGone(identity, facts)) return { kind: 'skipped', reason: `role ${roleName} no longer exists`, resources };
  const current = (factValue(facts['role']) as { trustPolicy?: string } | null | undefined)?.trustPolicy;
  if (current !== undefined && !sameDocument(current, document)) {
    return { kind: 'skipped', reason: `the trust policy of role ${roleName} has been changed since this event; its newer document is judged by its own event`, resources };
  }
  const findings = verdictFindings(acted, analysis.statements, 'trust policy');
  const own = botOwnReason(event, identity, facts, context);
  if (own) return { kind: 'exempt', reason: `${own}; its trust policy has ${describeFindings(findings)}`, resources };
  const exempt = identityExemption(event, identity, facts, context);
  if (exempt) return { kind: 'exempt', reason: exempt, resources };

  const offending = [...new Set(acted.map((finding) => finding.statementIndex))].sort((a, b) => a - b);
  const parsed = parsePolicyDocument(document, { maxPolicyCharacters: MAX_TRUST_POLICY_CHARACTERS });
  const version = parsed.ok ? parsed.document.version : undefined;
  const fixed = trustWithout(analysis.statements, new Set(offending), version);
  const proposal = fixed !== undefined ? [proposeTrustFix(roleName, fixed, document, offending)] : [];
  const next =
    fixed !== undefined
      ? 'proposal: the same trust policy without the offending statements'
      : 'every statement offends, so a person must write a restricted trust policy';
  return {
    kind: 'violation',
    summary: `role ${roleName}: the trust policy has ${describeFindings(findings)}; plan: contain the role with AWSDenyAll; ${next}`,
    resources,
    findings,
    plan: planContain(roleName, partitionOf(event)),
    ...(proposal.length > 0 && { proposal }),
  };
}

export const iamTrustPolicyOpen = {
  id: 'iam-trust-policy-open',
  title: 'Role trust policy open to the public, untrusted accounts or any GitHub repository',
  severity: 'critical',
  rationale:
    "A role's trust policy decides who can become the role: Principal * without a restricting condition, a foreign account without an external id, or GitHub Actions OIDC without a sub condition lets strangers (or any repository on GitHub) take its permissions.",
  family: 'iam',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['CreateRole', 'UpdateAssumeRolePolicy'] }],
  permissions: [
    {
      action: 'iam:AttachRolePolicy',
      resource: accountEntities('role'),
      // The only policy this function may ever attach: a compromised bot cannot grant itself or anyone admin.
      condition: { ArnLike: { 'iam:PolicyARN': 'arn:*:iam::aws:policy/AWSDenyAll' } },
    },
  ],
  lookups: [roleLookup],
  settings: IamTrustPolicyOpenSettingsSchema,
  docs: {
    changes:
      'Attaches the AWS managed AWSDenyAll policy to the role (AttachRolePolicy), so sessions of the role can do nothing; the undo detaches it. The previous trust policy is not in the event, so it cannot be restored.',
    proposes: 'UpdateAssumeRolePolicy with the offending statements removed, for a person to review and run (its undo restores the event’s document).',
    neverTouches:
      "The trust policy itself, the role's other policies, the bot's own roles (a person is alerted instead), roles carrying the exemption tag, and a role whose trust policy has changed since the event.",
  },
  evaluate,
} as const satisfies Rule;
