/**
 * The scanner's WebAssembly SIMD fast path (`cli/scan-simd.ts`) cuts exactly
 * the records, drops exactly the records and reports exactly the problems the
 * JavaScript path does, on any bytes: valid JSON written to be hard for a
 * structural scanner (escaped quotes, backslash runs of every length at every
 * position of a 64-byte block, brackets and key names inside strings, nested
 * `eventName` keys, line breaks) and invalid input alike, whatever the chunk
 * boundaries and the size of the copies it scans.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventNameGate } from '../cli/gate.js';
import { RecordScanner, type NameGate } from '../cli/scan.js';
import { simdScanner } from '../cli/scan-simd.js';
import { allRules } from '../remediations/registry.js';

const gate = eventNameGate(allRules.filter((rule) => rule.id === 'sg-open-ingress' || rule.id === 'bot-role-impostor')) as NameGate;

interface Scanned {
  readonly items: unknown[];
  readonly records: number;
  readonly dropped: number;
  readonly topLevelValues: number;
}

function scan(bytes: Buffer, chunks: readonly number[], options: { simd: boolean; windowBytes?: number }, withGate = true): Scanned {
  const scanner = new RecordScanner(withGate ? gate : undefined, 4096, options);
  const items: unknown[] = [];
  let at = 0;
  for (const size of chunks) {
    if (at >= bytes.length) break;
    scanner.push(bytes.subarray(at, at + size));
    at += size;
  }
  if (at < bytes.length) scanner.push(bytes.subarray(at));
  scanner.end();
  for (const item of scanner.items) items.push(item.kind === 'record' ? { ...item, bytes: item.bytes.toString('latin1') } : item);
  return { items, records: scanner.records, dropped: scanner.dropped, topLevelValues: scanner.topLevelValues };
}

/** Both paths, on the same bytes and chunks; the fast path with copies of several sizes. */
function expectSame(bytes: Buffer, chunks: readonly number[], windowBytes: number | undefined): void {
  for (const withGate of [true, false]) {
    const reference = scan(bytes, chunks, { simd: false }, withGate);
    expect(scan(bytes, chunks, { simd: true, ...(windowBytes !== undefined ? { windowBytes } : {}) }, withGate)).toStrictEqual(reference);
  }
}

/** Text inside a string: escapes of every kind, backslash runs, and what a scanner could mistake for structure. */
const stringBody = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('a', 'eventName', 'detail', 'CloudTrailEvent', 'AuthorizeSecurityGroupIngress', ' ', '{', '}', '[', ']', ',', ':', '"eventName":"x"', 'é', '\u2028', ':role/remediation-bot/', 'arn:aws:iam::111122223333:role/remediation-bot/x') },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 9 }).map((count) => '\\'.repeat(2 * count)) },
      { weight: 3, arbitrary: fc.constantFrom('\\"', '\\\\\\"', '\\n', '\\/', '\\u0022', '\\u005c', '\\\\"'.slice(0, 2), '\\t') },
      { weight: 1, arbitrary: fc.string({ maxLength: 70 }).map((text) => JSON.stringify(text).slice(1, -1)) },
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

/** Keys the gate reads, keys that look like them, and ordinary ones. */
const key = fc.constantFrom('eventName', 'eventName', 'detail', 'CloudTrailEvent', 'eventTime', 'eventNam', 'eventname', 'e____N', 'dxxxxx', 'Cxxxxxxxxxxxxxx', 'event\\u004eame', 'Records', 'Events', 'userAgent', 'requestParameters');

const json: fc.Memo<string> = fc.memo((size) =>
  size <= 1
    ? fc.oneof(
        stringBody.map((body) => `"${body}"`),
        fc.constantFrom('"AuthorizeSecurityGroupIngress"', '"AssumeRole"', '"PutObject"', '42', 'null', 'true', '-1.5e3', '""'),
      )
    : fc.oneof(
        fc.array(fc.tuple(key, json(size - 1), fc.constantFrom('', ' ', '\n  ')), { maxLength: 6 }).map((pairs) => `{${pairs.map(([name, value, space]) => `${space}"${name}":${space}${value}`).join(',')}}`),
        fc.array(json(size - 1), { maxLength: 4 }).map((values) => `[${values.join(',')}]`),
        json(1),
      ),
);

/** A record: an object whose keys include the ones the gate reads, at its own depth and nested. */
const record = fc
  .tuple(fc.array(fc.tuple(key, json(3)), { maxLength: 8 }), fc.constantFrom('', ' ', '\n'), fc.option(fc.constantFrom('"AuthorizeSecurityGroupIngress"', '"AssumeRole"', '"AssumeRole"', '"PutObject"')))
  .map(([pairs, space, name]) => {
    const all = name === null ? pairs : [...pairs, ['eventName', name] as const];
    return `{${all.map(([name, value]) => `"${name}":${space}${value}`).join(`,${space}`)}}`;
  });

