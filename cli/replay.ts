/**
 * Dry-run replay: every record goes the way production takes it. EventBridge
 * first routes it by each rule's pattern; only an event that reaches a rule is
 * parsed and decided, by the same `decideAll` as the Lambdas, offline, and
 * given the outcome the Lambda would give it by the same `resolveOutcome`.
 * Nothing is executed; the plan is printed.
 */
import type { Config } from '../engine/config.js';
import { decideAll, offlineFacts, type Env } from '../engine/decide.js';
import { matchingRules } from '../engine/patterns.js';
import { parseEvent } from '../engine/event.js';
import { dispositionLabel, resolveOutcome, type Disposition } from '../engine/outcome.js';
import { verdictSummary, type Decision, type Plan, type Rule } from '../engine/types.js';
import type { InputRecord } from './inputs.js';
import { classifyRecord } from './records.js';

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
      /** What the deployed function would do, by `resolveOutcome` (`would-apply`, `would-propose`, `would-notify`, `exempt`, `uninspected`, `none`). */
      readonly outcome: string;
      /** Why the outcome differs from what the mode asks, e.g. over the write budget. */
      readonly outcomeNote?: string;
      readonly resources: readonly string[];
      readonly summary: string;
      readonly plan: Plan;
      readonly proposal?: Plan;
      readonly findings?: readonly { code: string; severity: string; message: string }[];
      readonly unavailableFacts?: readonly string[];
      readonly source: string;
    }
  | { readonly verdict: 'invalid'; readonly eventId?: string; readonly error: string; readonly source: string };

function lineForDecision(decision: Decision, source: string, disposition: Disposition): ReplayLine {
  const { verdict } = decision;
  const note = disposition.kind === 'apply' ? undefined : disposition.note;
  const summary = verdictSummary(verdict);
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
    outcome: dispositionLabel(disposition),
    ...(note ? { outcomeNote: note } : {}),
    resources: verdict.resources ?? [],
    summary,
    plan: verdict.kind === 'violation' ? verdict.plan : [],
    ...(verdict.kind === 'violation' && verdict.proposal ? { proposal: verdict.proposal } : {}),
    ...(verdict.kind === 'violation' ? { findings: verdict.findings.map(({ code, severity, message }) => ({ code, severity, message })) } : {}),
    ...(decision.unavailableFacts.length > 0 ? { unavailableFacts: decision.unavailableFacts } : {}),
    source,
  };
}

/**
 * Stands for a record that reached a rule but fell outside the time window.
 * `decideRecord` returns it so that the summary can count what `--since` and
 * `--until` filtered out, in the worker threads too; it is an `invalid` line to
 * whatever counts lines on the way (so never a decided record), and
 * `runReplay` and `replayRecord` count it and drop it: no output shows it.
 */
interface OutsideWindowMarker {
  readonly verdict: 'invalid';
  readonly error: string;
  readonly source: string;
  readonly outsideWindow: true;
}

function outsideWindow(source: string): ReplayLine {
  const marker: OutsideWindowMarker = { verdict: 'invalid', error: 'outside the --since/--until window or the --account list', source, outsideWindow: true };
  return marker;
}

/** True for the line `decideRecord` gives a record outside the time window (never printed). */
export function isOutsideWindow(line: ReplayLine): boolean {
  return 'outsideWindow' in line && line.outsideWindow === true;
}

/** `eventTime` bounds in epoch milliseconds: `since` inclusive, `until` exclusive; and, with `--account`, the accounts kept. */
export interface TimeWindow {
  readonly since?: number;
  readonly until?: number;
  readonly accounts?: readonly string[];
}

export interface ReplayOptions {
  readonly rules: readonly Rule[];
  readonly config: Config;
  readonly env: Env;
  readonly now?: Date;
  readonly window?: TimeWindow;
}

function eventTimeOf(event: Record<string, unknown>): unknown {
  const detail = event['detail'];
  return typeof detail === 'object' && detail !== null ? (detail as Record<string, unknown>)['eventTime'] : undefined;
}

/**
 * Decides one record. `undefined` when it reaches no rule: EventBridge would
 * not deliver it, or no rule's pattern matches it. A record that reaches a rule
 * but falls outside the time window is one marker line (see
 * {@link isOutsideWindow}). A record that reaches a rule but is malformed is one
 * `invalid` line, as the Lambda would reject it.
 */
export async function decideRecord(record: InputRecord, options: ReplayOptions): Promise<ReplayLine[] | undefined> {
  if ('error' in record) return [{ verdict: 'invalid', error: record.error, source: record.origin }];
  const classified = classifyRecord(record.value);
  if (classified.kind === 'invalid') return [{ verdict: 'invalid', error: classified.error, source: record.origin }];
  if (classified.kind === 'not-delivered') return undefined;
  const { event } = classified;
  const reached = matchingRules(options.rules, event);
  if (reached.length === 0) return undefined;
  const { window } = options;
  // `--account`: an organisation trail holds every account's records; the others are counted as filtered out.
  if (window?.accounts !== undefined && !window.accounts.includes(String(event['account']))) return [outsideWindow(record.origin)];
  if (window && (window.since !== undefined || window.until !== undefined)) {
    const eventTime = eventTimeOf(event);
    const time = typeof eventTime === 'string' ? Date.parse(eventTime) : Number.NaN;
    if (Number.isNaN(time)) {
      return [{ verdict: 'invalid', error: `detail.eventTime: expected an ISO 8601 timestamp, got ${JSON.stringify(eventTime) ?? 'missing'}`, source: record.origin }];
    }
    if ((window.since !== undefined && time < window.since) || (window.until !== undefined && time >= window.until)) return [outsideWindow(record.origin)];
  }
  const parsed = parseEvent(event);
  if (!parsed.success) {
    return [{ verdict: 'invalid', eventId: parsed.error.eventId, error: parsed.error.message, source: record.origin }];
  }
  const decisions = await decideAll(parsed.event, reached, {
    config: options.config,
    env: options.env,
    facts: offlineFacts,
    now: options.now ?? new Date(parsed.event.detail.eventTime),
  });
  // An event is one invocation of each family's function: the decisions of a family share its per-invocation
  // write cap, as in the Lambda. The stack's budget across events lives in DynamoDB and is not consulted offline.
  const maxWritesPerInvocation = options.config.maxWritesPerInvocation;
  const writesLeft = new Map<string, number>();
  return decisions.map((decision) => {
    const family = reached.find((rule) => rule.id === decision.rule)?.family ?? '';
    const left = writesLeft.get(family) ?? maxWritesPerInvocation;
    const disposition = resolveOutcome(decision, { writesLeft: left, maxWritesPerInvocation });
    if (disposition.kind === 'apply') writesLeft.set(family, left - disposition.writes);
    return lineForDecision(decision, record.origin, disposition);
  });
}

/** Replays one record into zero or more lines: none when it reaches no rule. */
export async function replayRecord(record: InputRecord, options: ReplayOptions): Promise<ReplayLine[]> {
  return ((await decideRecord(record, options)) ?? []).filter((line) => !isOutsideWindow(line));
}
