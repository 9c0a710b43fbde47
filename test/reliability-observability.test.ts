/**
 * Observability: per-rule metrics (Powertools Metrics, EMF) and logs that carry
 * the event id and the rule on every line, through the real middleware stack.
 */
import { DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand, EC2Client, EC2ServiceException, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { type EngineDeps } from '../engine/lambda.js';
import { processEvent } from './helpers/engine.js';
import type { MetricName } from '../engine/metrics.js';
import type { Rule } from '../engine/types.js';
import { rulesByFamily } from '../remediations/registry.js';
import { familyHandler, runtimeCommands } from '../handlers/runtime.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { recordingGateway } from './helpers/recording-gateway.js';
import { BOT_ENV } from './helpers/bot.js';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

const ec2 = mockClient(EC2Client);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const FIXTURE = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';
const GROUP = 'sg-0a1b2c3d4e5f67890';

function withTags(tags: { Key: string; Value: string }[]) {
  return { SecurityGroups: [{ GroupId: GROUP, Tags: tags }] };
}

function countingDeps(mode: 'remediate' | 'propose') {
  const counts: string[] = [];
  const deps: EngineDeps = {
    rules: securityGroupRules,
    config: parseConfig({ rules: { 'sg-open-ingress': { mode } } }, securityGroupRules),
    env: { ALERT_TOPIC_ARN: TOPIC, ...BOT_ENV },
    gateway: createAwsGateway(securityGroupCommands, { region: 'us-east-1' }),
    logger: recordingLogger(),
    metrics: { count: (name: MetricName, rule?: string) => void counts.push(rule ? `${name}/${rule}` : name) },
  };
  return { deps, counts };
}

beforeEach(() => {
  ec2.reset();
  sns.reset();
  ec2.on(DescribeSecurityGroupsCommand).resolves(withTags([]));
  // The rule the event opened is open until the bot revokes it; then EC2 no longer knows it.
  ec2
    .on(DescribeSecurityGroupRulesCommand)
    .resolvesOnce({ SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-0f1e2d3c4b5a69788', IsEgress: false, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' }] })
    .rejects(new EC2ServiceException({ name: 'InvalidSecurityGroupRuleId.NotFound', $fault: 'client', $metadata: {}, message: 'gone' }));
  ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('observability: metrics per rule', () => {
  it.each([
    ['applied', 'remediate', (): void => undefined, ['Events', 'Violations/sg-open-ingress', 'Applied/sg-open-ingress']],
    ['proposed', 'propose', (): void => undefined, ['Events', 'Violations/sg-open-ingress', 'Proposed/sg-open-ingress']],
    [
      'exempt',
      'remediate',
      (): void => void ec2.on(DescribeSecurityGroupsCommand).resolves(withTags([{ Key: 'remediation:exempt', Value: 'SEC-1' }])),
      ['Events', 'Exempt/sg-open-ingress'],
    ],
    [
      'failed',
      'remediate',
      (): void => void ec2.on(RevokeSecurityGroupIngressCommand).rejects(new EC2ServiceException({ name: 'UnauthorizedOperation', $fault: 'client', $metadata: {}, message: 'no' })),
      ['Events', 'Violations/sg-open-ingress', 'Failed/sg-open-ingress', 'Failed'],
    ],
  ] as const)('counts a decision that is %s', async (_, mode, arrange, expected) => {
    arrange();
    const { deps, counts } = countingDeps(mode);
    await processEvent(loadEvent(FIXTURE), deps);
    expect(counts).toStrictEqual(expected);
  });

  it('counts invalid input, with no rule', async () => {
    const { deps, counts } = countingDeps('remediate');
    await processEvent({ detail: 'nope' }, deps);
    expect(counts).toStrictEqual(['Events', 'InvalidInput']);
  });

  it('counts a plan capped by the blast radius, and expected skips as Ignored (not Skipped, which alarms)', async () => {
    const { deps, counts } = countingDeps('remediate');
    await processEvent(loadEvent(FIXTURE), { ...deps, config: { ...deps.config, maxWritesPerInvocation: 0 } });
    await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-by-bot-itself-skipped.json'), deps);
    expect(counts).toStrictEqual([
      'Events',
      'BlastRadiusCapped/sg-open-ingress',
      'Violations/sg-open-ingress',
      'Proposed/sg-open-ingress',
      'Events',
      'Ignored/sg-open-ingress',
    ]);
  });
});

describe('observability: logs carry the event id and the rule', () => {
  const families = Object.entries(rulesByFamily) as [string, readonly Rule[]][];

  it.each(families)('every line of the %s handler carries the event id, and every line about a rule carries the rule, on every recorded event', async (_, rules) => {
    const logger = recordingLogger();
    const deps: EngineDeps = {
      rules,
      config: parseConfig({ rules: Object.fromEntries(rules.map((rule) => [rule.id, { mode: 'remediate' }])) }, rules),
      env: { ALERT_TOPIC_ARN: TOPIC },
      gateway: recordingGateway(),
      logger,
    };
    for (const name of allFixtureNames()) {
      const event = loadEvent(name);
      const before = logger.lines.length;
      await processEvent(event, deps);
      for (const line of logger.lines.slice(before)) {
        expect(line.extra['eventId'], `${name}: ${line.message}`).toBe(event.detail.eventID);
        expect(line.extra['rule'], `${name}: ${line.message}`).toBeTypeOf('string');
      }
    }
  });
});

describe('observability: the Lambda middleware (Powertools Logger and Metrics)', () => {
  let written: string[] = [];
  const saved = { ...process.env };

  beforeAll(() => {
    for (const key of ['IDEMPOTENCY_TABLE', 'POWERTOOLS_DEV', 'POWERTOOLS_METRICS_DISABLED', 'ALERT_TOPIC_ARN']) delete process.env[key];
    process.env['AWS_REGION'] = 'us-east-1';
  });

  afterAll(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  beforeEach(() => {
    written = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    }
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  const context = (requestId: string): Context => ({
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'remediation-bot-test-security-groups',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:remediation-bot-test-security-groups',
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/remediation-bot-test-security-groups',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  });

  function records(): Record<string, unknown>[] {
    return written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('emits EMF metrics in namespace RemediationBot with the rule as a dimension, and flushes the function counters', async () => {
    const handler = familyHandler(securityGroupsFamily);
    await handler(loadEvent(FIXTURE), context('req-1'));
    const emf = records().filter((record) => '_aws' in record);
    const metricsOf = (record: Record<string, unknown>) =>
      (record['_aws'] as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0];

    const violations = emf.find((record) => record['Violations'] === 1);
    expect(metricsOf(violations ?? {})).toMatchObject({ Namespace: 'RemediationBot', Dimensions: [['service', 'family', 'rule']], Metrics: [{ Name: 'Violations', Unit: 'Count' }] });
    expect(violations).toMatchObject({ service: 'remediation-bot', family: 'security-groups', rule: 'sg-open-ingress' });
    const functionLevel = emf.find((record) => record['Events'] === 1);
    expect(metricsOf(functionLevel ?? {})?.Dimensions).toStrictEqual([['service', 'family']]);
  });

  it('puts the event id, the rule and the request id on the decision line, and never carries them into the next invocation', async () => {
    const handler = familyHandler(securityGroupsFamily);
    const event = loadEvent(FIXTURE);
    await handler(event, context('req-1'));
    await handler({ not: 'an event' }, context('req-2'));
    const logs = records().filter((record) => 'message' in record);
    const decision = logs.find((record) => record['message'] === 'decision');
    const malformed = logs.find((record) => record['message'] === 'malformed event: no action taken');

    expect(decision).toMatchObject({ eventId: event.detail.eventID, rule: 'sg-open-ingress', function_request_id: 'req-1' });
    expect(malformed).toMatchObject({ eventId: '(unknown)', function_request_id: 'req-2' });
    expect(malformed).not.toHaveProperty('rule');
  });
});
