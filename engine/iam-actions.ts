/**
 * The IAM action that authorises an SDK operation. It is `<service>:<Operation>`
 * for nearly every API; the exceptions are listed here, from the Service
 * Authorization Reference, so that permissions, hints and checks name real actions.
 */
import type { Service } from './types.js';

const EXCEPTIONS: Readonly<Record<string, string>> = {
  // S3's bucket-level public access block APIs are authorised by bucket-named actions.
  's3:PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock',
  's3:GetPublicAccessBlock': 's3:GetBucketPublicAccessBlock',
  's3:DeletePublicAccessBlock': 's3:PutBucketPublicAccessBlock',
  // S3 Control's account-level ones by account-named actions in the s3 namespace.
  's3control:PutPublicAccessBlock': 's3:PutAccountPublicAccessBlock',
  's3control:GetPublicAccessBlock': 's3:GetAccountPublicAccessBlock',
  's3control:DeletePublicAccessBlock': 's3:PutAccountPublicAccessBlock',
  // S3's default bucket encryption APIs by the encryption-configuration actions.
  's3:PutBucketEncryption': 's3:PutEncryptionConfiguration',
  's3:GetBucketEncryption': 's3:GetEncryptionConfiguration',
  // AWS Config: the SDK and the CLI say `configservice`, IAM says `config`.
  'configservice:StartConfigurationRecorder': 'config:StartConfigurationRecorder',
  'configservice:StopConfigurationRecorder': 'config:StopConfigurationRecorder',
  'configservice:DescribeConfigurationRecorderStatus': 'config:DescribeConfigurationRecorderStatus',
};

export function iamActionFor(service: Service, operation: string): string {
  return EXCEPTIONS[`${service}:${operation}`] ?? `${service === 's3control' ? 's3' : service}:${operation}`;
}
