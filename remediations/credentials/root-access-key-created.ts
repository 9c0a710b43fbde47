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
 * the undo sets it `Active` again. Checks first `GetAccountSummary`
 * (`AccountAccessKeysPresent`: 0 means the root user has no key left, so the
 * proposal is already fixed; the bot's role can make this read); afterwards
 * `ListAccessKeys` without `UserName`, which lists the caller's own keys and so
 * answers only the root user: the key must be `Inactive` or gone.
 * Never touches: the key itself (never deleted, never deactivated by the bot),
 * IAM users' keys.
 * Permissions: none for changes; probes `iam:GetAccountSummary` (`*`) and
 * `iam:ListAccessKeys` (the account's `user/*`, its only resource type).
 */
import { GetAccountSummaryCommand, ListAccessKeysCommand, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { unknownValue, type PlanStep, type Verdict } from '../../engine/types.js';
import { accountOf, defineProbe, defineProposedWrite, defineRule, NO_SUCH_ENTITY } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';
import { isRootCaller } from './identities.js';

/** What the checks of a proposal compare against: the new key's id, when the event names it. */
function keyExpectation(accessKeyId: string | undefined): Readonly<Record<string, unknown>> {
  return accessKeyId ? { accessKeyId } : {};
}

function keyLabel(expected: Readonly<Record<string, unknown>>): string {
  const id = expected['accessKeyId'];
  return typeof id === 'string' ? id : "the root user's new access key";
}

/**
 * GetAccountSummary's `AccountAccessKeysPresent`: whether the root user still
 * has any access key. It counts inactive keys too, so it can show the key gone
 * (done), never that it was deactivated: 1 means the step may still be needed.
 */
const rootAccessKeysProbe = defineProbe(iam, GetAccountSummaryCommand, {
  name: 'rootAccessKeys',
  judge(output, expected) {
    const present = field(output, 'SummaryMap', 'AccountAccessKeysPresent');
    if (typeof present !== 'number') throw new Error('the answer holds no AccountAccessKeysPresent');
    const key = keyLabel(expected);
    if (present === 0) return { state: 'done', evidence: `the root user has no access key left (AccountAccessKeysPresent 0): ${key} was deleted` };
    return { state: 'needed', evidence: `the root user still has an access key (AccountAccessKeysPresent ${present}); whether ${key} is still active only the root user can read` };
  },
});

/**
 * ListAccessKeys without `UserName`: the caller's own keys. Signed in as the
 * root user (the only principal that can run the proposal) it lists the root
 * user's keys; a role's temporary credentials get a `ValidationError` (AWS
 * requires `UserName` then), which the executor reports as unreadable.
 */
const rootOwnAccessKeyProbe = defineProbe(iam, ListAccessKeysCommand, {
  name: 'rootOwnAccessKey',
  judge(output, expected) {
    const keys = field(output, 'AccessKeyMetadata');
    if (!Array.isArray(keys)) throw new Error('the answer holds no AccessKeyMetadata');
    const id = expected['accessKeyId'];
    const active = keys.filter((key) => field(key, 'Status') === 'Active').map((key) => stringField(key, 'AccessKeyId') ?? '(no id)');
    if (typeof id !== 'string') {
      return active.length === 0
        ? { state: 'done', evidence: 'the root user has no active access key' }
        : { state: 'needed', evidence: `the root user still has active access key(s) ${active.join(', ')}` };
    }
    const key = keys.find((candidate) => field(candidate, 'AccessKeyId') === id);
    if (key === undefined) return { state: 'done', evidence: `${id} is no longer among the root user's access keys (deleted)` };
    const status = stringField(key, 'Status') ?? 'unknown';
    return status === 'Active'
      ? { state: 'needed', evidence: `${id} is still Active` }
      : { state: 'done', evidence: `${id} is ${status}` };
  },
});

/**
 * A proposed write that is never granted and not in the rule's `proposals`
 * (so not in the family's command table): only the root user can change its
 * own keys, so the proposal and its undo are for a person to run, signed in as root.
 */
const updateRootAccessKey = defineProposedWrite(iam, UpdateAccessKeyCommand);

export function proposeDeactivation(accessKeyId: string | undefined): PlanStep {
  const AccessKeyId = accessKeyId ?? unknownValue("the root user's new access key id (IAM console, the root user's Security credentials)");
  const expected = keyExpectation(accessKeyId);
  const key = keyLabel(expected);
  return updateRootAccessKey.step(
    { AccessKeyId, Status: 'Inactive' },
    {
      reason:
        "PROPOSAL, not applied: deactivate the root user's new access key. Only the root user can change its own keys: run this signed in as the root user (no UserName means the caller's own key). Nothing is deleted; the key can be activated again.",
      undo: updateRootAccessKey.undo({ AccessKeyId, Status: 'Active' }, "Activate the root user's access key again."),
      // A key that no longer exists has nothing left to deactivate; the read afterwards confirms it is gone.
      alreadyDoneCodes: NO_SUCH_ENTITY,
      precondition: rootAccessKeysProbe.check({}, expected, `the root user still has an access key (${key}, unless it was deleted)`),
      verification: rootOwnAccessKeyProbe.check({}, expected, `${key} is no longer Active among the root user's own keys (a read only the root user can make)`),
    },
  );
}

function evaluate(event: CloudTrailEvent): Verdict {
  const account = accountOf(event);
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

export const rootAccessKeyCreated = defineRule({
  id: 'root-access-key-created',
  title: 'Root user access key created',
  severity: 'high',
  rationale:
    'The root user can do anything in the account and no policy limits it; a long-lived root access key is the most valuable credential an attacker can steal, and AWS recommends there be none.',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['CreateAccessKey'] }],
  probes: [rootAccessKeysProbe, rootOwnAccessKeyProbe],
  defaultMode: 'notify',
  evaluate,
});
