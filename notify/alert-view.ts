/**
 * What an alert says, in order of importance, independent of the channel:
 * the email body and the Slack message are two renderings of this one view,
 * so they cannot drift apart. It is built from the published JSON message, the
 * same data the notifier Lambda receives.
 */
import type { Outcome, Severity } from '../engine/types.js';
import { awsCliCommand, describeStep, isService } from '../engine/step-text.js';
import type { AlertMessage, MessageCheckResult, MessageDecision, MessagePlanStep, MessageStepResult, MessageUndoStep } from './alert-message.js';
import { cloudTrailEventUrl, resourceConsoleUrl, viaAccessPortal } from './console-links.js';

export const OUTCOME_LABELS: Readonly<Record<Outcome, string>> = {
  applied: 'APPLIED, VERIFIED',
  unverified: 'APPLIED, NOT VERIFIED',
  proposed: 'PROPOSED',
  notified: 'NOTIFIED',
  failed: 'FAILED',
  exempt: 'EXEMPT',
  'already-fixed': 'ALREADY FIXED',
  stale: 'STALE, NOTHING DONE',
  uninspected: 'COULD NOT INSPECT',
  none: 'NO ACTION',
};

export interface ViewFact {
  readonly label: string;
  readonly value: string;
  readonly url?: string;
}

export interface ViewLink {
  readonly label: string;
  readonly url: string;
}

export interface ViewSection {
  readonly heading: string;
  /** Preformatted lines (API calls, commands): shown verbatim, in a code block where the channel has one. */
  readonly lines: readonly string[];
}

export interface AlertView {
  readonly severity: Severity;
  readonly outcome: Outcome;
  /** One ASCII line of at most 100 characters: the email subject and the chat fallback text. */
  readonly subject: string;
  /** `HIGH · APPLIED · <rule title>`. */
  readonly title: string;
  /** What happened, in one sentence. */
  readonly summary: string;
  /** What the bot did about it, in one sentence. */
  readonly status: string;
  readonly note?: string;
  readonly facts: readonly ViewFact[];
  readonly rationale: string;
  readonly findings: readonly string[];
  /** The exact API calls: what was done, attempted or proposed, each with its AWS CLI command. */
  readonly plan?: ViewSection;
  /** Calls a person should review and run, each with its AWS CLI command; never applied automatically. */
  readonly proposal?: ViewSection;
  /** How to reverse what was (or would be) done; `undefined` when nothing is to be undone. */
  readonly undo?: ViewSection;
  /** Shown instead of the undo section when there is nothing to undo. */
  readonly undoNote?: string;
  readonly links: readonly ViewLink[];
  readonly footer: string;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?');
}

/** SNS subjects: ASCII, one line, at most 100 characters, starting with severity and outcome. */
export function subjectLine(decision: Pick<MessageDecision, 'severity' | 'ruleTitle' | 'verdict'>, outcome: Outcome): string {
  const resource = decision.verdict.resources?.[0];
  const subject = oneLine(
    `[${decision.severity.toUpperCase()}] ${OUTCOME_LABELS[outcome]}: ${decision.ruleTitle}${resource ? ` - ${resource}` : ''}`,
  );
  return subject.length <= 100 ? subject : `${subject.slice(0, 97)}...`;
}

/**
 * A step as the AWS CLI command a person can paste (`awsCliCommand`, shared
 * with the CLI's output), one string per line. A message from a newer
 * publisher may name a service this version does not know: it gets a comment,
 * never a guessed command.
 */
export function cliLines(step: MessageUndoStep & Pick<MessagePlanStep, 'kind'>, region: string): string[] {
  const { service } = step;
  if (!isService(service)) return [`# no AWS CLI command known for ${oneLine(service)}:${oneLine(step.operation)}`];
  return awsCliCommand({ ...step, service }, region).split('\n');
}

