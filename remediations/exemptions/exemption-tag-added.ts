/**
 * exemption-tag-added: someone put the exemption tag on a resource, so the
 * bot's rules will leave it alone from now on.
 *
 * A resource carrying the configured `exemptionTagKey` (default
 * `remediation:exempt`) is exempt from every rule, whoever set the tag and
 * whenever; the tag's value is the reason. An exemption must never be quiet:
 * adding the tag is itself an alert, naming the resources, the principal and
 * the value.
 *
 * Triggers: the tagging calls of the services the bot's rules read tags from,
 * each with its own request shape in CloudTrail:
 * - `ec2.amazonaws.com` `CreateTags`: `resourcesSet.items[].resourceId`,
 *   `tagSet.items[].{key, value}` (security groups, volumes, snapshots,
 *   images, instances);
 * - `iam.amazonaws.com` `TagRole` (`roleName`), `TagUser` (`userName`),
 *   `TagPolicy` (`policyArn`), `TagInstanceProfile` (`instanceProfileName`),
 *   with `tags[].{key, value}`;
 * - `s3.amazonaws.com` `PutBucketTagging`: `bucketName`,
 *   `Tagging.TagSet.Tag` (a list, or one object for a single tag) of
 *   `{Key, Value}`. It replaces the bucket's whole tag set, so the key may
 *   have been there before: the alert says so;
 * - `kms.amazonaws.com` `TagResource`: `keyId`, `tags[].{tagKey, tagValue}`;
 * - `sagemaker.amazonaws.com` `AddTags`: `resourceArn`, `tags[].{key, value}`;
 * - `cloudtrail.amazonaws.com` `AddTags`: `resourceId` (the trail ARN),
 *   `tagsList[].{key, value}`.
 * Violation (medium) when the request sets the exemption tag key (exact, as
 * exemptions match it); compliant otherwise. A record whose tags are not
 * readable (absent, or hidden by the service) is a "could not inspect" alert.
 * Tags set at creation (`TagSpecifications`, `CreateRole` tags) are not seen
 * here: the rule judging that creation reports the exemption with what it let
 * through.
 *
 * Changes: nothing (`notify` by default, empty plan): whether an exemption is
 * agreed is a person's call.
 * Never touches: the tag, the resource, or any other tag.
 * Permissions: none. IAM tagging reaches EventBridge only in us-east-1; the
 * other services' in the resource's Region, so the family runs in every Region.
 *
 * Reserve the tag key with a service control policy: it denies setting the
 * key to everyone but the role that grants exemptions (replace
 * `ExemptionApprover`; `aws:TagKeys` holds the tag keys of the request):
 *
 * ```json
 * {
 *   "Version": "2012-10-17",
 *   "Statement": [
 *     {
 *       "Sid": "ReserveExemptionTag",
 *       "Effect": "Deny",
 *       "Action": [
 *         "ec2:CreateTags", "iam:TagRole", "iam:TagUser", "iam:TagPolicy", "iam:TagInstanceProfile",
 *         "kms:TagResource", "sagemaker:AddTags", "cloudtrail:AddTags"
 *       ],
 *       "Resource": "*",
 *       "Condition": {
 *         "ForAnyValue:StringEquals": { "aws:TagKeys": ["remediation:exempt"] },
 *         "ArnNotLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/ExemptionApprover" }
 *       }
 *     }
 *   ]
 * }
 * ```
 *
 * `s3:PutBucketTagging` is left out: check in the Service Authorization
 * Reference whether it takes `aws:TagKeys` before adding it. For buckets this
 * alert is the control. An AWS Organizations tag policy can in addition fix
 * the key's spelling (`remediation:exempt`, `tag_key` with its capitalisation)
 * so that look-alike keys are refused.
 */
import { principalArn, type CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Finding, RuleContext, Trigger, Verdict } from '../../engine/types.js';
import { defineRule, field, items, stringField } from '../../rulekit/index.js';

interface Tag {
  readonly key: string;
  readonly value: string;
}

