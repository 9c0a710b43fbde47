/**
 * root-access-key-created: the root user created an access key for itself.
 * A root key can do anything in the account, ignores every IAM policy and
 * cannot be limited; AWS recommends the root user has none.
 *
 * Triggers: `CreateAccessKey` (`iam.amazonaws.com`) with `userIdentity.type`
 * `Root` and no `userName` (the key belongs to the caller). Keys the root user
 * creates for IAM users, and IAM users' keys, are not this rule's concern.
 *
 * Changes: nothing (`notify` by default). Only the root user itself can change
 * root access keys, so the bot's role is never given that power.
 * Proposes (never applied): `UpdateAccessKey {AccessKeyId, Status: Inactive}`,
 * to run signed in as the root user (no `UserName`: the root user's own key);
 * the undo sets it `Active` again.
 * Never touches: the key itself (never deleted, never deactivated by the bot),
 * IAM users' keys.
 * Permissions: none.
 */
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { unknownValue, type PlanStep, type Rule, type Verdict } from '../../engine/types.js';
import { isRootCaller } from './identities.js';

export function proposeDeactivation(accessKeyId: string | undefined): PlanStep {
  const AccessKeyId = accessKeyId ?? unknownValue("the root user's new access key id (IAM console, the root user's Security credentials)");
  return {
    service: 'iam',
    operation: 'UpdateAccessKey',
    input: { AccessKeyId, Status: 'Inactive' },
    reason:
      "PROPOSAL, not applied: deactivate the root user's new access key. Only the root user can change its own keys: run this signed in as the root user (no UserName means the caller's own key). Nothing is deleted; the key can be activated again.",
    undo: {
      service: 'iam',
      operation: 'UpdateAccessKey',
      input: { AccessKeyId, Status: 'Active' },
      reason: "Activate the root user's access key again.",
    },
  };
}

function evaluate(event: CloudTrailEvent): Verdict {
  const account = event.detail.recipientAccountId ?? event.account;
  const key = field(event.detail.responseElements, 'accessKey');
  const accessKeyId = stringField(key, 'accessKeyId');
  const owner = stringField(event.detail.requestParameters, 'userName') ?? stringField(key, 'userName');
  if (owner) {
    return {
      kind: 'compliant',
      summary: `access key ${accessKeyId ? `${accessKeyId} ` : ''}belongs to IAM user ${owner}, not to the root user`,
      resources: [`user ${owner}`],
    };
  }
  if (!isRootCaller(event)) {
    return { kind: 'compliant', summary: `the caller created a key for itself and is not the root user (${event.detail.userIdentity?.type ?? 'unknown type'})`, resources: [] };
  }
  const root = `arn:aws:iam::${account}:root`;
  return {
    kind: 'violation',
    summary: `the root user of account ${account} created access key ${accessKeyId ?? '(id not in the event)'}`,
    resources: [root],
    findings: [
      {
        code: 'root-access-key-created',
        severity: 'high',
        message: `The root user created access key ${accessKeyId ?? '(id not in the event)'}. A root key bypasses every IAM policy and cannot be scoped down; deactivate it unless a task truly needs it, and find out who created it and why.`,
        subject: accessKeyId ?? root,
      },
    ],
    plan: [],
    proposal: [proposeDeactivation(accessKeyId)],
  };
}

export const rootAccessKeyCreated = {
  id: 'root-access-key-created',
  title: 'Root user access key created',
  severity: 'high',
  rationale:
    'The root user can do anything in the account and no policy limits it; a long-lived root access key is the most valuable credential an attacker can steal, and AWS recommends there be none.',
  family: 'credentials',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['CreateAccessKey'] }],
  permissions: [],
  defaultMode: 'notify',
  docs: {
    changes: 'Nothing: it alerts (notify by default). Only the root user can change its own keys, so the bot never holds that power.',
    proposes: 'UpdateAccessKey {AccessKeyId, Status: Inactive} for the new root key, to run signed in as the root user; its undo sets the key Active again.',
    neverTouches: 'The key itself (the bot never deactivates or deletes it) and IAM users’ access keys, including keys the root user creates for IAM users.',
  },
  evaluate,
} as const satisfies Rule;
