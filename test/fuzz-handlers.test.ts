/**
 * Hostile and malformed input against every handler path: the real engine
 * (`processEvent`) with each deployed family's rules, every rule in
 * `remediate` mode, and a gateway that records each AWS call.
 *
 * Properties, for every case:
 * - it never throws;
 * - a malformed event (the envelope does not parse) makes no AWS call at all;
 * - every write call, and every step of every plan, names only resources the event names;
 * - no invocation makes more write calls than `maxWritesPerInvocation`;
 * - no rule throws: a rule that fails on some input is a blind spot (it would
 *   alert as "could not inspect" in production), so the properties fail on it;
 *   also not when every value of a recorded request and response is the name
 *   of an `Object.prototype` member (a table indexed by event text must not
 *   find `constructor` in it).
 *
 * Every generated case runs through every family's handler, so each handler
 * gets FUZZ_RUNS cases (default 10,000), split evenly over the three kinds of
 * input. The seed is fixed (FUZZ_SEED, default 8) so that the suite is
 * deterministic; FUZZ_SEED=random explores, and a failure prints its seed.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { parseEvent, type CloudTrailEvent } from '../engine/event.js';
import { type EngineDeps, type EngineLogger } from '../engine/lambda.js';
import { processEvent } from './helpers/engine.js';
import type { PlanStep, Rule } from '../engine/types.js';
import { allRules, rulesByFamily } from '../remediations/registry.js';
import { adversarialFixture, mutatedFixture, randomEvents } from './helpers/hostile-input.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { assertScopedToEvent, eventSources } from './helpers/plan-scope.js';
import { recordingGateway, writeCalls } from './helpers/recording-gateway.js';

const RUNS_PER_KIND = Math.ceil(Number(process.env['FUZZ_RUNS'] ?? 10_000) / 3);
/** A fixed seed keeps the suite deterministic; FUZZ_SEED=random explores new cases (a failure prints its seed). */
/** Generous: the suite shares two cores with the other test files. */
const FUZZ_TIMEOUT_MS = 600_000;
const SEED = process.env['FUZZ_SEED'] === 'random' ? {} : { seed: Number(process.env['FUZZ_SEED'] ?? 8) };
const MAX_WRITES = 3;
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-fuzz-alerts';

/** The parsed event, or `undefined` when it is malformed (a parser that throws counts as malformed; `processEvent` guards the same way). */
function parseOrUndefined(raw: unknown): CloudTrailEvent | undefined {
  try {
    const parsed = parseEvent(raw);
    return parsed.success ? parsed.event : undefined;
  } catch {
    return undefined;
  }
}

/** The engine with everything switched on, and a check of the properties after each case. */
function harness(family: string, rules: readonly Rule[]) {
  const lookups = new Set(rules.flatMap((rule) => [...(rule.lookups ?? []), ...(rule.probes ?? [])].map((read) => `${read.service}:${read.operation}`)));
  // Every other case, reads are denied (facts unavailable, checks unreadable), the other cases they find nothing: rules and the executor then take both paths.
  let lookupsDenied = false;
  const denied = Object.assign(new Error('denied by the fuzz harness'), { name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } });
  const gateway = recordingGateway((call) => {
    if (lookupsDenied && lookups.has(`${call.service}:${call.operation}`)) throw denied;
    return {};
  });
  const plans: PlanStep[][] = [];
  const failures: string[] = [];
  const logger: EngineLogger = {
    info: (message, ...extra) => {
      const plan = extra[0]?.['plan'];
      if (message === 'decision' && Array.isArray(plan)) plans.push(plan as PlanStep[]);
      const summary = extra[0]?.['summary'];
      if (message === 'decision' && typeof summary === 'string' && summary.startsWith('the rule failed on this event')) failures.push(summary);
    },
    warn: () => undefined,
    error: () => undefined,
    appendKeys: () => undefined,
    removeKeys: () => undefined,
  };
  const config = parseConfig({ maxWritesPerInvocation: MAX_WRITES, rules: Object.fromEntries(rules.map((rule) => [rule.id, { mode: 'remediate' }])) }, rules);
  const deps: EngineDeps = {
    rules,
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: `remediation-bot-fuzz-${family}` },
    gateway,
    logger,
    now: () => new Date('2024-05-01T12:00:00Z'),
  };

  return async function check(raw: unknown): Promise<void> {
    lookupsDenied = !lookupsDenied;
    gateway.reset();
    plans.length = 0;
    failures.length = 0;
    const parsed = parseOrUndefined(raw);
    const result = await processEvent(raw, deps);
    if (failures.length > 0) throw new Error(`a rule threw: ${failures.join('; ')}`);
    if (!parsed) {
      if (result.status !== 'invalid') throw new Error('a malformed event was processed');
      if (gateway.calls.length > 0) throw new Error(`a malformed event made ${gateway.calls.length} AWS call(s)`);
      return;
    }
    const writes = writeCalls(gateway.calls, rules);
    if (writes.length > MAX_WRITES) throw new Error(`${writes.length} write calls in one invocation (max ${MAX_WRITES})`);
    const steps = plans.flat();
    // Most cases plan nothing; the event's text is built only when there is something to check.
    if (writes.length === 0 && steps.length === 0) return;
    const sources = eventSources(parsed);
    assertScopedToEvent(writes, sources, 'write call');
    assertScopedToEvent(steps, sources, 'plan');
  };
}

const families = Object.entries(rulesByFamily);
const checks = families.map(([family, rules]) => ({ family, check: harness(family, rules) }));

/** Every case goes through every family's handler: one generated input, one check per handler. */
async function checkEveryHandler(raw: unknown): Promise<void> {
  for (const { family, check } of checks) {
    try {
      await check(raw);
    } catch (error) {
      throw new Error(`${family} handler: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}

describe(`hostile input to every handler (${families.map(([family]) => family).join(', ')})`, () => {
  it('never crashes on random JSON or random envelopes, and a malformed event makes no AWS call', async () => {
    await fc.assert(fc.asyncProperty(randomEvents(allRules), checkEveryHandler), { numRuns: RUNS_PER_KIND, ...SEED });
  }, FUZZ_TIMEOUT_MS);

  it('never crashes on mutated fixtures (removed fields, swapped types, huge strings, deep nesting, unicode, out-of-range numbers, arrays for objects)', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedFixture, ({ event }) => checkEveryHandler(event)),
      { numRuns: RUNS_PER_KIND, ...SEED },
    );
  }, FUZZ_TIMEOUT_MS);

  it('acts only on resources the event names, even when its ids, names and policy documents are adversarial', async () => {
    await fc.assert(
      fc.asyncProperty(adversarialFixture, ({ event }) => checkEveryHandler(event)),
      { numRuns: RUNS_PER_KIND, ...SEED },
    );
  }, FUZZ_TIMEOUT_MS);

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('never crashes when every string of a recorded request and response is %s', async (name) => {
    const replace = (value: unknown): unknown => {
      if (typeof value === 'string') return name;
      if (Array.isArray(value)) return value.map(replace);
      if (typeof value !== 'object' || value === null) return value;
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replace(item)]));
    };
    for (const fixture of allFixtureNames()) {
      const event = loadEvent(fixture) as { detail: Record<string, unknown> };
      const detail = { ...event.detail, requestParameters: replace(event.detail['requestParameters']), responseElements: replace(event.detail['responseElements']) };
      try {
        await checkEveryHandler({ ...event, detail });
      } catch (error) {
        throw new Error(`${fixture}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
  }, FUZZ_TIMEOUT_MS);
});
