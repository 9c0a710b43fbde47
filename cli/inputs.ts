/**
 * Replay inputs: files, directories (walked recursively, sorted) and `-` for
 * stdin. Each input is streamed: gzip is recognised by its magic bytes and
 * inflated on the fly, and `RecordScanner` cuts the bytes into records, so
 * memory stays bounded by the largest record whatever the file size. Every
 * record carries its origin (file and line, and its place in a `Records`,
 * `Events` or array container) so a bad one is reported and skipped.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { RecordScanner, type NameGate, type ScannedRecord } from './scan.js';

export type InputRecord =
  | { readonly origin: string; readonly value: unknown }
  | { readonly origin: string; readonly error: string; readonly unreadable?: true };

export type Input =
  | { readonly kind: 'file'; readonly path: string; readonly size: number }
  | { readonly kind: 'stdin' }
  | { readonly kind: 'unreadable'; readonly path: string; readonly error: string };

/** Record files in a directory: JSON, JSON Lines, gzipped or not (CloudTrail delivers `.json.gz`). */
const RECORD_FILE = /\.(json|jsonl|ndjson)(\.gz)?$/i;

/**
 * CloudTrail digest files (`AWSLogs/<account>/CloudTrail-Digest/…`) sit beside
 * the logs and hold hashes, not events.
 */
function isDigest(name: string): boolean {
  return name === 'CloudTrail-Digest' || name.includes('_CloudTrail-Digest_');
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  return code && !error.message.startsWith(code) ? `${code}: ${error.message}` : error.message;
}

async function walk(directory: string, into: Input[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    into.push({ kind: 'unreadable', path: directory, error: describe(error) });
    return;
  }
  for (const entry of entries.sort(byName)) {
    if (entry.name.startsWith('.') || isDigest(entry.name)) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) await walk(path, into);
    else if (RECORD_FILE.test(entry.name)) into.push(await fileInput(path));
  }
}

async function fileInput(path: string): Promise<Input> {
  try {
    return { kind: 'file', path, size: (await stat(path)).size };
  } catch (error) {
    return { kind: 'unreadable', path, error: describe(error) };
  }
}

/** Expands paths into inputs, in order: a named file is read whatever its name; directories are walked for record files, sorted by name. */
export async function listInputs(paths: readonly string[]): Promise<Input[]> {
  const inputs: Input[] = [];
  for (const path of paths) {
    if (path === '-') {
      inputs.push({ kind: 'stdin' });
      continue;
    }
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (error) {
      inputs.push({ kind: 'unreadable', path, error: describe(error) });
      continue;
    }
    if (isDirectory) await walk(path, inputs);
    else inputs.push(await fileInput(path));
  }
  return inputs;
}

export const CHUNK_BYTES = 512 * 1024;

export function openFile(path: string): Readable {
  return createReadStream(path, { highWaterMark: CHUNK_BYTES });
}

/** The first bytes of a stream, put back for whoever reads it next; `undefined` for an empty stream. */
async function peek(source: Readable): Promise<Buffer | undefined> {
  for (;;) {
    const chunk = source.read() as Buffer | string | null;
    if (chunk !== null) {
      source.unshift(chunk);
      return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    }
    if (source.readableEnded || source.destroyed) return undefined;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        source.off('readable', done);
        source.off('end', done);
        source.off('error', failed);
        resolve();
      };
      const failed = (error: Error) => {
        source.off('readable', done);
        source.off('end', done);
        reject(error);
      };
      source.once('readable', done);
      source.once('end', done);
      source.once('error', failed);
    });
  }
}

/**
 * The decompressed bytes of a stream: gunzipped when it starts with the gzip
 * magic bytes, else as they are. `onBytes` gets the raw bytes read so far (for
 * a file; streams that do not count them report nothing).
 */
export async function* decompressed(source: Readable, onBytes?: (bytes: number) => void): AsyncGenerator<Buffer> {
  const head = await peek(source);
  if (head === undefined) return;
  const counted = source as Readable & { bytesRead?: number };
  const report = onBytes && typeof counted.bytesRead === 'number' ? () => onBytes(counted.bytesRead ?? 0) : undefined;
  let stream: Readable = source;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
    // A read error destroys the gunzip stream with it, so it surfaces in the loop below.
    pipeline(source, gunzip, () => undefined);
    stream = gunzip;
  }
  for await (const chunk of stream) {
    report?.();
    yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
  }
}

