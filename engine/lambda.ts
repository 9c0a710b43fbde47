/**
 * The Lambda path: parse, decide (the same code as the replay), then act on
 * each decision according to its mode, record how to undo what was applied,
 * and alert. Handlers in `handlers/` only wire this to middleware (see `handler.ts`).
 *
 * Reliability, in order of the work:
 * - a malformed event is logged and counted, with no AWS call and no retry;
 * - with `IDEMPOTENCY_TABLE` set, the work for one CloudTrail `eventID` runs
 *   once: a duplicate delivery returns the first result (`idempotency.ts`);
 * - the bot's own calls, failed calls and ignored principals are skipped (`decide.ts`);
 * - a plan whose inputs are absurdly deep or large (hostile data copied by a rule) is not run (`plan-guard.ts`);
 * - past `maxWritesPerInvocation` write calls the bot proposes instead of applying;
 * - every applied plan is recorded with its undo steps (`undo-store.ts`) before the alert;
 * - every decision that alerted is recorded in the history (`history-store.ts`) after the alert,
 *   best-effort: a failed write is logged and counted (`HistoryWriteFailed`), never retried by Lambda;
 * - a fault the bot does not understand is rethrown only after the alert went out.
 */
import { configForAccount, modeFor, parseConfig, slackApprovers, type Config } from './config.js';
import { liveFacts, type AwsGateway } from './aws.js';
import { decideAll, isServedAccount, type Env } from './decide.js';
import { EventParseError, parseEvent, type CloudTrailEvent, type ParseResult } from './event.js';
import { executePlan, preflightPlan, type ExecutionReport, type PreflightReport, type ResumePoint } from './executor.js';
import { StepFault } from './errors.js';
import type { MemberAccess, MemberTarget } from './accounts.js';
import { isOutOfTime, type Pacer } from './pacing.js';
import { progressSealText, type EventProgress, type ProgressStore } from './progress-store.js';
import { isAlreadyInProgress, type EventIdempotency } from './idempotency.js';
import { noMetrics, type EngineMetrics, type MetricName } from './metrics.js';
import { historyRecordFor, type HistoryStore } from './history-store.js';
import { undoEntryFor, type UndoEntry, type UndoStore } from './undo-store.js';
import { type WriteBudget } from './write-budget.js';
import { resolveOutcome, writeCount, type Disposition } from './outcome.js';
import { ApprovalRequestSchema, looksLikeApproval, SLACK_APPROVER, type ApprovalRequest, type ApprovalResult } from './approval.js';
import { DEFAULT_PROPOSAL_DAYS, hashOf, PROPOSAL_ID, proposalFor, sealedText, type ProposalStore, type StoredProposal } from './proposal-store.js';
import { timingSafeEqual } from 'node:crypto';
import { atLeast, isQuietSkip, verdictSummary, type Decision, type HistoryOutcome, type Outcome, type Plan, type Probe, type Rule } from './types.js';
import type { Alert, AlertSink } from './ports.js';

/** The logging surface the engine needs; the Powertools Logger provides it. */
export interface EngineLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
  appendKeys(keys: Record<string, unknown>): void;
  removeKeys?(keys: string[]): void;
}

export interface EngineDeps {
  readonly rules: readonly Rule[];
  readonly config: Config;
  readonly env: Env;
  readonly gateway: AwsGateway;
  readonly logger: EngineLogger;
  readonly now?: () => Date;
  readonly metrics?: EngineMetrics;
  /** Absent: every delivery is processed (the CLI, unit tests). */
  readonly idempotency?: EventIdempotency;
  /** Absent: applied plans are only in the alert. */
  readonly undoStore?: UndoStore;
  /** Absent: decisions are only in the alerts and the logs. */
  readonly history?: HistoryStore;
  /** Absent: no cap across events (the CLI, unit tests); deployed functions share one in the stack's table. */
  readonly writeBudget?: WriteBudget;
  /** Where alerts go (SNS in the deployed functions). Absent: alerts are only logged as not sent. */
  readonly alerts?: AlertSink;
  /** Present when approvals are on: each proposal is stored for `remediate approve`. */
  readonly proposals?: ProposalStore;
  /** How long a stored proposal stays open (default 7 days). */
  readonly proposalDays?: number;
  /** Posts to a Slack interaction's `response_url` (an approval from a button); absent: no reply. */
  readonly replyToApprover?: (responseUrl: string, body: unknown) => Promise<void>;
  /**
   * The bot's MAC of a text (KMS HMAC with the stack's signing key): stored
   * proposals and progress records are sealed with it, and the bot uses only
   * a record whose seal it makes again. Absent (the CLI, tests): proposals'
   * hashes are checked, and the table's key conditions are the only guard.
   */
  readonly seal?: (text: string) => Promise<string>;
  /** Present in the deployed functions: where an event stopped when its invocation ran out of time, for the retry to resume. */
  readonly progress?: ProgressStore;
  /** Present in an Organization hub: an event in another account than `BOT_ACCOUNT` is read and acted on as that account's member role (`accounts.ts`). */
  readonly members?: MemberAccess;
}

export interface DecisionResult {
  readonly rule: string;
  readonly verdict: Decision['verdict']['kind'];
  readonly outcome: Outcome;
  readonly summary: string;
  readonly execution?: ExecutionReport['status'];
}

