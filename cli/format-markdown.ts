/**
 * `--format markdown`: a report to paste into a pull request or a ticket. The
 * summary by severity and by rule first; then each violation, most severe
 * first, with the exact API calls and AWS CLI commands; then every exempt
 * decision (the audit trail: never capped); then the other decisions (the
 * first {@link MARKDOWN_OTHER_LIMIT}).
 */
import { awsCliCommand, describeStep } from '../engine/step-text.js';
import type { PlanStep } from '../engine/types.js';
import { checkLines } from '../notify/alert-view.js';
import type { DecisionLine, FormatKit, Formatter, Io, ReplaySummary, Tally } from './format.js';
import { LEGEND } from './format-table.js';
import type { ReplayLine } from './replay.js';

/** Escapes text for Markdown prose and table cells. */
export function md(text: string): string {
  return text.replace(/[\\`*_<>|[\]&]/g, (char) => (char === '&' ? '&amp;' : `\\${char}`)).replace(/[\r\n]+/g, ' ');
}

function code(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ');
  const fence = clean.includes('`') ? '``' : '`';
  return `${fence}${fence.length > 1 ? ' ' : ''}${clean}${fence.length > 1 ? ' ' : ''}${fence}`;
}

/** A code span inside a table cell: a pipe still ends the cell unless escaped. */
function cellCode(text: string): string {
  return code(text).replaceAll('|', '\\|');
}

/** The heading over a plan, by the outcome the deployed bot would give it. */
function planLabel(line: DecisionLine): string {
  switch (line.outcome) {
    case 'would-apply':
      return 'Would apply (the deployed bot makes these calls itself)';
    case 'would-propose':
      return `Proposed (mode ${line.mode}: sent in the alert for a person to review and run, not applied)`;
    default:
      return `Would fix it (mode ${line.mode}: the alert reports the problem only, nothing is applied)`;
  }
}

function stepBlock(steps: readonly PlanStep[], label: string, region: string): string[] {
  if (steps.length === 0) return [];
  const body = steps.flatMap((step, index) => [
    `${index + 1}. ${describeStep(step)}`,
    `   why: ${step.reason}`,
    ...awsCliCommand(step, region)
      .split('\n')
      .map((command, line) => `   ${line === 0 ? '$ ' : '  '}${command}`),
    ...checkLines(step).map((check) => `   ${check}`),
    ...(step.undo ? [`   undo: ${describeStep(step.undo)}`, ...awsCliCommand(step.undo, region).split('\n').map((command, line) => `     ${line === 0 ? '$ ' : '  '}${command}`)] : []),
  ]);
  return ['', `${label}:`, '', '```text', ...body.map((text) => text.replace(/[\r\n]+/g, ' ').replaceAll('```', '` ` `')), '```'];
}

/** How many compliant, skipped and invalid decisions the report lists; exempt decisions are never capped. */
export const MARKDOWN_OTHER_LIMIT = 50;

const OTHER_HEADER = ['| Verdict | Rule | Event | Source | Why |', '| --- | --- | --- | --- | --- |'];

function otherRow(line: ReplayLine): string {
  return line.verdict === 'invalid'
    ? `| invalid | | | ${cellCode(line.source)} | ${md(line.error)} |`
    : `| ${line.verdict} | ${md(line.rule)} | ${md(line.eventName)} | ${cellCode(line.source)} | ${md(line.outcome === 'uninspected' ? `UNINSPECTED: ${line.summary}` : line.summary)} |`;
}

function violationSection(line: DecisionLine, number: number): string {
  return [
    '',
    `### ${number}. ${md(line.rule)} (${md(line.severity)}): ${md(line.eventName)}`,
    '',
    `- **Event:** ${code(line.eventName)} from ${code(line.eventSource)} at ${md(line.eventTime)}, account ${code(line.account)}, ${code(line.region)}`,
    `- **Principal:** ${code(line.principal)}`,
    ...(line.resources.length > 0 ? [`- **Resources:** ${line.resources.map(code).join(', ')}`] : []),
    `- **Mode:** ${md(line.mode)}; **outcome:** ${md(line.outcome)}${line.outcomeNote ? ` (${md(line.outcomeNote)})` : ''}`,
    `- **Source:** ${code(line.source)}`,
    ...(line.unavailableFacts ? [`- **Facts unavailable offline:** ${line.unavailableFacts.map(md).join(', ')}`] : []),
    '',
    md(line.summary),
    ...(line.findings && line.findings.length > 0 ? ['', ...line.findings.map((finding) => `- ${md(finding.severity)}: ${md(finding.message)}`)] : []),
    ...stepBlock(line.plan, planLabel(line), line.region),
    ...stepBlock(line.proposal ?? [], 'Proposed for review (never applied automatically)', line.region),
  ].join('\n');
}

function summaryLines(summary: ReplaySummary, counts: Tally, kit: FormatKit): string[] {
  const violations = counts.bySeverity['violation'] ?? {};
  const exempt = counts.bySeverity['exempt'] ?? {};
  const rules = Object.entries(summary.byRule).sort(
    ([a], [b]) => kit.severityOrder(counts.worstByRule[a] ?? '') - kit.severityOrder(counts.worstByRule[b] ?? '') || (a < b ? -1 : a > b ? 1 : 0),
  );
  return [
    '',
    '## Summary',
    '',
    `${md(kit.head(summary))}.`,
    '',
    '| Severity | Violations | Exempt |',
    '| --- | ---: | ---: |',
    ...kit.severities.map((severity) => `| ${severity} | ${violations[severity] ?? 0} | ${exempt[severity] ?? 0} |`),
    ...(rules.length > 0
      ? [
          '',
          `| Rule | ${kit.verdicts.join(' | ')} |`,
          `| --- | ${kit.verdicts.map(() => '---:').join(' | ')} |`,
          ...rules.map(([rule, ruleCounts]) => `| ${md(rule)} | ${kit.verdicts.map((verdict) => String(ruleCounts[verdict] ?? 0)).join(' | ')} |`),
        ]
      : []),
    '',
    md(LEGEND),
  ];
}

/** The Markdown formatter; writes at the end, once the violations are sorted. */
export function markdownFormatter(io: Io, kit: FormatKit): Formatter {
  const { onlyViolations } = kit.options;
  const report = kit.report(MARKDOWN_OTHER_LIMIT, otherRow);
  const { counts, violations, exempt, others } = report;
  const overflow = (spilled: number, held: number) =>
    spilled > 0 ? [`\n_More than ${held} of them: the first ${held} are sorted by severity then time; the other ${spilled} follow within their severity in input order._`] : [];
  return {
    lines: (lines) => report.add(lines),
    end(summary) {
      try {
        io.out('# Remediation dry run');
        io.out('');
        io.out("Recorded CloudTrail events replayed offline through the rules' EventBridge patterns and evaluations. Nothing was executed; the API calls below are what the bot would make.");
        io.out(summaryLines(summary, counts, kit).join('\n'));
        if (violations.size === 0) io.out('\n**No violations.**');
        else {
          io.out(`\n## Violations (${violations.size}), most severe first`);
          for (const text of overflow(violations.spilled, violations.size - violations.spilled)) io.out(text);
          let number = 0;
          for (const line of violations.drain()) io.out(violationSection(line, (number += 1)));
        }
        if (exempt.size > 0) {
          io.out(`\n## Exempt decisions (${exempt.size}), most severe first\n`);
          io.out('Every exempt decision is listed: each is a violation the bot was told to leave alone.');
          for (const text of overflow(exempt.spilled, exempt.size - exempt.spilled)) io.out(text);
          io.out('\n| Severity | Rule | Event | Time | Principal | Resources | Source | Why |\n| --- | --- | --- | --- | --- | --- | --- | --- |');
          for (const line of exempt.drain()) {
            io.out(
              `| ${md(line.severity)} | ${md(line.rule)} | ${md(line.eventName)} | ${md(line.eventTime)} | ${cellCode(line.principal)} | ${line.resources.map(cellCode).join(', ')} | ${cellCode(line.source)} | ${md(line.summary)} |`,
            );
          }
        }
        if (report.othersTotal > 0) {
          io.out(`\n## Other decisions${report.othersTotal > others.length ? ` (first ${others.length} of ${report.othersTotal}; every one is counted in the summary, and --format jsonl lists them all)` : ''}\n`);
          io.out([...OTHER_HEADER, ...others].join('\n'));
        }
        if (onlyViolations) io.out('\n_Exempt, skipped and compliant decisions are counted in the summary, not listed (--only violations)._');
      } finally {
        report.close();
      }
    },
  };
}
