/**
 * The reads the IAM family makes around each write (see `PlanStep.precondition`
 * and `verification`): the present state of an inline policy, an attachment,
 * a managed policy's default version and a role's trust policy, each judged
 * against what the event did. IAM returns policy documents URL-encoded; the
 * judges compare parsed content, never text.
 */
import { field, stringField } from '../../engine/event.js';
import { stateCheck, type Probe, type StateCheck } from '../../engine/types.js';
import {
  accountEntities,
  decodeSdkDocument,
  IDENTITY_KINDS,
  identityInput,
  identityLabel,
  NO_SUCH_ENTITY,
  policyNameOf,
  sameDocument,
  type Identity,
  type IdentityKind,
} from './common.js';

const KINDS = ['role', 'user', 'group'] as const satisfies readonly IdentityKind[];

function inlinePolicyProbe(kind: IdentityKind): Probe {
  const api = IDENTITY_KINDS[kind].api;
  return {
    name: `${kind}InlinePolicy`,
    service: 'iam',
    operation: `Get${api}Policy`,
    resource: accountEntities(kind),
    notFoundCodes: NO_SUCH_ENTITY,
    judge(output, expect) {
      const where = `inline policy ${String(expect['policyName'])} of ${String(expect['identity'])}`;
      if (output === null) return { state: 'done', evidence: `${where} no longer exists (NoSuchEntity: the policy or the ${kind} is gone)` };
      const current = decodeSdkDocument(field(output, 'PolicyDocument'));
      if (current === undefined) return { state: 'changed', evidence: `Get${api}Policy returned no document for ${where}: nothing deleted` };
      if (sameDocument(current, expect['document'])) return { state: 'needed', evidence: `${where} still holds the document the event put` };
      return { state: 'changed', evidence: `${where} now holds another document (set after this event): nothing deleted` };
    },
  };
}

/** Get{Role,User,Group}Policy: is the inline policy still the document the event put (needed), gone (done), or another one (changed)? */
export const INLINE_POLICY_PROBES = {
  role: inlinePolicyProbe('role'),
  user: inlinePolicyProbe('user'),
  group: inlinePolicyProbe('group'),
} as const satisfies Record<IdentityKind, Probe>;

/** The read before and after deleting an inline policy: the document the event put, compact. */
export function inlinePolicyCheck(identity: Identity, policyName: string, document: string): StateCheck {
  return stateCheck(
    INLINE_POLICY_PROBES[identity.kind],
    { ...identityInput(identity), PolicyName: policyName },
    { identity: identityLabel(identity), policyName, document },
    `inline policy ${policyName} of ${identityLabel(identity)} still holds the document the event put`,
  );
}

/**
 * More than any identity can hold in one page: IAM allows at most 20 managed
 * policies on a role or user and 10 on a group (IAM and AWS STS quotas), so
 * one read of `MaxItems` 100 sees every attachment. A truncated answer that
 * does not show the policy is not judged: the read counts as failed.
 */
export const ATTACHMENTS_PAGE = 100;

function attachmentProbe(kind: IdentityKind): Probe {
  const api = IDENTITY_KINDS[kind].api;
  return {
    name: `${kind}Attachments`,
    service: 'iam',
    operation: `ListAttached${api}Policies`,
    resource: accountEntities(kind),
    notFoundCodes: NO_SUCH_ENTITY,
    judge(output, expect) {
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
    },
  };
}

/** ListAttached{Role,User,Group}Policies: is the managed policy attached to the identity? The step's `goal` says which answer is `done`. */
export const ATTACHMENT_PROBES = {
  role: attachmentProbe('role'),
  user: attachmentProbe('user'),
  group: attachmentProbe('group'),
} as const satisfies Record<IdentityKind, Probe>;

/** The read of an identity's attachments: `detached` when the step removes `policyArn`, `attached` when it adds it. */
export function attachmentCheck(identity: Identity, policyArn: string, goal: 'attached' | 'detached'): StateCheck {
  const name = policyNameOf(policyArn);
  return stateCheck(
    ATTACHMENT_PROBES[identity.kind],
    { ...identityInput(identity), MaxItems: ATTACHMENTS_PAGE },
    { identity: identityLabel(identity), policyArn, goal },
    goal === 'detached' ? `${name} is still attached to ${identityLabel(identity)}` : `${name} is attached to ${identityLabel(identity)}`,
  );
}

/**
 * GetPolicy: which version is the default now? The violating version (needed),
 * the rollback target or a deleted policy (done), or a version someone set
 * after the event (changed).
 */
export const policyDefaultProbe: Probe = {
  name: 'policyDefaultVersion',
  service: 'iam',
  operation: 'GetPolicy',
  resource: accountEntities('policy'),
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
};

/**
 * The read around a rollback (`target`: that version the default is done) or
 * a containment step (no target: any other default is a change since the
 * event); with `anyOther`, any version but the violating one counts as done.
 */
export function policyDefaultCheck(policyArn: string, violating: string, target?: string, anyOther = false): StateCheck {
  const policy = policyNameOf(policyArn);
  return stateCheck(
    policyDefaultProbe,
    { PolicyArn: policyArn },
    { policy, violating, ...(target !== undefined && { target }), ...(anyOther && { anyOther: true }) },
    `${violating} is still the default version of ${policy}`,
  );
}

/**
 * GetRole: does the role still trust the document the event set (needed)?
 * Gone, or already the proposed document: done. Anything else: changed.
 */
export const trustPolicyProbe: Probe = {
  name: 'roleTrustPolicy',
  service: 'iam',
  operation: 'GetRole',
  resource: accountEntities('role'),
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
};

/** The read of a role's trust policy: still the event's `document`? With `proposed`, the document a proposal puts there counts as done. */
export function trustPolicyCheck(roleName: string, document: string, proposed?: string): StateCheck {
  return stateCheck(
    trustPolicyProbe,
    { RoleName: roleName },
    { role: roleName, document, ...(proposed !== undefined && { proposed }) },
    proposed === undefined ? `the trust policy of role ${roleName} is still the one the event set` : `the trust policy of role ${roleName} is still the one the event set, not yet the proposed one`,
  );
}

/** Every identity kind's attachment probe, for rules that detach from any of them. */
export const ALL_ATTACHMENT_PROBES: readonly Probe[] = KINDS.map((kind) => ATTACHMENT_PROBES[kind]);
