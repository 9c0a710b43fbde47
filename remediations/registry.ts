/**
 * The static rule registry. Adding a rule is one module, its events and tests,
 * and one line in its family's list. `serverless.yml` derives its EventBridge
 * patterns and IAM statements from here (through `deploy/values.cjs`).
 */
import type { Family, Rule } from '../engine/types.js';
import { cloudtrailRules } from './cloudtrail/index.js';
import { credentialRules } from './credentials/index.js';
import { ebsRules } from './ebs/index.js';
import { securityGroupRules } from './security-groups/index.js';
import { iamRules } from './iam/index.js';
import { instanceRules } from './instances/index.js';
import { sagemakerRules } from './sagemaker/index.js';
import { s3Rules } from './s3/index.js';
import { kmsRules } from './kms/index.js';
import { exemptionRules } from './exemptions/index.js';

export const rulesByFamily = {
  'security-groups': securityGroupRules,
  iam: iamRules,
  ebs: ebsRules,
  instances: instanceRules,
  cloudtrail: cloudtrailRules,
  credentials: credentialRules,
  sagemaker: sagemakerRules,
  s3: s3Rules,
  kms: kmsRules,
  exemptions: exemptionRules,
} as const satisfies Partial<Record<Family, readonly Rule[]>>;

export type DeployedFamily = keyof typeof rulesByFamily;

export const allRules: readonly Rule[] = Object.values(rulesByFamily).flat();

export function findRule(id: string): Rule | undefined {
  return allRules.find((rule) => rule.id === id);
}
