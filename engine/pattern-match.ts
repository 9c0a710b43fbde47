/**
 * Amazon EventBridge event-pattern matching, pure and precompiled.
 *
 * A pattern is compiled once into a tree of small closures; matching an event
 * then walks only the keys the pattern names, never copies the event, and
 * compiles no regular expression. `matchesPattern` caches the compiled form per
 * pattern object, so a replay over millions of records pays compilation once.
 *
 * Semantics follow the EventBridge user guide ("Amazon EventBridge event
 * patterns", "Content filtering in Amazon EventBridge event patterns",
 * "Arrays in Amazon EventBridge event patterns", "Matching null values and empty
 * strings") and the open-source engine behind it, aws/event-ruler:
 * - every key of a pattern must match (AND); a leaf is an array of allowed
 *   values and matches when any of them does (OR);
 * - an array in the event matches when any element does, and an object pattern
 *   applied to an array of objects must match within one element;
 * - a missing field matches nothing except `{"exists": false}`; in particular
 *   `anything-but` does not match a missing field, but does match `null`;
 * - strings never equal numbers; numbers compare numerically (`300` = `300.0`);
 * - `exists` looks at leaf values only: an object is not a leaf, and an empty
 *   array holds no leaf.
 */
import { ParseFault } from './errors.js';

export type EventPattern = Readonly<Record<string, unknown>>;

/** A compiled pattern: true when the event matches. */
type EventPredicate = (event: unknown) => boolean;

/** A malformed pattern. `path` names the offending part, e.g. `detail.state[0].numeric`. */
export class PatternError extends ParseFault {
  override readonly name = 'PatternError';
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(path.length > 0 ? `${path}: ${message}` : message, options);
  }
}

type Scalar = string | number | boolean | null;
type ScalarTest = (value: Scalar) => boolean;

interface CompiledLeaf {
  readonly existsTrue: boolean;
  readonly existsFalse: boolean;
  /** True when a present scalar matches one of the leaf's values or operators (exists aside). */
  readonly test: ScalarTest;
}

interface CompiledField {
  readonly key: string;
  /** Keys that are also `Object.prototype` members need an own-property check. */
  readonly guarded: boolean;
  readonly leaf: CompiledLeaf | undefined;
  readonly object: CompiledObject | undefined;
}

interface CompiledObject {
  readonly fields: readonly CompiledField[];
  /** Branches of this level's `$or`; at least one must match the same object. */
  readonly anyOf: readonly CompiledObject[] | undefined;
}

const OR_KEY = '$or';

const OPERATORS = new Set(['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'cidr', 'equals-ignore-case', 'wildcard']);

/**
 * Names event-ruler refuses as field names directly inside a `$or` branch: they
 * are almost always an operator written one level too high.
 */
const RESERVED_IN_OR = new Set([...OPERATORS, 'exactly', '=', '<', '<=', '>', '>=']);

const cache = new WeakMap<object, EventPredicate>();

/** True when `event` matches `pattern` with EventBridge semantics. Throws PatternError for a malformed pattern. */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  let predicate = cache.get(pattern);
  if (predicate === undefined) {
    predicate = compilePattern(pattern);
    cache.set(pattern, predicate);
  }
  return predicate(event);
}

/** Validates and precompiles `pattern`. Throws PatternError for a malformed pattern. */
export function compilePattern(pattern: EventPattern): EventPredicate {
  const root = compileRoot(pattern);
  return (event) => matchObject(root, event);
}

/** Throws PatternError for a malformed pattern: unknown operator, non-array leaf, bad numeric, bad cidr. */
export function validatePattern(pattern: EventPattern): void {
  compileRoot(pattern);
}

// ---------------------------------------------------------------------------
// Matching (hot path: no allocation, no regular expressions)

function isScalar(value: unknown): value is Scalar {
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' || value === null;
}

function matchObject(node: CompiledObject, value: unknown): boolean {
  if (Array.isArray(value)) {
    // An empty array holds nothing: every field below it is missing.
    if (value.length === 0) return matchFields(node, undefined);
    for (let i = 0; i < value.length; i++) {
      if (matchObject(node, value[i])) return true;
    }
    return false;
  }
  return matchFields(node, value);
}

function matchFields(node: CompiledObject, value: unknown): boolean {
  const record = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  const fields = node.fields;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as CompiledField;
    let child: unknown;
    if (record !== undefined && (!field.guarded || Object.hasOwn(record, field.key))) child = record[field.key];
    if (field.leaf !== undefined) {
      if (!matchLeaf(field.leaf, child)) return false;
    } else if (field.object !== undefined && !matchObject(field.object, child)) {
      return false;
    }
  }
  const anyOf = node.anyOf;
  if (anyOf === undefined) return true;
  for (let i = 0; i < anyOf.length; i++) {
    if (matchFields(anyOf[i] as CompiledObject, value)) return true;
  }
  return false;
}

