/**
 * Runs a plan, step by step, through the AWS gateway. It stops at the first
 * failing step and reports exactly what was applied, what failed (with the AWS
 * error code) and what was not run, so an alert can say how to undo a half-applied plan.
 *
 * Plans stay plain data. A step may carry an `id`; a later step's input may
 * hold `{ $ref: '<id>.<OutputField>' }`, filled in here from that step's SDK
 * output. A `wait` step runs an SDK waiter bounded by the invocation's remaining
 * time; a wait that cannot finish in time fails the plan with code
 * `WaitTimedOut` and a `resume` point (the step to start from and the outputs
 * the rest of the plan needs), so the plan can be continued, never restarted.
 */
import { iamActionFor } from './iam-actions.js';
import { errorCode, errorMessage, UnsupportedOperationError, type AwsGateway } from './aws.js';
import { isUnexpectedFault } from './faults.js';
import { isStepOutputRef, isUnknownValue, isWaitStep, type Plan, type PlanStep, type UndoStep } from './types.js';

export type StepStatus = 'applied' | 'already-done' | 'failed' | 'not-run';

export interface StepResult {
  readonly index: number;
  /** The step as it ran: any `$ref` in its input and undo replaced by the value used. */
  readonly step: PlanStep;
  readonly status: StepStatus;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** For permission errors: the IAM action the function lacks. */
  readonly hint?: string;
}

/** Where a stopped plan picks up again: pass it back as `ExecuteOptions.resume`. */
export interface ResumePoint {
  /** Index (0-based) of the first step that did not complete. */
  readonly fromIndex: number;
  /** Outputs of the named steps that completed, keyed by step id: what later `$ref`s need. */
  readonly outputs: Readonly<Record<string, unknown>>;
}

export interface ExecutionReport {
  /** `already-fixed` when every step found its work already done. */
  readonly status: 'applied' | 'already-fixed' | 'failed';
  readonly steps: readonly StepResult[];
  /** Set when the failure is not an AWS answer the bot understands; the caller rethrows after alerting. */
  readonly unexpectedError?: unknown;
  /** Set when the plan stopped part-way: exactly where to resume, with the outputs gathered so far. */
  readonly resume?: ResumePoint & { readonly stepId?: string; readonly operation: string };
}

const PERMISSION_CODES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'Client.UnauthorizedOperation', 'AuthorizationError']);

/** Kept back from every wait for what follows it in the invocation: the alert, the logs. */
export const DEFAULT_SAFETY_MARGIN_MS = 10_000;
/** Outside Lambda (the CLI) there is no deadline; a wait still ends. */
export const DEFAULT_WAIT_LIMIT_MS = 15 * 60_000;
/** The EC2 waiters' own first delay; shortened only when less time is left. */
const WAIT_MIN_DELAY_SECONDS = 15;
const WAIT_MAX_DELAY_SECONDS = 60;

/** AWS answered with a client error it documents: the plan failed, but the fault is understood. */
function isAwsServiceError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$metadata' in error && (error as { $fault?: unknown }).$fault === 'client';
}

export function isPermissionError(code: string): boolean {
  return PERMISSION_CODES.has(code);
}

export function permissionHint(step: PlanStep, functionName: string | undefined): string {
  return `grant ${iamActionFor(step.service, step.operation)} to ${functionName ? `function ${functionName}` : "this function's role"}`;
}

export interface ExecuteOptions {
  readonly functionName?: string;
  /** Milliseconds left in the Lambda invocation, for steps that wait. */
  readonly remainingTimeMs?: () => number;
  /** Milliseconds every wait leaves unused at the end of the invocation (default 10 s). */
  readonly safetyMarginMs?: number;
  /** Continue a plan that stopped: start at `fromIndex` with the outputs of the steps before it. */
  readonly resume?: ResumePoint;
}

type Outputs = Record<string, unknown>;

class PlaceholderError extends Error {
  constructor(
    readonly code: 'UnresolvedReference' | 'UnknownValue',
    message: string,
  ) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

function readPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (Array.isArray(current) && /^\d+$/.test(key)) current = current[Number(key)];
    else if (typeof current === 'object' && current !== null && Object.hasOwn(current, key)) current = (current as Record<string, unknown>)[key];
    else return undefined;
  }
  return current;
}

