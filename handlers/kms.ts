/** Lambda entry point for the kms family. */
import { lambdaHandler } from '../engine/handler.js';
import { kmsCommands } from '../remediations/kms/commands.js';
import { kmsRules } from '../remediations/kms/index.js';

export const handler = lambdaHandler({ rules: kmsRules, commands: kmsCommands });