function resultLine(result: MessageStepResult | undefined): string[] {
  if (!result) return [];
  const detail = [result.errorCode, result.hint].filter((part) => part !== undefined && part !== '').join('; ');
  const message = result.status === 'failed' && result.errorMessage ? ` - ${oneLineKeepUnicode(result.errorMessage)}` : '';
  return [`   result: ${result.status.toUpperCase()}${detail ? ` (${detail})` : ''}${message}`];
}

function oneLineKeepUnicode(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}

const CHECK_WORDS: Readonly<Record<MessageCheckResult['state'], string>> = {
  needed: 'still needed',
  done: 'done',
  changed: 'CHANGED',
  unreadable: 'COULD NOT READ',
};

function checkLine(label: string, check: MessageCheckResult | undefined): string[] {
  return check ? [`   ${label}: ${CHECK_WORDS[check.state]} - ${oneLineKeepUnicode(check.evidence)}`] : [];
}

/**
 * What the executor reads around a write, as people read it: `checks first:
 * DescribeSecurityGroupRules sgr-0abc still allows 0.0.0.0/0 on tcp/22`, and
 * what it reads afterwards (usually the same read, which must then show it closed).
 */
export function checkLines(step: Pick<MessagePlanStep, 'precondition' | 'verification'>): string[] {
  const { precondition, verification } = step;
  const same = precondition !== undefined && verification !== undefined && precondition.operation === verification.operation && precondition.description === verification.description;
  return [
    ...(precondition ? [`checks first: ${precondition.operation} ${oneLineKeepUnicode(precondition.description)}`] : []),
    ...(verification
      ? [same ? 'verifies after: the same read, which must show it closed' : `verifies after: ${verification.operation} ${oneLineKeepUnicode(verification.description)}`]
      : []),
  ];
}

/** The step's AWS CLI command under a label, indented so that each line still pastes into bash as it is. */
function commandBlock(step: MessagePlanStep, region: string): string[] {
  return ['   AWS CLI command:', ...cliLines(step, region).map((line) => `     ${line}`)];
}

function planLines(steps: readonly MessagePlanStep[], region: string, results: readonly MessageStepResult[] | undefined, preflight?: AlertMessage['preflight']): string[] {
  let write = -1;
  return steps.flatMap((step, index) => {
    if (step.kind === 'wait' || step.operation.startsWith('waitUntil')) {
      return [`${index + 1}. wait ${describeStep(step)}`, `   why: ${oneLineKeepUnicode(step.reason)}`, ...commandBlock(step, region)];
    }
    write += 1;
    const result = results?.find((r) => r.index === index);
    const now = preflight?.checks[write] ?? undefined;
    return [
      `${index + 1}. ${describeStep(step)}`,
      `   why: ${oneLineKeepUnicode(step.reason)}`,
      ...commandBlock(step, region),
      ...checkLines(step).map((line) => `   ${line}`),
      ...resultLine(result),
      ...checkLine('before', result?.precondition),
      ...checkLine('after', result?.verification),
      ...checkLine('checked now', now),
    ];
  });
}

function planHeading(message: AlertMessage): string {
  const { mode } = message.decision;
  switch (message.outcome) {
    case 'applied':
      return 'What was done (and verified by reading it back)';
    case 'unverified':
      return 'What was done (NOT verified: see what the read afterwards showed)';
    case 'already-fixed':
      return 'What was checked (already done: nothing changed)';
    case 'stale':
      return 'What was planned (the resource changed since the event: see what the read showed)';
    case 'uninspected':
      return 'Plan';
    case 'failed':
      return 'What was attempted (FAILED part-way: see each result)';
    case 'proposed':
      return `What is proposed (mode ${mode}: nothing was changed)`;
    case 'notified':
      return `What would fix it (mode ${mode}: nothing was changed)`;
    case 'exempt':
      return 'What would have been done (exempt: nothing was changed)';
    case 'none':
      return 'Plan';
  }
}

