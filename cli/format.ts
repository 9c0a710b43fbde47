/** Replay output formats. Each formatter receives lines as they are decided and a summary at the end. */
import { formatStep } from '../notify/alert.js';
import type { ReplayLine } from './replay.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
}

export interface ReplaySummary {
  readonly recordsRead: number;
  readonly recordsMatched: number;
  readonly invalid: number;
  readonly byVerdict: Readonly<Record<string, number>>;
  readonly byRule: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface Formatter {
  line(line: ReplayLine): void;
  end(summary: ReplaySummary): void;
}

export function jsonlFormatter(io: Io): Formatter {
  return {
    line: (line) => io.out(JSON.stringify(line)),
    end: () => undefined,
  };
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

const VERDICT_ORDER = ['violation', 'exempt', 'compliant', 'skipped', 'invalid'];

export function tableFormatter(io: Io): Formatter {
  const widths = { event: 34, rule: 26, verdict: 10, mode: 10 };
  let headerDone = false;
  return {
    line(line) {
      if (!headerDone) {
        io.out(`${pad('EVENT', widths.event)} ${pad('RULE', widths.rule)} ${pad('VERDICT', widths.verdict)} ${pad('MODE', widths.mode)} SUMMARY`);
        headerDone = true;
      }
      if (line.verdict === 'invalid') {
        io.out(`${pad(line.source, widths.event)} ${pad('-', widths.rule)} ${pad('invalid', widths.verdict)} ${pad('-', widths.mode)} ${line.error}`);
        return;
      }
      io.out(`${pad(line.eventName, widths.event)} ${pad(line.rule, widths.rule)} ${pad(line.verdict, widths.verdict)} ${pad(line.mode, widths.mode)} ${line.summary}`);
      io.out(`    source: ${line.source}${line.unavailableFacts ? `  (facts unavailable offline: ${line.unavailableFacts.join(', ')})` : ''}`);
      for (const [index, step] of line.plan.entries()) io.out(`    ${index + 1}. ${formatStep(step)}`);
      for (const [index, step] of (line.proposal ?? []).entries()) io.out(`    proposed ${index + 1}. ${formatStep(step)}`);
    },
    end(summary) {
      io.out('');
      io.out(`Summary: ${summary.recordsRead} record(s) read, ${summary.recordsMatched} matched a rule, ${summary.invalid} invalid`);
      const verdicts = VERDICT_ORDER.filter((v) => v !== 'invalid');
      io.out(`${pad('RULE', 30)} ${verdicts.map((v) => pad(v.toUpperCase(), 10)).join(' ')}`);
      for (const [rule, counts] of Object.entries(summary.byRule).sort(([a], [b]) => a.localeCompare(b))) {
        io.out(`${pad(rule, 30)} ${verdicts.map((v) => pad(String(counts[v] ?? 0), 10)).join(' ')}`);
      }
    },
  };
}

export function summarise(): { add(line: ReplayLine): void; record(matched: boolean): void; result(): ReplaySummary } {
  let recordsRead = 0;
  let recordsMatched = 0;
  let invalid = 0;
  const byVerdict: Record<string, number> = {};
  const byRule: Record<string, Record<string, number>> = {};
  return {
    record(matched) {
      recordsRead += 1;
      if (matched) recordsMatched += 1;
    },
    add(line) {
      byVerdict[line.verdict] = (byVerdict[line.verdict] ?? 0) + 1;
      if (line.verdict === 'invalid') {
        invalid += 1;
        return;
      }
      const counts = (byRule[line.rule] ??= {});
      counts[line.verdict] = (counts[line.verdict] ?? 0) + 1;
    },
    result: () => ({ recordsRead, recordsMatched, invalid, byVerdict, byRule }),
  };
}
