/**
 * The security-groups family's function, with EC2 and SNS mocked.
 *
 * sg-open-ingress acts on the present, not on the event's picture of it, and
 * "fixed" means a read showed it fixed. Each scenario changes the security
 * group between the event and the bot's run, as a person would, against a
 * stateful stand-in that answers with EC2's documented shapes and error codes.
 */
import { DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { InvocationResult } from '../../engine/lambda.js';
import type { MetricName } from '../../engine/metrics.js';
import { fakeSecurityGroups, ingressRule, type GroupState } from '../helpers/ec2-security-groups.js';
import { loadEvent } from '../helpers/fixtures.js';
import { familyHandler } from '../helpers/rule-harness.js';

const GROUP = 'sg-0a1b2c3d4e5f67890';
const SSH = 'sgr-0aa1b2c3d4e5f6071';
const RDP = 'sgr-0bb1b2c3d4e5f6072';
const sns = mockClient(SNSClient);

function group(rules: ReturnType<typeof ingressRule>[], extra: Partial<GroupState> = {}): GroupState {
  return { groupId: GROUP, groupName: 'web', rules: new Map(rules.map((rule) => [rule.SecurityGroupRuleId ?? '', rule])), ...extra };
}

/** The family's function as deployed, in `mode`, counting its metrics. */
async function run(event: unknown, mode: 'remediate' | 'propose' = 'remediate') {
  const counted: [MetricName, string | undefined][] = [];
  const { handler } = familyHandler('security-groups', {
    modes: { 'sg-open-ingress': mode },
    metrics: { count: (name, rule) => void counted.push([name, rule]) },
  });
  const result = await handler(event);
  return { result, counted };
}

function outcome(result: InvocationResult): string | undefined {
  return result.status === 'processed' ? result.decisions[0]?.outcome : undefined;
}

function alertText(): string {
  const message = JSON.parse(String(sns.commandCalls(PublishCommand).at(-1)?.args[0].input.Message)) as Record<string, string>;
  return message['email'] ?? '';
}

describe('sg-open-ingress against the present state', () => {
  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('a grant a person partly reverted: the ssh rule is already gone, rdp is still open, so rdp is revoked and verified (never "already fixed")', async () => {
    // Arrange: the event opened ssh and rdp; a person revoked ssh before the bot ran.
    const { ec2, groups } = fakeSecurityGroups([group([ingressRule(GROUP, RDP, 'tcp', 3389, 3389, '0.0.0.0/0')])]);
    // Act
    const { result, counted } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json'));
    // Assert: one revoke, for rdp only, between a read before and a read after.
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toStrictEqual([{ GroupId: GROUP, SecurityGroupRuleIds: [RDP] }]);
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand).map((call) => call.args[0].input)).toStrictEqual([
      { SecurityGroupRuleIds: [SSH] },
      { SecurityGroupRuleIds: [RDP] },
      { SecurityGroupRuleIds: [RDP] },
    ]);
    expect(groups[0]?.rules.size).toBe(0);
    expect(outcome(result)).toBe('applied');
    expect(counted).toContainEqual(['Applied', 'sg-open-ingress']);
    expect(alertText()).toContain(`before: done - ${SSH} no longer exists`);
    expect(alertText()).toContain(`after: done - ${RDP} no longer exists`);
  });

  it('a second delivery after the fix is "already fixed" on the evidence of a read, with no write', async () => {
    const { ec2 } = fakeSecurityGroups([group([])]);
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json'));
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(outcome(result)).toBe('already-fixed');
    expect(alertText()).toContain(`a read showed every step already in place (${SSH} no longer exists)`);
  });

  it('a rule modified to 0.0.0.0/0 and set back to 10.0.0.0/8 before the bot ran is left alone: stale, nothing revoked, and the alert says what changed', async () => {
    // Arrange: ModifySecurityGroupRules opened sgr-0e…1 to the world; a person set it back to a private range.
    const modified = 'sgr-0e0e0e0e0e0e0e0e1';
    const { ec2, groups } = fakeSecurityGroups([group([ingressRule(GROUP, modified, 'tcp', 22, 22, '10.0.0.0/8')])]);
    // Act
    const { result, counted } = await run(loadEvent('ec2/ModifySecurityGroupRules-world-ssh.json'));
    // Assert
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(groups[0]?.rules.has(modified)).toBe(true);
    expect(outcome(result)).toBe('stale');
    expect(counted).toContainEqual(['Stale', 'sg-open-ingress']);
    expect(alertText()).toContain(`${modified} now allows 10.0.0.0/8 on tcp/22-22, not 0.0.0.0/0 on tcp/22 as the event set it: nothing revoked`);
  });

  it('in propose mode, reads the present before proposing: a grant already closed is reported "already fixed", not proposed', async () => {
    const { ec2 } = fakeSecurityGroups([group([])]);
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), 'propose');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(outcome(result)).toBe('already-fixed');
  });

  it('in propose mode, a grant still open is proposed, and the alert shows what the read found now', async () => {
    fakeSecurityGroups([group([ingressRule(GROUP, 'sgr-0f1e2d3c4b5a69788', 'tcp', 22, 22, '0.0.0.0/0')])]);
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), 'propose');
    expect(outcome(result)).toBe('proposed');
    expect(alertText()).toContain('checked now: still needed - sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22');
  });

  it('a revoke that AWS accepts but that leaves the rule in place is "applied, NOT verified", high in the alert and counted', async () => {
    const { ec2 } = fakeSecurityGroups([group([ingressRule(GROUP, 'sgr-0f1e2d3c4b5a69788', 'tcp', 22, 22, '0.0.0.0/0')])]);
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    const { result, counted } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(outcome(result)).toBe('unverified');
    expect(counted).toContainEqual(['RemediationUnverified', 'sg-open-ingress']);
    expect(counted).toContainEqual(['RemediationUnverified', undefined]);
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input.Subject).toMatch(/^\[HIGH\] APPLIED, NOT VERIFIED: /);
    expect(alertText()).toContain('after: still needed - sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22');
  });

  it('a default-VPC revoke by permission that matches nothing succeeds with UnknownIpPermissions: read as "nothing revoked", never as applied', async () => {
    // The rule is there, but as tcp/22-22 from a range the event's picture does not match once EC2 normalised it.
    const { ec2 } = fakeSecurityGroups([group([ingressRule(GROUP, 'sgr-0d0d0d0d0d0d0d0d1', 'tcp', 22, 22, '0.0.0.0/0')], { defaultVpc: true })]);
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true, UnknownIpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] });
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-legacy-no-ruleids.json'));
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(outcome(result)).toBe('failed');
    expect(alertText()).toContain('NothingChanged');
  });

  it('a revoke the read before cannot make (permission denied) is not sent, and the alert names the missing read permission', async () => {
    const { ec2 } = fakeSecurityGroups([group([ingressRule(GROUP, 'sgr-0f1e2d3c4b5a69788', 'tcp', 22, 22, '0.0.0.0/0')])]);
    ec2.on(DescribeSecurityGroupRulesCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation', $fault: 'client', $metadata: { httpStatusCode: 403 } }));
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(outcome(result)).toBe('failed');
    expect(alertText()).toContain('grant ec2:DescribeSecurityGroupRules');
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(1);
  });
});
