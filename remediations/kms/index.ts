/** The kms family (customer managed keys): one Lambda function holds these rules and only their permissions. */
import { legacyFamily } from '../../rulekit/define.js';
import { kmsCommands } from './commands.js';
import { kmsKeyAtRisk } from './kms-key-at-risk.js';

export const kmsFamily = legacyFamily({ name: 'kms', rules: [kmsKeyAtRisk], commands: kmsCommands });

/** The family's rules, as the registry and the deployment see them. */
export const kmsRules = kmsFamily.rules;