/** What the function returns for an EventBridge event. */
export type EventResult =
  | { readonly status: 'invalid'; readonly eventId: string; readonly error: string }
  | { readonly status: 'processed'; readonly eventId: string; readonly decisions: readonly DecisionResult[] };

/** What the function returns: for an event, or for an approval request (`runApproval`). */
export type InvocationResult = EventResult | ApprovalResult;

/** Results are stored for duplicates (DynamoDB items hold 400 KB) and returned to Lambda: summaries stay short whatever the input. */
const MAX_SUMMARY_CHARS = 1_000;


function summaryOf(decision: Decision): string {
  const { verdict } = decision;
  const summary = verdictSummary(verdict);
  return summary.length <= MAX_SUMMARY_CHARS ? summary : `${summary.slice(0, MAX_SUMMARY_CHARS - 1)}…`;
}

const OUTCOME_METRICS: Readonly<Record<Outcome, MetricName | undefined>> = {
  applied: 'Applied',
  unverified: 'RemediationUnverified',
  'already-fixed': 'AlreadyFixed',
  stale: 'Stale',
  proposed: 'Proposed',
  notified: 'Notified',
  failed: 'Failed',
  exempt: 'Exempt',
  uninspected: 'Skipped',
  none: undefined,
};

/** Outcomes that also count at function level, where the stack's alarms watch them. */
const ALARMED_OUTCOMES: ReadonlySet<Outcome> = new Set(['unverified', 'uninspected', 'failed']);

/** Counts an outcome for its rule, and at function level when an alarm watches it. */
function countOutcome(metrics: EngineMetrics, outcome: Outcome, rule: string): void {
  const metric = OUTCOME_METRICS[outcome];
  if (!metric) return;
  metrics.count(metric, rule);
  if (ALARMED_OUTCOMES.has(outcome)) metrics.count(metric);
}

const VERDICT_METRICS: Readonly<Record<Decision['verdict']['kind'], MetricName | undefined>> = {
  violation: 'Violations',
  compliant: 'Compliant',
  skipped: undefined,
  exempt: undefined,
};

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** `parseEvent` never throws by contract; a hostile payload that still breaks it is a malformed event, not a crash. */
function parseSafely(raw: unknown): ParseResult {
  try {
    return parseEvent(raw);
  } catch (error) {
    return { success: false, error: new EventParseError('(unknown)', [`unreadable event: ${describeError(error)}`], { cause: error }) };
  }
}

/** The part of the Lambda context the engine uses. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
}

/**
 * Handles one EventBridge event end to end. Malformed events are logged and
 * return `invalid`: no AWS call, no retry. Throws only for faults that Lambda
 * should retry: an unexpected AWS error (after the alert), an alert that could
 * not be sent, a concurrent duplicate, or an unreachable idempotency store.
 */
export async function processEvent(raw: unknown, deps: EngineDeps, context: InvocationContext = {}): Promise<EventResult> {
  return (await runEvent(raw, deps, context)).result;
}

/**
 * What the engine did with each decision of one event, in full: the decision,
 * its outcome, the execution report (each step with its reads before and
 * after), the preflight of a proposal, the note, and the undo entry of what
 * was applied. `remediate invoke` renders these; the Lambda returns only the
 * compact result, which is also what is stored for duplicate deliveries.
 */
export interface DecisionRecord {
  readonly decision: Decision;
  /** What was resolved before any call (`resolveOutcome`); `outcome` is what happened. */
  readonly disposition: Disposition;
  readonly outcome: Outcome;
  readonly execution?: ExecutionReport;
  readonly preflight?: PreflightReport;
  readonly note?: string;
  readonly undo?: UndoEntry;
}

export interface EventReport {
  readonly result: EventResult;
  /** Empty for an invalid event and for a duplicate delivery (nothing was done this time). */
  readonly records: readonly DecisionRecord[];
}

/** `processEvent`, returning the full records as well as the compact result. */
export async function runEvent(raw: unknown, deps: EngineDeps, context: InvocationContext = {}): Promise<EventReport> {
  const metrics = deps.metrics ?? noMetrics;
  metrics.count('Events');
  const parsed = parseSafely(raw);
  if (!parsed.success) {
    metrics.count('InvalidInput');
    deps.logger.error('malformed event: no action taken', { eventId: parsed.error.eventId, problems: parsed.error.problems });
    return { result: { status: 'invalid', eventId: parsed.error.eventId, error: parsed.error.message }, records: [] };
  }
  const { event } = parsed;
  const eventId = event.detail.eventID;
  deps.logger.appendKeys({ eventId, eventName: event.detail.eventName });
  if (!deps.idempotency) return decideAndAct(event, deps, context);

  let records: readonly DecisionRecord[] = [];
  let delivery;
  try {
    // In a hub, another account's event is keyed with its account too: no member can shadow another's event id.
    const member = memberAccount(event.account, deps.env);
    const key = member === undefined ? eventId : `${member}:${eventId}`;
    delivery = await deps.idempotency.run(key, context, async () => {
      const report = await decideAndAct(event, deps, context);
      records = report.records;
      return report.result;
    });
  } catch (error) {
    if (isAlreadyInProgress(error)) {
      metrics.count('DuplicateInProgress');
      deps.logger.warn('another delivery of this event is being processed: failing this one so that Lambda retries it and then gets the first result');
    }
    throw error;
  }
  if (!delivery.firstDelivery) {
    const { result } = delivery;
    const rules = result.status === 'processed' ? result.decisions.map((d) => d.rule) : [];
    for (const rule of rules) metrics.count('Duplicate', rule);
    deps.logger.info('duplicate delivery: returning the first result; no AWS call and no alert', { rules });
    return { result: delivery.result, records: [] };
  }
  return { result: delivery.result, records };
}

