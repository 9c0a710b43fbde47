/**
 * Reading CloudTrail records the way every rule needs to: nested fields that
 * may be missing or of the wrong type, collections as `{items: [...]}` (or,
 * from some exports, plain arrays), tag lists in their several spellings, and
 * the partition and account a call was made in. One copy, for every family.
 */
import { field, items, stringField, type CloudTrailEvent } from '../engine/event.js';
import { tagsFromList, type Tags } from '../engine/exemption.js';

export { field, items, stringField };

/** A CloudTrail collection as its objects: `{items: [...]}`, or an array as some exports flatten it. */
export function entries(value: unknown): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : field(value, 'items');
  if (!Array.isArray(list)) return [];
  return list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

/** A non-empty string, or `undefined`. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A boolean as CloudTrail records it: `true`, or the text `"true"`/`"False"` some services write; else `undefined`. */
export function booleanOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  return typeof value === 'string' && /^(true|false)$/i.test(value) ? value.toLowerCase() === 'true' : undefined;
}

/** CloudTrail's tag lists: `[{key, value}]`, `{items: [{key, value}]}`, or the SDK's `[{Key, Value}]`. */
export function tagsFromEvent(list: unknown): Tags {
  return tagsFromList(entries(list).map((tag) => ({ Key: field(tag, 'key') ?? field(tag, 'Key'), Value: field(tag, 'value') ?? field(tag, 'Value') })));
}

/** EC2's `tagSpecificationSet` tags for one resource type (`instance`, `volume`, …). */
export function requestedTags(event: CloudTrailEvent, resourceType: string): Tags {
  const specs = items(field(event.detail.requestParameters, 'tagSpecificationSet')).filter((spec) => spec['resourceType'] === resourceType);
  return Object.assign({}, ...specs.map((spec) => tagsFromEvent(spec['tags']))) as Tags;
}

/** `aws`, `aws-cn`, `aws-us-gov`, … for a Region. */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

const PARTITION = /^arn:(aws[a-z-]*):/;

/** The partition of the call: from the caller's ARNs when they say, else from the Region. */
export function partitionOf(event: CloudTrailEvent): string {
  for (const arn of [event.detail.userIdentity?.arn, event.detail.userIdentity?.sessionContext?.sessionIssuer?.arn]) {
    const match = typeof arn === 'string' ? PARTITION.exec(arn) : null;
    if (match?.[1]) return match[1];
  }
  return partitionOfRegion(event.detail.awsRegion || event.region);
}

/** The account whose resources the call changed: the recipient account (EventBridge's `account`). */
export function accountOf(event: CloudTrailEvent): string {
  return event.detail.recipientAccountId ?? event.account;
}

/** IAM's "no such role, user, group, policy or attachment": real responses say `NoSuchEntity`, the SDK class is `NoSuchEntityException`. */
export const NO_SUCH_ENTITY = ['NoSuchEntity', 'NoSuchEntityException'] as const;
