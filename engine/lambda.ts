/**
 * The Lambda path: parse, decide (the same code as the replay), then act on
 * each decision according to its mode, and alert. Handlers in `handlers/` only
 * wire this to middleware.
 */
import { parseConfig, type Config } from './config.js';
import { createAwsGateway, liveFacts, type AwsGateway, type CommandTable } from './aws.js';
import { decideAll, type Env } from './decide.js';
import { parseEvent } from './event.js';
import { executePlan, type ExecutionReport } from './executor.js';
import type { Decision, Outcome, Rule } from './types.js';
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

function summaryOf(decision: Decision): string {
  const { verdict } = decision;
  return verdict.kind === 'violation' || verdict.kind === 'compliant' ? verdict.summary : verdict.reason;
}

/** Handles one EventBridge event end to end. Malformed events are logged and return `invalid`: no AWS call, no retry. */
/** The part of the Lambda context the engine uses. */
export interface InvocationContext {
  getRemainingTimeInMillis?(): number;
}

export async function processEvent(raw: unknown, deps: EngineDeps, context: InvocationContext = {}): Promise<InvocationResult> {
  const parsed = parseEvent(raw);
  if (!parsed.success) {
    deps.logger.error('malformed event: no action taken', { eventId: parsed.error.eventId, problems: parsed.error.problems });
    return { status: 'invalid', eventId: parsed.error.eventId, error: parsed.error.message };
  }
  const { event } = parsed;
  deps.logger.appendKeys({ eventId: event.detail.eventID, eventName: event.detail.eventName });
  const now = deps.now?.() ?? new Date();
  const decisions = await decideAll(event, deps.rules, { config: deps.config, env: deps.env, facts: liveFacts(deps.gateway), now });

  const topicArn = deps.env['ALERT_TOPIC_ARN'];
  let writesLeft = deps.config.maxWritesPerInvocation;
  let rethrow: unknown;
  const results: DecisionResult[] = [];
  for (const decision of decisions) {
    deps.logger.appendKeys({ rule: decision.rule });
    const { verdict } = decision;
    let outcome: Outcome = 'none';
    let execution: ExecutionReport | undefined;
    let note: string | undefined;
    if (verdict.kind === 'violation') {
      if (decision.mode === 'remediate') {
        if (verdict.plan.length > writesLeft) {
          outcome = 'proposed';
          note = `not applied: the plan has ${verdict.plan.length} write call(s) and this invocation may make ${writesLeft} more (maxWritesPerInvocation ${deps.config.maxWritesPerInvocation})`;
        } else {
          writesLeft -= verdict.plan.length;
          execution = await executePlan(verdict.plan, deps.gateway, {
            ...(deps.env['AWS_LAMBDA_FUNCTION_NAME'] ? { functionName: deps.env['AWS_LAMBDA_FUNCTION_NAME'] } : {}),
            ...(context.getRemainingTimeInMillis ? { remainingTimeMs: () => context.getRemainingTimeInMillis?.() ?? 0 } : {}),
          });
          outcome = execution.status;
          if (execution.unexpectedError !== undefined) rethrow ??= execution.unexpectedError;
        }
      } else {
        outcome = decision.mode === 'notify' ? 'notified' : 'proposed';
      }
    } else if (verdict.kind === 'exempt') {
      outcome = 'exempt';
    }

    deps.logger.info('decision', {
      verdict: verdict.kind,
      outcome,
      mode: decision.mode,
      summary: summaryOf(decision),
      ...(verdict.kind === 'violation' ? { plan: verdict.plan } : {}),
      ...(execution ? { execution: execution.steps.map(({ index, status, errorCode }) => ({ index, status, errorCode })) } : {}),
      ...(decision.unavailableFacts.length > 0 ? { unavailableFacts: decision.unavailableFacts } : {}),
    });

    if (outcome !== 'none') {
      const rule = deps.rules.find((r) => r.id === decision.rule);
      const alert: Alert = { decision, outcome, rationale: rule?.rationale ?? '', ...(execution ? { execution } : {}), ...(note ? { note } : {}) };
      if (topicArn) {
        try {
          await publishAlert(alert, deps.gateway, topicArn);
        } catch (error) {
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
  // Unexpected faults go back to Lambda (retry, then the DLQ) only after people were told.
  if (rethrow !== undefined) throw rethrow;
  return { status: 'processed', eventId: event.detail.eventID, decisions: results };
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
}

/**
 * Builds a family's Lambda handler. Module scope work is limited to parsing the
 * embedded config and constructing (not connecting) SDK clients.
 */
export function createRemediationHandler(options: HandlerOptions): (event: unknown, context?: InvocationContext) => Promise<InvocationResult> {
  const env = options.env ?? process.env;
  const deps: EngineDeps = {
    rules: options.rules,
    config: options.config ?? embeddedConfig(options.rules),
    env,
    gateway: options.gateway ?? createAwsGateway(options.commands, env['AWS_REGION'] ? { region: env['AWS_REGION'] } : {}),
    logger: options.logger,
  };
  return (event: unknown, context?: InvocationContext) => processEvent(event, deps, context);
}
