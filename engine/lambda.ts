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
 * - a fault the bot does not understand is rethrown only after the alert went out.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig, type Config } from './config.js';
import { createAwsGateway, liveFacts, type AwsGateway, type CommandTable } from './aws.js';
import { decideAll, type Env } from './decide.js';
import { EventParseError, parseEvent, type CloudTrailEvent, type ParseResult } from './event.js';
import { executePlan, preflightPlan, type ExecutionReport, type PreflightReport } from './executor.js';
import { dynamoDbIdempotency, isAlreadyInProgress, type EventIdempotency } from './idempotency.js';
import { noMetrics, type EngineMetrics, type MetricName } from './metrics.js';
import { dynamoDbUndoStore, undoEntryFor, type UndoStore } from './undo-store.js';
import { dynamoDbWriteBudget, type WriteBudget } from './write-budget.js';
import { isQuietSkip, isWaitStep, SEVERITIES, type Decision, type Outcome, type Plan, type Rule, type Severity } from './types.js';
import { publishAlert } from '../notify/sns.js';
import type { Alert } from '../notify/alert.js';

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
  /** Absent: no cap across events (the CLI, unit tests); deployed functions share one in the stack's table. */
  readonly writeBudget?: WriteBudget;
}

export interface DecisionResult {
  readonly rule: string;
  readonly verdict: Decision['verdict']['kind'];
  readonly outcome: Outcome;
  readonly summary: string;
  readonly execution?: ExecutionReport['status'];
}

export type InvocationResult =
  | { readonly status: 'invalid'; readonly eventId: string; readonly error: string }
  | { readonly status: 'processed'; readonly eventId: string; readonly decisions: readonly DecisionResult[] };

/** Results are stored for duplicates (DynamoDB items hold 400 KB) and returned to Lambda: summaries stay short whatever the input. */
const MAX_SUMMARY_CHARS = 1_000;

/** Write calls a plan would make: waits change nothing, and steps a lookup showed already in place are not sent. */
export function writeCount(plan: Plan): number {
  return plan.filter((step) => !isWaitStep(step) && step.alreadyDone === undefined).length;
}

function summaryOf(decision: Decision): string {
  const { verdict } = decision;
  const summary = verdict.kind === 'violation' || verdict.kind === 'compliant' ? verdict.summary : verdict.reason;
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
export async function processEvent(raw: unknown, deps: EngineDeps, context: InvocationContext = {}): Promise<InvocationResult> {
  const metrics = deps.metrics ?? noMetrics;
  metrics.count('Events');
  const parsed = parseSafely(raw);
  if (!parsed.success) {
    metrics.count('InvalidInput');
    deps.logger.error('malformed event: no action taken', { eventId: parsed.error.eventId, problems: parsed.error.problems });
    return { status: 'invalid', eventId: parsed.error.eventId, error: parsed.error.message };
  }
  const { event } = parsed;
  const eventId = event.detail.eventID;
  deps.logger.appendKeys({ eventId, eventName: event.detail.eventName });
  if (!deps.idempotency) return decideAndAct(event, deps, context);

  let delivery;
  try {
    delivery = await deps.idempotency.run(eventId, context, () => decideAndAct(event, deps, context));
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
  }
  return delivery.result;
}

async function decideAndAct(event: CloudTrailEvent, deps: EngineDeps, context: InvocationContext): Promise<InvocationResult> {
  const metrics = deps.metrics ?? noMetrics;
  const now = deps.now?.() ?? new Date();
  // `decide` has already guarded every plan (`plan-guard.ts`): a withheld plan is counted as invalid input below.
  const decisions = await decideAll(event, deps.rules, { config: deps.config, env: deps.env, facts: liveFacts(deps.gateway), now });

  const topicArn = deps.env['ALERT_TOPIC_ARN'];
  const budget = { writesLeft: deps.config.maxWritesPerInvocation };
  let rethrow: unknown;
  const results: DecisionResult[] = [];
  for (const decision of decisions) {
    deps.logger.appendKeys({ rule: decision.rule });
    const rule = deps.rules.find((r) => r.id === decision.rule);
    const { verdict } = decision;
    const action = await act(decision, rule, deps, context, budget);
    const { outcome, execution, note } = action;
    if (execution?.unexpectedError !== undefined) rethrow ??= execution.unexpectedError;
    if (execution) await recordUndo(decision, execution, rule, deps, now);

    const verdictMetric = VERDICT_METRICS[verdict.kind];
    if (verdictMetric) metrics.count(verdictMetric, decision.rule);
    if (verdict.kind === 'violation' && verdict.withheld !== undefined) metrics.count('InvalidInput', decision.rule);
    if (isQuietSkip(verdict)) metrics.count('Ignored', decision.rule);
    const outcomeMetric = OUTCOME_METRICS[outcome];
    if (outcomeMetric) {
      metrics.count(outcomeMetric, decision.rule);
      if (ALARMED_OUTCOMES.has(outcome)) metrics.count(outcomeMetric);
    }
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
      const alert: Alert = {
        // A fix nobody could confirm is at least high, whatever the finding: someone must look now.
        decision: outcome === 'unverified' ? { ...decision, severity: atLeast(decision.severity, 'high') } : decision,
        outcome,
        rationale: rule?.rationale ?? '',
        ...(execution ? { execution } : {}),
        ...(action.preflight ? { preflight: action.preflight } : {}),
        ...(note ? { note } : {}),
      };
      if (topicArn) {
        try {
          const signingKeyId = deps.env['ALERT_SIGNING_KEY_ID'];
          const published = await publishAlert(alert, deps.gateway, topicArn, signingKeyId ? { signingKeyId } : {});
          if (published.signature === 'signing-failed') {
            // Published anyway: an unsigned alert shows as unverified, which is visible; a dropped one is silence.
            metrics.count('AlertSigningFailed', decision.rule);
            deps.logger.error('alert published unsigned: signing failed', { errorCode: published.errorCode, error: published.errorMessage });
          }
        } catch (error) {
          metrics.count('AlertFailed', decision.rule);
          deps.logger.error('alert could not be published', { error: error instanceof Error ? error.message : String(error) });
          rethrow ??= error;
        }
      } else {
        deps.logger.warn('ALERT_TOPIC_ARN is not set: alert not sent');
      }
    }
    results.push({ rule: decision.rule, verdict: verdict.kind, outcome, summary: summaryOf(decision), ...(execution ? { execution: execution.status } : {}) });
  }
  deps.logger.removeKeys?.(['rule']);
  // Unexpected faults go back to Lambda (retry, then the failure destination) only after people were told.
  if (rethrow !== undefined) throw rethrow;
  return { status: 'processed', eventId: event.detail.eventID, decisions: results };
}

