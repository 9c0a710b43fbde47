import { EC2Client, EC2ServiceException, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, errorCode } from '../engine/aws.js';
import { executePlan } from '../engine/executor.js';
import type { Plan } from '../engine/types.js';
import { securityGroupCommands } from '../remediations/security-groups/commands.js';

const ec2 = mockClient(EC2Client);

function ec2Error(name: string, fault: 'client' | 'server' = 'client'): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: fault === 'client' ? 400 : 500 }, message: `${name} message` });
}

const revokeA = {
  service: 'ec2',
  operation: 'RevokeSecurityGroupIngress',
  input: { GroupId: 'sg-0a1b2c3d4e5f67890', SecurityGroupRuleIds: ['sgr-01111111111111111'] },
  reason: 'close ssh',
  alreadyDoneCodes: ['InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound'],
} as const;
const revokeB = { ...revokeA, input: { GroupId: 'sg-0fedcba9876543210', SecurityGroupRuleIds: ['sgr-02222222222222222'] } } as const;
const revokeC = { ...revokeA, input: { GroupId: 'sg-0123456789abcdef0', SecurityGroupRuleIds: ['sgr-03333333333333333'] } } as const;

describe('executePlan', () => {
  beforeEach(() => ec2.reset());
  afterEach(() => ec2.reset());

  it('sends every step with its exact SDK input, in order', async () => {
    // Arrange
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    const gateway = createAwsGateway(securityGroupCommands, { region: 'us-east-1' });
    // Act
    const report = await executePlan([revokeA, revokeB], gateway);
    // Assert
    expect(report.status).toBe('applied');
    const calls = ec2.commandCalls(RevokeSecurityGroupIngressCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input).toStrictEqual({ GroupId: 'sg-0a1b2c3d4e5f67890', SecurityGroupRuleIds: ['sgr-01111111111111111'] });
    expect(calls[1]?.args[0].input).toStrictEqual({ GroupId: 'sg-0fedcba9876543210', SecurityGroupRuleIds: ['sgr-02222222222222222'] });
  });

  it('counts InvalidPermission.NotFound on a revoke as already done, so a second run is harmless', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(ec2Error('InvalidPermission.NotFound'));
    const report = await executePlan([revokeA], createAwsGateway(securityGroupCommands));
    expect(report.status).toBe('already-fixed');
    expect(report.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([['already-done', 'InvalidPermission.NotFound']]);
  });

  it('stops at the first failing step and reports applied, failed and not-run steps', async () => {
    ec2
      .on(RevokeSecurityGroupIngressCommand)
      .resolvesOnce({ Return: true })
      .rejectsOnce(ec2Error('InvalidGroup.NotFound'))
      .resolves({ Return: true });
    const report = await executePlan([revokeA, revokeB, revokeC], createAwsGateway(securityGroupCommands));
    expect(report.status).toBe('failed');
    expect(report.steps.map((s) => [s.index, s.status, s.errorCode])).toStrictEqual([
      [0, 'applied', undefined],
      [1, 'failed', 'InvalidGroup.NotFound'],
      [2, 'not-run', undefined],
    ]);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
    expect(report.unexpectedError).toBeUndefined();
  });

  it.each(['UnauthorizedOperation', 'AccessDenied'])('reports %s as a failed remediation with the missing permission and function', async (code) => {
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(ec2Error(code));
    const report = await executePlan([revokeA], createAwsGateway(securityGroupCommands), { functionName: 'remediation-bot-prod-securityGroups' });
    expect(report.steps[0]).toMatchObject({
      status: 'failed',
      errorCode: code,
      hint: 'grant ec2:RevokeSecurityGroupIngress to function remediation-bot-prod-securityGroups',
    });
    expect(report.unexpectedError).toBeUndefined();
  });

  it('marks a server fault that outlived the retries as unexpected, so the handler rethrows it', async () => {
    const fault = ec2Error('InternalError', 'server');
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(fault);
    const gateway = createAwsGateway(securityGroupCommands, { maxAttempts: 1 });
    const report = await executePlan([revokeA], gateway);
    expect(report.status).toBe('failed');
    expect(report.unexpectedError).toBe(fault);
  });

  it('refuses an operation that is not in the function command table, without calling AWS', async () => {
    const plan: Plan = [{ service: 'ec2', operation: 'DeleteSecurityGroup', input: { GroupId: 'sg-1' }, reason: 'never' }];
    const report = await executePlan(plan, createAwsGateway(securityGroupCommands));
    expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'UnsupportedOperationError' });
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('createAwsGateway', () => {
  it('creates one client per service with adaptive retry and reuses it', () => {
    const gateway = createAwsGateway(securityGroupCommands, { region: 'eu-west-1' });
    const first = gateway.client('ec2') as EC2Client;
    expect(gateway.client('ec2')).toBe(first);
    expect(first.config.retryMode).toBe('adaptive');
  });
});

describe('errorCode', () => {
  it('reads the AWS error code from SDK exceptions', () => {
    expect(errorCode(ec2Error('InvalidPermission.NotFound'))).toBe('InvalidPermission.NotFound');
    expect(errorCode(new Error('plain'))).toBe('UnknownError');
    expect(errorCode('nope')).toBe('UnknownError');
  });
});
