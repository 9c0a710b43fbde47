/**
 * The one place Lambda middleware is wired: every family handler in
 * `handlers/` is a single call to `lambdaHandler` with its rules and commands.
 *
 * - Logger: Lambda context on every line; the engine appends the event id and
 *   rule, and `resetKeys` clears them between invocations.
 * - Metrics: EMF counters per rule (`metrics.ts`), flushed by `logMetrics`
 *   after every invocation, failed ones included, with a cold-start metric.
 * - Idempotency and undo records: when `IDEMPOTENCY_TABLE` is set (`lambda.ts`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { CommandTable } from './aws.js';
import { createRemediationHandler } from './lambda.js';
import { createMetrics, powertoolsMetrics } from './metrics.js';
import type { Rule } from './types.js';

export interface FamilyHandlerOptions {
  readonly rules: readonly Rule[];
  readonly commands: CommandTable;
}

export function lambdaHandler(options: FamilyHandlerOptions) {
  const logger = new Logger({ serviceName: 'remediation-bot' });
  const metrics = createMetrics(options.rules[0]?.family ?? 'unknown', process.env);
  return middy(createRemediationHandler({ ...options, logger, metrics: powertoolsMetrics(metrics) }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}
