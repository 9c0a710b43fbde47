/**
 * Replay output formats. Each formatter receives lines as they are decided
 * and a summary at the end, and writes as it goes, so output memory stays
 * bounded whatever the number of decisions.
 */
import type { Readable } from 'node:stream';
import { describeStep } from '../engine/step-text.js';
import { checkLines } from '../notify/alert-view.js';
import type { PlanStep } from '../engine/types.js';
import type { ReplayLine } from './replay.js';
import { allRules } from '../remediations/registry.js';

export interface Io {
  /** Writes one line (a newline is appended). */
  out(text: string): void;
  err(text: string): void;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Writes to stderr without a newline (the progress bar); used only when stderr is a terminal. */
  progress?(text: string): void;
  readonly stderrColumns?: number;
  /** Read when an input is `-`. */
  readonly stdin?: Readable;
}

interface ReplaySummary {
  /** Inputs (files and stdin) replayed, unreadable ones included. */
  readonly inputs: number;
  /** Inputs that could not be read, or not to their end. */
  readonly unreadable: number;
  readonly recordsRead: number;
  readonly recordsMatched: number;
  readonly invalid: number;
  readonly byVerdict: Readonly<Record<string, number>>;
  readonly byRule: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

interface Formatter {
  lines(lines: readonly ReplayLine[]): void;
  end(summary: ReplaySummary): void;
}

export const FORMATS = ['table', 'jsonl', 'json', 'markdown'] as const;
export type Format = (typeof FORMATS)[number];

const DECISION_VERDICTS = ['violation', 'exempt', 'compliant', 'skipped'] as const;

function jsonlFormatter(io: Io): Formatter {
  return {
    lines(lines) {
      if (lines.length > 0) io.out(lines.map((line) => JSON.stringify(line)).join('\n'));
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

function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function summaryHead(summary: ReplaySummary): string {
  const unreadable = summary.unreadable > 0 ? `, ${summary.unreadable} unreadable input(s)` : '';
  return `${summary.recordsRead} record(s) read from ${summary.inputs} input(s), ${summary.recordsMatched} reached a rule, ${summary.invalid} invalid${unreadable}`;
}

/** Wide enough for every rule id, so none is cut. */
const RULE_WIDTH = Math.max(...allRules.map((rule) => rule.id.length)) + 1;

function tableFormatter(io: Io): Formatter {
  const widths = { event: 34, rule: RULE_WIDTH, verdict: 10, mode: 10, outcome: 14 };
  let headerDone = false;
  const row = (line: ReplayLine) => {
    if (!headerDone) {
      io.out(`${pad('EVENT', widths.event)} ${pad('RULE', widths.rule)} ${pad('VERDICT', widths.verdict)} ${pad('MODE', widths.mode)} ${pad('OUTCOME', widths.outcome)} SUMMARY`);
      headerDone = true;
    }
    if (line.verdict === 'invalid') {
      io.out(`${pad(line.source, widths.event)} ${pad('-', widths.rule)} ${pad('invalid', widths.verdict)} ${pad('-', widths.mode)} ${pad('-', widths.outcome)} ${line.error}`);
      return;
    }
    io.out(`${pad(line.eventName, widths.event)} ${pad(line.rule, widths.rule)} ${pad(line.verdict, widths.verdict)} ${pad(line.mode, widths.mode)} ${pad(line.outcome, widths.outcome)} ${line.outcomeNote ? `${line.summary} (${line.outcomeNote})` : line.summary}`);
    io.out(`    source: ${line.source}${line.unavailableFacts ? `  (facts unavailable offline: ${line.unavailableFacts.join(', ')})` : ''}`);
    for (const [index, step] of line.plan.entries()) {
      io.out(`    ${index + 1}. ${describeStep(step)}`);
      for (const check of checkLines(step)) io.out(`       ${check}`);
    }
    for (const [index, step] of (line.proposal ?? []).entries()) {
      io.out(`    proposed ${index + 1}. ${describeStep(step)}`);
      for (const check of checkLines(step)) io.out(`       ${check}`);
    }
  };
  return {
    lines(lines) {
      for (const line of lines) row(line);
    },
    end(summary) {
      if (headerDone) io.out('');
      io.out(`Summary: ${summaryHead(summary)}`);
      io.out(`${pad('RULE', RULE_WIDTH)} ${DECISION_VERDICTS.map((v) => pad(v.toUpperCase(), 10)).join(' ')}`);
      for (const [rule, counts] of Object.entries(summary.byRule).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        io.out(`${pad(rule, RULE_WIDTH)} ${DECISION_VERDICTS.map((v) => pad(String(counts[v] ?? 0), 10)).join(' ')}`);
      }
    },
  };
}

/** Escapes text for Markdown prose and table cells. */
function md(text: string): string {
  return text.replace(/[\\`*_<>|[\]]/g, (char) => `\\${char}`).replace(/[\r\n]+/g, ' ');
}

function code(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ');
  const fence = clean.includes('`') ? '``' : '`';
  return `${fence}${fence.length > 1 ? ' ' : ''}${clean}${fence.length > 1 ? ' ' : ''}${fence}`;
}

function stepBlock(steps: readonly PlanStep[], label: string): string[] {
  if (steps.length === 0) return [];
  const body = steps.flatMap((step, index) => [
    `${index + 1}. ${describeStep(step)}`,
    `   why: ${step.reason}`,
    ...checkLines(step).map((check) => `   ${check}`),
    ...(step.undo ? [`   undo: ${describeStep(step.undo)}`] : []),
  ]);
  return ['', `${label}:`, '', '```text', ...body.map((text) => text.replaceAll('```', '` ` `')), '```'];
}

/** How many non-violation lines the Markdown report lists, so it stays readable and memory stays bounded. */
const MARKDOWN_OTHER_LIMIT = 50;

/**
 * A report to paste into a pull request or a ticket: each violation with the
 * exact API calls the bot would make, then the other decisions (the first
 * {@link MARKDOWN_OTHER_LIMIT}) and the summary.
 */
function markdownFormatter(io: Io): Formatter {
  let violations = 0;
  const others: string[] = [];
  let othersTotal = 0;
  io.out('# Remediation dry run');
  io.out('');
  io.out("Recorded CloudTrail events replayed offline through the rules' EventBridge patterns and evaluations. Nothing was executed; the API calls below are what the bot would make.");
  const violation = (line: Extract<ReplayLine, { verdict: 'violation' | 'compliant' | 'exempt' | 'skipped' }>) => {
    violations += 1;
    if (violations === 1) io.out('\n## Violations');
    const text = [
      '',
      `### ${violations}. ${md(line.rule)} (${line.severity}): ${md(line.eventName)}`,
      '',
      `- **Event:** ${code(line.eventName)} from ${code(line.eventSource)} at ${md(line.eventTime)}, account ${code(line.account)}, ${code(line.region)}`,
      `- **Principal:** ${code(line.principal)}`,
      ...(line.resources.length > 0 ? [`- **Resources:** ${line.resources.map(code).join(', ')}`] : []),
      `- **Mode:** ${line.mode}; **outcome:** ${line.outcome}${line.outcomeNote ? ` (${md(line.outcomeNote)})` : ''}`,
      `- **Source:** ${code(line.source)}`,
      ...(line.unavailableFacts ? [`- **Facts unavailable offline:** ${line.unavailableFacts.map(md).join(', ')}`] : []),
      '',
      md(line.summary),
      ...(line.findings && line.findings.length > 0 ? ['', ...line.findings.map((finding) => `- ${finding.severity}: ${md(finding.message)}`)] : []),
      ...stepBlock(line.plan, line.mode === 'remediate' ? 'API calls the bot would make' : `API calls of the plan (mode ${line.mode}: proposed, not applied)`),
      ...stepBlock(line.proposal ?? [], 'Proposed for review (never applied automatically)'),
    ];
    io.out(text.join('\n'));
  };
  return {
    lines(lines) {
      for (const line of lines) {
        if (line.verdict === 'violation') {
          violation(line);
          continue;
        }
        othersTotal += 1;
        if (others.length >= MARKDOWN_OTHER_LIMIT) continue;
        // A pipe inside a code span still ends a table cell unless escaped.
        const source = code(line.source).replaceAll('|', '\\|');
        others.push(
          line.verdict === 'invalid'
            ? `| invalid | | | ${source} | ${md(line.error)} |`
            : `| ${line.verdict} | ${md(line.rule)} | ${md(line.eventName)} | ${source} | ${md(line.summary)} |`,
        );
      }
    },
    end(summary) {
      if (violations === 0) io.out('\n**No violations.**');
      if (othersTotal > 0) {
        io.out(`\n## Other decisions${othersTotal > others.length ? ` (first ${others.length} of ${othersTotal})` : ''}\n`);
        io.out(['| Verdict | Rule | Event | Source | Why |', '| --- | --- | --- | --- | --- |', ...others].join('\n'));
      }
      io.out('\n## Summary\n');
      io.out(`${md(summaryHead(summary))}.\n`);
      const rules = Object.entries(summary.byRule).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (rules.length > 0) {
        io.out(
          [
            `| Rule | ${DECISION_VERDICTS.join(' | ')} |`,
            `| --- | ${DECISION_VERDICTS.map(() => '---:').join(' | ')} |`,
            ...rules.map(([rule, counts]) => `| ${md(rule)} | ${DECISION_VERDICTS.map((v) => String(counts[v] ?? 0)).join(' | ')} |`),
          ].join('\n'),
        );
      }
    },
  };
}

export function formatterFor(format: Format, io: Io): Formatter {
  switch (format) {
    case 'table':
      return tableFormatter(io);
    case 'jsonl':
      return jsonlFormatter(io);
    case 'json':
      return jsonFormatter(io);
    case 'markdown':
      return markdownFormatter(io);
  }
}

export function summarise(): {
  add(lines: readonly ReplayLine[]): void;
  totals(totals: { readonly records: number; readonly matched: number; readonly unreadable: number; readonly inputs: number }): void;
  result(): ReplaySummary;
} {
  let recordsRead = 0;
  let recordsMatched = 0;
  let unreadable = 0;
  let inputs = 0;
  let invalid = 0;
  const byVerdict: Record<string, number> = {};
  const byRule: Record<string, Record<string, number>> = {};
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
      }
    },
    totals(totals) {
      recordsRead = totals.records;
      recordsMatched = totals.matched;
      unreadable = totals.unreadable;
      inputs = totals.inputs;
    },
    result: () => ({ inputs, unreadable, recordsRead, recordsMatched, invalid, byVerdict, byRule }),
  };
}