function atLeast(severity: Severity, floor: Severity): Severity {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(floor) ? severity : floor;
}

interface Action {
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
 * Acts on one decision according to its mode: runs the plan in `remediate`
 * (within the write budget), reads the present state of a proposal, and says
 * what the outcome is. The plan and the proposal are each checked against
 * the present before they are applied or proposed.
 */
async function act(decision: Decision, rule: Rule | undefined, deps: EngineDeps, context: InvocationContext, budget: { writesLeft: number }): Promise<Action> {
  const { verdict } = decision;
  const probes = rule?.probes ?? [];
  switch (verdict.kind) {
    case 'compliant':
      return { outcome: 'none' };
    case 'exempt':
      return { outcome: 'exempt' };
    case 'skipped':
      return { outcome: isQuietSkip(verdict) ? 'none' : 'uninspected' };
    case 'violation':
      break;
  }
  if (verdict.withheld !== undefined) return { outcome: 'notified', note: verdict.withheld };
  const proposed = decision.mode === 'notify' ? 'notified' : 'proposed';
  const propose = async (plan: Plan, note?: string): Promise<Action> => {
    if (plan.length === 0) return { outcome: proposed, ...(note ? { note } : {}) };
    const preflight = await preflightPlan(plan, deps.gateway, probes);
    return { outcome: proposalOutcome(preflight, proposed), preflight, ...(note ? { note } : {}) };
  };
  if (decision.mode !== 'remediate') return propose(verdict.plan.length > 0 ? verdict.plan : (verdict.proposal ?? []));
  if (verdict.plan.length === 0) {
    // Nothing is safe to apply automatically: say so rather than report an empty plan as applied.
    const proposal = verdict.proposal ?? [];
    const action = await propose(proposal, 'nothing is applied automatically for this finding: a person has to act (see the proposal)');
    return proposal.length > 0 ? action : { ...action, outcome: action.outcome === 'proposed' ? 'notified' : action.outcome };
  }
  const writes = writeCount(verdict.plan);
  if (writes > budget.writesLeft) {
    (deps.metrics ?? noMetrics).count('BlastRadiusCapped', decision.rule);
    return propose(
      verdict.plan,
      `not applied: the plan has ${writes} write call(s) and this invocation may make ${budget.writesLeft} more (maxWritesPerInvocation ${deps.config.maxWritesPerInvocation})`,
    );
  }
  if (deps.writeBudget) {
    const answer = await deps.writeBudget.reserve(writes, deps.now?.() ?? new Date());
    if (!answer.granted) {
      (deps.metrics ?? noMetrics).count('WriteBudgetExhausted', decision.rule);
      (deps.metrics ?? noMetrics).count('WriteBudgetExhausted');
      return propose(verdict.plan, `not applied: ${answer.reason}; every rule proposes until the budget allows writes again`);
    }
  }
  budget.writesLeft -= writes;
  const functionName = deps.env['AWS_LAMBDA_FUNCTION_NAME'];
  const execution = await executePlan(verdict.plan, deps.gateway, {
    probes,
    ...(functionName ? { functionName } : {}),
    ...(context.getRemainingTimeInMillis ? { remainingTimeMs: () => context.getRemainingTimeInMillis?.() ?? 0 } : {}),
  });
  return { outcome: execution.status, execution };
}

/**
 * Records what was applied and how to undo it. A store failure is logged and
 * counted but does not fail the invocation: the change is made, and the alert
 * carries the same undo steps.
 */
async function recordUndo(decision: Decision, execution: ExecutionReport, rule: Rule | undefined, deps: EngineDeps, now: Date): Promise<void> {
  if (!deps.undoStore) return;
  const functionName = deps.env['AWS_LAMBDA_FUNCTION_NAME'];
  const entry = undoEntryFor(decision, execution, rule?.family ?? 'unknown', now, functionName);
  if (!entry) return;
  try {
    await deps.undoStore.record(decision.eventId, entry);
  } catch (error) {
    (deps.metrics ?? noMetrics).count('UndoRecordFailed', decision.rule);
    deps.logger.error('undo record could not be stored: the alert carries the undo steps', { error: describeError(error) });
  }
}

declare const __REMEDIATION_CONFIG__: unknown;

/** The config embedded at package time (see `deploy/values.cjs`); defaults when none was embedded. */
export function embeddedConfig(rules: readonly Rule[]): Config {
  return parseConfig(typeof __REMEDIATION_CONFIG__ === 'undefined' ? {} : __REMEDIATION_CONFIG__, rules);
}

export interface HandlerOptions {
  readonly rules: readonly Rule[];
  readonly commands: CommandTable;
  readonly logger: EngineLogger;
  readonly config?: Config;
  readonly env?: Env;
  readonly gateway?: AwsGateway;
  readonly metrics?: EngineMetrics;
  /** Default: DynamoDB idempotency and undo records when `IDEMPOTENCY_TABLE` is set, none otherwise. */
  readonly idempotency?: EventIdempotency;
  readonly undoStore?: UndoStore;
  readonly writeBudget?: WriteBudget;
}

/** The idempotency, undo-record and write-budget table of the deployment, when `IDEMPOTENCY_TABLE` names one. */
export function tableStores(env: Env, family: string, config: Config): { idempotency?: EventIdempotency; undoStore?: UndoStore; writeBudget?: WriteBudget } {
  const tableName = env['IDEMPOTENCY_TABLE'];
  if (!tableName) return {};
  // The table may live in another region than the function (the IAM function runs in us-east-1).
  const region = env['IDEMPOTENCY_TABLE_REGION'] || env['AWS_REGION'];
  const client = new DynamoDBClient({ retryMode: 'adaptive', maxAttempts: 5, ...(region ? { region } : {}) });
  return {
    idempotency: dynamoDbIdempotency({ tableName, client, keyPrefix: env['AWS_LAMBDA_FUNCTION_NAME'] || `remediation-bot-${family}` }),
    undoStore: dynamoDbUndoStore({ tableName, client }),
    writeBudget: dynamoDbWriteBudget({ tableName, client, settings: config.writeBudget }),
  };
}

/**
 * Builds a family's Lambda handler. Module scope work is limited to parsing the
 * embedded config and constructing (not connecting) SDK clients.
 */
export function createRemediationHandler(options: HandlerOptions): (event: unknown, context?: InvocationContext) => Promise<InvocationResult> {
  const env = options.env ?? process.env;
  const config = options.config ?? embeddedConfig(options.rules);
  const stores = tableStores(env, options.rules[0]?.family ?? 'unknown', config);
  const idempotency = options.idempotency ?? stores.idempotency;
  const undoStore = options.undoStore ?? stores.undoStore;
  const writeBudget = options.writeBudget ?? stores.writeBudget;
  const deps: EngineDeps = {
    rules: options.rules,
    config,
    env,
    gateway: options.gateway ?? createAwsGateway(options.commands, env['AWS_REGION'] ? { region: env['AWS_REGION'] } : {}),
    logger: options.logger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(idempotency ? { idempotency } : {}),
    ...(undoStore ? { undoStore } : {}),
    ...(writeBudget ? { writeBudget } : {}),
  };
  return (event: unknown, context?: InvocationContext) => processEvent(event, deps, context);
}
