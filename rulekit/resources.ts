/**
 * The resource each IAM action the rules use is granted on: the narrowest ARN
 * pattern of its resource type in the deploying account and Region, or `*`
 * where the action has none. From the "Resource types" column of each
 * Actions table in the AWS Service Authorization Reference ("Actions,
 * resources, and condition keys for" Amazon EC2, IAM, Amazon S3, AWS KMS,
 * AWS CloudTrail, Amazon SageMaker, Amazon GuardDuty and AWS Config:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 *
 * A rule names a call by its SDK command; the kit looks its action up here, so
 * an ARN pattern is written once per resource type, not once per rule. An
 * action missing from the table fails at load, in the tests.
 */
import { RuleFault } from '../engine/errors.js';

const EC2 = (type: string) => `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${type}/*`;
/** EC2 images and snapshots: their ARNs carry no account (`arn:aws:ec2:us-east-1::snapshot/snap-…`). */
const EC2_NO_ACCOUNT = (type: string) => `arn:\${AWS::Partition}:ec2:\${AWS::Region}::${type}/*`;
const IAM = (type: string) => `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:${type}/*`;
const KMS_KEY = 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*';
const TRAIL = 'arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/*';
/** Buckets: their ARNs carry no account or Region. */
const BUCKET = 'arn:${AWS::Partition}:s3:::*';
const SAGEMAKER = (type: string) => `arn:\${AWS::Partition}:sagemaker:\${AWS::Region}:\${AWS::AccountId}:${type}/*`;

/** No resource type in the reference: the action can only be granted on `*`. */
export const ANY_RESOURCE = '*';

/**
 * Set (by esbuild's `define`, see serverless.yml) only in a function's bundle:
 * a function never reads what its role is granted on, so the table is left
 * out there and every resource reads as `*`. Tests, the CLI and the
 * deployment, which derive the grants, always have the table.
 */
