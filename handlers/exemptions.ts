/** Lambda entry point for the exemptions family: an alert whenever the exemption tag is added to a resource. */
import { lambdaHandler } from '../engine/handler.js';
import { exemptionCommands } from '../remediations/exemptions/commands.js';
import { exemptionRules } from '../remediations/exemptions/index.js';

export const handler = lambdaHandler({ rules: exemptionRules, commands: exemptionCommands });
