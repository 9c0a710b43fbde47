/**
 * s3-public-access-block-weakened: a bucket's or the account's S3 public
 * access block was removed, or one of its four settings turned off.
 *
 * Triggers (`s3.amazonaws.com`, which also records the account-level S3
 * Control calls): `PutBucketPublicAccessBlock` and `PutAccountPublicAccessBlock`
 * with any setting false (or absent, which S3 treats as false),
 * `DeleteBucketPublicAccessBlock` and `DeleteAccountPublicAccessBlock`.
 *
 * Changes: `PutPublicAccessBlock` with all four settings on, for the bucket
 * (S3, with `ExpectedBucketOwner`) or for the account (S3 Control, `AccountId`).
 * Just before, `GetPublicAccessBlock` reads the block: all four on already is
 * "already done" (no call); a block other than the one the event left (a
 * newer change) is stale (no call: that change has its own event). Just after,
 * the same read must show all four on, or the fix is unverified.
 * The undo restores exactly what the event set: the event's own configuration
 * for a Put, `DeletePublicAccessBlock` for a Delete.
 * Never touches: bucket policies and ACLs (a block only overrides them),
 * other buckets, buckets carrying the exemption tag. The account level has no
 * tags: turn the rule off or ignore the principal to allow it.
 * Permissions: `s3:PutBucketPublicAccessBlock` on buckets of the deploying
 * account (`aws:ResourceAccount`) and `s3:PutAccountPublicAccessBlock` (no
 * resource-level support), the IAM actions behind the S3 API
 * `PutPublicAccessBlock`; reads `s3:GetBucketPublicAccessBlock` and
 * `s3:GetAccountPublicAccessBlock` (probes), lookup `s3:GetBucketTagging`.
 */
