/** Lambda entry point for the ebs family. */
import { lambdaHandler } from '../engine/handler.js';
import { ebsCommands } from '../remediations/ebs/commands.js';
import { ebsRules } from '../remediations/ebs/index.js';

export const handler = lambdaHandler({ rules: ebsRules, commands: ebsCommands });
