/** Lambda entry point for the cloudtrail family. */
import { lambdaHandler } from '../engine/handler.js';
import { cloudtrailCommands } from '../remediations/cloudtrail/commands.js';
import { cloudtrailRules } from '../remediations/cloudtrail/index.js';

export const handler = lambdaHandler({ rules: cloudtrailRules, commands: cloudtrailCommands });
