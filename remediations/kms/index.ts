/** The kms family (customer managed keys): one Lambda function holds these rules and only their permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { kmsKeyAtRisk } from './kms-key-at-risk.js';

export const kmsFamily = defineFamily({ name: 'kms', rules: [kmsKeyAtRisk] });

/** The family's rules, as the registry and the deployment see them. */
export const kmsRules = kmsFamily.rules;
