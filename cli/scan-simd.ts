/**
 * The replay scanner's fast path in WebAssembly SIMD: it skips the inside of
 * a record 64 bytes at a time, and stops only where the JavaScript scanner
 * (`cli/scan.ts`) has something to decide.
 *
 * It is simdjson's first stage ("Parsing Gigabytes of JSON per Second",
 * Langdale and Lemire, 2019), on 16-byte vectors: per block of 64 bytes, one
 * bit per byte for quotes, backslashes, line breaks and brackets; the bytes a
 * backslash escapes (runs of backslashes, by their parity); the bytes inside
 * strings, by a prefix XOR of the unescaped quotes; then a walk over the
 * brackets outside strings only, which keeps the depth. Between two brackets
 * the depth is constant, so the strings there are looked at only when that
 * depth is the record's key depth: a key that may be one the gate reads
 * (`"e…N` as in `"eventName"`, `"detail"`, `"CloudTrailEvent"`) stops the
 * scan, and so does any string at that depth holding a backslash.
 *
 * The module is assembled here, from the readable code below, by a small
 * assembler: no binary is committed and no toolchain is needed. When
 * WebAssembly SIMD is not available, `simdScanner()` returns `undefined` and
 * the JavaScript path does all the work; the two are held equal by
 * `test/scan-simd.test.ts`.
 *
 * `scan(from, end, depth, keyDepth, detailDepth, boundary)` reads the bytes
 * copied to `DATA` (positions are relative to it) from `from`, which is
 * outside any string, and returns the first position at which the caller
 * must look itself, having skipped only what the JavaScript fast path skips:
 * - an opening quote at key depth that may be a gate key, or whose string
 *   holds a backslash or a line break, or that starts within 17 bytes of
 *   `end` (its key cannot be read whole);
 * - a line break, or a backslash outside a string (the quote of the string
 *   it is in, when in one);
 * - a closing bracket at `boundary` (the record's end) or at `detailDepth`;
 * - `end`, or the opening quote of the string `end` cuts.
 * The depth there is stored as an i32 at address 0.
 */

// Opcodes (WebAssembly core 2.0 and fixed-width SIMD).
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const ELSE = 0x05;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const RETURN = 0x0f;
const VOID = 0x40;
const SELECT = 0x1b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_LOAD8_U = 0x2d;
const I32_STORE = 0x36;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I32_EQZ = 0x45;
const I32_EQ = 0x46;
const I32_NE = 0x47;
const I32_LT_S = 0x48;
const I32_GT_S = 0x4a;
const I32_LE_S = 0x4c;
const I32_GE_S = 0x4e;
const I32_GE_U = 0x4f;
const I64_EQZ = 0x50;
const I64_NE = 0x52;
const I64_LT_U = 0x54;
const I32_CTZ = 0x68;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I32_OR = 0x72;
const I32_SHL = 0x74;
const I64_CLZ = 0x79;
const I64_CTZ = 0x7a;
const I64_ADD = 0x7c;
const I64_SUB = 0x7d;
const I64_AND = 0x83;
const I64_OR = 0x84;
const I64_XOR = 0x85;
const I64_SHL = 0x86;
const I64_SHR_S = 0x87;
const I64_SHR_U = 0x88;
const I32_WRAP_I64 = 0xa7;
const I64_EXTEND_I32_U = 0xad;
const SIMD = 0xfd;
const V128_LOAD = 0x00;
const V128_CONST = 0x0c;
const I8X16_SPLAT = 0x0f;
const I8X16_EQ = 0x23;
const V128_AND = 0x4e;
const V128_OR = 0x50;
const V128_ANY_TRUE = 0x53;
const I8X16_BITMASK = 0x64;

const I32 = 0x7f;
const I64 = 0x7e;
const V128 = 0x7b;

