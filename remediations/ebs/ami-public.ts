/**
 * ami-public: an AMI was made public.
 *
 * Triggers: `ModifyImageAttribute` whose `launchPermission.add` holds group
 * `all`. Calls that change another attribute, only remove permissions, or
 * share with accounts are compliant here (accounts: `ami-shared-untrusted-account`).
 *
 * Changes: `ModifyImageAttribute` with `LaunchPermission: { Remove: [{ Group: 'all' }] }`
 * on that AMI, and nothing else; the undo adds it back. A `DescribeImages`
 * lookup that shows `Public: false` makes the step "already done".
 * Never touches: account and organization shares, the AMI (never
 * deregistered) and its snapshots, AMIs carrying the exemption tag.
 * Permissions: `ec2:ModifyImageAttribute` on images (`arn:…:ec2:<region>::image/*`);
 * lookup `ec2:DescribeImages` (tags and the `Public` flag).
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Rule, RuleContext, Verdict } from '../../engine/types.js';
import { addsPublicGroup, evaluatePublic, resourceLookup } from './sharing.js';

const madePublic = (event: CloudTrailEvent) => addsPublicGroup(event, 'image');

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  return evaluatePublic('image', event, facts, context.config);
}

export const amiPublic = {
  id: 'ami-public',
  title: 'AMI made public',
  severity: 'high',
  rationale:
    'Anyone can launch a public AMI and read every volume baked into it: application code, configuration, keys left on disk, training data.',
  family: 'ebs',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifyImageAttribute'] }],
  permissions: [{ action: 'ec2:ModifyImageAttribute', resource: 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' }],
  lookups: [resourceLookup('image', madePublic)],
  docs: {
    changes: "Removes the public launchPermission (group all) from the AMI with ModifyImageAttribute LaunchPermission.Remove [{Group: 'all'}]; the undo adds it back.",
    neverTouches: 'Account and organization shares, the AMI itself (never deregistered) and its snapshots, and AMIs carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
