/** Registry meta-tests: every rule is documented, testable, deployable and has exactly the permissions its plans need. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts, triggeredRules } from '../engine/decide.js';
import { parseEvent, stringField, type CloudTrailEvent } from '../engine/event.js';
import { wildcardMatches } from '../engine/glob.js';
import { iamActionFor } from '../engine/iam-actions.js';
import { compilePattern } from '../engine/pattern-match.js';
import { matchingRules, patternForRules, ruleMatches } from '../engine/patterns.js';
import type { Rule } from '../engine/types.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allRules, commandsByFamily, families, rulesByFamily, type DeployedFamily } from '../remediations/registry.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';

const fixtures: { name: string; event: CloudTrailEvent }[] = allFixtureNames().map((name) => {
  const parsed = parseEvent(loadEvent(name));
  if (!parsed.success) throw new Error(`fixture ${name} does not parse: ${parsed.error.message}`);
  return { name, event: parsed.event };
});
const config = parseConfig({}, allRules);
/** Rules that find nothing until a setting turns them on: their fixtures are decided with it on. */
const OPT_IN_SETTINGS: Readonly<Record<string, Record<string, unknown>>> = { 'sagemaker-model-not-isolated': { requireNetworkIsolation: true } };
const configFor = (rule: Rule) => (OPT_IN_SETTINGS[rule.id] ? parseConfig({ rules: { [rule.id]: OPT_IN_SETTINGS[rule.id] } }, allRules) : config);
const familyOf = (rule: Rule) => rule.family as DeployedFamily;

/** Whether a trigger names the event: its source and name, and the request field it narrows on, if any (EventBridge's `wildcard`). */
function triggeredBy(rule: Rule, event: CloudTrailEvent): boolean {
  return rule.triggers.some((t) => {
    if (t.eventSource !== event.detail.eventSource || !t.eventNames.includes(event.detail.eventName)) return false;
    if (!t.requestMatch) return true;
    const value = stringField(event.detail.requestParameters, t.requestMatch.field);
    return value !== undefined && wildcardMatches(value, t.requestMatch.wildcard);
  });
}

