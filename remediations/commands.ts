/**
 * Each family's SDK command table, for callers that run any family's plans
 * (the CLI's `invoke` and `undo`, and the registry meta-tests). Lambda
 * handlers import only their own family's table, to keep bundles small.
 */
import type { CommandTable } from '../engine/aws.js';
import type { DeployedFamily } from './registry.js';
import { cloudtrailCommands } from './cloudtrail/commands.js';
import { credentialCommands } from './credentials/commands.js';
import { ebsCommands } from './ebs/commands.js';
import { iamCommands } from './iam/commands.js';
import { instanceCommands } from './instances/commands.js';
import { sagemakerCommands } from './sagemaker/commands.js';
import { securityGroupCommands } from './security-groups/commands.js';
import { s3Commands } from './s3/commands.js';
import { kmsCommands } from './kms/commands.js';
import { exemptionCommands } from './exemptions/commands.js';

export const commandsByFamily: Readonly<Record<DeployedFamily, CommandTable>> = {
  'security-groups': securityGroupCommands,
  ebs: ebsCommands,
  iam: iamCommands,
  instances: instanceCommands,
  cloudtrail: cloudtrailCommands,
  credentials: credentialCommands,
  sagemaker: sagemakerCommands,
  s3: s3Commands,
  kms: kmsCommands,
  exemptions: exemptionCommands,
};
