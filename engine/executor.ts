/**
 * Runs a plan, step by step, through the AWS gateway. It stops at the first
 * failing step and reports exactly what was applied, what failed (with the AWS
 * error code) and what was not run, so an alert can say how to undo a half-applied plan.
 */
import { errorCode, errorMessage, type AwsGateway } from './aws.js';
import type { Plan, PlanStep } from './types.js';

export type StepStatus = 'applied' | 'already-done' | 'failed' | 'not-run';

export interface StepResult {
  readonly index: number;
  readonly step: PlanStep;
  readonly status: StepStatus;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** For permission errors: the IAM action the function lacks. */
  readonly hint?: string;
}

export interface ExecutionReport {
  /** `already-fixed` when every step found its work already done. */
  readonly status: 'applied' | 'already-fixed' | 'failed';
  readonly steps: readonly StepResult[];
  /** Set when the failure is not an AWS answer the bot understands; the caller rethrows after alerting. */
  readonly unexpectedError?: unknown;
}

const PERMISSION_CODES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'Client.UnauthorizedOperation', 'AuthorizationError']);

/** AWS answered with a client error it documents: the plan failed, but the fault is understood. */
function isAwsServiceError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$metadata' in error && (error as { $fault?: unknown }).$fault === 'client';
}

export function isPermissionError(code: string): boolean {
  return PERMISSION_CODES.has(code);
}

export function permissionHint(step: PlanStep, functionName: string | undefined): string {
  const service = step.service === 's3control' ? 's3' : step.service;
  return `grant ${service}:${step.operation} to ${functionName ? `function ${functionName}` : "this function's role"}`;
}

export interface ExecuteOptions {
  readonly functionName?: string;
  /** Milliseconds left in the Lambda invocation, for steps that wait. */
  readonly remainingTimeMs?: () => number;
}

export async function executePlan(plan: Plan, gateway: AwsGateway, options: ExecuteOptions = {}): Promise<ExecutionReport> {
  const results: StepResult[] = [];
  let failed = false;
  let unexpectedError: unknown;
  for (const [index, step] of plan.entries()) {
    if (failed) {
      results.push({ index, step, status: 'not-run' });
      continue;
    }
    try {
      await gateway.call(step.service, step.operation, step.input);
      results.push({ index, step, status: 'applied' });
    } catch (error) {
      const code = errorCode(error);
      if (step.alreadyDoneCodes?.includes(code)) {
        results.push({ index, step, status: 'already-done', errorCode: code });
        continue;
      }
      failed = true;
      if (!isAwsServiceError(error) && !isPermissionError(code)) unexpectedError = error;
      results.push({
        index,
        step,
        status: 'failed',
        errorCode: code,
        errorMessage: errorMessage(error),
        ...(isPermissionError(code) ? { hint: permissionHint(step, options.functionName) } : {}),
      });
    }
  }
  const status = failed ? 'failed' : results.every((r) => r.status === 'already-done') && results.length > 0 ? 'already-fixed' : 'applied';
  return { status, steps: results, ...(unexpectedError !== undefined ? { unexpectedError } : {}) };
}
