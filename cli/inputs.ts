/**
 * Replay inputs: files, directories (walked recursively, sorted) and `-` for
 * stdin. Each input is streamed: gzip is recognised by its magic bytes and
 * inflated on the fly, and `RecordScanner` cuts the bytes into records, so
 * memory stays bounded by the largest record kept whatever the file size.
 * Every record carries its origin (file and line, and its place in a
 * `Records`, `Events` or array container) so a bad one is reported and skipped.
 *
 * No input can hang the run or exhaust memory: only regular files are read (a
 * FIFO, socket or device is reported, and opening never waits for a writer);
 * a symbolic link met in a directory is followed only to a regular file inside
 * the paths the user named; a record is kept up to `MAX_RECORD_BYTES`; gzip
 * may expand only so far (`MAX_INFLATE_RATIO`).
 */
import { ParseFault } from '../engine/errors.js';
import { closeSync, constants, createReadStream, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { formatBytes, oversizeReason } from './records.js';
import { MAX_RECORD_BYTES, RecordScanner, type NameGate, type ScannedRecord } from './scan.js';

export type InputRecord =
  | { readonly origin: string; readonly value: unknown }
  | { readonly origin: string; readonly error: string; readonly unreadable?: true };

export type Input =
  | { readonly kind: 'file'; readonly path: string; readonly size: number }
  | { readonly kind: 'stdin'; /** How records of this stream are named (`stdin` by default). */ readonly name?: string }
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

/** An input the replay will not read (not a regular file, a link out of bounds, a decompression bomb): reported with the reason. */
export class InputRefusedError extends ParseFault {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InputRefusedError';
  }
}

/** What a non-regular file is, for a message: `a FIFO`, `a character device`… */
function fileKind(info: Pick<Stats, 'isDirectory' | 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice' | 'isSymbolicLink'>): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function notRegular(info: Parameters<typeof fileKind>[0]): string {
  return `${fileKind(info)}, not a regular file: skipped`;
}

/** The real paths of the paths the user named: a link met in a directory is followed only to a file inside one of them. */
type Roots = readonly string[];

function within(target: string, roots: Roots): boolean {
  return roots.some((root) => target === root || target.startsWith(root.endsWith(sep) ? root : `${root}${sep}`));
}

async function linkInput(path: string, roots: Roots): Promise<Input | undefined> {
  let target: string;
  try {
    target = await realpath(path);
  } catch (error) {
    return { kind: 'unreadable', path, error: `a symbolic link whose target cannot be resolved: ${describe(error)}` };
  }
  // A link out of the named paths could make a replay of a log tree read anything the user can read: /dev/zero, a FIFO, another account's logs.
  if (!within(target, roots)) return { kind: 'unreadable', path, error: `a symbolic link to ${target}, outside the input paths: not followed` };
  let info: Stats;
  try {
    info = await stat(target);
  } catch (error) {
    return { kind: 'unreadable', path, error: describe(error) };
  }
  if (info.isFile()) return { kind: 'file', path, size: info.size };
  // A directory inside the named paths is walked where it is; following the link could loop.
  if (info.isDirectory()) return undefined;
  return { kind: 'unreadable', path, error: `a symbolic link to ${target}, ${notRegular(info)}` };
}

/** `eventTime` bounds in epoch milliseconds (`since` inclusive, `until` exclusive), for pruning a CloudTrail S3 tree. */
export interface WalkWindow {
  readonly since?: number;
  readonly until?: number;
  /** `--account`: in `AWSLogs/<account>/` or an organisation trail's `AWSLogs/o-…/<account>/`, other accounts' folders are not read. */
  readonly accounts?: readonly string[];
}

/** Whether a folder is another account's, in CloudTrail's S3 layout (`AWSLogs/[o-…/]<account>`), when `--account` names the ones to read. */
function otherAccount(path: string, window: WalkWindow | undefined): boolean {
  if (window?.accounts === undefined) return false;
  const parts = path.split(sep).filter((part) => part !== '');
  const at = parts.lastIndexOf('AWSLogs');
  if (at < 0) return false;
  const account = /^o-[a-z0-9]{10,32}$/.test(parts[at + 1] ?? '') ? parts[at + 2] : parts[at + 1];
  return account !== undefined && /^\d{12}$/.test(account) && !window.accounts.includes(account);
}

const HOUR = 3_600_000;
/**
 * How late CloudTrail may deliver an event, for `--until`: a log file sits in
 * the folder of the day it was delivered and holds events from before that.
 * CloudTrail delivers within minutes on average and gives no upper bound, so
 * a day's folder is passed over only when it starts a full day after `--until`.
 */