/** An invocation ran out of time with work left: Lambda retries the event, and the retry resumes it (`progress-store.ts`). */
export class InterruptedError extends StepFault {
  override readonly name = 'Interrupted';
}

/** A decision whose plan stopped when time ran out, and where it resumes; `planHash` ties the point to exactly that plan. */
type Interruption = EventProgress['interrupted'][number];
type Resume = ResumePoint & { readonly planHash: string };

function planHash(plan: unknown): string {
  return hashOf(JSON.stringify(plan));
}

/** Where a plan stopped, as it is stored: the executor's resume point, with the hash of the plan it belongs to. */
function storedResume(stop: NonNullable<ExecutionReport['resume']>, plan: unknown): Resume {
  const { stepId: _stepId, operation: _operation, ...point } = stop;
  return { ...point, planHash: planHash(plan) };
}

/** A stored resume point as the executor takes it, when it belongs to `plan`; else `undefined`, and the plan starts afresh. */
function resumePointFor(resume: Resume | undefined, plan: unknown): ResumePoint | undefined {
  if (resume === undefined || resume.planHash !== planHash(plan)) return undefined;
  const { planHash: _hash, ...point } = resume;
  return point;
}

/**
 * The progress an earlier invocation stored for this event, if the bot wrote
 * it (its seal is made again). A record that cannot be read or is not sealed
 * is set aside, logged and counted: the event is then decided and acted on
 * afresh, which every plan's reads before its writes make safe.
 */
