/**
 * ami-shared-untrusted-account: an AMI was shared with an account that is not
 * in `trustedAccounts`. Lower severity than a public AMI, `notify` by default.
 *
 * Triggers: `ModifyImageAttribute` whose `launchPermission.add` holds a
 * `userId` other than this account and the configured `trustedAccounts`.
 * Shares with an organization or organizational unit are not flagged.
 *
 * Changes (in `remediate` mode only): one `ModifyImageAttribute` with
 * `LaunchPermission: { Remove: [{ UserId }] }` per untrusted account; the
 * undo adds it back. `DescribeImageAttribute launchPermission` is read just
 * before (the account no longer listed, or the AMI deregistered: that step is
 * already done) and just after (the step counts only when the account is gone).
 * Never touches: trusted accounts, organization shares, the public group
 * (`ami-public`), the AMI itself, AMIs carrying the exemption tag.
 * Permissions: `ec2:ModifyImageAttribute` and `ec2:DescribeImageAttribute` on
 * images; lookup `ec2:DescribeImages` (tags).
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, RuleContext, Verdict } from '../../engine/types.js';
import { defineRule } from '../../rulekit/index.js';
import { evaluateUntrustedShare, imageLookup, imageSharingProbe, permissionChange, unshareImage } from './sharing.js';

const sharesWithOtherAccount = (event: CloudTrailEvent) => permissionChange(event, 'image').added.userIds.some((id) => id !== event.account);

const imageTags = imageLookup(sharesWithOtherAccount);

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  return evaluateUntrustedShare('image', imageTags, event, facts, context.config);
}

export const amiSharedUntrustedAccount = defineRule({
  id: 'ami-shared-untrusted-account',
  title: 'AMI shared with an untrusted account',
  severity: 'medium',
  rationale:
    'Sharing an AMI hands another account everything baked into it; sharing with an account nobody listed as trusted is a known exfiltration step.',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifyImageAttribute'] }],
  // The kit grants it on image ARNs, which name no account, so only on the deploying account's AMIs (aws:ResourceAccount).
  actions: [unshareImage],
  lookups: [imageTags],
  probes: [imageSharingProbe],
  evaluate,
});
