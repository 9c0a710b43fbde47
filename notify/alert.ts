/**
 * The alert: one model of "what happened, why it matters, what was done, how to
 * undo it", rendered for email (plain text), machines (JSON) and chat (see `alert-view.ts`).
 */
import type { Alert } from '../engine/ports.js';
import type { UndoStep } from '../engine/types.js';
import type { AlertMessage } from './alert-message.js';
import { alertView, OUTCOME_LABELS, subjectLine, type AlertView } from './alert-view.js';

/** The alert is the engine's (`engine/ports.ts`): notify only renders and delivers it. */
export type { Alert };

const ALERT_SCHEMA_VERSION = '1';

export { OUTCOME_LABELS };


function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** SNS subjects: ASCII, one line, at most 100 characters, starting with severity and outcome. */
export function renderSubject(alert: Alert): string {
  return subjectLine(alert.decision, alert.outcome);
}

/** Undo steps: for an executed plan only those of applied steps, in reverse order; otherwise all. */
function undoSteps(alert: Alert): UndoStep[] {
  const { verdict } = alert.decision;
  if (verdict.kind !== 'violation') return [];
  const results = alert.execution?.steps;
  const relevant = results ? results.filter((r) => r.status === 'applied').map((r) => r.step) : [...verdict.plan];
  return relevant
    .map((step) => step.undo)
    .filter((undo): undo is UndoStep => undo !== undefined)
    .reverse();
}

const EMAIL_LABEL_WIDTH = 'Source IP: '.length + 1;

function emailSection(heading: string, lines: readonly string[]): string[] {
  return ['', heading.toUpperCase(), ...lines];
}

/** The email body of a view: plain text for a mail client, most important first. */
function renderEmail(view: AlertView): string {
  const lines: string[] = [view.subject, '', view.summary, view.status];
  if (view.note) lines.push(`Note: ${view.note}`);
  lines.push('');
  for (const fact of view.facts) lines.push(`${`${fact.label}:`.padEnd(EMAIL_LABEL_WIDTH)}${fact.value}`);
  lines.push(...emailSection('Why this matters', [view.rationale, ...view.findings.map((finding) => `- ${finding}`)]));
  if (view.plan) lines.push(...emailSection(view.plan.heading, view.plan.lines));
  if (view.proposal) lines.push(...emailSection(view.proposal.heading, view.proposal.lines));
  if (view.undo) lines.push(...emailSection(view.undo.heading, view.undo.lines));
  else if (view.undoNote) lines.push(...emailSection('How to undo', [view.undoNote]));
  lines.push(...emailSection('Links', view.links.flatMap((link) => [`${link.label}:`, `  ${link.url}`])));
  lines.push('', '--', view.footer);
  return `${lines.join('\n')}\n`;
}

/** The email body: plain text, most important first; the same content as the Slack message. */
export function renderText(alert: Alert): string {
  return renderEmail(alertView(renderJson(alert)));
}

/** The machine-readable alert: what the notifier Lambda and other subscribers consume. */
export function renderJson(alert: Alert): AlertMessage {
  const { decision } = alert;
  return {
    schemaVersion: ALERT_SCHEMA_VERSION,
    outcome: alert.outcome,
    rationale: alert.rationale,
    ...(alert.note ? { note: alert.note } : {}),
    ...(alert.proposal ? { proposal: alert.proposal } : {}),
    decision,
    undo: undoSteps(alert),
    ...(alert.execution
      ? {
          execution: {
            status: alert.execution.status,
            steps: alert.execution.steps.map(({ index, status, errorCode, errorMessage, hint, precondition, verification }) => ({
              index,
              status,
              ...(errorCode ? { errorCode } : {}),
              ...(errorMessage ? { errorMessage: truncate(errorMessage, 500) } : {}),
              ...(hint ? { hint } : {}),
              ...(precondition ? { precondition } : {}),
              ...(verification ? { verification } : {}),
            })),
          },
        }
      : {}),
    ...(alert.preflight ? { preflight: { status: alert.preflight.status, checks: alert.preflight.checks.map((check) => check ?? null) } } : {}),
  };
}
