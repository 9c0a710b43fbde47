import { describe, expect, it } from 'vitest';
import {
  actionMatches,
  analyzePermissionsPolicy,
  analyzeTrustPolicy,
  IAM_POLICY_SIZE_LIMITS,
  isAnyResource,
  parsePolicyDocument,
  type PolicyAnalysis,
  type PolicyFindingCode,
} from '../engine/policy/analyzer.js';
import { severityRank, type Severity } from '../engine/types.js';

type Expected = ReadonlyArray<readonly [PolicyFindingCode, Severity]>;

interface PolicyCase {
  readonly name: string;
  readonly document: string | object;
  readonly expected: Expected;
}

const OWN = '111111111111';
const TRUSTED = '222222222222';
const EXTERNAL = '999999999999';
const GITHUB = `arn:aws:iam::${OWN}:oidc-provider/token.actions.githubusercontent.com`;
const GITHUB_SUB = 'token.actions.githubusercontent.com:sub';
const GITHUB_AUD = 'token.actions.githubusercontent.com:aud';
const EKS = 'oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';

function allow(action: string | string[], resource: string | string[], extra: object = {}): object {
  return { Effect: 'Allow', Action: action, Resource: resource, ...extra };
}

function policy(...statements: object[]): object {
  return { Version: '2012-10-17', Statement: statements };
}

function trust(principal: unknown, action: string | string[] = 'sts:AssumeRole', extra: object = {}): object {
  return policy({ Effect: 'Allow', Principal: principal, Action: action, ...extra });
}

function summary(result: PolicyAnalysis): Expected {
  if (!result.ok) throw new Error(`expected ok, got: ${result.error}`);
  return result.findings.map((finding) => [finding.code, finding.severity] as const);
}

/** From panther-labs/panther-analysis (Apache-2.0), rules/aws_cloudtrail_rules/aws_iam_compromised_key_quarantine.yml: a PutUserPolicy document. */
const PANTHER_DENY_ALL = '{\n\t"Version": "2012-10-17",\n\t"Statement": [\n\t\t{\n\t\t\t"Sid": "TestUserDenyAll",\n\t\t\t"Effect": "Deny",\n\t\t\t"Action": ["*"],\n\t\t\t"Resource": ["*"]\n\t\t}\n\t]\n}';

/** From DataDog/stratus-red-team (Apache-2.0), docs/detonation-logs/aws.persistence.iam-create-backdoor-role.json: CreateRole's URL-encoded response (account anonymised by Datadog). */
const STRATUS_BACKDOOR_TRUST =
  '%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%5B%0A%20%20%20%20%7B%0A%20%20%20%20%20%20%22Effect%22%3A%20%22Allow%22%2C%0A%20%20%20%20%20%20%22Principal%22%3A%20%7B%0A%20%20%20%20%20%20%20%20%22AWS%22%3A%20%22arn%3Aaws%3Aiam%3A%3A193672423079%3Aroot%22%0A%20%20%20%20%20%20%7D%2C%0A%20%20%20%20%20%20%22Action%22%3A%20%22sts%3AAssumeRole%22%0A%20%20%20%20%7D%0A%20%20%5D%0A%7D';

/** From panther-labs/panther-analysis (Apache-2.0), rules/aws_cloudtrail_rules/aws_iam_backdoor_role.yml: an UpdateAssumeRolePolicy document. */
const PANTHER_PUBLIC_WITH_EXTERNAL_ID =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"12345"}}}]}';