async function earlierProgress(eventId: string, family: string, deps: EngineDeps): Promise<EventProgress | undefined> {
  if (!deps.progress) return undefined;
  try {
    const stored = await deps.progress.read(family, eventId);
    if (!stored) return undefined;
    if (deps.seal) {
      const expected = Buffer.from(await deps.seal(progressSealText(stored.text)));
      const given = Buffer.from(stored.seal ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('the record does not carry the bot\'s seal');
    }
    return stored.progress;
  } catch (error) {
    (deps.metrics ?? noMetrics).count('ProgressRefused');
    deps.logger.error('the progress record of this event is set aside: the event is acted on afresh', { error: describeError(error) });
    return undefined;
  }
}

async function saveProgress(progress: EventProgress, deps: EngineDeps, now: Date): Promise<void> {
  if (!deps.progress) return;
  const text = JSON.stringify(progress);
  try {
    await deps.progress.save(progress, text, deps.seal ? await deps.seal(progressSealText(text)) : undefined, now);
  } catch (error) {
    // The retry then acts afresh: safe (reads before writes), only slower.
    deps.logger.error('the progress of this event could not be stored: the retry starts it again', { error: describeError(error) });
  }
}

/** `account` when it is an Organization hub's member (not the deployment's own): its events have keys and a write budget of their own. */
function memberAccount(account: string, env: Env): string | undefined {
  return env['BOT_ACCOUNT'] === undefined || account === env['BOT_ACCOUNT'] ? undefined : account;
}

/** The deps for one event (or a proposal of one): in a hub, one in a member account gets that account's gateway. */
async function depsFor(target: MemberTarget, deps: EngineDeps): Promise<EngineDeps> {
  const home = deps.env['BOT_ACCOUNT'];
  // An account the deployment does not serve is never entered: `decide` reports the event as out of scope.
  if (!deps.members || home === undefined || target.account === home || !isServedAccount(target.account, deps.env)) return deps;
  return { ...deps, gateway: await deps.members.gatewayFor(target) };
}

async function decideAndAct(event: CloudTrailEvent, hubDeps: EngineDeps, context: InvocationContext): Promise<EventReport> {
  const deps = await depsFor({ account: event.account, region: event.region, eventId: event.detail.eventID }, hubDeps);
  const metrics = deps.metrics ?? noMetrics;
  const now = deps.now?.() ?? new Date();
  const eventId = event.detail.eventID;
  const family = deps.rules[0]?.family ?? 'unknown';
  let decisions: Decision[];
  try {
    // `decide` has already guarded every plan (`plan-guard.ts`): a withheld plan is counted as invalid input below.
    decisions = await decideAll(event, deps.rules, { config: deps.config, env: deps.env, facts: liveFacts(deps.gateway), now });
  } catch (error) {
    if (!isOutOfTime(error)) throw error;
    metrics.count('Interrupted');
    throw new InterruptedError(`out of time while reading the facts of ${eventId}: nothing was done; Lambda's retry decides it again`, { cause: error });
  }

  // Only a violation's plan can have been cut short: events without one (most) cost no read.
  const earlier = decisions.some((decision) => decision.verdict.kind === 'violation') ? await earlierProgress(eventId, family, deps) : undefined;
  const budget = { writesLeft: deps.config.maxWritesPerInvocation };
  let rethrow: unknown;
  const results: DecisionResult[] = [];
  const records: DecisionRecord[] = [];
  const finished: DecisionResult[] = [];
  const interrupted: Interruption[] = [];
  for (const decision of decisions) {
    deps.logger.appendKeys({ rule: decision.rule });
    const done = earlier?.finished.find((result) => result.rule === decision.rule);
    if (done) {
      // Acted on and alerted by an earlier invocation that ran out of time on another rule: not done twice.
      results.push(done);
      finished.push(done);
      continue;
    }
    const rule = deps.rules.find((r) => r.id === decision.rule);
    const { verdict } = decision;
    const resume = earlier?.interrupted.find((entry) => entry.rule === decision.rule)?.resume as Resume | undefined;
    let action: Action;
    try {
      action = await act(decision, rule, deps, context, budget, resume);
    } catch (error) {
      if (!isOutOfTime(error)) throw error;
      interrupted.push({ rule: decision.rule, ...(resume ? { resume } : {}) });
      continue;
    }
    const { outcome, execution } = action;
    if (execution?.interrupted && execution.resume) {
      // What was applied is recorded now; the alert waits for the retry that finishes the plan.
      await recordUndo(decision, execution, rule, deps, now);
      interrupted.push({ rule: decision.rule, resume: storedResume(execution.resume, action.disposition.kind === 'apply' ? action.disposition.plan : []) });
      continue;
    }
    const stored = outcome === 'proposed' && rule ? await storeProposal(decision, rule, action.note, deps, now) : undefined;
    const note = stored ? stored.note : action.note;
    if (execution?.unexpectedError !== undefined) rethrow ??= execution.unexpectedError;
    const undo = execution ? await recordUndo(decision, execution, rule, deps, now) : undefined;
    const verdictMetric = VERDICT_METRICS[verdict.kind];
    if (verdictMetric) metrics.count(verdictMetric, decision.rule);
    if (verdict.kind === 'violation' && verdict.withheld !== undefined) metrics.count('InvalidInput', decision.rule);
    if (isQuietSkip(verdict)) metrics.count('Ignored', decision.rule);
    countOutcome(metrics, outcome, decision.rule);
    if (verdict.kind === 'skipped' && verdict.cause === 'rule-failed') {
      metrics.count('RuleFailed', decision.rule);
      metrics.count('RuleFailed');
    }

    deps.logger.info('decision', {
      verdict: verdict.kind,
      outcome,
      mode: decision.mode,
      severity: decision.severity,
      summary: summaryOf(decision),
      ...(verdict.kind === 'violation' ? { plan: verdict.plan } : {}),
      ...(execution
        ? {
            execution: execution.steps.map(({ index, status, errorCode, precondition, verification }) => ({
              index,
              status,
              ...(errorCode ? { errorCode } : {}),
              ...(precondition ? { precondition } : {}),
              ...(verification ? { verification } : {}),
            })),
          }
        : {}),
      ...(action.preflight ? { preflight: action.preflight } : {}),
      ...(decision.unavailableFacts.length > 0 ? { unavailableFacts: decision.unavailableFacts } : {}),
    });

    if (outcome !== 'none') {
      const failure = await tell(
        decision,
        outcome,
        rule,
        { ...(execution ? { execution } : {}), ...(action.preflight ? { preflight: action.preflight } : {}), ...(note ? { note } : {}), ...(stored?.proposal ? { proposal: stored.proposal } : {}) },
        deps,
      );
      rethrow ??= failure;
      if (deps.history) await recordHistory(decision, outcome, rule, note, undo, deps, now);
    }
    const result: DecisionResult = { rule: decision.rule, verdict: verdict.kind, outcome, summary: summaryOf(decision), ...(execution ? { execution: execution.status } : {}) };
    results.push(result);
    finished.push(result);
    records.push({ decision, disposition: action.disposition, outcome, ...(execution ? { execution } : {}), ...(action.preflight ? { preflight: action.preflight } : {}), ...(note ? { note } : {}), ...(undo ? { undo } : {}) });
  }
  deps.logger.removeKeys?.(['rule']);
  if (interrupted.length > 0) {
    await saveProgress({ eventId, family, finished, interrupted, attempts: (earlier?.attempts ?? 0) + 1, savedAt: now.toISOString() }, deps, now);
    metrics.count('Interrupted');
    const rules = interrupted.map((entry) => entry.rule).join(', ');
    deps.logger.warn('out of time with work left: Lambda\'s retry resumes it', { interrupted: rules, finished: finished.map((r) => r.rule) });
    throw new InterruptedError(`out of time before ${rules} finished on ${eventId}; what was applied is in the undo record, and Lambda's retry resumes at the next step`);
  }
  if (earlier) await clearProgress(eventId, family, deps);
  // Unexpected faults go back to Lambda (retry, then the failure destination) only after people were told.
  if (rethrow !== undefined) throw rethrow;
  return { result: { status: 'processed', eventId: event.detail.eventID, decisions: results }, records };
}

/**
 * Sends the alert of a decision. Returns the error when it could not be
 * delivered at all (the caller fails the invocation after the rest of its
 * work, so that Lambda retries); a signing failure is logged and counted, and
 * the alert goes out unsigned.
 */
async function tell(decision: Decision, outcome: Outcome, rule: Rule | undefined, extra: Pick<Alert, 'execution' | 'preflight' | 'note' | 'proposal'>, deps: EngineDeps): Promise<unknown> {
  const metrics = deps.metrics ?? noMetrics;
  const alert: Alert = {
    // A fix nobody could confirm is at least high, whatever the finding: someone must look now.
    decision: outcome === 'unverified' ? { ...decision, severity: atLeast(decision.severity, 'high') } : decision,
    outcome,
    rationale: rule?.rationale ?? '',
    ...extra,
  };
  if (!deps.alerts) {
    deps.logger.warn('ALERT_TOPIC_ARN is not set: alert not sent');
    return undefined;
  }
  try {
    const published = await deps.alerts.publish(alert);
    if (published.signature === 'signing-failed') {
      // Published anyway: an unsigned alert shows as unverified, which is visible; a dropped one is silence.
      metrics.count('AlertSigningFailed', decision.rule);
      deps.logger.error('alert published unsigned: signing failed', { errorCode: published.errorCode, error: published.errorMessage });
    }
    return undefined;
  } catch (error) {
    metrics.count('AlertFailed', decision.rule);
    deps.logger.error('alert could not be published', { error: error instanceof Error ? error.message : String(error) });
    return error;
  }
}

/**
 * Stores a proposal for approval, when approvals are on, and returns the
 * alert's note with the command that approves it. A store that fails leaves
 * the proposal as a plain alert (logged and counted): nothing is lost but the button.
 */
async function storeProposal(decision: Decision, rule: Rule, note: string | undefined, deps: EngineDeps, now: Date): Promise<{ readonly note: string | undefined; readonly proposal?: NonNullable<Alert['proposal']> }> {
  if (!deps.proposals || decision.verdict.kind !== 'violation' || decision.verdict.plan.length === 0) return { note };
  const unsealed = proposalFor(decision, rule.family, now, deps.proposalDays ?? DEFAULT_PROPOSAL_DAYS);
  try {
    const proposal = deps.seal ? { ...unsealed, seal: await deps.seal(sealedText(unsealed)) } : unsealed;
    await deps.proposals.put(proposal);
  } catch (error) {
    (deps.metrics ?? noMetrics).count('ProposalStoreFailed', decision.rule);
    deps.logger.error('proposal could not be stored: it cannot be approved, only applied by hand', { error: describeError(error) });
    return { note };
  }
  const approve = approvalNote(unsealed, deps.env['AWS_LAMBDA_FUNCTION_NAME']);
  return { note: note ? `${note} ${approve}` : approve, proposal: { id: unsealed.id, expiresAt: unsealed.expiresAt } };
}

/** The line a stored proposal's alert ends with: the command that approves it. */
export function approvalNote(proposal: { readonly id: string; readonly expiresAt: string }, functionName: string | undefined): string {
  const command = `npx remediate approve ${proposal.id}${functionName ? ` --function ${functionName}` : ''}`;
  return `To have the bot apply exactly this plan, re-checked against the present: ${command} (open until ${proposal.expiresAt}; "remediate dismiss" closes it).`;
}

/**
 * Approves or dismisses a stored proposal: the request names it; the plan
 * that runs is the one stored, whole and unaltered (its hash is checked), in
 * this family, unexpired, still open (settled once, whatever the retries), and
 * within the write budget. It runs through the same executor as any fix: each
 * write is read before (a present that changed makes it `stale`, one already
 * fixed `already-fixed`) and after. The undo record and the alert name the approver.
 */
export async function runApproval(raw: unknown, deps: EngineDeps, context: InvocationContext = {}): Promise<ApprovalResult> {
  const parsed = ApprovalRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const given = typeof raw === 'object' && raw !== null ? (raw as { approval?: { proposalId?: unknown } }).approval?.proposalId : undefined;
    return { status: 'refused', proposalId: typeof given === 'string' ? given.slice(0, 80) : '', reason: `not an approval request: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}` };
  }
  const result = await settleAndRun(parsed.data.approval, deps, context);
  const responseUrl = parsed.data.approval.responseUrl;
  if (responseUrl !== undefined && deps.replyToApprover) {
    // Best-effort: the alert is the record; the Slack message is told what became of the click.
    try {
      await deps.replyToApprover(responseUrl, approvalReply(result));
    } catch (error) {
      deps.logger.warn('could not update the Slack message of the approval', { error: describeError(error) });
    }
  }
  return result;
}

