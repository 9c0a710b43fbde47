/**
 * The deployed entry point, `handlers/notifier.ts`, with the real Powertools
 * Logger and Metrics: everything they write to stdout and stderr is captured,
 * and the webhook URL must appear in none of it, whatever happens.
 */
import { KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeHmacKey, FakeSlack, SIGNING_KEY_ARN, snsEvent, WEBHOOK_PATH } from './helpers/fake-slack.js';
import { appliedAlert } from './helpers/notify-samples.js';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf';

const slack = new FakeSlack();
const secretsManager = mockClient(SecretsManagerClient);
const kms = mockClient(KMSClient);
const output: string[] = [];

const context = {
  functionName: 'remediation-bot-dev-notifier',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:remediation-bot-dev-notifier',
  memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/remediation-bot-dev-notifier',
  logStreamName: '2025/03/04/[$LATEST]abcdef',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

type Handler = (event: unknown, context: unknown) => Promise<unknown>;
let handler: Handler;

function capture(stream: NodeJS.WriteStream): void {
  vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
    output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
}

beforeAll(async () => {
  await slack.start();
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ url: slack.url }) });
  fakeHmacKey(kms);
  vi.stubEnv('SLACK_WEBHOOK_SECRET', SECRET_ARN);
  vi.stubEnv('ALERT_SIGNING_KEY_ID', SIGNING_KEY_ARN);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
  vi.stubEnv('POWERTOOLS_DEV', '');
  capture(process.stdout);
  capture(process.stderr);
  ({ handler } = (await import('../handlers/notifier.js')) as unknown as { handler: Handler });
});

afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await slack.stop();
});

beforeEach(() => {
  slack.reset();
});

describe('handlers/notifier', () => {
  it('posts, fails and retries without the webhook URL in any log line, metric or error', async () => {
    // Arrange
    const event = snsEvent(await appliedAlert());
    const errors: unknown[] = [];
    // Act: a delivery, a rate limit that runs out of retries, and a webhook Slack no longer knows.
    await handler(event, context);
    slack.replies = Array.from({ length: 4 }, () => ({ status: 429, headers: { 'retry-after': '0' }, body: 'rate_limited' }));
    await handler(event, context).catch((error: unknown) => errors.push(error));
    slack.replies = [{ status: 404, body: 'no_service' }];
    await handler(event, context).catch((error: unknown) => errors.push(error));
    // Assert
    expect(slack.requests).toHaveLength(6);
    // Verified with the key of the function's environment, so posted as the bot's alert.
    expect(kms.commandCalls(VerifyMacCommand).map((call) => call.args[0].input.KeyId)).toStrictEqual([SIGNING_KEY_ARN, SIGNING_KEY_ARN, SIGNING_KEY_ARN]);
    expect(JSON.stringify(slack.requests[0]?.body)).toContain(':red_circle: HIGH · APPLIED, VERIFIED · Security group open to the internet');
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secretsManager.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toStrictEqual({ SecretId: SECRET_ARN });
    expect(errors.map((error) => (error as Error).message)).toStrictEqual([
      'Slack delivery failed after 4 attempts: HTTP 429 rate_limited',
      'Slack rejected the message: HTTP 404 no_service',
    ]);
    const everything = [...output, ...errors.map((error) => `${(error as Error).message}\n${(error as Error).stack ?? ''}`)].join('\n');
    expect(everything).toContain('Slack delivery failed: Lambda will retry, then keep the alert in the DLQ');
    expect(everything).toContain('"SlackDeliveryFailed"');
    expect(everything).not.toContain(WEBHOOK_PATH.slice(1));
    expect(everything).not.toContain('T0EXAMPLE1/B0EXAMPLE2');
    expect(everything).not.toContain('q1w2e3r4t5y6u7i8o9p0EXAM');
  });
});
