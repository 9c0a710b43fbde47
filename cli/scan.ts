/**
 * A streaming record splitter for replay inputs. It reads raw bytes chunk by
 * chunk and cuts them into records without parsing them:
 *
 * - JSON Lines (each line a record), one JSON document, or several in a row;
 * - `{"Records":[…]}` (CloudTrail log files) and `{"Events":[…]}` (`aws
 *   cloudtrail lookup-events`), when that key comes first as CloudTrail and the
 *   AWS CLI write it: each array element is a record;
 * - a top-level JSON array: each element is a record.
 *
 * It tracks only strings, escapes and bracket depth, and keeps at most
 * {@link MAX_RECORD_BYTES} of a record, so memory stays bounded whatever the
 * file holds (a record past that size is reported, not kept). With a {@link NameGate} it
 * also reads each record's `eventName` (or `detail.eventName` for an
 * EventBridge envelope) on the fly and drops, unparsed, the records whose name
 * no rule's pattern lists; see {@link RecordScanner} for why that is exact.
 */

import { MAX_NEEDLE, simdScanner, WINDOW, type SimdScanner } from './scan-simd.js';

/** The exact `detail.eventName` values that every rule pattern requires (see `cli/gate.ts`). */
export interface NameGate {
  readonly names: ReadonlySet<string>;
  /** Length of the longest name: a longer raw value cannot be one of them. */
  readonly maxLength: number;
  /**
   * For a listed name that every pattern listing it narrows by a request
   * field: the literal texts one of which that field's value must contain
   * (ASCII, no quote or backslash). A raw record with no backslash whose bytes
   * hold none of them cannot match, so it is dropped like an unlisted one.
   */
  readonly literals?: ReadonlyMap<string, readonly Buffer[]>;
}

export type ContainerKind = 'Records' | 'Events' | 'array';

export interface ScannedRecord {
  readonly kind: 'record';
  /** The record's exact bytes; empty when it is {@link oversized}. */
  readonly bytes: Buffer;
  /** Set, to the record's size as written, when it is larger than the scanner keeps: its bytes were dropped. */
  readonly oversized?: number;
  /** 1-based line on which the record starts. */
  readonly line: number;
  readonly container: ContainerKind | undefined;
  /** Position in its container, or among the input's top-level values. */
  readonly index: number;
}

interface ScanProblem {
  readonly kind: 'problem';
  readonly line: number;
  readonly message: string;
}

type ScanItem = ScannedRecord | ScanProblem;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;

// Byte classes outside strings.
const C_SKIP = 0;
const C_QUOTE = 1;
const C_OPEN = 2;
const C_CLOSE = 3;
const C_NEWLINE = 4;
const C_COMMA = 5;
const C_SCALAR = 6;

const CLASS = new Uint8Array(256).fill(C_SCALAR);
for (const byte of [0x20, 0x09, 0x0d, COLON]) CLASS[byte] = C_SKIP;
CLASS[QUOTE] = C_QUOTE;
CLASS[OPEN_OBJECT] = C_OPEN;
CLASS[OPEN_ARRAY] = C_OPEN;
CLASS[0x7d] = C_CLOSE;
CLASS[0x5d] = C_CLOSE;
CLASS[NEWLINE] = C_NEWLINE;
CLASS[0x2c] = C_COMMA;

/** Bytes that end the fast path inside a string. */
const STRING_SPECIAL = new Uint8Array(256);
STRING_SPECIAL[QUOTE] = 1;
STRING_SPECIAL[BACKSLASH] = 1;
STRING_SPECIAL[NEWLINE] = 1;

const BLANK = new Uint8Array(256);
for (const byte of [0x20, 0x09, 0x0d]) BLANK[byte] = 1;

const MODE_UNKNOWN = 0;
const MODE_LINES = 1;
const MODE_DOCUMENT = 2;

const CAPTURE_NONE = 0;
const CAPTURE_CONTAINER = 1;
const CAPTURE_SCALAR = 2;

// What is known of a record's event name.
const NAME_ABSENT = 0;
/** Present, and every occurrence is a plain string that no pattern lists. */
const NAME_UNLISTED = 1;
/** Listed, or not a plain string (array, escapes, number…): only the real matcher can tell. */
const NAME_CANDIDATE = 2;

