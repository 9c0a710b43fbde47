/** Lambda entry point for the credentials family (deployed in every Region: sign-ins and STS calls are recorded where they happen). */
import { lambdaHandler } from '../engine/handler.js';
import { credentialCommands } from '../remediations/credentials/commands.js';
import { credentialRules } from '../remediations/credentials/index.js';

export const handler = lambdaHandler({ rules: credentialRules, commands: credentialCommands });