const NO_LEAF = 0;
const LEAF_UNMATCHED = 1;
const LEAF_MATCHED = 2;

function scanArray(leaf: CompiledLeaf, values: readonly unknown[]): number {
  let seen = NO_LEAF;
  for (let i = 0; i < values.length; i++) {
    const item = values[i];
    if (isScalar(item)) {
      if (leaf.existsTrue || leaf.test(item)) return LEAF_MATCHED;
      seen = LEAF_UNMATCHED;
    } else if (Array.isArray(item)) {
      const nested = scanArray(leaf, item);
      if (nested === LEAF_MATCHED) return LEAF_MATCHED;
      if (nested > seen) seen = nested;
    }
  }
  return seen;
}

function matchLeaf(leaf: CompiledLeaf, value: unknown): boolean {
  if (isScalar(value)) return leaf.existsTrue || leaf.test(value);
  if (Array.isArray(value)) {
    const seen = scanArray(leaf, value);
    return seen === LEAF_MATCHED || (seen === NO_LEAF && leaf.existsFalse);
  }
  // Missing, or an object: exists matching only sees leaf nodes.
  return leaf.existsFalse;
}

// ---------------------------------------------------------------------------
// Compilation and validation

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function join(path: string, key: string): string {
  return path.length > 0 ? `${path}.${key}` : key;
}

function compileRoot(pattern: unknown): CompiledObject {
  if (!isPlainObject(pattern)) throw new PatternError(`pattern must be an object, got ${typeName(pattern)}`, '');
  return compileObject(pattern, '', false);
}

function compileObject(pattern: Record<string, unknown>, path: string, insideOr: boolean): CompiledObject {
  const keys = Object.keys(pattern);
  if (keys.length === 0) throw new PatternError('empty objects are not allowed', path);
  const leaves: CompiledField[] = [];
  const objects: CompiledField[] = [];
  let anyOf: CompiledObject[] | undefined;
  for (const key of keys) {
    const value = pattern[key];
    const at = join(path, key);
    if (key === OR_KEY) {
      anyOf = compileOr(value, at);
      continue;
    }
    if (insideOr && RESERVED_IN_OR.has(key)) {
      throw new PatternError(`"${key}" is an operator and cannot be a field name inside $or`, at);
    }
    const guarded = key in Object.prototype;
    if (Array.isArray(value)) {
      leaves.push({ key, guarded, leaf: compileLeaf(value, at), object: undefined });
    } else if (isPlainObject(value)) {
      objects.push({ key, guarded, leaf: undefined, object: compileObject(value, at, false) });
    } else {
      throw new PatternError(`must be an object or an array, got ${typeName(value)}`, at);
    }
  }
  // AND commutes: check the cheap leaves before descending.
  return { fields: [...leaves, ...objects], anyOf };
}

function compileOr(value: unknown, path: string): CompiledObject[] {
  if (!Array.isArray(value)) throw new PatternError(`$or must be an array of objects, got ${typeName(value)}`, path);
  if (value.length < 2) throw new PatternError('$or needs at least 2 objects', path);
  return value.map((branch, index) => {
    const at = `${path}[${index}]`;
    if (!isPlainObject(branch)) throw new PatternError(`$or holds objects only, got ${typeName(branch)}`, at);
    return compileObject(branch, at, true);
  });
}

interface LeafParts {
  readonly strings: Set<string>;
  readonly numbers: Set<number>;
  matchNull: boolean;
  matchTrue: boolean;
  matchFalse: boolean;
  existsTrue: boolean;
  existsFalse: boolean;
  readonly stringTests: StringTest[];
  readonly numberTests: ((value: number) => boolean)[];
  /** Tests that apply to every scalar type (anything-but). */
  readonly scalarTests: ScalarTest[];
}

