/**
 * ami-public: an AMI was made public.
 *
 * Triggers: `ModifyImageAttribute` whose `launchPermission.add` holds group
 * `all`. Calls that change another attribute, only remove permissions, or
 * share with accounts are compliant here (accounts: `ami-shared-untrusted-account`).
 *
 * Changes: `ModifyImageAttribute` with `LaunchPermission: { Remove: [{ Group: 'all' }] }`
 * on that AMI, and nothing else; the undo adds it back.
 * `DescribeImageAttribute launchPermission` is read just before (group `all`
 * gone, or the AMI deregistered: nothing is written, "already fixed") and
 * just after (the fix counts only when group `all` is no longer listed).
 * Never touches: account and organization shares, the AMI (never
 * deregistered) and its snapshots, AMIs carrying the exemption tag.
 * Permissions: `ec2:ModifyImageAttribute` and `ec2:DescribeImageAttribute`
 * on images (`arn:…:ec2:<region>::image/*`); lookup `ec2:DescribeImages` (tags).
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, RuleContext, Verdict } from '../../engine/types.js';
import { defineRule } from '../../rulekit/index.js';
import { addsPublicGroup, evaluatePublic, imageLookup, imageSharingProbe, unshareImage } from './sharing.js';

const madePublic = (event: CloudTrailEvent) => addsPublicGroup(event, 'image');

const imageTags = imageLookup(madePublic);

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  return evaluatePublic('image', imageTags, event, facts, context.config);
}

export const amiPublic = defineRule({
  id: 'ami-public',
  title: 'AMI made public',
  severity: 'high',
  rationale:
    'Anyone can launch a public AMI and read every volume baked into it: application code, configuration, keys left on disk, training data.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifyImageAttribute'] }],
  // The kit grants it on image ARNs, which name no account, so only on the deploying account's AMIs (aws:ResourceAccount).
  actions: [unshareImage],
  lookups: [imageTags],
  probes: [imageSharingProbe],
  evaluate,
});