/** What a tagging call did, as its CloudTrail record says. */
interface TaggingRequest {
  /** The resources tagged, as a person recognises them (ids, ARNs, `role <name>`). */
  readonly resources: readonly string[];
  /** `undefined`: the record does not show the tags (absent, or hidden by the service). */
  readonly tags?: readonly Tag[];
  /** The call replaces the resource's whole tag set (S3), so a key in it may not be new. */
  readonly replacesTagSet: boolean;
}

const TAGGING_TRIGGERS = [
  { eventSource: 'ec2.amazonaws.com', eventNames: ['CreateTags'] },
  { eventSource: 'iam.amazonaws.com', eventNames: ['TagInstanceProfile', 'TagPolicy', 'TagRole', 'TagUser'] },
  { eventSource: 's3.amazonaws.com', eventNames: ['PutBucketTagging'] },
  { eventSource: 'kms.amazonaws.com', eventNames: ['TagResource'] },
  { eventSource: 'sagemaker.amazonaws.com', eventNames: ['AddTags'] },
  { eventSource: 'cloudtrail.amazonaws.com', eventNames: ['AddTags'] },
] as const satisfies readonly Trigger[];

/** Past this many resources in one call (EC2 takes up to 1,000), the rest are named in one last finding. */
const MAX_FINDINGS = 20;

/** One tag in any of the spellings CloudTrail uses: `{key, value}`, `{Key, Value}`, `{tagKey, tagValue}`. */
function tagOf(raw: unknown): Tag | undefined {
  const key = stringField(raw, 'key') ?? stringField(raw, 'Key') ?? stringField(raw, 'tagKey') ?? stringField(raw, 'TagKey');
  if (key === undefined) return undefined;
  const value = stringField(raw, 'value') ?? stringField(raw, 'Value') ?? stringField(raw, 'tagValue') ?? stringField(raw, 'TagValue') ?? '';
  return { key, value };
}

/** A tag list, or `undefined` when the record holds none to read. S3's XML-born `Tag` is one object when there is one tag. */
function tagList(raw: unknown): Tag[] | undefined {
  const list = Array.isArray(raw) ? raw : typeof raw === 'object' && raw !== null ? [raw] : undefined;
  return list?.map(tagOf).filter((tag): tag is Tag => tag !== undefined);
}

function named(value: string | undefined): string[] {
  return value ? [value] : [];
}

/** The resources and tags of a tagging call, read from the request shape of its service. */
export function taggingRequest(event: CloudTrailEvent): TaggingRequest {
  const params = event.detail.requestParameters;
  const { eventSource, eventName } = event.detail;
  switch (`${eventSource} ${eventName}`) {
    case 'ec2.amazonaws.com CreateTags': {
      const tagSet = field(params, 'tagSet');
      return {
        resources: items(field(params, 'resourcesSet')).flatMap((item) => named(stringField(item, 'resourceId'))),
        ...(Array.isArray(field(tagSet, 'items')) ? { tags: items(tagSet).map(tagOf).filter((tag): tag is Tag => tag !== undefined) } : {}),
        replacesTagSet: false,
      };
    }
    case 'iam.amazonaws.com TagRole':
    case 'iam.amazonaws.com TagUser':
    case 'iam.amazonaws.com TagPolicy':
    case 'iam.amazonaws.com TagInstanceProfile': {
      const role = stringField(params, 'roleName');
      const user = stringField(params, 'userName');
      const profile = stringField(params, 'instanceProfileName');
      const resources = role ? [`role ${role}`] : user ? [`user ${user}`] : profile ? [`instance profile ${profile}`] : named(stringField(params, 'policyArn'));
      const tags = tagList(field(params, 'tags'));
      return { resources, ...(tags ? { tags } : {}), replacesTagSet: false };
    }
    case 's3.amazonaws.com PutBucketTagging': {
      const tags = tagList(field(params, 'Tagging', 'TagSet', 'Tag'));
      return { resources: named(stringField(params, 'bucketName')), ...(tags ? { tags } : {}), replacesTagSet: true };
    }
    case 'kms.amazonaws.com TagResource': {
      const tags = tagList(field(params, 'tags'));
      return { resources: named(stringField(params, 'keyId')), ...(tags ? { tags } : {}), replacesTagSet: false };
    }
    case 'sagemaker.amazonaws.com AddTags': {
      const tags = tagList(field(params, 'tags'));
      return { resources: named(stringField(params, 'resourceArn')), ...(tags ? { tags } : {}), replacesTagSet: false };
    }
    case 'cloudtrail.amazonaws.com AddTags': {
      const tags = tagList(field(params, 'tagsList'));
      return { resources: named(stringField(params, 'resourceId')), ...(tags ? { tags } : {}), replacesTagSet: false };
    }
    default:
      return { resources: [], replacesTagSet: false };
  }
}