describe('rule registry', () => {
  it('has unique kebab-case ids', () => {
    const ids = allRules.map((rule) => rule.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it('puts every rule in the family it declares', () => {
    for (const [family, rules] of Object.entries(rulesByFamily)) for (const rule of rules) expect(rule.family).toBe(family);
  });

  describe('handlers, families and the registry agree', () => {
    const HANDLERS = join(import.meta.dirname, '..', 'handlers');
    /** Functions that are not a rule family: the alert topic's subscribers (Slack, Security Hub), and the wiring every family handler shares. */
    const NOT_FAMILIES = new Set(['member-access.ts', 'notifier.ts', 'securityhub.ts', 'runtime.ts', 'slack-approvals.ts']);
    const handlerFiles = readdirSync(HANDLERS).filter((name) => name.endsWith('.ts') && !NOT_FAMILIES.has(name));

    it('has one handler file per registered family, named after it, and no other', () => {
      expect(handlerFiles.map((name) => name.replace(/\.ts$/, '')).sort()).toStrictEqual(families.map((family) => family.name).sort());
    });

    it.each(families.map((family) => [family.name, family] as const))(
      'handlers/%s.ts is one static import of its family from its own folder and one familyHandler call',
      async (name, family) => {
        const code = readFileSync(join(HANDLERS, `${name}.ts`), 'utf8').replace(/\/\*\*[\s\S]*?\*\/\n/, '');
        const imported = /^import \{ (\w+) \} from '\.\.\/remediations\/([a-z0-9-]+)\/index\.js';\nimport \{ familyHandler \} from '\.\/runtime\.js';\n\nexport const handler = familyHandler\((\w+)\);\n$/.exec(code);
        expect(imported, `handlers/${name}.ts`).not.toBeNull();
        const [, binding, folder, argument] = imported ?? [];
        expect(folder).toBe(name);
        expect(argument).toBe(binding);
        const module = (await import(/* @vite-ignore */ join(import.meta.dirname, '..', 'remediations', name, 'index.ts'))) as Record<string, unknown>;
        expect(module[binding ?? ''], `${binding} is the registry's ${name} family`).toBe(family);
      },
    );
  });

  describe.each(allRules.map((rule) => [rule.id, rule] as const))('%s', (_, rule) => {
    const own = fixtures.filter(({ event }) => triggeredBy(rule, event));

    it('says what it is and why it matters (what it changes and never touches: docs/rules.md, checked by test/readme.test.ts)', () => {
      expect(rule.title.length).toBeGreaterThan(5);
      expect(rule.rationale.length).toBeGreaterThan(30);
    });

    it('has recorded events for every trigger, with violating and compliant variants', async () => {
      for (const name of rule.triggers.flatMap((t) => t.eventNames)) {
        expect(own.some(({ event }) => event.detail.eventName === name), `no fixture for ${name}`).toBe(true);
      }
      const verdicts = new Set<string>();
      for (const { event } of own) verdicts.add((await decide(event, rule, { config: configFor(rule), env: {}, facts: offlineFacts, now: new Date(0) })).verdict.kind);
      expect([...verdicts]).toEqual(expect.arrayContaining(['violation', 'compliant']));
    });

    it('has a pattern that matches every one of its fixtures and no fixture of another trigger', () => {
      for (const { name, event } of fixtures) expect(ruleMatches(rule, event), name).toBe(triggeredBy(rule, event));
    });

    it('declares permissions that cover every plan step, with no wildcard action', async () => {
      const actions = new Set(rule.permissions.map((p) => p.action));
      for (const action of actions) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
      for (const lookup of rule.lookups ?? []) expect(lookup.permission).toBe(iamActionFor(lookup.service, lookup.operation));
      for (const { event } of own) {
        const { verdict } = await decide(event, rule, { config: configFor(rule), env: {}, facts: offlineFacts, now: new Date(0) });
        if (verdict.kind !== 'violation') continue;
        for (const step of verdict.plan.filter((s) => !s.operation.startsWith('wait'))) {
          const action = iamActionFor(step.service, step.operation);
          expect(actions.has(action), `${rule.id} plans ${step.operation} without ${action}`).toBe(true);
        }
      }
    });

    it("can run every plan step and lookup through its family's command table", async () => {
      const table = commandsByFamily[familyOf(rule)];
      for (const lookup of rule.lookups ?? []) expect(table.commands[`${lookup.service}:${lookup.operation}`], lookup.operation).toBeDefined();
      for (const { event } of own) {
        const { verdict } = await decide(event, rule, { config: configFor(rule), env: {}, facts: offlineFacts, now: new Date(0) });
        if (verdict.kind !== 'violation') continue;
        for (const step of verdict.plan.filter((s) => !s.operation.startsWith('wait'))) {
          expect(table.commands[`${step.service}:${step.operation}`], `${step.service}:${step.operation}`).toBeDefined();
        }
      }
    });
  });

  it('routes a parsed event to exactly the rules whose EventBridge pattern matches it', () => {
    const ids = (rules: readonly Rule[]) => rules.map((rule) => rule.id);
    for (const { name, event } of fixtures) expect(ids(triggeredRules(allRules, event)), name).toStrictEqual(ids(matchingRules(allRules, event)));
    // Recombine the four routed fields across fixtures (and with strangers), so
    // near misses such as a known event name from another source are covered.
    const seen = (pick: (event: CloudTrailEvent) => string) => [...new Set(fixtures.map(({ event }) => pick(event)))];
    const field = (values: string[]) => fc.oneof(fc.constantFrom(...values), fc.string({ maxLength: 12 }));
    const recombined = fc.record({
      base: fc.constantFrom(...fixtures),
      detailType: field(seen((e) => e['detail-type'])),
      source: field(seen((e) => e.source)),
      eventSource: field(seen((e) => e.detail.eventSource)),
      eventName: field(seen((e) => e.detail.eventName)),
    });
    fc.assert(
      fc.property(recombined, ({ base, detailType, source, eventSource, eventName }) => {
        const parsed = parseEvent({ ...base.event, 'detail-type': detailType, source, detail: { ...base.event.detail, eventSource, eventName } });
        if (!parsed.success) return;
        expect(ids(triggeredRules(allRules, parsed.event))).toStrictEqual(ids(matchingRules(allRules, parsed.event)));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds the matching rules of a raw record by its event name exactly as every rule matcher would, whatever the name holds', () => {
    const ids = (rules: readonly Rule[]) => rules.map((rule) => rule.id);
    const names = [...new Set(fixtures.map(({ event }) => event.detail.eventName))];
    // EventBridge matches an array if one of its items is listed: such names, and any other non-string, go past the index.
    const nameValue = fc.oneof(
      fc.constantFrom(...names),
      fc.array(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })), { maxLength: 3 }),
      fc.constantFrom(undefined, null, 7, {}),
    );
    fc.assert(
      fc.property(fc.constantFrom(...fixtures), nameValue, ({ event }, eventName) => {
        const { eventName: _name, ...rest } = event.detail;
        const raw = { ...event, detail: eventName === undefined ? rest : { ...rest, eventName } };
        expect(ids(matchingRules(allRules, raw))).toStrictEqual(ids(allRules.filter((rule) => ruleMatches(rule, raw))));
      }),
      { numRuns: 1000 },
    );
    const listed = fixtures.find(({ event }) => matchingRules(allRules, event).length > 0);
    if (!listed) throw new Error('no fixture reaches a rule');
    expect(matchingRules(allRules, { ...listed.event, detail: { ...listed.event.detail, eventName: [listed.event.detail.eventName] } }).length).toBeGreaterThan(0);
    // A list changed after its first use is indexed again.
    const list = allRules.filter((rule) => !matchingRules(allRules, listed.event).includes(rule));
    expect(matchingRules(list, listed.event)).toStrictEqual([]);
    list.push(...matchingRules(allRules, listed.event));
    expect(ids(matchingRules(list, listed.event))).toStrictEqual(ids(matchingRules(allRules, listed.event)));
  });

  it("matches an event with a family's pattern exactly when it matches one of the family's rules", () => {
    for (const [family, rules] of Object.entries(rulesByFamily)) {
      const familyMatcher = compilePattern(patternForRules(rules));
      for (const { name, event } of fixtures) {
        expect(familyMatcher(event), `${family} ${name}`).toBe(rules.some((rule) => ruleMatches(rule, event)));
      }
    }
  });
});
