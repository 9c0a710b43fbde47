/**
 * What the S3 rules share: the bucket and account an S3 CloudTrail record
 * names, the bucket's tags (exemption, ML data) through `GetBucketTagging`,
 * and the four public access block settings.
 *
 * Every bucket-level call the rules plan carries `ExpectedBucketOwner`: a
 * bucket deleted and re-created by another account under the same name is
 * then refused by S3 instead of changed. Bucket ARNs carry no account, so the
 * kit grants the bucket writes with an `aws:ResourceAccount` condition: the
 * grant itself reaches only buckets of the deploying account.
 *
 * The public access block probes read a bucket's block (S3) or the account's
 * (S3 Control) just before and after a `PutPublicAccessBlock`.
 */
import { GetBucketTaggingCommand, GetPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { GetPublicAccessBlockCommand as GetAccountPublicAccessBlockCommand } from '@aws-sdk/client-s3-control';
import type { Config } from '../../engine/config.js';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList, type Tags } from '../../engine/exemption.js';
import type { Facts, ProbeVerdict, Verdict } from '../../engine/types.js';
import { accountOf, defineLookup, defineProbe, readFact } from '../../rulekit/index.js';
import { s3 } from '../../rulekit/aws/s3.js';
import { s3control } from '../../rulekit/aws/s3control.js';

/** Bucket names as S3 accepts them, legacy us-east-1 names (capitals, underscores) included; CloudTrail placeholders (`...`) are not. */
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;
const ACCOUNT_ID = /^\d{12}$/;

/** The bucket the call changed, or `undefined` when the record names none (or only a placeholder). */
export function bucketOf(event: CloudTrailEvent): string | undefined {
  const name = stringField(event.detail.requestParameters, 'bucketName');
  return name !== undefined && BUCKET_NAME.test(name) && !name.includes('..') ? name : undefined;
}

/** The account the call changed (the recipient account, which for S3 is the bucket owner), when it is a 12-digit account id. */
export function accountIdOf(event: CloudTrailEvent): string | undefined {
  const account = accountOf(event);
  return ACCOUNT_ID.test(account) ? account : undefined;
}

/** The bucket a bucket-level rule acts on, its owner and the resource label; or the verdict that skips an event naming neither. */
type BucketTarget =
  | { readonly bucket: string; readonly owner: string; readonly resources: readonly string[] }
  | { readonly skip: Extract<Verdict, { kind: 'skipped' }> };

export function bucketTarget(event: CloudTrailEvent): BucketTarget {
  const bucket = bucketOf(event);
  if (bucket === undefined) return { skip: { kind: 'skipped', reason: 'the event names no bucket' } };
  const owner = accountIdOf(event);
  if (owner === undefined) return { skip: { kind: 'skipped', reason: 'the event names no 12-digit account' } };
  return { bucket, owner, resources: [`bucket ${bucket}`] };
}

/** `{Bucket, ExpectedBucketOwner}`: the part of every bucket-level input the rules build. */
export function bucketInput(bucket: string, owner: string): { Bucket: string; ExpectedBucketOwner: string } {
  return { Bucket: bucket, ExpectedBucketOwner: owner };
}

/** The `{Bucket, ExpectedBucketOwner}` input of a bucket-level read of the event's bucket; `undefined` when the event names no bucket or account. */
export function eventBucketInput(event: CloudTrailEvent): { Bucket: string; ExpectedBucketOwner: string } | undefined {
  const bucket = bucketOf(event);
  const owner = accountIdOf(event);
  return bucket !== undefined && owner !== undefined ? bucketInput(bucket, owner) : undefined;
}

/** GetBucketTagging: the bucket's tags, `{tags}`; `null` for a bucket without any. */
export const bucketTagsLookup = defineLookup(s3, GetBucketTaggingCommand, {
  name: 'bucketTags',
  input: eventBucketInput,
  select: (output): { readonly tags: Tags } | null => ({ tags: tagsFromList(field(output, 'TagSet')) }),
  // S3 answers NoSuchTagSet for a bucket that has no tags: that is a fact ("no tags"), not a gap.
  notFoundCodes: ['NoSuchTagSet'],
});

type BucketTags = { readonly known: true; readonly tags: Tags } | { readonly known: false; readonly reason: string };

/** The bucket's tags when the lookup answered (no tag set: `{}`), else why they are unknown. */
export function bucketTags(facts: Facts): BucketTags {
  const fact = readFact(facts, bucketTagsLookup);
  if (!fact) return { known: false, reason: 'GetBucketTagging was not looked up' };
  if (fact.status === 'unavailable') return { known: false, reason: fact.reason };
  return { known: true, tags: fact.value === null ? {} : (tagsFromFact(fact) ?? {}) };
}

/** Why the bucket is exempt, when its tags are known and carry the exemption tag. */
export function bucketExemption(bucket: string, facts: Facts, config: Config): string | undefined {
  const tags = bucketTags(facts);
  const reason = tags.known ? exemptionReason(tags.tags, config) : undefined;
  return reason ? `bucket ${bucket} is ${reason}` : undefined;
}