const EVENT_NAME = Buffer.from('"eventName"');
const DETAIL = Buffer.from('"detail"');
const CLOUDTRAIL_EVENT = Buffer.from('"CloudTrailEvent"');
const RECORDS = Buffer.from('"Records"');
const EVENTS = Buffer.from('"Events"');

/** Whether `chunk` holds `token` at `at` (entirely inside the chunk). */
function hasToken(chunk: Buffer, at: number, token: Buffer): boolean {
  if (at + token.length > chunk.length) return false;
  for (let k = 0; k < token.length; k++) if (chunk[at + k] !== token[k]) return false;
  return true;
}

/** The position of the first byte at or after `at` that is not a space, tab or carriage return (line breaks count lines, so they stop it). */
function skipBlanks(chunk: Buffer, at: number): number {
  while (at < chunk.length && BLANK[chunk[at] as number] === 1) at++;
  return at;
}

/** The position of the next `byte` at or after `from`, or the chunk's length when there is none. */
function nextAt(chunk: Buffer, byte: number, from: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}

/**
 * Whether the plain string from the quote at `open` to the one at `close` is
 * one of the keys {@link RecordScanner.gateKey} reads (`eventName`, `detail`,
 * `CloudTrailEvent`); any other string at key depth is skipped unread.
 */
function gateMayRead(chunk: Buffer, open: number, close: number): boolean {
  const length = close - open - 1;
  const first = chunk[open + 1];
  // `eventName` is told from `eventTime` and `eventType` by its seventh letter.
  return (length === 9 && first === 0x65 && chunk[open + 6] === 0x4e) || (length === 6 && first === 0x64) || (length === 15 && first === 0x43);
}

/** A gate's names by {@link nameKey}: most raw names are told unlisted by one lookup, without a string. */
type NameIndex = ReadonlyMap<number, readonly { readonly name: string; readonly bytes: Buffer }[]>;

const NAME_INDEXES = new WeakMap<NameGate, NameIndex>();

/** Length, first two bytes and last byte of the bytes from `start` to `end` (at least one). */
function nameKey(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  return ((length & 0x7f) << 24) | ((bytes[start] as number) << 16) | ((length > 1 ? (bytes[start + 1] as number) : 0) << 8) | (bytes[end - 1] as number);
}

function namesOf(gate: NameGate): NameIndex {
  let index = NAME_INDEXES.get(gate);
  if (index === undefined) {
    const built = new Map<number, { name: string; bytes: Buffer }[]>();
    for (const name of gate.names) {
      const bytes = Buffer.from(name, 'latin1');
      if (bytes.length === 0) continue;
      const key = nameKey(bytes, 0, bytes.length);
      (built.get(key) ?? built.set(key, []).get(key))?.push({ name, bytes });
    }
    index = built;
    NAME_INDEXES.set(gate, index);
  }
  return index;
}

/** The gate's name that the bytes from `start` to `end` of `chunk` spell, if any. */
function listedName(gate: NameGate, chunk: Buffer, start: number, end: number): string | undefined {
  if (end <= start) return gate.names.has('') ? '' : undefined;
  const candidates = namesOf(gate).get(nameKey(chunk, start, end));
  if (candidates === undefined) return undefined;
  for (const { name, bytes } of candidates) {
    if (bytes.length !== end - start) continue;
    let k = 0;
    while (k < bytes.length && bytes[k] === chunk[start + k]) k++;
    if (k === bytes.length) return name;
  }
  return undefined;
}

/** gateKey's answer when the chunk ends before a key is settled. */
const NEED_MORE = -2;
/** Bytes carried over to the next chunk at most; past that the record is simply kept. */
const MAX_CARRY = 4096;

/**
 * The largest record kept, as written (whitespace included): four times
 * EventBridge's 256 KiB event size limit, so an event that EventBridge could
 * deliver fits even pretty-printed, and one record never holds more memory
 * than this. A larger one is counted and reported, never parsed.
 */