export interface ReadStats {
  /** Records seen, including those the gate dropped unparsed and malformed ones (an unreadable input is not a record). */
  records: number;
}

export interface ReadOptions {
  /** Drops, unparsed, records no rule's pattern can match (see `RecordScanner`). */
  readonly gate?: NameGate;
  readonly stats?: ReadStats;
  /** Raw (compressed) bytes read so far from a file input. */
  readonly onBytes?: (bytes: number) => void;
}

function originOf(name: string, record: ScannedRecord): string {
  switch (record.container) {
    case 'Records':
    case 'Events':
      return `${name}:${record.line}:${record.container}[${record.index}]`;
    case 'array':
      return `${name}:${record.line}:[${record.index}]`;
    case undefined:
      return `${name}:${record.line}`;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The records of one input. `name` prefixes every origin. Faults of the
 * stream itself (a corrupt gzip member, an I/O error) end the input with one
 * error record; the caller decides how to count it.
 */
export async function* readSource(source: Readable, name: string, options: ReadOptions = {}): AsyncGenerator<InputRecord> {
  const scanner = new RecordScanner(options.gate);
  const stats = options.stats;
  let counted = 0;
  // A lone top-level value (an envelope file) is named by the file alone: the first one waits until a second shows up.
  let held: ScannedRecord | undefined;
  let lone = true;

  function decode(record: ScannedRecord, origin: string): InputRecord[] {
    let value: unknown;
    try {
      value = JSON.parse(record.bytes.toString('utf8'));
    } catch (error) {
      return [{ origin, error: `not JSON: ${describe(error)}` }];
    }
    // A document whose `Records`/`Events` key is not first is read whole, then split.
    if (record.container === undefined && isObject(value) && !Object.hasOwn(value, 'detail')) {
      const key = Array.isArray(value['Records']) ? 'Records' : Array.isArray(value['Events']) ? 'Events' : undefined;
      const list = key ? (value[key] as unknown[]) : undefined;
      if (key && list) {
        if (stats) stats.records += list.length - 1;
        return list.map((element, index) => ({ origin: `${name}:${record.line}:${key}[${index}]`, value: element }));
      }
    }
    return [{ origin, value }];
  }

  function* drain(): Generator<InputRecord> {
    const items = scanner.items.splice(0, scanner.items.length);
    if (stats) {
      stats.records += scanner.records - counted;
      counted = scanner.records;
    }
    for (const item of items) {
      if (item.kind === 'record' && item.container === undefined && lone && held === undefined && item.index === 0) {
        held = item;
        continue;
      }
      lone = false;
      yield* release();
      if (item.kind === 'problem') {
        if (stats) stats.records += 1;
        yield { origin: `${name}:${item.line}`, error: item.message };
        continue;
      }
      yield* decode(item, originOf(name, item));
    }
    // A second top-level value, even one the gate dropped, means the first is not alone.
    if (scanner.topLevelValues > 1) {
      lone = false;
      yield* release();
    }
  }
  function* release(): Generator<InputRecord> {
    if (held) yield* decode(held, lone ? name : originOf(name, held));
    held = undefined;
  }
  try {
    for await (const chunk of decompressed(source, options.onBytes)) {
      scanner.push(chunk);
      if (scanner.items.length > 0 || stats) yield* drain();
    }
  } catch (error) {
    yield* drain();
    yield* release();
    yield { origin: name, error: `unreadable: ${describe(error)}; the rest of the input is skipped`, unreadable: true };
    return;
  }
  scanner.end();
  yield* drain();
  yield* release();
}

/**
 * Every record of the given paths, unfiltered and in order. An unreadable
 * path yields one error record and the walk goes on.
 */
export async function* readRecords(paths: readonly string[], stdin?: Readable): AsyncGenerator<InputRecord> {
  for (const input of await listInputs(paths)) {
    if (input.kind === 'unreadable') {
      yield { origin: input.path, error: `unreadable: ${input.error}`, unreadable: true };
      continue;
    }
    if (input.kind === 'stdin') {
      if (stdin) yield* readSource(stdin, 'stdin');
      else yield { origin: 'stdin', error: 'unreadable: no standard input', unreadable: true };
      continue;
    }
    yield* readSource(openFile(input.path), input.path);
  }
}
