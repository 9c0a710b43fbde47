/**
 * What `serverless.yml` needs from the registry, computed in one place:
 * each family's EventBridge pattern, its IAM statements (exactly the union of
 * its rules' permissions and lookups), and the validated config to embed.
 * `deploy/values.cjs` loads this module for osls; tests import it directly.
 */
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseConfig, type Config } from '../engine/config.js';
import { patternForRules, type EventPatternDocument } from '../engine/patterns.js';
import type { Rule } from '../engine/types.js';
import { allRules, rulesByFamily, type DeployedFamily } from '../remediations/registry.js';

export interface IamStatement {
  readonly Effect: 'Allow';
  readonly Action: readonly string[];
  readonly Resource: string | { readonly 'Fn::Sub': string };
}

/** Resource strings use CloudFormation `Fn::Sub` placeholders (`${AWS::AccountId}`); `*` stays a plain string. */
function resourceValue(resource: string): IamStatement['Resource'] {
  return resource.includes('${') ? { 'Fn::Sub': resource } : resource;
}

/** The family's own permissions: plan actions and lookup actions, grouped by resource, sorted for a stable template. */
export function statementsFor(rules: readonly Rule[]): IamStatement[] {
  const byResource = new Map<string, Set<string>>();
  const add = (action: string, resource: string) => {
    const actions = byResource.get(resource) ?? new Set<string>();
    actions.add(action);
    byResource.set(resource, actions);
  };
  for (const rule of rules) {
    for (const permission of rule.permissions) add(permission.action, permission.resource);
    for (const lookup of rule.lookups ?? []) add(lookup.permission, '*');
  }
  return [...byResource.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([resource, actions]) => ({ Effect: 'Allow', Action: [...actions].sort(), Resource: resourceValue(resource) }));
}

export function familyPattern(family: DeployedFamily): EventPatternDocument {
  return patternForRules(rulesByFamily[family]);
}

/** camelCase keys, because serverless variable addresses are dotted paths. */
export function familyKey(family: DeployedFamily): string {
  return family.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

export function loadDeployConfig(path: string): Config {
  const raw: unknown = existsSync(path) ? parseYaml(readFileSync(path, 'utf8')) : {};
  return parseConfig(raw, allRules, { rejectUnknownRules: true });
}

export interface DeploymentValues {
  readonly patterns: Readonly<Record<string, EventPatternDocument>>;
  readonly statements: Readonly<Record<string, readonly IamStatement[]>>;
  /** The config's raw form, embedded into bundles with esbuild `define`. */
  readonly embeddedConfig: string;
}

export function deploymentValues(configPath: string): DeploymentValues {
  const config = loadDeployConfig(configPath);
  const families = Object.keys(rulesByFamily) as DeployedFamily[];
  const raw = {
    defaultMode: config.defaultMode,
    exemptionTagKey: config.exemptionTagKey,
    ignorePrincipals: config.ignorePrincipals,
    trustedAccounts: config.trustedAccounts,
    maxWritesPerInvocation: config.maxWritesPerInvocation,
    notifications: config.notifications,
    rules: Object.fromEntries(
      Object.entries(config.rules).map(([id, rule]) => [id, { mode: rule.mode, ...(rule.settings as Record<string, unknown>) }]),
    ),
  };
  return {
    patterns: Object.fromEntries(families.map((family) => [familyKey(family), familyPattern(family)])),
    statements: Object.fromEntries(families.map((family) => [familyKey(family), statementsFor(rulesByFamily[family])])),
    embeddedConfig: JSON.stringify(raw),
  };
}
