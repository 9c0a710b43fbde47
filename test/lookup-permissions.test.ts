/**
 * The IAM statements deploy/deployment.ts derives for every family's read-only
 * calls, the lookups a rule decides with and the probes that read the present
 * before and after each write: each on the resource the kit's table
 * (`rulekit/resources.ts`, from the Service Authorization Reference) gives its
 * action. The table is checked here once, not each rule against a copy of it.
 */
import { describe, expect, it } from 'vitest';
import { statementsFor } from '../deploy/deployment.js';
import { iamActionFor } from '../engine/iam-actions.js';
import type { Rule } from '../engine/types.js';
import { allRules, rulesByFamily } from '../remediations/registry.js';
import { ACTION_RESOURCES, ANY_RESOURCE, namesNoAccount } from '../rulekit/resources.js';

const iamRules = rulesByFamily.iam;
const credentialRules = rulesByFamily.credentials;

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

/** Every action the registry's rules use: reads (lookups, probes) and the writes their plans may make. */
const registryActions = new Set([...registryLookups.map(({ lookup }) => lookup.permission), ...allRules.flatMap((rule) => rule.permissions.map((p) => p.action))]);

/** The ARN shape of each service's resources: where the partition, Region and account go. */
const ARN_SHAPES: Readonly<Record<string, RegExp>> = {
  ec2: /^arn:\$\{AWS::Partition\}:ec2:\$\{AWS::Region\}:(\$\{AWS::AccountId\})?:[a-z-]+\/\*$/,
  iam: /^arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:[a-z-]+\/\*$/,
  s3: /^arn:\$\{AWS::Partition\}:s3:::\*$/,
  kms: /^arn:\$\{AWS::Partition\}:kms:\$\{AWS::Region\}:\$\{AWS::AccountId\}:key\/\*$/,
  cloudtrail: /^arn:\$\{AWS::Partition\}:cloudtrail:\$\{AWS::Region\}:\$\{AWS::AccountId\}:trail\/\*$/,
  sagemaker: /^arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:[a-z-]+\/\*$/,
  guardduty: /^arn:\$\{AWS::Partition\}:guardduty:\$\{AWS::Region\}:\$\{AWS::AccountId\}:detector\/\*$/,
  config: /^arn:\$\{AWS::Partition\}:config:\$\{AWS::Region\}:\$\{AWS::AccountId\}:configuration-recorder\/\*$/,
};

describe('the resource table (rulekit/resources.ts) against the Service Authorization Reference', () => {
  it('holds exactly the actions the registry uses: none missing, none stale', () => {
    expect([...registryActions].sort()).toStrictEqual(Object.keys(ACTION_RESOURCES).sort());
  });

  it.each(Object.entries(ACTION_RESOURCES))('%s is granted on %s, an ARN of its own service in the shape that service uses, or on *', (action, resource) => {
    if (resource === ANY_RESOURCE) return;
    const service = action.split(':')[0] ?? '';
    expect(resource, action).toMatch(ARN_SHAPES[service] ?? /^$/);
  });

  it('names no account only for buckets and for EC2 images and snapshots, whose ARNs carry none', () => {
    const withoutAccount = Object.entries(ACTION_RESOURCES).filter(([, resource]) => namesNoAccount(resource));
    expect(withoutAccount.every(([, resource]) => /:s3:::|::image\/|::snapshot\//.test(resource))).toBe(true);
  });

  it.each(registryLookups.map(({ rule, lookup }) => [`${rule.id} ${lookup.name}`, lookup] as const))('%s reads on the table\'s resource for its action', (_, lookup) => {
    expect(lookup.resource ?? ANY_RESOURCE).toStrictEqual(ACTION_RESOURCES[lookup.permission]);
  });
});
