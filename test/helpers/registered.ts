/** Rules as the registry holds them: stamped with their family by `defineFamily`, as the engine runs them. */
import type { Lookup, Probe, Rule } from '../../engine/types.js';
import { findRule } from '../../remediations/registry.js';

/** A registered rule, with its lookups and probes as lists (empty when it has none), for tests that pick one out. */
export type RegisteredRule = Rule & { readonly lookups: readonly Lookup[]; readonly probes: readonly Probe[] };

export function registeredRule(id: string): RegisteredRule {
  const rule = findRule(id);
  if (!rule) throw new Error(`no rule ${id} in the registry`);
  return rule.lookups && rule.probes ? (rule as RegisteredRule) : { ...rule, lookups: rule.lookups ?? [], probes: rule.probes ?? [] };
}

/** The rule's lookup at `index` (its first by default); a missing one fails the test that asked for it. */
export function lookupOf(rule: Rule, index = 0): Lookup {
  const lookup = rule.lookups?.[index];
  if (!lookup) throw new Error(`rule ${rule.id} has no lookup #${index}`);
  return lookup;
}
