/**
 * fast-check generators of hostile and malformed events, shared by the fuzz suites:
 * - random JSON, and random envelopes whose CloudTrail part names real triggers;
 * - mutations of every recorded fixture: fields removed, types swapped, huge
 *   strings, deep nesting, unicode, numbers out of range, arrays where objects
 *   are expected (and the reverse);
 * - valid events whose resource ids, names or policy documents are adversarial;
 * - a gzip bomb: a CloudTrail log whose one record holds one huge string.
 *
 * Large values are built once and shared, so ten thousand cases stay fast.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Rule } from '../../engine/types.js';
import { allFixtureNames, loadEvent } from './fixtures.js';

/** Deeper than any parser recursion budget: 10,000 levels. */
export const DEEP_LEVELS = 10_000;

function deepObject(levels: number): unknown {
  let value: unknown = { end: true };
  for (let i = 0; i < levels; i += 1) value = i % 2 === 0 ? { nested: value } : [value];
  return value;
}

/** Frozen at every level: cases share it, and a later mutation must never write into it. */
function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current !== 'object' || current === null || Object.isFrozen(current)) continue;
    Object.freeze(current);
    for (const item of Object.values(current)) stack.push(item);
  }
  return value;
}

export const DEEP_VALUE = deepFreeze(deepObject(DEEP_LEVELS));
/** 300,000 characters: more than an EventBridge event (256 KB) can carry. */
export const HUGE_STRING = 'x'.repeat(300_000);
/** About 200 KB of well-formed policy: far over every IAM policy size quota. */
export const BIG_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: Array.from({ length: 2_000 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Action: '*', Resource: `arn:aws:s3:::bucket-${i}/*` })),
});
/** A 10,000-deep JSON text, as a policy document string. */
export const DEEP_POLICY = `{"Version":"2012-10-17","Statement":${'['.repeat(DEEP_LEVELS)}{"Effect":"Allow","Action":"*","Resource":"*"}${']'.repeat(DEEP_LEVELS)}}`;

export const ADVERSARIAL_STRINGS: readonly string[] = [
  'sg-1; DROP TABLE groups',
  "sg-0a1b2c3d4e5f67890' OR '1'='1",
  'sg-0a1b2c3d4e5f67890\nsg-0fedcba9876543210',
  'sg-\u202e09876fedcba',
  'ｓｇ－０ａ１ｂ２ｃ',
  'sg-😀😀😀',
  '\ud800',
  '\u0000',
  '',
  ' ',
  '*',
  'all',
  '../../../../etc/passwd',
  'arn:aws:iam::*:role/*',
  'arn:aws:iam::999999999999:role/remediation-bot/victim',
  '${AWS::AccountId}',
  '{"$ref":"x.y"}',
  '__proto__',
  'constructor',
  'toString',
  '%7B%22Version%22%3A%222012-10-17%22%7D',
  '%ZZ',
  HUGE_STRING,
  BIG_POLICY,
  DEEP_POLICY,
  '{"Version":"2012-10-17","Statement":',
];

const SWAPPED_VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  -0,
  1e308,
  -1e308,
  Infinity,
  -Infinity,
  Number.NaN,
  2 ** 64,
  65_536,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  'string',
  [],
  {},
  { items: [] },
  [[[]]],
];

type Path = readonly (string | number)[];

/** Every path to a value in `root`, root excluded; iterative. */
function pathsOf(root: unknown): Path[] {
  const paths: Path[] = [];
  const stack: { path: Path; value: unknown }[] = [{ path: [], value: root }];
  while (stack.length > 0) {
    const { path, value } = stack.pop() as { path: Path; value: unknown };
    if (path.length > 0) paths.push(path);
    if (Array.isArray(value)) value.forEach((item, index) => stack.push({ path: [...path, index], value: item }));
    else if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) stack.push({ path: [...path, key], value: item });
  }
  return paths;
}

