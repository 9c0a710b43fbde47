/**
 * ebs-public-snapshot: an EBS snapshot was made public.
 *
 * Triggers: `ModifySnapshotAttribute` whose `createVolumePermission.add`
 * holds group `all`. Calls that only remove permissions, or share with
 * accounts, are compliant here (accounts: see `ebs-snapshot-shared-untrusted-account`).
 *
 * Changes: `ModifySnapshotAttribute` with
 * `CreateVolumePermission: { Remove: [{ Group: 'all' }] }` on that snapshot:
 * the public permission and nothing else. The undo adds it back.
 * `DescribeSnapshotAttribute` is read just before (group `all` gone, or the
 * snapshot deleted: nothing is written, "already fixed") and just after (the
 * fix counts only when group `all` is no longer listed; the API itself
 * succeeds silently either way).
 * Never touches: account-specific shares, the snapshot's data, the snapshot
 * itself (never deleted), snapshots carrying the exemption tag.
 * Permissions: `ec2:ModifySnapshotAttribute` and, for the reads around it,
 * `ec2:DescribeSnapshotAttribute` on snapshots (`arn:…:ec2:<region>::snapshot/*`:
 * snapshot ARNs have no account); lookup `ec2:DescribeSnapshots` (tags).
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, RuleContext, Verdict } from '../../engine/types.js';
import { defineRule } from '../../rulekit/index.js';
import { addsPublicGroup, evaluatePublic, snapshotLookup, snapshotSharingProbe, unshareSnapshot } from './sharing.js';

const madePublic = (event: CloudTrailEvent) => addsPublicGroup(event, 'snapshot');

const snapshotTags = snapshotLookup(madePublic);

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  return evaluatePublic('snapshot', snapshotTags, event, facts, context.config);
}

export const ebsPublicSnapshot = defineRule({
  id: 'ebs-public-snapshot',
  title: 'EBS snapshot made public',
  severity: 'critical',
  rationale:
    'A public snapshot can be copied by any AWS account, and with it every byte that was on the volume: credentials, customer data, model weights. Public snapshots are scanned for continuously.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifySnapshotAttribute'] }],
  // The kit grants it on snapshot ARNs, which name no account, so only on the deploying account's snapshots (aws:ResourceAccount).
  actions: [unshareSnapshot],
  lookups: [snapshotTags],
  probes: [snapshotSharingProbe],
  evaluate,
});