export const MAX_RECORD_BYTES = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into records. Call {@link push} per chunk, then
 * {@link end}; after each call, take the records and problems from
 * {@link items} (the caller empties it).
 *
 * The gate drops a record only when that is provably what the full path would
 * decide: the record is a JSON object; for a raw CloudTrail record (no
 * top-level `detail` key) every top-level `eventName` is a plain string (no
 * escapes) outside the gate's set; for an envelope, its one `detail` is an
 * object whose every `eventName` is such a string. `JSON.parse` keeps the last
 * of duplicate keys, and the matcher needs an exact string (or an array
 * holding one), so no rule's pattern could match. Anything the scanner cannot
 * settle cheaply (escapes in a key, a key cut by a chunk boundary, a
 * `CloudTrailEvent` key) keeps the record. A dropped record is counted, not
 * parsed: a syntax error inside it that keeps strings and brackets balanced
 * goes unreported.
 */
export class RecordScanner {
  /** Records seen, dropped ones included. */
  records = 0;
  /** Records the gate dropped. */
  dropped = 0;
  readonly items: ScanItem[] = [];

  private readonly gate: NameGate | undefined;
  private readonly maxRecordBytes: number;

  private mode = MODE_UNKNOWN;
  private deciding = false;
  private line = 1;
  private atStart = true;
  /** After a problem: lines mode skips to the next line, document mode stops. */
  private skipLine = false;
  private dead = false;

  private depth = 0;
  private inString = false;
  private escapePending = false;
  /** Bytes of an unsettled key, carried over to the next chunk. */
  private carry: Buffer | undefined;
  /** Set by `end`: no more bytes will come, so nothing is carried. */
  private final = false;

  /** Depth at which records start; -1 while inside a container's other keys. */
  private recordDepth = 0;
  private container: ContainerKind | undefined;
  private containerIndex = 0;
  private topIndex = 0;
  private firstKeyPending = false;

  private capture = CAPTURE_NONE;
  private recStart = 0;
  private recPieces: Buffer[] = [];
  private recLine = 0;
  /** Bytes of the record being captured so far, kept or not. */
  private recBytes = 0;
  /** The record outgrew `maxRecordBytes`: its pieces are dropped, only its size is counted. */
  private recOver = false;

  // Gate state of the record being read.
  /** Depth of the record's own keys when it is an object being captured, else -1. */
  private keyDepth = -1;
  /** Depth of `detail`'s keys while inside it, else -1. */
  private detailDepth = -1;
  private nameState = NAME_ABSENT;
  /** The literals the record's listed name needs, when it has one such name and no other `eventName`. */
  private literals: readonly Buffer[] | undefined;
  private names = 0;
  private detailNameState = NAME_ABSENT;
  private detailCount = 0;
  private detailIsObject = false;
  private keep = false;

  /** The WebAssembly SIMD fast path, when the runtime has it. */
  private readonly simd: SimdScanner | undefined;
  /** The chunk whose bytes from `windowStart` to `windowEnd` are in the fast path's memory. */
  private window: Buffer | undefined;
  private windowStart = 0;
  private windowEnd = 0;

  /** Bytes copied to the fast path at most at once. */
  private readonly windowBytes: number;

  /** `simd: false` keeps to the JavaScript path; `windowBytes` copies less at once (the tests hold all of them equal). */
  constructor(gate?: NameGate, maxRecordBytes = MAX_RECORD_BYTES, options: { readonly simd?: boolean; readonly windowBytes?: number } = {}) {
    this.gate = gate;
    this.maxRecordBytes = maxRecordBytes;
    this.simd = options.simd === false ? undefined : simdScanner();
    this.windowBytes = Math.max(1, Math.min(options.windowBytes ?? WINDOW, WINDOW));
  }

  /** Top-level JSON values seen so far (records, dropped ones included, and containers). */
  get topLevelValues(): number {
    return this.topIndex;
  }

  /** Set after a fault in a JSON document: nothing more will be read from the input, so the caller can stop reading it. */
  get stopped(): boolean {
    return this.dead;
  }

  private problem(message: string): void {
    this.items.push({ kind: 'problem', line: this.line, message });
  }