function describeValue(value: string): string {
  const reason = value.trim();
  return reason ? `"${reason}"` : 'an empty value (no reason given)';
}

function listed(resources: readonly string[]): string {
  return resources.length <= 3 ? resources.join(', ') : `${resources.slice(0, 3).join(', ')} (+${resources.length - 3} more)`;
}

function findingsFor(event: CloudTrailEvent, request: TaggingRequest, tag: Tag): Finding[] {
  const who = principalArn(event);
  const call = `${event.detail.eventName} (${event.detail.eventSource.replace(/\.amazonaws\.com$/, '')})`;
  const setOn = (target: string) =>
    request.replacesTagSet
      ? `replaced the tag set of ${target} with one that carries ${tag.key} = ${describeValue(tag.value)} (the key may have been there before)`
      : `tagged ${target} ${tag.key} = ${describeValue(tag.value)}`;
  const consequence =
    'From now on every rule of the bot leaves it alone and only reports it exempt. Confirm the exemption was agreed, and that the reason holds; otherwise remove the tag.';
  const findings: Finding[] = request.resources.slice(0, MAX_FINDINGS).map((resource) => ({
    code: 'exemption-tag-added',
    severity: 'medium',
    message: `${who} ${setOn(resource)} with ${call}. ${consequence}`,
    subject: resource,
  }));
  const rest = request.resources.slice(MAX_FINDINGS);
  if (rest.length > 0) {
    findings.push({
      code: 'exemption-tag-added',
      severity: 'medium',
      message: `${who} ${setOn(`${rest.length} more resources (${listed(rest)})`)} with the same ${call}. ${consequence}`,
      subject: `${rest.length} more resources`,
    });
  }
  return findings;
}

function evaluate(event: CloudTrailEvent, _facts: Facts, context: RuleContext): Verdict {
  const key = context.config.exemptionTagKey;
  const request = taggingRequest(event);
  const { resources } = request;
  if (resources.length === 0) {
    return { kind: 'skipped', reason: `the ${event.detail.eventName} record names no resource, so whether something was exempted cannot be told` };
  }
  if (request.tags === undefined) {
    return { kind: 'skipped', reason: `the ${event.detail.eventName} record does not show its tags, so whether ${listed(resources)} got the exemption tag ${key} cannot be told`, resources };
  }
  const tag = request.tags.find((candidate) => candidate.key === key);
  if (tag === undefined) {
    const keys = request.tags.map((candidate) => candidate.key);
    return {
      kind: 'compliant',
      summary: `${principalArn(event)} tagged ${listed(resources)} with ${keys.length > 0 ? keys.join(', ') : 'no tag'}; none is the exemption tag ${key}`,
      resources,
    };
  }
  return {
    kind: 'violation',
    summary: `${principalArn(event)} set the exemption tag ${key} = ${describeValue(tag.value)} on ${listed(resources)}`,
    resources,
    findings: findingsFor(event, request, tag),
    plan: [],
  };
}

export const exemptionTagAdded = defineRule({
  id: 'exemption-tag-added',
  title: 'Exemption tag added to a resource',
  severity: 'medium',
  rationale:
    'The exemption tag switches every rule off for a resource, whoever sets it; an exemption nobody hears about is the quietest way to open a security group or a bucket and keep it open.',
  triggers: TAGGING_TRIGGERS,
  defaultMode: 'notify',
  evaluate,
});
