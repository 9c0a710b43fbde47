/**
 * The notifier end to end over real HTTP: a local server on 127.0.0.1 stands
 * in for Slack and records every request. Secrets Manager, SSM and KMS are
 * mocked; KMS verifies real HMACs under a test key.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { alertDigest, createAlertVerifier } from '../notify/alert-signature.js';
import { createNotifier, UNVERIFIED_HEADER, type MetricsSink, type NotifierDeps } from '../notify/notifier.js';
import { SlackDeliveryError } from '../notify/slack-delivery.js';
import { createWebhookUrlReader } from '../notify/webhook-secret.js';
import { fakeHmacKey, FakeSlack, kmsGateway, signatureAttributes, SIGNING_KEY_ARN, snsDelivery, snsEvent, testMac, testSignature, WEBHOOK_PATH } from './helpers/fake-slack.js';
import { recordingLogger, type RecordingLogger } from './helpers/logger.js';
import { appliedAlert, approvableAlert, failedPartWayAlert, forgedAppliedAlertBody, proposedAlert } from './helpers/notify-samples.js';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf';

function recordingMetrics(): MetricsSink & { readonly added: string[] } {
  const added: string[] = [];
  return { added, addMetric: (name) => void added.push(name) };
}

const secretsManager = mockClient(SecretsManagerClient);
const ssm = mockClient(SSMClient);
const kms = mockClient(KMSClient);
const slack = new FakeSlack();

let logger: RecordingLogger;
let metrics: ReturnType<typeof recordingMetrics>;
let waits: number[];

function notifier(overrides: Partial<NotifierDeps> = {}) {
  const webhookUrl = createWebhookUrlReader(SECRET_ARN, { secretsManager: () => new SecretsManagerClient({ region: 'us-east-1' }), ssm: () => new SSMClient({ region: 'us-east-1' }) });
  return createNotifier({
    logger,
    metrics,
    webhookUrl,
    invalidateWebhookUrl: webhookUrl.invalidate,
    verifyAlert: createAlertVerifier(SIGNING_KEY_ARN, kmsGateway()),
    delivery: { sleep: async (ms) => void waits.push(ms) },
    ...overrides,
  });
}

function everyLogLine(): string {
  return logger.lines.map((line) => JSON.stringify(line)).join('\n');
}

beforeAll(() => slack.start());
afterAll(() => slack.stop());
beforeEach(() => {
  slack.reset();
  secretsManager.reset();
  ssm.reset();
  kms.reset();
  fakeHmacKey(kms);
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: slack.url });
  logger = recordingLogger();
  metrics = recordingMetrics();
  waits = [];
});
afterEach(() => {
  expect(everyLogLine()).not.toContain(WEBHOOK_PATH.slice(1));
});

/**
 * The exact Block Kit payloads, kept as readable files in `test/expected/slack/`.
 * `UPDATE_EXPECTED=1` rewrites them; review the diff before committing.
 */
