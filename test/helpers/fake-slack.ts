/**
 * A stand-in for Slack's incoming webhook on 127.0.0.1 (real HTTP, ephemeral
 * port) that records every request, and the SNS event that delivers an alert
 * to the notifier.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Alert } from '../../notify/alert.js';
import { buildPublishInput } from '../../notify/sns.js';

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

export function snsEvent(alert: Alert, messageId = '95df01b4-ee98-5cb9-9903-4c221d41eb5e'): unknown {
  const bodies = JSON.parse(buildPublishInput(alert, TOPIC)['Message'] as string) as Record<string, string>;
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
          Subject: null,
          Message: bodies['lambda'],
          Timestamp: '2025-03-04T10:15:06.000Z',
          SignatureVersion: '1',
          MessageAttributes: {},
        },
      },
    ],
  };
}

