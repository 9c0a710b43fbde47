/**
 * Per-rule counters as CloudWatch metrics in the Embedded Metric Format
 * (Powertools Metrics): namespace `RemediationBot`, dimensions `service`,
 * `family` and, for everything a rule decided, `rule`.
 *
 * The engine counts through the small {@link EngineMetrics} interface, so tests
 * and the CLI need no Powertools. In Lambda, `engine/handler.ts` flushes the
 * function-level counters with the `logMetrics` middleware.
 */
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { Env } from './decide.js';

const METRICS_NAMESPACE = 'RemediationBot';

/**
 * - Function level (no `rule` dimension): `Events` received, `InvalidInput`
 *   (malformed events), `DuplicateInProgress` (a concurrent duplicate sent back to Lambda to retry).
 * - Per rule: the verdicts `Violations`, `Compliant`; the outcomes
 *   `Applied` (verified), `RemediationUnverified` (applied, not verified),
 *   `AlreadyFixed`, `Stale`, `Proposed`, `Notified`, `Failed`, `Exempt`;
 *   `Skipped` (the bot could not inspect the event: an alert went out) and
 *   `Ignored` (an expected skip: failed call, own call, ignored principal, rule off);
 *   `RuleFailed` (the rule threw); `Duplicate` (a repeated delivery answered
 *   from the idempotency store); `BlastRadiusCapped` (applied plan turned into
 *   a proposal by `maxWritesPerInvocation`); `WriteBudgetExhausted` (the
 *   deployment's write budget across events was spent); and the bot's own troubles,
 *   `AlertFailed`, `AlertSigningFailed` (published unsigned) and `UndoRecordFailed`.
 * - Function level: `Interrupted` (an invocation ran out of time with work
 *   left; Lambda's retry resumes it) and `ProgressRefused` (a stored progress
 *   record without the bot's seal was set aside).
 * - `RemediationUnverified`, `Skipped`, `Failed` and `RuleFailed` are also
 *   counted at function level, where the stack's alarms watch them.
 */
export const METRIC_NAMES = [
  'Events',
  'InvalidInput',
  'DuplicateInProgress',
  'Violations',
  'Compliant',
  'Skipped',
  'Ignored',
  'RuleFailed',
  'Applied',
  'RemediationUnverified',
  'Stale',
  'AlreadyFixed',
  'Proposed',
  'Notified',
  'Failed',
  'Exempt',
  'Duplicate',
  'BlastRadiusCapped',
  'WriteBudgetExhausted',
  'AlertFailed',
  'AlertSigningFailed',
  'UndoRecordFailed',
  'HistoryWriteFailed',
  'ProposalStoreFailed',
  'Interrupted',
  'ProgressRefused',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface EngineMetrics {
  /** Adds 1 to `name`, for `rule` when given, otherwise for the function. */
  count(name: MetricName, rule?: string): void;
}

export const noMetrics: EngineMetrics = { count: () => undefined };

/** The function's Metrics instance: flushed by the `logMetrics` middleware at the end of each invocation. */
export function createMetrics(family: string, env: Env = {}): Metrics {
  return new Metrics({
    namespace: env['POWERTOOLS_METRICS_NAMESPACE'] || METRICS_NAMESPACE,
    serviceName: env['POWERTOOLS_SERVICE_NAME'] || 'remediation-bot',
    defaultDimensions: { family },
  });
}

/**
 * Function-level counters go to the buffered instance. A rule's counter is
 * emitted at once as its own EMF record with the extra `rule` dimension: one
 * buffered record carries a single set of dimension values, and one event can
 * be decided by several rules.
 */
export function powertoolsMetrics(metrics: Metrics): EngineMetrics {
  return {
    count(name, rule) {
      if (rule === undefined) {
        metrics.addMetric(name, MetricUnit.Count, 1);
        return;
      }
      metrics.singleMetric().addDimension('rule', rule).addMetric(name, MetricUnit.Count, 1);
    },
  };
}
