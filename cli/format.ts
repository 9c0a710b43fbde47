/**
 * Replay output formats. Each formatter receives lines as they are decided
 * and a summary at the end. Memory stays bounded whatever the number of
 * decisions: the JSON formats write as they go; the table and the reports,
 * which order what they print, hold at most {@link MEMORY_CAP} decisions per
 * section in memory and keep the rest in a temporary file until the end.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { SEVERITIES, type Severity } from '../engine/types.js';
import type { ReplayLine } from './replay.js';
import { htmlFormatter } from './format-html.js';
import { markdownFormatter } from './format-markdown.js';
import { sarifFormatter } from './format-sarif.js';
import { tableFormatter } from './format-table.js';
import { colourEnabled } from './terminal.js';

export interface Io {
  /** Writes one line (a newline is appended). */
  out(text: string): void;
  err(text: string): void;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Writes to stderr without a newline (the progress bar); used only when stderr is a terminal. */
  progress?(text: string): void;
  readonly stderrColumns?: number;
  /** The terminal's width when stdout is one. */
  readonly stdoutColumns?: number;
  /** Read when an input is `-`. */
  readonly stdin?: Readable;
}

interface ReplaySummary {
  /** Inputs (files and stdin) replayed, unreadable ones included. */
  readonly inputs: number;
  /** Inputs that could not be read, or not to their end. */
  readonly unreadable: number;
  /** Records read, including those no rule could reach and invalid ones. */
  readonly recordsRead: number;
  /** Records that reached a rule but fell outside the `--since`/`--until` window. */
  readonly recordsFilteredOut: number;
  /** Records that reached a rule (inside the window) and were decided. */
  readonly recordsMatched: number;
  /** `invalid` lines: malformed records, and inputs that could not be read. */
  readonly invalid: number;
  readonly byVerdict: Readonly<Record<string, number>>;
  readonly byRule: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Verdicts per account (an organisation trail holds many). */
  readonly byAccount: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Violations by their severity (what `--fail-on <severity>` compares). */
  readonly violationsBySeverity: Readonly<Record<string, number>>;
}

/** A replay output: lines as they are decided, then the summary. */
export interface Formatter {
  lines(lines: readonly ReplayLine[]): void;
  end(summary: ReplaySummary): void;
}

export type { ReplaySummary };

export const FORMATS = ['table', 'jsonl', 'json', 'markdown', 'html', 'sarif'] as const;
export type Format = (typeof FORMATS)[number];

/** The verdicts of decided lines, in the order the summaries list them. */
export const DECISION_VERDICTS = ['violation', 'exempt', 'compliant', 'skipped'] as const;

/** A decided line (not `invalid`). */
export type DecisionLine = Extract<ReplayLine, { readonly rule: string }>;

/** How the table and the reports are printed: `--only`, `--width`, `--color` and NO_COLOR resolved. */
export interface OutputOptions {
  /** `--only violations`: other decisions are counted, not listed. */
  readonly onlyViolations: boolean;
  /** Columns no table line exceeds. */
  readonly width: number;
  readonly colour: boolean;
  /** Decisions per section held in memory before the rest goes to a temporary file (tests lower it). */
  readonly memoryCap?: number;
}

/** How many decisions of a section the table and the reports hold in memory to sort; past it, the rest waits on disk. */
export const MEMORY_CAP = 10_000;

const MIN_WIDTH = 40;
/** The table's width when stdout is not a terminal and `--width` is not given. */
const DEFAULT_WIDTH = 100;

/**
 * The output options from `--only`, `--width`, `--color` and NO_COLOR, or the
 * message of a usage error. The width is `--width`, else the terminal's, else
 * {@link DEFAULT_WIDTH}.
 */
