/**
 * The static rule registry. Adding a rule is one module, its events and tests,
 * and one line in its family's list. `serverless.yml` derives its EventBridge
 * patterns and IAM statements from here (through `deploy/values.cjs`).
 */
import type { Family, Rule } from '../engine/types.js';
import { securityGroupRules } from './security-groups/index.js';

export const rulesByFamily = {
  'security-groups': securityGroupRules,
} as const satisfies Partial<Record<Family, readonly Rule[]>>;

export type DeployedFamily = keyof typeof rulesByFamily;

export const allRules: readonly Rule[] = Object.values(rulesByFamily).flat();

export function findRule(id: string): Rule | undefined {
  return allRules.find((rule) => rule.id === id);
}