type Code = number[];

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb(value: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    if ((value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

// Expressions: each returns the code that leaves its value on the stack.
const i32 = (value: number): Code => [I32_CONST, ...sleb(BigInt(value))];
const i64 = (value: bigint): Code => [I64_CONST, ...sleb(BigInt.asIntN(64, value))];
const get = (local: number): Code => [LOCAL_GET, ...uleb(local)];
const set = (local: number, value: Code): Code => [...value, LOCAL_SET, ...uleb(local)];
const op = (code: number, ...operands: Code[]): Code => [...operands.flat(), code];
const simd = (code: number, ...operands: Code[]): Code => [...operands.flat(), SIMD, ...uleb(code)];
const select = (ifTrue: Code, ifFalse: Code, condition: Code): Code => [...ifTrue, ...ifFalse, ...condition, SELECT];
const block = (...body: Code[]): Code => [BLOCK, VOID, ...body.flat(), END];
const loop = (...body: Code[]): Code => [LOOP, VOID, ...body.flat(), END];
const when = (condition: Code, ...body: Code[]): Code => [...condition, IF, VOID, ...body.flat(), END];
const either = (condition: Code, then: Code, otherwise: Code): Code => [...condition, IF, VOID, ...then, ELSE, ...otherwise, END];
const br = (depth: number): Code => [BR, ...uleb(depth)];
const brIf = (depth: number, condition: Code): Code => [...condition, BR_IF, ...uleb(depth)];
const ret = (value: Code): Code => [...value, RETURN];
const load = (address: Code, offset: number): Code => [...address, SIMD, ...uleb(V128_LOAD), 0, ...uleb(offset)];
const splat = (byte: number): Code => [SIMD, ...uleb(V128_CONST), ...new Array<number>(16).fill(byte)];

/** Where the literal `find` looks for is written, and its longest length. */
const NEEDLE = 64;
export const MAX_NEEDLE = 4096 - NEEDLE;
/** Where the copied bytes start in memory; the depth is stored at 0. */
export const DATA = 4096;
/** Bytes after the copied ones that the scan may load (and ignores). */
const PAD = 128;
/** Largest number of bytes copied at once: memory stays this size. */
export const WINDOW = 1024 * 1024;
const PAGES = Math.ceil((DATA + WINDOW + PAD) / 65536);

const EVEN = 0x5555555555555555n;
const ODD = 0xaaaaaaaaaaaaaaaan;

// Locals: the six parameters, then i32, i64 and v128 locals.
const [FROM, END_AT, DEPTH, KEY_DEPTH, DETAIL_DEPTH, BOUNDARY] = [0, 1, 2, 3, 4, 5];
const I32_LOCALS = ['lastQuote', 'left', 'next', 'segStart', 'hit', 'candDone'] as const;
const I64_LOCALS = ['quote', 'backslash', 'newline', 'open', 'close', 'inString', 'brackets', 'trouble', 'keyTrouble', 'escCarry', 'strCarry', 'valid', 'rest', 'opening', 'lone', 'starts', 'sum', 'escaped', 'seg', 'hits'] as const;
const V128_LOCALS = ['v0', 'v1', 'v2', 'v3', 'w0', 'w1', 'w2', 'w3'] as const;
/** The block's four vectors, and the same with 0x20 OR-ed into each byte (`{` and `[` then read alike, as do `}` and `]`). */
const VECTORS = ['v0', 'v1', 'v2', 'v3'] as const;
const FOLDED = ['w0', 'w1', 'w2', 'w3'] as const;
const local: Record<(typeof I32_LOCALS)[number] | (typeof I64_LOCALS)[number] | (typeof V128_LOCALS)[number], number> = Object.fromEntries(
  [...I32_LOCALS, ...I64_LOCALS, ...V128_LOCALS].map((name, index) => [name, 6 + index]),
) as never;
const L = local;

/** `(1 << bits) - 1` for `bits` in 0..64 (an i32 expression): the bits below `bits`. */
const below = (bits: Code): Code => select(i64(-1n), op(I64_SUB, op(I64_SHL, i64(1n), op(I64_EXTEND_I32_U, bits)), i64(1n)), op(I32_GE_U, bits, i32(64)));

/** The block's four vectors (or the folded ones), 16 bytes each, compared with `byte`: one bit per byte, as an i64. */
function bits(byte: number, folded = false): Code {
  const parts = (folded ? FOLDED : VECTORS).map((name, index) => {
    const vector = get(L[name]);
    const mask = op(I64_EXTEND_I32_U, simd(I8X16_BITMASK, simd(I8X16_EQ, vector, splat(byte))));
    return index === 0 ? mask : op(I64_SHL, mask, i64(BigInt(16 * index)));
  });
  return op(I64_OR, op(I64_OR, parts[0] as Code, parts[1] as Code), op(I64_OR, parts[2] as Code, parts[3] as Code));
}

/** A key the gate may read starts at each set bit: `"e????N`, `"d?????"` or `"C??????????????"` (16 bytes on). */
function candidates(): Code {
  const parts = [0, 1, 2, 3].map((index) => {
    const at = (offset: number) => load(get(FROM), 16 * index + offset);
    const eq = (offset: number, byte: number) => simd(I8X16_EQ, at(offset), splat(byte));
    const any = simd(
      V128_OR,
      simd(V128_OR, simd(V128_AND, eq(1, 0x65), eq(6, 0x4e)), simd(V128_AND, eq(1, 0x64), eq(7, 0x22))),
      simd(V128_AND, eq(1, 0x43), eq(16, 0x22)),
    );
    const mask = op(I64_EXTEND_I32_U, simd(I8X16_BITMASK, any));
    return index === 0 ? mask : op(I64_SHL, mask, i64(BigInt(16 * index)));
  });
  return op(I64_OR, op(I64_OR, parts[0] as Code, parts[1] as Code), op(I64_OR, parts[2] as Code, parts[3] as Code));
}

const storeDepth = (): Code => [...i32(0), ...get(DEPTH), I32_STORE, 2, 0];
/** Position of the highest set bit of an i64 expression, plus the block's start. */
const highest = (mask: Code): Code => op(I32_ADD, get(FROM), op(I32_SUB, i32(63), op(I32_WRAP_I64, op(I64_CLZ, mask))));
const bit = (mask: number, index: Code): Code => op(I64_AND, op(I64_SHR_U, get(mask), op(I64_EXTEND_I32_U, index)), i64(1n));
const atKeyDepth = (): Code => op(I32_OR, op(I32_EQ, get(DEPTH), get(KEY_DEPTH)), op(I32_EQ, get(DEPTH), get(DETAIL_DEPTH)));

/**
 * Escaped bytes: a run of backslashes escapes the byte after it when its
 * length is odd. Runs starting on even bits end, after an addition, on a bit
 * that is odd exactly when the run's length is; likewise from odd bits.
 * `escCarry`: the block's first byte is escaped. Unescaped quotes are kept.
 */
function escapes(): Code {
  return [
    ...set(L.lone, op(I64_AND, get(L.backslash), op(I64_XOR, get(L.escCarry), i64(-1n)))),
    ...set(L.starts, op(I64_AND, get(L.lone), op(I64_XOR, op(I64_SHL, get(L.lone), i64(1n)), i64(-1n)))),
    ...set(L.sum, op(I64_ADD, get(L.lone), op(I64_AND, get(L.starts), i64(ODD)))),
    ...set(
      L.escaped,
      op(
        I64_OR,
        op(
          I64_OR,
          op(I64_AND, op(I64_AND, op(I64_ADD, get(L.lone), op(I64_AND, get(L.starts), i64(EVEN))), op(I64_XOR, get(L.lone), i64(-1n))), i64(ODD)),
          op(I64_AND, op(I64_AND, get(L.sum), op(I64_XOR, get(L.lone), i64(-1n))), i64(EVEN)),
        ),
        get(L.escCarry),
      ),
    ),
    ...set(L.escCarry, op(I64_EXTEND_I32_U, op(I64_LT_U, get(L.sum), get(L.lone)))),
    ...set(L.quote, op(I64_AND, get(L.quote), op(I64_XOR, get(L.escaped), i64(-1n)))),
  ];
}

/** Any backslash or line break in the block's four vectors, as one vector. */
function rare(): Code {
  const eq = (name: (typeof VECTORS)[number], byte: number) => simd(I8X16_EQ, get(L[name]), splat(byte));
  const one = (name: (typeof VECTORS)[number]) => simd(V128_OR, eq(name, 0x5c), eq(name, 0x0a));
  return simd(V128_OR, simd(V128_OR, one('v0'), one('v1')), simd(V128_OR, one('v2'), one('v3')));
}

function scanBody(): Code {
  const prefixXor = (): Code => {
    const steps: Code = [];
    for (const shift of [1n, 2n, 4n, 8n, 16n, 32n]) steps.push(...set(L.inString, op(I64_XOR, get(L.inString), op(I64_SHL, get(L.inString), i64(shift)))));
    return steps;
  };
  // Inside the segment loop (depth 0: segments, 1: its block; 2: blocks loop…): stop at the first hit, else step over the bracket at `next`.
  const segment = loop(
    set(L.next, select(i32(64), op(I32_WRAP_I64, op(I64_CTZ, get(L.rest))), op(I64_EQZ, get(L.rest)))),
    set(L.seg, op(I64_AND, below(get(L.next)), op(I64_XOR, below(get(L.segStart)), i64(-1n)))),
    set(L.hits, op(I64_AND, get(L.trouble), get(L.seg))),
    when(
      atKeyDepth(),
      when(
        op(I32_EQZ, get(L.candDone)),
        when(
          op(I64_NE, op(I64_AND, get(L.opening), get(L.seg)), i64(0n)),
          set(L.keyTrouble, op(I64_OR, get(L.keyTrouble), op(I64_AND, candidates(), get(L.opening)))),
          set(L.candDone, i32(1)),
        ),
      ),
      set(L.hits, op(I64_OR, get(L.hits), op(I64_AND, get(L.keyTrouble), get(L.seg)))),
    ),
    when(
      op(I64_NE, get(L.hits), i64(0n)),
      set(L.hit, op(I32_WRAP_I64, op(I64_CTZ, get(L.hits)))),
      storeDepth(),
      // Outside a string (a line break, a stray backslash), or an opening quote: stop there.
      when(op(I64_EQZ, bit(L.inString, get(L.hit))), ret(op(I32_ADD, get(FROM), get(L.hit)))),
      when(op(I64_NE, bit(L.opening, get(L.hit)), i64(0n)), ret(op(I32_ADD, get(FROM), get(L.hit)))),
      // Inside a string: at its opening quote, in this block or an earlier one.
      set(L.lone, op(I64_AND, get(L.opening), below(get(L.hit)))),
      ret(select(highest(get(L.lone)), get(L.lastQuote), op(I64_NE, get(L.lone), i64(0n)))),
    ),
    brIf(1, op(I32_EQ, get(L.next), i32(64))),
    either(
      op(I64_NE, bit(L.open, get(L.next)), i64(0n)),
      set(DEPTH, op(I32_ADD, get(DEPTH), i32(1))),
      either(
        op(I32_AND, op(I32_GT_S, get(DEPTH), get(BOUNDARY)), op(I32_NE, get(DEPTH), get(DETAIL_DEPTH))),
        set(DEPTH, op(I32_SUB, get(DEPTH), i32(1))),
        [...storeDepth(), ...ret(op(I32_ADD, get(FROM), get(L.next)))],
      ),
    ),
    set(L.rest, op(I64_AND, get(L.rest), op(I64_SUB, get(L.rest), i64(1n)))),
    set(L.segStart, op(I32_ADD, get(L.next), i32(1))),
    br(0),
  );

  return [
    ...set(L.lastQuote, i32(-1)),
    ...block(
      loop(
        set(L.left, op(I32_SUB, get(END_AT), get(FROM))),
        when(op(I32_LE_S, get(L.left), i32(0)), storeDepth(), ret(get(END_AT))),
        set(L.v0, load(get(FROM), 0)),
        set(L.v1, load(get(FROM), 16)),
        set(L.v2, load(get(FROM), 32)),
        set(L.v3, load(get(FROM), 48)),
        ...VECTORS.map((name, index) => set(L[FOLDED[index] as (typeof FOLDED)[number]], simd(V128_OR, get(L[name]), splat(0x20)))),
        set(L.valid, below(get(L.left))),
        set(L.quote, op(I64_AND, bits(0x22), get(L.valid))),
        // Backslashes and line breaks are rare: their bits are made only when the block holds one.
        either(
          simd(V128_ANY_TRUE, rare()),
          [...set(L.backslash, op(I64_AND, bits(0x5c), get(L.valid))), ...set(L.newline, op(I64_AND, bits(0x0a), get(L.valid)))],
          [...set(L.backslash, i64(0n)), ...set(L.newline, i64(0n))],
        ),
        set(L.open, op(I64_AND, bits(0x7b, true), get(L.valid))),
        set(L.close, op(I64_AND, bits(0x7d, true), get(L.valid))),
        when(op(I64_NE, op(I64_OR, get(L.backslash), get(L.escCarry)), i64(0n)), escapes()),

        // Inside strings: opening quote included, closing quote excluded.
        set(L.inString, get(L.quote)),
        prefixXor(),
        set(L.inString, op(I64_XOR, get(L.inString), get(L.strCarry))),
        set(L.strCarry, op(I64_SHR_S, get(L.inString), i64(63n))),
        set(L.opening, op(I64_AND, get(L.quote), get(L.inString))),
        set(L.brackets, op(I64_AND, op(I64_OR, get(L.open), get(L.close)), op(I64_XOR, get(L.inString), i64(-1n)))),
        set(L.trouble, op(I64_OR, get(L.newline), op(I64_AND, get(L.backslash), op(I64_XOR, get(L.inString), i64(-1n))))),
        set(L.keyTrouble, op(I64_AND, get(L.backslash), get(L.inString))),
        // An opening quote too near the end for its key to be read whole.
        when(
          op(I32_LT_S, get(L.left), i32(64 + 17)),
          set(
            L.keyTrouble,
            op(
              I64_OR,
              get(L.keyTrouble),
              op(I64_AND, get(L.opening), op(I64_XOR, below(select(op(I32_SUB, get(L.left), i32(17)), i32(0), op(I32_GT_S, get(L.left), i32(17)))), i64(-1n))),
            ),
          ),
        ),
        set(L.candDone, i32(0)),
        set(L.segStart, i32(0)),
        set(L.rest, get(L.brackets)),
        block(segment),
        when(op(I64_NE, get(L.opening), i64(0n)), set(L.lastQuote, highest(get(L.opening)))),
        when(
          op(I32_LE_S, get(L.left), i32(64)),
          storeDepth(),
          ret(select(get(L.lastQuote), get(END_AT), op(I64_NE, get(L.strCarry), i64(0n)))),
        ),
        set(FROM, op(I32_ADD, get(FROM), i32(64))),
        br(0),
      ),
    ),
    ...i32(-1),
  ];
}

/**
 * `find(start, end, length)`: 1 when a backslash is among the bytes from
 * `start` to `end`, else 2 when the `length` bytes at `NEEDLE` are, else 0.
 * Sixteen positions at a time: a candidate has the needle's first byte there
 * and its last byte `length - 1` further on (Muła's SIMD substring search);
 * only candidates are compared byte by byte.
 */
function findBody(): Code {
  const [START, END_, LENGTH, P, LEFT, M, Q, J, V, VF, VL] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const load8 = (address: Code, offset = 0): Code => [...address, I32_LOAD8_U, 0, ...uleb(offset)];
  const low16 = (count: Code): Code => select(i32(0xffff), op(I32_SUB, op(I32_SHL, i32(1), count), i32(1)), op(I32_GE_S, count, i32(16)));
  const mask16 = (vector: Code): Code => simd(I8X16_BITMASK, vector);
  return [
    ...set(P, get(START)),
    ...set(VF, simd(I8X16_SPLAT, load8(i32(NEEDLE)))),
    ...set(VL, simd(I8X16_SPLAT, load8(op(I32_ADD, i32(NEEDLE - 1), get(LENGTH))))),
    ...block(
      loop(
        set(LEFT, op(I32_SUB, get(END_), get(P))),
        when(op(I32_LE_S, get(LEFT), i32(0)), ret(i32(0))),
        set(V, load(get(P), 0)),
        when(op(I32_NE, op(I32_AND, mask16(simd(I8X16_EQ, get(V), splat(0x5c))), low16(get(LEFT))), i32(0)), ret(i32(1))),
        when(
          op(I32_GE_S, get(LEFT), get(LENGTH)),
          set(M, op(I32_AND, mask16(simd(V128_AND, simd(I8X16_EQ, get(V), get(VF)), simd(I8X16_EQ, load(op(I32_ADD, get(P), op(I32_SUB, get(LENGTH), i32(1))), 0), get(VL)))), low16(op(I32_ADD, op(I32_SUB, get(LEFT), get(LENGTH)), i32(1))))),
          block(
            loop(
              brIf(1, op(I32_EQZ, get(M))),
              set(Q, op(I32_ADD, get(P), op(I32_CTZ, get(M)))),
              set(J, i32(1)),
              block(
                loop(
                  brIf(1, op(I32_GE_S, get(J), op(I32_SUB, get(LENGTH), i32(1)))),
                  brIf(1, op(I32_NE, load8(op(I32_ADD, get(Q), get(J))), load8(op(I32_ADD, i32(NEEDLE), get(J))))),
                  set(J, op(I32_ADD, get(J), i32(1))),
                  br(0),
                ),
              ),
              when(op(I32_GE_S, get(J), op(I32_SUB, get(LENGTH), i32(1))), ret(i32(2))),
              set(M, op(I32_AND, get(M), op(I32_SUB, get(M), i32(1)))),
              br(0),
            ),
          ),
        ),
        set(P, op(I32_ADD, get(P), i32(16))),
        br(0),
      ),
    ),
    ...i32(0),
  ];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const name = (text: string): number[] => vector([...Buffer.from(text)].map((byte) => [byte]));

/** The module's bytes. */
export function moduleBytes(): Uint8Array {
  const body = scanBody();
  const locals = vector([
    [...uleb(I32_LOCALS.length), I32],
    [...uleb(I64_LOCALS.length), I64],
    [...uleb(V128_LOCALS.length), V128],
  ]);
  const func = [...locals, ...body, END];
  const find = [...vector([[...uleb(5), I32], [...uleb(3), V128]]), ...findBody(), END];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([[0x60, ...vector([[I32], [I32], [I32], [I32], [I32], [I32]]), ...vector([[I32]])], [0x60, ...vector([[I32], [I32], [I32]]), ...vector([[I32]])]])),
    ...section(3, vector([[0], [1]])),
    ...section(5, vector([[0x00, ...uleb(PAGES)]])),
    ...section(7, vector([[...name('scan'), 0x00, 0], [...name('find'), 0x00, 1], [...name('memory'), 0x02, 0]])),
    ...section(10, vector([[...uleb(func.length), ...func], [...uleb(find.length), ...find]])),
  ];
  return Uint8Array.from(bytes);
}

export interface SimdScanner {
  /** The copied bytes, at `DATA`. */
  readonly bytes: Uint8Array;
  /** See the module comment; positions relative to `DATA`. */
  scan(from: number, end: number, depth: number, keyDepth: number, detailDepth: number, boundary: number): number;
  /** The depth at the position `scan` returned. */
  depth(): number;
  /**
   * Whether the copied bytes from `start` to `end` hold a backslash (1), else
   * `needle` (2), else neither (0). The needle is 2 to {@link MAX_NEEDLE} bytes.
   */
  find(start: number, end: number, needle: Buffer): number;
}

let instance: SimdScanner | null | undefined;

/** The little of the WebAssembly JavaScript API used here (the project's types include no DOM). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => {
    readonly exports: { readonly scan: SimdScanner['scan']; readonly find: (start: number, end: number, length: number) => number; readonly memory: { readonly buffer: ArrayBuffer } };
  };
}

/** The fast path, built once per thread; `undefined` when this runtime has no WebAssembly SIMD (or `REMEDIATE_NO_SIMD` is set). */
export function simdScanner(): SimdScanner | undefined {
  if (instance !== undefined) return instance ?? undefined;
  instance = null;
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (process.env['REMEDIATE_NO_SIMD'] || api === undefined) return undefined;
  try {
    const bytes = moduleBytes();
    if (!api.validate(bytes)) return undefined;
    const { scan, find, memory } = new api.Instance(new api.Module(bytes)).exports;
    const depthCell = new Int32Array(memory.buffer, 0, 1);
    const needleBytes = new Uint8Array(memory.buffer, NEEDLE, MAX_NEEDLE);
    let needleNow: Buffer | undefined;
    instance = {
      bytes: new Uint8Array(memory.buffer, DATA, WINDOW),
      scan: (from, end, depth, keyDepth, detailDepth, boundary) => scan(from + DATA, end + DATA, depth, keyDepth, detailDepth, boundary) - DATA,
      depth: () => depthCell[0] as number,
      find: (start, end, needle) => {
        if (needle !== needleNow) {
          needleBytes.set(needle);
          needleNow = needle;
        }
        return find(start + DATA, end + DATA, needle.length);
      },
    };
  } catch {
    instance = null;
  }
  return instance ?? undefined;
}
