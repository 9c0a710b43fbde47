/**
 * The reads the IAM family makes around each write (see `PlanStep.precondition`
 * and `verification`): the present state of an inline policy, an attachment,
 * a managed policy's default version and a role's trust policy, each judged
 * against what the event did. IAM returns policy documents URL-encoded; the
 * judges compare parsed content, never text. Each read of an identity or
 * policy is granted on the account's entities of its type (the kit's table).
 */
import {
  GetGroupPolicyCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
} from '@aws-sdk/client-iam';
import { field, stringField } from '../../engine/event.js';
import type { StateCheck } from '../../engine/types.js';
import { defineProbe, NO_SUCH_ENTITY, type KitProbe, type ProbeSpec } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';
import { decodeSdkDocument, IDENTITY_KINDS, identityLabel, policyNameOf, sameDocument, type Identity, type IdentityKind } from './common.js';

/** Is the inline policy still the document the event put (needed), gone (done), or another one (changed)? */
function inlinePolicyJudge(kind: IdentityKind): ProbeSpec['judge'] {
  const api = IDENTITY_KINDS[kind].api;
  return (output, expect) => {
    const where = `inline policy ${String(expect['policyName'])} of ${String(expect['identity'])}`;
    if (output === null) return { state: 'done', evidence: `${where} no longer exists (NoSuchEntity: the policy or the ${kind} is gone)` };
    const current = decodeSdkDocument(field(output, 'PolicyDocument'));
    if (current === undefined) return { state: 'changed', evidence: `Get${api}Policy returned no document for ${where}: nothing deleted` };
    if (sameDocument(current, expect['document'])) return { state: 'needed', evidence: `${where} still holds the document the event put` };
    return { state: 'changed', evidence: `${where} now holds another document (set after this event): nothing deleted` };
  };
}

/** Get{Role,User,Group}Policy: the inline policy as IAM holds it now. */
export const INLINE_POLICY_PROBES = {
  role: defineProbe(iam, GetRolePolicyCommand, { name: 'roleInlinePolicy', notFoundCodes: NO_SUCH_ENTITY, judge: inlinePolicyJudge('role') }),
  user: defineProbe(iam, GetUserPolicyCommand, { name: 'userInlinePolicy', notFoundCodes: NO_SUCH_ENTITY, judge: inlinePolicyJudge('user') }),
  group: defineProbe(iam, GetGroupPolicyCommand, { name: 'groupInlinePolicy', notFoundCodes: NO_SUCH_ENTITY, judge: inlinePolicyJudge('group') }),
} as const;

/** The read before and after deleting an inline policy: the document the event put, compact. */
export function inlinePolicyCheck(identity: Identity, policyName: string, document: string): StateCheck {
  const expect = { identity: identityLabel(identity), policyName, document };
  const description = `inline policy ${policyName} of ${identityLabel(identity)} still holds the document the event put`;
  switch (identity.kind) {
    case 'role':
      return INLINE_POLICY_PROBES.role.check({ RoleName: identity.name, PolicyName: policyName }, expect, description);
    case 'user':
      return INLINE_POLICY_PROBES.user.check({ UserName: identity.name, PolicyName: policyName }, expect, description);
    case 'group':
      return INLINE_POLICY_PROBES.group.check({ GroupName: identity.name, PolicyName: policyName }, expect, description);
  }
}

/**
 * More than any identity can hold in one page: IAM allows at most 20 managed
 * policies on a role or user and 10 on a group (IAM and AWS STS quotas), so
 * one read of `MaxItems` 100 sees every attachment. A truncated answer that
 * does not show the policy is not judged: the read counts as failed.
 */
const ATTACHMENTS_PAGE = 100;

/** Is the managed policy attached to the identity? The step's `goal` says which answer is `done`. */
function attachmentJudge(kind: IdentityKind): ProbeSpec['judge'] {
  const api = IDENTITY_KINDS[kind].api;
  return (output, expect) => {
    const arn = String(expect['policyArn']);
    const who = String(expect['identity']);
    const name = policyNameOf(arn);
    if (output === null) return { state: 'done', evidence: `${who} no longer exists` };
    const list = field(output, 'AttachedPolicies');
    const attached = Array.isArray(list) && list.some((policy) => field(policy, 'PolicyArn') === arn);
    if (!attached && field(output, 'IsTruncated') === true) throw new Error(`ListAttached${api}Policies for ${who} was truncated before it showed ${name}`);
    if (expect['goal'] === 'attached') {
      return attached ? { state: 'done', evidence: `${name} is attached to ${who}` } : { state: 'needed', evidence: `${name} is not attached to ${who}` };
    }
    return attached ? { state: 'needed', evidence: `${name} is still attached to ${who}` } : { state: 'done', evidence: `${name} is not attached to ${who}` };
  };
}

