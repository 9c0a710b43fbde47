/**
 * ebs-snapshot-shared-untrusted-account: an EBS snapshot was shared with an
 * account that is not in `trustedAccounts`. Lower severity than a public
 * snapshot, and `notify` by default: sharing with a partner account is often
 * intended, so people decide.
 *
 * Triggers: `ModifySnapshotAttribute` whose `createVolumePermission.add`
 * holds a `userId` other than this account and the configured `trustedAccounts`.
 *
 * Changes (in `remediate` mode only): `ModifySnapshotAttribute` with
 * `CreateVolumePermission: { Remove: [{ UserId }] }` for exactly those
 * accounts; the undo adds them back. A `DescribeSnapshotAttribute` lookup
 * that shows them gone makes the step "already done".
 * Never touches: trusted accounts, the public group (`ebs-public-snapshot`),
 * the snapshot itself, snapshots carrying the exemption tag.
 * Permissions: `ec2:ModifySnapshotAttribute` on snapshots; lookups
 * `ec2:DescribeSnapshots` and `ec2:DescribeSnapshotAttribute`.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Rule, RuleContext, Verdict } from '../../engine/types.js';
import { evaluateUntrustedShare, permissionChange, permissionsLookup, resourceLookup } from './sharing.js';

/** Lookups cannot see the config: any account other than this one may turn out untrusted. */
const sharesWithOtherAccount = (event: CloudTrailEvent) => permissionChange(event, 'snapshot').added.userIds.some((id) => id !== event.account);

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  return evaluateUntrustedShare('snapshot', event, facts, context.config);
}

export const ebsSnapshotSharedUntrustedAccount = {
  id: 'ebs-snapshot-shared-untrusted-account',
  title: 'EBS snapshot shared with an untrusted account',
  severity: 'medium',
  rationale:
    'Sharing a snapshot with another account hands that account a full copy of the volume; sharing with an account nobody listed as trusted is a classic exfiltration step.',
  family: 'ebs',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifySnapshotAttribute'] }],
  permissions: [{ action: 'ec2:ModifySnapshotAttribute', resource: 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*' }],
  lookups: [resourceLookup('snapshot', sharesWithOtherAccount), permissionsLookup('snapshot', sharesWithOtherAccount)],
  docs: {
    changes:
      'Notifies by default. In remediate mode, removes exactly the untrusted accounts from the snapshot with ModifySnapshotAttribute CreateVolumePermission.Remove [{UserId}]; the undo adds them back.',
    neverTouches: 'Accounts in trustedAccounts and this account, the public group (handled by ebs-public-snapshot), the snapshot itself, and snapshots carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
