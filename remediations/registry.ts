/**
 * The static rule registry: one line per family. Adding a rule is its module,
 * its events and test, and one line in its family's file; adding a family is
 * its family file, a one-line handler in `handlers/` and one line here.
 * `serverless.yml` derives its functions, EventBridge patterns and IAM
 * statements from here (through `deploy/values.cjs`).
 */
import type { CommandTable } from '../engine/aws.js';
import type { Family, Rule } from '../engine/types.js';
import { cloudtrailFamily } from './cloudtrail/index.js';
import { credentialsFamily } from './credentials/index.js';
import { detectorsFamily } from './detectors/index.js';
import { ebsFamily } from './ebs/index.js';
import { efsFamily } from './efs/index.js';
import { exemptionsFamily } from './exemptions/index.js';
import { iamFamily } from './iam/index.js';
import { instancesFamily } from './instances/index.js';
import { kmsFamily } from './kms/index.js';
import { s3Family } from './s3/index.js';
import { sagemakerFamily } from './sagemaker/index.js';
import { securityGroupsFamily } from './security-groups/index.js';

export const families = [
  securityGroupsFamily,
  iamFamily,
  ebsFamily,
  instancesFamily,
  cloudtrailFamily,
  credentialsFamily,
  sagemakerFamily,
  s3Family,
  kmsFamily,
  exemptionsFamily,
  efsFamily,
  detectorsFamily,
] as const satisfies readonly Family[];

export type DeployedFamily = (typeof families)[number]['name'];

export const familiesByName: Readonly<Record<DeployedFamily, Family<DeployedFamily>>> = Object.fromEntries(families.map((family) => [family.name, family])) as Record<
  DeployedFamily,
  Family<DeployedFamily>
>;

export const rulesByFamily: Readonly<Record<DeployedFamily, readonly Rule[]>> = Object.fromEntries(families.map((family) => [family.name, family.rules])) as Record<
  DeployedFamily,
  readonly Rule[]
>;

/** Each family's SDK command table, for callers that run any family's plans (the CLI's `invoke` and `undo`, and the meta-tests). */
export const commandsByFamily: Readonly<Record<DeployedFamily, CommandTable>> = Object.fromEntries(families.map((family) => [family.name, family.commands])) as Record<
  DeployedFamily,
  CommandTable
>;

export const allRules: readonly Rule[] = families.flatMap((family) => family.rules);

export function findRule(id: string): Rule | undefined {
  return allRules.find((rule) => rule.id === id);
}
