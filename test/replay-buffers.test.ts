/**
 * A log file read whole is freed as soon as its records are handed on: the
 * gzip bytes it was read into and the buffer they inflated to. Left to the
 * collector, gigabytes of them had V8 run a full collection every half second
 * (docs/replay.md, Performance). zlib is wrapped here only to see the buffer
 * it hands back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openFile, readSource, type InputRecord } from '../cli/inputs.js';
import { loadEvent } from './helpers/fixtures.js';

const inflated = vi.hoisted(() => [] as Buffer[]);
vi.mock('node:zlib', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:zlib')>();
  return {
    ...original,
    gunzipSync: (...args: Parameters<typeof original.gunzipSync>) => {
      const out = original.gunzipSync(...args);
      inflated.push(out);
      return out;
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'replay-buffers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const detached = (buffer: Buffer) => (buffer.buffer as ArrayBuffer & { readonly detached?: boolean }).detached;

async function collect(source: AsyncIterable<InputRecord>): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const record of source) out.push(record);
  return out;
}

describe('a log file read whole', () => {
  it("frees its gzip bytes and what they inflated to once its records are handed on, and its records stay whole", async () => {
    const detail = (loadEvent('ec2/AuthorizeSecurityGroupIngress-stratus-genuine-anonymised-slash0.json') as { detail: Record<string, unknown> }).detail;
    // Large enough for memory of their own (Node's pool of small buffers is shared, and never freed).
    const records = Array.from({ length: 40 }, (_, index) => ({ ...detail, eventID: `freed-${index}` }));
    const path = join(dir, 'freed.json.gz');
    writeFileSync(path, zlib.gzipSync(JSON.stringify({ Records: records }), { level: 0 }));
    const source = openFile(path);
    const whole = Object.getOwnPropertySymbols(source)
      .map((symbol) => (source as unknown as Record<symbol, unknown>)[symbol])
      .find((value): value is Buffer => Buffer.isBuffer(value));
    if (!whole) throw new Error('the file was not read whole');
    inflated.length = 0;

    const read = await collect(readSource(source, path));

    expect(inflated).toHaveLength(1);
    expect(detached(inflated[0] as Buffer)).toBe(true);
    expect(detached(whole)).toBe(true);
    expect(read.map((record) => ('value' in record ? (record.value as Record<string, unknown>)['eventID'] : record))).toStrictEqual(records.map((record) => record['eventID']));
  });

  it('keeps what it cannot inflate whole, for the stream that reads it and reports where it fails', async () => {
    const log = zlib.gzipSync(JSON.stringify({ Records: [{ eventID: 'x', eventName: 'CreateRole' }] }));
    const path = join(dir, 'truncated.json.gz');
    writeFileSync(path, log.subarray(0, log.length - 10));
    const source = openFile(path);
    const whole = Object.getOwnPropertySymbols(source)
      .map((symbol) => (source as unknown as Record<symbol, unknown>)[symbol])
      .find((value): value is Buffer => Buffer.isBuffer(value));
    if (!whole) throw new Error('the file was not read whole');

    const read = await collect(readSource(source, path));

    expect(detached(whole)).toBe(false);
    expect(read.at(-1)).toMatchObject({ unreadable: true });
  });
});
