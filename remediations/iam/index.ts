/**
 * The IAM family: one Lambda function, deployed in us-east-1 (where IAM's
 * CloudTrail events reach EventBridge), holds these rules and only their permissions.
 */
import { iamAttachedAdminPolicy } from './iam-attached-admin-policy.js';
import { iamInlinePolicyAdmin } from './iam-inline-policy-admin.js';
import { iamPolicyVersionAdmin } from './iam-policy-version-admin.js';
import { iamTrustPolicyOpen } from './iam-trust-policy-open.js';

export const iamRules = [iamInlinePolicyAdmin, iamAttachedAdminPolicy, iamPolicyVersionAdmin, iamTrustPolicyOpen] as const;
