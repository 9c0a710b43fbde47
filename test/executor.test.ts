import { EC2Client, EC2ServiceException, RevokeSecurityGroupIngressCommand, DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, errorCode } from '../engine/aws.js';
import { executePlan, isConfirmed, preflightPlan } from '../engine/executor.js';
import { checkedBothWays, stateCheck, type Plan, type PlanStep, type Probe } from '../engine/types.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

const ec2 = mockClient(EC2Client);

function ec2Error(name: string, fault: 'client' | 'server' = 'client'): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: fault === 'client' ? 400 : 500 }, message: `${name} message` });
}

/** Judges a rule read by id: present means the step is still needed, absent means done, egress means it changed. */
const ruleProbe: Probe = {
  name: 'rule',
  service: 'ec2',
  operation: 'DescribeSecurityGroupRules',
  notFoundCodes: ['InvalidSecurityGroupRuleId.NotFound'],
  judge(output, expect) {
    const rules = (output as { SecurityGroupRules?: { SecurityGroupRuleId?: string; IsEgress?: boolean }[] } | null)?.SecurityGroupRules ?? [];
    const rule = rules.find((r) => r.SecurityGroupRuleId === expect['id']);
    if (!rule) return { state: 'done', evidence: `${String(expect['id'])} is gone` };
    if (rule.IsEgress) return { state: 'changed', evidence: `${String(expect['id'])} is egress now` };
    return { state: 'needed', evidence: `${String(expect['id'])} is still there` };
  },
};

function revoke(group: string, id: string): PlanStep {
  return {
    service: 'ec2',
    operation: 'RevokeSecurityGroupIngress',
    input: { GroupId: group, SecurityGroupRuleIds: [id] },
    reason: `close ${id}`,
    alreadyDoneCodes: ['InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound'],
    ...checkedBothWays(stateCheck(ruleProbe, { SecurityGroupRuleIds: [id] }, { id }, `${id} is still there`)),
  };
}

const A = revoke('sg-0a1b2c3d4e5f67890', 'sgr-01111111111111111');
const B = revoke('sg-0fedcba9876543210', 'sgr-02222222222222222');
const C = revoke('sg-0123456789abcdef0', 'sgr-03333333333333333');

/** The rules that exist, as DescribeSecurityGroupRules answers; RevokeSecurityGroupIngress removes them. */
function present(...ids: string[]): Set<string> {
  const rules = new Set(ids);
  ec2.on(DescribeSecurityGroupRulesCommand).callsFake((input: { SecurityGroupRuleIds: string[] }) => {
    if (input.SecurityGroupRuleIds.some((id) => !rules.has(id))) throw ec2Error('InvalidSecurityGroupRuleId.NotFound');
    return { SecurityGroupRules: input.SecurityGroupRuleIds.map((id) => ({ SecurityGroupRuleId: id, IsEgress: false })) };
  });
  ec2.on(RevokeSecurityGroupIngressCommand).callsFake((input: { SecurityGroupRuleIds: string[] }) => {
    if (input.SecurityGroupRuleIds.some((id) => !rules.has(id))) throw ec2Error('InvalidSecurityGroupRuleId.NotFound');
    for (const id of input.SecurityGroupRuleIds) rules.delete(id);
    return { Return: true };
  });
  return rules;
}

const gateway = () => createAwsGateway(securityGroupCommands, { region: 'us-east-1' });
const options = { probes: [ruleProbe] };

