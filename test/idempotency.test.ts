/**
 * At-least-once delivery against a real DynamoDB implementation (dynalite on
 * 127.0.0.1): the security-groups handler, with `IDEMPOTENCY_TABLE` set as
 * deployed, EC2 and SNS mocked.
 *
 * Mutation caught: `processEvent` running every delivery without the
 * idempotency store (the duplicate and the concurrent-delivery tests fail).
 */
import { EC2ServiceException, DescribeSecurityGroupRulesCommand, RevokeSecurityGroupIngressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { ALREADY_IN_PROGRESS } from '../engine/idempotency.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import type { MetricName } from '../engine/metrics.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';
import { fakeSecurityGroups, ingressRule, type GroupState } from './helpers/ec2-security-groups.js';
import { TEST_REGION, useDynalite } from './helpers/dynalite.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

let ec2: AwsClientStub<EC2Client>;
let group: GroupState;
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const FIXTURE = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';
const REVOKE = { GroupId: 'sg-0a1b2c3d4e5f67890', SecurityGroupRuleIds: ['sgr-0f1e2d3c4b5a69788'] };
/** A Lambda context: the idempotency lock expires with the invocation's remaining time. */
const lambdaContext = (remainingMs = 60_000) => ({ getRemainingTimeInMillis: () => remainingMs });

const dynamo = useDynalite({ env: true });
let table: string;
let tables = 0;


function handlerFor(functionName = 'remediation-bot-test-security-groups') {
  const logger = recordingLogger();
  const counts: { name: MetricName; rule?: string }[] = [];
  const handler = remediationHandler({
    rules: securityGroupRules,
    commands: securityGroupCommands,
    logger,
    config: parseConfig({ rules: { 'sg-open-ingress': { mode: 'remediate' } } }, securityGroupRules),
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: functionName, IDEMPOTENCY_TABLE: table, AWS_REGION: TEST_REGION },
    gateway: createAwsGateway(securityGroupCommands, { region: TEST_REGION }),
    metrics: { count: (name, rule) => void counts.push({ name, ...(rule ? { rule } : {}) }) },
  });
  return { handler, logger, counts };
}

