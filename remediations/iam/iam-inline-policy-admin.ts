/**
 * iam-inline-policy-admin: an inline policy that grants admin, service
 * wildcards on every resource, or a path to privilege escalation.
 *
 * Triggers: `PutRolePolicy`, `PutUserPolicy` and `PutGroupPolicy`
 * (`iam.amazonaws.com`). IAM is a global service: its CloudTrail events reach
 * EventBridge in us-east-1 only, so the deployment puts this rule's function
 * and EventBridge rule there. The document may come as JSON text (any
 * whitespace, URL-encoded or not) or as an object; IAM's size quotas, which do
 * not count whitespace, bound it. A record whose document CloudTrail omitted
 * (a policy padded past its size limit) is a high-severity "could not inspect".
 *
 * Changes: deletes the inline policy the event put (`DeleteRolePolicy`,
 * `DeleteUserPolicy`, `DeleteGroupPolicy`). Just before, it reads the policy
 * (`Get…Policy`) and deletes only if it still holds the event's document (gone:
 * already done; another document: stale, nothing deleted); just after, it
 * reads again and reports the fix verified only when IAM answers NoSuchEntity.
 * The undo step is the original `Put…Policy` with the event's document as
 * compact JSON (the caller's content without the whitespace), so the plan and
 * the alert keep everything needed to restore it.
 * Never touches: other inline policies, managed policy attachments, the
 * identity itself, the bot's own roles (a person is alerted instead), identities
 * carrying the exemption tag, and a policy that was changed again since the event.
 * Permissions: `iam:DeleteRolePolicy`, `iam:DeleteUserPolicy`,
 * `iam:DeleteGroupPolicy` on the account's roles, users and groups; lookups
 * `iam:GetRole`, `iam:GetUser` (ARN with path, tags); reads before and after
 * the delete `iam:Get{Role,User,Group}Policy`.
 */