/** ListAttached{Role,User,Group}Policies: the identity's managed policies as IAM lists them now. */
export const ATTACHMENT_PROBES = {
  role: defineProbe(iam, ListAttachedRolePoliciesCommand, { name: 'roleAttachments', notFoundCodes: NO_SUCH_ENTITY, judge: attachmentJudge('role') }),
  user: defineProbe(iam, ListAttachedUserPoliciesCommand, { name: 'userAttachments', notFoundCodes: NO_SUCH_ENTITY, judge: attachmentJudge('user') }),
  group: defineProbe(iam, ListAttachedGroupPoliciesCommand, { name: 'groupAttachments', notFoundCodes: NO_SUCH_ENTITY, judge: attachmentJudge('group') }),
} as const;

/** The read of an identity's attachments: `detached` when the step removes `policyArn`, `attached` when it adds it. */
export function attachmentCheck(identity: Identity, policyArn: string, goal: 'attached' | 'detached'): StateCheck {
  const name = policyNameOf(policyArn);
  const expect = { identity: identityLabel(identity), policyArn, goal };
  const description = goal === 'detached' ? `${name} is still attached to ${identityLabel(identity)}` : `${name} is attached to ${identityLabel(identity)}`;
  switch (identity.kind) {
    case 'role':
      return ATTACHMENT_PROBES.role.check({ RoleName: identity.name, MaxItems: ATTACHMENTS_PAGE }, expect, description);
    case 'user':
      return ATTACHMENT_PROBES.user.check({ UserName: identity.name, MaxItems: ATTACHMENTS_PAGE }, expect, description);
    case 'group':
      return ATTACHMENT_PROBES.group.check({ GroupName: identity.name, MaxItems: ATTACHMENTS_PAGE }, expect, description);
  }
}

/**
 * GetPolicy: which version is the default now? The violating version (needed),
 * the rollback target or a deleted policy (done), or a version someone set
 * after the event (changed).
 */
export const policyDefaultProbe = defineProbe(iam, GetPolicyCommand, {
  name: 'policyDefaultVersion',
  notFoundCodes: NO_SUCH_ENTITY,
  judge(output, expect) {
    const policy = String(expect['policy']);
    const violating = String(expect['violating']);
    const target = typeof expect['target'] === 'string' ? expect['target'] : undefined;
    if (output === null) return { state: 'done', evidence: `policy ${policy} no longer exists` };
    const current = stringField(output, 'Policy', 'DefaultVersionId');
    if (current === undefined) throw new Error(`GetPolicy returned no DefaultVersionId for ${policy}`);
    if (current === violating) return { state: 'needed', evidence: `${violating} is still the default version of ${policy}` };
    if (current === target || expect['anyOther'] === true) return { state: 'done', evidence: `${current} is the default version of ${policy}, not ${violating}` };
    return { state: 'changed', evidence: `${current} is now the default version of ${policy} (set after this event), not ${violating} as the event left it` };
  },
});

/**
 * The read around a rollback (`target`: that version the default is done) or
 * a containment step (no target: any other default is a change since the
 * event); with `anyOther`, any version but the violating one counts as done.
 */
export function policyDefaultCheck(policyArn: string, violating: string, target?: string, anyOther = false): StateCheck {
  const policy = policyNameOf(policyArn);
  return policyDefaultProbe.check(
    { PolicyArn: policyArn },
    { policy, violating, ...(target !== undefined && { target }), ...(anyOther && { anyOther: true }) },
    `${violating} is still the default version of ${policy}`,
  );
}

/**
 * GetRole: does the role still trust the document the event set (needed)?
 * Gone, or already the proposed document: done. Anything else: changed.
 */
export const trustPolicyProbe = defineProbe(iam, GetRoleCommand, {
  name: 'roleTrustPolicy',
  notFoundCodes: NO_SUCH_ENTITY,
  judge(output, expect) {
    const role = String(expect['role']);
    if (output === null) return { state: 'done', evidence: `role ${role} no longer exists` };
    const current = decodeSdkDocument(field(output, 'Role', 'AssumeRolePolicyDocument'));
    if (current !== undefined && expect['proposed'] !== undefined && sameDocument(current, expect['proposed'])) {
      return { state: 'done', evidence: `the trust policy of role ${role} already is the proposed document` };
    }
    if (current !== undefined && sameDocument(current, expect['document'])) return { state: 'needed', evidence: `the trust policy of role ${role} is still the one the event set` };
    return { state: 'changed', evidence: `the trust policy of role ${role} now holds another document (set after this event)` };
  },
});

/** The read of a role's trust policy: still the event's `document`? With `proposed`, the document a proposal puts there counts as done. */
export function trustPolicyCheck(roleName: string, document: string, proposed?: string): StateCheck {
  return trustPolicyProbe.check(
    { RoleName: roleName },
    { role: roleName, document, ...(proposed !== undefined && { proposed }) },
    proposed === undefined ? `the trust policy of role ${roleName} is still the one the event set` : `the trust policy of role ${roleName} is still the one the event set, not yet the proposed one`,
  );
}

/** Every identity kind's attachment probe, for rules that detach from any of them. */
export const ALL_ATTACHMENT_PROBES: readonly KitProbe[] = [ATTACHMENT_PROBES.role, ATTACHMENT_PROBES.user, ATTACHMENT_PROBES.group];