function compileLeaf(values: readonly unknown[], path: string): CompiledLeaf {
  if (values.length === 0) throw new PatternError('empty arrays are not allowed', path);
  const parts: LeafParts = {
    strings: new Set(),
    numbers: new Set(),
    matchNull: false,
    matchTrue: false,
    matchFalse: false,
    existsTrue: false,
    existsFalse: false,
    stringTests: [],
    numberTests: [],
    scalarTests: [],
  };
  values.forEach((value, index) => {
    const at = `${path}[${index}]`;
    if (typeof value === 'string') parts.strings.add(value);
    else if (typeof value === 'number') parts.numbers.add(finiteNumber(value, at));
    else if (value === true) parts.matchTrue = true;
    else if (value === false) parts.matchFalse = true;
    else if (value === null) parts.matchNull = true;
    else if (isPlainObject(value)) compileOperator(value, at, parts);
    else throw new PatternError(`match value must be a string, number, boolean, null or operator object, got ${typeName(value)}`, at);
  });
  return { existsTrue: parts.existsTrue, existsFalse: parts.existsFalse, test: buildScalarTest(parts) };
}

function buildScalarTest(parts: LeafParts): ScalarTest {
  const { strings, numbers, matchNull, matchTrue, matchFalse, stringTests, numberTests, scalarTests } = parts;
  const onlyStrings =
    numbers.size === 0 &&
    !matchNull &&
    !matchTrue &&
    !matchFalse &&
    stringTests.length === 0 &&
    numberTests.length === 0 &&
    scalarTests.length === 0;
  // The commonest leaves (eventSource, eventName) are plain strings: specialise them.
  if (onlyStrings) {
    if (strings.size === 0) return () => false;
    if (strings.size === 1) {
      const [only] = strings;
      return (value) => value === only;
    }
    return (value) => typeof value === 'string' && strings.has(value);
  }
  const hasStrings = strings.size > 0;
  const hasNumbers = numbers.size > 0;
  return (value) => {
    if (typeof value === 'string') {
      if (hasStrings && strings.has(value)) return true;
      for (let i = 0; i < stringTests.length; i++) if ((stringTests[i] as StringTest)(value)) return true;
    } else if (typeof value === 'number') {
      if (hasNumbers && numbers.has(value)) return true;
      for (let i = 0; i < numberTests.length; i++) if ((numberTests[i] as (v: number) => boolean)(value)) return true;
    } else if (value === null) {
      if (matchNull) return true;
    } else if (value ? matchTrue : matchFalse) {
      return true;
    }
    for (let i = 0; i < scalarTests.length; i++) if ((scalarTests[i] as ScalarTest)(value)) return true;
    return false;
  };
}

function finiteNumber(value: number, path: string): number {
  if (!Number.isFinite(value)) throw new PatternError(`number must be finite, got ${value}`, path);
  return value;
}

function soleEntry(operator: Record<string, unknown>, path: string): [string, unknown] {
  const entries = Object.entries(operator);
  const [entry] = entries;
  if (entry === undefined) throw new PatternError('empty match expression', path);
  if (entries.length > 1) throw new PatternError('only one key allowed in a match expression', path);
  return entry;
}

function requireString(value: unknown, what: string, path: string): string {
  if (typeof value !== 'string') throw new PatternError(`${what} must be a string, got ${typeName(value)}`, path);
  return value;
}

function compileOperator(operator: Record<string, unknown>, path: string, parts: LeafParts): void {
  const [name, argument] = soleEntry(operator, path);
  const at = join(path, name);
  switch (name) {
    case 'prefix':
    case 'suffix': {
      const fromStart = name === 'prefix';
      if (isPlainObject(argument)) {
        const [inner, text] = soleEntry(argument, at);
        if (inner !== 'equals-ignore-case') throw new PatternError(`unsupported ${name} pattern "${inner}"`, at);
        parts.stringTests.push(ignoreCaseTest(requireString(text, 'equals-ignore-case', join(at, inner)), name));
        return;
      }
      const text = requireString(argument, name, at);
      parts.stringTests.push(fromStart ? (value) => value.startsWith(text) : (value) => value.endsWith(text));
      return;
    }
    case 'equals-ignore-case': {
      parts.stringTests.push(ignoreCaseTest(requireString(argument, name, at), 'equals'));
      return;
    }
    case 'wildcard': {
      parts.stringTests.push(compileWildcard(requireString(argument, name, at), at));
      return;
    }
    case 'numeric': {
      parts.numberTests.push(compileNumeric(argument, at));
      return;
    }
    case 'exists': {
      if (typeof argument !== 'boolean') throw new PatternError(`exists must be true or false, got ${typeName(argument)}`, at);
      if (argument) parts.existsTrue = true;
      else parts.existsFalse = true;
      return;
    }
    case 'cidr': {
      parts.stringTests.push(compileCidr(requireString(argument, name, at), at));
      return;
    }
    case 'anything-but': {
      parts.scalarTests.push(compileAnythingBut(argument, at));
      return;
    }
    default:
      throw new PatternError(`unknown operator "${name}"`, path);
  }
}