  private resetValueState(): void {
    this.depth = 0;
    this.inString = false;
    this.escapePending = false;
    this.recordDepth = 0;
    this.container = undefined;
    this.firstKeyPending = false;
    this.capture = CAPTURE_NONE;
    this.recPieces.length = 0;
    this.recOver = false;
    this.keyDepth = -1;
    this.detailDepth = -1;
  }

  /** A structural fault: lines mode drops the rest of the line, document mode the rest of the input. */
  private fault(message: string, atNewline: boolean): void {
    const where = this.capture !== CAPTURE_NONE ? ` (record starting on line ${this.recLine})` : '';
    if (this.mode === MODE_LINES) {
      this.problem(`${message}${where}; the rest of the line is skipped`);
      this.resetValueState();
      this.skipLine = !atNewline;
    } else {
      this.problem(`${message}${where}; the rest of the input is skipped`);
      this.resetValueState();
      this.dead = true;
    }
  }

  private startRecord(position: number, capture: number, isObject: boolean): void {
    this.capture = capture;
    this.recStart = position;
    this.recPieces.length = 0;
    this.recBytes = 0;
    this.recOver = false;
    this.recLine = this.line;
    this.keyDepth = isObject ? this.recordDepth + 1 : -1;
    this.detailDepth = -1;
    this.nameState = NAME_ABSENT;
    this.literals = undefined;
    this.names = 0;
    this.detailNameState = NAME_ABSENT;
    this.detailCount = 0;
    this.detailIsObject = false;
    // Arrays and scalars are never dropped: the full path reports them.
    this.keep = !isObject || this.gate === undefined || this.container === 'Events';
  }

  private dropAllowed(): boolean {
    if (this.keep) return false;
    if (this.detailCount === 0) return this.nameState === NAME_UNLISTED;
    return this.detailCount === 1 && this.detailIsObject && this.detailNameState === NAME_UNLISTED;
  }

  /** Ends the record being captured; `end` is exclusive, in `chunk`. */
  private endRecord(chunk: Buffer, end: number): void {
    this.capture = CAPTURE_NONE;
    this.keyDepth = -1;
    this.detailDepth = -1;
    this.records += 1;
    const index = this.container === undefined ? this.topIndex++ : this.containerIndex++;
    this.recBytes += end - this.recStart;
    if (this.dropAllowed()) {
      this.dropped += 1;
      this.recPieces.length = 0;
      return;
    }
    if (this.recOver || this.recBytes > this.maxRecordBytes) {
      this.recPieces.length = 0;
      this.recOver = false;
      this.items.push({ kind: 'record', bytes: EMPTY, oversized: this.recBytes, line: this.recLine, container: this.container, index });
      return;
    }
    if (this.recPieces.length === 0 ? this.lacksLiteralsIn(chunk, this.recStart, end) : this.lacksLiterals(Buffer.concat([...this.recPieces, chunk.subarray(this.recStart, end)]))) {
      this.recPieces.length = 0;
      this.dropped += 1;
      return;
    }
    const tail = chunk.subarray(this.recStart, end);
    const bytes = this.recPieces.length === 0 ? tail : Buffer.concat([...this.recPieces, tail]);
    this.recPieces.length = 0;
    this.items.push({ kind: 'record', bytes, line: this.recLine, container: this.container, index });
  }

  /** Whether a record may be a candidate {@link lacksLiterals} drops, before its bytes are looked at. */
  private literalsApply(): boolean {
    return this.literals !== undefined && !this.keep && this.names === 1 && this.detailCount === 0 && this.nameState === NAME_CANDIDATE;
  }

  /**
   * {@link lacksLiterals} for a record that is the bytes from `start` to `end`
   * of `chunk`, looked at only when it may be dropped: by the SIMD search when
   * the bytes are in its memory.
   */
  private lacksLiteralsIn(chunk: Buffer, start: number, end: number): boolean {
    if (!this.literalsApply()) return false;
    const simd = this.simd;
    const literals = this.literals as readonly Buffer[];
    if (simd === undefined || literals.length === 0 || chunk !== this.window || start < this.windowStart || end > this.windowEnd) return this.lacksLiterals(chunk.subarray(start, end));
    for (const literal of literals) {
      if (literal.length < 2 || literal.length > MAX_NEEDLE) return this.lacksLiterals(chunk.subarray(start, end));
      if (simd.find(start - this.windowStart, end - this.windowStart, literal) !== 0) return false;
    }
    return true;
  }

