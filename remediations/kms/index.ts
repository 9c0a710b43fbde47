/** The kms family (customer managed keys): one Lambda function holds these rules and only their permissions. */
import { kmsKeyAtRisk } from './kms-key-at-risk.js';

export const kmsRules = [kmsKeyAtRisk] as const;