// --- anything-but ----------------------------------------------------------

function compileAnythingBut(argument: unknown, path: string): ScalarTest {
  if (typeof argument === 'string') return (value) => value !== argument;
  if (typeof argument === 'number') {
    const excluded = finiteNumber(argument, path);
    return (value) => value !== excluded;
  }
  if (Array.isArray(argument)) {
    if (argument.length === 0) throw new PatternError('empty arrays are not allowed', path);
    if (argument.every((item) => typeof item === 'string')) {
      const excluded = new Set(argument as string[]);
      return (value) => typeof value !== 'string' || !excluded.has(value);
    }
    if (argument.every((item) => typeof item === 'number')) {
      const excluded = new Set((argument as number[]).map((item, index) => finiteNumber(item, `${path}[${index}]`)));
      return (value) => typeof value !== 'number' || !excluded.has(value);
    }
    throw new PatternError('anything-but list must hold only strings or only numbers', path);
  }
  if (isPlainObject(argument)) {
    const [name, inner] = soleEntry(argument, path);
    const at = join(path, name);
    const texts = stringList(inner, name, at);
    let excludes: StringTest;
    switch (name) {
      case 'prefix':
      case 'suffix': {
        if (texts.some((text) => text.length === 0)) throw new PatternError(`empty ${name} not allowed in anything-but`, at);
        excludes = anyStringTest(texts.map((text): StringTest => (name === 'prefix' ? (value) => value.startsWith(text) : (value) => value.endsWith(text))));
        break;
      }
      case 'equals-ignore-case':
        excludes = anyStringTest(texts.map((text) => ignoreCaseTest(text, 'equals')));
        break;
      case 'wildcard':
        excludes = anyStringTest(texts.map((text, index) => compileWildcard(text, texts.length > 1 ? `${at}[${index}]` : at)));
        break;
      default:
        throw new PatternError(`unsupported anything-but pattern "${name}"`, path);
    }
    return (value) => typeof value !== 'string' || !excludes(value);
  }
  throw new PatternError(`anything-but must be a string, a number, a list or an object, got ${typeName(argument)}`, path);
}

function stringList(value: unknown, what: string, path: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) {
    if (value.length === 0) throw new PatternError('empty arrays are not allowed', path);
    return value.map((item, index) => requireString(item, what, `${path}[${index}]`));
  }
  throw new PatternError(`${what} must be a string or a list of strings, got ${typeName(value)}`, path);
}

// --- numeric ---------------------------------------------------------------

function compileNumeric(argument: unknown, path: string): (value: number) => boolean {
  if (!Array.isArray(argument)) throw new PatternError(`numeric must be an array, got ${typeName(argument)}`, path);
  const operand = (index: number, operator: string): number => {
    const value: unknown = argument[index];
    if (typeof value !== 'number') throw new PatternError(`value of ${operator} must be a number, got ${typeName(value)}`, path);
    return finiteNumber(value, path);
  };
  const first = argument[0];
  if (typeof first !== 'string') throw new PatternError(`numeric must start with an operator, got ${typeName(first)}`, path);
  switch (first) {
    case '=': {
      const target = operand(1, first);
      if (argument.length !== 2) throw new PatternError('too many elements in numeric expression', path);
      return (value) => value === target;
    }
    case '<':
    case '<=': {
      const top = operand(1, first);
      if (argument.length !== 2) throw new PatternError('too many elements in numeric expression', path);
      return first === '<' ? (value) => value < top : (value) => value <= top;
    }
    case '>':
    case '>=': {
      const bottom = operand(1, first);
      if (argument.length === 2) return first === '>' ? (value) => value > bottom : (value) => value >= bottom;
      // A lower bound may be followed by one upper bound, in that order.
      const second = argument[2];
      if (second !== '<' && second !== '<=') throw new PatternError(`bad numeric range operator ${JSON.stringify(second)}`, path);
      const top = operand(3, second);
      if (argument.length !== 4) throw new PatternError('too many elements in numeric expression', path);
      if (bottom >= top) throw new PatternError('numeric range bottom must be less than top', path);
      const openBottom = first === '>';
      const openTop = second === '<';
      return (value) => (openBottom ? value > bottom : value >= bottom) && (openTop ? value < top : value <= top);
    }
    default:
      throw new PatternError(`unrecognized numeric operator ${JSON.stringify(first)}`, path);
  }
}

