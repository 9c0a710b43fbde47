/**
 * `remediate redrive`: the stack's two queues served by a stateful stand-in
 * (a message received is hidden; a deleted one is gone), and a Lambda whose
 * Invoke runs the real security-groups handler with its idempotency in
 * dynalite. A redrive sends each chosen event once, deletes its message only
 * after the function answered, and an event already processed is answered
 * with its first result: no second write.
 */
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { dynamoDbIdempotency } from '../engine/idempotency.js';
import { expectUsageError, runCli } from './helpers/cli.js';
import { useDynalite } from './helpers/dynalite.js';
import { fakeSecurityGroups, ingressRule } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { familyHandler } from './helpers/rule-harness.js';

const EVENTS_DLQ = 'https://sqs.us-east-1.amazonaws.com/111122223333/remediation-bot-prod-events-dlq';
const FAILURES = 'https://sqs.us-east-1.amazonaws.com/111122223333/remediation-bot-prod-failures';
const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:111122223333:function:remediation-bot-prod-security-groups';
const GROUP = 'sg-0a1b2c3d4e5f67890';
const RULE = 'sgr-0f1e2d3c4b5a69788';
const NOW = Date.parse('2025-03-04T12:00:00Z');
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const sns = mockClient(SNSClient);
const dynamo = useDynalite();
let table = '';
let tables = 0;
let queues: Map<string, Message[]>;
const hidden = new Set<string>();

const event = () => loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
const family = () =>
  familyHandler('security-groups', {
    modes: { 'sg-open-ingress': 'remediate' },
    idempotency: dynamoDbIdempotency({ tableName: table, client: dynamo.client, keyPrefix: 'remediation-bot-prod-security-groups' }),
  }).handler;

function put(queueUrl: string, id: string, body: unknown, sentAt: number, attributes: Record<string, string> = {}) {
  const list = queues.get(queueUrl) ?? [];
  list.push({
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: JSON.stringify(body),
    Attributes: { SentTimestamp: String(sentAt) },
    MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, { DataType: 'String', StringValue: value }])),
  });
  queues.set(queueUrl, list);
}

