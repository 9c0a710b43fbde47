/**
 * Each family's SDK command table, for callers that run any family's plans
 * (the CLI's `invoke` and `undo`, and the registry meta-tests). Lambda
 * handlers import only their own family's table, to keep bundles small.
 */
import type { CommandTable } from '../engine/aws.js';
import type { DeployedFamily } from './registry.js';
import { securityGroupCommands } from './security-groups/commands.js';

export const commandsByFamily: Readonly<Record<DeployedFamily, CommandTable>> = {
  'security-groups': securityGroupCommands,
};