/** Replaces every `$ref` with the output it names; throws `PlaceholderError` for a missing output or an `$unknown`. */
function resolveValue(value: unknown, outputs: Outputs): unknown {
  if (isStepOutputRef(value)) {
    const [stepId = '', ...path] = value.$ref.split('.');
    const resolved = Object.hasOwn(outputs, stepId) ? readPath(outputs[stepId], path) : undefined;
    if (resolved === undefined || resolved === null) {
      throw new PlaceholderError('UnresolvedReference', `${value.$ref} is not available: step "${stepId}" has not run in this plan or returned no ${path.join('.') || 'value'}`);
    }
    return resolved;
  }
  if (isUnknownValue(value)) throw new PlaceholderError('UnknownValue', `a value the bot did not know must be filled in first: ${value.$unknown}`);
  if (Array.isArray(value)) return value.map((item) => resolveValue(item, outputs));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveValue(item, outputs)]));
  }
  return value;
}

function hasPlaceholder(value: unknown): boolean {
  if (isStepOutputRef(value) || isUnknownValue(value)) return true;
  if (Array.isArray(value)) return value.some(hasPlaceholder);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasPlaceholder);
  return false;
}

/** The step with its placeholders filled in; the very same object when it has none. */
function resolveStep(step: PlanStep, outputs: Outputs): PlanStep {
  if (!hasPlaceholder(step.input) && !hasPlaceholder(step.undo?.input)) return step;
  const input = resolveValue(step.input, outputs) as Record<string, unknown>;
  let undo: UndoStep | undefined = step.undo;
  if (undo && hasPlaceholder(undo.input)) {
    // An undo that cannot be resolved yet keeps its placeholders: it is shown, not run, here.
    try {
      undo = { ...undo, input: resolveValue(undo.input, outputs) as Record<string, unknown> };
    } catch {
      undo = step.undo;
    }
  }
  return { ...step, input, ...(undo ? { undo } : {}) };
}

function withoutMetadata(output: unknown): unknown {
  if (typeof output !== 'object' || output === null || Array.isArray(output)) return output;
  const { $metadata: _metadata, ...rest } = output as Record<string, unknown>;
  return rest;
}

/** The SDK waiters throw `TimeoutError` (or `AbortError`) when their time is up. */
function isWaiterTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

interface WaitBudget {
  readonly maxWaitSeconds: number;
  readonly budgetMs: number;
}

function waitBudget(options: ExecuteOptions): WaitBudget {
  const budgetMs = options.remainingTimeMs
    ? options.remainingTimeMs() - (options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS)
    : DEFAULT_WAIT_LIMIT_MS;
  return { budgetMs, maxWaitSeconds: Math.floor(budgetMs / 1000) };
}

class WaitTimedOutError extends Error {
  override readonly name = 'WaitTimedOutError';
}

async function runWait(step: PlanStep, index: number, gateway: AwsGateway, options: ExecuteOptions): Promise<void> {
  if (!gateway.wait) throw new UnsupportedOperationError(`${step.service}:${step.operation}`);
  const { budgetMs, maxWaitSeconds } = waitBudget(options);
  const where = `resume the plan at step ${index + 1} (${step.operation})`;
  // The SDK requires maxWaitTime > minDelay > 0, so anything under 2 s cannot even start.
  if (maxWaitSeconds < 2) {
    throw new WaitTimedOutError(`not started: ${Math.max(0, budgetMs)} ms left before this invocation's safety margin; ${where}`);
  }
  const minDelaySeconds = Math.min(WAIT_MIN_DELAY_SECONDS, maxWaitSeconds - 1);
  try {
    await gateway.wait(step.service, step.operation, step.input, {
      maxWaitSeconds,
      minDelaySeconds,
      maxDelaySeconds: Math.max(minDelaySeconds, WAIT_MAX_DELAY_SECONDS),
    });
  } catch (error) {
    if (isWaiterTimeout(error)) {
      throw new WaitTimedOutError(`${step.operation} did not finish within the ${maxWaitSeconds} s this invocation had left; ${where} (${truncate(errorMessage(error), 300)})`, {
        cause: error,
      });
    }
    throw error;
  }
}

interface StepFailure {
  readonly code: string;
  readonly message: string;
  readonly unexpected: boolean;
}

