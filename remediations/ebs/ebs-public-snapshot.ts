/**
 * ebs-public-snapshot: an EBS snapshot was made public.
 *
 * Triggers: `ModifySnapshotAttribute` whose `createVolumePermission.add`
 * holds group `all`. Calls that only remove permissions, or share with
 * accounts, are compliant here (accounts: see `ebs-snapshot-shared-untrusted-account`).
 *
 * Changes: `ModifySnapshotAttribute` with
 * `CreateVolumePermission: { Remove: [{ Group: 'all' }] }` on that snapshot:
 * the public permission and nothing else. The undo adds it back. A
 * `DescribeSnapshotAttribute` lookup that shows the group gone makes the step
 * "already done" (the API itself succeeds silently either way).
 * Never touches: account-specific shares, the snapshot's data, the snapshot
 * itself (never deleted), snapshots carrying the exemption tag.
 * Permissions: `ec2:ModifySnapshotAttribute` on snapshots
 * (`arn:…:ec2:<region>::snapshot/*`: snapshot ARNs have no account);
 * lookups `ec2:DescribeSnapshots` (tags) and `ec2:DescribeSnapshotAttribute`.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Rule, RuleContext, Verdict } from '../../engine/types.js';
import { addsPublicGroup, evaluatePublic, permissionsLookup, resourceLookup } from './sharing.js';

const madePublic = (event: CloudTrailEvent) => addsPublicGroup(event, 'snapshot');

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  return evaluatePublic('snapshot', event, facts, context.config);
}

export const ebsPublicSnapshot = {
  id: 'ebs-public-snapshot',
  title: 'EBS snapshot made public',
  severity: 'critical',
  rationale:
    'A public snapshot can be copied by any AWS account, and with it every byte that was on the volume: credentials, customer data, model weights. Public snapshots are scanned for continuously.',
  family: 'ebs',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifySnapshotAttribute'] }],
  permissions: [{ action: 'ec2:ModifySnapshotAttribute', resource: 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*' }],
  lookups: [resourceLookup('snapshot', madePublic), permissionsLookup('snapshot', madePublic)],
  docs: {
    changes: "Removes the public createVolumePermission (group all) from the snapshot with ModifySnapshotAttribute CreateVolumePermission.Remove [{Group: 'all'}]; the undo adds it back.",
    neverTouches: 'Account-specific shares, the snapshot and its data (never deleted), and snapshots carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