export function outputOptions(
  raw: { readonly only?: string | undefined; readonly width?: string | undefined; readonly color?: string | undefined },
  io: Pick<Io, 'stdoutIsTTY' | 'stdoutColumns'>,
  noColor: string | undefined,
): OutputOptions | string {
  if (raw.only !== undefined && raw.only !== 'violations') return `--only takes "violations", got "${raw.only}"`;
  const colour = raw.color ?? 'auto';
  if (colour !== 'auto' && colour !== 'always' && colour !== 'never') return `--color must be auto, always or never, got "${raw.color}"`;
  let width = io.stdoutIsTTY && io.stdoutColumns !== undefined && io.stdoutColumns > 0 ? Math.max(MIN_WIDTH, io.stdoutColumns) : DEFAULT_WIDTH;
  if (raw.width !== undefined) {
    width = /^\d{1,5}$/.test(raw.width) ? Number(raw.width) : Number.NaN;
    if (!(width >= MIN_WIDTH && width <= 10_000)) return `--width must be a whole number from ${MIN_WIDTH} to 10000, got "${raw.width}"`;
  }
  return { onlyViolations: raw.only === 'violations', width, colour: colourEnabled(colour, io.stdoutIsTTY, noColor) };
}

/**
 * The decisions of one section, in print order, with memory bounded: at most
 * `cap` in memory, the rest appended to a temporary file as JSON lines. A
 * sorted store prints by severity (most severe first), then by `eventTime`;
 * past the cap, a severity's overflow follows its sorted part in input order.
 */
export interface LineStore<Line extends ReplayLine = ReplayLine> {
  add(line: Line): void;
  /** Lines added. */
  readonly size: number;
  /** Lines that went to disk (past the cap). */
  readonly spilled: number;
  /** Every line, in print order. */
  drain(): Iterable<Line>;
  /** Removes the temporary files. */
  close(): void;
}

/** Print position of a severity: 0 for critical, then high, medium, low; an unknown severity last. */
export function severityOrder(severity: string): number {
  const rank = SEVERITIES.indexOf(severity as Severity);
  return rank < 0 ? SEVERITIES.length : SEVERITIES.length - 1 - rank;
}

/** The severities most severe first. */
export const SEVERITIES_DESCENDING: readonly Severity[] = [...SEVERITIES].reverse();

function bucketOf(line: ReplayLine): number {
  return 'severity' in line ? severityOrder(line.severity) : SEVERITIES.length;
}

function timeOf(line: ReplayLine): number {
  const time = 'eventTime' in line ? Date.parse(line.eventTime) : Number.NaN;
  return Number.isNaN(time) ? Number.POSITIVE_INFINITY : time;
}

const SPILL_CHUNK = 1 << 20;

class Spill {
  private fd: number | undefined;
  private pending = '';
  private written = 0;

  constructor(private readonly path: () => string) {}

  append(line: ReplayLine): void {
    this.pending += `${JSON.stringify(line)}\n`;
    if (this.pending.length >= SPILL_CHUNK) this.flush();
  }

  private flush(): void {
    if (this.pending === '') return;
    this.fd ??= openSync(this.path(), 'w+');
    this.written += writeSync(this.fd, this.pending, this.written);
    this.pending = '';
  }

