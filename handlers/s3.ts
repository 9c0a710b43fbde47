/** Lambda entry point for the s3 family. */
import { lambdaHandler } from '../engine/handler.js';
import { s3Commands } from '../remediations/s3/commands.js';
import { s3Rules } from '../remediations/s3/index.js';

export const handler = lambdaHandler({ rules: s3Rules, commands: s3Commands });
