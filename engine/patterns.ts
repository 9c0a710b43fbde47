/**
 * EventBridge patterns derived from rule triggers. The same pattern is deployed
 * by `serverless.yml` and evaluated by the replay, so the two cannot disagree
 * about which events arrive.
 */
import { DETAIL_TYPE } from './event.js';
import type { Rule, Trigger } from './types.js';

export type EventPatternDocument = {
  readonly source: readonly string[];
  readonly 'detail-type': readonly string[];
  readonly detail: Readonly<Record<string, unknown>>;
};

/** `ec2.amazonaws.com` → `aws.ec2`, the envelope `source` EventBridge sets. */
export function sourceFor(eventSource: string): string {
  return `aws.${eventSource.replace(/\.amazonaws\.com$/, '')}`;
}

function detailFor(trigger: Trigger): Record<string, unknown> {
  return { eventSource: [trigger.eventSource], eventName: [...trigger.eventNames].sort() };
}

/** The pattern of a set of triggers: one `detail` clause per event source, joined with `$or` when there are several. */
export function patternForTriggers(triggers: readonly Trigger[]): EventPatternDocument {
  const sources = [...new Set(triggers.map((t) => sourceFor(t.eventSource)))].sort();
  const clauses = triggers.map(detailFor);
  const [only] = clauses;
  return {
    source: sources,
    'detail-type': [DETAIL_TYPE],
    detail: clauses.length === 1 && only ? only : { $or: clauses },
  };
}

export function patternForRule(rule: Rule): EventPatternDocument {
  return patternForTriggers(rule.triggers);
}

/** One pattern for a whole family, merging triggers of the same event source. */
export function patternForRules(rules: readonly Rule[]): EventPatternDocument {
  const bySource = new Map<string, Set<string>>();
  for (const trigger of rules.flatMap((rule) => rule.triggers)) {
    const names = bySource.get(trigger.eventSource) ?? new Set<string>();
    trigger.eventNames.forEach((name) => names.add(name));
    bySource.set(trigger.eventSource, names);
  }
  const merged = [...bySource.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([eventSource, names]) => ({ eventSource, eventNames: [...names] }));
  return patternForTriggers(merged);
}
