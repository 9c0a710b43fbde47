/** Lambda entry point for the instances family. */
import { lambdaHandler } from '../engine/handler.js';
import { instanceCommands } from '../remediations/instances/commands.js';
import { instanceRules } from '../remediations/instances/index.js';

export const handler = lambdaHandler({ rules: instanceRules, commands: instanceCommands });
