/**
 * The IAM statements deploy/deployment.ts derives for every family's read-only
 * calls, the lookups a rule decides with and the probes that read the present
 * before and after each write: each on the narrowest resource its action
 * supports, checked against the Service Authorization Reference.
 */
import { describe, expect, it } from 'vitest';
import { statementsFor } from '../deploy/deployment.js';
import { iamActionFor } from '../engine/iam-actions.js';
import type { Rule } from '../engine/types.js';
import { credentialRules } from '../remediations/credentials/index.js';
import { iamRules } from '../remediations/iam/index.js';
import { allRules, rulesByFamily } from '../remediations/registry.js';

/**
 * Resource types of every lookup action, from the AWS Service Authorization
 * Reference, "Actions, resources, and condition keys for" Amazon EC2, AWS
 * Identity and Access Management, Amazon S3, AWS Key Management Service, AWS
 * CloudTrail and Amazon SageMaker (the "Resource types" column of each Actions
 * table; https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 * Here: the actions that support resource-level permissions, each with the ARN
 * pattern of its resource type in the deploying account and Region.
 */
const RESOURCE_LEVEL_LOOKUPS: Readonly<Record<string, string>> = {
  'ec2:DescribeImageAttribute': 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*', // image*
  'ec2:DescribeSnapshotAttribute': 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*', // snapshot*
  'iam:GetRole': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*', // role*
  'iam:GetRolePolicy': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*', // role*
  'iam:GetUser': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*', // user*
  'iam:GetUserPolicy': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*', // user*
  'iam:GetLoginProfile': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*', // user*
  'iam:ListMFADevices': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*', // user
  'iam:GetGroupPolicy': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:group/*', // group*
  'iam:GetPolicy': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/*', // policy*
  'iam:GetPolicyVersion': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/*', // policy*
  'iam:ListPolicyVersions': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/*', // policy*
  'iam:ListEntitiesForPolicy': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/*', // policy*
  'iam:ListAttachedRolePolicies': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*', // role*
  'iam:ListAttachedUserPolicies': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*', // user*
  'iam:ListAttachedGroupPolicies': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:group/*', // group*
  'iam:ListAccessKeys': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*', // user*
  's3:GetBucketAcl': 'arn:${AWS::Partition}:s3:::*', // bucket (or accesspoint)
  's3:GetBucketTagging': 'arn:${AWS::Partition}:s3:::*', // bucket*
  's3:GetBucketPublicAccessBlock': 'arn:${AWS::Partition}:s3:::*', // bucket*
  's3:GetBucketPolicy': 'arn:${AWS::Partition}:s3:::*', // bucket*
  'kms:DescribeKey': 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*', // key*
  'kms:ListResourceTags': 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*', // key*
  'kms:GetKeyPolicy': 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*', // key*
  'kms:GetKeyRotationStatus': 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*', // key*
  'sagemaker:ListTags': 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:notebook-instance/*', // notebook-instance, among every taggable type
  'sagemaker:DescribeNotebookInstance': 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:notebook-instance/*', // notebook-instance*
  'sagemaker:DescribeTrainingJob': 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:training-job/*', // training-job*
  'sagemaker:DescribeProcessingJob': 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:processing-job/*', // processing-job*
  'sagemaker:DescribeHyperParameterTuningJob': 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:hyper-parameter-tuning-job/*', // hyper-parameter-tuning-job*
  'sagemaker:DescribeEndpointConfig': 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint-config/*', // endpoint-config*
  'sagemaker:DescribeEndpoint': 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/*', // endpoint*
  'cloudtrail:GetTrail': 'arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/*', // trail*
  'cloudtrail:GetTrailStatus': 'arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/*', // trail*
  'cloudtrail:ListTags': 'arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/*', // trail (or channel, dashboard, event data store)
  'cloudtrail:GetEventSelectors': 'arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/*', // trail*
};

/** Lookup actions whose "Resource types" column is empty in the same reference: their statements must say `*`. */
const NO_RESOURCE_TYPE_LOOKUPS: ReadonlySet<string> = new Set([
  'ec2:DescribeImages',
  'ec2:DescribeInstances',
  'ec2:DescribeSecurityGroupRules',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSnapshots',
  'ec2:DescribeVolumes',
  'ec2:GetEbsDefaultKmsKeyId',
  'ec2:GetEbsEncryptionByDefault',
  'iam:GetAccountSummary',
  'kms:ListAliases',
  'cloudtrail:LookupEvents',
  's3:GetAccountPublicAccessBlock',
]);

const sub = (resource: string) => ({ 'Fn::Sub': resource });

/** Every read-only call a rule makes, as the deployment grants it: its name, its IAM action and its declared resource. */
interface Read {
  readonly name: string;
  readonly permission: string;
  readonly resource?: string;
}

function readsOf(rule: Rule): Read[] {
  return [
    ...(rule.lookups ?? []).map((lookup) => ({ name: lookup.name, permission: lookup.permission, ...(lookup.resource !== undefined ? { resource: lookup.resource } : {}) })),
    ...(rule.probes ?? []).map((probe) => ({
      name: `probe ${probe.name}`,
      permission: iamActionFor(probe.service, probe.operation),
      ...(probe.resource !== undefined ? { resource: probe.resource } : {}),
    })),
  ];
}

const registryLookups = allRules.flatMap((rule) => readsOf(rule).map((lookup) => ({ rule, lookup })));

describe('IAM statements of reads (deploy/deployment.ts)', () => {
  it('grants every lookup and probe on the resource it declares, and only there', () => {
    for (const [family, rules] of Object.entries(rulesByFamily) as [string, readonly Rule[]][]) {
      const statements = statementsFor(rules);
      for (const lookup of rules.flatMap(readsOf)) {
        const granted = statements.filter((s) => s.Effect === 'Allow' && s.Condition === undefined && s.Action.includes(lookup.permission)).map((s) => s.Resource);
        const expected = lookup.resource === undefined ? '*' : sub(lookup.resource);
        expect(granted, `${family} ${lookup.name}`).toContainEqual(expected);
        if (lookup.resource !== undefined) expect(granted, `${family} ${lookup.name} on *`).not.toContainEqual('*');
      }
    }
  });

  it('scopes every IAM lookup to the account, and keeps the Deny on the bot\'s own roles to plan actions, so the bot can still read them', () => {
    const account = (type: string) => sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:${type}/*`);
    expect(statementsFor(iamRules)).toStrictEqual([
      { Effect: 'Allow', Action: ['iam:DeleteGroupPolicy', 'iam:DetachGroupPolicy', 'iam:GetGroupPolicy', 'iam:ListAttachedGroupPolicies'], Resource: account('group') },
      {
        Effect: 'Allow',
        Action: ['iam:GetPolicy', 'iam:GetPolicyVersion', 'iam:ListEntitiesForPolicy', 'iam:ListPolicyVersions', 'iam:SetDefaultPolicyVersion'],
        Resource: account('policy'),
      },
      { Effect: 'Allow', Action: ['iam:DeleteRolePolicy', 'iam:DetachRolePolicy', 'iam:GetRole', 'iam:GetRolePolicy', 'iam:ListAttachedRolePolicies'], Resource: account('role') },
      {
        Effect: 'Allow',
        Action: ['iam:AttachRolePolicy'],
        Resource: account('role'),
        Condition: { ArnLike: { 'iam:PolicyARN': 'arn:*:iam::aws:policy/AWSDenyAll' } },
      },
      { Effect: 'Allow', Action: ['iam:DeleteUserPolicy', 'iam:DetachUserPolicy', 'iam:GetUser', 'iam:GetUserPolicy', 'iam:ListAttachedUserPolicies'], Resource: account('user') },
      {
        Effect: 'Deny',
        Action: ['iam:AttachRolePolicy', 'iam:DeleteRolePolicy', 'iam:DetachRolePolicy'],
        Resource: sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/*'),
      },
    ]);
  });

  it('grants the credentials family its read-only IAM lookups on the account\'s users, and GetAccountSummary on *', () => {
    expect(statementsFor(credentialRules)).toStrictEqual([
      { Effect: 'Allow', Action: ['iam:GetAccountSummary'], Resource: '*' },
      { Effect: 'Allow', Action: ['iam:GetLoginProfile', 'iam:GetUser', 'iam:ListAccessKeys', 'iam:ListMFADevices'], Resource: sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*') },
    ]);
  });
});

describe('read resources against the Service Authorization Reference', () => {
  it('has one entry for every read action of the registry (lookups and probes), in exactly one of the two tables', () => {
    const scoped = Object.keys(RESOURCE_LEVEL_LOOKUPS);
    expect(scoped.filter((action) => NO_RESOURCE_TYPE_LOOKUPS.has(action))).toStrictEqual([]);
    expect([...scoped, ...NO_RESOURCE_TYPE_LOOKUPS].sort()).toStrictEqual([...new Set(registryLookups.map(({ lookup }) => lookup.permission))].sort());
  });

  it.each(registryLookups.map(({ rule, lookup }) => [`${rule.id} ${lookup.name}`, lookup] as const))(
    '%s declares the narrowest resource its action supports',
    (_, lookup) => {
      const scoped = RESOURCE_LEVEL_LOOKUPS[lookup.permission];
      if (scoped !== undefined) {
        expect(lookup.resource).toStrictEqual(scoped);
        expect(lookup.resource).not.toStrictEqual('*');
      } else {
        expect(NO_RESOURCE_TYPE_LOOKUPS.has(lookup.permission), `${lookup.permission} is in neither table`).toStrictEqual(true);
        expect(lookup.resource ?? '*').toStrictEqual('*');
      }
    },
  );
});
