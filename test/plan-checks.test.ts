/**
 * "Fixed" means a read showed it fixed, and the bot acts on the present: over
 * every rule and every recorded event, every write step of every plan and
 * proposal carries a read before it (precondition) and a read after it
 * (verification), judged by a probe the rule declares; and the executor, fed
 * any mix of answers, reads before each write, reads after it, never reports
 * a step applied without a read that shows it, and never reports it already
 * done without evidence.
 *
 * Mutations this file catches (each was tried): the executor skipping the
 * precondition, skipping the verification, reporting `applied` on a write
 * whose read afterwards is not `done`, or trusting an "already gone" error
 * code against a read that says otherwise; a rule shipping a write step
 * without checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import { parseEvent, type CloudTrailEvent } from '../engine/event.js';
import { executePlan, isConfirmed } from '../engine/executor.js';
import { ruleMatches } from '../engine/patterns.js';
import { isWaitStep, type Plan, type Probe, type ProbeVerdict, type Rule } from '../engine/types.js';
import { commandsByFamily } from '../remediations/registry.js';
import { allRules, type DeployedFamily } from '../remediations/registry.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';

const fixtures = allFixtureNames().flatMap((name) => {
  const parsed = parseEvent(loadEvent(name));
  return parsed.success ? [{ name, event: parsed.event }] : [];
});

interface Planned {
  readonly label: string;
  readonly rule: Rule;
  readonly event: CloudTrailEvent;
  readonly plan: Plan;
}

/** Every plan and proposal of every rule on every fixture, decided offline with every rule in `remediate`. */
async function allPlans(): Promise<Planned[]> {
  const config = parseConfig({ rules: Object.fromEntries(allRules.map((rule) => [rule.id, { mode: 'remediate' }])) }, allRules);
  const found: Planned[] = [];
  for (const { name, event } of fixtures) {
    for (const rule of allRules.filter((r) => ruleMatches(r, event))) {
      const { verdict } = await decide(event, rule, { config, env: {}, facts: offlineFacts, now: new Date('2025-01-01T00:00:00Z') });
      if (verdict.kind !== 'violation') continue;
      if (verdict.plan.length > 0) found.push({ label: `${rule.id} on ${name}: plan`, rule, event, plan: verdict.plan });
      if (verdict.proposal && verdict.proposal.length > 0) found.push({ label: `${rule.id} on ${name}: proposal`, rule, event, plan: verdict.proposal });
    }
  }
  return found;
}

const planned = await allPlans();
const writes = (plan: Plan) => plan.filter((step) => !isWaitStep(step));

describe('every write step checks the present before and after', () => {
  it('has plans to check', () => {
    expect(planned.length).toBeGreaterThan(0);
  });

  it('every write step of every plan and proposal has a precondition and a verification, each judged by a probe its rule declares', () => {
    const problems: string[] = [];
    for (const { label, rule, plan } of planned) {
      for (const step of writes(plan)) {
        for (const [kind, check] of [
          ['precondition', step.precondition],
          ['verification', step.verification],
        ] as const) {
          if (!check) {
            problems.push(`${label}: ${step.operation} has no ${kind}`);
            continue;
          }
          const probe = (rule.probes ?? []).find((p) => p.name === check.probe);
          if (!probe) problems.push(`${label}: ${step.operation}'s ${kind} names probe "${check.probe}", which ${rule.id} does not declare`);
          else if (probe.service !== check.service || probe.operation !== check.operation) problems.push(`${label}: ${step.operation}'s ${kind} reads ${check.operation}, not its probe's ${probe.operation}`);
          if (check.description.trim().length < 10) problems.push(`${label}: ${step.operation}'s ${kind} has no description a person can read`);
        }
      }
    }
    expect(problems).toStrictEqual([]);
  });

  it("every probe reads with a read-only API that its family's command table can send", () => {
    const problems: string[] = [];
    for (const rule of allRules) {
      const table = commandsByFamily[rule.family as DeployedFamily];
      const names = new Set<string>();
      for (const probe of rule.probes ?? []) {
        if (names.has(probe.name)) problems.push(`${rule.id}: probe ${probe.name} is declared twice`);
        names.add(probe.name);
        if (!/^(Describe|Get|List)/.test(probe.operation)) problems.push(`${rule.id}: probe ${probe.name} calls ${probe.operation}, which is not a read`);
        if (!table?.commands[`${probe.service}:${probe.operation}`]) problems.push(`${rule.id}: ${probe.service}:${probe.operation} is not in the ${rule.family} command table`);
      }
    }
    expect(problems).toStrictEqual([]);
  });
});

