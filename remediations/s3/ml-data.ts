/**
 * Which buckets hold ML data (training sets, features, model artifacts), as
 * every S3 rule about ML data decides it: the bucket's tags, read by
 * `bucketTagsLookup` (`GetBucketTagging`), carry the configured `mlDataTag`
 * (by default `data-classification=ml`, its value compared
 * case-insensitively). When the tags cannot be read (offline replay, lookup
 * denied) the answer is unknown, with the reason: a rule then reports rather
 * than guess a pass.
 */
import * as z from 'zod/mini';
import type { Facts } from '../../engine/types.js';
import { bucketTags } from './common.js';

const DEFAULT_ML_DATA_TAG = { key: 'data-classification', value: 'ml' } as const;

/** The `mlDataTag` setting: the tag that marks a bucket as holding ML data. */
export const MlDataTagSchema = z._default(
  z.strictObject({
    key: z._default(z.string().check(z.minLength(1), z.maxLength(128)), DEFAULT_ML_DATA_TAG.key),
    value: z._default(z.string().check(z.maxLength(256)), DEFAULT_ML_DATA_TAG.value),
  }),
  { ...DEFAULT_ML_DATA_TAG },
);
export type MlDataTag = z.infer<typeof MlDataTagSchema>;

/**
 * Whether the bucket holds ML data: `true`/`false` from its tags, or
 * `undefined` with the reason they are unknown. `tag` is `key=value`, as
 * messages name it.
 */
export type MlDataSelection =
  | { readonly tag: string; readonly mlData: boolean; readonly unknownBecause?: undefined }
  | { readonly tag: string; readonly mlData: undefined; readonly unknownBecause: string };

export function mlDataSelection(facts: Facts, mlDataTag: MlDataTag): MlDataSelection {
  const { key, value } = mlDataTag;
  const tag = `${key}=${value}`;
  const tags = bucketTags(facts);
  if (!tags.known) return { tag, mlData: undefined, unknownBecause: tags.reason };
  // Own keys only: a tag key such as `constructor` names no inherited member.
  const found = Object.hasOwn(tags.tags, key) ? tags.tags[key] : undefined;
  return { tag, mlData: typeof found === 'string' && found.toLowerCase() === value.toLowerCase() };
}