export const DELIVERY_LAG_MS = 24 * HOUR;

/**
 * The UTC time a date folder of CloudTrail's S3 layout covers
 * (`…/CloudTrail/<region>/YYYY[/MM[/DD]]`), or `undefined` for any other
 * directory: only that layout names folders by delivery date.
 */
export function dateFolderSpan(path: string): { readonly start: number; readonly end: number } | undefined {
  const parts = path.split(sep).filter((part) => part !== '');
  const at = parts.lastIndexOf('CloudTrail');
  if (at < 0) return undefined;
  const date = parts.slice(at + 2);
  if (date.length < 1 || date.length > 3) return undefined;
  const [year, month, day] = date.map(Number);
  if (!/^\d{4}$/.test(date[0] ?? '') || year === undefined) return undefined;
  if (date[1] !== undefined && (!/^\d{2}$/.test(date[1]) || month === undefined || month < 1 || month > 12)) return undefined;
  if (date[2] !== undefined && (!/^\d{2}$/.test(date[2]) || day === undefined || day < 1 || day > 31)) return undefined;
  if (month === undefined) return { start: Date.UTC(year, 0, 1), end: Date.UTC(year + 1, 0, 1) };
  if (day === undefined) return { start: Date.UTC(year, month - 1, 1), end: Date.UTC(year, month, 1) };
  return { start: Date.UTC(year, month - 1, day), end: Date.UTC(year, month - 1, day + 1) };
}

/**
 * Whether no event in a date folder can fall in the window: every file was
 * delivered within the folder's span, after the events it holds (an hour of
 * margin for clocks), and at most {@link DELIVERY_LAG_MS} after them.
 */
function outsideWindow(path: string, window: WalkWindow | undefined): boolean {
  if (!window || (window.since === undefined && window.until === undefined)) return false;
  const span = dateFolderSpan(path);
  if (!span) return false;
  if (window.since !== undefined && span.end + HOUR <= window.since) return true;
  return window.until !== undefined && span.start >= window.until + DELIVERY_LAG_MS;
}

async function walk(directory: string, roots: Roots, into: Input[], window?: WalkWindow): Promise<void> {
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
    if (entry.isDirectory()) {
      // `--since`/`--until` pass over the date folders of a CloudTrail tree without opening a file in them.
      if (!outsideWindow(path, window) && !otherAccount(path, window)) await walk(path, roots, into, window);
      continue;
    }
    if (!RECORD_FILE.test(entry.name)) continue;
    let info: Stats;
    try {
      info = await lstat(path);
    } catch (error) {
      into.push({ kind: 'unreadable', path, error: describe(error) });
      continue;
    }
    if (info.isFile()) into.push({ kind: 'file', path, size: info.size });
    else if (info.isSymbolicLink()) {
      const input = await linkInput(path, roots);
      if (input) into.push(input);
    } else into.push({ kind: 'unreadable', path, error: notRegular(info) });
  }
}

/**
 * Expands paths into inputs, in order: a named file is read whatever its name
 * (a named link is followed: the user chose it); directories are walked for
 * record files, sorted by name. Only regular files become inputs: anything
 * else is an `unreadable` input with the reason.
 */
export async function listInputs(paths: readonly string[], window?: WalkWindow): Promise<Input[]> {
  const roots: string[] = [];
  for (const path of paths) {
    if (path === '-') continue;
    try {
      roots.push(await realpath(path));
    } catch {
      // Reported below, where the path is listed.
    }
  }
  const inputs: Input[] = [];
  for (const path of paths) {
    if (path === '-') {
      inputs.push({ kind: 'stdin' });
      continue;
    }
    let info: Stats;
    try {
      info = await stat(path);
    } catch (error) {
      inputs.push({ kind: 'unreadable', path, error: describe(error) });
      continue;
    }
    if (info.isDirectory()) await walk(path, roots, inputs, window);
    else if (info.isFile()) inputs.push({ kind: 'file', path, size: info.size });
    else inputs.push({ kind: 'unreadable', path, error: `${notRegular(info)}${info.isFIFO() ? ' (to replay a pipe, send it to stdin: -)' : ''}` });
  }
  return inputs;
}

export const CHUNK_BYTES = 512 * 1024;

function failedStream(error: Error): Readable {
  return new Readable({
    read() {
      this.destroy(error);
    },
  });
}

/**
 * A stream of a regular file's bytes. The file is checked again once open, so
 * one swapped for a FIFO or a device after it was listed is refused too: a
 * stream that fails with {@link InputRefusedError}.
 */