function parentOf(root: unknown, path: Path): { parent: Record<string | number, unknown>; key: string | number } | undefined {
  let current = root;
  for (const key of path.slice(0, -1)) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  const key = path.at(-1);
  if (typeof current !== 'object' || current === null || key === undefined) return undefined;
  return { parent: current as Record<string | number, unknown>, key };
}

export const MUTATION_KINDS = ['remove', 'swap-type', 'huge-string', 'deep-nesting', 'unicode', 'number-out-of-range', 'array-for-object', 'object-for-array'] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

export interface Mutation {
  readonly kind: MutationKind;
  /** Which path, modulo the number of paths. */
  readonly at: number;
  readonly value: unknown;
}

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), value: fc.constant(undefined) }),
  fc.record({ kind: fc.constant('swap-type' as const), at: fc.nat(), value: fc.constantFrom(...SWAPPED_VALUES) }),
  fc.record({ kind: fc.constant('huge-string' as const), at: fc.nat(), value: fc.constantFrom(HUGE_STRING, BIG_POLICY) }),
  fc.record({ kind: fc.constant('deep-nesting' as const), at: fc.nat(), value: fc.constantFrom(DEEP_VALUE, DEEP_POLICY) }),
  fc.record({ kind: fc.constant('unicode' as const), at: fc.nat(), value: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('\ud800', '\u202e', '😀', 'Ω≈ç√', '\u0000')) }),
  fc.record({ kind: fc.constant('number-out-of-range' as const), at: fc.nat(), value: fc.constantFrom(1e308, -1e308, Infinity, -1, 65_536, 2 ** 53 + 1, -0, 0.5) }),
  fc.record({ kind: fc.constant('array-for-object' as const), at: fc.nat(), value: fc.constant(undefined) }),
  fc.record({ kind: fc.constant('object-for-array' as const), at: fc.nat(), value: fc.constant(undefined) }),
);

export function applyMutation(root: unknown, paths: readonly Path[], mutation: Mutation): void {
  const path = paths[mutation.at % paths.length];
  if (!path) return;
  const found = parentOf(root, path);
  if (!found) return;
  const { parent, key } = found;
  if (Object.isFrozen(parent)) return;
  const current = parent[key];
  switch (mutation.kind) {
    case 'remove':
      if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
      else delete parent[key];
      return;
    case 'array-for-object':
      parent[key] = [current, current];
      return;
    case 'object-for-array':
      parent[key] = Array.isArray(current) ? Object.fromEntries(current.map((item, index) => [String(index), item])) : { items: current };
      return;
    default:
      // Small shared values are copied; the large ones are frozen and shared.
      parent[key] = typeof mutation.value === 'object' && mutation.value !== null && !Object.isFrozen(mutation.value) ? structuredClone(mutation.value) : mutation.value;
  }
}

const fixtureNames = allFixtureNames();
const fixturePaths = new Map(fixtureNames.map((name) => [name, pathsOf(loadEvent(name))]));

/** Short, printable description of a value: fast-check prints counterexamples, and a 10,000-deep value would overflow its printer. */
export function describeValue(value: unknown): string {
  if (value === DEEP_VALUE) return '<10,000-deep object>';
  if (value === DEEP_POLICY) return '<10,000-deep policy text>';
  if (value === HUGE_STRING) return '<300,000-character string>';
  if (value === BIG_POLICY) return '<200 KB policy>';
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return JSON.stringify(value) ?? String(value);
}

function describeMutation(mutation: Mutation, paths: readonly Path[]): string {
  const path = paths[mutation.at % paths.length]?.join('.') ?? '?';
  return mutation.value === undefined ? `${mutation.kind} ${path}` : `${mutation.kind} ${path} = ${describeValue(mutation.value)}`;
}

/** A hostile case: the event, and what fast-check prints for it. */
export interface HostileCase {
  readonly name: string;
  readonly event: unknown;
}

function printable<T extends object>(value: T, text: string): T {
  return Object.assign(value, { [fc.toStringMethod]: () => text });
}

