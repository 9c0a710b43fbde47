/**
 * The s3 family (public access and encryption in transit of buckets): one
 * Lambda function holds these rules and only their permissions.
 */
import { legacyFamily } from '../../rulekit/define.js';
import { s3Commands } from './commands.js';
import { s3BucketAclPublic } from './s3-bucket-acl-public.js';
import { s3BucketPolicyPublic } from './s3-bucket-policy-public.js';
import { s3MlBucketTlsNotEnforced } from './s3-ml-bucket-tls-not-enforced.js';
import { s3PublicAccessBlockWeakened } from './s3-public-access-block-weakened.js';

export const s3Family = legacyFamily({ name: 's3', rules: [s3PublicAccessBlockWeakened, s3BucketAclPublic, s3BucketPolicyPublic, s3MlBucketTlsNotEnforced], commands: s3Commands });

/** The family's rules, as the registry and the deployment see them. */
export const s3Rules = s3Family.rules;