  *read(): Iterable<ReplayLine> {
    this.flush();
    if (this.fd === undefined) return;
    const buffer = Buffer.alloc(SPILL_CHUNK);
    const decoder = new StringDecoder('utf8');
    let position = 0;
    let carry = '';
    for (;;) {
      const read = readSync(this.fd, buffer, 0, buffer.length, position);
      if (read === 0) break;
      position += read;
      const text = carry + decoder.write(buffer.subarray(0, read));
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) yield JSON.parse(line) as ReplayLine;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A {@link LineStore}; `sorted` orders by severity then time, otherwise input order is kept. */
export function lineStore<Line extends ReplayLine = ReplayLine>(options: { readonly sorted: boolean; readonly cap?: number }): LineStore<Line> {
  const cap = options.cap ?? MEMORY_CAP;
  const buckets = options.sorted ? SEVERITIES.length + 1 : 1;
  const memory: Line[][] = Array.from({ length: buckets }, () => []);
  let dir: string | undefined;
  const spills = Array.from({ length: buckets }, (_, index) => new Spill(() => join((dir ??= mkdtempSync(join(tmpdir(), 'remediate-replay-'))), `${index}.jsonl`)));
  let held = 0;
  let size = 0;
  let spilled = 0;
  return {
    add(line) {
      const bucket = options.sorted ? bucketOf(line) : 0;
      size += 1;
      if (held < cap) {
        memory[bucket]?.push(line);
        held += 1;
        return;
      }
      spilled += 1;
      spills[bucket]?.append(line);
    },
    get size() {
      return size;
    },
    get spilled() {
      return spilled;
    },
    *drain() {
      for (const [index, lines] of memory.entries()) {
        // Array.prototype.sort is stable: equal times keep their input order.
        if (options.sorted) lines.sort((a, b) => timeOf(a) - timeOf(b) || 0);
        yield* lines;
        yield* spills[index]?.read() as Iterable<Line>;
      }
    },
    close() {
      for (const spill of spills) spill.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}

/** Counts of decisions by verdict and severity, and by rule, kept as lines come (the rows a formatter hides stay counted). */
export interface Tally {
  add(line: ReplayLine): void;
  /** `[verdict][severity]` → count. */
  readonly bySeverity: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The most severe violation of each rule. */
  readonly worstByRule: Readonly<Record<string, string>>;
}

export function tally(): Tally {
  const bySeverity: Record<string, Record<string, number>> = {};
  const worstByRule: Record<string, string> = {};
  return {
    add(line) {
      if (line.verdict === 'invalid') return;
      const counts = (bySeverity[line.verdict] ??= {});
      counts[line.severity] = (counts[line.severity] ?? 0) + 1;
      if (line.verdict !== 'violation') return;
      const worst = worstByRule[line.rule];
      if (worst === undefined || severityOrder(line.severity) < severityOrder(worst)) worstByRule[line.rule] = line.severity;
    },
    bySeverity,
    worstByRule,
  };
}

/** What the Markdown and HTML reports hold: the violations and exempt decisions (every one), the first others rendered, counts of all. */
export interface ReportSections {
  add(lines: readonly ReplayLine[]): void;
  readonly counts: Tally;
  readonly violations: LineStore<DecisionLine>;
  readonly exempt: LineStore<DecisionLine>;
  /** The first compliant, skipped and invalid decisions, rendered (none with `--only violations`). */
  readonly others: readonly string[];
  /** How many there were. */
  readonly othersTotal: number;
  close(): void;
}

function reportSections(kit: Pick<FormatKit, 'store' | 'options'>, limit: number, render: (line: ReplayLine) => string): ReportSections {
  const counts = tally();
  const violations = kit.store<DecisionLine>(true);
  const exempt = kit.store<DecisionLine>(true);
  const others: string[] = [];
  let othersTotal = 0;
  return {
    add(lines) {
      for (const line of lines) {
        counts.add(line);
        if (line.verdict === 'violation') violations.add(line);
        else if (kit.options.onlyViolations) continue;
        else if (line.verdict === 'exempt') exempt.add(line);
        else {
          othersTotal += 1;
          if (others.length < limit) others.push(render(line));
        }
      }
    },
    counts,
    violations,
    exempt,
    others,
    get othersTotal() {
      return othersTotal;
    },
    close() {
      violations.close();
      exempt.close();
    },
  };
}

/**
 * What the table and the reports get from here (given, not imported, so that
 * they import only types from this module, which imports them).
 */
export interface FormatKit {
  readonly options: OutputOptions;
  store<Line extends ReplayLine = ReplayLine>(sorted: boolean): LineStore<Line>;
  tally(): Tally;
  /** The sections of a report, listing at most `limit` decisions other than violations and exempt ones. */
  report(limit: number, render: (line: ReplayLine) => string): ReportSections;
  /** The summary's first sentence. */
  head(summary: ReplaySummary): string;
  readonly verdicts: typeof DECISION_VERDICTS;
  /** Most severe first. */
  readonly severities: readonly Severity[];
  severityOrder(severity: string): number;
}

function jsonlFormatter(io: Io): Formatter {
  return {
    lines(lines) {
      if (lines.length === 0) return;
      // Appended one by one: a joined array is copied once more before it is written (a third of the output's cost).
      let text = JSON.stringify(lines[0]);
      for (let index = 1; index < lines.length; index++) text += `\n${JSON.stringify(lines[index])}`;
      io.out(text);
    },
    end: () => undefined,
  };
}

/** One JSON document, `{"decisions": [...], "summary": {...}}`, written as the decisions come. */
function jsonFormatter(io: Io): Formatter {
  let first = true;
  io.out('{"decisions":[');
  return {
    lines(lines) {
      if (lines.length === 0) return;
      const text = lines.map((line) => JSON.stringify(line)).join(',\n');
      io.out(first ? text : `,${text}`);
      first = false;
    },
    end(summary) {
      io.out(`],"summary":${JSON.stringify(summary)}}`);
    },
  };
}

/** The summary's counts in one line: records read, filtered out by the time window, that reached a rule, invalid. */
export function summaryHead(summary: ReplaySummary): string {
  const unreadable = summary.unreadable > 0 ? `, ${summary.unreadable} unreadable input(s)` : '';
  return `${summary.recordsRead} record(s) read from ${summary.inputs} input(s), ${summary.recordsFilteredOut} filtered out by --since/--until/--account, ${summary.recordsMatched} reached a rule, ${summary.invalid} invalid${unreadable}`;
}

const DEFAULT_OPTIONS: OutputOptions = { onlyViolations: false, width: DEFAULT_WIDTH, colour: false };

/** The formatter of `format`; `--only violations` keeps only violations in every format (the summary still counts everything). */
export function formatterFor(format: Format, io: Io, options: OutputOptions = DEFAULT_OPTIONS): Formatter {
  const store = <Line extends ReplayLine>(sorted: boolean) => lineStore<Line>({ sorted, ...(options.memoryCap !== undefined ? { cap: options.memoryCap } : {}) });
  const kit: FormatKit = {
    options,
    store,
    tally,
    report: (limit, render) => reportSections({ store, options }, limit, render),
    head: (summary) => summaryHead(summary),
    verdicts: DECISION_VERDICTS,
    severities: SEVERITIES_DESCENDING,
    severityOrder,
  };
  const formatter = ((): Formatter => {
    switch (format) {
      case 'table':
        return tableFormatter(io, kit);
      case 'jsonl':
        return jsonlFormatter(io);
      case 'json':
        return jsonFormatter(io);
      case 'markdown':
        return markdownFormatter(io, kit);
      case 'html':
        return htmlFormatter(io, kit);
      case 'sarif':
        return sarifFormatter(io);
    }
  })();
  if (!options.onlyViolations || format === 'table' || format === 'markdown' || format === 'html') return formatter;
  return { lines: (lines) => formatter.lines(lines.filter((line) => line.verdict === 'violation')), end: (summary) => formatter.end(summary) };
}

export function summarise(): {
  add(lines: readonly ReplayLine[]): void;
  totals(totals: { readonly records: number; readonly filtered: number; readonly matched: number; readonly unreadable: number; readonly inputs: number }): void;
  result(): ReplaySummary;
} {
  let recordsRead = 0;
  let recordsFilteredOut = 0;
  let recordsMatched = 0;
  let unreadable = 0;
  let inputs = 0;
  let invalid = 0;
  const byVerdict: Record<string, number> = {};
  const byRule: Record<string, Record<string, number>> = {};
  const byAccount: Record<string, Record<string, number>> = {};
  const violationsBySeverity: Record<string, number> = {};
  return {
    add(lines) {
      for (const line of lines) {
        byVerdict[line.verdict] = (byVerdict[line.verdict] ?? 0) + 1;
        if (line.verdict === 'invalid') {
          invalid += 1;
          continue;
        }
        const counts = (byRule[line.rule] ??= {});
        counts[line.verdict] = (counts[line.verdict] ?? 0) + 1;
        const perAccount = (byAccount[line.account] ??= {});
        perAccount[line.verdict] = (perAccount[line.verdict] ?? 0) + 1;
        if (line.verdict === 'violation') violationsBySeverity[line.severity] = (violationsBySeverity[line.severity] ?? 0) + 1;
      }
    },
    totals(totals) {
      recordsRead = totals.records;
      recordsFilteredOut = totals.filtered;
      recordsMatched = totals.matched;
      unreadable = totals.unreadable;
      inputs = totals.inputs;
    },
    result: () => ({ inputs, unreadable, recordsRead, recordsFilteredOut, recordsMatched, invalid, byVerdict, byRule, byAccount, violationsBySeverity }),
  };
}
