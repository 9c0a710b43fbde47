/**
 * `--format table`: what a person reads in a terminal. Violations first, most
 * severe first, then by time; then exempt, skipped, compliant and invalid
 * decisions; then totals by severity and the summary. No line is wider than
 * the width, nothing is cut: long text continues on indented lines. Colour
 * only when asked for (see `outputOptions`).
 */
import { awsCliCommand } from '../engine/step-text.js';
import type { PlanStep } from '../engine/types.js';
import { checkLines } from '../notify/alert-view.js';
import type { DecisionLine, FormatKit, Formatter, Io, LineStore, ReplaySummary, Tally } from './format.js';
import type { ReplayLine } from './replay.js';
import { displayWidth, palette, terminalText, wrap, wrapCommand, wrapPrefixed, type Paint, type Palette } from './terminal.js';

const GAP = '  ';

interface Cell {
  readonly text: string;
  readonly paint?: Paint;
}

interface ColumnSpec {
  readonly title: string;
  readonly min: number;
  readonly pref: number;
  /** Included only when it fits; otherwise its value goes on a detail line. */
  readonly optional?: number;
  /** Takes the width left over. */
  readonly flex?: boolean;
}

/**
 * The width of each column, `0` for an optional column left out. Required
 * columns shrink towards their minimum only when the width demands it;
 * optional ones are added by priority when they fit at their minimum, then
 * everything grows towards its preferred width, the flexible column last.
 */
