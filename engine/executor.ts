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
import { hintOf, StepFault } from './errors.js';
import { iamActionFor } from './iam-actions.js';
import { errorCode, errorMessage, UnsupportedOperationError, type AwsGateway } from './aws.js';
import { isUnexpectedFault } from './faults.js';
import { isOutOfTime } from './pacing.js';
import { isStepOutputRef, isUnknownValue, isWaitStep, type Plan, type PlanStep, type Probe, type ProbeVerdict, type StateCheck, type UndoStep } from './types.js';

/**
 * - `applied`: the write was sent (see `verification` for what a read showed afterwards);
 * - `already-done`: nothing was sent, or AWS answered "already gone", and a read showed the effect in place;
 * - `stale`: the read before the write showed the resource changed since the event; nothing was sent;
 * - `failed`: the write, or the read it depends on, failed;
 * - `not-run`: an earlier step failed or was stale.
 */
type StepStatus = 'applied' | 'already-done' | 'stale' | 'failed' | 'not-run';

/** What a state read found: the probe's verdict, or `unreadable` when the read itself failed. */
export interface CheckResult {
  readonly state: ProbeVerdict['state'] | 'unreadable';
  readonly evidence: string;
}

export interface StepResult {
  readonly index: number;
  /** The step as it ran: any `$ref` in its input and undo replaced by the value used. */
  readonly step: PlanStep;
  readonly status: StepStatus;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** For permission errors: the IAM action the function lacks. */
  readonly hint?: string;
  /** What the read just before the write found. */
  readonly precondition?: CheckResult;
  /** What the read just after the write (or after an "already gone" answer) found. */
  readonly verification?: CheckResult;
  /** Completed by an earlier invocation of the same plan (`resume`): as it found it, when it said. */
  readonly resumed?: true;
}

/** Where a stopped plan picks up again: pass it back as `ExecuteOptions.resume`. */
export interface ResumePoint {
  /** Index (0-based) of the first step that did not complete. */
  readonly fromIndex: number;
  /** Outputs of the named steps that completed, keyed by step id: what later `$ref`s need. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** What the earlier invocation found for the steps before `fromIndex`: the report then shows them as they ran. */
  readonly steps?: readonly StepResult[];
}

/**
 * - `applied`: every write step ran or was already done, and a read confirmed each;
 * - `unverified`: the writes ran, but a read did not confirm at least one of them;
 * - `already-fixed`: a read showed every write step's effect already in place: nothing was sent;
 * - `stale`: a read before a write showed the resource changed since the event: nothing more was sent;
 * - `failed`: a write, or the read it depends on, failed.
 */
export type ExecutionStatus = 'applied' | 'unverified' | 'already-fixed' | 'stale' | 'failed';

export interface ExecutionReport {
  readonly status: ExecutionStatus;
  readonly steps: readonly StepResult[];
  /** Set when the failure is not an AWS answer the bot understands; the caller rethrows after alerting. */
  readonly unexpectedError?: unknown;
  /** Set when the plan stopped part-way: exactly where to resume, with the outputs gathered so far. */
  readonly resume?: ResumePoint & { readonly stepId?: string; readonly operation: string };
  /**
   * The invocation ran out of time (`OutOfTime`, see `pacing.ts`) before the
   * plan was done: nothing is wrong with the plan, the rest waits for Lambda's
   * retry, which resumes at `resume.fromIndex`. A step whose write went out but
   * whose read after it did not is resumed at itself: its read before the write
   * then shows it done.
   */
  readonly interrupted?: true;
}

const PERMISSION_CODES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'Client.UnauthorizedOperation', 'AuthorizationError']);

/** Kept back from every wait for what follows it in the invocation: the alert, the logs. */
const DEFAULT_SAFETY_MARGIN_MS = 10_000;
/** Outside Lambda (the CLI) there is no deadline; a wait still ends. */
const DEFAULT_WAIT_LIMIT_MS = 15 * 60_000;
/** The EC2 waiters' own first delay; shortened only when less time is left. */
const WAIT_MIN_DELAY_SECONDS = 15;
const WAIT_MAX_DELAY_SECONDS = 60;