describe('executePlan', () => {
  beforeEach(() => ec2.reset());
  afterEach(() => ec2.reset());

  it('reads before each write and after it, sends every step with its exact SDK input in order, and reports it verified', async () => {
    // Arrange
    present('sgr-01111111111111111', 'sgr-02222222222222222');
    // Act
    const report = await executePlan([A, B], gateway(), options);
    // Assert
    expect(report.status).toBe('applied');
    expect(ec2.calls().map((call) => [(call.args[0] as { constructor: { name: string } }).constructor.name, (call.args[0] as { input: unknown }).input])).toStrictEqual([
      ['DescribeSecurityGroupRulesCommand', { SecurityGroupRuleIds: ['sgr-01111111111111111'] }],
      ['RevokeSecurityGroupIngressCommand', { GroupId: 'sg-0a1b2c3d4e5f67890', SecurityGroupRuleIds: ['sgr-01111111111111111'] }],
      ['DescribeSecurityGroupRulesCommand', { SecurityGroupRuleIds: ['sgr-01111111111111111'] }],
      ['DescribeSecurityGroupRulesCommand', { SecurityGroupRuleIds: ['sgr-02222222222222222'] }],
      ['RevokeSecurityGroupIngressCommand', { GroupId: 'sg-0fedcba9876543210', SecurityGroupRuleIds: ['sgr-02222222222222222'] }],
      ['DescribeSecurityGroupRulesCommand', { SecurityGroupRuleIds: ['sgr-02222222222222222'] }],
    ]);
    expect(report.steps.map((s) => [s.status, s.precondition, s.verification])).toStrictEqual([
      ['applied', { state: 'needed', evidence: 'sgr-01111111111111111 is still there' }, { state: 'done', evidence: 'sgr-01111111111111111 is gone' }],
      ['applied', { state: 'needed', evidence: 'sgr-02222222222222222 is still there' }, { state: 'done', evidence: 'sgr-02222222222222222 is gone' }],
    ]);
  });

  it('reports a step the read before finds done as already-done with the evidence, without writing; all of them is "already fixed"', async () => {
    present();
    const report = await executePlan([A, B], gateway(), options);
    expect(report.status).toBe('already-fixed');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(report.steps.map((s) => [s.status, s.precondition?.evidence])).toStrictEqual([
      ['already-done', 'sgr-01111111111111111 is gone'],
      ['already-done', 'sgr-02222222222222222 is gone'],
    ]);
    expect(report.steps.every(isConfirmed)).toBe(true);
  });

  it('runs nothing more once a read shows the resource changed since the event: the plan is stale', async () => {
    present('sgr-01111111111111111', 'sgr-02222222222222222');
    ec2.on(DescribeSecurityGroupRulesCommand, { SecurityGroupRuleIds: ['sgr-01111111111111111'] }).resolves({
      SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-01111111111111111', IsEgress: true }],
    });
    const report = await executePlan([A, B], gateway(), options);
    expect(report.status).toBe('stale');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(report.steps.map((s) => s.status)).toStrictEqual(['stale', 'not-run']);
    expect(report.resume).toBeUndefined();
  });

  it('believes an "already gone" error code only when a fresh read agrees', async () => {
    // The read before said the rule was there; the revoke then found it gone (a person was faster).
    const rules = present('sgr-01111111111111111');
    ec2.on(RevokeSecurityGroupIngressCommand).callsFake(() => {
      rules.clear();
      throw ec2Error('InvalidSecurityGroupRuleId.NotFound');
    });
    const report = await executePlan([A], gateway(), options);
    expect(report.status).toBe('already-fixed');
    expect(report.steps[0]).toMatchObject({ status: 'already-done', errorCode: 'InvalidSecurityGroupRuleId.NotFound', verification: { state: 'done' } });
  });

  it('fails a step whose "already gone" error code a fresh read contradicts', async () => {
    present('sgr-01111111111111111');
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(ec2Error('InvalidPermission.NotFound'));
    const report = await executePlan([A], gateway(), options);
    expect(report.status).toBe('failed');
    expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'NothingChanged', verification: { state: 'needed' } });
  });

  it('reports a write that a read afterwards does not confirm as unverified, with what the read saw', async () => {
    present('sgr-01111111111111111');
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    const report = await executePlan([A], gateway(), options);
    expect(report.status).toBe('unverified');
    expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: 'sgr-01111111111111111 is still there' });
  });

  it('treats a success whose output lists what it did not find (noChangeWhen) as nothing changed, and reads again', async () => {
    present('sgr-01111111111111111');
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true, UnknownIpPermissions: [{ IpProtocol: 'tcp' }] });
    const step: PlanStep = { ...A, noChangeWhen: ['UnknownIpPermissions'] };
    const report = await executePlan([step], gateway(), options);
    expect(report.status).toBe('failed');
    expect(report.steps[0]?.errorMessage).toContain('UnknownIpPermissions');
  });

  it('counts a write with no verification read as unverified, never as applied', async () => {
    present('sgr-01111111111111111');
    const { verification: _verification, ...unchecked } = A;
    const report = await executePlan([unchecked], gateway(), options);
    expect(report.status).toBe('unverified');
  });

  it('does not write when the read before it fails, and says which read and why', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).rejects(ec2Error('UnauthorizedOperation'));
    const report = await executePlan([A], gateway(), { ...options, functionName: 'remediation-bot-prod-security-groups' });
    expect(report.status).toBe('failed');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(report.steps[0]).toMatchObject({
      status: 'failed',
      errorCode: 'UnauthorizedOperation',
      hint: 'grant ec2:DescribeSecurityGroupRules to function remediation-bot-prod-security-groups',
      precondition: { state: 'unreadable', evidence: 'DescribeSecurityGroupRules failed: UnauthorizedOperation' },
    });
  });

  it('refuses a check whose read is not its probe\u2019s own call, before any call: data cannot steer the bot to another API', async () => {
    present('sgr-01111111111111111');
    const steered: PlanStep = { ...A, precondition: { ...(A.precondition ?? stateCheck(ruleProbe, {}, {}, '')), operation: 'RevokeSecurityGroupIngress' } };
    const report = await executePlan([steered], gateway(), options);
    expect(report.status).toBe('failed');
    expect(report.steps[0]?.errorCode).toBe('PreconditionUnreadable');
    expect(ec2.calls()).toHaveLength(0);
  });

  it('sends the SDK a copy of the input, so the plan stays exactly what the rule planned', async () => {
    present('sgr-01111111111111111');
    ec2.on(RevokeSecurityGroupIngressCommand).callsFake((input: Record<string, unknown>) => {
      input['ChecksumAlgorithm'] = 'CRC32';
      return { Return: true };
    });
    const step = structuredClone(A);
    await executePlan([step], gateway(), options);
    expect(step.input).toStrictEqual(A.input);
  });

  it('stops at the first failing step and reports applied, failed and not-run steps', async () => {
    present('sgr-01111111111111111', 'sgr-02222222222222222', 'sgr-03333333333333333');
    ec2
      .on(RevokeSecurityGroupIngressCommand)
      .callsFakeOnce((input: { SecurityGroupRuleIds: string[] }) => {
        if (input.SecurityGroupRuleIds[0] !== 'sgr-01111111111111111') throw new Error('order');
        ec2.on(DescribeSecurityGroupRulesCommand, { SecurityGroupRuleIds: ['sgr-01111111111111111'] }).rejects(ec2Error('InvalidSecurityGroupRuleId.NotFound'));
        return { Return: true };
      })
      .rejectsOnce(ec2Error('InvalidGroup.NotFound'));
    const report = await executePlan([A, B, C], gateway(), options);
    expect(report.status).toBe('failed');
    expect(report.steps.map((s) => [s.index, s.status, s.errorCode])).toStrictEqual([
      [0, 'applied', undefined],
      [1, 'failed', 'InvalidGroup.NotFound'],
      [2, 'not-run', undefined],
    ]);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
    expect(report.unexpectedError).toBeUndefined();
  });

  it.each(['UnauthorizedOperation', 'AccessDenied'])('reports %s on the write as a failed remediation with the missing permission and function', async (code) => {
    present('sgr-01111111111111111');
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(ec2Error(code));
    const report = await executePlan([A], gateway(), { ...options, functionName: 'remediation-bot-prod-security-groups' });
    expect(report.steps[0]).toMatchObject({
      status: 'failed',
      errorCode: code,
      hint: 'grant ec2:RevokeSecurityGroupIngress to function remediation-bot-prod-security-groups',
    });
    expect(report.unexpectedError).toBeUndefined();
  });

  it('marks a server fault that outlived the retries as unexpected, so the handler rethrows it', async () => {
    present('sgr-01111111111111111');
    const fault = ec2Error('InternalError', 'server');
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(fault);
    const report = await executePlan([A], createAwsGateway(securityGroupCommands, { maxAttempts: 1 }), options);
    expect(report.status).toBe('failed');
    expect(report.unexpectedError).toBe(fault);
  });

  it('refuses an operation that is not in the function command table, without calling AWS', async () => {
    const plan: Plan = [{ service: 'ec2', operation: 'DeleteSecurityGroup', input: { GroupId: 'sg-1' }, reason: 'never' }];
    const report = await executePlan(plan, gateway());
    expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'UnsupportedOperationError' });
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('preflightPlan', () => {
  beforeEach(() => ec2.reset());

  it('reads only the preconditions, never writes, and says whether the proposal is still open', async () => {
    present('sgr-02222222222222222');
    const report = await preflightPlan([A, B], gateway(), [ruleProbe]);
    expect(report).toStrictEqual({
      status: 'open',
      checks: [
        { state: 'done', evidence: 'sgr-01111111111111111 is gone' },
        { state: 'needed', evidence: 'sgr-02222222222222222 is still there' },
      ],
    });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('is already-fixed when every step is done, and stale when one changed', async () => {
    present();
    expect((await preflightPlan([A, B], gateway(), [ruleProbe])).status).toBe('already-fixed');
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-01111111111111111', IsEgress: true }] });
    expect((await preflightPlan([A], gateway(), [ruleProbe])).status).toBe('stale');
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