export function openFile(path: string): Readable {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever. Reads of a regular file ignore it.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (error) {
    return failedStream(error instanceof Error ? error : new Error(String(error)));
  }
  let info: Stats;
  try {
    info = fstatSync(fd);
  } catch (error) {
    closeSync(fd);
    return failedStream(error instanceof Error ? error : new Error(String(error)));
  }
  if (!info.isFile()) {
    closeSync(fd);
    return failedStream(new InputRefusedError(notRegular(info)));
  }
  if (info.size <= WHOLE_FILE_BYTES) {
    const whole = readWhole(fd, info.size);
    if (whole !== undefined) return Object.assign(Readable.from(whole.length > 0 ? [whole] : [], { objectMode: false }), { [WHOLE]: whole });
  }
  return createReadStream(path, { fd, highWaterMark: CHUNK_BYTES });
}

/**
 * Files up to this size (as stored) are read in one call and, when gzip,
 * inflated in one call: a CloudTrail log file is a few hundred KiB, and
 * streaming it costs more than the inflating itself.
 */
export const WHOLE_FILE_BYTES = 4 * 1024 * 1024;
/** Inflated bytes a file read whole may reach; past that it is streamed, as a larger file is. */
const WHOLE_INFLATED_BYTES = 64 * 1024 * 1024;
/** Marks a stream made of a file read whole, and holds its bytes. */
const WHOLE = Symbol('whole file');

/** The whole content of a small open file, or `undefined` when it cannot be read at once (the caller streams it, and the stream reports the error). */
function readWhole(fd: number, size: number): Buffer | undefined {
  // Memory of its own, never a slice of Node's shared pool of small buffers: the reader frees it once the file is inflated.
  const bytes = Buffer.allocUnsafeSlow(size);
  let filled = 0;
  try {
    for (;;) {
      const read = readSync(fd, bytes, filled, size - filled, filled);
      if (read === 0) break;
      filled += read;
      if (filled === size) {
        // The file may have grown since fstat: only an end of file proves it was read whole.
        if (readSync(fd, Buffer.alloc(1), 0, 1, filled) !== 0) return undefined;
        break;
      }
    }
  } catch {
    return undefined;
  }
  closeSync(fd);
  return bytes.subarray(0, filled);
}

/** A gzip file read whole, inflated in one call; `undefined` when that fails or outgrows {@link WHOLE_INFLATED_BYTES}: the stream path then reads it and reports exactly where it fails. */
function inflateWhole(compressed: Buffer): Buffer | undefined {
  try {
    // One output buffer, of the size the gzip trailer gives (ISIZE: the inflated length, modulo 2^32), so zlib hands it back as is.
    // The trailer is only a hint: a wrong one costs a copy (too small) or unused bytes (too big), and the cap bounds both.
    const trailer = compressed.length >= 18 ? compressed.readUInt32LE(compressed.length - 4) : 0;
    const chunkSize = Math.min(Math.max(trailer + 1, 64 * 1024), WHOLE_INFLATED_BYTES);
    return gunzipSync(compressed, { maxOutputLength: WHOLE_INFLATED_BYTES, chunkSize });
  } catch {
    return undefined;
  }
}

/** The first bytes of a stream, put back for whoever reads it next; `undefined` for an empty stream. */
async function peek(source: Readable): Promise<Buffer | undefined> {
  for (;;) {
    const chunk = source.read() as Buffer | string | null;
    if (chunk !== null) {
      source.unshift(chunk);
      return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    }
    if (source.errored) {
      // A stream destroyed with an error emits it on a later tick: it is thrown here, so that emission needs no other handler.
      source.on('error', () => undefined);
      throw source.errored;
    }
    if (source.readableEnded || source.destroyed) return undefined;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        source.off('readable', done);
        source.off('end', done);
        source.off('close', done);
        source.off('error', failed);
        resolve();
      };
      const failed = (error: Error) => {
        source.off('readable', done);
        source.off('end', done);
        source.off('close', done);
        reject(error);
      };
      source.once('readable', done);
      source.once('end', done);
      source.once('close', done);
      source.once('error', failed);
    });
  }
}

/**
 * How far gzip may expand: real CloudTrail logs inflate about ten-fold, a
 * gzip bomb about a thousand-fold. Past this ratio, and past
 * {@link MIN_INFLATE_LIMIT_BYTES}, the rest of the input is refused, so the
 * work a file can cause is proportional to its size.
 */
export const MAX_INFLATE_RATIO = 100;
/**
 * Inflated bytes always allowed, whatever the ratio: a small file of repeated
 * records compresses far better than a log. Low enough that a directory of
 * bombs still costs little each.
 */