/** AWS answered with a client error it documents: the plan failed, but the fault is understood. */
function isAwsServiceError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$metadata' in error && (error as { $fault?: unknown }).$fault === 'client';
}

function isPermissionError(code: string): boolean {
  return PERMISSION_CODES.has(code);
}

function permissionHint(step: PlanStep, functionName: string | undefined): string {
  return `grant ${iamActionFor(step.service, step.operation)} to ${functionName ? `function ${functionName}` : "this function's role"}`;
}

interface ExecuteOptions {
  readonly functionName?: string;
  /** Milliseconds left in the Lambda invocation, for steps that wait. */
  readonly remainingTimeMs?: () => number;
  /** Milliseconds every wait leaves unused at the end of the invocation (default 10 s). */
  readonly safetyMarginMs?: number;
  /** Continue a plan that stopped: start at `fromIndex` with the outputs of the steps before it. */
  readonly resume?: ResumePoint;
  /** The rule's probes, which judge the steps' preconditions and verifications. */
  readonly probes?: readonly Probe[];
}

type Outputs = Record<string, unknown>;

class PlaceholderError extends StepFault {
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

class WaitTimedOutError extends StepFault {
  override readonly name = 'WaitTimedOutError';
}

/** A precondition that failed without an AWS error of its own (no probe, an unresolved reference). */
class PreconditionError extends StepFault {
  override readonly name = 'PreconditionUnreadable';
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
  if (error instanceof PreconditionError) return { code: 'PreconditionUnreadable', message: error.message, unexpected: false };
  if (error instanceof WaitTimedOutError) return { code: 'WaitTimedOut', message: error.message, unexpected: false };
  const code = errorCode(error);
  if (isWaitStep(step) && !(error instanceof UnsupportedOperationError) && error instanceof Error && !isAwsServiceError(error)) {
    // The waiter reached a failure state (for example a snapshot in state `error`): understood, not retryable.
    return { code: 'WaitFailed', message: `${step.operation} failed: ${truncate(errorMessage(error), 300)}`, unexpected: false };
  }
  return { code, message: errorMessage(error), unexpected: !isPermissionError(code) && isUnexpectedFault(error) };
}

interface StateRead {
  readonly result: CheckResult;
  /** The error of a read that failed, for the step's report. */
  readonly error?: unknown;
}

/**
 * Reads the present state for a check and lets the rule's probe judge it. The
 * read must be the probe's own call: data cannot steer the bot to another API.
 * Never throws.
 */
async function readState(check: StateCheck, gateway: AwsGateway, probes: readonly Probe[], outputs: Readonly<Record<string, unknown>> = {}): Promise<StateRead> {
  const probe = probes.find((candidate) => candidate.name === check.probe);
  if (!probe || probe.service !== check.service || probe.operation !== check.operation) {
    return { result: { state: 'unreadable', evidence: `no probe "${check.probe}" reads ${check.service}:${check.operation} for this rule` } };
  }
  let output: unknown;
  let notFound: string | undefined;
  try {
    const input = resolveValue(check.input, outputs) as Record<string, unknown>;
    output = await gateway.call(probe.service, probe.operation, structuredClone(input));
  } catch (error) {
    const code = errorCode(error);
    if (error instanceof PlaceholderError) return { result: { state: 'unreadable', evidence: error.message }, error };
    if (!probe.notFoundCodes?.includes(code)) {
      const hint = hintOf(error);
      return { result: { state: 'unreadable', evidence: `${probe.operation} failed: ${code}${hint ? ` (${hint})` : ''}` }, error };
    }
    output = null;
    notFound = code;
  }
  try {
    const verdict = probe.judge(output, check.expect, notFound);
    return { result: { state: verdict.state, evidence: truncate(verdict.evidence, 1_000) } };
  } catch (error) {
    return { result: { state: 'unreadable', evidence: `probe ${probe.name} could not judge the answer of ${probe.operation}: ${truncate(errorMessage(error), 300)}` } };
  }
}

/** Non-empty lists in the named output fields: AWS's way of saying a successful call changed nothing. */
function unchangedBy(step: PlanStep, output: unknown): string | undefined {
  for (const name of step.noChangeWhen ?? []) {
    const value = typeof output === 'object' && output !== null ? (output as Record<string, unknown>)[name] : undefined;
    if (Array.isArray(value) && value.length > 0) return `${name} ${truncate(JSON.stringify(value), 300)}`;
  }
  return undefined;
}

/** Whether a read confirmed the step's effect: applied and verified, or already done on a read's evidence. */
export function isConfirmed(result: StepResult): boolean {
  if (isWaitStep(result.step)) return true;
  if (result.status === 'applied') return result.verification?.state === 'done';
  if (result.status === 'already-done') return result.resumed === true || result.precondition?.state === 'done' || result.verification?.state === 'done';
  return false;
}

function executionStatus(results: readonly StepResult[]): ExecutionStatus {
  if (results.some((r) => r.status === 'failed')) return 'failed';
  if (results.some((r) => r.status === 'stale')) return 'stale';
  const writes = results.filter((r) => !isWaitStep(r.step));
  if (writes.some((r) => !isConfirmed(r))) return 'unverified';
  if (writes.length > 0 && writes.every((r) => r.status === 'already-done' && !r.resumed)) return 'already-fixed';
  return 'applied';
}

function failure(index: number, step: PlanStep, error: unknown, options: ExecuteOptions, extra: Partial<StepResult> = {}): StepResult & { unexpected: boolean } {
  const info = classify(step, error);
  return {
    index,
    step,
    status: 'failed',
    errorCode: info.code,
    errorMessage: info.message,
    ...(isPermissionError(info.code) ? { hint: permissionHint(step, options.functionName) } : hintOf(error) ? { hint: hintOf(error) } : {}),
    ...extra,
    unexpected: info.unexpected,
  };
}

export async function executePlan(plan: Plan, gateway: AwsGateway, options: ExecuteOptions = {}): Promise<ExecutionReport> {
  const results: StepResult[] = [];
  const outputs: Outputs = { ...options.resume?.outputs };
  const probes = options.probes ?? [];
  const startAt = options.resume?.fromIndex ?? 0;
  let stoppedAt: number | undefined;
  let interruptedAt: number | undefined;
  let unexpectedError: unknown;
  const stop = (index: number, result: StepResult & { unexpected?: boolean }, error?: unknown) => {
    const { unexpected, ...rest } = result;
    results.push(rest);
    stoppedAt = index;
    if (error !== undefined && isOutOfTime(error)) interruptedAt = index;
    else if (unexpected && error !== undefined) unexpectedError ??= error;
  };
  for (const [index, planned] of plan.entries()) {
    if (index < startAt) {
      const earlier = options.resume?.steps?.[index];
      results.push(earlier?.index === index ? { ...earlier, resumed: true } : { index, step: planned, status: 'already-done', resumed: true });
      continue;
    }
    if (stoppedAt !== undefined) {
      results.push({ index, step: planned, status: 'not-run' });
      continue;
    }
    if (planned.alreadyDone !== undefined && planned.precondition === undefined) {
      results.push({ index, step: planned, status: 'already-done' });
      continue;
    }
    let step = planned;
    try {
      step = resolveStep(planned, outputs);
    } catch (error) {
      stop(index, failure(index, planned, error, options));
      continue;
    }
    if (isWaitStep(step)) {
      try {
        await runWait(step, index, gateway, options);
        results.push({ index, step, status: 'applied' });
      } catch (error) {
        stop(index, failure(index, step, error, options), error);
      }
      continue;
    }

    let precondition: CheckResult | undefined;
    if (step.precondition) {
      const read = await readState(step.precondition, gateway, probes, outputs);
      precondition = read.result;
      if (read.result.state === 'unreadable') {
        const cause = read.error ?? new PreconditionError(read.result.evidence);
        const readStep = { ...step, service: step.precondition.service, operation: step.precondition.operation };
        const failed = failure(index, readStep, cause, options, { step, precondition });
        stop(index, { ...failed, errorMessage: `not sent: the state it assumes could not be read (${read.result.evidence})` }, cause);
        continue;
      }
      if (read.result.state === 'done') {
        results.push({ index, step, status: 'already-done', precondition });
        continue;
      }
      if (read.result.state === 'changed') {
        stop(index, { index, step, status: 'stale', precondition });
        continue;
      }
    }

    let nothingChanged: string | undefined;
    try {
      // The SDK adds fields (ChecksumAlgorithm, …) to the object it is given: it gets a copy, so the plan stays what the rule planned.
      const output = await gateway.call(step.service, step.operation, structuredClone(step.input));
      if (step.id !== undefined) outputs[step.id] = withoutMetadata(output);
      nothingChanged = unchangedBy(step, output);
      if (nothingChanged === undefined) {
        const read = step.verification ? await readState(step.verification, gateway, probes, outputs) : undefined;
        const verification = read?.result;
        results.push({ index, step, status: 'applied', ...(precondition ? { precondition } : {}), ...(verification ? { verification } : {}) });
        if (read?.error !== undefined && isOutOfTime(read.error)) {
          // Sent, not yet confirmed: the retry starts at this step, whose read before the write then shows it done.
          interruptedAt = index;
          stoppedAt = index;
        }
        continue;
      }
    } catch (error) {
      const code = errorCode(error);
      if (!step.alreadyDoneCodes?.includes(code)) {
        stop(index, failure(index, step, error, options, precondition ? { precondition } : {}), error);
        continue;
      }
      nothingChanged = code;
    }
    // AWS says there was nothing to change. Believe it only when a fresh read agrees.
    const check = step.verification ?? step.precondition;
    const verification = check ? (await readState(check, gateway, probes, outputs)).result : undefined;
    if (verification === undefined || verification.state === 'done' || verification.state === 'unreadable') {
      results.push({ index, step, status: 'already-done', errorCode: nothingChanged, ...(precondition ? { precondition } : {}), ...(verification ? { verification } : {}) });
      continue;
    }
    stop(index, {
      index,
      step,
      status: 'failed',
      errorCode: 'NothingChanged',
      errorMessage: `AWS changed nothing (${nothingChanged}), yet ${verification.evidence}`,
      ...(precondition ? { precondition } : {}),
      verification,
    });
  }
  const resumeAt = interruptedAt ?? (stoppedAt !== undefined && results[stoppedAt]?.status === 'failed' ? stoppedAt : undefined);
  const stopped = resumeAt === undefined ? undefined : plan[resumeAt];
  return {
    status: executionStatus(results),
    steps: results,
    ...(unexpectedError !== undefined ? { unexpectedError } : {}),
    ...(interruptedAt !== undefined ? { interrupted: true as const } : {}),
    ...(resumeAt !== undefined && stopped
      ? { resume: { fromIndex: resumeAt, ...(stopped.id ? { stepId: stopped.id } : {}), operation: stopped.operation, outputs, steps: results.slice(0, resumeAt) } }
      : {}),
  };
}

/** What a read before each write step shows now, without writing anything: the present state of a proposal. */
export interface PreflightReport {
  /**
   * - `open`: at least one step is still needed (or could not be checked), and none is stale;
   * - `already-fixed`: a read showed every write step's effect in place;
   * - `stale`: a read showed the resource changed since the event.
   */
  readonly status: 'open' | 'already-fixed' | 'stale';
  /** One entry per write step, in plan order; `undefined` where the step has no check, or depends on an earlier step's output. */
  readonly checks: readonly (CheckResult | undefined)[];
}

function holdsRef(value: unknown): boolean {
  if (isStepOutputRef(value)) return true;
  if (Array.isArray(value)) return value.some(holdsRef);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(holdsRef);
  return false;
}

/** Reads each write step's precondition (read-only calls only), for proposals and notices that should speak of the present. */
export async function preflightPlan(plan: Plan, gateway: AwsGateway, probes: readonly Probe[]): Promise<PreflightReport> {
  const checks: (CheckResult | undefined)[] = [];
  for (const step of plan) {
    if (isWaitStep(step)) continue;
    const check = step.precondition;
    const read = check && !holdsRef(check.input) ? await readState(check, gateway, probes) : undefined;
    // Out of time: the proposal is not told half-read; the event is retried (`pacing.ts`).
    if (read?.error !== undefined && isOutOfTime(read.error)) throw read.error;
    checks.push(read?.result);
  }
  const status = checks.some((c) => c?.state === 'changed')
    ? 'stale'
    : checks.length > 0 && checks.every((c) => c?.state === 'done')
      ? 'already-fixed'
      : 'open';
  return { status, checks };
}