function classify(step: PlanStep, error: unknown): StepFailure {
  if (error instanceof PlaceholderError) return { code: error.code, message: error.message, unexpected: false };
  if (error instanceof WaitTimedOutError) return { code: 'WaitTimedOut', message: error.message, unexpected: false };
  const code = errorCode(error);
  if (isWaitStep(step) && !(error instanceof UnsupportedOperationError) && error instanceof Error && !isAwsServiceError(error)) {
    // The waiter reached a failure state (for example a snapshot in state `error`): understood, not retryable.
    return { code: 'WaitFailed', message: `${step.operation} failed: ${truncate(errorMessage(error), 300)}`, unexpected: false };
  }
  return { code, message: errorMessage(error), unexpected: !isPermissionError(code) && isUnexpectedFault(error) };
}

export async function executePlan(plan: Plan, gateway: AwsGateway, options: ExecuteOptions = {}): Promise<ExecutionReport> {
  const results: StepResult[] = [];
  const outputs: Outputs = { ...options.resume?.outputs };
  const startAt = options.resume?.fromIndex ?? 0;
  let failedAt: number | undefined;
  let unexpectedError: unknown;
  for (const [index, planned] of plan.entries()) {
    if (index < startAt) {
      results.push({ index, step: planned, status: 'already-done' });
      continue;
    }
    if (failedAt !== undefined) {
      results.push({ index, step: planned, status: 'not-run' });
      continue;
    }
    if (planned.alreadyDone !== undefined) {
      results.push({ index, step: planned, status: 'already-done' });
      continue;
    }
    let step = planned;
    try {
      step = resolveStep(planned, outputs);
      if (isWaitStep(step)) {
        await runWait(step, index, gateway, options);
      } else {
        const output = await gateway.call(step.service, step.operation, step.input);
        if (step.id !== undefined) outputs[step.id] = withoutMetadata(output);
      }
      results.push({ index, step, status: 'applied' });
    } catch (error) {
      const code = errorCode(error);
      if (!isWaitStep(step) && step.alreadyDoneCodes?.includes(code)) {
        results.push({ index, step, status: 'already-done', errorCode: code });
        continue;
      }
      failedAt = index;
      const failure = classify(step, error);
      if (failure.unexpected) unexpectedError = error;
      results.push({
        index,
        step,
        status: 'failed',
        errorCode: failure.code,
        errorMessage: failure.message,
        ...(isPermissionError(failure.code) ? { hint: permissionHint(step, options.functionName) } : {}),
      });
    }
  }
  const writes = results.filter((r) => !isWaitStep(r.step));
  const status =
    failedAt !== undefined ? 'failed' : writes.length > 0 && writes.every((r) => r.status === 'already-done') ? 'already-fixed' : 'applied';
  const stopped = failedAt === undefined ? undefined : plan[failedAt];
  return {
    status,
    steps: results,
    ...(unexpectedError !== undefined ? { unexpectedError } : {}),
    ...(failedAt !== undefined && stopped
      ? { resume: { fromIndex: failedAt, ...(stopped.id ? { stepId: stopped.id } : {}), operation: stopped.operation, outputs } }
      : {}),
  };
}

/** The input as a person reads it: `$ref`s become `<step.Field>` and unknowns `<unknown: …>`. */
export function renderInput(value: unknown): unknown {
  if (isStepOutputRef(value)) return `<${value.$ref}>`;
  if (isUnknownValue(value)) return `<unknown: ${value.$unknown}>`;
  if (Array.isArray(value)) return value.map(renderInput);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderInput(item)]));
  return value;
}

/**
 * One line per step for printed plans (dry run, alerts): waits are marked,
 * named steps show their id so `<id.Field>` placeholders can be followed, and
 * a step a lookup found already in place says so.
 */
export function describeStep(step: UndoStep & Partial<Pick<PlanStep, 'id' | 'kind' | 'alreadyDone'>>): string {
  const head = `${step.kind === 'wait' ? 'wait ' : ''}${step.service}:${step.operation}${step.id ? ` [${step.id}]` : ''}`;
  return `${head} ${JSON.stringify(renderInput(step.input))}${step.alreadyDone ? ` (already done: ${step.alreadyDone})` : ''}`;
}
