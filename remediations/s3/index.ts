/**
 * The s3 family (public access and encryption in transit of buckets): one
 * Lambda function holds these rules and only their permissions.
 */
import { defineFamily } from '../../rulekit/define.js';
import { s3BucketAclPublic } from './s3-bucket-acl-public.js';
import { s3BucketEncryptionWeakened } from './s3-bucket-encryption-weakened.js';
import { s3BucketPolicyPublic } from './s3-bucket-policy-public.js';
import { s3MlBucketTlsNotEnforced } from './s3-ml-bucket-tls-not-enforced.js';
import { s3PublicAccessBlockWeakened } from './s3-public-access-block-weakened.js';

export const s3Family = defineFamily({ name: 's3', rules: [s3PublicAccessBlockWeakened, s3BucketAclPublic, s3BucketPolicyPublic, s3MlBucketTlsNotEnforced, s3BucketEncryptionWeakened] });

/** The family's rules, as the registry and the deployment see them. */
export const s3Rules = s3Family.rules;