const permissionCases: readonly PolicyCase[] = [
  // full-admin
  { name: 'Action * on Resource * is full admin', document: policy(allow('*', '*')), expected: [['full-admin', 'critical']] },
  { name: '*:* on an all-wildcard ARN is full admin', document: policy(allow(['*:*'], ['arn:aws:*:*:*:*'])), expected: [['full-admin', 'critical']] },
  {
    name: 'Statement given as an object with string Action and Resource',
    document: { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: '*', Resource: '*' } },
    expected: [['full-admin', 'critical']],
  },
  {
    name: 'full admin suppresses the other findings of its statement',
    document: policy(allow(['*', 's3:*', 'iam:PassRole', 'iam:CreateAccessKey'], '*')),
    expected: [['full-admin', 'critical']],
  },
  {
    name: 'full admin suppresses the PassRole combination of the document',
    document: policy(allow('*', '*'), allow('iam:PassRole', `arn:aws:iam::${OWN}:role/app`), allow('ec2:RunInstances', `arn:aws:ec2:*:${OWN}:instance/*`)),
    expected: [['full-admin', 'critical']],
  },
  { name: 'Deny * on * is compliant', document: policy({ Effect: 'Deny', Action: '*', Resource: '*' }), expected: [] },
  { name: 'a recorded PutUserPolicy Deny-all document is compliant', document: PANTHER_DENY_ALL, expected: [] },
  {
    name: 'a Deny statement beside a narrow Allow is compliant',
    document: policy({ Effect: 'Deny', Action: '*', Resource: '*' }, allow('s3:GetObject', 'arn:aws:s3:::reports/*')),
    expected: [],
  },
  // service-wildcard and its compliant neighbours
  { name: 's3:GetObject on a bucket ARN is compliant', document: policy(allow('s3:GetObject', 'arn:aws:s3:::reports/*')), expected: [] },
  { name: 'ec2:Describe* on * is read-only', document: policy(allow('ec2:Describe*', '*')), expected: [] },
  { name: 's3:Get* and s3:List* on * are read-only', document: policy(allow(['s3:Get*', 's3:List*'], '*')), expected: [] },
  { name: '*:Describe*, *:List* and *:Get* on * are read-only', document: policy(allow(['*:Describe*', '*:List*', '*:Get*'], '*')), expected: [] },
  { name: 's3:* on * is a service wildcard', document: policy(allow('s3:*', '*')), expected: [['service-wildcard', 'high']] },
  { name: 'mixed-case S3:* on * is a service wildcard', document: policy(allow(['S3:*'], ['*'])), expected: [['service-wildcard', 'high']] },
  { name: 's3:* on arn:aws:*:*:*:* is a service wildcard', document: policy(allow('s3:*', 'arn:aws:*:*:*:*')), expected: [['service-wildcard', 'high']] },
  {
    name: 's3:* on a list holding a bucket ARN and * is a service wildcard',
    document: policy(allow('s3:*', ['arn:aws:s3:::reports', '*'])),
    expected: [['service-wildcard', 'high']],
  },
  { name: 's3:* on one bucket is compliant', document: policy(allow('s3:*', ['arn:aws:s3:::reports', 'arn:aws:s3:::reports/*'])), expected: [] },
  { name: 'iam:* on * is one service-wildcard finding, escalation included', document: policy(allow('iam:*', '*')), expected: [['service-wildcard', 'high']] },
  { name: '*:Delete* on * is a wildcard across services', document: policy(allow('*:Delete*', '*')), expected: [['service-wildcard', 'high']] },
  {
    name: '*:Put* on * spans services and reaches iam:Put*Policy',
    document: policy(allow('*:Put*', '*')),
    expected: [
      ['service-wildcard', 'high'],
      ['privilege-escalation', 'high'],
    ],
  },
  // privilege-escalation
  { name: 'iam:*Policy* on * matches escalation actions', document: policy(allow('iam:*Policy*', '*')), expected: [['privilege-escalation', 'high']] },
  { name: 'iam:Put?olePolicy on * matches iam:PutRolePolicy', document: policy(allow('iam:Put?olePolicy', '*')), expected: [['privilege-escalation', 'high']] },
  { name: 'iam:CreateAccessKey on * is escalation', document: policy(allow('iam:CreateAccessKey', '*')), expected: [['privilege-escalation', 'high']] },
  {
    name: 'iam:CreateAccessKey on the caller’s own user is compliant',
    document: policy(allow('iam:CreateAccessKey', `arn:aws:iam::${OWN}:user/\${aws:username}`)),
    expected: [],
  },
  { name: 'iam:Get* on * is read-only', document: policy(allow('iam:Get*', '*')), expected: [] },
  // PassRole
  { name: 'mixed-case IAM:passrole on * is a PassRole wildcard', document: policy(allow('IAM:passrole', '*')), expected: [['passrole-wildcard', 'high']] },
  { name: 'iam:PassRole on one role alone is compliant', document: policy(allow('iam:PassRole', `arn:aws:iam::${OWN}:role/app`)), expected: [] },
  {
    name: 'iam:PassRole on a role plus ec2:RunInstances is an escalation path',
    document: policy(allow('iam:PassRole', `arn:aws:iam::${OWN}:role/app`), allow('ec2:RunInstances', '*')),
    expected: [['passrole-escalation', 'high']],
  },
  {
    name: 'iam:PassRole and lambda:CreateFunction in one statement is an escalation path',
    document: policy(allow(['iam:PassRole', 'lambda:CreateFunction'], [`arn:aws:iam::${OWN}:role/app`, `arn:aws:lambda:eu-west-1:${OWN}:function:*`])),
    expected: [['passrole-escalation', 'high']],
  },
  {
    name: 'iam:PassRole on * plus cloudformation:CreateStack reports both',
    document: policy(allow('iam:PassRole', '*'), allow('cloudformation:CreateStack', '*')),
    expected: [
      ['passrole-wildcard', 'high'],
      ['passrole-escalation', 'high'],
    ],
  },
  { name: 'glue:CreateDevEndpoint without PassRole is compliant', document: policy(allow('glue:CreateDevEndpoint', '*')), expected: [] },
  {
    name: 'a denied PassRole statement does not complete the combination',
    document: policy({ Effect: 'Deny', Action: 'iam:PassRole', Resource: '*' }, allow('ec2:RunInstances', '*')),
    expected: [],
  },
  // NotAction / NotResource
  { name: 'Allow NotAction on * is critical', document: policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }), expected: [['not-action-allow', 'critical']] },
  {
    name: 'Allow NotAction on a bucket is high',
    document: policy({ Effect: 'Allow', NotAction: ['s3:DeleteBucket'], Resource: 'arn:aws:s3:::reports' }),
    expected: [['not-action-allow', 'high']],
  },
  { name: 'Deny NotAction is compliant', document: policy({ Effect: 'Deny', NotAction: 'iam:*', Resource: '*' }), expected: [] },
  {
    name: 'Allow NotResource is high',
    document: policy({ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secrets/*' }),
    expected: [['not-resource-allow', 'high']],
  },
  { name: 'Allow NotResource * grants nothing', document: policy({ Effect: 'Allow', Action: 's3:*', NotResource: '*' }), expected: [] },
  // Conditions
  {
    name: 'aws:SourceIp lowers full admin to high',
    document: policy(allow('*', '*', { Condition: { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24'] } } })),
    expected: [['full-admin', 'high']],
  },
  {
    name: 'aws:PrincipalOrgID lowers a service wildcard to medium',
    document: policy(allow('s3:*', '*', { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } } })),
    expected: [['service-wildcard', 'medium']],
  },
  {
    name: 'aws:MultiFactorAuthPresent lowers escalation to medium',
    document: policy(allow('iam:AttachUserPolicy', '*', { Condition: { Bool: { 'aws:MultiFactorAuthPresent': true } } })),
    expected: [['privilege-escalation', 'medium']],
  },
  {
    name: 'aws:ResourceTag lowers a PassRole wildcard to medium',
    document: policy(allow('iam:PassRole', '*', { Condition: { StringEquals: { 'aws:ResourceTag/team': 'data' } } })),
    expected: [['passrole-wildcard', 'medium']],
  },
  {
    name: 'aws:RequestedRegion lowers NotAction on * to high',
    document: policy({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*', Condition: { StringEquals: { 'aws:RequestedRegion': ['eu-west-1'] } } }),
    expected: [['not-action-allow', 'high']],
  },
  {
    name: 'aws:SourceVpce lowers the PassRole combination to medium',
    document: policy(allow(['iam:PassRole', 'ec2:RunInstances'], `arn:aws:iam::${OWN}:role/app`, { Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } } })),
    expected: [['passrole-escalation', 'medium']],
  },
  {
    name: 'an …IfExists condition does not lower full admin',
    document: policy(allow('*', '*', { Condition: { StringEqualsIfExists: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } } })),
    expected: [['full-admin', 'critical']],
  },
  {
    name: 'a NotIpAddress condition does not lower full admin',
    document: policy(allow('*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': '198.51.100.7/32' } } })),
    expected: [['full-admin', 'critical']],
  },
  // Encodings
  { name: 'a URL-encoded full admin document', document: encodeURIComponent(JSON.stringify(policy(allow('*', '*')), null, 2)), expected: [['full-admin', 'critical']] },
  {
    name: 'a JSON string with tabs and newlines',
    document: JSON.stringify(policy(allow(['s3:*'], '*')), null, '\t'),
    expected: [['service-wildcard', 'high']],
  },
  {
    name: 'findings come in statement order',
    document: policy(allow('s3:GetObject', 'arn:aws:s3:::reports/*'), allow('iam:PassRole', '*'), allow('*', '*')),
    expected: [
      ['passrole-wildcard', 'high'],
      ['full-admin', 'critical'],
    ],
  },
];

const trustCases: readonly PolicyCase[] = [
  { name: 'a service principal is fine', document: trust({ Service: 'ec2.amazonaws.com' }), expected: [] },
  { name: 'a list of service principals is fine', document: trust({ Service: ['lambda.amazonaws.com', 'edgelambda.amazonaws.com'] }), expected: [] },
  { name: 'Principal * is public', document: trust('*'), expected: [['public-trust', 'critical']] },
  { name: 'Principal {AWS: *} is public', document: trust({ AWS: '*' }), expected: [['public-trust', 'critical']] },
  { name: 'an AWS list containing * is public', document: trust({ AWS: [`arn:aws:iam::${OWN}:root`, '*'] }), expected: [['public-trust', 'critical']] },
  {
    name: 'aws:PrincipalOrgID lowers public trust to high',
    document: trust('*', 'sts:AssumeRole', { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } } }),
    expected: [['public-trust', 'high']],
  },
  { name: 'a recorded public trust with sts:ExternalId is high', document: PANTHER_PUBLIC_WITH_EXTERNAL_ID, expected: [['public-trust', 'high']] },
  {
    name: 'aws:SourceIp does not scope a public principal',
    document: trust('*', 'sts:AssumeRole', { Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } }),
    expected: [['public-trust', 'critical']],
  },
  { name: 'Allow with NotPrincipal is public', document: policy({ Effect: 'Allow', NotPrincipal: { AWS: `arn:aws:iam::${OWN}:root` }, Action: 'sts:AssumeRole' }), expected: [['public-trust', 'critical']] },
  { name: 'Deny Principal * is compliant', document: policy({ Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole' }), expected: [] },
  { name: 'the own account root is fine', document: trust({ AWS: `arn:aws:iam::${OWN}:root` }), expected: [] },
  { name: 'a trusted account id is fine', document: trust({ AWS: TRUSTED }), expected: [] },
  { name: 'an external account root ARN is untrusted', document: trust({ AWS: `arn:aws:iam::${EXTERNAL}:root` }), expected: [['untrusted-account', 'high']] },
  { name: 'an external bare account id is untrusted', document: trust({ AWS: [EXTERNAL] }), expected: [['untrusted-account', 'high']] },
  { name: 'an external role ARN is untrusted', document: trust({ AWS: `arn:aws:iam::${EXTERNAL}:role/deployer` }), expected: [['untrusted-account', 'high']] },
  {
    name: 'an external account with sts:ExternalId is fine',
    document: trust({ AWS: `arn:aws:iam::${EXTERNAL}:root` }, 'sts:AssumeRole', { Condition: { StringEquals: { 'sts:ExternalId': 'a1b2c3' } } }),
    expected: [],
  },
  {
    name: 'an MFA condition lowers an untrusted account to medium',
    document: trust({ AWS: `arn:aws:iam::${EXTERNAL}:root` }, 'sts:AssumeRole', { Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }),
    expected: [['untrusted-account', 'medium']],
  },
  { name: 'a recorded URL-encoded backdoor trust policy', document: STRATUS_BACKDOOR_TRUST, expected: [['untrusted-account', 'high']] },
  {
    name: 'statements are indexed: a service, then an external account',
    document: policy(
      { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
      { Effect: 'Allow', Principal: { AWS: EXTERNAL }, Action: ['sts:AssumeRole', 'sts:TagSession'] },
    ),
    expected: [['untrusted-account', 'high']],
  },
  { name: 'GitHub OIDC without conditions lets any repository in', document: trust({ Federated: GITHUB }, 'sts:AssumeRoleWithWebIdentity'), expected: [['web-identity-no-sub', 'critical']] },
  {
    name: 'GitHub OIDC with only the audience is still open to any repository',
    document: trust({ Federated: GITHUB }, 'sts:AssumeRoleWithWebIdentity', { Condition: { StringEquals: { [GITHUB_AUD]: 'sts.amazonaws.com' } } }),
    expected: [['web-identity-no-sub', 'critical']],
  },
  {
    name: 'GitHub OIDC given by host name, with sts:* actions',
    document: trust({ Federated: 'token.actions.githubusercontent.com' }, 'sts:*'),
    expected: [['web-identity-no-sub', 'critical']],
  },
  {
    name: 'GitHub sub StringLike repo:* matches any owner',
    document: trust({ Federated: GITHUB }, 'sts:AssumeRoleWithWebIdentity', { Condition: { StringLike: { [GITHUB_SUB]: 'repo:*' } } }),
    expected: [['web-identity-no-sub', 'high']],
  },
  {
    name: 'GitHub sub StringLike * matches anything',
    document: trust({ Federated: GITHUB }, 'sts:AssumeRoleWithWebIdentity', { Condition: { StringLike: { [GITHUB_SUB]: ['repo:my-org/app:*', '*'] } } }),
    expected: [['web-identity-no-sub', 'high']],
  },
  {
    name: 'GitHub sub StringNotLike only excludes',
    document: trust({ Federated: GITHUB }, 'sts:AssumeRoleWithWebIdentity', { Condition: { StringNotLike: { [GITHUB_SUB]: 'repo:evil/*' } } }),
    expected: [['web-identity-no-sub', 'critical']],
  },
  {
    name: 'GitHub sub scoped to an organisation is fine',
    document: trust({ Federated: GITHUB }, 'sts:AssumeRoleWithWebIdentity', {
      Condition: { StringEquals: { [GITHUB_AUD]: 'sts.amazonaws.com' }, StringLike: { [GITHUB_SUB]: 'repo:my-org/*' } },
    }),
    expected: [],
  },
  {
    name: 'GitHub sub pinned to a branch is fine',
    document: trust({ Federated: GITHUB }, 'sts:AssumeRoleWithWebIdentity', { Condition: { StringEquals: { [GITHUB_SUB]: 'repo:my-org/app:ref:refs/heads/main' } } }),
    expected: [],
  },
  {
    name: 'EKS OIDC with only aud sts.amazonaws.com lets any service account in',
    document: trust({ Federated: `arn:aws:iam::${OWN}:oidc-provider/${EKS}` }, 'sts:AssumeRoleWithWebIdentity', {
      Condition: { StringEquals: { [`${EKS}:aud`]: 'sts.amazonaws.com' } },
    }),
    expected: [['web-identity-no-sub', 'high']],
  },
  {
    name: 'EKS OIDC with a service-account sub is fine',
    document: trust({ Federated: `arn:aws:iam::${OWN}:oidc-provider/${EKS}` }, 'sts:AssumeRoleWithWebIdentity', {
      Condition: { StringEquals: { [`${EKS}:sub`]: 'system:serviceaccount:default:app' } },
    }),
    expected: [],
  },
  {
    name: 'Cognito with an identity pool audience is fine',
    document: trust({ Federated: 'cognito-identity.amazonaws.com' }, 'sts:AssumeRoleWithWebIdentity', {
      Condition: { StringEquals: { 'cognito-identity.amazonaws.com:aud': 'eu-west-1:12345678-1234-1234-1234-123456789012' } },
    }),
    expected: [],
  },
  { name: 'Google without conditions lets any Google identity in', document: trust({ Federated: 'accounts.google.com' }, 'sts:AssumeRoleWithWebIdentity'), expected: [['web-identity-no-sub', 'high']] },
  { name: 'a SAML provider is not a web identity', document: trust({ Federated: `arn:aws:iam::${OWN}:saml-provider/okta` }, 'sts:AssumeRoleWithSAML'), expected: [] },
];

describe('policy analyzer', () => {
  describe('analyzePermissionsPolicy', () => {
    it.each(permissionCases)('$name', ({ document, expected }) => {
      const result = analyzePermissionsPolicy(document);

      expect(summary(result)).toStrictEqual(expected);
    });

    it('names the statement, its Sid and the matched escalation actions', () => {
      const document = policy(allow('s3:GetObject', 'arn:aws:s3:::reports/*'), allow('iam:*Policy*', '*', { Sid: 'PolicyAdmin' }));

      const result = analyzePermissionsPolicy(document);

      expect(result.ok && result.findings).toMatchObject([{ code: 'privilege-escalation', statementIndex: 1, sid: 'PolicyAdmin' }]);
      const message = result.ok ? (result.findings[0]?.message ?? '') : '';
      expect(message).toContain('iam:CreatePolicyVersion');
      expect(message).toContain('iam:AttachRolePolicy');
      expect(message).not.toContain('iam:CreateAccessKey');
    });

    it('names the PassRole combination', () => {
      const document = policy(allow('iam:PassRole', `arn:aws:iam::${OWN}:role/app`), allow(['ec2:RunInstances', 'lambda:CreateFunction'], '*', { Sid: 'Deploy' }));

      const result = analyzePermissionsPolicy(document);

      const message = result.ok ? (result.findings[0]?.message ?? '') : '';
      expect(message).toMatch(/iam:PassRole and statement 1 \("Deploy"\) allows ec2:RunInstances, lambda:CreateFunction/);
    });

    it('explains a lowered severity with the condition keys', () => {
      const document = policy(allow('*', '*', { Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' }, Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }));

      const result = analyzePermissionsPolicy(document);

      const finding = result.ok ? result.findings[0] : undefined;
      expect(finding?.severity).toBe('high');
      expect(finding?.conditionNote).toContain('aws:SourceIp');
      expect(finding?.conditionNote).toContain('aws:MultiFactorAuthPresent');
      expect(finding?.conditionNote).toContain('critical to high');
    });

    it('leaves conditionNote out when nothing lowered the severity', () => {
      const result = analyzePermissionsPolicy(policy(allow('s3:*', '*')));

      expect(result.ok && result.findings[0]).not.toHaveProperty('conditionNote');
    });

    it('uses a configured privilege-escalation list', () => {
      const document = policy(allow(['ssm:GetParameter*', 'iam:CreateAccessKey'], '*'));

      const result = analyzePermissionsPolicy(document, { privilegeEscalationActions: ['ssm:GetParameters'] });

      expect(summary(result)).toStrictEqual([['privilege-escalation', 'high']]);
      expect(result.ok && result.findings[0]?.message).toContain('ssm:GetParameters');
    });

    it('returns the normalised statements', () => {
      const result = analyzePermissionsPolicy('{"Statement":{"Sid":"S","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":true}}}}');

      expect(result.ok && result.statements).toStrictEqual([
        {
          index: 0,
          sid: 'S',
          effect: 'Allow',
          actions: ['s3:GetObject'],
          resources: ['arn:aws:s3:::b/*'],
          condition: { Bool: { 'aws:SecureTransport': ['true'] } },
        },
      ]);
    });

    it('refuses a statement without Resource or NotResource', () => {
      const result = analyzePermissionsPolicy(policy({ Effect: 'Allow', Action: '*' }));

      expect(result).toMatchObject({ ok: false, error: expect.stringContaining('Resource') });
    });
  });

  describe('analyzeTrustPolicy', () => {
    it.each(trustCases)('$name', ({ document, expected }) => {
      const result = analyzeTrustPolicy(document, { trustedAccounts: [TRUSTED], ownAccount: OWN });

      expect(summary(result)).toStrictEqual(expected);
    });

    it('names the external accounts', () => {
      const result = analyzeTrustPolicy(trust({ AWS: [`arn:aws:iam::${EXTERNAL}:root`, `arn:aws:iam::${TRUSTED}:role/ci`, '888888888888'] }), {
        trustedAccounts: [TRUSTED],
        ownAccount: OWN,
      });

      const message = result.ok ? (result.findings[0]?.message ?? '') : '';
      expect(message).toContain(EXTERNAL);
      expect(message).toContain('888888888888');
      expect(message).not.toContain(TRUSTED);
    });

    it('treats the own account as external when no ownAccount is given', () => {
      const result = analyzeTrustPolicy(trust({ AWS: `arn:aws:iam::${OWN}:root` }), { trustedAccounts: [] });

      expect(summary(result)).toStrictEqual([['untrusted-account', 'high']]);
    });

    it('refuses a statement without Principal', () => {
      const result = analyzeTrustPolicy(policy({ Effect: 'Allow', Action: 'sts:AssumeRole' }), { trustedAccounts: [] });

      expect(result).toMatchObject({ ok: false, error: expect.stringContaining('Principal') });
    });
  });

  describe('parsePolicyDocument', () => {
    it('normalises a Statement object and a one-element array alike', () => {
      const statement = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' };

      const single = parsePolicyDocument({ Statement: statement });
      const list = parsePolicyDocument({ Statement: [statement] });

      expect(single.ok && single.document).toStrictEqual(list.ok && list.document);
      expect(single).toStrictEqual({
        ok: true,
        document: { statements: [{ index: 0, effect: 'Allow', actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/*'] }] },
        json: '{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}',
      });
    });

    it('gives the document back as compact JSON: the same content, values and escapes, without whitespace between tokens', () => {
      const text = '{\n  "Version": "2012-10-17",\n\t"Statement": [ { "Sid": "a b", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/\\u0041*" } ]\n}';
      const plain = parsePolicyDocument(text);
      expect(plain.ok && plain.json).toBe('{"Version":"2012-10-17","Statement":[{"Sid":"a b","Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/A*"}]}');
      expect(parsePolicyDocument(encodeURIComponent(text))).toStrictEqual(plain);
      expect(parsePolicyDocument(JSON.stringify(text))).toStrictEqual(plain);
    });

    it('normalises principals', () => {
      const result = parsePolicyDocument(
        policy(
          { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
          { Effect: 'Allow', Principal: { AWS: OWN, Service: ['ec2.amazonaws.com'] }, Action: 'sts:AssumeRole' },
        ),
      );

      expect(result.ok && result.document.statements.map((s) => s.principal)).toStrictEqual(['*', { AWS: [OWN], Service: ['ec2.amazonaws.com'] }]);
    });

    it('does not URL-decode a document that is already JSON', () => {
      const text = JSON.stringify(policy(allow('s3:GetObject', 'arn:aws:s3:::a+b%41/*')));

      const result = parsePolicyDocument(text);

      expect(result.ok && result.document.statements[0]?.resources).toStrictEqual(['arn:aws:s3:::a+b%41/*']);
    });

    it('keeps a + inside a URL-encoded document', () => {
      const text = encodeURIComponent(JSON.stringify(policy(allow('s3:GetObject', 'arn:aws:s3:::a+b/*'))));

      const result = parsePolicyDocument(text);

      expect(result.ok && result.document.statements[0]?.resources).toStrictEqual(['arn:aws:s3:::a+b/*']);
    });

    it('reads a form-encoded document with + for spaces', () => {
      const text = encodeURIComponent(JSON.stringify(policy(allow('s3:GetObject', 'arn:aws:s3:::b/*')), null, 2)).replaceAll('%20', '+');

      const result = parsePolicyDocument(text);

      expect(result.ok && result.document.statements[0]?.actions).toStrictEqual(['s3:GetObject']);
    });

    it('unwraps a document encoded twice as a JSON string', () => {
      const result = parsePolicyDocument(JSON.stringify(JSON.stringify(policy(allow('*', '*')))));

      expect(result.ok).toBe(true);
    });

    it('applies a smaller size limit when asked', () => {
      const resources = Array.from({ length: 300 }, (_, i) => `arn:aws:s3:::bucket-${i}/*`);
      const text = JSON.stringify(policy(allow('s3:GetObject', resources)));

      expect(parsePolicyDocument(text).ok).toBe(true);
      expect(parsePolicyDocument(text, { maxPolicyCharacters: IAM_POLICY_SIZE_LIMITS.managedPolicy })).toMatchObject({
        ok: false,
        error: expect.stringContaining('too large'),
      });
    });

    it('does not count whitespace against the size limit, as IAM does not', () => {
      const resources = Array.from({ length: 200 }, (_, i) => `arn:aws:s3:::b-${i}/*`);
      const compact = JSON.stringify(policy(allow('s3:GetObject', resources)));
      const padded = JSON.stringify(policy(allow('s3:GetObject', resources)), null, 40);

      expect(compact.length).toBeLessThan(IAM_POLICY_SIZE_LIMITS.roleInlinePolicies);
      expect(padded.length).toBeGreaterThan(IAM_POLICY_SIZE_LIMITS.roleInlinePolicies);
      expect(parsePolicyDocument(padded).ok).toBe(true);
      expect(parsePolicyDocument(padded)).toMatchObject({ json: compact });
    });

    it('accepts a document padded with spaces, tabs and newlines up to IAM\'s 131,072-character parameter limit', () => {
      const compact = JSON.stringify(policy(allow('*', '*')));
      const padding = ' \t\r\n'.repeat((131_072 - compact.length) / 4);
      const padded = `${compact.slice(0, 1)}${padding}${compact.slice(1)}`.padEnd(131_072, ' ');

      expect(padded.length).toBe(131_072);
      expect(analyzePermissionsPolicy(padded, { maxPolicyCharacters: IAM_POLICY_SIZE_LIMITS.userInlinePolicies })).toMatchObject({ ok: true, findings: [{ code: 'full-admin' }] });
      expect(analyzePermissionsPolicy(encodeURIComponent(padded))).toMatchObject({ ok: true, findings: [{ code: 'full-admin' }] });
    });

    const deepArrays = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const deepStatement = `{"Statement":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    const deepObject = (() => {
      let value: object = { Effect: 'Allow', Action: '*', Resource: '*' };
      for (let i = 0; i < 10_000; i++) value = { Statement: value };
      return value;
    })();
    const cyclic: Record<string, unknown> = { Version: '2012-10-17' };
    cyclic['Statement'] = cyclic;
    const hugeStatements = JSON.stringify(policy(...Array.from({ length: 400 }, (_, i) => allow('s3:GetObject', `arn:aws:s3:::bucket-${i}/*`))));

    it.each([
      { name: 'not JSON', input: 'Version: 2012-10-17', error: 'not valid JSON' },
      { name: 'an empty string', input: '   ', error: 'empty' },
      { name: 'a JSON array', input: '[]', error: 'JSON object' },
      { name: 'JSON null', input: 'null', error: 'JSON object' },
      { name: 'a number', input: 42, error: 'JSON string or an object' },
      { name: 'undefined', input: undefined, error: 'JSON string or an object' },
      { name: 'no Statement', input: '{"Version":"2012-10-17"}', error: 'no Statement' },
      { name: 'an empty Statement list', input: '{"Statement":[]}', error: 'empty Statement' },
      { name: 'a lowercase Effect', input: policy({ Effect: 'allow', Action: '*', Resource: '*' }), error: 'Statement.0.Effect' },
      { name: 'a numeric Action', input: policy({ Effect: 'Allow', Action: 42, Resource: '*' }), error: 'Statement.0.Action' },
      { name: 'Action and NotAction together', input: policy({ Effect: 'Allow', Action: 's3:*', NotAction: 'iam:*', Resource: '*' }), error: 'both Action and NotAction' },
      { name: 'an unknown statement element', input: policy({ Effect: 'Allow', Action: '*', Resource: '*', Resources: '*' }), error: 'Resources' },
      { name: 'malformed URL encoding', input: '%7B%22Statement%22%3A%E0%A4%A', error: 'not valid JSON' },
      { name: 'raw input over 131,072 characters, whitespace included', input: `{${' '.repeat(131_071)}}`, error: "too large: 131,073 characters, more than 131,072 (IAM's limit, whitespace included)" },
      { name: 'URL-encoded input that decodes to over 131,072 characters', input: `${encodeURIComponent('{"Statement": "')}${'x'.repeat(131_100)}${encodeURIComponent('"}')}`, error: 'too large' },
      { name: 'input too long even for a URL-encoded document', input: '%20'.repeat(131_073), error: 'too large: 393,219 characters' },
      { name: 'a document over 10,240 characters without whitespace', input: hugeStatements, error: 'too large' },
      { name: '10,000 nested arrays', input: deepArrays, error: 'nested' },
      { name: '10,000 nested objects in a Statement', input: deepStatement, error: 'nested' },
      { name: 'a URL-encoded deep nesting', input: encodeURIComponent(`{"Statement":${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}}`), error: 'nested' },
      { name: 'a 10,000-deep object', input: deepObject, error: 'nested' },
      { name: 'a cyclic object', input: cyclic, error: 'nested' },
    ])('refuses $name without throwing', ({ input, error }) => {
      const result = parsePolicyDocument(input);

      expect(result).toMatchObject({ ok: false, error: expect.stringContaining(error) });
      expect(analyzePermissionsPolicy(input as string)).toMatchObject({ ok: false });
      expect(analyzeTrustPolicy(input as string, { trustedAccounts: [] })).toMatchObject({ ok: false });
    });
  });

  describe('actionMatches', () => {
    it.each([
      ['*', 'iam:PassRole', true],
      ['iam:*', 'IAM:PassRole', true],
      ['IAM:passrole', 'iam:PassRole', true],
      ['iam:*Policy*', 'iam:CreatePolicyVersion', true],
      ['iam:*Policy*', 'iam:AttachRolePolicy', true],
      ['iam:*Policy*', 'iam:CreateAccessKey', false],
      ['iam:Put?olePolicy', 'iam:PutRolePolicy', true],
      ['iam:Put?olePolicy', 'iam:PutUserPolicy', false],
      ['s3:Get*', 's3:GetObject', true],
      ['s3:Get*', 's3:PutObject', false],
      ['s3:GetObject', 's3:GetObjectAcl', false],
      ['*:Describe*', 'ec2:DescribeInstances', true],
      ['ec2:Describe*', 'ec2:RunInstances', false],
      ['s3:Get.bject', 's3:GetObject', false],
      ['s3:(Get)*', 's3:(get)Object', true],
      ['a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(200), false],
      ['a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', `${'a'.repeat(200)}b`, true],
    ] as const)('%s matches %s: %s', (pattern, action, expected) => {
      expect(actionMatches(pattern, action)).toBe(expected);
    });
  });

  describe('isAnyResource', () => {
    it.each([
      ['*', true],
      ['arn:aws:*:*:*:*', true],
      ['arn:*:*:*:*:*', true],
      ['arn:aws:*:*:*:*/*', true],
      ['arn:aws:s3:::bucket/*', false],
      ['arn:aws:s3:::*', false],
      ['arn:aws:iam::111111111111:role/*', false],
    ] as const)('%s: %s', (resource, expected) => {
      expect(isAnyResource(resource)).toBe(expected);
    });
  });

  describe('severityRank (engine/types.ts, the one severity scale; SNS filter policies compare its values)', () => {
    it('orders low < medium < high < critical, from 1', () => {
      const ranks = (['low', 'medium', 'high', 'critical'] as const).map(severityRank);

      expect(ranks).toStrictEqual([1, 2, 3, 4]);
    });
  });
});
