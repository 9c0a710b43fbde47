/**
 * The IAM family: one Lambda function, deployed in us-east-1 (where IAM's
 * CloudTrail events reach EventBridge), holds these rules and only their
 * permissions. Its command table is derived from what they send and read:
 * undo and proposed steps (Put…Policy, Attach…Policy other than AWSDenyAll,
 * UpdateAssumeRolePolicy) are for people and never in it, so the function can
 * never grant access.
 */
import { defineFamily } from '../../rulekit/define.js';
import { iamAttachedAdminPolicy } from './iam-attached-admin-policy.js';
import { iamInlinePolicyAdmin } from './iam-inline-policy-admin.js';
import { iamPolicyVersionAdmin } from './iam-policy-version-admin.js';
import { iamTrustPolicyOpen } from './iam-trust-policy-open.js';

export const iamFamily = defineFamily({ name: 'iam', rules: [iamInlinePolicyAdmin, iamAttachedAdminPolicy, iamPolicyVersionAdmin, iamTrustPolicyOpen], global: true });

/** The family's rules, as the registry and the deployment see them. */
export const iamRules = iamFamily.rules;