/** What the stand-in probes answer, in order, for one run; the last answer repeats. */
const verdicts = fc.array(fc.constantFrom<ProbeVerdict['state'] | 'unreadable'>('needed', 'done', 'changed', 'unreadable'), { minLength: 1, maxLength: 12 });
const writeOutcomes = fc.array(fc.constantFrom('ok', 'gone', 'denied'), { minLength: 1, maxLength: 12 });

describe('the executor, fed any answers, keeps the protocol', () => {
  const withChecks = planned.filter(({ plan }) => writes(plan).every((step) => step.precondition && step.verification));

  it('has checked plans to run', () => {
    expect(withChecks.length).toBeGreaterThan(0);
  });

  it('reads before each write and after it, reports "applied" only on a read that shows it done, and "already-done" only with evidence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...withChecks), verdicts, writeOutcomes, async ({ label, rule, plan }, answers, outcomes) => {
        const reads = new Set((rule.probes ?? []).map((probe) => `${probe.service}:${probe.operation}`));
        let nextAnswer = 0;
        let nextWrite = 0;
        const log: ('read' | 'write')[] = [];
        // Every probe of the rule answers with the next scripted verdict, whatever AWS would have said.
        const probes: Probe[] = (rule.probes ?? []).map((probe) => ({
          ...probe,
          judge: () => {
            const state = answers[Math.min(nextAnswer, answers.length - 1)] ?? 'needed';
            nextAnswer += 1;
            if (state === 'unreadable') throw new Error('scripted: unreadable answer');
            return { state, evidence: `scripted ${state}` };
          },
        }));
        const gateway: AwsGateway = {
          async call(service, operation) {
            if (reads.has(`${service}:${operation}`)) {
              log.push('read');
              return {};
            }
            log.push('write');
            const outcome = outcomes[Math.min(nextWrite, outcomes.length - 1)] ?? 'ok';
            nextWrite += 1;
            if (outcome === 'ok') return { SnapshotId: 'snap-0123456789abcdef0', VolumeId: 'vol-0123456789abcdef0' };
            const code = outcome === 'gone' ? (writes(plan)[0]?.alreadyDoneCodes?.[0] ?? 'NotFound') : 'AccessDenied';
            throw Object.assign(new Error(code), { name: code, $fault: 'client', $metadata: { httpStatusCode: 400 } });
          },
          async wait() {
            return {};
          },
        };
        const report = await executePlan(plan, gateway, { probes, remainingTimeMs: () => 900_000 });
        // Reads around writes: a write is always right after a read, and a write that answered is followed by a read.
        log.forEach((entry, index) => {
          if (entry === 'write') expect(log[index - 1], `${label}: a write without a read before it (${log.join(',')})`).toBe('read');
        });
        for (const result of report.steps) {
          if (isWaitStep(result.step)) continue;
          if (result.status === 'applied') expect(result.verification, `${label}: applied without a read after it`).toBeDefined();
          if (result.status === 'already-done' && !result.resumed) {
            const evidence = [result.precondition, result.verification].filter((check) => check !== undefined);
            expect(evidence.length, `${label}: already-done without evidence`).toBeGreaterThan(0);
          }
        }
        if (report.status === 'applied' || report.status === 'already-fixed') {
          expect(report.steps.every(isConfirmed), `${label}: ${report.status} though a step is unconfirmed`).toBe(true);
        }
        if (report.steps.some((r) => r.status === 'applied' && !isWaitStep(r.step) && r.verification?.state !== 'done')) expect(report.status).not.toBe('applied');
      }),
      { numRuns: 400 },
    );
  });
});
