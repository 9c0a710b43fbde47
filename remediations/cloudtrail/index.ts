/** The cloudtrail family (audit logging kept on): one Lambda function per region holds these rules and only their permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { cloudtrailLoggingWeakened } from './cloudtrail-logging-weakened.js';

export const cloudtrailFamily = defineFamily({ name: 'cloudtrail', rules: [cloudtrailLoggingWeakened] });

/** The family's rules, as the registry and the deployment see them. */
export const cloudtrailRules = cloudtrailFamily.rules;
