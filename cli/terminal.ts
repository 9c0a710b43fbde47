/**
 * Text for a terminal: what event data may not do to it (control and bidi
 * characters are shown escaped, never sent), how wide text is on screen,
 * wrapping to a width without dropping a character, and ANSI colour.
 */

/**
 * C0 and C1 controls, DEL, and the bidi controls that reorder what a terminal
 * shows (CVE-2021-42574): event data is attacker-controlled, and an escape
 * sequence in a principal name must not move the cursor or recolour the screen.
 */
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** One line of text safe to print: whitespace runs become one space, unsafe characters a visible `\xNN`/`\uNNNN`. */
export function terminalText(text: string): string {
  return text.replace(/[\t\n\r]+/g, ' ').replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200d\ufe00-\ufe0f]$/u;
const WIDE = /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1faff}\u{20000}-\u{3fffd}]$/u;

function charWidth(char: string): number {
  if (ZERO_WIDTH.test(char)) return 0;
  return WIDE.test(char) ? 2 : 1;
}

/** Columns the text takes on a terminal (East Asian wide characters and emoji take two, combining marks none). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/** The longest start of `text` (whole characters) that fits in `width` columns; at least one character, so wrapping always progresses. */
function fitPrefix(text: string, width: number): string {
  let used = 0;
  let end = 0;
  for (const char of text) {
    const w = charWidth(char);
    if (used + w > width && end > 0) break;
    used += w;
    end += char.length;
  }
  return text.slice(0, end);
}

/** Characters after which a line may break when it has no space: path and ARN separators. */
const SOFT_BREAK = /[/,:]/;

/**
 * `text` as lines of at most `width` columns: broken at spaces, else after
 * `/`, `,` or `:`, else inside a word. Every character is kept.
 */
export function wrap(text: string, width: number): string[] {
  const limit = Math.max(1, width);
  const lines: string[] = [];
  let rest = text;
  while (displayWidth(rest) > limit) {
    const head = fitPrefix(rest, limit);
    const next = rest.slice(head.length);
    let cut = -1;
    if (next.startsWith(' ')) cut = head.length;
    else {
      const space = head.lastIndexOf(' ');
      if (space > 0) cut = space;
      else {
        for (let index = head.length - 1; index > 0 && cut < 0; index -= 1) if (SOFT_BREAK.test(head.charAt(index))) cut = index + 1;
      }
    }
    if (cut <= 0) cut = head.length;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).replace(/^ +/, '');
  }
  lines.push(rest);
  return lines;
}

/** `text` wrapped so that each line, with its prefix (`first` on the first line, `rest` after), fits `width` columns. */
export function wrapPrefixed(text: string, width: number, first: string, rest: string): string[] {
  const room = Math.max(1, width - Math.max(displayWidth(first), displayWidth(rest)));
  return wrap(text, room).map((line, index) => `${index === 0 ? first : rest}${line}`.trimEnd());
}

/** Where bash would split a command into words: spaces outside `'…'` and `$'…'` quotes. */
function commandWords(command: string): string[] {
  const words: string[] = [];
  let state: 'plain' | 'single' | 'ansi' = 'plain';
  let word = '';
  for (let index = 0; index < command.length; index += 1) {
    const char = command.charAt(index);
    if (state === 'plain') {
      if (char === ' ') {
        if (word) words.push(word);
        word = '';
        continue;
      }
      if (char === "'") state = command.charAt(index - 1) === '$' ? 'ansi' : 'single';
    } else if (state === 'single') {
      if (char === "'") state = 'plain';
    } else if (char === '\\') {
      word += char + command.charAt(index + 1);
      index += 1;
      continue;
    } else if (char === "'") state = 'plain';
    word += char;
  }
  if (word) words.push(word);
  return words;
}

/**
 * A shell command as lines that still paste into bash: broken between words
 * with ` \`, continuation lines indented. A comment line is continued as a
 * comment (a `\` would end it and run the next line). A word wider than the
 * room is cut where a paste keeps it exactly: between JSON tokens inside a
 * quoted JSON argument (the break and the indentation are JSON whitespace), or
 * else with a line continuation that bash removes (`\` outside quotes, `'\`
 * and a reopened `'` inside them), whose next line starts at column 0 because
 * indentation there would split the word.
 */
export function wrapCommand(command: string, width: number, first: string, rest: string): string[] {
  const room = Math.max(8, width - Math.max(displayWidth(first), displayWidth(rest)));
  if (command.startsWith('#')) {
    return wrap(command, room - 2).map((line, index) => (index === 0 ? `${first}${line}` : `${rest}# ${line}`).trimEnd());
  }
  const lines: string[] = [];
  let line = '';
  for (const word of commandWords(command)) {
    const candidate = line ? `${line} ${word}` : word;
    if (displayWidth(candidate) + 2 <= room || !line) {
      line = candidate;
      continue;
    }
    lines.push(`${line} \\`);
    line = word;
  }
  lines.push(line);
  const pieces = lines.flatMap((text) => splitLongLine(text, room, width));
  return pieces.map((piece, index) => (piece.flush ? piece.text : `${index === 0 ? first : rest}${piece.text}`.trimEnd()));
}

interface Piece {
  readonly text: string;
  /** Starts at column 0: it continues a word, which indentation would split. */
  readonly flush: boolean;
}

type Quoting = 'plain' | 'single' | 'ansi';