// --- case-insensitive comparison --------------------------------------------

type StringTest = (value: string) => boolean;

/**
 * ASCII-folding comparison of `value[start..start+lower.length)` with the
 * lower-cased ASCII `lower`, scanning forwards or backwards. Returns 1 (equal),
 * 0 (different) or -1 (met a non-ASCII character: the caller must lower-case).
 * Stopping at the first difference is sound because ASCII characters fold one
 * to one, so positions up to that point stay aligned.
 */
function compareFolded(value: string, start: number, lower: string, backwards: boolean): number {
  const length = lower.length;
  for (let n = 0; n < length; n++) {
    const i = backwards ? length - 1 - n : n;
    let code = value.charCodeAt(start + i);
    if (code >= 128) return -1;
    if (code >= 65 && code <= 90) code += 32;
    if (code !== lower.charCodeAt(i)) return 0;
  }
  return 1;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 128) return false;
  return true;
}

/**
 * Builds an ignore-case test that allocates nothing for ASCII input and falls
 * back to `toLowerCase` (which may change string length) otherwise.
 */
function ignoreCaseTest(text: string, mode: 'equals' | 'prefix' | 'suffix'): StringTest {
  const lower = text.toLowerCase();
  if (!isAscii(lower)) {
    if (mode === 'equals') return (value) => value.toLowerCase() === lower;
    if (mode === 'prefix') return (value) => value.toLowerCase().startsWith(lower);
    return (value) => value.toLowerCase().endsWith(lower);
  }
  // No non-ASCII character lower-cases to a different number of ASCII characters,
  // so a length mismatch against an ASCII needle is final.
  if (mode === 'equals') {
    return (value) => {
      if (value.length !== lower.length) return false;
      const folded = compareFolded(value, 0, lower, false);
      return folded < 0 ? value.toLowerCase() === lower : folded === 1;
    };
  }
  if (mode === 'prefix') {
    return (value) => {
      if (value.length < lower.length) return false;
      const folded = compareFolded(value, 0, lower, false);
      return folded < 0 ? value.toLowerCase().startsWith(lower) : folded === 1;
    };
  }
  return (value) => {
    if (value.length < lower.length) return false;
    const folded = compareFolded(value, value.length - lower.length, lower, true);
    return folded < 0 ? value.toLowerCase().endsWith(lower) : folded === 1;
  };
}

function anyStringTest(tests: readonly StringTest[]): StringTest {
  if (tests.length === 1) return tests[0] as StringTest;
  return (value) => {
    for (let i = 0; i < tests.length; i++) if ((tests[i] as StringTest)(value)) return true;
    return false;
  };
}

// --- wildcard --------------------------------------------------------------

/**
 * `*` matches any run of characters, `\*` a literal asterisk and `\\` a
 * backslash. Like event-ruler, consecutive `**` and any other escape are errors.
 */
function compileWildcard(pattern: string, path: string): StringTest {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*') {
      if (pattern[i + 1] === '*') throw new PatternError(`consecutive wildcard characters at position ${i}`, path);
      segments.push(current);
      current = '';
    } else if (char === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') throw new PatternError(`invalid escape character at position ${i}`, path);
      current += next;
      i++;
    } else {
      current += char;
    }
  }
  segments.push(current);

  const [head = '', ...rest] = segments;
  if (rest.length === 0) return (value) => value === head;
  const tail = rest.pop() ?? '';
  const middle = rest.filter((segment) => segment.length > 0);
  const minLength = head.length + tail.length + middle.reduce((sum, segment) => sum + segment.length, 0);
  return (value) => {
    if (value.length < minLength || !value.startsWith(head) || !value.endsWith(tail)) return false;
    const end = value.length - tail.length;
    let position = head.length;
    // Leftmost placement of each middle segment is optimal when `*` is the only metacharacter.
    for (let i = 0; i < middle.length; i++) {
      const segment = middle[i] as string;
      const found = value.indexOf(segment, position);
      if (found < 0 || found + segment.length > end) return false;
      position = found + segment.length;
    }
    return true;
  };
}