export function fitColumns(specs: readonly ColumnSpec[], width: number): number[] {
  const widths = specs.map((spec) => (spec.optional === undefined ? Math.max(spec.min, spec.pref) : 0));
  const total = () => {
    const shown = widths.filter((w) => w > 0);
    return shown.reduce((sum, w) => sum + w, 0) + GAP.length * Math.max(0, shown.length - 1);
  };
  while (total() > width) {
    let widest = -1;
    for (const [index, spec] of specs.entries()) {
      const current = widths[index] ?? 0;
      if (current > spec.min && (widest < 0 || current > (widths[widest] ?? 0))) widest = index;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  const optional = specs.map((spec, index) => ({ spec, index })).filter(({ spec }) => spec.optional !== undefined);
  optional.sort((a, b) => (a.spec.optional ?? 0) - (b.spec.optional ?? 0));
  for (const { spec, index } of optional) {
    if (total() + GAP.length + spec.min <= width) widths[index] = spec.min;
  }
  let grew = true;
  while (total() < width && grew) {
    grew = false;
    for (const [index, spec] of specs.entries()) {
      const current = widths[index] ?? 0;
      if (current > 0 && !spec.flex && current < spec.pref && total() < width) {
        widths[index] = current + 1;
        grew = true;
      }
    }
  }
  const flex = specs.findIndex((spec) => spec.flex);
  if (flex >= 0 && (widths[flex] ?? 0) > 0 && total() < width) widths[flex] = (widths[flex] ?? 0) + width - total();
  return widths;
}

/** One row, each cell wrapped inside its column; columns of width 0 are left out. */
function row(cells: readonly Cell[], widths: readonly number[]): string[] {
  const shown = cells.map((cell, index) => ({ cell, width: widths[index] ?? 0 })).filter(({ width }) => width > 0);
  const wrapped = shown.map(({ cell, width }) => wrap(cell.text, width));
  const height = Math.max(1, ...wrapped.map((lines) => lines.length));
  const lines: string[] = [];
  for (let index = 0; index < height; index += 1) {
    const parts = shown.map(({ cell, width }, column) => {
      const text = wrapped[column]?.[index] ?? '';
      const painted = (cell.paint ?? ((value: string) => value))(text);
      return column === shown.length - 1 ? painted : painted + ' '.repeat(Math.max(0, width - displayWidth(text)));
    });
    lines.push(parts.join(GAP).trimEnd());
  }
  return lines;
}

/** `2025-03-13T14:00:00Z` as `2025-03-13 14:00:00` (the header says UTC); anything else as given. */
function timeText(eventTime: string): string {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)Z$/.exec(eventTime);
  return match ? `${match[1]} ${match[2]}` : terminalText(eventTime);
}

/**
 * An ARN without what the row already says: `arn:aws:iam::111122223333:user/alice`
 * is `user/alice` in account 111122223333. Another account or region keeps the whole ARN.
 */
export function shortArn(arn: string, account: string, region: string): string {
  const match = /^arn:[^:]*:[^:]*:([^:]*):([^:]*):(.+)$/.exec(arn);
  if (!match) return arn;
  const [, arnRegion, arnAccount, rest] = match;
  if ((arnAccount !== '' && arnAccount !== account) || (arnRegion !== '' && arnRegion !== region) || rest === undefined) return arn;
  return rest;
}

/** What the steps of a plan are, by the outcome the deployed bot would give the decision. */
function stepLabel(outcome: string): string {
  switch (outcome) {
    case 'would-apply':
      return 'would apply';
    case 'would-propose':
      return 'proposed';
    default:
      return 'would fix';
  }
}

export const LEGEND =
  'Steps: "would apply" = the deployed bot makes the call itself (mode remediate); "proposed" = sent in the alert for a person to review and run; "would fix" = notify mode, the alert reports the problem only. This replay executed nothing.';

/** Indents of the lines under a row. */
const DETAIL = '    ';
const STEP_DETAIL = '       ';

/** The step's call without its input, which the AWS CLI command below it carries: `s3:PutPublicAccessBlock`, a wait, an id, "already done". */
function stepHead(step: PlanStep): string {
  return `${step.kind === 'wait' ? 'wait ' : ''}${step.service}:${step.operation}${step.id ? ` [${step.id}]` : ''}${step.alreadyDone ? ` (already done: ${step.alreadyDone})` : ''}`;
}

/** The reads around a write, on one line when it is the same read before and after. */
function checkText(step: PlanStep): string[] {
  const lines = checkLines(step);
  if (lines.length === 2 && lines[1]?.startsWith('verifies after: the same read') && lines[0]?.startsWith('checks first: ')) {
    return [`checks before and after: ${lines[0].slice('checks first: '.length)}`];
  }
  return lines;
}

function stepLines(step: PlanStep, label: string, number: number, region: string, width: number, colours: Palette): string[] {
  return [
    ...wrapPrefixed(`${label}: ${terminalText(stepHead(step))}`, width, `${DETAIL}${number}. `, STEP_DETAIL),
    ...awsCliCommand(step, region)
      .split('\n')
      .flatMap((command, index) => wrapCommand(terminalText(command), width, `${STEP_DETAIL}${index === 0 ? '$ ' : '  '}`, `${STEP_DETAIL}    `))
      .map((line) => colours.command(line)),
    ...checkText(step).flatMap((check) => wrapPrefixed(terminalText(check), width, STEP_DETAIL, `${STEP_DETAIL}  `)),
  ];
}

interface ViolationLayout {
  readonly widths: readonly number[];
  readonly header: readonly string[];
}

const VIOLATION_COLUMNS = ['SEVERITY', 'RULE', 'RESOURCE', 'PRINCIPAL', 'TIME (UTC)', 'OUTCOME'] as const;

function resourceText(line: DecisionLine): string {
  return line.resources.length === 0 ? '-' : line.resources.map((resource) => terminalText(shortArn(resource, line.account, line.region))).join(', ');
}

function principalText(line: DecisionLine): string {
  return terminalText(shortArn(line.principal, line.account, line.region));
}

function longest(values: Iterable<string>, floor: number, ceiling: number): number {
  let width = floor;
  for (const value of values) width = Math.max(width, displayWidth(value));
  return Math.min(width, ceiling);
}

function violationLayout(sample: readonly DecisionLine[], width: number, colours: Palette): ViolationLayout {
  const resourceWidth = longest(sample.map(resourceText), 8, 48);
  const principalWidth = longest(sample.map(principalText), 9, 40);
  const specs: ColumnSpec[] = [
    { title: 'SEVERITY', min: 8, pref: 8 },
    { title: 'RULE', min: 12, pref: longest(sample.map((line) => line.rule), 4, 48) },
    { title: 'RESOURCE', min: Math.min(20, resourceWidth), pref: resourceWidth, optional: 3 },
    { title: 'PRINCIPAL', min: Math.min(20, principalWidth), pref: principalWidth, optional: 4 },
    { title: 'TIME (UTC)', min: 19, pref: 19, optional: 1 },
    { title: 'OUTCOME', min: 13, pref: longest(sample.map((line) => line.outcome), 7, 16), optional: 2 },
  ];
  const widths = fitColumns(specs, width);
  return { widths, header: row(VIOLATION_COLUMNS.map((title) => ({ text: title, paint: colours.heading })), widths) };
}

function violationLines(line: DecisionLine, layout: ViolationLayout, width: number, colours: Palette): string[] {
  const shown = (column: (typeof VIOLATION_COLUMNS)[number]) => (layout.widths[VIOLATION_COLUMNS.indexOf(column)] ?? 0) > 0;
  const out = row(
    [
      { text: terminalText(line.severity), paint: colours.severity(line.severity) },
      { text: terminalText(line.rule) },
      { text: resourceText(line) },
      { text: principalText(line) },
      { text: timeText(line.eventTime) },
      { text: terminalText(line.outcome) },
    ],
    layout.widths,
  );
  const detail = (text: string) => out.push(...wrapPrefixed(text, width, DETAIL, `${DETAIL}  `));
  detail(terminalText(line.outcomeNote ? `${line.summary} (${line.outcomeNote})` : line.summary));
  // The summary usually names the resource already.
  const unnamed = line.resources.filter((resource) => !line.summary.includes(resource) && !line.summary.includes(shortArn(resource, line.account, line.region)));
  if (!shown('RESOURCE') && unnamed.length > 0) detail(`resource: ${terminalText(unnamed.join(', '))}`);
  const by = shown('PRINCIPAL') ? '' : ` by ${shortArn(line.principal, line.account, line.region)}`;
  const when = shown('TIME (UTC)') ? '' : ` at ${line.eventTime}`;
  detail(terminalText(`${line.eventName}${by}${when} in ${line.account} ${line.region}; mode ${line.mode}${shown('OUTCOME') ? '' : `, ${line.outcome}`}; ${line.source}`));
  if (line.unavailableFacts) detail(`facts unavailable offline: ${terminalText(line.unavailableFacts.join(', '))}`);
  const label = stepLabel(line.outcome);
  for (const [index, step] of line.plan.entries()) out.push(...stepLines(step, label, index + 1, line.region, width, colours));
  for (const [index, step] of (line.proposal ?? []).entries()) out.push(...stepLines(step, 'proposed for review', index + 1, line.region, width, colours));
  return out;
}

const OTHER_COLUMNS = ['SEVERITY', 'RULE', 'EVENT', 'TIME (UTC)', 'WHY'] as const;

/** Exempt rows keep the severity of the violation they would be; compliant and skipped ones have none worth a column. */
function otherLayout(sample: readonly DecisionLine[], width: number, colours: Palette, withSeverity: boolean): ViolationLayout {
  const event = longest(sample.map((line) => terminalText(line.eventName)), 5, 40);
  const specs: ColumnSpec[] = [
    withSeverity ? { title: 'SEVERITY', min: 8, pref: 8 } : { title: 'SEVERITY', min: 0, pref: 0, optional: 9 },
    { title: 'RULE', min: 12, pref: longest(sample.map((line) => line.rule), 4, 48) },
    { title: 'EVENT', min: event, pref: event, optional: 2 },
    { title: 'TIME (UTC)', min: 19, pref: 19, optional: 3 },
    { title: 'WHY', min: 40, pref: 40, optional: 1, flex: true },
  ];
  const widths = fitColumns(specs, width);
  return { widths, header: row(OTHER_COLUMNS.map((title) => ({ text: title, paint: colours.heading })), widths) };
}

function whyText(line: DecisionLine): string {
  return terminalText(line.outcome === 'uninspected' ? `UNINSPECTED: ${line.summary}` : line.summary);
}

function otherLines(line: DecisionLine, layout: ViolationLayout, width: number, colours: Palette): string[] {
  const out = row(
    [
      { text: terminalText(line.severity), paint: colours.severity(line.severity) },
      { text: terminalText(line.rule) },
      { text: terminalText(line.eventName) },
      { text: timeText(line.eventTime) },
      { text: whyText(line) },
    ],
    layout.widths,
  );
  if ((layout.widths[OTHER_COLUMNS.indexOf('WHY')] ?? 0) === 0) out.push(...wrapPrefixed(whyText(line), width, DETAIL, `${DETAIL}  `));
  return out;
}

function invalidLines(line: Extract<ReplayLine, { verdict: 'invalid' }>, width: number): string[] {
  return wrapPrefixed(`${terminalText(line.source)}: ${terminalText(line.error)}`, width, '', DETAIL);
}

/** The first `count` lines of a store, to size its columns, without holding more than the store already does. */
function sampleOf(store: LineStore<DecisionLine>, count: number): DecisionLine[] {
  const sample: DecisionLine[] = [];
  for (const line of store.drain()) {
    if (sample.length >= count) break;
    sample.push(line);
  }
  return sample;
}

/** The table formatter; prints at the end, once the violations are sorted. */
export function tableFormatter(io: Io, kit: FormatKit): Formatter {
  const { width, onlyViolations } = kit.options;
  const colours = palette(kit.options.colour);
  const counts = kit.tally();
  const violations = kit.store<DecisionLine>(true);
  const sections = {
    exempt: kit.store<DecisionLine>(true),
    skipped: kit.store<DecisionLine>(false),
    compliant: kit.store<DecisionLine>(false),
  };
  const invalid = kit.store<Extract<ReplayLine, { verdict: 'invalid' }>>(false);
  const out = (text: string) => io.out(text);
  const heading = (text: string, verdict?: string) => {
    for (const line of wrap(text, width)) out(verdict ? colours.verdict(verdict)(line) : colours.heading(line));
  };
  const overflowNote = (store: LineStore<DecisionLine>, what: string) => {
    if (store.spilled === 0) return;
    for (const line of wrap(`(${store.size} ${what}: more than the ${store.size - store.spilled} held in memory to sort. The first ones are sorted by severity then time; the other ${store.spilled} follow within their severity in input order.)`, width)) out(line);
  };
  return {
    lines(lines) {
      for (const line of lines) {
        counts.add(line);
        if (line.verdict === 'violation') violations.add(line);
        else if (onlyViolations) continue;
        else if (line.verdict === 'invalid') invalid.add(line);
        else sections[line.verdict].add(line);
      }
    },
    end(summary: ReplaySummary) {
      try {
        if (violations.size > 0) {
          heading(`Violations (${violations.size}), most severe first`, 'violation');
          for (const line of wrap(LEGEND, width)) out(colours.dim(line));
          overflowNote(violations, 'violations');
          const layout = violationLayout(sampleOf(violations, 1000), width, colours);
          layout.header.forEach(out);
          for (const line of violations.drain()) violationLines(line, layout, width, colours).forEach(out);
        } else {
          heading('No violations.', 'compliant');
        }
        for (const verdict of ['exempt', 'skipped', 'compliant'] as const) {
          const store = sections[verdict];
          if (store.size === 0) continue;
          out('');
          heading(`${verdict[0]?.toUpperCase()}${verdict.slice(1)} (${store.size})${verdict === 'exempt' ? ', most severe first' : ''}`, verdict);
          overflowNote(store, `${verdict} decisions`);
          const layout = otherLayout(sampleOf(store, 1000), width, colours, verdict === 'exempt');
          layout.header.forEach(out);
          for (const line of store.drain()) otherLines(line, layout, width, colours).forEach(out);
        }
        if (invalid.size > 0) {
          out('');
          heading(`Invalid records (${invalid.size})`, 'invalid');
          for (const line of invalid.drain()) invalidLines(line, width).forEach(out);
        }
        out('');
        totals(summary, counts, kit, width, colours, onlyViolations).forEach(out);
      } finally {
        violations.close();
        invalid.close();
        for (const store of Object.values(sections)) store.close();
      }
    },
  };
}

function totals(summary: ReplaySummary, counts: Tally, kit: FormatKit, width: number, colours: Palette, onlyViolations: boolean): string[] {
  const lines: string[] = [];
  const bySeverity = counts.bySeverity['violation'] ?? {};
  const severities = kit.severities.map((severity) => `${bySeverity[severity] ?? 0} ${severity}`).join(', ');
  const others = ['exempt', 'skipped', 'compliant'].map((verdict) => `${summary.byVerdict[verdict] ?? 0} ${verdict}`).join(', ');
  const hidden = onlyViolations ? ' (not listed: --only violations)' : '';
  lines.push(...wrap(`Totals: ${summary.byVerdict['violation'] ?? 0} violation(s): ${severities}; ${others}${hidden}; ${summary.invalid} invalid`, width).map((line) => colours.heading(line)));
  lines.push(...wrap(terminalText(`Summary: ${kit.head(summary)}`), width));
  const rules = Object.entries(summary.byRule).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (rules.length === 0) return lines;
  const numbers = kit.verdicts.map((verdict) => ({ title: verdict.toUpperCase(), min: verdict.length, pref: verdict.length }));
  const widths = fitColumns([{ title: 'RULE', min: 8, pref: Math.max(...rules.map(([rule]) => displayWidth(rule))) }, ...numbers], width);
  lines.push(...row([{ text: 'RULE', paint: colours.heading }, ...numbers.map(({ title }) => ({ text: title, paint: colours.heading }))], widths));
  for (const [rule, ruleCounts] of rules) {
    lines.push(...row([{ text: terminalText(rule) }, ...kit.verdicts.map((verdict) => ({ text: String(ruleCounts[verdict] ?? 0) }))], widths));
  }
  // An organisation trail: the same counts per account.
  const accounts = Object.entries(summary.byAccount).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (accounts.length > 1) {
    lines.push('');
    lines.push(...row([{ text: 'ACCOUNT', paint: colours.heading }, ...numbers.map(({ title }) => ({ text: title, paint: colours.heading }))], widths));
    for (const [account, accountCounts] of accounts) {
      lines.push(...row([{ text: terminalText(account) }, ...kit.verdicts.map((verdict) => ({ text: String(accountCounts[verdict] ?? 0) }))], widths));
    }
  }
  return lines;
}