/** The four settings of an S3 public access block, in the order S3 documents them. */
export const BLOCK_SETTINGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;
export type BlockSetting = (typeof BLOCK_SETTINGS)[number];
export type BlockConfiguration = Readonly<Record<BlockSetting, boolean>>;

export const FULL_BLOCK: BlockConfiguration = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

/** A configuration object from a record or an SDK output; S3 treats a setting that is absent as false. */
export function blockConfiguration(value: unknown): BlockConfiguration | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const on = (setting: BlockSetting) => {
    const flag = (value as Record<string, unknown>)[setting];
    return flag === true || (typeof flag === 'string' && flag.toLowerCase() === 'true');
  };
  return { BlockPublicAcls: on('BlockPublicAcls'), IgnorePublicAcls: on('IgnorePublicAcls'), BlockPublicPolicy: on('BlockPublicPolicy'), RestrictPublicBuckets: on('RestrictPublicBuckets') };
}

/** The configuration a Put…PublicAccessBlock call set. */
export function requestedBlock(event: CloudTrailEvent): BlockConfiguration | undefined {
  return blockConfiguration(field(event.detail.requestParameters, 'PublicAccessBlockConfiguration'));
}

/** The settings that are off. */
export function settingsOff(configuration: BlockConfiguration): BlockSetting[] {
  return BLOCK_SETTINGS.filter((setting) => !configuration[setting]);
}

/** `a`, `a and b`, `a, b and c`. */
export function joinAnd(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}

/** `BlockPublicAcls and RestrictPublicBuckets`. */
export function listSettings(settings: readonly string[]): string {
  return joinAnd(settings);
}

function sameBlock(a: BlockConfiguration | null, b: BlockConfiguration | null): boolean {
  if (a === null || b === null) return a === b;
  return BLOCK_SETTINGS.every((setting) => a[setting] === b[setting]);
}

/** `no public access block`, `all four settings off`, `BlockPublicAcls on, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets off`. */
export function describeBlock(configuration: BlockConfiguration | null): string {
  if (configuration === null) return 'no public access block';
  const on = BLOCK_SETTINGS.filter((setting) => configuration[setting]);
  const off = settingsOff(configuration);
  if (off.length === 0) return 'all four settings on';
  if (on.length === 0) return 'all four settings off';
  return `${listSettings(on)} on, ${listSettings(off)} off`;
}

function isBlockSetting(value: unknown): value is BlockSetting {
  return typeof value === 'string' && (BLOCK_SETTINGS as readonly string[]).includes(value);
}

/**
 * What a block check compares the present with, as plain data: `target`
 * names the bucket or account; the step is done when every `required`
 * setting is on; with `assumed` (a configuration, or `null` for no block) the
 * step is needed only while the block is still exactly that, and changed
 * otherwise, because its input or its undo was built from it.
 */
export function blockExpectation(target: string, required: readonly BlockSetting[], assumed?: { readonly block: BlockConfiguration | null; readonly from: string }): Record<string, unknown> {
  return { target, required: [...required], ...(assumed ? { assumed: assumed.block, assumedFrom: assumed.from } : {}) };
}

function judgeBlock(output: unknown, expect: Readonly<Record<string, unknown>>, notFound?: string): ProbeVerdict {
  const target = String(expect['target']);
  // A bucket deleted since the event exposes nothing any more.
  if (notFound === 'NoSuchBucket') return { state: 'done', evidence: `${target} no longer exists (NoSuchBucket)` };
  const required = (Array.isArray(expect['required']) ? expect['required'] : []).filter(isBlockSetting);
  const current = output === null ? null : (blockConfiguration(field(output, 'PublicAccessBlockConfiguration')) ?? null);
  if (current !== null && required.length > 0 && required.every((setting) => current[setting])) {
    return { state: 'done', evidence: `${target} has ${required.length === BLOCK_SETTINGS.length ? 'all four public access block settings' : listSettings(required)} on` };
  }
  if (Object.hasOwn(expect, 'assumed')) {
    const assumed = expect['assumed'] === null ? null : (blockConfiguration(expect['assumed']) ?? null);
    if (!sameBlock(current, assumed)) {
      return {
        state: 'changed',
        evidence: `${target} now has ${describeBlock(current)}, not ${describeBlock(assumed)} as ${String(expect['assumedFrom'])}: nothing written; the newer setting is judged by its own event`,
      };
    }
  }
  return { state: 'needed', evidence: `${target} still has ${describeBlock(current)}` };
}

/** A bucket's public access block now (`GetPublicAccessBlock`, S3); no block at all (`NoSuchPublicAccessBlockConfiguration`) is `null`. */
export const bucketBlockProbe = defineProbe(s3, GetPublicAccessBlockCommand, {
  name: 'bucketPublicAccessBlock',
  notFoundCodes: ['NoSuchPublicAccessBlockConfiguration', 'NoSuchBucket'],
  judge: judgeBlock,
});

/** The account's public access block now (`GetPublicAccessBlock`, S3 Control); no resource-level permission exists for it. */
export const accountBlockProbe = defineProbe(s3control, GetAccountPublicAccessBlockCommand, {
  name: 'accountPublicAccessBlock',
  notFoundCodes: ['NoSuchPublicAccessBlockConfiguration'],
  judge: judgeBlock,
});
