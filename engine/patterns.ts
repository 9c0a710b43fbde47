/**
 * EventBridge patterns derived from rule triggers. The same pattern is deployed
 * by `serverless.yml` and evaluated by the replay, so the two cannot disagree
 * about which events arrive.
 */
import { DETAIL_TYPE } from './event.js';
import { compilePattern } from './pattern-match.js';
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
  const match = trigger.requestMatch;
  return {
    eventSource: [trigger.eventSource],
    eventName: [...trigger.eventNames].sort(),
    ...(match ? { requestParameters: { [match.field]: [{ wildcard: match.wildcard }] } } : {}),
  };
}

function detailTypeOf(trigger: Trigger): string {
  return trigger.detailType ?? DETAIL_TYPE;
}

/**
 * The pattern of a set of triggers: one `detail` clause per event source, joined
 * with `$or` when there are several. The detail-types of all triggers are listed
 * side by side: each event name of an event source arrives with one detail-type
 * only (`ConsoleLogin` as a sign-in, `CreateAccessKey` as an API call), so the
 * list admits no event that no trigger names.
 */
function patternForTriggers(triggers: readonly Trigger[]): EventPatternDocument {
  const sources = [...new Set(triggers.map((t) => sourceFor(t.eventSource)))].sort();
  const clauses = triggers.map(detailFor);
  const [only] = clauses;
  return {
    source: sources,
    'detail-type': [...new Set(triggers.map(detailTypeOf))].sort(),
    detail: clauses.length === 1 && only ? only : { $or: clauses },
  };
}

export function patternForRule(rule: Rule): EventPatternDocument {
  return patternForTriggers(rule.triggers);
}

/** One pattern for a whole family, merging triggers of the same event source (and detail-type). */
export function patternForRules(rules: readonly Rule[]): EventPatternDocument {
  const bySource = new Map<string, { trigger: Trigger; names: Set<string> }>();
  for (const trigger of rules.flatMap((rule) => rule.triggers)) {
    // A trigger narrowed by a request match keeps its own clause: merged, its filter would apply to the other names too.
    const key = `${trigger.eventSource}\n${detailTypeOf(trigger)}\n${JSON.stringify(trigger.requestMatch ?? null)}`;
    const entry = bySource.get(key) ?? { trigger, names: new Set<string>() };
    trigger.eventNames.forEach((name) => entry.names.add(name));
    bySource.set(key, entry);
  }
  const merged = [...bySource.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, { trigger, names }]): Trigger => ({
      eventSource: trigger.eventSource,
      eventNames: [...names],
      ...(trigger.detailType !== undefined ? { detailType: trigger.detailType } : {}),
      ...(trigger.requestMatch !== undefined ? { requestMatch: trigger.requestMatch } : {}),
    }));
  return patternForTriggers(merged);
}

const compiled = new WeakMap<Rule, (event: unknown) => boolean>();

/**
 * Whether EventBridge would deliver this raw record to the rule: its own
 * pattern, evaluated with EventBridge's full matching semantics. The replay
 * uses it on records before they are parsed; the Lambdas, which EventBridge
 * has already filtered, route parsed events with `triggeredRules` instead.
 */
export function ruleMatches(rule: Rule, event: unknown): boolean {
  let matcher = compiled.get(rule);
  if (!matcher) {
    matcher = compilePattern(patternForRule(rule));
    compiled.set(rule, matcher);
  }
  return matcher(event);
}

/**
 * Per rule list: for each event name, the rules (in order) whose pattern lists
 * it (every trigger's clause pins `detail.eventName`), with the rules it was
 * built from: a list changed since is indexed again.
 */
const byEventName = new WeakMap<readonly Rule[], { readonly built: readonly Rule[]; readonly index: ReadonlyMap<string, readonly Rule[]> }>();

function rulesNaming(rules: readonly Rule[]): ReadonlyMap<string, readonly Rule[]> {
  const cached = byEventName.get(rules);
  if (cached && cached.built.length === rules.length && cached.built.every((rule, at) => rule === rules[at])) return cached.index;
  const index = new Map<string, Rule[]>();
  for (const rule of rules) {
    for (const name of new Set(rule.triggers.flatMap((trigger) => trigger.eventNames))) index.set(name, [...(index.get(name) ?? []), rule]);
  }
  byEventName.set(rules, { built: [...rules], index });
  return index;
}

/**
 * The rules whose pattern matches a raw record, in order. A string event name
 * is matched only against the rules that list it: no other pattern can match
 * it. Any other value (an array matches if one of its items is listed) goes
 * to every rule's matcher.
 */
export function matchingRules(rules: readonly Rule[], event: unknown): Rule[] {
  const detail = typeof event === 'object' && event !== null ? (event as Record<string, unknown>)['detail'] : undefined;
  const name = typeof detail === 'object' && detail !== null ? (detail as Record<string, unknown>)['eventName'] : undefined;
  const candidates = typeof name === 'string' ? (rulesNaming(rules).get(name) ?? []) : rules;
  return candidates.filter((rule) => ruleMatches(rule, event));
}