/** What a cut at each position of `text` needs, read with bash's quoting and, inside a quoted JSON argument, JSON's strings. */
function cutPoints(text: string): { readonly jsonSafe: ReadonlySet<number>; readonly quoting: readonly (Quoting | 'escape')[] } {
  const jsonSafe = new Set<number>();
  // quoting[i]: the state just before text[i] ('escape': text[i] is the second half of an escape, never cut before it).
  const quoting: (Quoting | 'escape')[] = [];
  let state: Quoting = 'plain';
  let json: boolean | undefined;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charAt(index);
    quoting[index] = state;
    if (state === 'plain') {
      if (char === ' ') json = undefined;
      else if (char === '\\') quoting[++index] = 'escape';
      else if (char === "'") {
        state = text.charAt(index - 1) === '$' ? 'ansi' : 'single';
        if (json === undefined) json = state === 'single' && (text.charAt(index + 1) === '{' || text.charAt(index + 1) === '[');
      }
    } else if (state === 'ansi') {
      if (char === '\\') quoting[++index] = 'escape';
      else if (char === "'") state = 'plain';
    } else if (char === "'") state = 'plain';
    else if (!json) continue;
    else if (inString) {
      if (char === '\\') {
        index += 1;
        quoting[index] = 'single';
      } else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === ',' || char === ':' || char === '{' || char === '[') jsonSafe.add(index + 1);
  }
  return { jsonSafe, quoting };
}

/**
 * One line of a command (already broken between words) cut to `room` columns
 * where a paste keeps its meaning; a continuation of a word starts at column 0
 * and may use the whole `width`.
 */
function splitLongLine(text: string, room: number, width: number): Piece[] {
  if (displayWidth(text) <= room) return [{ text, flush: false }];
  const { jsonSafe, quoting } = cutPoints(text);
  const pieces: Piece[] = [];
  let start = 0;
  let prefix = '';
  let flush = false;
  for (;;) {
    const limit = flush ? width : room;
    const remaining = prefix + text.slice(start);
    if (displayWidth(remaining) <= limit) break;
    const fits = (end: number, suffix: number) => displayWidth(prefix + text.slice(start, end)) + suffix <= limit;
    let cut = -1;
    for (let end = start + 1; end < text.length && fits(end, 0); end += 1) if (jsonSafe.has(end)) cut = end;
    if (cut > start) {
      pieces.push({ text: prefix + text.slice(start, cut), flush });
      start = cut;
      prefix = '';
      flush = false;
      continue;
    }
    // No JSON break fits: continue the word on the next line, where bash joins it back.
    let end = start + 1;
    while (end + 1 < text.length && fits(end + 1, 2) && quoting[end + 1] !== undefined) end += 1;
    // Never between the two halves of an escape, nor between the `$` and the quote of `$'…'`.
    while (end > start + 1 && (quoting[end] === 'escape' || (text.charAt(end - 1) === '$' && text.charAt(end) === "'"))) end -= 1;
    const state = quoting[end];
    if (state === undefined || end >= text.length) break;
    if (state === 'plain') {
      pieces.push({ text: `${prefix}${text.slice(start, end)}\\`, flush });
      prefix = '';
    } else {
      pieces.push({ text: `${prefix}${text.slice(start, end)}'\\`, flush });
      prefix = state === 'ansi' ? "$'" : "'";
    }
    start = end;
    flush = true;
  }
  pieces.push({ text: prefix + text.slice(start), flush });
  return pieces;
}

/** Pads `text` with spaces to `width` display columns. */
export function padTo(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

export type Paint = (text: string) => string;

const sgr =
  (code: string): Paint =>
  (text) =>
    text === '' ? text : `\x1b[${code}m${text}\x1b[0m`;

/** The palette; every entry is the identity when colour is off. */
export interface Palette {
  readonly enabled: boolean;
  severity(severity: string): Paint;
  verdict(verdict: string): Paint;
  readonly heading: Paint;
  readonly dim: Paint;
  readonly command: Paint;
}

const plain: Paint = (text) => text;

const SEVERITY_CODES: Readonly<Record<string, string>> = { critical: '1;31', high: '31', medium: '33', low: '36' };
const VERDICT_CODES: Readonly<Record<string, string>> = { violation: '31', exempt: '35', compliant: '32', skipped: '2', invalid: '1;33' };

export function palette(enabled: boolean): Palette {
  if (!enabled) return { enabled, severity: () => plain, verdict: () => plain, heading: plain, dim: plain, command: plain };
  return {
    enabled,
    severity: (severity) => (SEVERITY_CODES[severity] ? sgr(SEVERITY_CODES[severity]) : plain),
    verdict: (verdict) => (VERDICT_CODES[verdict] ? sgr(VERDICT_CODES[verdict]) : plain),
    heading: sgr('1'),
    dim: sgr('2'),
    command: sgr('32'),
  };
}

/** Whether to colour: never with a non-empty NO_COLOR (https://no-color.org) or `--color never`; `always` forces it off a terminal; `auto` colours only a terminal. */
export function colourEnabled(choice: 'auto' | 'always' | 'never', stdoutIsTTY: boolean, noColor: string | undefined): boolean {
  if (noColor !== undefined && noColor !== '') return false;
  if (choice === 'never') return false;
  return choice === 'always' || stdoutIsTTY;
}