function countApplied(message: AlertMessage): number {
  return message.execution?.steps.filter((step) => step.status === 'applied').length ?? 0;
}

function firstEvidence(message: AlertMessage, state: MessageCheckResult['state'] | 'not-done'): string | undefined {
  const checks = [
    ...(message.execution?.steps.flatMap((step) => [step.verification, step.precondition]) ?? []),
    ...(message.preflight?.checks ?? []),
  ].filter((check): check is MessageCheckResult => check !== undefined && check !== null);
  const found = checks.find((check) => (state === 'not-done' ? check.state !== 'done' : check.state === state));
  return found ? oneLineKeepUnicode(found.evidence) : undefined;
}

function statusSentence(message: AlertMessage): string {
  const { decision } = message;
  const { verdict } = decision;
  const steps = verdict.kind === 'violation' ? verdict.plan.length : 0;
  switch (message.outcome) {
    case 'applied':
      return `Fixed automatically and verified: ${steps === 1 ? 'the call below was' : `the ${steps} calls below were`} applied, and a read afterwards showed the exposure closed.`;
    case 'unverified': {
      const seen = firstEvidence(message, 'not-done');
      return `APPLIED BUT NOT VERIFIED: the calls below were sent, but a read afterwards did not show the exposure closed${seen ? ` (${seen})` : ''}. Check it by hand.`;
    }
    case 'already-fixed': {
      const seen = firstEvidence(message, 'done');
      return `Nothing to fix any more: a read showed every step already in place${seen ? ` (${seen})` : ''}; nothing was changed.`;
    }
    case 'stale': {
      const seen = firstEvidence(message, 'changed');
      return `Nothing was changed: the resource changed since the event${seen ? ` (${seen})` : ''}, so the planned fix would be wrong. Review the present state.`;
    }
    case 'uninspected':
      return `The bot could NOT inspect this event, so it cannot say whether anything is exposed: ${verdict.kind === 'skipped' ? verdict.reason : 'see the summary'}. Review it by hand.`;
    case 'failed': {
      const applied = countApplied(message);
      return `The fix FAILED part-way: ${applied} of ${steps} call${steps === 1 ? '' : 's'} applied. The problem may be only partly fixed: check each result below and finish by hand.`;
    }
    case 'proposed':
      return message.note
        ? 'Not changed: the plan below is proposed for a person to review and run.'
        : `Not changed (mode ${decision.mode}): the plan below is proposed for a person to review and run.`;
    case 'notified':
      return `Not changed (mode ${decision.mode}): review the finding; the calls below would fix it.`;
    case 'exempt':
      return `Not changed: ${verdict.kind === 'exempt' ? verdict.reason : 'the resource is exempt'}.`;
    case 'none':
      return 'No action.';
  }
}

function summaryOf(decision: MessageDecision): string {
  const { verdict } = decision;
  switch (verdict.kind) {
    case 'violation':
    case 'compliant':
      return verdict.summary;
    case 'exempt': {
      const opened = verdict.findings?.[0]?.message;
      return `${decision.eventName} by ${decision.principal} on an exempt resource (${verdict.resources.join(', ') || 'unnamed'})${opened ? `: ${opened}` : ''}`;
    }
    case 'skipped':
      return `${decision.eventName}: ${verdict.reason}`;
  }
}

function resourceLabel(resource: string): string {
  const arn = /^arn:[^:]*:([^:]*):[^:]*:[^:]*:(.+)$/.exec(resource);
  return arn ? `${arn[1] ?? ''} ${arn[2] ?? ''}` : resource;
}

