/**
 * A stand-in for Slack's incoming webhook on 127.0.0.1 (real HTTP, ephemeral
 * port) that records every request, the SNS event that delivers an alert to
 * the notifier, and a KMS HMAC key for the signatures (real HMAC-SHA-256 with
 * test key material, served through aws-sdk-client-mock).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GenerateMacCommand, KMSInvalidMacException, NotFoundException, VerifyMacCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { createAwsGateway, type AwsGateway } from '../../engine/aws.js';
import type { Alert } from '../../notify/alert.js';
import { alertDigest, MAC_ALGORITHM } from '../../notify/alert-signature.js';
import { buildPublishInput, withSignature, type PublishInput } from '../../notify/sns.js';
import { notifierCommands } from '../../notify/notifier.js';

export const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-dev-alerts';
/** The credential part of a Slack webhook URL; it must never reach a log line. */
export const WEBHOOK_PATH = '/services/T0EXAMPLE1/B0EXAMPLE2/q1w2e3r4t5y6u7i8o9p0EXAM';

export interface Recorded {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
  /** Answer only after this long (a slow or hung Slack). */
  readonly delayMs?: number;
}

/** A stand-in for Slack: answers from a queue of replies (then 200 "ok") and records each request. */
export class FakeSlack {
  readonly requests: Recorded[] = [];
  replies: Reply[] = [];
  private readonly server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      this.requests.push({ method: request.method, url: request.url, headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      const reply = this.replies.shift() ?? { status: 200, body: 'ok' };
      const answer = () => {
        response.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
        response.end(reply.body);
      };
      if (reply.delayMs === undefined) answer();
      else setTimeout(answer, reply.delayMs);
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${WEBHOOK_PATH}`;
  }

  reset(): void {
    this.requests.length = 0;
    this.replies = [];
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }
}

/** The stack's HMAC key, as the functions' environment names it. */
export const SIGNING_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9';
/** What KMS keeps inside the key; the tests' KMS computes real HMACs with it. */
const KEY_MATERIAL = Buffer.from('test key material of the alert signing key, never used outside tests');

/** HMAC-SHA-256 of `message` under the test key: what KMS `GenerateMac` returns. */
export function testMac(message: Uint8Array, material: Buffer = KEY_MATERIAL): Uint8Array {
  return new Uint8Array(createHmac('sha256', material).update(message).digest());
}

/**
 * Serves `GenerateMac` and `VerifyMac` on `kms` as KMS does for one HMAC key:
 * a wrong key id is `NotFoundException`, a wrong MAC `KMSInvalidMacException`.
 */
export function fakeHmacKey(kms: AwsClientStub<KMSClient>, keyArn: string = SIGNING_KEY_ARN): void {
  const known = (keyId: string | undefined) => {
    if (keyId !== keyArn) throw new NotFoundException({ message: `Key '${String(keyId)}' does not exist`, $metadata: {} });
  };
  kms.on(GenerateMacCommand).callsFake((input: { KeyId?: string; Message?: Uint8Array }) => {
    known(input.KeyId);
    return { KeyId: keyArn, MacAlgorithm: MAC_ALGORITHM, Mac: testMac(input.Message ?? new Uint8Array()) };
  });
  kms.on(VerifyMacCommand).callsFake((input: { KeyId?: string; Message?: Uint8Array; Mac?: Uint8Array }) => {
    known(input.KeyId);
    const expected = testMac(input.Message ?? new Uint8Array());
    const given = input.Mac ?? new Uint8Array();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new KMSInvalidMacException({ message: 'The request was rejected because the HMAC verification failed.', $metadata: {} });
    }
    return { KeyId: keyArn, MacAlgorithm: MAC_ALGORITHM, MacValid: true };
  });
}

/** The notifier's KMS gateway, as the handler builds it; one attempt, so a mocked throttle is not retried with waits. */
export function kmsGateway(): AwsGateway {
  return createAwsGateway(notifierCommands, { region: 'us-east-1', maxAttempts: 1 });
}

/** The `lambda` body of a publish input: what the notifier receives. */
export function lambdaBodyOf(input: PublishInput): string {
  const body = (JSON.parse(input.Message) as Record<string, string>)['lambda'];
  if (body === undefined) throw new Error('the publish input has no lambda body');
  return body;
}

/** The signature of `body` under the test key, base64, as the `signature` attribute carries it. */
export function testSignature(body: string): string {
  return Buffer.from(testMac(alertDigest(body))).toString('base64');
}

/** The publish input a remediation function sends for `alert`, signed with the test key as KMS would sign it. */
export function signedPublishInput(alert: Alert): PublishInput {
  const input = buildPublishInput(alert, TOPIC);
  return withSignature(input, { signature: testSignature(lambdaBodyOf(input)), keyId: SIGNING_KEY_ARN });
}

/** The signature attributes of `body` as Lambda receives them. */
export function signatureAttributes(body: string, signature: string = testSignature(body)): Record<string, { Type: string; Value: string }> {
  return { signature: { Type: 'String', Value: signature }, signatureKey: { Type: 'String', Value: SIGNING_KEY_ARN } };
}

export interface DeliveredMessage {
  readonly message: string;
  readonly subject?: string | null;
  /** As SNS gives them to Lambda: `{ name: { Type, Value } }`. */
  readonly attributes?: Readonly<Record<string, { readonly Type: string; readonly Value: string }>>;
  readonly messageId?: string;
}

/** The SNS event Lambda receives for one message on the topic. */
export function snsDelivery({ message, subject = null, attributes = {}, messageId = '95df01b4-ee98-5cb9-9903-4c221d41eb5e' }: DeliveredMessage): unknown {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`,
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: TOPIC,
          Subject: subject,
          Message: message,
          Timestamp: '2025-03-04T10:15:06.000Z',
          SignatureVersion: '1',
          MessageAttributes: attributes,
        },
      },
    ],
  };
}

/** What SNS delivers to the `lambda` subscriber for a publish input: its body and its attributes. */
export function snsEventOf(input: PublishInput, messageId?: string): unknown {
  const attributes = Object.fromEntries(Object.entries(input.MessageAttributes).map(([name, value]) => [name, { Type: value.DataType, Value: value.StringValue }]));
  return snsDelivery({ message: lambdaBodyOf(input), attributes, ...(messageId ? { messageId } : {}) });
}

/** The SNS event of an alert as a remediation function publishes it: signed, unless `signed: false`. */
export function snsEvent(alert: Alert, messageId?: string, { signed = true }: { readonly signed?: boolean } = {}): unknown {
  return snsEventOf(signed ? signedPublishInput(alert) : buildPublishInput(alert, TOPIC), messageId);
}