/** What EC2 does on the revoke: the rule is gone afterwards. */
function revokeFromState() {
  group.rules.clear();
  return { Return: true };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('idempotency (Powertools, DynamoDB)', () => {
  beforeEach(async () => {
    table = await dynamo.createTable(`remediation-bot-test-idempotency-${(tables += 1)}`);
    sns.reset();
    // The group as the event left it: the ssh rule it opened is there until the bot revokes it.
    group = { groupId: REVOKE.GroupId, rules: new Map([['sgr-0f1e2d3c4b5a69788', ingressRule(REVOKE.GroupId, 'sgr-0f1e2d3c4b5a69788', 'tcp', 22, 22, '0.0.0.0/0')]]) };
    ({ ec2 } = fakeSecurityGroups([group]));
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('at-least-once safe: a duplicate delivery makes no second write or alert, and returns the first result', async () => {
    // Arrange
    const { handler, logger, counts } = handlerFor();
    const event = loadEvent(FIXTURE);
    // Act
    const first = await handler(event, lambdaContext());
    const second = await handler(structuredClone(event), lambdaContext());
    // Assert
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toStrictEqual([REVOKE]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(first).toMatchObject({ status: 'processed', decisions: [{ rule: 'sg-open-ingress', outcome: 'applied' }] });
    expect(second).toStrictEqual(first);
    expect(counts.filter((c) => c.name === 'Duplicate')).toStrictEqual([{ name: 'Duplicate', rule: 'sg-open-ingress' }]);
    expect(logger.lines.filter((line) => line.message.startsWith('duplicate delivery')).map((line) => line.extra['eventId'])).toStrictEqual([event.detail.eventID]);
  });

  it('at-least-once safe: of two concurrent deliveries one acts; the other fails with IdempotencyAlreadyInProgressError so that Lambda retries it, and the retry gets the first result', async () => {
    const { handler, counts } = handlerFor();
    const event = loadEvent(FIXTURE);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    ec2.on(RevokeSecurityGroupIngressCommand).callsFake(async () => {
      await held;
      group.rules.clear();
      return { Return: true };
    });

    const first = handler(event, lambdaContext());
    await until(() => ec2.commandCalls(RevokeSecurityGroupIngressCommand).length === 1);
    const lock = await dynamo.client.send(new ScanCommand({ TableName: table }));
    await expect(handler(structuredClone(event), lambdaContext())).rejects.toMatchObject({ name: ALREADY_IN_PROGRESS });
    release();
    const firstResult = await first;
    const retried = await handler(structuredClone(event), lambdaContext());

    const locks = lock.Items?.filter((item) => item['id']?.S?.startsWith('remediation-bot-test-security-groups#'));
    expect(locks?.map((item) => [item['status']?.S, item['in_progress_expiration']?.N !== undefined])).toStrictEqual([['INPROGRESS', true]]);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(retried).toStrictEqual(firstResult);
    expect(counts.filter((c) => c.name === 'DuplicateInProgress')).toStrictEqual([{ name: 'DuplicateInProgress' }]);
  });

  it('at-least-once safe: a crashed attempt does not block the retry once its lock expired with its invocation', async () => {
    const { handler } = handlerFor();
    const event = loadEvent(FIXTURE);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    ec2
      .on(RevokeSecurityGroupIngressCommand)
      .callsFakeOnce(async () => {
        await held;
        throw new Error('the crashed attempt never got an answer');
      })
      .callsFake(revokeFromState);

    // The first attempt had 1 ms left: its lock is expired by the time Lambda's retry arrives.
    const crashed = handler(event, lambdaContext(1));
    await until(() => ec2.commandCalls(RevokeSecurityGroupIngressCommand).length === 1);
    // The lock was taken before that call, with 1 ms to live: wait until that millisecond has passed, no longer.
    const calledAt = Date.now();
    await until(() => Date.now() > calledAt + 1);
    const retry = await handler(structuredClone(event), lambdaContext());
    release();
    await crashed.catch(() => undefined);

    expect(retry).toMatchObject({ status: 'processed', decisions: [{ outcome: 'applied' }] });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
  });

  it('at-least-once safe: a delivery that failed on an unexpected fault is not remembered, so Lambda retries the whole event', async () => {
    const { handler } = handlerFor();
    const event = loadEvent(FIXTURE);
    const fault = new EC2ServiceException({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'internal' });
    ec2.on(RevokeSecurityGroupIngressCommand).rejectsOnce(fault).callsFake(revokeFromState);

    await expect(handler(event, lambdaContext())).rejects.toBe(fault);
    const retried = await handler(structuredClone(event), lambdaContext());

    expect(retried).toMatchObject({ status: 'processed', decisions: [{ outcome: 'applied' }] });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
    // One alert for the failure, one for the fix.
    expect(sns.commandCalls(PublishCommand).map((call) => call.args[0].input.MessageAttributes?.['outcome']?.StringValue)).toStrictEqual(['failed', 'applied']);
  });

  it('remembers an event per function: another family processing the same event is not affected', async () => {
    const event = loadEvent(FIXTURE);
    await handlerFor('remediation-bot-test-security-groups').handler(event, lambdaContext());
    const other = await handlerFor('remediation-bot-test-other').handler(structuredClone(event), lambdaContext());
    // The other function decides for itself: it reads the rule (gone by now) rather than replaying the first result.
    expect(other).toMatchObject({ status: 'processed', decisions: [{ outcome: 'already-fixed' }] });
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)).toHaveLength(3);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
  });

  it('remembers distinct events separately', async () => {
    const { handler } = handlerFor();
    const event = loadEvent(FIXTURE);
    const other = loadEvent(FIXTURE);
    other.detail.eventID = '00000000-0000-4000-8000-000000000001';
    await handler(event, lambdaContext());
    const second = await handler(other, lambdaContext());
    // The second event is decided afresh (a read before the revoke), not answered from the first one's record.
    expect(second).toMatchObject({ status: 'processed', decisions: [{ outcome: 'already-fixed' }] });
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)).toHaveLength(3);
  });

  it('makes no idempotency call for a malformed event, and reports it invalid', async () => {
    const { handler } = handlerFor();
    const result = await handler({ not: 'an event' }, lambdaContext());
    const items = await dynamo.client.send(new ScanCommand({ TableName: table }));
    expect(result.status).toBe('invalid');
    expect(items.Items).toStrictEqual([]);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('without IDEMPOTENCY_TABLE (CLI invoke, unit tests) every delivery is processed', async () => {
    const handler = remediationHandler({
      rules: securityGroupRules,
      commands: securityGroupCommands,
      logger: recordingLogger(),
      config: parseConfig({ rules: { 'sg-open-ingress': { mode: 'remediate' } } }, securityGroupRules),
      env: { ALERT_TOPIC_ARN: TOPIC },
      gateway: createAwsGateway(securityGroupCommands, { region: TEST_REGION }),
    });
    const event = loadEvent(FIXTURE);
    await handler(event);
    const second = await handler(structuredClone(event));
    expect(second).toMatchObject({ status: 'processed', decisions: [{ outcome: 'already-fixed' }] });
    expect(ec2.commandCalls(DescribeSecurityGroupRulesCommand)).toHaveLength(3);
  });
});
