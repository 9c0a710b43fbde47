/** Lambda entry point for the security-groups family. */
import { lambdaHandler } from '../engine/handler.js';
import { securityGroupCommands } from '../remediations/security-groups/commands.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';

export const handler = lambdaHandler({ rules: securityGroupRules, commands: securityGroupCommands });