export const MIN_INFLATE_LIMIT_BYTES = 256 * 1024 * 1024;

/**
 * The decompressed bytes of a stream: gunzipped when it starts with the gzip
 * magic bytes, else as they are. `onBytes` gets the raw bytes read so far (for
 * a file; streams that do not count them report nothing). Gzip that inflates
 * past its allowance fails with {@link InputRefusedError}.
 */
async function* decompressed(source: Readable, onBytes?: (bytes: number) => void, owned?: ArrayBuffer[]): AsyncGenerator<Buffer> {
  const whole = (source as Readable & { [WHOLE]?: Buffer })[WHOLE];
  if (whole !== undefined) {
    const gzip = whole.length >= 2 && whole[0] === 0x1f && whole[1] === 0x8b;
    const bytes = gzip ? inflateWhole(whole) : whole;
    if (bytes !== undefined) {
      onBytes?.(whole.length);
      // Memory of this file alone: the reader frees it once done with the file, and the gzip bytes it was inflated from
      // (read into memory of their own by readWhole; nothing reads them again). zlib's output is never a slice of Node's
      // shared pool at this size, and the size is checked all the same: freeing the pool would corrupt every small buffer.
      if (gzip) {
        if (bytes.buffer instanceof ArrayBuffer && bytes.buffer.byteLength > Buffer.poolSize) owned?.push(bytes.buffer);
        if (whole.buffer instanceof ArrayBuffer) owned?.push(whole.buffer);
      }
      if (bytes.length > 0) yield bytes;
      return;
    }
  }
  const head = await peek(source);
  if (head === undefined) return;
  const counted = source as Readable & { bytesRead?: number };
  const report = onBytes && typeof counted.bytesRead === 'number' ? () => onBytes(counted.bytesRead ?? 0) : undefined;
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    for await (const chunk of source) {
      report?.();
      yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    }
    return;
  }
  let compressed = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      compressed += chunk.length;
      done(null, chunk);
    },
  });
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  // A read error destroys the gunzip stream with it, so it surfaces in the loop below.
  pipeline(source, meter, gunzip, () => undefined);
  let inflated = 0;
  for await (const chunk of gunzip) {
    report?.();
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    inflated += buffer.length;
    if (inflated > MIN_INFLATE_LIMIT_BYTES && inflated > MAX_INFLATE_RATIO * compressed) {
      throw new InputRefusedError(
        `gzip data inflates more than ${MAX_INFLATE_RATIO}-fold (${formatBytes(inflated)} from ${formatBytes(compressed)}), as a decompression bomb does: the rest of the input is skipped`,
      );
    }
    yield buffer;
  }
}

export interface ReadStats {
  /** Records seen, including those the gate dropped unparsed and malformed ones (an unreadable input is not a record). */
  records: number;
}

interface ReadOptions {
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

  function sized(origin: string, value: unknown, written: number): InputRecord {
    const reason = oversizeReason(value, written);
    return reason === undefined ? { origin, value } : { origin, error: reason };
  }

  function decode(record: ScannedRecord, origin: string): InputRecord[] {
    if (record.oversized !== undefined) {
      return [
        {
          origin,
          error: `the record is ${formatBytes(record.oversized)} as written, over the ${formatBytes(MAX_RECORD_BYTES)} a record may take: no event that large reaches EventBridge, so it is not read`,
        },
      ];
    }
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
        return list.map((element, index) => sized(`${name}:${record.line}:${key}[${index}]`, element, record.bytes.length));
      }
    }
    return [sized(origin, value, record.bytes.length)];
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
  // A file inflated whole: its buffer is freed as soon as every record of it was handed on (each was parsed into
  // values of its own), rather than left to the garbage collector, which several gigabytes of them keep busy.
  const owned: ArrayBuffer[] = [];
  try {
    for await (const chunk of decompressed(source, options.onBytes, owned)) {
      scanner.push(chunk);
      if (scanner.items.length > 0 || stats) yield* drain();
      // The scanner reads no more of this input (a fault in a document): neither should the stream, which may be endless.
      if (scanner.stopped) break;
    }
  } catch (error) {
    yield* drain();
    yield* release();
    const reason = error instanceof InputRefusedError ? error.message : `${describe(error)}; the rest of the input is skipped`;
    yield { origin: name, error: `unreadable: ${reason}`, unreadable: true };
    return;
  }
  scanner.end();
  yield* drain();
  yield* release();
  // ArrayBuffer.prototype.transfer (ES2024, Node 22): detaches it and gives its memory back at once; without it, the collector does.
  for (const buffer of owned) (buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
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
