/** The cloudtrail family (audit logging kept on): one Lambda function per region holds these rules and only their permissions. */
import { legacyFamily } from '../../rulekit/define.js';
import { cloudtrailCommands } from './commands.js';
import { cloudtrailLoggingWeakened } from './cloudtrail-logging-weakened.js';

export const cloudtrailFamily = legacyFamily({ name: 'cloudtrail', rules: [cloudtrailLoggingWeakened], commands: cloudtrailCommands });

/** The family's rules, as the registry and the deployment see them. */
export const cloudtrailRules = cloudtrailFamily.rules;
