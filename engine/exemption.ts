/**
 * Exemptions: by resource tag (the configured tag key marks a resource as
 * exempt, its value is the reason), unless the config turns tag exemptions
 * off; and by an entry in the config's `exemptions`, which names the resource,
 * the rules, the reason and an end date.
 */
import type { Config, ConfigExemption } from './config.js';
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
  if (config.exemptionTags === false || !tags || !Object.hasOwn(tags, config.exemptionTagKey)) return undefined;
  const reason = tags[config.exemptionTagKey]?.trim();
  return `tagged ${config.exemptionTagKey}${reason ? `: ${reason}` : ' (no reason given)'}`;
}

/** Tags from a fact whose value is `{tags}`; `undefined` when the fact is missing or unavailable. */
export function tagsFromFact(fact: Fact | undefined): Tags | undefined {
  if (!fact || fact.status !== 'ok' || typeof fact.value !== 'object' || fact.value === null) return undefined;
  const tags = (fact.value as { tags?: unknown }).tags;
  return typeof tags === 'object' && tags !== null ? (tags as Tags) : undefined;
}

/** Whether a config exemption names this resource (as the verdict names it: an id, a label or an ARN) for this rule. */
function covers(exemption: ConfigExemption, rule: string, resources: readonly string[]): boolean {
  if (exemption.rules && !exemption.rules.includes(rule)) return false;
  return resources.some((resource) => resource === exemption.resource || resource.endsWith(`/${exemption.resource}`) || resource.endsWith(`:${exemption.resource}`));
}

type ConfigExemptionMatch =
  | { readonly active: true; readonly reason: string }
  | { readonly active: false; readonly expired: string };

/**
 * The config exemption for a rule's resources, if one names them: active until
 * the end of its `expires` day (UTC), expired after it.
 */
export function configExemption(config: Config, rule: string, resources: readonly string[], now: Date): ConfigExemptionMatch | undefined {
  const matching = (config.exemptions ?? []).filter((exemption) => covers(exemption, rule, resources));
  if (matching.length === 0) return undefined;
  const endOf = (exemption: ConfigExemption) => Date.parse(`${exemption.expires}T23:59:59.999Z`);
  const active = matching.find((exemption) => now.getTime() <= endOf(exemption));
  if (active) {
    return {
      active: true,
      reason: `exempt in the config until ${active.expires}${active.approvedBy ? `, approved by ${active.approvedBy}` : ''}: ${active.reason}`,
    };
  }
  const latest = matching.map((exemption) => exemption.expires).sort().at(-1) ?? '';
  return { active: false, expired: latest };
}
