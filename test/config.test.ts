import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../cli/config-file.js';
import { ConfigError, modeFor, parseConfig } from '../engine/config.js';
import { allRules } from '../remediations/registry.js';
import { registeredRule } from './helpers/registered.js';

const sgOpenIngress = registeredRule('sg-open-ingress');

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseConfig(raw, allRules, { rejectUnknownRules: true });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills every default from an empty file: all rules propose', () => {
    const config = parseConfig(undefined, allRules);
    expect(config.defaultMode).toBe('propose');
    expect(config.exemptionTagKey).toBe('remediation:exempt');
    expect(config.rules['sg-open-ingress']).toStrictEqual({
      mode: 'propose',
      settings: { allowedPorts: ['tcp/80', 'tcp/443'], ipv4MinPrefix: 8, ipv6MinPrefix: 32 },
    });
  });

  it('names a bad mode and the allowed values', () => {
    expect(problemsOf({ rules: { 'sg-open-ingress': { mode: 'fix-it' } } })).toStrictEqual([
      'rules.sg-open-ingress.mode: expected one of off, notify, propose, remediate, got "fix-it"',
    ]);
    expect(problemsOf({ defaultMode: 'yes' })).toStrictEqual(['defaultMode: expected one of "off", "notify", "propose", "remediate", got "yes"']);
  });

  it('names an unknown rule id and lists the known ones', () => {
    const [problem] = problemsOf({ rules: { 'sg-open-ingres': { mode: 'remediate' } } });
    expect(problem).toMatch(/^rules\.sg-open-ingres: unknown rule; allowed: .*sg-open-ingress/);
  });

  it('names unknown top-level keys and bad rule settings', () => {
    expect(problemsOf({ exemptTag: 'x' })).toStrictEqual(['(root): unknown key(s) "exemptTag"']);
    expect(problemsOf({ rules: { 'sg-open-ingress': { allowedPorts: ['ssh'] } } })).toStrictEqual([
      'rules.sg-open-ingress.allowedPorts.0: a port is "tcp/443", "udp/53" or a range "tcp/8000-8080"',
    ]);
    expect(problemsOf({ trustedAccounts: ['12345'] })).toStrictEqual(['trustedAccounts.0: an AWS account id is 12 digits']);
  });

  it('takes half of each API rate limit by default, and refuses a share outside (0, 1]', () => {
    expect(parseConfig(undefined, allRules).apiShare).toBe(0.5);
    expect(parseConfig({ apiShare: 1 }, allRules).apiShare).toBe(1);
    const expected = ['apiShare: a share of each rate limit over 0 and at most 1, such as 0.5 for half'];
    expect(problemsOf({ apiShare: 0 })).toStrictEqual(expected);
    expect(problemsOf({ apiShare: 1.5 })).toStrictEqual(expected);
  });

  it('refuses ports outside 0-65535 and ranges written high to low, naming each', () => {
    expect(problemsOf({ rules: { 'sg-open-ingress': { allowedPorts: ['tcp/99999', 'tcp/443-80', 'udp/0-65535'] } } })).toStrictEqual([
      'rules.sg-open-ingress.allowedPorts.0: a port is a number from 0 to 65535',
      'rules.sg-open-ingress.allowedPorts.1: a port range goes from the lower port to the higher one, e.g. "tcp/80-443"',
    ]);
  });
});

describe('remediation.config.yml', () => {
  it('lists every rule with exactly the built-in defaults, so reading it never surprises', () => {
    const path = join(import.meta.dirname, '..', 'remediation.config.yml');
    const shipped = loadConfigFile(path, allRules);
    expect(shipped).toStrictEqual(parseConfig({}, allRules));
    // parseConfig fills in a rule the file leaves out, so the file itself is read for the list.
    const raw = parseYaml(readFileSync(path, 'utf8')) as { rules?: Record<string, unknown> };
    expect(Object.keys(raw.rules ?? {}).sort()).toStrictEqual(allRules.map((rule) => rule.id).sort());
  });
});

describe('modeFor', () => {
  const config = parseConfig({ rules: { 'sg-open-ingress': { mode: 'remediate' } } }, allRules);
  it('uses the configured mode', () => expect(modeFor(sgOpenIngress, config, {})).toBe('remediate'));
  it('caps remediate at propose when DRY_RUN=true', () => expect(modeFor(sgOpenIngress, config, { DRY_RUN: 'true' })).toBe('propose'));
  it('keeps off as off under DRY_RUN', () => {
    const off = parseConfig({ rules: { 'sg-open-ingress': { mode: 'off' } } }, allRules);
    expect(modeFor(sgOpenIngress, off, { DRY_RUN: 'TRUE' })).toBe('off');
  });
});
