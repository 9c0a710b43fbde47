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

/** Shortest literal worth a search: a shorter one would be found in nearly every record. */
const MIN_LITERAL = 8;

/** The longest run of literal text in an EventBridge `wildcard` (`*` is any run of characters). */
function longestLiteral(wildcard: string): string {
  return wildcard.split('*').reduce((longest, part) => (part.length > longest.length ? part : longest), '');
}

/**
 * Texts one of which a record must hold for this `detail` clause to match
 * it, or `undefined` when the clause requires none that the scanner can look
 * for: each value allowed for some `requestParameters` field (an exact string
 * or a `wildcard`) must contain a literal of at least {@link MIN_LITERAL}
 * printable ASCII characters, none a quote or backslash (so a string written
 * without escapes holds it byte for byte).
 */
export function requiredLiterals(clause: unknown): string[] | undefined {
  if (!isObject(clause) || !isObject(clause['requestParameters'])) return undefined;
  for (const allowed of Object.values(clause['requestParameters'])) {
    if (!Array.isArray(allowed) || allowed.length === 0) continue;
    const literals = allowed.map((value) => (typeof value === 'string' ? value : isObject(value) && typeof value['wildcard'] === 'string' ? longestLiteral(value['wildcard']) : ''));
    if (literals.every((text) => text.length >= MIN_LITERAL && /^[\x20-\x7e]+$/.test(text) && !/["\\]/.test(text))) return literals;
  }
  return undefined;
}

/** The gate for a set of rules, or `undefined` when some rule's pattern does not pin `detail.eventName`. */
export function eventNameGate(rules: readonly Rule[]): NameGate | undefined {
  const names = new Set<string>();
  const literals = new Map<string, Set<string>>();
  const unconditional = new Set<string>();
  for (const rule of rules) {
    const detail = patternForRule(rule).detail;
    const required = requiredEventNames(detail);
    if (required === undefined) return undefined;
    for (const name of required) names.add(name);
    const clauses = Array.isArray(detail['$or']) ? (detail['$or'] as unknown[]) : [detail];
    for (const clause of clauses) {
      const needed = requiredLiterals(clause);
      for (const name of requiredEventNames(clause) ?? []) {
        if (needed === undefined) unconditional.add(name);
        else for (const text of needed) (literals.get(name) ?? literals.set(name, new Set()).get(name))?.add(text);
      }
    }
  }
  let maxLength = 0;
  for (const name of names) maxLength = Math.max(maxLength, name.length);
  const narrowed = new Map<string, Buffer[]>();
  for (const [name, texts] of literals) if (!unconditional.has(name)) narrowed.set(name, [...texts].map((text) => Buffer.from(text)));
  return { names, maxLength, ...(narrowed.size > 0 ? { literals: narrowed } : {}) };
}