  /**
   * Whether a raw record with one, listed `eventName` provably lacks every
   * literal that name's patterns need: no backslash anywhere (so every string's
   * bytes are its text) and none of the literals in its bytes.
   */
  private lacksLiterals(bytes: Buffer): boolean {
    const literals = this.literals;
    if (literals === undefined || !this.literalsApply()) return false;
    if (bytes.indexOf(BACKSLASH) >= 0) return false;
    for (const literal of literals) if (bytes.indexOf(literal) >= 0) return false;
    return true;
  }

  /** Keeps a piece of the record being captured, until the record outgrows `maxRecordBytes`. */
  private keepPiece(piece: Buffer): void {
    this.recBytes += piece.length;
    if (this.recOver) return;
    if (this.recBytes > this.maxRecordBytes) {
      this.recOver = true;
      this.recPieces.length = 0;
      return;
    }
    this.recPieces.push(piece);
  }

  /**
   * A string starts at `at` at the depth of the record's keys (or of
   * `detail`'s). Handles the keys the gate and the container detection need,
   * and returns where scanning resumes: `at` means "an ordinary string",
   * {@link NEED_MORE} that the chunk ends before the key can be settled (the
   * caller carries the bytes from `at` over to the next chunk).
   */
  private gateKey(chunk: Buffer, at: number): number {
    const n = chunk.length;
    const needMore = (): number => {
      if (!this.final && n - at <= MAX_CARRY) return NEED_MORE;
      this.keep = true;
      this.firstKeyPending = false;
      return at;
    };
    if (this.firstKeyPending) {
      if (at + RECORDS.length > n) return needMore();
      const token = hasToken(chunk, at, RECORDS) ? RECORDS : hasToken(chunk, at, EVENTS) ? EVENTS : undefined;
      if (token) {
        let next = skipBlanks(chunk, at + token.length);
        if (next >= n) return needMore();
        if (chunk[next] === COLON) {
          next = skipBlanks(chunk, next + 1);
          if (next >= n) return needMore();
          if (chunk[next] === OPEN_ARRAY) {
            // `{"Records":[` — the top-level object is a container, not a record.
            this.firstKeyPending = false;
            this.capture = CAPTURE_NONE;
            this.recPieces.length = 0;
            this.keyDepth = -1;
            this.container = token === RECORDS ? 'Records' : 'Events';
            this.containerIndex = 0;
            this.recordDepth = 2;
            this.depth = 2;
            return next + 1;
          }
        }
      }
      this.firstKeyPending = false;
    }
    if (this.keep) return at;
    if (at + CLOUDTRAIL_EVENT.length > n) return needMore();
    const inDetail = this.depth === this.detailDepth;
    const first = chunk[at + 1];
    if (first === 0x65 && hasToken(chunk, at, EVENT_NAME)) {
      let next = skipBlanks(chunk, at + EVENT_NAME.length);
      if (next >= n) return needMore();
      if (chunk[next] !== COLON) return this.notAKey(chunk[next] as number, at);
      next = skipBlanks(chunk, next + 1);
      if (next >= n) return needMore();
      const gate = this.gate as NameGate;
      let state = NAME_CANDIDATE;
      let resume = at;
      if (chunk[next] === QUOTE) {
        const start = next + 1;
        // Past maxLength plain bytes the name is too long to be listed, whatever follows.
        const limit = start + gate.maxLength + 1;
        let end = start;
        while (end < n && end < limit && STRING_SPECIAL[chunk[end] as number] === 0) end++;
        if (end >= n && end < limit) return needMore();
        if (end === limit) state = NAME_UNLISTED;
        else if (chunk[end] === QUOTE) {
          resume = end + 1;
          // The names are ASCII: a name matches only its own bytes.
          const name = listedName(gate, chunk, start, end);
          state = name !== undefined ? NAME_CANDIDATE : NAME_UNLISTED;
          if (!inDetail && name !== undefined) this.literals = gate.literals?.get(name);
        }
      }
      if (!inDetail) this.names += 1;
      if (inDetail) this.detailNameState = Math.max(this.detailNameState, state);
      else this.nameState = Math.max(this.nameState, state);
      return resume;
    }
    if (inDetail) return at;
    if (first === 0x64 && hasToken(chunk, at, DETAIL)) {
      let next = skipBlanks(chunk, at + DETAIL.length);
      if (next >= n) return needMore();
      if (chunk[next] !== COLON) return this.notAKey(chunk[next] as number, at);
      next = skipBlanks(chunk, next + 1);
      if (next >= n) return needMore();
      this.detailCount += 1;
      if (chunk[next] !== OPEN_OBJECT) return at;
      this.detailIsObject = true;
      this.detailDepth = this.depth + 1;
      return next;
    }
    if (first === 0x43 && hasToken(chunk, at, CLOUDTRAIL_EVENT)) {
      // A lookup-events entry: the record that counts is inside the string.
      this.keep = true;
    }
    return at;
  }

