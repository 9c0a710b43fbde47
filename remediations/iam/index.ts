/**
 * The IAM family: one Lambda function, deployed in us-east-1 (where IAM's
 * CloudTrail events reach EventBridge), holds these rules and only their permissions.
 */
import { legacyFamily } from '../../rulekit/define.js';
import { iamCommands } from './commands.js';
import { iamAttachedAdminPolicy } from './iam-attached-admin-policy.js';
import { iamInlinePolicyAdmin } from './iam-inline-policy-admin.js';
import { iamPolicyVersionAdmin } from './iam-policy-version-admin.js';
import { iamTrustPolicyOpen } from './iam-trust-policy-open.js';

export const iamFamily = legacyFamily({ name: 'iam', rules: [iamInlinePolicyAdmin, iamAttachedAdminPolicy, iamPolicyVersionAdmin, iamTrustPolicyOpen], commands: iamCommands, global: true });

/** The family's rules, as the registry and the deployment see them. */
export const iamRules = iamFamily.rules;
