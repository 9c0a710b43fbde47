/**
 * Dry-run replay: every record goes through the same parse → match → decide
 * path as the Lambdas, offline. Nothing is executed; the plan is printed.
 */
import type { Config } from '../engine/config.js';
import { decideAll, offlineFacts, type Env } from '../engine/decide.js';
import { parseEvent } from '../engine/event.js';
import type { Decision, Plan, Rule } from '../engine/types.js';
import type { InputRecord } from './inputs.js';

/** One line of the `jsonl` contract. */
export type ReplayLine =
  | {
      readonly eventId: string;
      readonly eventName: string;
      readonly eventSource: string;
      readonly eventTime: string;
      readonly account: string;
      readonly region: string;
      readonly principal: string;
      readonly rule: string;
      readonly verdict: Decision['verdict']['kind'];
      readonly severity: string;
      readonly mode: string;
      readonly resources: readonly string[];
      readonly summary: string;
      readonly plan: Plan;
      readonly proposal?: Plan;
      readonly findings?: readonly { code: string; severity: string; message: string }[];
      readonly unavailableFacts?: readonly string[];
      readonly source: string;
    }
  | { readonly verdict: 'invalid'; readonly eventId?: string; readonly error: string; readonly source: string };

export function lineForDecision(decision: Decision, source: string): ReplayLine {
  const { verdict } = decision;
  const summary = verdict.kind === 'violation' || verdict.kind === 'compliant' ? verdict.summary : verdict.reason;
  return {
    eventId: decision.eventId,
    eventName: decision.eventName,
    eventSource: decision.eventSource,
    eventTime: decision.eventTime,
    account: decision.account,
    region: decision.region,
    principal: decision.principal,
    rule: decision.rule,
    verdict: verdict.kind,
    severity: decision.severity,
    mode: decision.mode,
    resources: verdict.resources ?? [],
    summary,
    plan: verdict.kind === 'violation' ? verdict.plan : [],
    ...(verdict.kind === 'violation' && verdict.proposal ? { proposal: verdict.proposal } : {}),
    ...(verdict.kind === 'violation' ? { findings: verdict.findings.map(({ code, severity, message }) => ({ code, severity, message })) } : {}),
    ...(decision.unavailableFacts.length > 0 ? { unavailableFacts: decision.unavailableFacts } : {}),
    source,
  };
}

export interface ReplayOptions {
  readonly rules: readonly Rule[];
  readonly config: Config;
  readonly env: Env;
  readonly now?: Date;
}

/** Replays one record into zero or more lines: none when no rule's pattern matches. */
export async function replayRecord(record: InputRecord, options: ReplayOptions): Promise<ReplayLine[]> {
  if ('error' in record) return [{ verdict: 'invalid', error: record.error, source: record.origin }];
  const parsed = parseEvent(record.value);
  if (!parsed.success) {
    return [{ verdict: 'invalid', eventId: parsed.error.eventId, error: parsed.error.message, source: record.origin }];
  }
  const decisions = await decideAll(parsed.event, options.rules, {
    config: options.config,
    env: options.env,
    facts: offlineFacts,
    now: options.now ?? new Date(parsed.event.detail.eventTime),
  });
  return decisions.map((decision) => lineForDecision(decision, record.origin));
}