const file = fc.tuple(fc.constantFrom('lines', 'records', 'array', 'pretty', 'events', 'envelopes'), fc.array(record, { minLength: 1, maxLength: 5 })).map(([shape, records]) => {
  switch (shape) {
    case 'lines':
      return `${records.map((text) => text.replaceAll('\n', ' ')).join('\n')}\n`;
    case 'records':
      return `{"Records":[${records.join(',')}]}`;
    case 'events':
      return `{"Events":[${records.join(',')}],"NextToken":"x"}`;
    case 'array':
      return `[\n${records.join(',\n')}\n]\n`;
    case 'envelopes':
      return records.map((text) => `{"version":"0","detail":${text},"detail-type":"x"}`).join('\n');
    default:
      return `{\n  "Records": [\n${records.map((text) => `    ${text}`).join(',\n')}\n  ]\n}\n`;
  }
});

/** Any bytes, from the pieces JSON and the scanner's decisions are made of. */
const garbage = fc
  .tuple(
    fc.constantFrom('', '{"Records":[{"a":1,', '{"a":"b",', '{"Records":[{"a":{"b":[', '[{"x":1,"detail":{"y":2,'),
    fc.array(fc.constantFrom('{', '}', '[', ']', '"', '\\', '\\\\', '\n', ' ', ',', ':', 'a', '1', '"eventName"', ':"AssumeRole"', '"detail":', '{"Records":[', '"CloudTrailEvent"', '"x":"', '\r', '\t', 'é'), { maxLength: 400 }),
  )
  .map(([start, parts]) => start + parts.join(''));

const chunking = fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 30 });
const windowBytes = fc.constantFrom(undefined, 1, 2, 17, 63, 64, 65, 100, 129, 1000);

describe('the SIMD fast path of the record scanner', () => {
  it('is available on Node 22, so the replay uses it', () => {
    expect(simdScanner()).toBeDefined();
  });

  it('cuts and drops the records the JavaScript path does, on adversarial valid JSON', () => {
    fc.assert(
      fc.property(file, chunking, windowBytes, (text, chunks, window) => {
        expectSame(Buffer.from(text), chunks, window);
      }),
      { numRuns: Number(process.env['SCAN_RUNS'] ?? 400) },
    );
  });

  it('reports the problems the JavaScript path does, on any bytes', () => {
    fc.assert(
      fc.property(garbage, chunking, windowBytes, (text, chunks, window) => {
        expectSame(Buffer.from(text), chunks, window);
      }),
      { numRuns: Number(process.env['SCAN_RUNS'] ?? 400) },
    );
  });

  it('reads backslash runs of every length ending at every position of a block', () => {
    for (let run = 0; run <= 70; run++) {
      for (let offset = 0; offset < 64; offset++) {
        const value = `${'x'.repeat(offset)}${'\\'.repeat(run)}${run % 2 === 1 ? '"' : ''}"}]`;
        const text = `{"Records":[{"a":"${value}","eventName":"AssumeRole","b":[{"eventName":"x"}]},{"eventName":"PutObject","c":"${value}"}]}`;
        expectSame(Buffer.from(text), [], undefined);
        expectSame(Buffer.from(text), [offset + 13], 64);
      }
    }
  });

  it('finds the literal a name needs, or a backslash, at every offset of a record, whole or cut by its end', () => {
    const literal = ':role/remediation-bot/';
    for (let offset = 0; offset < 40; offset++) {
      for (const [inside, tail] of [
        [literal, ''],
        [literal.slice(0, -1), ''],
        [literal.slice(1), ''],
        ['', literal.slice(0, -1)],
        ['\\\\', ''],
        [literal.replace('/', '\\/'), ''],
        [':role/remediation-bot', '/'],
      ] as const) {
        const roleArn = `${'r'.repeat(offset)}${inside}`;
        const record = (name: string) => `{"eventName":"${name}","requestParameters":{"roleArn":"${roleArn}"},"x":"${tail}"}`;
        const text = `{"Records":[${record('AssumeRole')},${record('PutObject')},${record('AssumeRole')}]}`;
        expectSame(Buffer.from(text), [], undefined);
        expectSame(Buffer.from(text), [], 64);
      }
    }
  });

  it('cuts a file larger than the copy it scans at once, with records across the copies', () => {
    const one = JSON.stringify({ eventName: 'PutObject', note: 'a "quoted" \\ [back]\\slash {', requestParameters: { eventName: 'AuthorizeSecurityGroupIngress', list: [1, [2, { x: '}' }]] } });
    const text = `{"Records":[${Array.from({ length: 3000 }, (_, index) => (index % 7 === 0 ? one.replace('PutObject', 'AssumeRole') : one)).join(',')}]}`;
    const bytes = Buffer.from(text);
    for (const window of [undefined, 1000, 4096, 65536]) expectSame(bytes, [], window);
    expect(scan(bytes, [], { simd: true }).records).toBe(3000);
  });
});
