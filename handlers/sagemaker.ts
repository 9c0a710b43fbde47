/** Lambda entry point for the sagemaker family. */
import { lambdaHandler } from '../engine/handler.js';
import { sagemakerCommands } from '../remediations/sagemaker/commands.js';
import { sagemakerRules } from '../remediations/sagemaker/index.js';

export const handler = lambdaHandler({ rules: sagemakerRules, commands: sagemakerCommands });