import {
  DeleteGroupPolicyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import { stringField, type CloudTrailEvent } from '../../engine/event.js';
import { analyzePermissionsPolicy, IAM_POLICY_SIZE_LIMITS } from '../../engine/policy/analyzer.js';
import { checkedBothWays, type Facts, type Plan, type PlanStep, type RuleContext, type Verdict } from '../../engine/types.js';
import { defineAction, defineRule, defineUndo, NO_SUCH_ENTITY } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';
import {
  belowNote,
  compactDocument,
  describeFindings,
  identityLabel,
  identityOf,
  MinSeveritySchema,
  recordedDocument,
  requestOmitted,
  splitBySeverity,
  uninspectedDocument,
  verdictFindings,
  type Identity,
} from './common.js';
import { botOwnReason, identityExemption } from './identity.js';
import { roleLookup, userLookup } from './lookups.js';
import { inlinePolicyCheck, INLINE_POLICY_PROBES } from './probes.js';

const IamInlinePolicySettingsSchema = z.strictObject({
  /** Findings below this severity (for example a service wildcard behind a restricting condition) are reported, not acted on. */
  minSeverity: MinSeveritySchema,
});
type IamInlinePolicySettings = z.infer<typeof IamInlinePolicySettingsSchema>;

/** IAM's quota for the inline policies of each identity kind: no single policy of a successful call is larger. */
const INLINE_LIMITS = {
  role: IAM_POLICY_SIZE_LIMITS.roleInlinePolicies,
  user: IAM_POLICY_SIZE_LIMITS.userInlinePolicies,
  group: IAM_POLICY_SIZE_LIMITS.groupInlinePolicies,
} as const;

/** Delete{Role,User,Group}Policy, in this order in the rule's permissions. */
const DELETE_POLICY = {
  role: defineAction(iam, DeleteRolePolicyCommand),
  user: defineAction(iam, DeleteUserPolicyCommand),
  group: defineAction(iam, DeleteGroupPolicyCommand),
} as const;

/** The undo: the original Put…Policy, for `remediate undo` and people; never granted to the function. */
const PUT_POLICY = {
  role: defineUndo(iam, PutRolePolicyCommand),
  user: defineUndo(iam, PutUserPolicyCommand),
  group: defineUndo(iam, PutGroupPolicyCommand),
} as const;

/** The delete of one identity kind, its input and its undo's built against that kind's commands. */
function deleteStep(identity: Identity, policyName: string, document: string, texts: { reason: string; undoReason: string }): PlanStep {
  const options = { reason: texts.reason, alreadyDoneCodes: NO_SUCH_ENTITY, ...checkedBothWays(inlinePolicyCheck(identity, policyName, document)) };
  switch (identity.kind) {
    case 'role': {
      const target = { RoleName: identity.name, PolicyName: policyName };
      return DELETE_POLICY.role.step(target, { ...options, undo: PUT_POLICY.role.undo({ ...target, PolicyDocument: document }, texts.undoReason) });
    }
    case 'user': {
      const target = { UserName: identity.name, PolicyName: policyName };
      return DELETE_POLICY.user.step(target, { ...options, undo: PUT_POLICY.user.undo({ ...target, PolicyDocument: document }, texts.undoReason) });
    }
    case 'group': {
      const target = { GroupName: identity.name, PolicyName: policyName };
      return DELETE_POLICY.group.step(target, { ...options, undo: PUT_POLICY.group.undo({ ...target, PolicyDocument: document }, texts.undoReason) });
    }
  }
}

/**
 * Deletes the inline policy if it still holds the event's document, and
 * checks afterwards that it is gone; the undo puts it back with the event's
 * document, as compact JSON.
 */
function planDeleteInlinePolicy(identity: Identity, policyName: string, document: string | object, why: string): Plan {
  return [
    deleteStep(identity, policyName, compactDocument(document), {
      reason: `Delete inline policy ${policyName} from ${identityLabel(identity)}: ${why}. The full document is kept in the undo step.`,
      undoReason: `Put inline policy ${policyName} back on ${identityLabel(identity)} exactly as it was.`,
    }),
  ];
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<IamInlinePolicySettings>): Verdict {
  const { settings } = context;
  const omitted = requestOmitted(event);
  if (omitted !== undefined) {
    return uninspectedDocument(`the inline policy this ${event.detail.eventName} call put`, `${omitted}, so neither the document nor the identity it went to is in the record`);
  }
  const identity = identityOf(event);
  const policyName = stringField(event.detail.requestParameters, 'policyName');
  if (!identity || !policyName) return { kind: 'skipped', reason: 'the event names no role, user or group, or no policy name' };
  const resources = [identityLabel(identity)];
  const where = `inline policy ${policyName}`;
  const recorded = recordedDocument(event.detail.requestParameters, 'policyDocument');
  if (recorded.kind === 'omitted') return uninspectedDocument(`${where} of ${identityLabel(identity)}`, recorded.why, resources);
  if (recorded.kind === 'absent') return uninspectedDocument(`${where} of ${identityLabel(identity)}`, 'the record carries no document', resources);
  const document = recorded.value;

  const analysis = analyzePermissionsPolicy(document, { maxPolicyCharacters: INLINE_LIMITS[identity.kind] });
  if (!analysis.ok) return { kind: 'skipped', reason: `${where} could not be analysed: ${analysis.error}`, resources };
  const { acted, below } = splitBySeverity(analysis.findings, settings.minSeverity);
  if (acted.length === 0) {
    return {
      kind: 'compliant',
      summary: `${identityLabel(identity)}: ${where} grants no admin, service-wide or escalation permission at or above ${settings.minSeverity}${belowNote(below, settings.minSeverity)}`,
      resources,
    };
  }

  // Whether the policy is still there, and still this document, is read just before the delete: it speaks of the present.
  const findings = verdictFindings(acted, analysis.statements, where);
  const own = botOwnReason(event, identity, facts, context);
  if (own) return { kind: 'exempt', reason: `${own}; ${where} has ${describeFindings(findings)}`, resources, findings };
  const exempt = identityExemption(event, identity, facts, context);
  if (exempt) return { kind: 'exempt', reason: exempt, resources, findings };

  const summary = `${identityLabel(identity)}: ${where} grants ${describeFindings(findings)}`;
  return {
    kind: 'violation',
    summary,
    resources,
    findings,
    plan: planDeleteInlinePolicy(identity, policyName, document, `it grants ${describeFindings(findings)}`),
  };
}

export const iamInlinePolicyAdmin = defineRule<IamInlinePolicySettings>({
  id: 'iam-inline-policy-admin',
  title: 'Inline IAM policy grants admin or privilege escalation',
  severity: 'critical',
  rationale:
    'An inline policy that allows every action, every action of a service, or the IAM actions that let a principal grant itself more (creating policy versions, attaching policies, passing roles to new compute) is the shortest path to account takeover; least privilege means scoped actions on scoped resources.',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['PutGroupPolicy', 'PutRolePolicy', 'PutUserPolicy'] }],
  actions: [DELETE_POLICY.role, DELETE_POLICY.user, DELETE_POLICY.group],
  lookups: [roleLookup, userLookup],
  probes: [INLINE_POLICY_PROBES.role, INLINE_POLICY_PROBES.user, INLINE_POLICY_PROBES.group],
  settings: IamInlinePolicySettingsSchema,
  evaluate,
});