/** An on-failure destination record, as Lambda writes it to the failure queue. */
const failureRecord = (payload: unknown) => ({
  version: '1.0',
  timestamp: '2025-03-04T10:16:00.000Z',
  requestContext: { requestId: 'r-1', functionArn: `${FUNCTION_ARN}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
  requestPayload: payload,
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  responsePayload: { errorType: 'ThrottlingException', errorMessage: 'Rate exceeded' },
});

beforeEach(async () => {
  queues = new Map();
  hidden.clear();
  sqs.reset();
  lambda.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  sqs.on(ReceiveMessageCommand).callsFake((input: { QueueUrl: string; MaxNumberOfMessages?: number }) => {
    const visible = (queues.get(input.QueueUrl) ?? []).filter((message) => !hidden.has(message.ReceiptHandle ?? ''));
    const batch = visible.slice(0, input.MaxNumberOfMessages ?? 1);
    for (const message of batch) hidden.add(message.ReceiptHandle ?? '');
    return { Messages: structuredClone(batch) };
  });
  sqs.on(DeleteMessageCommand).callsFake((input: { QueueUrl: string; ReceiptHandle: string }) => {
    queues.set(input.QueueUrl, (queues.get(input.QueueUrl) ?? []).filter((message) => message.ReceiptHandle !== input.ReceiptHandle));
    return {};
  });
  lambda.on(InvokeCommand).callsFake(async (input: { Payload?: Uint8Array }) => {
    const result = await family()(JSON.parse(new TextDecoder().decode(input.Payload)) as unknown);
    return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(result)) as unknown as InvokeCommandOutput['Payload'] };
  });
  tables += 1;
  table = await dynamo.createTable(`redrive-${tables}`);
});

const redrive = (...flags: string[]) => runCli(['redrive', '--events-queue', EVENTS_DLQ, '--failure-queue', FAILURES, ...flags], { AWS_REGION: 'us-east-1' });

describe('remediate redrive', () => {
  it('--dry-run lists each waiting message with its age, event, function and why, and sends nothing', async () => {
    put(EVENTS_DLQ, 'a', event(), NOW - 3 * 3_600_000, { ERROR_CODE: 'SDK_CLIENT_ERROR', ERROR_MESSAGE: 'Lambda throttled', TARGET_ARN: FUNCTION_ARN });
    put(FAILURES, 'b', failureRecord(event()), NOW - 20 * 60_000);
    const { code, stdout } = await runCli(['redrive', '--events-queue', EVENTS_DLQ, '--failure-queue', FAILURES, '--dry-run'], { AWS_REGION: 'us-east-1' });
    expect(code).toBe(0);
    const id = event().detail.eventID;
    expect(stdout[0]).toMatch(new RegExp(`^events  \\d+[mhd]  AuthorizeSecurityGroupIngress  ${id}  remediation-bot-prod-security-groups  EventBridge could not deliver it: SDK_CLIENT_ERROR: Lambda throttled$`));
    expect(stdout[1]).toMatch(new RegExp(`^failures  \\d+[mhd]  AuthorizeSecurityGroupIngress  ${id}  remediation-bot-prod-security-groups:\\$LATEST  the function failed \\(RetriesExhausted\\) after 3 attempt\\(s\\): ThrottlingException: Rate exceeded$`));
    expect(stdout.at(-1)).toBe('2 message(s) waiting; nothing was sent (--dry-run)');
    expect(lambda.calls()).toHaveLength(0);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it('--all sends each event to its function once and deletes its message after; the same event twice is acted on once', async () => {
    const { ec2, groups } = fakeSecurityGroups([{ groupId: GROUP, groupName: 'web', rules: new Map([[RULE, ingressRule(GROUP, RULE, 'tcp', 22, 22, '0.0.0.0/0')]]) }]);
    // The same event in both queues (EventBridge gave up once, and a later delivery failed too).
    put(EVENTS_DLQ, 'a', event(), NOW - 3 * 3_600_000, { ERROR_CODE: 'SDK_CLIENT_ERROR', TARGET_ARN: FUNCTION_ARN });
    put(FAILURES, 'b', failureRecord(event()), NOW - 20 * 60_000);
    const { code, stdout } = await redrive('--all');
    expect(code).toBe(0);
    expect(lambda.commandCalls(InvokeCommand).map((call) => [call.args[0].input.FunctionName, call.args[0].input.InvocationType, JSON.parse(new TextDecoder().decode(call.args[0].input.Payload as Uint8Array)) as unknown])).toStrictEqual([
      [FUNCTION_ARN, 'RequestResponse', event()],
      [`${FUNCTION_ARN}:$LATEST`, 'RequestResponse', event()],
    ]);
    // One revoke: the second delivery of the same CloudTrail event is answered with the first result.
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(groups[0]?.rules.size).toBe(0);
    expect(sqs.commandCalls(DeleteMessageCommand).map((call) => call.args[0].input)).toStrictEqual([
      { QueueUrl: EVENTS_DLQ, ReceiptHandle: 'rh-a' },
      { QueueUrl: FAILURES, ReceiptHandle: 'rh-b' },
    ]);
    expect(queues.get(EVENTS_DLQ)).toStrictEqual([]);
    expect(stdout.at(-1)).toBe('2 sent again and removed, 0 left in the queue after an error, 0 not chosen');
  });

  it('leaves a message whose function failed again, exit 4; --older-than chooses by age', async () => {
    // Ages against the real clock: the CLI reads it.
    put(EVENTS_DLQ, 'old', event(), Date.now() - 3 * 3_600_000, { TARGET_ARN: FUNCTION_ARN });
    put(EVENTS_DLQ, 'new', event(), Date.now() - 10 * 60_000, { TARGET_ARN: FUNCTION_ARN });
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new TextEncoder().encode('{"errorMessage":"still broken"}') as unknown as InvokeCommandOutput['Payload'] });
    const { code, stdout } = await runCli(['redrive', '--events-queue', EVENTS_DLQ, '--older-than', '1h'], { AWS_REGION: 'us-east-1' });
    expect(code).toBe(4);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(stdout.join('\n')).toContain('left in the queue: Unhandled: {"errorMessage":"still broken"}');
    expect(stdout.at(-1)).toBe('0 sent again and removed, 1 left in the queue after an error, 1 not chosen');
  });

  it.each([
    [['redrive', '--all'], 'name the queues: --events-queue URL and/or --failure-queue URL'],
    [['redrive', '--events-queue', 'https://example.com/q', '--all'], '--events-queue must be an SQS queue URL'],
    [['redrive', '--events-queue', EVENTS_DLQ], 'choose what to send again: --all, or --older-than 1h'],
    [['redrive', '--events-queue', EVENTS_DLQ, '--all', '--older-than', '1h'], 'give --all or --older-than, not both'],
    [['redrive', '--events-queue', EVENTS_DLQ, '--older-than', 'yesterday'], '--older-than must be a duration such as 1h or 2d'],
  ])('refuses %j in one line, with no AWS call', (argv, message) => expectUsageError(argv, message, [sqs, lambda]));
});