function undoSection(message: AlertMessage): Pick<AlertView, 'undo' | 'undoNote'> {
  const { decision, outcome, undo } = message;
  if (decision.verdict.kind !== 'violation') return {};
  if (undo.length === 0) {
    return { undoNote: message.execution ? 'Nothing to undo: no change was made.' : 'Nothing to undo: no change was made, and the plan has no reverse step.' };
  }
  const heading =
    outcome === 'applied' || outcome === 'unverified' || outcome === 'failed' || outcome === 'already-fixed'
      ? `How to undo (${undo.length === 1 ? 'one command' : `${undo.length} commands, in this order`})`
      : 'How to undo it, after applying the plan';
  // The reason is a bash comment: no control character may end it early.
  const lines = undo.flatMap((step, index) => [`# ${index + 1}. ${step.reason.replace(/[\x00-\x1f\x7f]+/g, ' ')}`, ...cliLines(step, decision.region)]);
  return { undo: { heading, lines } };
}

/** Builds the channel-independent view of a published alert. */
export function alertView(message: AlertMessage): AlertView {
  const { decision } = message;
  const { verdict } = decision;
  const resources = verdict.resources ?? [];
  const { consoleSignIn: signIn } = decision;
  const signedIn = (url: string | undefined) => (url && signIn ? viaAccessPortal(url, signIn, decision.account) : url);
  const facts: ViewFact[] = [
    { label: 'Account', value: decision.accountName ? `${decision.account} (${decision.accountName})` : decision.account },
    { label: 'Region', value: decision.region },
    ...resources.slice(0, 3).map((resource, index) => {
      const url = signedIn(resourceConsoleUrl(resource, decision.region));
      return { label: index === 0 ? 'Resource' : `Resource ${index + 1}`, value: resource, ...(url ? { url } : {}) };
    }),
    { label: 'Principal', value: decision.principal },
    ...(decision.sourceIp ? [{ label: 'Source IP', value: decision.sourceIp }] : []),
    { label: 'Event', value: `${decision.eventName} (${decision.eventSource}) at ${decision.eventTime}` },
  ];
  const eventUrl = signedIn(cloudTrailEventUrl(decision.region, decision.eventId));
  const links: ViewLink[] = [
    ...facts.flatMap((fact) => (fact.url ? [{ label: `${resourceLabel(fact.value)} in the AWS console`, url: fact.url }] : [])),
    ...(eventUrl ? [{ label: `CloudTrail event ${decision.eventId}`, url: eventUrl }] : []),
  ];
  const footer = [
    `Rule ${decision.rule}`,
    `mode ${decision.mode}`,
    `outcome ${message.outcome}`,
    `event id ${decision.eventId}`,
    ...(decision.unavailableFacts.length > 0 ? [`facts unavailable: ${decision.unavailableFacts.join(', ')}`] : []),
  ].join(' | ');

  return {
    severity: decision.severity,
    outcome: message.outcome,
    subject: subjectLine(decision, message.outcome),
    title: `${decision.severity.toUpperCase()} · ${OUTCOME_LABELS[message.outcome]} · ${decision.ruleTitle}`,
    summary: summaryOf(decision),
    status: statusSentence(message),
    ...(message.note ? { note: message.note } : {}),
    facts,
    rationale: message.rationale,
    findings: verdict.kind === 'violation' || verdict.kind === 'exempt' ? (verdict.findings ?? []).map((finding) => `[${finding.severity}] ${finding.message}`) : [],
    ...(verdict.kind === 'violation'
      ? {
          plan: {
            heading: planHeading(message),
            lines:
              verdict.plan.length > 0
                ? planLines(verdict.plan, decision.region, message.execution?.steps, message.preflight)
                : [verdict.withheld ? `(no API call: ${oneLineKeepUnicode(verdict.withheld)})` : '(no API call)'],
          },
        }
      : {}),
    ...(verdict.kind === 'violation' && verdict.proposal && verdict.proposal.length > 0
      ? {
          proposal: {
            heading: 'Proposed for a person to review and run (never applied automatically)',
            lines: planLines(verdict.proposal, decision.region, undefined, verdict.plan.length === 0 ? message.preflight : undefined),
          },
        }
      : {}),
    ...undoSection(message),
    links,
    footer,
  };
}
