/**
 * iam-attached-admin-policy: a managed policy that grants admin attached to a
 * role, user or group.
 *
 * Triggers: `AttachRolePolicy`, `AttachUserPolicy` and `AttachGroupPolicy`
 * (`iam.amazonaws.com`; delivered to EventBridge in us-east-1 only, where the
 * deployment puts this rule). An AWS managed policy counts when its name is in
 * the `adminPolicyNames` setting (by default `AdministratorAccess`,
 * `IAMFullAccess`, `PowerUserAccess`); a customer-managed policy counts when the
 * policy analyzer finds admin, a service wildcard on every resource or a
 * privilege-escalation path in its default version, read through `GetPolicy`
 * then `GetPolicyVersion`.
 *
 * Changes: detaches that policy from that identity (`Detach…Policy`); the undo
 * is the matching `Attach…Policy`. Just before, it reads the identity's
 * attachments (`ListAttached…Policies`, one page of 100, more than IAM's quota
 * of attached policies) and detaches only while the policy is still attached
 * (no longer attached, or the identity gone: already done); just after, it
 * reads them again and reports the fix verified only when the policy is gone.
 * Never touches: the policy itself and its versions, other attachments, the
 * bot's own roles (a person is alerted instead), identities carrying the
 * exemption tag, and AWS managed policies not in the list.
 * Permissions: `iam:DetachRolePolicy`, `iam:DetachUserPolicy`,
 * `iam:DetachGroupPolicy` on the account's roles, users and groups; lookups
 * `iam:GetRole`, `iam:GetUser`, `iam:GetPolicy`, `iam:GetPolicyVersion`; reads
 * before and after the detach `iam:ListAttached{Role,User,Group}Policies`.
 */
import * as z from 'zod/mini';
import { stringField, type CloudTrailEvent } from '../../engine/event.js';
import { analyzePermissionsPolicy, IAM_POLICY_SIZE_LIMITS } from '../../engine/policy/analyzer.js';
import { checkedBothWays, type Facts, type Finding, type Plan, type RuleContext, type Severity, type Verdict } from '../../engine/types.js';
import { defineRule, factValue, readFact } from '../../rulekit/index.js';
import { DETACH_POLICY, detachStep } from './actions.js';
import { AdminPolicyNamesSchema, adminManagedFinding, adminWhy, AWS_MANAGED } from './admin-managed.js';
import {
  belowNote,
  describeFindings,
  factGap,
  identityLabel,
  identityOf,
  MinSeveritySchema,
  policyNameOf,
  splitBySeverity,
  verdictFindings,
  type Identity,
} from './common.js';
import { botOwnReason, identityExemption } from './identity.js';
import { isCustomerManaged, managedPolicyDefaultVersionLookup, managedPolicyLookup, roleLookup, userLookup } from './lookups.js';
import { ALL_ATTACHMENT_PROBES, attachmentCheck } from './probes.js';

const IamAttachedAdminPolicySettingsSchema = z.strictObject({
  /** AWS managed policies (name after `policy/`, path included, e.g. `job-function/NetworkAdministrator`) that count as admin. */
  adminPolicyNames: AdminPolicyNamesSchema,
  /** For customer-managed policies: analyzer findings below this severity are reported, not acted on. */
  minSeverity: MinSeveritySchema,
});
type IamAttachedAdminPolicySettings = z.infer<typeof IamAttachedAdminPolicySettingsSchema>;

/**
 * Detaches the policy while it is still attached, and checks afterwards that
 * it is gone; the undo attaches it again.
 */
function planDetach(identity: Identity, policyArn: string, why: string): Plan {
  return [
    detachStep(
      identity,
      policyArn,
      {
        reason: `Detach ${policyNameOf(policyArn)} from ${identityLabel(identity)}: ${why}. The policy itself is not changed.`,
        undoReason: `Attach ${policyNameOf(policyArn)} to ${identityLabel(identity)} again.`,
      },
      checkedBothWays(attachmentCheck(identity, policyArn, 'detached')),
    ),
  ];
}

type Assessment =
  | { readonly kind: 'findings'; readonly findings: Finding[] }
  | { readonly kind: 'compliant'; readonly summary: string }
  | { readonly kind: 'skipped'; readonly reason: string; readonly severity?: Severity };

function assessAwsManaged(policyArn: string, name: string, settings: IamAttachedAdminPolicySettings): Assessment {
  const finding = adminManagedFinding(policyArn, name, settings.adminPolicyNames);
  if (!finding) return { kind: 'compliant', summary: `AWS managed policy ${name} is not in the admin-equivalent list (${settings.adminPolicyNames.join(', ')})` };
  return { kind: 'findings', findings: [finding] };
}

