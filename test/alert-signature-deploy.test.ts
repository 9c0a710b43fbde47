/**
 * The template side of authentic alerts (`deploy/alert-signing.ts`): the HMAC
 * key, who may sign with it, and what each function is granted and told.
 *
 * Mutations these tests catch: a key that can encrypt instead of MAC; a key
 * policy that lets any identity policy grant `GenerateMac`; naming the signers
 * by `Fn::GetAtt` (a circular dependency with the roles' inline policies);
 * granting signing or verifying on `*`.
 */
import { describe, expect, it } from 'vitest';
import { alertSigningEnvironment, alertSigningKeyResources, alertSigningStatement, alertVerifyingStatement, signerRoleArn } from '../deploy/alert-signing.js';
import { functionRole, runtimeStatements, type DeployParams } from '../deploy/deployment.js';
import { SIGNING_KEY_ENV } from '../notify/alert-signature.js';

const params: DeployParams = { service: 'remediation-bot', stage: 'prod', region: 'us-east-1' };
const keyArn = { 'Fn::GetAtt': ['AlertSigningKey', 'Arn'] };

describe('alert signing deployment', () => {
  const signers = ['security-groups', 'iam'].map((key) => functionRole(params, key, [], runtimeStatements(params, key)).Properties);
  const resources = alertSigningKeyResources(params, signers);

  it('creates an HMAC-SHA-256 key (HMAC keys have no automatic rotation) and an alias', () => {
    const key = resources['AlertSigningKey'] as { Type: string; Properties: Record<string, unknown> };
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties['KeySpec']).toBe('HMAC_256');
    expect(key.Properties['KeyUsage']).toBe('GENERATE_VERIFY_MAC');
    expect(key.Properties).not.toHaveProperty('EnableKeyRotation');
    expect(resources['AlertSigningKeyAlias']).toStrictEqual({
      Type: 'AWS::KMS::Alias',
      Properties: { AliasName: 'alias/remediation-bot-prod-alert-signing', TargetKeyId: { Ref: 'AlertSigningKey' } },
    });
  });

  it("denies GenerateMac to every principal but the remediation functions' exact roles, and denies grants", () => {
    const policy = (resources['AlertSigningKey'] as { Properties: { KeyPolicy: { Statement: unknown[] } } }).Properties.KeyPolicy;
    expect(policy.Statement).toStrictEqual([
      { Sid: 'AccountAdministers', Effect: 'Allow', Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'OnlyTheBotSigns',
        Effect: 'Deny',
        Principal: '*',
        Action: 'kms:GenerateMac',
        Resource: '*',
        Condition: {
          StringNotEquals: {
            'aws:PrincipalArn': [
              { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/remediation-bot-prod-us-east-1-security-groups' },
              { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/remediation-bot-prod-us-east-1-iam' },
            ],
          },
        },
      },
      { Sid: 'NoGrants', Effect: 'Deny', Principal: '*', Action: 'kms:CreateGrant', Resource: '*' },
    ]);
  });

  it('names the signers without referring to the roles, which refer to the key', () => {
    expect(JSON.stringify(resources)).not.toMatch(/Fn::GetAtt|"Ref":"(?!AlertSigningKey")/);
    expect(signerRoleArn({ Path: '/remediation-bot/', RoleName: 'x' })).toStrictEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/x' });
  });

  it('with no signer at all, lets no one sign', () => {
    const policy = (alertSigningKeyResources(params, [])['AlertSigningKey'] as { Properties: { KeyPolicy: { Statement: Record<string, unknown>[] } } }).Properties.KeyPolicy;
    expect(policy.Statement.find((statement) => statement['Sid'] === 'OnlyTheBotSigns')).toStrictEqual({
      Sid: 'OnlyTheBotSigns',
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:GenerateMac',
      Resource: '*',
    });
  });

  it('grants signing and verifying on that key only, and names it in the variable the code reads', () => {
    expect(alertSigningStatement()).toStrictEqual({ Effect: 'Allow', Action: ['kms:GenerateMac'], Resource: keyArn });
    expect(alertVerifyingStatement()).toStrictEqual({ Effect: 'Allow', Action: ['kms:VerifyMac'], Resource: keyArn });
    expect(alertSigningEnvironment()).toStrictEqual({ [SIGNING_KEY_ENV]: keyArn });
    expect(SIGNING_KEY_ENV).toBe('ALERT_SIGNING_KEY_ID');
  });
});
