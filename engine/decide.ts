/**
 * The decision path shared by the Lambda handlers and the dry-run replay:
 * route the event to the rules it triggers, apply the engine's skips, gather
 * facts, and evaluate. Nothing here writes to AWS.
 */
import { modeFor, settingsFor, type Config } from './config.js';
import { DETAIL_TYPE, principalArn, principalArns, type CloudTrailEvent } from './event.js';
import { matchesAnyGlob } from './glob.js';
import { guardVerdict } from './plan-guard.js';
import { sourceFor } from './patterns.js';
import type { Decision, Fact, Facts, Lookup, Rule, RuleContext, Trigger, Verdict } from './types.js';

/** Where facts come from: live read-only AWS calls in Lambda, nothing offline. */
export interface FactSource {
  fetch(lookup: Lookup, input: Readonly<Record<string, unknown>>, event: CloudTrailEvent): Promise<Fact>;
}

export const offlineFacts: FactSource = {
  fetch: async () => ({ status: 'unavailable', reason: 'offline replay has no AWS access' }),
};

export type Env = Readonly<Record<string, string | undefined>>;

export interface DecideContext {
  readonly config: Config;
  readonly env: Env;
  readonly facts: FactSource;
  readonly now: Date;
}

/**
 * Whether a parsed event is one the trigger names. On a parsed event this is
 * exactly what the rule's EventBridge pattern (`patternForRule`) matches: the
 * registry and template tests hold the two together on every recorded event.
 * The Lambda path routes with it and leaves the full EventBridge matcher, which
 * the replay needs for raw records (`ruleMatches`), out of the bundles.
 */
function triggers(trigger: Trigger, event: CloudTrailEvent): boolean {
  return (
    event['detail-type'] === (trigger.detailType ?? DETAIL_TYPE) &&
    event.source === sourceFor(trigger.eventSource) &&
    event.detail.eventSource === trigger.eventSource &&
    trigger.eventNames.includes(event.detail.eventName)
  );
}

/** The rules a parsed event triggers, in registry order. */
export function triggeredRules(rules: readonly Rule[], event: CloudTrailEvent): Rule[] {
  return rules.filter((rule) => rule.triggers.some((trigger) => triggers(trigger, event)));
}

/** The IAM path every role of the deployment carries; the loop check recognises it in `sessionIssuer.arn`. */
export const DEFAULT_BOT_PRINCIPALS = 'arn:aws:iam::*:role/remediation-bot/*';

/** The principals the bot itself runs as (comma-separated ARN globs in `BOT_PRINCIPALS`, set by the deployment). */
export function botPrincipals(env: Env): string[] {
  return (env['BOT_PRINCIPALS'] ?? DEFAULT_BOT_PRINCIPALS)
    .split(',')
    .map((glob) => glob.trim())
    .filter((glob) => glob.length > 0);
}

/**
 * Skips the engine makes before any rule runs: a failed call changed nothing;
 * the bot's own calls must never trigger it (loops); ignored principals are
 * break-glass identities whose actions people have decided to trust.
 */
export function engineSkipReason(event: CloudTrailEvent, config: Config, env: Env): string | undefined {
  const { errorCode } = event.detail;
  if (typeof errorCode === 'string' && errorCode.length > 0) return `the call failed (${errorCode}), so it changed nothing`;
  const arns = principalArns(event);
  for (const arn of arns) {
    const bot = matchesAnyGlob(arn, botPrincipals(env));
    if (bot) return `the call was made by the bot itself (${arn})`;
  }
  for (const arn of arns) {
    const ignored = matchesAnyGlob(arn, config.ignorePrincipals);
    if (ignored) return `principal ${arn} is ignored by config (${ignored})`;
  }
  return undefined;
}

async function gatherFacts(rule: Rule, event: CloudTrailEvent, source: FactSource, context: RuleContext): Promise<{ facts: Facts; unavailable: string[] }> {
  const facts: Record<string, Fact> = {};
  const unavailable: string[] = [];
  for (const lookup of rule.lookups ?? []) {
    const input = lookup.input(event, facts, context);
    if (input === undefined) continue;
    const fact = await source.fetch(lookup, input, event);
    facts[lookup.name] = fact;
    if (fact.status === 'unavailable') unavailable.push(lookup.name);
  }
  return { facts, unavailable };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Decides one (event, rule) pair. Never throws: a rule that fails is reported as skipped with the reason. */
export async function decide(event: CloudTrailEvent, rule: Rule, context: DecideContext): Promise<Decision> {
  const mode = modeFor(rule, context.config, context.env);
  const base = {
    eventId: event.detail.eventID,
    eventName: event.detail.eventName,
    eventSource: event.detail.eventSource,
    eventTime: event.detail.eventTime,
    account: event.account,
    region: event.region,
    principal: principalArn(event),
    ...(event.detail.sourceIPAddress ? { sourceIp: event.detail.sourceIPAddress } : {}),
    rule: rule.id,
    ruleTitle: rule.title,
    severity: rule.severity,
    mode,
  };
  const decision = (verdict: Verdict, unavailableFacts: readonly string[] = []): Decision => ({ ...base, verdict, unavailableFacts });

  if (mode === 'off') return decision({ kind: 'skipped', reason: 'rule is off in config' });
  const skip = engineSkipReason(event, context.config, context.env);
  if (skip) return decision({ kind: 'skipped', reason: skip });

  try {
    const ruleContext: RuleContext = {
      config: context.config,
      settings: settingsFor(rule, context.config),
      now: context.now,
      botPrincipals: botPrincipals(context.env),
    };
    const { facts, unavailable } = await gatherFacts(rule, event, context.facts, ruleContext);
    const verdict = rule.evaluate(event, facts, ruleContext);
    return decision(guardVerdict(verdict), unavailable);
  } catch (error) {
    return decision({ kind: 'skipped', reason: `rule could not evaluate this event (${describeError(error)})` });
  }
}

/** Decides every rule the event triggers, in registry order. */
export async function decideAll(event: CloudTrailEvent, rules: readonly Rule[], context: DecideContext): Promise<Decision[]> {
  const decisions: Decision[] = [];
  for (const rule of triggeredRules(rules, event)) decisions.push(await decide(event, rule, context));
  return decisions;
}