// --- cidr ------------------------------------------------------------------

/** Parses a dotted-quad IPv4 address in `text[start..end)`; returns the unsigned value, or -1. */
function parseIPv4(text: string, start: number, end: number): number {
  let result = 0;
  let octets = 0;
  let i = start;
  while (octets < 4) {
    let octet = 0;
    let digits = 0;
    while (i < end) {
      const code = text.charCodeAt(i);
      if (code < 48 || code > 57) break;
      octet = octet * 10 + (code - 48);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || octet > 255) return -1;
    result = result * 256 + octet;
    octets++;
    if (octets < 4) {
      if (i >= end || text.charCodeAt(i) !== 46) return -1;
      i++;
    }
  }
  return i === end ? result : -1;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** Parses an IPv6 address (with `::` and an optional dotted-quad tail) into 8 groups. */
function parseIPv6(text: string, out: Uint16Array): boolean {
  const length = text.length;
  let groups = 0;
  let gapAt = -1;
  let i = 0;
  if (length >= 2 && text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gapAt = 0;
    i = 2;
  }
  while (i < length) {
    if (groups === 8) return false;
    let value = 0;
    let digits = 0;
    let j = i;
    while (j < length) {
      const hex = hexValue(text.charCodeAt(j));
      if (hex < 0) break;
      value = value * 16 + hex;
      digits++;
      j++;
    }
    if (j < length && text.charCodeAt(j) === 46) {
      if (groups > 6) return false;
      const v4 = parseIPv4(text, i, length);
      if (v4 < 0) return false;
      out[groups++] = Math.floor(v4 / 65536);
      out[groups++] = v4 % 65536;
      i = length;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    out[groups++] = value;
    if (j === length) {
      i = length;
      break;
    }
    if (text.charCodeAt(j) !== 58) return false;
    j++;
    if (j < length && text.charCodeAt(j) === 58) {
      if (gapAt >= 0) return false;
      gapAt = groups;
      j++;
    } else if (j === length) {
      return false;
    }
    i = j;
  }
  if (gapAt < 0) return groups === 8;
  if (groups > 7) return false;
  const moved = groups - gapAt;
  for (let k = 0; k < moved; k++) out[7 - k] = out[groups - 1 - k] as number;
  for (let k = gapAt; k < 8 - moved; k++) out[k] = 0;
  return true;
}

/** Reused by every IPv6 cidr test: matching is synchronous, so one scratch buffer suffices. */
const scratchGroups = new Uint16Array(8);

function compileCidr(cidr: string, path: string): StringTest {
  const slash = cidr.indexOf('/');
  if (slash < 0 || slash !== cidr.lastIndexOf('/')) throw new PatternError(`malformed CIDR "${cidr}", one "/" required`, path);
  const address = cidr.slice(0, slash);
  const bitsText = cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) throw new PatternError(`malformed CIDR "${cidr}", mask bits must be an integer`, path);
  const bits = Number(bitsText);

  const v4 = parseIPv4(address, 0, address.length);
  if (v4 >= 0) {
    if (bits > 32) throw new PatternError(`IPv4 mask bits must be at most 32, got ${bits}`, path);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const network = (v4 & mask) >>> 0;
    return (value) => {
      const ip = parseIPv4(value, 0, value.length);
      return ip >= 0 && (ip & mask) >>> 0 === network;
    };
  }

  const base = new Uint16Array(8);
  if (!parseIPv6(address, base)) throw new PatternError(`not an IPv4 or IPv6 address: "${address}"`, path);
  if (bits > 128) throw new PatternError(`IPv6 mask bits must be at most 128, got ${bits}`, path);
  const masks = new Uint16Array(8);
  const network = new Uint16Array(8);
  for (let g = 0; g < 8; g++) {
    const inGroup = Math.min(16, Math.max(0, bits - g * 16));
    const mask = inGroup === 0 ? 0 : (0xffff << (16 - inGroup)) & 0xffff;
    masks[g] = mask;
    network[g] = (base[g] as number) & mask;
  }
  return (value) => {
    if (value.indexOf(':') < 0 || !parseIPv6(value, scratchGroups)) return false;
    for (let g = 0; g < 8; g++) {
      if (((scratchGroups[g] as number) & (masks[g] as number)) !== network[g]) return false;
    }
    return true;
  };
}