function assessCustomerManaged(policyArn: string, facts: Facts, settings: IamAttachedAdminPolicySettings): Assessment {
  const name = policyNameOf(policyArn);
  const policy = readFact(facts, managedPolicyLookup);
  if (policy?.status === 'ok' && policy.value === null) {
    // IAM deletes a managed policy only once it is detached from everything (DeletePolicy), so nothing holds it now.
    return { kind: 'skipped', severity: 'low', reason: `policy ${policyArn} no longer exists, so what it granted cannot be read; a deleted policy is attached to no one` };
  }
  const versionFact = readFact(facts, managedPolicyDefaultVersionLookup);
  const document = factValue(versionFact)?.document;
  if (document === undefined) {
    const gap = versionFact ? factGap(versionFact, 'GetPolicyVersion') : factGap(policy, 'GetPolicy');
    return { kind: 'skipped', reason: `the default version of customer-managed policy ${name} could not be read (${gap}), so what it grants is unknown` };
  }
  const versionId = factValue(versionFact)?.versionId ?? factValue(policy)?.defaultVersionId ?? 'default';
  const where = `policy ${name} ${versionId}`;
  const analysis = analyzePermissionsPolicy(document, { maxPolicyCharacters: IAM_POLICY_SIZE_LIMITS.managedPolicy });
  if (!analysis.ok) return { kind: 'skipped', reason: `${where} could not be analysed: ${analysis.error}` };
  const { acted, below } = splitBySeverity(analysis.findings, settings.minSeverity);
  if (acted.length === 0) {
    return { kind: 'compliant', summary: `${where} grants no admin, service-wide or escalation permission at or above ${settings.minSeverity}${belowNote(below, settings.minSeverity)}` };
  }
  return { kind: 'findings', findings: verdictFindings(acted, analysis.statements, where) };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<IamAttachedAdminPolicySettings>): Verdict {
  const { settings } = context;
  const identity = identityOf(event);
  const policyArn = stringField(event.detail.requestParameters, 'policyArn');
  if (!identity || !policyArn) return { kind: 'skipped', reason: 'the event names no role, user or group, or no policy ARN' };
  const resources = [identityLabel(identity)];

  const awsManaged = AWS_MANAGED.exec(policyArn)?.[1];
  const assessment: Assessment =
    awsManaged !== undefined
      ? assessAwsManaged(policyArn, awsManaged, settings)
      : isCustomerManaged(policyArn)
        ? assessCustomerManaged(policyArn, facts, settings)
        : { kind: 'skipped', reason: `${policyArn} is not a managed policy ARN` };
  if (assessment.kind === 'skipped') {
    return { kind: 'skipped', reason: assessment.reason, resources, ...(assessment.severity !== undefined && { severity: assessment.severity }) };
  }
  if (assessment.kind === 'compliant') return { kind: 'compliant', summary: `${identityLabel(identity)}: ${assessment.summary}`, resources };

  // Whether the policy is still attached (and the identity still there) is read just before the detach.
  const { findings } = assessment;
  const own = botOwnReason(event, identity, facts, context);
  if (own) return { kind: 'exempt', reason: `${own}; ${policyNameOf(policyArn)} has ${describeFindings(findings)}`, resources, findings };
  const exempt = identityExemption(event, identity, facts, context);
  if (exempt) return { kind: 'exempt', reason: exempt, resources, findings };

  const grants = awsManaged !== undefined ? adminWhy(awsManaged) : `grants ${describeFindings(findings)}`;
  const attached = awsManaged !== undefined ? `AWS managed policy ${awsManaged}` : `customer-managed policy ${policyNameOf(policyArn)}`;
  return {
    kind: 'violation',
    summary: `${identityLabel(identity)}: attached ${attached}, which ${grants}`,
    resources,
    findings,
    plan: planDetach(identity, policyArn, `it ${grants}`),
  };
}

export const iamAttachedAdminPolicy = defineRule<IamAttachedAdminPolicySettings>({
  id: 'iam-attached-admin-policy',
  title: 'Admin-equivalent managed policy attached',
  severity: 'critical',
  rationale:
    'Attaching AdministratorAccess, IAMFullAccess, PowerUserAccess or a customer-managed policy that grants as much turns one identity into an account administrator; least privilege means granting the specific actions a workload needs.',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['AttachGroupPolicy', 'AttachRolePolicy', 'AttachUserPolicy'] }],
  actions: [DETACH_POLICY.role, DETACH_POLICY.user, DETACH_POLICY.group],
  lookups: [roleLookup, userLookup, managedPolicyLookup, managedPolicyDefaultVersionLookup],
  probes: ALL_ATTACHMENT_PROBES,
  settings: IamAttachedAdminPolicySettingsSchema,
  evaluate,
});