function expectedPayload(name: string, actual: unknown): unknown {
  const path = join(import.meta.dirname, 'expected', 'slack', `${name}.json`);
  if (process.env['UPDATE_EXPECTED'] === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(actual, null, 2)}\n`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

describe('notifier', () => {
  describe('Block Kit payload', () => {
    it('posts an applied remediation', async () => {
      // Arrange
      const handler = notifier();
      // Act
      const result = await handler(snsEvent(await appliedAlert()));
      // Assert
      expect(slack.requests).toHaveLength(1);
      expect(slack.requests[0]?.method).toBe('POST');
      expect(slack.requests[0]?.url).toBe(WEBHOOK_PATH);
      expect(slack.requests[0]?.headers['content-type']).toBe('application/json');
      expect(slack.requests[0]?.body).toStrictEqual(expectedPayload('applied', slack.requests[0]?.body));
      expect(result).toStrictEqual({ delivered: [{ messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e', attempts: 1, formatted: true, verified: true }] });
      expect(metrics.added).toStrictEqual(['SlackDelivered']);
      expect(kms.commandCalls(VerifyMacCommand)).toHaveLength(1);
    });

    it('keeps docs/alert-example-slack.json equal to the real applied payload', async () => {
      await notifier()(snsEvent(await appliedAlert()));
      const path = join(import.meta.dirname, '..', 'docs', 'alert-example-slack.json');
      const text = `${JSON.stringify(slack.requests[0]?.body, null, 2)}\n`;
      if (process.env['UPDATE_EXPECTED'] === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8')).toBe(text);
    });

    it('keeps docs/proposal-example-slack.json equal to the real payload of a proposal open for approval, with its Approve and Dismiss buttons', async () => {
      await notifier()(snsEvent(await approvableAlert()));
      const body = slack.requests[0]?.body as { blocks: { type: string; elements?: { action_id?: string; value?: string }[] }[] };
      const actions = body.blocks.find((block) => block.type === 'actions');
      expect(actions?.elements?.map((button) => [button.action_id, button.value])).toStrictEqual([
        ['remediation-approve', (await approvableAlert()).proposal?.id],
        ['remediation-dismiss', (await approvableAlert()).proposal?.id],
      ]);
      const path = join(import.meta.dirname, '..', 'docs', 'proposal-example-slack.json');
      const text = `${JSON.stringify(body, null, 2)}\n`;
      if (process.env['UPDATE_EXPECTED'] === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8')).toBe(text);
    });

    it('posts a proposed remediation', async () => {
      await notifier()(snsEvent(await proposedAlert()));
      expect(slack.requests.map((r) => r.body)).toStrictEqual([expectedPayload('proposed', slack.requests[0]?.body)]);
    });

    it('posts a remediation that failed part-way, with the undo of the applied step only', async () => {
      await notifier()(snsEvent(await failedPartWayAlert()));
      expect(slack.requests.map((r) => r.body)).toStrictEqual([expectedPayload('failed-part-way', slack.requests[0]?.body)]);
    });

    it('posts a signed message it cannot format as text rather than dropping it', async () => {
      const message = JSON.stringify({ schemaVersion: '2', headline: 'something new' });
      const event = snsDelivery({ message, subject: '[HIGH] APPLIED: Something new', attributes: signatureAttributes(message) });
      const result = await notifier()(event);
      expect(result.delivered[0]).toMatchObject({ formatted: false, verified: true });
      expect(slack.requests.map((r) => r.body)).toStrictEqual([
        {
          text: '[HIGH] APPLIED: Something new',
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: '[HIGH] APPLIED: Something new', emoji: true } },
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: 'This alert could not be formatted (outcome: expected one of "applied", "unverified", "already-fixed", "stale", "proposed", "notified", "failed", "exempt", "uninspected", "none", got missing; rationale: expected string, got missing; decision: expected object, got missing; undo: expected array, got missing). Its raw text:',
              },
            },
            { type: 'section', text: { type: 'mrkdwn', text: '```\n{"schemaVersion":"2","headline":"something new"}\n```' } },
          ],
        },
      ]);
      expect(metrics.added).toStrictEqual(['AlertMessageInvalid', 'SlackDelivered']);
    });

    it('throws on an event that is not from SNS, and posts nothing', async () => {
      await expect(notifier()({ detail: {} })).rejects.toThrow('not an SNS event: Records: expected array, got missing');
      expect(slack.requests).toHaveLength(0);
      expect(metrics.added).toStrictEqual(['AlertMessageInvalid']);
    });
  });

  /*
   * Mutations these tests catch: rendering before (or without) verifying; taking
   * the key from the message's `signatureKey`; treating a KMS error as valid;
   * dropping an unverified message instead of posting it.
   */
  describe('unverified messages', () => {
    const SUBJECT = '[HIGH] APPLIED: Security group open to the internet - sg-0a1b2c3d4e5f67890';
    const warning =
      "*Do not act on this message.* It was published to the alert topic without a valid signature of the remediation bot: REASON.\nIt may be one of the stack's CloudWatch alarms, or a forged alert. Nothing in it comes from the bot: run no command it contains. As published:";

    function expectUnverifiedText(body: unknown, reason: string): void {
      const posted = body as { text: string; blocks: { type: string; text?: { text: string } }[] };
      expect(posted.text.startsWith('UNVERIFIED (not signed by the bot): ')).toBe(true);
      expect(posted.blocks.map((block) => block.type)).toStrictEqual(['header', 'section', 'section']);
      expect(posted.blocks[0]).toStrictEqual({ type: 'header', text: { type: 'plain_text', text: UNVERIFIED_HEADER, emoji: true } });
      expect(posted.blocks[1]).toStrictEqual({ type: 'section', text: { type: 'mrkdwn', text: warning.replace('REASON', reason) } });
      expect(posted.blocks[2]?.text?.text.startsWith('```\n')).toBe(true);
      expect(posted.blocks[2]?.text?.text.endsWith('\n```')).toBe(true);
      const everything = JSON.stringify(posted);
      expect(everything).not.toContain('How to undo');
      expect(everything).not.toContain('aws iam attach-user-policy');
      expect(everything).not.toContain(':red_circle:');
    }

    it('renders the forged alert as a bot alert, with its malicious undo command, once it carries a valid signature (the control)', async () => {
      const forged = await forgedAppliedAlertBody();
      await notifier()(snsDelivery({ message: forged, subject: SUBJECT, attributes: signatureAttributes(forged) }));
      expect(JSON.stringify(slack.requests[0]?.body)).toContain('aws iam attach-user-policy --region us-east-1 --user-name mallory --policy-arn arn:aws:iam::aws:policy/AdministratorAccess');
    });

    it('posts a forged APPLIED alert with no signature as unverified text, with no undo command, and calls no KMS', async () => {
      // Arrange
      const forged = await forgedAppliedAlertBody();
      // Act
      const result = await notifier()(snsDelivery({ message: forged, subject: SUBJECT, attributes: { rule: { Type: 'String', Value: 'sg-open-ingress' } } }));
      // Assert
      expect(slack.requests).toHaveLength(1);
      expectUnverifiedText(slack.requests[0]?.body, 'the message carries no signature');
      expect(slack.requests[0]?.body).toStrictEqual(expectedPayload('unverified-forged', slack.requests[0]?.body));
      expect(result).toStrictEqual({ delivered: [{ messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e', attempts: 1, formatted: false, verified: false }] });
      expect(metrics.added).toStrictEqual(['AlertUnverified', 'SlackDelivered']);
      expect(kms.commandCalls(VerifyMacCommand)).toHaveLength(0);
      expect(logger.lines.filter((line) => line.level === 'warn').map((line) => [line.message, line.extra])).toStrictEqual([
        [
          'message not signed by the bot: posting it as unverified text',
          { messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e', verification: 'unsigned', reason: 'the message carries no signature' },
        ],
      ]);
    });

    it("posts a forged alert that carries a genuine alert's signature as unverified: KMS checks the digest of the body received", async () => {
      // Arrange: the signature of the genuine alert, kept on the edited body.
      const forged = await forgedAppliedAlertBody();
      const genuine = snsEvent(await appliedAlert()) as { Records: { Sns: { Message: string } }[] };
      const stolen = testSignature(genuine.Records[0]?.Sns.Message ?? '');
      // Act
      const result = await notifier()(snsDelivery({ message: forged, subject: SUBJECT, attributes: signatureAttributes(forged, stolen) }));
      // Assert
      expectUnverifiedText(slack.requests[0]?.body, "the signature does not match the bot's key");
      expect(result.delivered[0]?.verified).toBe(false);
      expect(kms.commandCalls(VerifyMacCommand).map((call) => call.args[0].input)).toStrictEqual([
        { KeyId: SIGNING_KEY_ARN, Message: alertDigest(forged), Mac: new Uint8Array(Buffer.from(stolen, 'base64')), MacAlgorithm: 'HMAC_SHA_256' },
      ]);
      expect(metrics.added).toStrictEqual(['AlertUnverified', 'SlackDelivered']);
    });

    it("verifies with the notifier's own key, never the key the message names", async () => {
      // Arrange: signed with the attacker's own HMAC key, which the message names.
      const forged = await forgedAppliedAlertBody();
      const attackerKey = 'arn:aws:kms:us-east-1:444455556666:key/0a0b0c0d-1e1f-4a4b-8c8d-9e9f0a0b0c0d';
      const signature = Buffer.from(testMac(alertDigest(forged), Buffer.from('the attacker key'))).toString('base64');
      const attributes = { signature: { Type: 'String', Value: signature }, signatureKey: { Type: 'String', Value: attackerKey } };
      // Act
      await notifier()(snsDelivery({ message: forged, subject: SUBJECT, attributes }));
      // Assert
      expect(kms.commandCalls(VerifyMacCommand).map((call) => call.args[0].input.KeyId)).toStrictEqual([SIGNING_KEY_ARN]);
      expectUnverifiedText(slack.requests[0]?.body, "the signature does not match the bot's key");
    });

    it("posts a CloudWatch alarm (unsigned) as unverified text: its fields in plain lines, with no link", async () => {
      // Arrange
      const alarm = JSON.stringify({
        AlarmName: 'remediation-bot-prod-FailureQueue-depth',
        AlarmDescription: 'A function failed on an event after all retries: at least one message waits in FailureQueue. Inspect and redrive it.',
        AWSAccountId: '111122223333',
        NewStateValue: 'ALARM',
        NewStateReason: 'Threshold Crossed: 1 datapoint [1.0 (04/03/25 10:20:00)] was greater than or equal to the threshold (1.0).',
        StateChangeTime: '2025-03-04T10:25:31.000+0000',
        Region: 'US East (N. Virginia)',
        AlarmArn: 'arn:aws:cloudwatch:us-east-1:111122223333:alarm:remediation-bot-prod-FailureQueue-depth',
        OldStateValue: 'OK',
        Trigger: { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS' },
      });
      // Act
      const result = await notifier()(snsDelivery({ message: alarm, subject: 'ALARM: "remediation-bot-prod-FailureQueue-depth" in US East (N. Virginia)' }));
      // Assert
      expect(result.delivered[0]).toMatchObject({ formatted: false, verified: false });
      expect(slack.requests.map((r) => r.body)).toStrictEqual([
        {
          text: 'UNVERIFIED (not signed by the bot): ALARM: "remediation-bot-prod-FailureQueue-depth" in US East (N. Virginia)',
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: UNVERIFIED_HEADER, emoji: true } },
            { type: 'section', text: { type: 'mrkdwn', text: warning.replace('REASON', 'the message carries no signature') } },
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: [
                  '```',
                  'Subject: ALARM: "remediation-bot-prod-FailureQueue-depth" in US East (N. Virginia)',
                  '',
                  'CloudWatch alarm remediation-bot-prod-FailureQueue-depth: ALARM',
                  'A function failed on an event after all retries: at least one message waits in FailureQueue. Inspect and redrive it.',
                  'Threshold Crossed: 1 datapoint [1.0 (04/03/25 10:20:00)] was greater than or equal to the threshold (1.0).',
                  'account 111122223333 · alarm arn:aws:cloudwatch:us-east-1:111122223333:alarm:remediation-bot-prod-FailureQueue-depth · at 2025-03-04T10:25:31.000+0000',
                  '```',
                ].join('\n'),
              },
            },
          ],
        },
      ]);
      expect(metrics.added).toStrictEqual(['AlertUnverified', 'SlackDelivered']);
      expect(kms.commandCalls(VerifyMacCommand)).toHaveLength(0);
    });

    it('posts a signed alert as unverified when KMS denies VerifyMac, logs the error, and still delivers it', async () => {
      // Arrange
      kms.on(VerifyMacCommand).rejects(Object.assign(new Error('User: arn:aws:sts::111122223333:assumed-role/notifier/x is not authorized to perform: kms:VerifyMac'), { name: 'AccessDeniedException' }));
      const event = snsEvent(await appliedAlert());
      // Act
      const result = await notifier()(event);
      // Assert
      expect(result.delivered[0]).toMatchObject({ formatted: false, verified: false });
      expectUnverifiedText(slack.requests[0]?.body, 'the signature could not be verified (AccessDeniedException)');
      expect(metrics.added).toStrictEqual(['AlertUnverified', 'SlackDelivered']);
      expect(logger.lines.filter((line) => line.level === 'error').map((line) => [line.message, line.extra])).toStrictEqual([
        [
          'the alert signature could not be verified: posting the message as unverified text',
          {
            messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
            errorCode: 'AccessDeniedException',
            error: 'User: arn:aws:sts::111122223333:assumed-role/notifier/x is not authorized to perform: kms:VerifyMac',
          },
        ],
      ]);
    });

    it('keeps a backtick fence in forged text from closing the code block', async () => {
      const message = 'benign\n```\n*How to undo*\n```aws iam attach-user-policy --user-name mallory```';
      await notifier()(snsDelivery({ message }));
      const block = (slack.requests[0]?.body as { blocks: { text?: { text: string } }[] }).blocks[2]?.text?.text ?? '';
      expect(block.match(/```/g)).toHaveLength(2);
      expect(block.startsWith('```\n') && block.endsWith('\n```')).toBe(true);
    });
  });

  describe('rate limits and failures', () => {
    it('honours Retry-After on HTTP 429 and posts the same message again', async () => {
      // Arrange
      slack.replies = [
        { status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' },
        { status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' },
      ];
      // Act
      const result = await notifier()(snsEvent(await appliedAlert()));
      // Assert
      expect(waits).toStrictEqual([1000, 2000]);
      expect(slack.requests).toHaveLength(3);
      const applied = expectedPayload('applied', slack.requests[0]?.body);
      expect(slack.requests.map((r) => r.body)).toStrictEqual([applied, applied, applied]);
      expect(result.delivered[0]?.attempts).toBe(3);
      expect(metrics.added).toStrictEqual(['SlackRateLimited', 'SlackRateLimited', 'SlackDelivered']);
      expect(logger.lines.filter((l) => l.level === 'warn').map((l) => [l.message, l.extra['waitMs'], l.extra['reason']])).toStrictEqual([
        ['Slack rate limited the webhook: waiting Retry-After', 1000, 'HTTP 429 rate_limited'],
        ['Slack rate limited the webhook: waiting Retry-After', 2000, 'HTTP 429 rate_limited'],
      ]);
    });

    it('gives up after 3 retries and throws, so Lambda retries and then the DLQ keeps the alert', async () => {
      slack.replies = Array.from({ length: 4 }, () => ({ status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' }));
      const error = await notifier()(snsEvent(await appliedAlert())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SlackDeliveryError);
      expect((error as Error).message).toBe('Slack delivery failed after 4 attempts: HTTP 429 rate_limited');
      expect(slack.requests).toHaveLength(4);
      expect(waits).toStrictEqual([1000, 1000, 1000]);
      expect(metrics.added).toStrictEqual(['SlackRateLimited', 'SlackRateLimited', 'SlackRateLimited', 'SlackRateLimited', 'SlackDeliveryFailed']);
      expect(logger.lines.at(-1)).toMatchObject({ level: 'error', message: 'Slack delivery failed: Lambda will retry, then keep the alert in the DLQ' });
    });

    it('does not start a wait that the invocation has no time left for', async () => {
      slack.replies = [{ status: 429, headers: { 'retry-after': '30' }, body: 'rate_limited' }];
      const error = await notifier()(snsEvent(await appliedAlert()), { getRemainingTimeInMillis: () => 20_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SlackDeliveryError);
      expect((error as Error).message).toContain('waiting 30000 ms more would leave no time to retry in this invocation');
      expect(waits).toStrictEqual([]);
      expect(slack.requests).toHaveLength(1);
      expect(metrics.added).toStrictEqual(['SlackRateLimited', 'SlackDeliveryFailed']);
    });

    it('retries a 5xx with backoff', async () => {
      slack.replies = [{ status: 503, body: 'service unavailable' }];
      await notifier()(snsEvent(await appliedAlert()));
      expect(waits).toStrictEqual([1000]);
      expect(slack.requests).toHaveLength(2);
    });

    it('does not retry a 4xx that a retry cannot fix', async () => {
      slack.replies = [{ status: 400, body: 'invalid_blocks' }];
      await expect(notifier()(snsEvent(await appliedAlert()))).rejects.toThrow('Slack rejected the message: HTTP 400 invalid_blocks');
      expect(slack.requests).toHaveLength(1);
      expect(metrics.added).toStrictEqual(['SlackDeliveryFailed']);
    });

    it('does not follow a redirect: the message goes nowhere but Slack', async () => {
      slack.replies = [{ status: 302, headers: { location: `${slack.url}-elsewhere` }, body: '' }];
      await expect(notifier()(snsEvent(await appliedAlert()))).rejects.toThrow('Slack rejected the message: HTTP 302');
      expect(slack.requests.map((r) => r.url)).toStrictEqual([WEBHOOK_PATH]);
    });

    it('gives up on a request that outlives its timeout, and retries it', async () => {
      slack.replies = [{ status: 200, body: 'ok', delayMs: 400 }];
      const handler = notifier({ delivery: { sleep: async (ms) => void waits.push(ms), requestTimeoutMs: 50 } });
      const result = await handler(snsEvent(await appliedAlert()));
      expect(result).toStrictEqual({ delivered: [{ messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e', attempts: 2, formatted: true, verified: true }] });
      expect(waits).toStrictEqual([1000]);
      expect(logger.lines.find((line) => line.message === 'Slack delivery failed: retrying')).toMatchObject({
        level: 'warn',
        extra: { attempt: 1, waitMs: 1000, reason: 'TimeoutError: The operation was aborted due to timeout' },
      });
    });

    it('retries when the connection is refused, then fails without logging the URL', async () => {
      const closed = new FakeSlack();
      await closed.start();
      const url = closed.url;
      await closed.stop();
      const handler = notifier({ webhookUrl: async () => url });
      const error = await handler(snsEvent(await appliedAlert())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SlackDeliveryError);
      expect((error as Error).message).toMatch(/^Slack delivery failed after 4 attempts: TypeError: fetch failed \(ECONNREFUSED\)$/);
      expect(waits).toStrictEqual([1000, 2000, 4000]);
      expect(`${(error as Error).message}\n${(error as Error).stack ?? ''}`).not.toContain(WEBHOOK_PATH.slice(1));
    });
  });

  describe('webhook secret', () => {
    it('reads the Secrets Manager secret once across invocations', async () => {
      const handler = notifier();
      const alert = await appliedAlert();
      await handler(snsEvent(alert, 'm-1'));
      await handler(snsEvent(alert, 'm-2'));
      await handler(snsEvent(alert, 'm-3'));
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
      expect(secretsManager.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toStrictEqual({ SecretId: SECRET_ARN });
      expect(slack.requests).toHaveLength(3);
    });

    it('reads a JSON {"url"} SSM SecureString once, with decryption, and makes no Secrets Manager client', async () => {
      ssm.on(GetParameterCommand).resolves({ Parameter: { Name: '/remediation-bot/slack-webhook', Type: 'SecureString', Value: JSON.stringify({ url: slack.url }) } });
      const noSecretsManager = () => {
        throw new Error('an SSM reference needs no Secrets Manager client');
      };
      const reader = createWebhookUrlReader('/remediation-bot/slack-webhook', { secretsManager: noSecretsManager, ssm: () => new SSMClient({ region: 'us-east-1' }) });
      const handler = notifier({ webhookUrl: reader });
      await handler(snsEvent(await appliedAlert(), 'm-1'));
      await handler(snsEvent(await appliedAlert(), 'm-2'));
      expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
      expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toStrictEqual({ Name: '/remediation-bot/slack-webhook', WithDecryption: true });
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(0);
      expect(slack.requests).toHaveLength(2);
    });

    it('reads the secret again after Slack says the webhook is gone, so a rotated URL is picked up', async () => {
      slack.replies = [{ status: 404, body: 'no_service' }];
      const handler = notifier();
      await expect(handler(snsEvent(await appliedAlert(), 'm-1'))).rejects.toThrow('Slack rejected the message: HTTP 404 no_service');
      await handler(snsEvent(await appliedAlert(), 'm-2'));
      await handler(snsEvent(await appliedAlert(), 'm-3'));
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });

    it('does not cache a failed read: the next invocation tries again', async () => {
      const denied = Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' });
      secretsManager.on(GetSecretValueCommand).rejectsOnce(denied).resolves({ SecretString: slack.url });
      const handler = notifier();
      await expect(handler(snsEvent(await appliedAlert(), 'm-1'))).rejects.toThrow('AccessDeniedException: User is not authorized');
      await handler(snsEvent(await appliedAlert(), 'm-2'));
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
      expect(slack.requests).toHaveLength(1);
      expect(metrics.added).toStrictEqual(['SlackDeliveryFailed', 'SlackDelivered']);
    });
  });
});