import { DeletePublicAccessBlockCommand, PutPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import {
  DeletePublicAccessBlockCommand as DeleteAccountPublicAccessBlockCommand,
  PutPublicAccessBlockCommand as PutAccountPublicAccessBlockCommand,
} from '@aws-sdk/client-s3-control';
import { type CloudTrailEvent } from '../../engine/event.js';
import { checkedBothWays, type Facts, type Finding, type PlanStep, type RuleContext, type UndoStep, type Verdict } from '../../engine/types.js';
import { defineAction, defineRule, defineUndo } from '../../rulekit/index.js';
import { s3 } from '../../rulekit/aws/s3.js';
import { s3control } from '../../rulekit/aws/s3control.js';
import {
  accountBlockProbe,
  accountIdOf,
  BLOCK_SETTINGS,
  blockExpectation,
  bucketBlockProbe,
  bucketExemption,
  bucketInput,
  bucketOf,
  bucketTagsLookup,
  describeBlock,
  FULL_BLOCK,
  listSettings,
  requestedBlock,
  settingsOff,
  type BlockConfiguration,
} from './common.js';

/** The bucket's block (S3, granted on the account's buckets only) and the account's (S3 Control, no resource type). */
const putBucketBlock = defineAction(s3, PutPublicAccessBlockCommand);
const putAccountBlock = defineAction(s3control, PutAccountPublicAccessBlockCommand);
const restoreBucketBlock = defineUndo(s3, PutPublicAccessBlockCommand);
const restoreAccountBlock = defineUndo(s3control, PutAccountPublicAccessBlockCommand);
const deleteBucketBlock = defineUndo(s3, DeletePublicAccessBlockCommand);
const deleteAccountBlock = defineUndo(s3control, DeleteAccountPublicAccessBlockCommand);

type Target = { readonly level: 'bucket'; readonly bucket: string; readonly owner: string } | { readonly level: 'account'; readonly account: string };

function label(target: Target): string {
  return target.level === 'bucket' ? `bucket ${target.bucket}` : `account ${target.account}`;
}

/**
 * Puts all four settings back on; the undo puts back what the event left (its
 * configuration, or no block at all). The read before runs the step only while
 * the block is still what the event left, so the undo is its exact inverse.
 */
function planRestore(target: Target, previous: BlockConfiguration | undefined): PlanStep {
  const reason = `Turn all four public access block settings of ${label(target)} back on (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets).`;
  const undoReason = previous
    ? `Put back the public access block of ${label(target)} exactly as the event set it.`
    : `Remove the public access block of ${label(target)} again, as the event did.`;
  const expectation = blockExpectation(label(target), BLOCK_SETTINGS, { block: previous ?? null, from: 'the event left it' });
  const description = `${label(target)} still has ${describeBlock(previous ?? null)}, as the event left it`;
  if (target.level === 'account') {
    const ref = { AccountId: target.account };
    const undo: UndoStep = previous
      ? restoreAccountBlock.undo({ ...ref, PublicAccessBlockConfiguration: previous }, undoReason)
      : deleteAccountBlock.undo(ref, undoReason);
    return putAccountBlock.step({ ...ref, PublicAccessBlockConfiguration: FULL_BLOCK }, { reason, undo, ...checkedBothWays(accountBlockProbe.check(ref, expectation, description)) });
  }
  const ref = bucketInput(target.bucket, target.owner);
  const undo: UndoStep = previous ? restoreBucketBlock.undo({ ...ref, PublicAccessBlockConfiguration: previous }, undoReason) : deleteBucketBlock.undo(ref, undoReason);
  return putBucketBlock.step(
    { ...ref, PublicAccessBlockConfiguration: FULL_BLOCK },
    // A bucket deleted between the read and the write exposes nothing (the read after is then unanswerable: unverified, never applied).
    { reason, undo, alreadyDoneCodes: ['NoSuchBucket'], ...checkedBothWays(bucketBlockProbe.check(ref, expectation, description)) },
  );
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const name = event.detail.eventName;
  const removed = name.startsWith('Delete');
  const account = accountIdOf(event);
  if (account === undefined) return { kind: 'skipped', reason: 'the event names no 12-digit account' };
  let target: Target;
  if (name.includes('Account')) {
    target = { level: 'account', account };
  } else {
    const bucket = bucketOf(event);
    if (bucket === undefined) return { kind: 'skipped', reason: 'the event names no bucket' };
    target = { level: 'bucket', bucket, owner: account };
  }
  const resources = [label(target)];

  const requested = removed ? undefined : requestedBlock(event);
  if (!removed && requested === undefined) {
    return { kind: 'skipped', reason: `the event carries no PublicAccessBlockConfiguration for ${label(target)}`, resources };
  }
  const off = requested ? settingsOff(requested) : [];
  if (!removed && off.length === 0) {
    return { kind: 'compliant', summary: `${label(target)}: all four public access block settings are on`, resources };
  }

  const severity = target.level === 'account' ? 'critical' : 'high';
  const scope = target.level === 'account' ? 'every bucket of the account' : 'the bucket';
  const finding: Finding = removed
    ? {
        code: 'public-access-block-removed',
        severity,
        message: `The public access block of ${label(target)} was deleted, so public ACLs and public bucket policies on ${scope} take effect again.`,
        subject: label(target),
      }
    : {
        code: 'public-access-block-weakened',
        severity,
        message: `${listSettings(off)} ${off.length === 1 ? 'was' : 'were'} turned off in the public access block of ${label(target)}.`,
        subject: `${label(target)}: ${off.join(', ')}`,
      };
  if (target.level === 'bucket') {
    const exempt = bucketExemption(target.bucket, facts, context.config);
    if (exempt) return { kind: 'exempt', reason: exempt, resources, findings: [finding] };
  }
  return {
    kind: 'violation',
    summary: removed ? `${label(target)}: public access block deleted` : `${label(target)}: public access block weakened (${off.join(', ')} off)`,
    resources,
    findings: [finding],
    plan: [planRestore(target, requested)],
  };
}

export const s3PublicAccessBlockWeakened = defineRule({
  id: 's3-public-access-block-weakened',
  title: 'S3 public access block removed or weakened',
  severity: 'critical',
  rationale:
    'The public access block is the guard rail that keeps a mistaken bucket policy or ACL from publishing data (training sets, model artifacts, logs) to the internet; removing it, or turning one setting off, leaves every bucket it covered one mistake away from public.',
  triggers: [
    {
      eventSource: 's3.amazonaws.com',
      eventNames: ['PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutAccountPublicAccessBlock', 'DeleteAccountPublicAccessBlock'],
    },
  ],
  actions: [putBucketBlock, putAccountBlock],
  lookups: [bucketTagsLookup],
  probes: [bucketBlockProbe, accountBlockProbe],
  evaluate,
});
