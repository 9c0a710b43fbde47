/**
 * The template side of authentic alerts (`notify/alert-signature.ts`): a KMS
 * HMAC key that only the remediation functions' roles may sign with, the IAM
 * statements that let them sign and the notifier verify, and the environment
 * variable that names the key to both. Pure functions: `deployment.ts` places
 * their output.
 *
 * HMAC keys have no automatic rotation in KMS, so the key sets none. The key
 * policy names the signers by ARN built from their path and name, not with
 * `Fn::GetAtt`: the roles' inline policies name the key, so a reference back
 * would be a circular dependency.
 */
import { SIGNING_KEY_ENV } from '../notify/alert-signature.js';
import type { IamStatement } from './deployment.js';

/** The logical id of the stack's HMAC key. */
const ALERT_SIGNING_KEY = 'AlertSigningKey';

const keyArn = { 'Fn::GetAtt': [ALERT_SIGNING_KEY, 'Arn'] } as const;

/** A role that may sign alerts, as `functionRole` declares it. */
export interface SignerRole {
  readonly Path: string;
  readonly RoleName: string;
}

/** The ARN `aws:PrincipalArn` carries for a session of the role: the role's own ARN, path included. */
export function signerRoleArn(role: SignerRole): { readonly 'Fn::Sub': string } {
  return { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role${role.Path}${role.RoleName}` };
}

/**
 * The HMAC key and its alias. The account administers the key, as for the
 * stack's encryption key, but an explicit deny keeps `GenerateMac` to the
 * signer roles, whatever an identity policy in the account grants, and no one
 * may create a grant (grants can carry `GenerateMac`).
 */
export function alertSigningKeyResources(params: { readonly service: string; readonly stage: string }, signers: readonly SignerRole[]): Record<string, unknown> {
  const onlySigners = signers.length > 0 ? { Condition: { StringNotEquals: { 'aws:PrincipalArn': signers.map(signerRoleArn) } } } : {};
  return {
    [ALERT_SIGNING_KEY]: {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: `${params.service}-${params.stage}: signs the alerts the remediation functions publish`,
        KeySpec: 'HMAC_256',
        KeyUsage: 'GENERATE_VERIFY_MAC',
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AccountAdministers',
              Effect: 'Allow',
              Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
              Action: 'kms:*',
              Resource: '*',
            },
            { Sid: 'OnlyTheBotSigns', Effect: 'Deny', Principal: '*', Action: 'kms:GenerateMac', Resource: '*', ...onlySigners },
            { Sid: 'NoGrants', Effect: 'Deny', Principal: '*', Action: 'kms:CreateGrant', Resource: '*' },
          ],
        },
      },
    },
    [`${ALERT_SIGNING_KEY}Alias`]: {
      Type: 'AWS::KMS::Alias',
      Properties: { AliasName: `alias/${params.service}-${params.stage}-alert-signing`, TargetKeyId: { Ref: ALERT_SIGNING_KEY } },
    },
  };
}

/** For each remediation function's role: sign with this key, and no other. */
export function alertSigningStatement(): IamStatement {
  return { Effect: 'Allow', Action: ['kms:GenerateMac'], Resource: keyArn };
}

/** For the notifier's role: verify with this key, and no other. */
export function alertVerifyingStatement(): IamStatement {
  return { Effect: 'Allow', Action: ['kms:VerifyMac'], Resource: keyArn };
}

/** The environment of every remediation function and of the notifier: the key's ARN. */
export function alertSigningEnvironment(): Readonly<Record<typeof SIGNING_KEY_ENV, typeof keyArn>> {
  return { [SIGNING_KEY_ENV]: keyArn };
}
