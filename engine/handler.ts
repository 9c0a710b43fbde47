/**
 * The one place Lambda middleware is wired: every family handler in
 * `handlers/` is a single call to `lambdaHandler` with its rules and commands.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CommandTable } from './aws.js';
import { createRemediationHandler } from './lambda.js';
import type { Rule } from './types.js';

export interface FamilyHandlerOptions {
  readonly rules: readonly Rule[];
  readonly commands: CommandTable;
}

export function lambdaHandler(options: FamilyHandlerOptions) {
  const logger = new Logger({ serviceName: 'remediation-bot' });
  return middy(createRemediationHandler({ ...options, logger })).use(injectLambdaContext(logger, { resetKeys: true }));
}
