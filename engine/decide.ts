/**
 * The decision path shared by the Lambda handlers and the dry-run replay:
 * route the event to the rules it triggers, apply the engine's skips, gather
 * facts, and evaluate. Nothing here writes to AWS.
 */
import { accountName, configForAccount, consoleSignIn, modeFor, settingsFor, type Config } from './config.js';
import { DETAIL_TYPE, principalArn, principalArns, stringField, type CloudTrailEvent } from './event.js';
import { configExemption } from './exemption.js';
import { matchesAnyGlob, wildcardMatches } from './glob.js';
import { guardVerdict } from './plan-guard.js';
import { isOutOfTime } from './pacing.js';
import { MEMBER_ROLE_PATH, partitionOf } from './accounts.js';
import { sourceFor } from './patterns.js';
import { decisionSeverity, type Decision, type Fact, type Facts, type Lookup, type Rule, type RuleContext, type SkipCause, type Trigger, type Verdict } from './types.js';

/** Where facts come from: live read-only AWS calls in Lambda, nothing offline. */
export interface FactSource {
  fetch(lookup: Lookup, input: Readonly<Record<string, unknown>>, event: CloudTrailEvent): Promise<Fact>;
}

export const offlineFacts: FactSource = {
  fetch: async () => ({ status: 'unavailable', reason: 'offline replay has no AWS access' }),
};

export type Env = Readonly<Record<string, string | undefined>>;