/** A recorded fixture with one to four mutations. */
export const mutatedFixture: fc.Arbitrary<HostileCase> = fc
  .record({ name: fc.constantFrom(...fixtureNames), mutations: fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }) })
  .map(({ name, mutations }) => {
    const event: unknown = loadEvent(name);
    // Paths are those of the pristine fixture; after a removal some no longer exist and are skipped.
    const paths = fixturePaths.get(name) ?? [];
    for (const mutation of mutations) applyMutation(event, paths, mutation);
    return printable({ name, event }, `${name}: ${mutations.map((m) => describeMutation(m, paths)).join('; ')}`);
  });

function replaceStrings(root: unknown, replacements: ReadonlyMap<string, string>): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current !== 'object' || current === null) continue;
    const entries: [string | number, unknown][] = Array.isArray(current) ? current.map((item, index) => [index, item]) : Object.entries(current);
    for (const [key, value] of entries) {
      if (typeof value === 'string') {
        const replacement = replacements.get(value);
        if (replacement !== undefined) (current as Record<string | number, unknown>)[key] = replacement;
      } else stack.push(value);
    }
  }
}

/** The distinct strings of a fixture's request, response and resources: the ids, names and documents a rule reads. */
function resourceStrings(name: string): string[] {
  const event = loadEvent(name) as unknown as { detail: Record<string, unknown>; resources?: unknown };
  const strings = new Set<string>();
  const stack: unknown[] = [event.detail['requestParameters'], event.detail['responseElements'], event.resources];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') strings.add(current);
    else if (Array.isArray(current)) for (const item of current) stack.push(item);
    else if (typeof current === 'object' && current !== null) for (const item of Object.values(current)) stack.push(item);
  }
  return [...strings];
}

const fixtureStrings = new Map(fixtureNames.map((name) => [name, resourceStrings(name)]));

/**
 * A valid fixture in which some ids, names or documents are replaced, everywhere
 * they occur, by adversarial strings; sometimes the event id too.
 */
export const adversarialFixture: fc.Arbitrary<HostileCase> = fc
  .record({
    name: fc.constantFrom(...fixtureNames),
    picks: fc.array(fc.record({ at: fc.nat(), replacement: fc.oneof(fc.constantFrom(...ADVERSARIAL_STRINGS), fc.string({ unit: 'binary', minLength: 1, maxLength: 30 })) }), {
      minLength: 1,
      maxLength: 3,
    }),
    eventId: fc.option(fc.constantFrom('sg-1; DROP', '\u202e', HUGE_STRING, '../x', '😀'), { freq: 4 }),
  })
  .map(({ name, picks, eventId }) => {
    const event = loadEvent(name) as unknown as { detail: Record<string, unknown> };
    const strings = fixtureStrings.get(name) ?? [];
    const replacements = new Map<string, string>();
    for (const { at, replacement } of picks) {
      const original = strings[at % Math.max(1, strings.length)];
      if (original !== undefined) replacements.set(original, replacement);
    }
    replaceStrings(event.detail['requestParameters'], replacements);
    replaceStrings(event.detail['responseElements'], replacements);
    replaceStrings((event as { resources?: unknown }).resources, replacements);
    if (eventId !== null) event.detail['eventID'] = eventId;
    const described = [...replacements].map(([from, to]) => `${describeValue(from)} -> ${describeValue(to)}`);
    if (eventId !== null) described.push(`eventID -> ${describeValue(eventId)}`);
    return printable({ name, event }, `${name}: ${described.join('; ')}`);
  });

