/**
 * ebs-snapshot-shared-untrusted-account: an EBS snapshot was shared with an
 * account that is not in `trustedAccounts`. Lower severity than a public
 * snapshot, and `notify` by default: sharing with a partner account is often
 * intended, so people decide.
 *
 * Triggers: `ModifySnapshotAttribute` whose `createVolumePermission.add`
 * holds a `userId` other than this account and the configured `trustedAccounts`.
 *
 * Changes (in `remediate` mode only): one `ModifySnapshotAttribute` with
 * `CreateVolumePermission: { Remove: [{ UserId }] }` per untrusted account;
 * the undo adds it back. `DescribeSnapshotAttribute` is read just before
 * (the account no longer listed, or the snapshot deleted: that step is
 * already done) and just after (the step counts only when the account is gone).
 * Never touches: trusted accounts, the public group (`ebs-public-snapshot`),
 * the snapshot itself, snapshots carrying the exemption tag.
 * Permissions: `ec2:ModifySnapshotAttribute` and `ec2:DescribeSnapshotAttribute`
 * on snapshots; lookup `ec2:DescribeSnapshots` (tags).
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, RuleContext, Verdict } from '../../engine/types.js';
import { defineRule } from '../../rulekit/index.js';
import { evaluateUntrustedShare, permissionChange, snapshotLookup, snapshotSharingProbe, unshareSnapshot } from './sharing.js';

/** Lookups cannot see the config: any account other than this one may turn out untrusted. */
const sharesWithOtherAccount = (event: CloudTrailEvent) => permissionChange(event, 'snapshot').added.userIds.some((id) => id !== event.account);

const snapshotTags = snapshotLookup(sharesWithOtherAccount);

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  return evaluateUntrustedShare('snapshot', snapshotTags, event, facts, context.config);
}

export const ebsSnapshotSharedUntrustedAccount = defineRule({
  id: 'ebs-snapshot-shared-untrusted-account',
  title: 'EBS snapshot shared with an untrusted account',
  severity: 'medium',
  rationale:
    'Sharing a snapshot with another account hands that account a full copy of the volume; sharing with an account nobody listed as trusted is a classic exfiltration step.',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifySnapshotAttribute'] }],
  // The kit grants it on snapshot ARNs, which name no account, so only on the deploying account's snapshots (aws:ResourceAccount).
  actions: [unshareSnapshot],
  lookups: [snapshotTags],
  probes: [snapshotSharingProbe],
  evaluate,
});
