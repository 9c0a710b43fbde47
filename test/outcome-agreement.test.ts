/**
 * The replay and the Lambda say the same thing about every decision: for
 * every recorded event, in every mode and with a write cap that bites, the
 * replay's `outcome` is what the Lambda path resolved before its first call
 * (`resolveOutcome`, recorded in `runEvent`'s records).
 *
 * The Lambda runs each family's rules in its own function, against an account
 * that answers every read with AccessDenied, so that its facts are as
 * unavailable as the replay's offline ones.
 *
 * Mutations caught: the replay ignoring the mode, ignoring
 * `maxWritesPerInvocation`, sharing one cap across families, or labelling a
 * disposition differently from the Lambda.
 */
import { describe, expect, it } from 'vitest';
import { decideRecord, type ReplayLine } from '../cli/replay.js';
import type { AwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { parseEvent } from '../engine/event.js';
import { runEvent } from '../engine/lambda.js';
import { dispositionLabel } from '../engine/outcome.js';
import { MODES, type Mode } from '../engine/types.js';
import { allRules, families } from '../remediations/registry.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const denied: AwsGateway = {
  call: async (_service, operation) => {
    throw Object.assign(new Error(`not authorized to perform ${operation}`), { name: 'AccessDenied' });
  },
};

function configFor(mode: Mode, maxWritesPerInvocation?: number) {
  const rules = Object.fromEntries(allRules.map((rule) => [rule.id, { mode }]));
  return parseConfig({ rules, ...(maxWritesPerInvocation === undefined ? {} : { maxWritesPerInvocation }) }, allRules);
}

const variants = [...MODES.filter((mode) => mode !== 'off').map((mode) => ({ label: mode, config: configFor(mode) })), { label: 'remediate, at most 1 write per invocation', config: configFor('remediate', 1) }];

/** The Lambda's resolved outcome per rule, each family in its own invocation. */
async function lambdaOutcomes(event: unknown, config: ReturnType<typeof configFor>, now: Date): Promise<Record<string, string>> {
  const outcomes: Record<string, string> = {};
  for (const family of families) {
    const { records } = await runEvent(structuredClone(event), { rules: family.rules, config, env: {}, gateway: denied, logger: recordingLogger(), now: () => now });
    for (const record of records) outcomes[record.decision.rule] = dispositionLabel(record.disposition);
  }
  return outcomes;
}

describe('the replay and the Lambda agree on what happens to each decision', () => {
  const fixtures = allFixtureNames();

  it.each(variants.map((variant) => [variant.label, variant] as const))('in mode %s, on every recorded event', async (_, { config }) => {
    let compared = 0;
    for (const name of fixtures) {
      const event = loadEvent(name);
      const lines = (await decideRecord({ origin: name, value: event }, { rules: allRules, config, env: {} })) ?? [];
      const decided = lines.filter((line): line is Exclude<ReplayLine, { verdict: 'invalid' }> => line.verdict !== 'invalid');
      if (decided.length === 0) continue;
      const parsed = parseEvent(event);
      if (!parsed.success) continue;
      const lambda = await lambdaOutcomes(event, config, new Date(parsed.event.detail.eventTime));
      const replay = Object.fromEntries(decided.map((line) => [line.rule, line.outcome]));
      expect(replay, name).toStrictEqual(lambda);
      compared += decided.length;
    }
    expect(compared).toBeGreaterThan(50);
  });

  it('labels a capped plan a proposal, with the reason, in the replay', async () => {
    const config = configFor('remediate', 0);
    const lines = (await decideRecord({ origin: 'x', value: loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json') }, { rules: allRules, config, env: {} })) ?? [];
    expect(lines).toMatchObject([{ rule: 'sg-open-ingress', outcome: 'would-propose', outcomeNote: expect.stringContaining('maxWritesPerInvocation 0') }]);
  });
});
