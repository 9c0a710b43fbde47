/** Lambda entry point for the security-groups family. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createRemediationHandler } from '../engine/lambda.js';
import { securityGroupCommands } from '../remediations/security-groups/commands.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';

const logger = new Logger({ serviceName: 'remediation-bot' });

export const handler = middy(createRemediationHandler({ rules: securityGroupRules, commands: securityGroupCommands, logger })).use(
  injectLambdaContext(logger, { resetKeys: true }),
);
