/** Lambda entry point for the IAM family (deployed in us-east-1, where IAM's CloudTrail events reach EventBridge). */
import { lambdaHandler } from '../engine/handler.js';
import { iamCommands } from '../remediations/iam/commands.js';
import { iamRules } from '../remediations/iam/index.js';

export const handler = lambdaHandler({ rules: iamRules, commands: iamCommands });