interface DecideContext {
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
function triggers(rule: Rule, trigger: Trigger, event: CloudTrailEvent): boolean {
  // The pattern lists the sources and detail-types of all the rule's triggers side by side (see `patternForTriggers`):
  // match them the same way, so that routing and the deployed pattern agree on any event, even one no service sends.
  return (
    rule.triggers.some((t) => event['detail-type'] === (t.detailType ?? DETAIL_TYPE)) &&
    rule.triggers.some((t) => event.source === sourceFor(t.eventSource)) &&
    event.detail.eventSource === trigger.eventSource &&
    trigger.eventNames.includes(event.detail.eventName) &&
    requestMatches(trigger, event)
  );
}

/** EventBridge's `wildcard` on one request field: `*` is any run of characters, everything else is literal. */
function requestMatches(trigger: Trigger, event: CloudTrailEvent): boolean {
  const match = trigger.requestMatch;
  if (!match) return true;
  const value = stringField(event.detail.requestParameters, match.field);
  return value !== undefined && wildcardMatches(value, match.wildcard);
}

/** The rules a parsed event triggers, in registry order. */
export function triggeredRules(rules: readonly Rule[], event: CloudTrailEvent): Rule[] {
  return rules.filter((rule) => rule.triggers.some((trigger) => triggers(rule, trigger, event)));
}

/**
 * The bot's own identity, as the deployment passes it: the exact ARNs of its
 * function roles (`BOT_PRINCIPALS`, comma-separated) and the session names the
 * Lambda runtime gives their sessions, which are the function names
 * (`BOT_SESSION_NAMES`). Never a pattern: anyone allowed `iam:CreateRole` can
 * copy a name or a path, nobody can copy an exact ARN that exists.
 */
interface BotIdentity {
  readonly roles: readonly string[];
  readonly sessions: readonly string[];
}

function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** The identity last read, with the two variables it was read from: the replay decides thousands of events with one environment. */
let lastIdentity: { readonly principals: string | undefined; readonly sessionNames: string | undefined; readonly identity: BotIdentity } | undefined;

function botIdentity(env: Env): BotIdentity {
  const principals = env['BOT_PRINCIPALS'];
  const sessionNames = env['BOT_SESSION_NAMES'];
  if (lastIdentity !== undefined && lastIdentity.principals === principals && lastIdentity.sessionNames === sessionNames) return lastIdentity.identity;
  const identity = { roles: commaList(principals), sessions: commaList(sessionNames) };
  lastIdentity = { principals, sessionNames, identity };
  return identity;
}

/** Whether an IAM role ARN is exactly one of the bot's roles. */
export function isBotRole(arn: string | undefined, roles: readonly string[]): boolean {
  return arn !== undefined && roles.includes(arn);
}

/**
 * Whether the bot itself made the call: an assumed-role session of exactly one
 * of its roles, with the session name Lambda uses (when the deployment names
 * them). A role on the same path, or with a similar name, is anybody else.
 */
function isBotCall(event: CloudTrailEvent, identity: BotIdentity, env: Env): boolean {
  const user = event.detail.userIdentity;
  if (user?.type !== 'AssumedRole') return false;
  const issuer = user.sessionContext?.sessionIssuer?.arn;
  if (isMemberRole(issuer, event, env)) return true;
  if (!isBotRole(issuer, identity.roles)) return false;
  if (identity.sessions.length === 0) return true;
  const session = /^arn:[^:]+:sts::\d{12}:assumed-role\/[^/]+\/(.+)$/.exec(user.arn ?? '')?.[1];
  return session !== undefined && identity.sessions.includes(session);
}

/**
 * In a member account served by an Organization hub, the bot is the member
 * role of one of its families in exactly that account
 * (`arn:…:iam::<account>:role/remediation-bot/<name>`, names in
 * `BOT_MEMBER_ROLE_NAMES`): one role per name per account, created by the
 * member template, so the exact ARN is known without listing every account.
 */
function isMemberRole(issuer: string | undefined, event: CloudTrailEvent, env: Env): boolean {
  const home = env['BOT_ACCOUNT'];
  if (issuer === undefined || !home || event.account === home || !isServedAccount(event.account, env)) return false;
  const partition = partitionOf(issuer);
  return commaList(env['BOT_MEMBER_ROLE_NAMES']).some((name) => issuer === `arn:${partition}:iam::${event.account}:role${MEMBER_ROLE_PATH}${name}`);
}

/**
 * Skips the engine makes before any rule runs: a failed call changed nothing;
 * the bot's own calls must never trigger it (loops); ignored principals are
 * break-glass identities whose actions people have decided to trust.
 */
function engineSkip(event: CloudTrailEvent, config: Config, env: Env): { reason: string; cause: SkipCause } | undefined {
  const { errorCode } = event.detail;
  if (typeof errorCode === 'string' && errorCode.length > 0) return { reason: `the call failed (${errorCode}), so it changed nothing`, cause: 'failed-call' };
  const scope = foreignScope(event, env);
  if (scope) return { reason: scope, cause: 'foreign-scope' };
  if (isBotCall(event, botIdentity(env), env)) return { reason: `the call was made by the bot itself (${principalArn(event)})`, cause: 'own-call' };
  for (const arn of principalArns(event)) {
    const ignored = matchesAnyGlob(arn, config.ignorePrincipals);
    if (ignored) return { reason: `principal ${arn} is ignored by config (${ignored})`, cause: 'ignored-principal' };
  }
  return undefined;
}

/**
 * Whether a deployment acts in `account`: its own (`BOT_ACCOUNT`), a listed
 * member (`BOT_MEMBER_ACCOUNTS`), or, in an Organization hub
 * (`BOT_ORGANIZATION_ID`), any account, since only the organisation's accounts
 * can put events on the hub's bus and the hub's roles may assume member roles
 * only in the organisation (`aws:ResourceOrgID`).
 */
export function isServedAccount(account: string, env: Env): boolean {
  const home = env['BOT_ACCOUNT'];
  if (!home || account === home) return true;
  if (commaList(env['BOT_MEMBER_ACCOUNTS']).includes(account)) return true;
  return /^o-[a-z0-9]{10,32}$/.test(env['BOT_ORGANIZATION_ID'] ?? '') && /^\d{12}$/.test(account);
}

/**
 * A deployed function acts only on its own account (and, in an organisation,
 * the member accounts it serves), in its own Region: an event from elsewhere
 * reached it by mistake or by design of someone else, and is reported, not
 * acted on. Outside a deployment (`BOT_ACCOUNT` unset: the CLI) nothing is out of scope.
 */
function foreignScope(event: CloudTrailEvent, env: Env): string | undefined {
  const home = env['BOT_ACCOUNT'];
  if (!home) return undefined;
  if (!isServedAccount(event.account, env)) {
    const served = [home, ...commaList(env['BOT_MEMBER_ACCOUNTS'])];
    return `the event is for account ${event.account}, which this deployment does not serve (${served.join(', ')}): not acted on`;
  }
  const region = env['AWS_REGION'];
  if (region && event.region !== region) return `the event is for Region ${event.region}, and this function acts in ${region} only: not acted on`;
  return undefined;
}

/** In `notify` mode nothing will be run or proposed, so the decision shows no plan. */
function forMode(verdict: Verdict, mode: Decision['mode']): Verdict {
  if (verdict.kind !== 'violation' || mode !== 'notify' || (verdict.plan.length === 0 && verdict.proposal === undefined)) return verdict;
  const { proposal: _proposal, ...rest } = verdict;
  return { ...rest, plan: [] };
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

/** Only the engine says a skip was expected: a rule's own skip always means "could not inspect". */
function withoutEngineCause(verdict: Verdict): Verdict {
  if (verdict.kind !== 'skipped' || verdict.cause === undefined) return verdict;
  const { cause: _cause, ...rest } = verdict;
  return rest;
}

/**
 * A violation on a resource the config exempts, until the exemption's end: the
 * exempt verdict keeps the findings, so the alert shows what it let through.
 * After the end the violation stands, and says the exemption expired.
 */
function withConfigExemption(verdict: Verdict, rule: Rule, context: DecideContext): Verdict {
  if (verdict.kind !== 'violation') return verdict;
  const match = configExemption(context.config, rule.id, verdict.resources, context.now);
  if (!match) return verdict;
  if (match.active) return { kind: 'exempt', reason: `${verdict.resources[0] ?? 'the resource'} is ${match.reason}`, resources: verdict.resources, findings: verdict.findings };
  return { ...verdict, summary: `${verdict.summary} (its exemption in the config expired on ${match.expired})` };
}

/** Decides one (event, rule) pair. Never throws: a rule that fails is a `rule-failed` skip, which alerts. */
export async function decide(event: CloudTrailEvent, rule: Rule, given: DecideContext): Promise<Decision> {
  // The account's own modes and trusted accounts (an Organization hub's member, or the hub's own account).
  const context = { ...given, config: configForAccount(given.config, event.account) };
  const mode = modeFor(rule, context.config, context.env);
  const name = accountName(context.config, event.account);
  const signIn = consoleSignIn(context.config, event.account);
  const base = {
    eventId: event.detail.eventID,
    eventName: event.detail.eventName,
    eventSource: event.detail.eventSource,
    eventTime: event.detail.eventTime,
    account: event.account,
    ...(name !== undefined ? { accountName: name } : {}),
    ...(signIn ? { consoleSignIn: signIn } : {}),
    region: event.region,
    principal: principalArn(event),
    ...(event.detail.sourceIPAddress ? { sourceIp: event.detail.sourceIPAddress } : {}),
    rule: rule.id,
    ruleTitle: rule.title,
    mode,
  };
  const decision = (verdict: Verdict, unavailableFacts: readonly string[] = []): Decision => ({
    ...base,
    severity: decisionSeverity(rule, verdict),
    verdict,
    unavailableFacts,
  });

  if (mode === 'off') return decision({ kind: 'skipped', reason: 'rule is off in config', cause: 'rule-off' });
  const skip = engineSkip(event, context.config, context.env);
  if (skip) return decision({ kind: 'skipped', ...skip });

  try {
    const ruleContext: RuleContext = {
      config: context.config,
      settings: settingsFor(rule, context.config),
      now: context.now,
      botRoles: botIdentity(context.env).roles,
    };
    const { facts, unavailable } = await gatherFacts(rule, event, context.facts, ruleContext);
    const verdict = withConfigExemption(withoutEngineCause(rule.evaluate(event, facts, ruleContext)), rule, context);
    return decision(forMode(guardVerdict(verdict), mode), unavailable);
  } catch (error) {
    // The invocation's time ran out while reading facts: nothing was decided, Lambda retries the event.
    if (isOutOfTime(error)) throw error;
    return decision({ kind: 'skipped', reason: `the rule failed on this event, so it was not inspected (${describeError(error)})`, cause: 'rule-failed' });
  }
}

/** Decides every rule the event triggers, in registry order. */
export async function decideAll(event: CloudTrailEvent, rules: readonly Rule[], context: DecideContext): Promise<Decision[]> {
  const decisions: Decision[] = [];
  for (const rule of triggeredRules(rules, event)) decisions.push(await decide(event, rule, context));
  return decisions;
}
