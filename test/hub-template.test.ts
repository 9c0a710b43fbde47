/**
 * The Organization hub's part of the stack (deploy parameters
 * `organizationId` or `memberAccounts`): a bus only the organisation (or the
 * listed accounts) may put events on, each family's rule on it with the same
 * pattern, retry policy and dead-letter queue, and a function role that may
 * assume only its family's member role, only in the organisation. Without
 * them, the stack is exactly a single-account one.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployParamProblems, familyKey, familyPattern, stackValues, type DeployParams } from '../deploy/deployment.js';
import { rulesByFamily, type DeployedFamily } from '../remediations/registry.js';

const CONFIG_FILE = join(import.meta.dirname, '..', 'remediation.config.yml');
const ORG = 'o-a1b2c3d4e5';
const base: DeployParams = { service: 'remediation-bot', stage: 'prod', region: 'us-east-1' };

type Resource = { Type: string; Properties: Record<string, any> };
const families = Object.keys(rulesByFamily) as DeployedFamily[];
const capital = (family: string) => `${familyKey(family).charAt(0).toUpperCase()}${familyKey(family).slice(1)}`;

function stack(params: Partial<DeployParams> = {}) {
  const values = stackValues(CONFIG_FILE, { ...base, ...params });
  return { resources: values.resources.Resources as Record<string, Resource>, outputs: values.resources.Outputs, functions: values.functions as Record<string, { environment: Record<string, unknown> }> };
}

function statementsOf(resources: Record<string, Resource>, family: string): Record<string, unknown>[] {
  return (resources[`${capital(family)}Role`]?.Properties['Policies'] as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
}

describe('an Organization hub', () => {
  it('is not there unless asked: no bus, no assume-role permission, no member settings', () => {
    const { resources, functions } = stack();
    expect(Object.keys(resources).filter((id) => id.startsWith('Hub') || id.includes('HubRule'))).toStrictEqual([]);
    for (const family of families) {
      expect(statementsOf(resources, family).filter((s) => JSON.stringify(s).includes('sts:AssumeRole')), family).toStrictEqual([]);
      expect(Object.keys(functions[familyKey(family)]?.environment ?? {}).filter((key) => key.startsWith('BOT_MEMBER') || key === 'BOT_ORGANIZATION_ID')).toStrictEqual([]);
    }
  });

  it('lets only the organisation put events on its bus, and routes them to each family with the same pattern, retry policy and dead-letter queue', () => {
    const { resources, outputs } = stack({ organizationId: ORG });
    expect(resources['HubEventBus']?.Properties).toStrictEqual({ Name: 'remediation-bot-prod-hub' });
    expect(resources['HubEventBusPolicy']?.Properties).toStrictEqual({
      EventBusName: { Ref: 'HubEventBus' },
      StatementId: 'members-put-events',
      Statement: { Effect: 'Allow', Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': ['HubEventBus', 'Arn'] }, Principal: '*', Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG } } },
    });
    expect(outputs['HubEventBusArn']).toMatchObject({ Value: { 'Fn::GetAtt': ['HubEventBus', 'Arn'] } });
    for (const family of families) {
      const rule = resources[`${capital(family)}HubRule`];
      expect(rule?.Properties['EventBusName'], family).toStrictEqual({ Ref: 'HubEventBus' });
      expect(rule?.Properties['EventPattern'], family).toStrictEqual(familyPattern(family));
      expect(rule?.Properties['Targets'], family).toStrictEqual([
        {
          Id: 'function',
          Arn: { 'Fn::GetAtt': [`${capital(family)}LambdaFunction`, 'Arn'] },
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] } },
        },
      ]);
      expect(resources[`${capital(family)}HubRulePermission`]?.Properties['SourceArn'], family).toStrictEqual({ 'Fn::GetAtt': [`${capital(family)}HubRule`, 'Arn'] });
    }
  });

  it('lets each function assume only its family\'s member role, only in the organisation', () => {
    const { resources, functions } = stack({ organizationId: ORG });
    for (const family of families) {
      expect(statementsOf(resources, family).filter((s) => JSON.stringify(s['Action']).includes('sts:')), family).toStrictEqual([
        {
          Effect: 'Allow',
          Action: ['sts:AssumeRole'],
          Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:iam::*:role/remediation-bot/remediation-bot-member-${family}` },
          Condition: { StringEquals: { 'aws:ResourceOrgID': ORG } },
        },
      ]);
      expect(functions[familyKey(family)]?.environment['BOT_ORGANIZATION_ID'], family).toBe(ORG);
      expect(String(functions[familyKey(family)]?.environment['BOT_MEMBER_ROLE_NAMES']).split(','), family).toContain(`remediation-bot-member-${family}`);
    }
  });

  it('without Organizations, names exactly the listed accounts, in the bus policy and in the roles it may assume', () => {
    const { resources, functions } = stack({ memberAccounts: '444455556666, 777788889999' });
    expect(resources['HubEventBusPolicy']?.Properties['Statement']['Principal']).toStrictEqual({
      AWS: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::444455556666:root' }, { 'Fn::Sub': 'arn:${AWS::Partition}:iam::777788889999:root' }],
    });
    expect(statementsOf(resources, 'security-groups').find((s) => JSON.stringify(s['Action']).includes('sts:'))?.['Resource']).toStrictEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::444455556666:role/remediation-bot/remediation-bot-member-security-groups' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::777788889999:role/remediation-bot/remediation-bot-member-security-groups' },
    ]);
    expect(functions[familyKey('security-groups')]?.environment['BOT_MEMBER_ACCOUNTS']).toBe('444455556666,777788889999');
  });

  it('refuses a malformed organisation id or account list, naming the parameter', () => {
    expect(deployParamProblems({ ...base, organizationId: 'a1b2c3' })).toStrictEqual(['param organizationId: expected an AWS Organizations id such as o-a1b2c3d4e5, got "a1b2c3"']);
    expect(deployParamProblems({ ...base, memberAccounts: '444455556666,12345' })).toStrictEqual(['param memberAccounts: expected 12-digit account ids, comma-separated, got "12345"']);
  });
});