  /**
   * A key-like string not followed by a colon: a value (followed by `,`, `}`
   * or `]`), or a layout the gate does not settle (a line break before the
   * colon), in which case the record is kept.
   */
  private notAKey(following: number, at: number): number {
    if (following !== 0x2c && following !== 0x7d && following !== 0x5d) this.keep = true;
    return at;
  }

  push(input: Buffer): void {
    this.scanChunk(input);
    // The fast path's copy belongs to one call (another scanner may use the memory between two), and the chunk is not held after it.
    this.window = undefined;
  }

  private scanChunk(input: Buffer): void {
    if (this.dead) return;
    let chunk = input;
    if (this.carry !== undefined) {
      chunk = Buffer.concat([this.carry, input]);
      this.carry = undefined;
    }
    const n = chunk.length;
    let i = 0;
    if (this.atStart) {
      if (n === 0) return;
      this.atStart = false;
      if (n >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    if (this.capture !== CAPTURE_NONE) this.recStart = 0;

    if (this.inString) {
      // The string went on past the previous chunk.
      if (this.escapePending) {
        this.escapePending = false;
        i += 1;
      }
      i = this.skipString(chunk, i);
      if (i < 0) return this.endChunk(chunk);
    }

    // Where the next backslash and line break are, found natively and kept for the whole chunk.
    let nextBackslash = -1;
    let nextNewline = -1;
    while (i < n) {
      // Fast path: the bytes inside a record, away from its boundaries and from the keys the gate reads.
      if (this.capture === CAPTURE_CONTAINER && !this.skipLine) {
        let depth = this.depth;
        const keyDepth = this.keyDepth;
        const detailDepth = this.detailDepth;
        const boundary = this.recordDepth + 1;
        let until = n;
        if (this.simd !== undefined && !this.firstKeyPending && !this.deciding) {
          // The SIMD scan (cli/scan-simd.ts) skips, 64 bytes at a time, only bytes the loop below would skip, and stops at least
          // wherever it would stop; the loop then takes the token there, exactly as without it, and the SIMD scan goes on after it.
          const simd = this.simd;
          if (chunk !== this.window || i < this.windowStart || i >= this.windowEnd) {
            const end = Math.min(n, i + this.windowBytes);
            simd.bytes.set(chunk.subarray(i, end));
            this.window = chunk;
            this.windowStart = i;
            this.windowEnd = end;
          }
          const start = this.windowStart;
          i = start + simd.scan(i - start, this.windowEnd - start, depth, keyDepth, detailDepth, boundary);
          depth = simd.depth();
          until = i + 1;
        }
        while (i < until && i < n) {
          const cls = CLASS[chunk[i] as number] as number;
          if (cls === C_SKIP || cls === C_SCALAR || cls === C_COMMA) {
            i += 1;
          } else if (cls === C_QUOTE) {
            let plain: boolean;
            let close: number;
            if (this.simd !== undefined) {
              // With the SIMD scan this loop sees a string or two per stop: its bytes are read up to the first quote, backslash or
              // line break, rather than searching the chunk for the next of each.
              close = i + 1;
              while (close < n && STRING_SPECIAL[chunk[close] as number] === 0) close++;
              if (close >= n) break;
              plain = chunk[close] === QUOTE;
            } else {
              // The closing quote, found natively; it ends the string when no backslash or line break comes before it.
              close = chunk.indexOf(QUOTE, i + 1);
              if (close < 0) break;
              if (nextBackslash <= i) nextBackslash = nextAt(chunk, BACKSLASH, i + 1);
              if (nextNewline <= i) nextNewline = nextAt(chunk, NEWLINE, i + 1);
              plain = close < nextBackslash && close < nextNewline;
            }
            if (plain) {
              if ((depth === keyDepth || depth === detailDepth) && (this.firstKeyPending || gateMayRead(chunk, i, close))) break;
              i = close + 1;
              continue;
            }
            if (depth === keyDepth || depth === detailDepth) break;
            let j = i + 1;
            for (;;) {
              while (j < n && STRING_SPECIAL[chunk[j] as number] === 0) j++;
              if (j >= n || chunk[j] !== BACKSLASH) break;
              j += 2;
            }
            if (j >= n || chunk[j] !== QUOTE) break;
            i = j + 1;
          } else if (cls === C_OPEN) {
            depth += 1;
            i += 1;
          } else if (cls === C_CLOSE && depth > boundary && depth !== detailDepth) {
            depth -= 1;
            i += 1;
          } else {
            break;
          }
        }
        this.depth = depth;
        if (i >= n) break;
        if (i >= until) continue;
      }
      if (this.skipLine) {
        const next = chunk.indexOf(NEWLINE, i);
        if (next < 0) return this.endChunk(chunk);
        this.skipLine = false;
        this.line += 1;
        i = next + 1;
        continue;
      }
      const cls = CLASS[chunk[i] as number] as number;
      if (cls === C_SKIP) {
        i += 1;
        continue;
      }
      if (this.deciding && cls !== C_NEWLINE) {
        // The first value's first token is on its opening line: JSON Lines.
        this.mode = MODE_LINES;
        this.deciding = false;
      }
      switch (cls) {
        case C_QUOTE: {
          if (this.depth === this.keyDepth || this.depth === this.detailDepth) {
            const resume = this.gateKey(chunk, i);
            if (resume === NEED_MORE) {
              this.carry = Buffer.from(chunk.subarray(i));
              return this.endChunk(chunk, i);
            }
            if (resume !== i) {
              i = resume;
              break;
            }
          } else if (this.capture === CAPTURE_NONE && this.depth === this.recordDepth) {
            if (this.depth === 0) {
              this.fault('a record must be a JSON object', false);
              if (this.dead) return;
              i += 1;
              break;
            }
            this.startRecord(i, CAPTURE_SCALAR, false);
          }
          i = this.skipString(chunk, i + 1);
          if (i < 0) return this.endChunk(chunk);
          break;
        }
        case C_OPEN: {
          const depth = this.depth;
          if (depth === this.recordDepth && this.capture === CAPTURE_NONE) {
            const byte = chunk[i];
            if (depth === 0) {
              if (this.mode === MODE_UNKNOWN) {
                if (byte === OPEN_OBJECT) this.deciding = true;
                else this.mode = MODE_DOCUMENT;
              }
              if (byte === OPEN_ARRAY) {
                this.container = 'array';
                this.containerIndex = 0;
                this.recordDepth = 1;
              } else {
                this.startRecord(i, CAPTURE_CONTAINER, true);
                this.firstKeyPending = true;
              }
            } else {
              this.startRecord(i, CAPTURE_CONTAINER, byte === OPEN_OBJECT);
            }
          }
          this.depth = depth + 1;
          i += 1;
          break;
        }
        case C_CLOSE: {
          if (this.depth === 0) {
            this.fault(`unexpected "${String.fromCharCode(chunk[i] as number)}"`, false);
            if (this.dead) return;
            i += 1;
            break;
          }
          if (this.capture === CAPTURE_SCALAR && this.depth === this.recordDepth) this.endRecord(chunk, i);
          const depth = this.depth - 1;
          this.depth = depth;
          if (depth < this.detailDepth) this.detailDepth = -1;
          if (this.capture === CAPTURE_CONTAINER && depth === this.recordDepth) {
            this.endRecord(chunk, i + 1);
          } else if (this.container !== undefined && depth === this.recordDepth - 1) {
            // The container's array closed; a `Records`/`Events` object may hold other keys, which are not records.
            this.container = undefined;
            this.recordDepth = depth === 0 ? 0 : -1;
            this.topIndex += 1;
          } else if (depth === 0 && this.recordDepth === -1) {
            this.recordDepth = 0;
          }
          i += 1;
          break;
        }
        case C_NEWLINE: {
          if (this.deciding) {
            this.mode = MODE_DOCUMENT;
            this.deciding = false;
          }
          if (this.mode === MODE_LINES && this.depth > 0) {
            if (this.container !== undefined && this.topIndex === 0) {
              // `{"Records":[` then a line break inside the first value: one document laid out over lines.
              this.mode = MODE_DOCUMENT;
            } else {
              this.fault('the line ends inside a JSON value', true);
              if (this.dead) return;
            }
          }
          this.line += 1;
          i += 1;
          break;
        }
        case C_COMMA: {
          if (this.capture === CAPTURE_SCALAR && this.depth === this.recordDepth) this.endRecord(chunk, i);
          i += 1;
          break;
        }
        default: {
          // Numbers, true, false, null (and stray bytes).
          if (this.capture === CAPTURE_NONE && this.depth === this.recordDepth) {
            if (this.depth === 0) {
              this.fault('a record must be a JSON object', false);
              if (this.dead) return;
              i += 1;
              break;
            }
            this.startRecord(i, CAPTURE_SCALAR, false);
          }
          i += 1;
        }
      }
    }
    this.endChunk(chunk);
  }

  /**
   * Skips a string body from `at` (just after the opening quote, or the start
   * of a chunk when resuming). Returns the position after the closing quote,
   * or -1 when the chunk ends inside the string.
   */
  private skipString(chunk: Buffer, at: number): number {
    const n = chunk.length;
    let j = at;
    let escaped = false;
    for (;;) {
      while (j < n && STRING_SPECIAL[chunk[j] as number] === 0) j++;
      if (j >= n) {
        this.inString = true;
        return -1;
      }
      const byte = chunk[j];
      if (byte === QUOTE) {
        this.inString = false;
        if (escaped && (this.depth === this.keyDepth || this.depth === this.detailDepth)) {
          // A key spelled with escapes could be any key: keep the record rather than decode it here.
          const next = skipBlanks(chunk, j + 1);
          if (next >= n || chunk[next] === COLON) this.keep = true;
        }
        return j + 1;
      }
      if (byte === BACKSLASH) {
        escaped = true;
        if (j + 1 >= n) {
          this.inString = true;
          this.escapePending = true;
          return -1;
        }
        j += 2;
        continue;
      }
      // A raw newline inside a string: not JSON; in JSON Lines it means a cut line.
      if (this.mode === MODE_LINES) {
        this.fault('a string is not closed on its line', true);
        this.line += 1;
        if (this.dead) return -1;
        return j + 1;
      }
      this.line += 1;
      j += 1;
    }
  }

  /** The chunk is done up to `end` (the rest, if any, is carried over). */
  private endChunk(chunk: Buffer, end = chunk.length): void {
    if (this.inString && (this.depth === this.keyDepth || this.depth === this.detailDepth)) {
      // A string at key depth is cut by the chunk boundary: do not guess whether it was an escaped key.
      this.keep = true;
    }
    if (this.capture !== CAPTURE_NONE && end > this.recStart) this.keepPiece(chunk.subarray(this.recStart, end));
  }

  end(): void {
    if (this.dead) return;
    if (this.carry !== undefined) {
      this.final = true;
      this.push(Buffer.alloc(0));
    }
    if (this.depth > 0 || this.inString) {
      const where = this.capture !== CAPTURE_NONE ? ` (record starting on line ${this.recLine})` : '';
      this.problem(`the input ends inside a JSON value${where}: the file is truncated`);
      this.resetValueState();
    }
  }
}
