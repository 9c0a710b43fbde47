/**
 * iam-inline-policy-admin: an inline policy that grants admin, service
 * wildcards on every resource, or a path to privilege escalation.
 *
 * Triggers: `PutRolePolicy`, `PutUserPolicy` and `PutGroupPolicy`
 * (`iam.amazonaws.com`). IAM is a global service: its CloudTrail events reach
 * EventBridge in us-east-1 only, so the deployment puts this rule's function
 * and EventBridge rule there.
 *
 * Changes: deletes the inline policy the event put (`DeleteRolePolicy`,
 * `DeleteUserPolicy`, `DeleteGroupPolicy`). The undo step is the original
 * `Put…Policy` with the full document from the event, so the plan and the
 * alert keep everything needed to restore it.
 * Never touches: other inline policies, managed policy attachments, the
 * identity itself, the bot's own roles (a person is alerted instead), identities
 * carrying the exemption tag, and a policy that was changed again since the
 * event (GetRolePolicy shows a different document).
 * Permissions: `iam:DeleteRolePolicy`, `iam:DeleteUserPolicy`,
 * `iam:DeleteGroupPolicy` on the account's roles, users and groups; lookups
 * `iam:GetRole`, `iam:GetUser` (ARN with path, tags) and
 * `iam:Get{Role,User,Group}Policy` (is the document still the one the event put).
 */
import * as z from 'zod/mini';
import { stringField, type CloudTrailEvent } from '../../engine/event.js';
import { analyzePermissionsPolicy, IAM_POLICY_SIZE_LIMITS } from '../../engine/policy/analyzer.js';
import type { Facts, Plan, Rule, RuleContext, Verdict } from '../../engine/types.js';
import {
  belowNote,
  botOwnReason,
  describeFindings,
  factValue,
  identityExemption,
  identityGone,
  identityInput,
  identityLabel,
  IDENTITY_KINDS,
  MinSeveritySchema,
  NO_SUCH_ENTITY,
  plainDocument,
  sameDocument,
  splitBySeverity,
  verdictFindings,
  type Identity,
  identityOf,
  accountEntities,
} from './common.js';
import { groupPolicyLookup, rolePolicyLookup, roleLookup, userLookup, userPolicyLookup } from './lookups.js';

export const IamInlinePolicySettingsSchema = z.strictObject({
  /** Findings below this severity (for example a service wildcard behind a restricting condition) are reported, not acted on. */
  minSeverity: MinSeveritySchema,
});
export type IamInlinePolicySettings = z.infer<typeof IamInlinePolicySettingsSchema>;

/** IAM's quota for the inline policies of each identity kind: no single policy of a successful call is larger. */
const INLINE_LIMITS = {
  role: IAM_POLICY_SIZE_LIMITS.roleInlinePolicies,
  user: IAM_POLICY_SIZE_LIMITS.userInlinePolicies,
  group: IAM_POLICY_SIZE_LIMITS.groupInlinePolicies,
} as const;

/** Deletes the inline policy; the undo puts it back with the very document the event carried. */
export function planDeleteInlinePolicy(identity: Identity, policyName: string, document: string, why: string): Plan {
  const api = IDENTITY_KINDS[identity.kind].api;
  const target = { ...identityInput(identity), PolicyName: policyName };
  return [
    {
      service: 'iam',
      operation: `Delete${api}Policy`,
      input: target,
      reason: `Delete inline policy ${policyName} from ${identityLabel(identity)}: ${why}. The full document is kept in the undo step.`,
      undo: {
        service: 'iam',
        operation: `Put${api}Policy`,
        input: { ...target, PolicyDocument: plainDocument(document) },
        reason: `Put inline policy ${policyName} back on ${identityLabel(identity)} exactly as it was.`,
      },
      alreadyDoneCodes: NO_SUCH_ENTITY,
    },
  ];
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const settings = context.settings as IamInlinePolicySettings;
  const identity = identityOf(event);
  const policyName = stringField(event.detail.requestParameters, 'policyName');
  if (!identity || !policyName) return { kind: 'skipped', reason: 'the event names no role, user or group, or no policy name' };
  const resources = [identityLabel(identity)];
  const where = `inline policy ${policyName}`;
  const document = stringField(event.detail.requestParameters, 'policyDocument');
  if (document === undefined) return { kind: 'skipped', reason: `the event carries no document for ${where}`, resources };

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

  const current = facts[`${identity.kind}Policy`];
  const currentValue = factValue(current);
  if (current?.status === 'ok' && currentValue === null) {
    return { kind: 'skipped', reason: `${where} no longer exists on ${identityLabel(identity)}: nothing to remove`, resources };
  }
  const currentDocument = stringField(currentValue, 'document');
  if (currentDocument !== undefined && !sameDocument(currentDocument, document)) {
    return { kind: 'skipped', reason: `${where} on ${identityLabel(identity)} has been changed since this event; its newer document is judged by its own event`, resources };
  }
  if (identityGone(identity, facts)) return { kind: 'skipped', reason: `${identityLabel(identity)} no longer exists`, resources };

  const findings = verdictFindings(acted, analysis.statements, where);
  const own = botOwnReason(event, identity, facts, context);
  if (own) return { kind: 'exempt', reason: `${own}; ${where} has ${describeFindings(findings)}`, resources };
  const exempt = identityExemption(event, identity, facts, context);
  if (exempt) return { kind: 'exempt', reason: exempt, resources };

  const summary = `${identityLabel(identity)}: ${where} grants ${describeFindings(findings)}`;
  return {
    kind: 'violation',
    summary,
    resources,
    findings,
    plan: planDeleteInlinePolicy(identity, policyName, document, `it grants ${describeFindings(findings)}`),
  };
}

export const iamInlinePolicyAdmin = {
  id: 'iam-inline-policy-admin',
  title: 'Inline IAM policy grants admin or privilege escalation',
  severity: 'critical',
  rationale:
    'An inline policy that allows every action, every action of a service, or the IAM actions that let a principal grant itself more (creating policy versions, attaching policies, passing roles to new compute) is the shortest path to account takeover; least privilege means scoped actions on scoped resources.',
  family: 'iam',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['PutGroupPolicy', 'PutRolePolicy', 'PutUserPolicy'] }],
  permissions: [
    { action: 'iam:DeleteRolePolicy', resource: accountEntities('role') },
    { action: 'iam:DeleteUserPolicy', resource: accountEntities('user') },
    { action: 'iam:DeleteGroupPolicy', resource: accountEntities('group') },
  ],
  lookups: [roleLookup, userLookup, rolePolicyLookup, userPolicyLookup, groupPolicyLookup],
  settings: IamInlinePolicySettingsSchema,
  docs: {
    changes:
      'Deletes the inline policy the event put on the role, user or group (Delete{Role,User,Group}Policy). The undo step is the original Put…Policy with the full document from the event, kept in the plan and the alert.',
    neverTouches:
      "Other inline policies, managed policy attachments, the identity itself, the bot's own roles (a person is alerted instead), identities carrying the exemption tag, and a policy whose document has changed since the event.",
  },
  evaluate,
} as const satisfies Rule;
