import { RevokeSecurityGroupIngressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';
import { BOT_ENV } from './helpers/bot.js';
import { fakeSecurityGroups, ingressRule } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

let ec2: AwsClientStub<EC2Client>;
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const GROUP = 'sg-0a1b2c3d4e5f67890';

function handlerFor(mode: 'remediate' | 'propose' | 'notify' | 'off', env: Record<string, string> = {}) {
  const logger = recordingLogger();
  const config = parseConfig({ rules: { 'sg-open-ingress': { mode } } }, securityGroupRules);
  const handler = remediationHandler({
    rules: securityGroupRules,
    commands: securityGroupCommands,
    logger,
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-security-groups', ...BOT_ENV, ...env },
    gateway: createAwsGateway(securityGroupCommands, { region: 'us-east-1' }),
  });
  return { handler, logger };
}

/** The group as the fixtures' events left it: every rule they name exists, open as they opened it. */
function groupAsRecorded(tags: { Key: string; Value: string }[] = [{ Key: 'team', Value: 'web' }]) {
  ({ ec2 } = fakeSecurityGroups([
    {
      groupId: GROUP,
      tags,
      rules: new Map(
        [
          ingressRule(GROUP, 'sgr-0f1e2d3c4b5a69788', 'tcp', 22, 22, '0.0.0.0/0'),
          ingressRule(GROUP, 'sgr-01111111111111111', 'tcp', 22, 22, '0.0.0.0/0'),
          ingressRule(GROUP, 'sgr-0e0e0e0e0e0e0e0e1', 'tcp', 22, 22, '0.0.0.0/0'),
          ingressRule(GROUP, 'sgr-0d0d0d0d0d0d0d0d1', 'tcp', 22, 22, '0.0.0.0/0'),
        ].map((rule) => [rule.SecurityGroupRuleId ?? '', rule]),
      ),
    },
  ]));
}

describe('security-groups handler', () => {
  beforeEach(() => {
    sns.reset();
    groupAsRecorded();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('revokes only the offending rule id of a mixed call in remediate mode, and alerts once', async () => {
    // Arrange
    const { handler } = handlerFor('remediate');
    // Act
    const result = await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-ruleids.json'));
    // Assert
    expect(ec2.calls().map((call) => call.args[0].constructor.name)).toStrictEqual([
      'DescribeSecurityGroupsCommand',
      'DescribeSecurityGroupRulesCommand',
      'RevokeSecurityGroupIngressCommand',
      'DescribeSecurityGroupRulesCommand',
    ]);
    const revokes = ec2.commandCalls(RevokeSecurityGroupIngressCommand);
    expect(revokes).toHaveLength(1);
    expect(revokes[0]?.args[0].input).toStrictEqual({ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-01111111111111111'] });
    expect(result).toStrictEqual({
      status: 'processed',
      eventId: loadEvent('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-ruleids.json').detail.eventID,
      decisions: [
        {
          rule: 'sg-open-ingress',
          verdict: 'violation',
          outcome: 'applied',
          summary: `${GROUP}: sgr-01111111111111111 tcp/22 from 0.0.0.0/0 open to the internet`,
          execution: 'applied',
        },
      ],
    });
    const publishes = sns.commandCalls(PublishCommand);
    expect(publishes).toHaveLength(1);
    const input = publishes[0]?.args[0].input;
    expect(input?.TopicArn).toBe(TOPIC);
    expect(input?.MessageStructure).toBe('json');
    expect(input?.MessageAttributes).toStrictEqual({
      rule: { DataType: 'String', StringValue: 'sg-open-ingress' },
      severity: { DataType: 'String', StringValue: 'high' },
      severityRank: { DataType: 'Number', StringValue: '3' },
      account: { DataType: 'String', StringValue: '111122223333' },
      mode: { DataType: 'String', StringValue: 'remediate' },
      outcome: { DataType: 'String', StringValue: 'applied' },
    });
  });

  it('is harmless when the same event is delivered twice: the second delivery reads the rule gone and writes nothing', async () => {
    const { handler } = handlerFor('remediate');
    const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
    const first = await handler(event);
    const second = await handler(structuredClone(event));
    const revokes = ec2.commandCalls(RevokeSecurityGroupIngressCommand);
    expect(revokes.map((call) => call.args[0].input)).toStrictEqual([{ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-0f1e2d3c4b5a69788'] }]);
    expect(first.status === 'processed' && first.decisions[0]?.outcome).toBe('applied');
    expect(second.status === 'processed' && second.decisions[0]?.outcome).toBe('already-fixed');
  });

  it('makes no write call in propose mode but still alerts with the plan', async () => {
    const { handler } = handlerFor('propose');
    await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
    expect(message['email']).toContain('ec2:RevokeSecurityGroupIngress {"GroupId":"sg-0a1b2c3d4e5f67890","SecurityGroupRuleIds":["sgr-0f1e2d3c4b5a69788"]}');
  });

  it('never applies when DRY_RUN=true, even in remediate mode', async () => {
    const { handler } = handlerFor('remediate', { DRY_RUN: 'true' });
    const result = await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('proposed');
  });

  it('makes no call at all, not even a lookup, when the rule is off', async () => {
    const { handler } = handlerFor('off');
    await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(ec2.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });

  it('makes no lookup for an event that opens nothing forbidden: the group is read only to check an exemption', async () => {
    const { handler } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-ipv6-world-https-compliant.json'));
    expect(result.status === 'processed' && result.decisions.map((d) => d.verdict)).toStrictEqual(['compliant']);
    expect(ec2.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });

  it('reads which modified rules are egress before deciding, and the group only when an ingress rule offends', async () => {
    const { handler } = handlerFor('propose');
    await handler(loadEvent('ec2/ModifySecurityGroupRules-office-cidr-compliant.json'));
    expect(ec2.calls().map((call) => call.args[0].constructor.name)).toStrictEqual(['DescribeSecurityGroupRulesCommand']);
    ec2.resetHistory();
    await handler(loadEvent('ec2/ModifySecurityGroupRules-world-ssh.json'));
    // The third read is the proposal's precondition: what the bot proposes is checked against the present.
    expect(ec2.calls().map((call) => call.args[0].constructor.name)).toStrictEqual([
      'DescribeSecurityGroupRulesCommand',
      'DescribeSecurityGroupsCommand',
      'DescribeSecurityGroupRulesCommand',
    ]);
  });

  it('leaves an exempt group alone and says why', async () => {
    groupAsRecorded([{ Key: 'remediation:exempt', Value: 'bastion SEC-42' }]);
    const { handler } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'exempt', outcome: 'exempt' });
  });

  it.each([
    ['a failed call', 'ec2/AuthorizeSecurityGroupIngress-failed-unauthorized.json'],
    ["the bot's own call", 'ec2/AuthorizeSecurityGroupIngress-by-bot-itself-skipped.json'],
  ])('skips %s before any rule runs, with no AWS call', async (_, fixture) => {
    const { handler } = handlerFor('remediate');
    const result = await handler(loadEvent(fixture));
    expect(ec2.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]?.verdict).toBe('skipped');
  });

  it('treats a role that only shares the bot\u2019s IAM path as anyone else: its open ssh is revoked', async () => {
    const { handler } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-by-shadow-role-on-bot-path.json'));
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'violation', outcome: 'applied' });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toStrictEqual([
      { GroupId: GROUP, SecurityGroupRuleIds: ['sgr-0d0d0d0d0d0d0d0d1'] },
    ]);
  });

  it('skips principals on the ignore list', async () => {
    const logger = recordingLogger();
    const config = parseConfig({ ignorePrincipals: ['arn:aws:iam::111122223333:user/ali*'], rules: { 'sg-open-ingress': { mode: 'remediate' } } }, securityGroupRules);
    const handler = remediationHandler({ rules: securityGroupRules, commands: securityGroupCommands, logger, config, env: {}, gateway: createAwsGateway(securityGroupCommands) });
    const result = await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(ec2.calls()).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]?.summary).toBe(
      'principal arn:aws:iam::111122223333:user/alice is ignored by config (arn:aws:iam::111122223333:user/ali*)',
    );
  });

  it.each([
    ['not an object', 'hello'],
    ['no detail', { id: 'evt-1', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.ec2', account: '1', time: 't', region: 'r' }],
    ['a detail without eventID', (() => {
      const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json') as unknown as { detail: Record<string, unknown> };
      delete event.detail['eventID'];
      return event;
    })()],
  ])('logs a clear error and makes no AWS call for a malformed event (%s)', async (_, event) => {
    const { handler, logger } = handlerFor('remediate');
    const result = await handler(event);
    expect(result.status).toBe('invalid');
    expect(ec2.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
    expect(logger.lines.filter((line) => line.level === 'error').map((line) => line.message)).toStrictEqual(['malformed event: no action taken']);
  });

  it('names the event id and the bad field in the error', async () => {
    const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json') as unknown as { detail: Record<string, unknown> };
    event.detail['eventName'] = 42;
    const { handler } = handlerFor('remediate');
    const result = await handler(event);
    expect(result).toMatchObject({ status: 'invalid', eventId: loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json').detail.eventID });
    expect(result.status === 'invalid' && result.error).toContain('detail.eventName: expected string, got number');
  });

  it('proposes instead of applying when a plan exceeds the write budget, and says why', async () => {
    const logger = recordingLogger();
    const config = parseConfig({ maxWritesPerInvocation: 0, rules: { 'sg-open-ingress': { mode: 'remediate' } } }, securityGroupRules);
    const handler = remediationHandler({ rules: securityGroupRules, commands: securityGroupCommands, logger, config, env: { ALERT_TOPIC_ARN: TOPIC }, gateway: createAwsGateway(securityGroupCommands) });
    const result = await handler(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'));
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('proposed');
    const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
    expect(message['email']).toContain('maxWritesPerInvocation 0');
  });

  it('puts the event id and rule on every decision log line', async () => {
    const { handler, logger } = handlerFor('propose');
    const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
    await handler(event);
    const decisionLines = logger.lines.filter((line) => line.message === 'decision');
    expect(decisionLines).toHaveLength(1);
    expect(decisionLines[0]?.extra).toMatchObject({ eventId: event.detail.eventID, rule: 'sg-open-ingress', verdict: 'violation', outcome: 'proposed' });
  });
});
