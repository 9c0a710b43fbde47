/**
 * The one place Lambda middleware is wired: every family handler in
 * `handlers/` is a single `familyHandler(family)` call (`handlers/runtime.ts`),
 * which builds the engine's handler from its ports and wraps it here.
 *
 * - Logger: Lambda context on every line; the engine appends the event id and
 *   rule, and `resetKeys` clears them between invocations.
 * - Metrics: EMF counters per rule (`metrics.ts`), flushed by `logMetrics`
 *   after every invocation, failed ones included, with a cold-start metric.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EngineLogger, InvocationContext, InvocationResult } from './lambda.js';
import { createMetrics, powertoolsMetrics, type EngineMetrics } from './metrics.js';
import type { Rule } from './types.js';

export function lambdaHandler(
  rules: readonly Rule[],
  build: (logger: EngineLogger, metrics: EngineMetrics) => (event: unknown, context?: InvocationContext) => Promise<InvocationResult>,
) {
  const logger = new Logger({ serviceName: 'remediation-bot' });
  const metrics = createMetrics(rules[0]?.family ?? 'unknown', process.env);
  return middy(build(logger, powertoolsMetrics(metrics)))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}
