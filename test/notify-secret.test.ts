import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../notify/slack-delivery.js';
import { createWebhookUrlReader, parseWebhookSecret, redactWebhookUrl, WebhookSecretError, webhookSecretRegion, webhookSecretSource } from '../notify/webhook-secret.js';

const URL = 'https://hooks.slack.com/services/T0EXAMPLE1/B0EXAMPLE2/q1w2e3r4t5y6u7i8o9p0EXAM';

describe('webhook secret', () => {
  describe('webhookSecretSource', () => {
    it('reads a Secrets Manager ARN from Secrets Manager', () => {
      const arn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf';
      expect(webhookSecretSource(arn)).toStrictEqual({ store: 'secretsmanager', secretId: arn });
    });

    it('reads a name starting with "/" or an SSM parameter ARN from Parameter Store', () => {
      expect(webhookSecretSource('/remediation-bot/slack-webhook')).toStrictEqual({ store: 'ssm', name: '/remediation-bot/slack-webhook' });
      const arn = 'arn:aws:ssm:eu-west-1:111122223333:parameter/remediation-bot/slack-webhook';
      expect(webhookSecretSource(arn)).toStrictEqual({ store: 'ssm', name: arn });
    });

    it('rejects an unset or ambiguous reference, saying which forms work', () => {
      expect(() => webhookSecretSource(undefined)).toThrow('SLACK_WEBHOOK_SECRET is not set');
      expect(() => webhookSecretSource('slack-webhook')).toThrow(
        'SLACK_WEBHOOK_SECRET must be a Secrets Manager secret ARN (arn:aws:secretsmanager:…) or an SSM parameter name starting with "/", got "slack-webhook"',
      );
    });
  });

  describe('createWebhookUrlReader', () => {
    it('makes no client for an unusable reference and reports the reference on every read, not at init', async () => {
      const made: string[] = [];
      const clients = {
        secretsManager: () => (made.push('secretsmanager'), { send: async () => ({}) }),
        ssm: () => (made.push('ssm'), { send: async () => ({}) }),
      } as unknown as Parameters<typeof createWebhookUrlReader>[1];
      const reader = createWebhookUrlReader('slack-webhook', clients);
      await expect(reader()).rejects.toThrow(WebhookSecretError);
      await expect(reader()).rejects.toThrow('got "slack-webhook"');
      expect(made).toStrictEqual([]);
    });
  });

  describe('webhookSecretRegion', () => {
    it("calls the region in the ARN, so one secret serves every region; a name is read in the function's region", () => {
      expect(webhookSecretRegion('arn:aws:secretsmanager:eu-west-1:111122223333:secret:slack-AbCdEf', 'us-east-1')).toBe('eu-west-1');
      expect(webhookSecretRegion('arn:aws:ssm:eu-west-1:111122223333:parameter/slack', 'us-east-1')).toBe('eu-west-1');
      expect(webhookSecretRegion('/remediation-bot/slack-webhook', 'us-east-1')).toBe('us-east-1');
      expect(webhookSecretRegion(undefined, undefined)).toBeUndefined();
    });
  });

  describe('parseWebhookSecret', () => {
    it('accepts the URL itself or JSON {"url"}', () => {
      expect(parseWebhookSecret(`${URL}\n`)).toBe(URL);
      expect(parseWebhookSecret(JSON.stringify({ url: URL }))).toBe(URL);
    });

    it.each([
      ['', 'the webhook secret is empty'],
      ['{"url": ', 'the webhook secret starts with "{" but is not valid JSON'],
      ['{"webhook": "https://hooks.slack.com/x"}', 'the webhook secret JSON must be {"url": "https://…"}'],
      ['http://hooks.slack.com/services/T0EXAMPLE1/B0EXAMPLE2/q1w2e3r4', 'the webhook secret must be an https URL'],
      ['hooks.slack.com/services/T0EXAMPLE1/B0EXAMPLE2/q1w2e3r4', 'the webhook secret must be an https URL'],
    ])('rejects %j without echoing it', (stored, message) => {
      const error = (() => {
        try {
          parseWebhookSecret(stored);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(WebhookSecretError);
      expect((error as Error).message).toContain(message);
      if (stored.length > 0) expect((error as Error).message).not.toContain('T0EXAMPLE1');
    });

    it('allows plain http only to this machine', () => {
      expect(parseWebhookSecret('http://127.0.0.1:8080/hook')).toBe('http://127.0.0.1:8080/hook');
    });
  });

  describe('redactWebhookUrl', () => {
    it('removes the URL, its encoded forms and its credential path', () => {
      const text = `POST ${URL} failed; ${encodeURIComponent(URL)}; path ${new globalThis.URL(URL).pathname}; token services/T0EXAMPLE1/B0EXAMPLE2/q1w2e3r4t5y6u7i8o9p0EXAM`;
      const redacted = redactWebhookUrl(text, URL);
      expect(redacted).toBe(
        'POST [redacted webhook URL] failed; [redacted webhook URL]; path [redacted webhook URL]; token [redacted webhook URL]',
      );
    });

    it('leaves text alone when there is no URL yet', () => {
      expect(redactWebhookUrl('AccessDeniedException: denied', undefined)).toBe('AccessDeniedException: denied');
    });
  });
});

describe('retryAfterMs', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(retryAfterMs('1')).toBe(1000);
    expect(retryAfterMs(' 30 ')).toBe(30_000);
    expect(retryAfterMs('Tue, 04 Mar 2025 10:15:10 GMT', new Date('2025-03-04T10:15:05Z'))).toBe(5000);
    expect(retryAfterMs('Tue, 04 Mar 2025 10:15:00 GMT', new Date('2025-03-04T10:15:05Z'))).toBe(0);
  });

  it('returns undefined for an absent or unreadable header', () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs('-1')).toBeUndefined();
  });
});