/** Random JSON values, and random envelopes whose CloudTrail part names one of the rules' triggers. */
export function randomEvents(rules: readonly Rule[]): fc.Arbitrary<unknown> {
  const triggers = rules.flatMap((rule) =>
    rule.triggers.flatMap((t) => t.eventNames.map((eventName) => ({ eventSource: t.eventSource, eventName, detailType: t.detailType ?? 'AWS API Call via CloudTrail' }))),
  );
  const trigger = triggers.length > 0 ? fc.constantFrom(...triggers) : fc.constant({ eventSource: 'ec2.amazonaws.com', eventName: 'RunInstances', detailType: 'AWS API Call via CloudTrail' });
  const text = fc.string({ maxLength: 20 });
  const envelope = fc
    .record({
      trigger,
      id: text,
      account: fc.constantFrom('111122223333', '', '1'),
      region: fc.constantFrom('us-east-1', ''),
      eventID: text,
      requestParameters: fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }))),
      responseElements: fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 4 })),
      userIdentity: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }), fc.record({ type: text, arn: text })),
    })
    .map(({ trigger: { eventSource, eventName, detailType }, id, account, region, eventID, requestParameters, responseElements, userIdentity }) => ({
      version: '0',
      id,
      'detail-type': detailType,
      source: `aws.${eventSource.split('.')[0] ?? ''}`,
      account,
      time: '2024-05-01T12:00:00Z',
      region,
      resources: [],
      detail: {
        eventVersion: '1.09',
        eventID,
        eventTime: '2024-05-01T12:00:00Z',
        eventSource,
        eventName,
        awsRegion: region,
        ...(userIdentity !== undefined ? { userIdentity } : {}),
        requestParameters,
        responseElements,
      },
    }));
  return fc.oneof(fc.jsonValue({ maxDepth: 5 }), envelope);
}

/**
 * JSON text of any value, without recursion: `JSON.stringify` overflows the
 * stack on the 10,000-deep values, and a hostile file can hold them. Values
 * JSON cannot express become `null`, as `JSON.stringify` makes them.
 */
export function jsonText(value: unknown): string {
  const out: string[] = [];
  type Frame = { kind: 'value'; value: unknown } | { kind: 'text'; text: string };
  const stack: Frame[] = [{ kind: 'value', value }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    if (frame.kind === 'text') {
      out.push(frame.text);
      continue;
    }
    const current = frame.value;
    if (typeof current === 'string') out.push(JSON.stringify(current));
    else if (typeof current === 'number') out.push(Number.isFinite(current) ? JSON.stringify(current) : 'null');
    else if (typeof current === 'boolean') out.push(String(current));
    else if (Array.isArray(current)) {
      stack.push({ kind: 'text', text: ']' });
      for (let i = current.length - 1; i >= 0; i -= 1) {
        stack.push({ kind: 'value', value: current[i] });
        if (i > 0) stack.push({ kind: 'text', text: ',' });
      }
      out.push('[');
    } else if (typeof current === 'object' && current !== null) {
      const entries = Object.entries(current).filter(([, item]) => item !== undefined && typeof item !== 'function');
      stack.push({ kind: 'text', text: '}' });
      for (let i = entries.length - 1; i >= 0; i -= 1) {
        const [key, item] = entries[i] as [string, unknown];
        stack.push({ kind: 'value', value: item });
        stack.push({ kind: 'text', text: `${JSON.stringify(key)}:` });
        if (i > 0) stack.push({ kind: 'text', text: ',' });
      }
      out.push('{');
    } else out.push('null');
  }
  return out.join('');
}

/**
 * A gzip stream that inflates to a CloudTrail log file whose one record (named
 * `AuthorizeSecurityGroupIngress`, so the event-name gate keeps it) holds one
 * string of `stringBytes` bytes: about 1 KB of gzip per MiB. It is generated
 * as it is read, from one compressed block repeated (concatenated gzip members
 * inflate as one stream), so a 10 GiB string costs 10 MB of gzip and is never
 * stored.
 */
export function* singleStringGzipBomb(stringBytes: number, blockBytes = 64 * 1024 * 1024): Generator<Buffer> {
  yield gzipSync('{"Records":[{"eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","padding":"');
  const block = gzipSync(Buffer.alloc(blockBytes, 'x'), { level: 9 });
  for (let written = 0; written < stringBytes; written += blockBytes) yield block;
  yield gzipSync('"}]}');
}
