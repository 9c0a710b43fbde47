/** Exemption by resource tag: the configured tag key marks a resource as exempt, its value is the reason. */
import type { Config } from './config.js';
import type { Fact } from './types.js';

export type Tags = Readonly<Record<string, string>>;

/** SDK `[{Key, Value}]` tag lists (EC2, IAM, S3) become a map; anything else becomes `{}`. */
export function tagsFromList(list: unknown): Tags {
  if (!Array.isArray(list)) return {};
  const tags: Record<string, string> = {};
  for (const tag of list) {
    if (typeof tag !== 'object' || tag === null) continue;
    const { Key: key, Value: value } = tag as { Key?: unknown; Value?: unknown };
    if (typeof key === 'string') tags[key] = typeof value === 'string' ? value : '';
  }
  return tags;
}

/** The exemption reason, when the resource carries the exemption tag. An empty tag value still exempts. */
export function exemptionReason(tags: Tags | undefined, config: Config): string | undefined {
  if (!tags || !Object.hasOwn(tags, config.exemptionTagKey)) return undefined;
  const reason = tags[config.exemptionTagKey]?.trim();
  return `tagged ${config.exemptionTagKey}${reason ? `: ${reason}` : ' (no reason given)'}`;
}

/** Tags from a fact whose value is `{tags}`; `undefined` when the fact is missing or unavailable. */
export function tagsFromFact(fact: Fact | undefined): Tags | undefined {
  if (!fact || fact.status !== 'ok' || typeof fact.value !== 'object' || fact.value === null) return undefined;
  const tags = (fact.value as { tags?: unknown }).tags;
  return typeof tags === 'object' && tags !== null ? (tags as Tags) : undefined;
}