// Written out where it is read, not as a constant: esbuild folds the defined value only in place.
export const ACTION_RESOURCES: Readonly<Record<string, string>> = (globalThis as { __LAMBDA_BUNDLE__?: boolean }).__LAMBDA_BUNDLE__ === true ? {} : {
  // EC2: the Describe* lists and the account-wide EBS settings have no resource type.
  'ec2:DescribeImages': ANY_RESOURCE,
  'ec2:DescribeNetworkAcls': ANY_RESOURCE,
  'ec2:DescribeInstances': ANY_RESOURCE,
  'ec2:DescribeIamInstanceProfileAssociations': ANY_RESOURCE,
  'ec2:DescribeSecurityGroupRules': ANY_RESOURCE,
  'ec2:DescribeSecurityGroups': ANY_RESOURCE,
  'ec2:DescribeSnapshots': ANY_RESOURCE,
  'ec2:DescribeVolumes': ANY_RESOURCE,
  'ec2:GetEbsDefaultKmsKeyId': ANY_RESOURCE,
  'ec2:GetEbsEncryptionByDefault': ANY_RESOURCE,
  'ec2:EnableEbsEncryptionByDefault': ANY_RESOURCE,
  'ec2:ModifyEbsDefaultKmsKeyId': ANY_RESOURCE,
  'ec2:DescribeImageAttribute': EC2_NO_ACCOUNT('image'), // image*
  'ec2:ModifyImageAttribute': EC2_NO_ACCOUNT('image'), // image*
  'ec2:DescribeSnapshotAttribute': EC2_NO_ACCOUNT('snapshot'), // snapshot*
  'ec2:ModifySnapshotAttribute': EC2_NO_ACCOUNT('snapshot'), // snapshot*
  'ec2:RevokeSecurityGroupIngress': EC2('security-group'), // security-group*
  'ec2:DeleteNetworkAclEntry': EC2('network-acl'), // network-acl*
  'ec2:ModifyInstanceMetadataOptions': EC2('instance'), // instance*
  'ec2:DisassociateIamInstanceProfile': EC2('instance'), // instance*
  'ec2:CreateTags': EC2('volume'), // the volumes the rules tag, among every taggable type
  // IAM
  'iam:GetAccountSummary': ANY_RESOURCE,
  'iam:GetRole': IAM('role'), // role*
  'iam:GetRolePolicy': IAM('role'),
  'iam:ListAttachedRolePolicies': IAM('role'),
  'iam:ListRolePolicies': IAM('role'),
  'iam:GetInstanceProfile': IAM('instance-profile'), // instance-profile*
  'iam:DeleteRolePolicy': IAM('role'),
  'iam:DetachRolePolicy': IAM('role'),
  'iam:AttachRolePolicy': IAM('role'),
  'iam:GetUser': IAM('user'), // user*
  'iam:GetUserPolicy': IAM('user'),
  'iam:GetLoginProfile': IAM('user'),
  'iam:ListMFADevices': IAM('user'), // user
  'iam:ListAccessKeys': IAM('user'),
  'iam:ListAttachedUserPolicies': IAM('user'),
  'iam:DeleteUserPolicy': IAM('user'),
  'iam:DetachUserPolicy': IAM('user'),
  'iam:GetGroupPolicy': IAM('group'), // group*
  'iam:ListAttachedGroupPolicies': IAM('group'),
  'iam:DeleteGroupPolicy': IAM('group'),
  'iam:DetachGroupPolicy': IAM('group'),
  'iam:GetPolicy': IAM('policy'), // policy*
  'iam:GetPolicyVersion': IAM('policy'),
  'iam:ListPolicyVersions': IAM('policy'),
  'iam:ListEntitiesForPolicy': IAM('policy'),
  'iam:SetDefaultPolicyVersion': IAM('policy'),
  // S3: bucket actions on bucket ARNs; the account-level block has no resource type.
  's3:GetBucketAcl': BUCKET, // bucket (or accesspoint)
  's3:GetBucketTagging': BUCKET, // bucket*
  's3:GetBucketPublicAccessBlock': BUCKET,
  's3:GetBucketPolicy': BUCKET,
  's3:PutBucketPublicAccessBlock': BUCKET,
  's3:PutBucketAcl': BUCKET,
  's3:GetEncryptionConfiguration': BUCKET, // bucket*
  's3:PutEncryptionConfiguration': BUCKET, // bucket*
  's3:GetAccountPublicAccessBlock': ANY_RESOURCE,
  's3:PutAccountPublicAccessBlock': ANY_RESOURCE,
  // KMS
  'kms:ListAliases': ANY_RESOURCE,
  'kms:DescribeKey': KMS_KEY, // key*
  'kms:ListResourceTags': KMS_KEY,
  'kms:GetKeyPolicy': KMS_KEY,
  'kms:GetKeyRotationStatus': KMS_KEY,
  'kms:CancelKeyDeletion': KMS_KEY,
  'kms:EnableKey': KMS_KEY,
  'kms:EnableKeyRotation': KMS_KEY,
  // GuardDuty: detector* (arn:…:guardduty:<region>:<account>:detector/<id>)
  'guardduty:GetDetector': 'arn:${AWS::Partition}:guardduty:${AWS::Region}:${AWS::AccountId}:detector/*',
  'guardduty:UpdateDetector': 'arn:${AWS::Partition}:guardduty:${AWS::Region}:${AWS::AccountId}:detector/*',
  // AWS Config: ConfigurationRecorder* (arn:…:config:<region>:<account>:configuration-recorder/<name>/<id>)
  'config:DescribeConfigurationRecorderStatus': 'arn:${AWS::Partition}:config:${AWS::Region}:${AWS::AccountId}:configuration-recorder/*',
  'config:StartConfigurationRecorder': 'arn:${AWS::Partition}:config:${AWS::Region}:${AWS::AccountId}:configuration-recorder/*',
  // CloudTrail
  'cloudtrail:LookupEvents': ANY_RESOURCE,
  'cloudtrail:GetTrail': TRAIL, // trail*
  'cloudtrail:GetTrailStatus': TRAIL,
  'cloudtrail:GetEventSelectors': TRAIL,
  'cloudtrail:ListTags': TRAIL, // trail (or channel, dashboard, event data store)
  'cloudtrail:StartLogging': TRAIL,
  'cloudtrail:UpdateTrail': TRAIL,
  // SageMaker
  'sagemaker:ListTags': SAGEMAKER('notebook-instance'), // the notebook instances the rules read, among every taggable type
  'sagemaker:DescribeNotebookInstance': SAGEMAKER('notebook-instance'),
  'sagemaker:DescribeTrainingJob': SAGEMAKER('training-job'),
  'sagemaker:DescribeProcessingJob': SAGEMAKER('processing-job'),
  'sagemaker:DescribeHyperParameterTuningJob': SAGEMAKER('hyper-parameter-tuning-job'),
  'sagemaker:DescribeEndpointConfig': SAGEMAKER('endpoint-config'),
  'sagemaker:DescribeEndpoint': SAGEMAKER('endpoint'),
  'sagemaker:StopTrainingJob': SAGEMAKER('training-job'),
  'sagemaker:StopProcessingJob': SAGEMAKER('processing-job'),
  'sagemaker:StopHyperParameterTuningJob': SAGEMAKER('hyper-parameter-tuning-job'),
};

/** Whether an ARN pattern names no account (buckets, EC2 images and snapshots): a grant on it must carry `aws:ResourceAccount`. */
export function namesNoAccount(resource: string): boolean {
  return resource !== ANY_RESOURCE && !resource.includes('${AWS::AccountId}');
}

export class UnknownActionError extends RuleFault {
  override readonly name = 'UnknownActionError';
}

/** The resource an action is granted on; an action the table does not know fails at load. */
export function resourceOf(action: string): string {
  if ((globalThis as { __LAMBDA_BUNDLE__?: boolean }).__LAMBDA_BUNDLE__ === true) return ANY_RESOURCE;
  const resource = ACTION_RESOURCES[action];
  if (resource === undefined) {
    throw new UnknownActionError(`${action} is not in the resource table (rulekit/resources.ts): add it with its resource type from the Service Authorization Reference`);
  }
  return resource;
}
