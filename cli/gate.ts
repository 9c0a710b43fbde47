/**
 * The event-name gate: the set of exact `detail.eventName` values without
 * which no rule's EventBridge pattern can match. It is derived from the very
 * patterns the matcher runs, and only when that is provable from their shape;
 * otherwise there is no gate and every record is parsed and matched.
 */
import { patternForRule } from '../engine/patterns.js';
import type { Rule } from '../engine/types.js';
import type { NameGate } from './scan.js';

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Names a `detail` pattern requires, or `undefined` when its shape does not
 * prove any: the `eventName` leaf must be a list of exact (printable ASCII)
 * strings, or every `$or` branch must have one.
 */
export function requiredEventNames(detail: unknown): Set<string> | undefined {
  if (!isObject(detail)) return undefined;
  const leaf = detail['eventName'];
  if (Array.isArray(leaf) && leaf.length > 0 && leaf.every((value) => typeof value === 'string' && /^[\x20-\x7e]+$/.test(value))) {
    return new Set(leaf as string[]);
  }
  const branches = detail['$or'];
  if (!Array.isArray(branches) || branches.length === 0) return undefined;
  const names = new Set<string>();
  for (const branch of branches) {
    const required = requiredEventNames(branch);
    if (required === undefined) return undefined;
    for (const name of required) names.add(name);
  }
  return names;
}

/** The gate for a set of rules, or `undefined` when some rule's pattern does not pin `detail.eventName`. */
export function eventNameGate(rules: readonly Rule[]): NameGate | undefined {
  const names = new Set<string>();
  for (const rule of rules) {
    const required = requiredEventNames(patternForRule(rule).detail);
    if (required === undefined) return undefined;
    for (const name of required) names.add(name);
  }
  let maxLength = 0;
  for (const name of names) maxLength = Math.max(maxLength, name.length);
  return { names, maxLength };
}
