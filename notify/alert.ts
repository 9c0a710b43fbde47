/**
 * The alert: one model of "what happened, why it matters, what was done, how to
 * undo it", rendered for email (plain text), machines (JSON) and later chat.
 */
import type { ExecutionReport, StepResult } from '../engine/executor.js';
import { SEVERITIES, type Decision, type Outcome, type PlanStep, type Severity, type UndoStep } from '../engine/types.js';

export interface Alert {
  readonly decision: Decision;
  readonly outcome: Outcome;
  readonly rationale: string;
  readonly execution?: ExecutionReport;
  /** Why the outcome differs from what the mode asked for (for example the blast-radius cap). */
  readonly note?: string;
}

export const ALERT_SCHEMA_VERSION = '1';

export const OUTCOME_LABELS: Readonly<Record<Outcome, string>> = {
  applied: 'APPLIED',
  proposed: 'PROPOSED',
  notified: 'NOTIFIED',
  failed: 'FAILED',
  exempt: 'EXEMPT',
  'already-fixed': 'ALREADY FIXED',
  none: 'NO ACTION',
};

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity) + 1;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** SNS subjects: ASCII, one line, at most 100 characters, starting with severity and outcome. */
export function renderSubject(alert: Alert): string {
  const { decision } = alert;
  const resource = decision.verdict.resources?.[0];
  const subject = oneLine(
    `[${decision.severity.toUpperCase()}] ${OUTCOME_LABELS[alert.outcome]}: ${decision.ruleTitle}${resource ? ` - ${resource}` : ''}`,
  );
  return subject.length <= 100 ? subject : `${subject.slice(0, 97)}...`;
}

export function formatStep(step: UndoStep): string {
  return `${step.service}:${step.operation} ${JSON.stringify(step.input)}`;
}

/** The steps the alert shows, with their execution status when the plan ran. */
function planLines(steps: readonly PlanStep[], results: readonly StepResult[] | undefined): string[] {
  return steps.flatMap((step, index) => {
    const result = results?.[index];
    const status = result ? `   result: ${result.status}${result.errorCode ? ` (${result.errorCode}${result.hint ? `; ${result.hint}` : ''})` : ''}` : undefined;
    return [`${index + 1}. ${formatStep(step)}`, `   why: ${step.reason}`, ...(status ? [status] : [])];
  });
}

/** Undo steps: for an executed plan only those of applied steps, in reverse order; otherwise all. */
export function undoSteps(alert: Alert): UndoStep[] {
  const { verdict } = alert.decision;
  if (verdict.kind !== 'violation') return [];
  const results = alert.execution?.steps;
  const relevant = results ? results.filter((r) => r.status === 'applied').map((r) => r.step) : [...verdict.plan];
  return relevant
    .map((step) => step.undo)
    .filter((undo): undo is UndoStep => undo !== undefined)
    .reverse();
}

function doneHeading(alert: Alert): string {
  switch (alert.outcome) {
    case 'applied':
      return 'What was done';
    case 'already-fixed':
      return 'What was done (nothing: it was already fixed)';
    case 'failed':
      return 'What was attempted (the plan FAILED part-way; see each result)';
    case 'proposed':
      return `What is proposed (mode ${alert.decision.mode}: nothing was changed)`;
    case 'notified':
      return `What would fix it (mode ${alert.decision.mode}: nothing was changed)`;
    case 'exempt':
      return 'What would have been done (the resource is exempt: nothing was changed)';
    case 'none':
      return 'Plan';
  }
}

/** The email body: plain text, most important first. */
export function renderText(alert: Alert): string {
  const { decision } = alert;
  const { verdict } = decision;
  const lines: string[] = [renderSubject(alert), ''];
  lines.push('What happened');
  lines.push(`  ${verdict.kind === 'violation' ? verdict.summary : verdict.kind === 'exempt' ? verdict.reason : decision.eventName}`);
  lines.push(`  Event: ${decision.eventName} (${decision.eventSource}) at ${decision.eventTime}, id ${decision.eventId}`);
  lines.push(`  Who: ${decision.principal}${decision.sourceIp ? ` from ${decision.sourceIp}` : ''}`);
  lines.push(`  Where: account ${decision.account}, region ${decision.region}${verdict.resources?.length ? `, ${verdict.resources.join(', ')}` : ''}`);
  if (verdict.kind === 'violation') {
    lines.push('  Findings:');
    for (const finding of verdict.findings) lines.push(`  - [${finding.severity}] ${finding.message}`);
  }
  if (verdict.kind === 'exempt') lines.push(`  Exempt: ${verdict.reason}`);
  if (alert.note) lines.push(`  Note: ${alert.note}`);
  lines.push('', 'Why it matters', `  ${alert.rationale}`);
  if (verdict.kind === 'violation') {
    lines.push('', doneHeading(alert));
    lines.push(...(verdict.plan.length > 0 ? planLines(verdict.plan, alert.execution?.steps).map((l) => `  ${l}`) : ['  (no API call)']));
    if (verdict.proposal && verdict.proposal.length > 0) {
      lines.push('', 'Proposed for a person to review and run');
      lines.push(...planLines(verdict.proposal, undefined).map((l) => `  ${l}`));
    }
    const undo = undoSteps(alert);
    lines.push('', 'How to undo');
    lines.push(...(undo.length > 0 ? undo.map((step, i) => `  ${i + 1}. ${formatStep(step)}`) : ['  Nothing to undo: no change was made.']));
  }
  if (decision.unavailableFacts.length > 0) lines.push('', `Facts unavailable: ${decision.unavailableFacts.join(', ')}`);
  lines.push('', `Rule: ${decision.rule} | mode: ${decision.mode} | outcome: ${alert.outcome}`);
  return lines.join('\n');
}

/** The machine-readable alert: what the notifier Lambda and other subscribers consume. */
export function renderJson(alert: Alert): Record<string, unknown> {
  const { decision } = alert;
  return {
    schemaVersion: ALERT_SCHEMA_VERSION,
    outcome: alert.outcome,
    rationale: alert.rationale,
    ...(alert.note ? { note: alert.note } : {}),
    decision,
    undo: undoSteps(alert),
    ...(alert.execution
      ? {
          execution: {
            status: alert.execution.status,
            steps: alert.execution.steps.map(({ index, status, errorCode, errorMessage, hint }) => ({
              index,
              status,
              ...(errorCode ? { errorCode } : {}),
              ...(errorMessage ? { errorMessage: truncate(errorMessage, 500) } : {}),
              ...(hint ? { hint } : {}),
            })),
          },
        }
      : {}),
  };
}