/** What the Slack message says after a click: the outcome replaces the buttons; a refusal is shown to the clicker alone. */
export function approvalReply(result: ApprovalResult): Record<string, unknown> {
  switch (result.status) {
    case 'ran':
      return { replace_original: true, text: `${result.rule}: ${result.outcome} by the bot after approval by ${result.by} (proposal ${result.proposalId}). The alert has each step with its reads before and after.` };
    case 'dismissed':
      return { replace_original: true, text: `Proposal ${result.proposalId} dismissed by ${result.by}: nothing was changed.` };
    case 'refused':
      return { response_type: 'ephemeral', replace_original: false, text: `Not done: ${result.reason}.` };
  }
}

async function settleAndRun(request: ApprovalRequest, deps: EngineDeps, context: InvocationContext): Promise<ApprovalResult> {
  const { proposalId, action, approver } = request;
  const refused = (reason: string): ApprovalResult => {
    deps.logger.warn('approval refused', { proposalId, reason });
    return { status: 'refused', proposalId, reason };
  };
  const family = deps.rules[0]?.family;
  if (PROPOSAL_ID.exec(proposalId)?.[1] !== family) return refused(`the proposal belongs to family ${PROPOSAL_ID.exec(proposalId)?.[1]}, this function acts for ${family}`);
  if (!deps.proposals) return refused('approvals are not enabled in this deployment (deploy parameter approvals=true)');
  const now = deps.now?.() ?? new Date();
  const stored = await deps.proposals.get(proposalId);
  if (!stored) return refused('no such proposal (never stored, or expired and removed)');
  if (deps.seal) {
    const expected = Buffer.from(await deps.seal(sealedText(stored)));
    const given = Buffer.from(stored.seal ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refused('the stored proposal does not carry the bot\'s seal: the bot did not write it as it is, so it is not run');
  }
  let decision: Decision;
  try {
    decision = JSON.parse(stored.decision) as Decision;
  } catch {
    return refused('the stored proposal is not readable');
  }
  const rule = deps.rules.find((candidate) => candidate.id === decision.rule);
  if (!rule || decision.verdict.kind !== 'violation' || decision.rule !== stored.rule || decision.eventId !== stored.eventId) return refused('the stored proposal does not match a rule of this function');
  const plan = decision.verdict.plan;
  const writes = writeCount(plan);
  const slackUser = SLACK_APPROVER.exec(approver)?.[1];
  if (slackUser !== undefined && !slackApprovers(deps.config.approvals, rule.id, decision.severity).includes(slackUser)) {
    return refused(`Slack user ${slackUser} is not on the approval list for ${rule.id} proposals (${decision.severity})`);
  }
  if (action === 'approve') {
    // The function as it is deployed now decides: a rule turned to notify or off, or DRY_RUN, applies nothing.
    if (deps.env['DRY_RUN']?.toLowerCase() === 'true') return refused('DRY_RUN=true on this function: nothing is applied');
    const mode = modeFor(rule, configForAccount(deps.config, decision.account), deps.env);
    if (mode !== 'propose' && mode !== 'remediate') return refused(`rule ${rule.id} now runs in ${mode}: its proposals are no longer applied`);
  }
  // An approval that ran out of time part-way goes on where it stopped, as its approver, when it is asked again (Lambda's retry, or approve again).
  const resumed = action === 'approve' ? await interruptedApproval(stored, decision, deps) : undefined;
  // Its writes were counted when it started.
  if (action === 'approve' && deps.writeBudget && !resumed) {
    const answer = await deps.writeBudget.reserve(writes, now, memberAccount(decision.account, deps.env));
    if (!answer.granted) return refused(`the stack's write budget refuses it for now (${answer.reason}): approve it again later`);
  }
  const settled = resumed ? { settled: stored } : await deps.proposals.settle(stored, action === 'approve' ? 'approved' : 'dismissed', approver, now);
  if ('refused' in settled) {
    const current = settled.current;
    switch (settled.refused) {
      case 'settled':
        return refused(`already ${current?.status} by ${current?.settledBy} at ${current?.settledAt}`);
      case 'expired':
        return refused(`expired at ${current?.expiresAt}`);
      case 'tampered':
        return refused('the stored plan does not match its hash: it was changed after it was proposed, so it is not run');
    }
  }
  if (action === 'dismiss') {
    deps.logger.info('proposal dismissed', { proposalId, by: approver });
    return { status: 'dismissed', proposalId, by: approver };
  }
  deps.logger.appendKeys({ eventId: decision.eventId, rule: decision.rule, proposalId });
  const approvedBy = resumed?.approver ?? approver;
  // A proposal from a member account is applied there, as its member role.
  const { gateway } = await depsFor({ account: decision.account, region: decision.region, eventId: decision.eventId }, deps);
  const { execution } = await run(plan, rule.probes ?? [], { ...deps, gateway }, context, resumed?.resume);
  if (execution.interrupted && execution.resume) {
    // What was applied is recorded now; the alert waits for the invocation that finishes the plan.
    await recordUndo(decision, execution, rule, deps, now, approvedBy);
    await saveProgress(
      { eventId: approvalProgressId(proposalId), family: rule.family, finished: [], interrupted: [{ rule: rule.id, resume: storedResume(execution.resume, plan) }], attempts: (resumed?.attempts ?? 0) + 1, savedAt: now.toISOString() },
      deps,
      now,
    );
    (deps.metrics ?? noMetrics).count('Interrupted');
    throw new InterruptedError(`out of time before the approved plan of ${proposalId} finished; what was applied is in the undo record, and the approval resumes at the next step when Lambda retries it or it is approved again`);
  }
  if (resumed) await clearProgress(approvalProgressId(proposalId), rule.family, deps);
  const outcome = execution.status;
  const undo = await recordUndo(decision, execution, rule, deps, now, approvedBy);
  countOutcome(deps.metrics ?? noMetrics, outcome, decision.rule);
  const note = `Approved by ${approvedBy} (proposal ${proposalId}): the bot ran the stored plan, each write read before and after${resumed ? ', in more than one invocation (it ran out of time part-way and went on at the next step)' : ''}.`;
  const failure = await tell(decision, outcome, rule, { execution, note }, deps);
  if (deps.history) await recordHistory(decision, outcome, rule, note, undo, deps, now);
  try {
    await deps.proposals.finish(proposalId, outcome);
  } catch (error) {
    deps.logger.error('the proposal\'s outcome could not be stored', { error: describeError(error) });
  }
  if (execution.unexpectedError !== undefined) throw execution.unexpectedError;
  if (failure !== undefined) throw failure;
  return { status: 'ran', proposalId, by: approvedBy, rule: decision.rule, outcome };
}

/** The progress key of an approval's run: apart from its event's, whose decisions ran in another invocation. */
function approvalProgressId(proposalId: string): string {
  return `approval:${proposalId}`;
}

/**
 * An approved proposal whose run ran out of time part-way: approved, no
 * outcome yet, and a progress record the bot sealed for the same plan. Then
 * the plan goes on at its next step, as the approver who approved it; any
 * other settled proposal stays refused.
 */
async function interruptedApproval(stored: StoredProposal, decision: Decision, deps: EngineDeps): Promise<{ readonly approver: string; readonly resume: ResumePoint; readonly attempts: number } | undefined> {
  if (stored.status !== 'approved' || stored.outcome !== undefined || stored.settledBy === undefined || decision.verdict.kind !== 'violation') return undefined;
  const progress = await earlierProgress(approvalProgressId(stored.id), stored.family, deps);
  const resume = resumePointFor(progress?.interrupted.find((entry) => entry.rule === stored.rule)?.resume as Resume | undefined, decision.verdict.plan);
  if (!progress || !resume) return undefined;
  return { approver: stored.settledBy, resume, attempts: progress.attempts };
}

async function clearProgress(eventId: string, family: string, deps: EngineDeps): Promise<void> {
  try {
    await deps.progress?.clear(family, eventId);
  } catch (error) {
    deps.logger.warn('the progress record of a finished event could not be removed (its TTL will)', { error: describeError(error) });
  }
}

interface Action {
  /** What `resolveOutcome` said before any call: the replay says the same for the same decision. */
  readonly disposition: Disposition;
  readonly outcome: Outcome;
  readonly execution?: ExecutionReport;
  readonly preflight?: PreflightReport;
  readonly note?: string;
}

/** What the outcome of a proposal is once its preconditions were read: the present may have closed or changed it. */
function proposalOutcome(preflight: PreflightReport, fallback: Outcome): Outcome {
  if (preflight.status === 'already-fixed') return 'already-fixed';
  if (preflight.status === 'stale') return 'stale';
  return fallback;
}

/**
 * Acts on one decision as `resolveOutcome` says: runs the plan in `remediate`
 * (within the invocation's and the stack's write budgets), reads the present
 * state of a proposal, and says what the outcome is. The plan and the
 * proposal are each checked against the present before they are applied or proposed.
 */
async function act(decision: Decision, rule: Rule | undefined, deps: EngineDeps, context: InvocationContext, budget: { writesLeft: number }, resume?: Resume): Promise<Action> {
  const metrics = deps.metrics ?? noMetrics;
  const probes = rule?.probes ?? [];
  const allowance = { writesLeft: budget.writesLeft, maxWritesPerInvocation: deps.config.maxWritesPerInvocation };
  let disposition = resolveOutcome(decision, allowance);
  const point = disposition.kind === 'apply' ? resumePointFor(resume, disposition.plan) : undefined;
  if (disposition.kind === 'apply' && point) {
    // The plan an earlier invocation started, decided again the same: it goes on at its next step, its writes already counted.
    return { disposition, ...(await run(disposition.plan, probes, deps, context, point)) };
  }
  if (disposition.kind === 'propose' && disposition.capped === 'invocation') metrics.count('BlastRadiusCapped', decision.rule);
  if (disposition.kind === 'apply' && deps.writeBudget) {
    const answer = await deps.writeBudget.reserve(disposition.writes, deps.now?.() ?? new Date(), memberAccount(decision.account, deps.env));
    if (!answer.granted) {
      metrics.count('WriteBudgetExhausted', decision.rule);
      metrics.count('WriteBudgetExhausted');
      disposition = resolveOutcome(decision, { ...allowance, global: answer });
    }
  }
  switch (disposition.kind) {
    case 'settled':
      return { disposition, outcome: disposition.outcome, ...(disposition.note ? { note: disposition.note } : {}) };
    case 'propose': {
      const preflight = await preflightPlan(disposition.plan, deps.gateway, probes);
      return { disposition, outcome: proposalOutcome(preflight, disposition.outcome), preflight, ...(disposition.note ? { note: disposition.note } : {}) };
    }
    case 'apply':
      break;
  }
  budget.writesLeft -= disposition.writes;
  return { disposition, ...(await run(disposition.plan, probes, deps, context)) };
}

/** Runs a plan through the executor with the invocation's deadline, from the start or from where an earlier invocation stopped. */
async function run(plan: Plan, probes: readonly Probe[], deps: EngineDeps, context: InvocationContext, resume?: ResumePoint): Promise<{ outcome: Outcome; execution: ExecutionReport }> {
  const functionName = deps.env['AWS_LAMBDA_FUNCTION_NAME'];
  const execution = await executePlan(plan, deps.gateway, {
    probes,
    ...(functionName ? { functionName } : {}),
    ...(resume ? { resume } : {}),
    ...(context.getRemainingTimeInMillis ? { remainingTimeMs: () => context.getRemainingTimeInMillis?.() ?? 0 } : {}),
  });
  return { outcome: execution.status, execution };
}

/**
 * Records what was applied and how to undo it. A store failure is logged and
 * counted but does not fail the invocation: the change is made, and the alert
 * carries the same undo steps.
 */
async function recordUndo(decision: Decision, execution: ExecutionReport, rule: Rule | undefined, deps: EngineDeps, now: Date, approvedBy?: string): Promise<UndoEntry | undefined> {
  const functionName = deps.env['AWS_LAMBDA_FUNCTION_NAME'];
  const made = undoEntryFor(decision, execution, rule?.family ?? 'unknown', now, functionName);
  const entry = made && approvedBy !== undefined ? { ...made, approvedBy } : made;
  if (!entry || !deps.undoStore) return entry;
  try {
    await deps.undoStore.record(decision.eventId, entry);
  } catch (error) {
    (deps.metrics ?? noMetrics).count('UndoRecordFailed', decision.rule);
    deps.logger.error('undo record could not be stored: the alert carries the undo steps', { error: describeError(error) });
  }
  return entry;
}

/**
 * Records a decision that alerted in the history, after its alert: the alert
 * is the authoritative channel, the history is best-effort. A failed or slow
 * write (the store bounds it) is logged and counted, and the invocation goes on.
 */
async function recordHistory(decision: Decision, outcome: HistoryOutcome, rule: Rule | undefined, note: string | undefined, undo: UndoEntry | undefined, deps: EngineDeps, now: Date): Promise<void> {
  const functionName = deps.env['AWS_LAMBDA_FUNCTION_NAME'];
  try {
    const record = historyRecordFor({ decision, outcome, family: rule?.family ?? 'unknown', recordedAt: now, ...(note !== undefined ? { note } : {}), ...(undo ? { undo } : {}), ...(functionName ? { functionName } : {}) });
    await deps.history?.record(record);
  } catch (error) {
    const metrics = deps.metrics ?? noMetrics;
    metrics.count('HistoryWriteFailed', decision.rule);
    metrics.count('HistoryWriteFailed');
    deps.logger.error('history record could not be stored: the alert went out', { error: describeError(error) });
  }
}

declare const __REMEDIATION_CONFIG__: unknown;

/** The config embedded at package time (see `deploy/values.cjs`); defaults when none was embedded. */
export function embeddedConfig(rules: readonly Rule[]): Config {
  return parseConfig(typeof __REMEDIATION_CONFIG__ === 'undefined' ? {} : __REMEDIATION_CONFIG__, rules);
}

/**
 * A family's handler from its ports. The engine constructs no client: the
 * gateway, the alert sink and the table stores come from the runtime wiring
 * (`handlers/runtime.ts`), the CLI or a test. Absent stores mean no
 * idempotency, no undo records, no history and no cap across events.
 */
export interface HandlerOptions {
  readonly rules: readonly Rule[];
  readonly members?: MemberAccess;
  /** Paces the gateway's calls (`pacing.ts`): each invocation gives it its deadline. */
  readonly pacer?: Pacer;
  readonly progress?: ProgressStore;
  readonly gateway: AwsGateway;
  readonly logger: EngineLogger;
  readonly config?: Config;
  readonly env?: Env;
  readonly metrics?: EngineMetrics;
  readonly alerts?: AlertSink;
  readonly idempotency?: EventIdempotency;
  readonly undoStore?: UndoStore;
  readonly history?: HistoryStore;
  readonly writeBudget?: WriteBudget;
  readonly proposals?: ProposalStore;
  readonly proposalDays?: number;
  readonly replyToApprover?: (responseUrl: string, body: unknown) => Promise<void>;
  readonly seal?: (text: string) => Promise<string>;
  /** The clock (tests fix it). */
  readonly now?: () => Date;
}

export function createRemediationHandler(options: HandlerOptions): (event: unknown, context?: InvocationContext) => Promise<InvocationResult> {
  const { rules, gateway, logger, metrics, alerts, idempotency, undoStore, history, writeBudget, proposals, proposalDays } = options;
  const { pacer } = options;
  const deps: EngineDeps = {
    rules,
    config: options.config ?? embeddedConfig(rules),
    env: options.env ?? process.env,
    gateway: pacer ? pacer.wrap(gateway) : gateway,
    logger,
    ...(options.progress ? { progress: options.progress } : {}),
    ...(options.members ? { members: options.members } : {}),
    ...(metrics ? { metrics } : {}),
    ...(alerts ? { alerts } : {}),
    ...(idempotency ? { idempotency } : {}),
    ...(undoStore ? { undoStore } : {}),
    ...(history ? { history } : {}),
    ...(writeBudget ? { writeBudget } : {}),
    ...(proposals ? { proposals } : {}),
    ...(proposalDays !== undefined ? { proposalDays } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.replyToApprover ? { replyToApprover: options.replyToApprover } : {}),
    ...(options.seal ? { seal: options.seal } : {}),
  };
  // An approval request has the one key `approval`; an EventBridge event never does.
  return (event: unknown, context?: InvocationContext) => {
    pacer?.begin(context?.getRemainingTimeInMillis ? () => context.getRemainingTimeInMillis?.() ?? 0 : undefined);
    return looksLikeApproval(event) ? runApproval(event, deps, context) : processEvent(event, deps, context);
  };
}
