/**
 * The notifier Lambda's logic: SNS (protocol `lambda`) delivers the alert JSON
 * that `renderJson` published; the notifier posts it to Slack as Block Kit.
 * The stack's CloudWatch alarms on the same topic get a short message of their
 * own; anything else is posted as text rather than dropped.
 *
 * It runs apart from the remediation functions, so a Slack outage or rate
 * limit never delays or fails a remediation. A delivery that cannot be made
 * throws after the bounded retries: Lambda's async retries run, then the
 * function's DLQ (on-failure destination) keeps the SNS event. Every failure
 * also counts in the `SlackDeliveryFailed` metric.
 *
 * Duplicate alerts: the remediation functions publish once per event (the
 * idempotency layer returns the first result without publishing again), and
 * SNS delivers to Lambda at least once; a rare duplicate post is accepted
 * rather than deduplicating on the SNS MessageId here.
 */
import * as z from 'zod/mini';
import { formatIssues } from '../engine/issues.js';
import { AlarmNotificationSchema, buildAlarmSlackMessage, type AlarmNotification } from './alarm.js';
import { AlertMessageSchema, asAlertMessage, type AlertMessage } from './alert-message.js';
import { buildSlackMessage, clip, escapeMrkdwn, type SlackMessage } from './slack.js';
import { postToSlack, SlackDeliveryError, type DeliveryOptions } from './slack-delivery.js';
import { redactWebhookUrl } from './webhook-secret.js';

export interface NotifierLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** The part of Powertools Metrics the notifier uses. */
export interface MetricsSink {
  addMetric(name: string, unit: 'Count', value: number): void;
}

export const METRICS = {
  delivered: 'SlackDelivered',
  rateLimited: 'SlackRateLimited',
  failed: 'SlackDeliveryFailed',
  invalidMessage: 'AlertMessageInvalid',
} as const;

export interface NotifierDeps {
  readonly logger: NotifierLogger;
  readonly metrics: MetricsSink;
  /** The webhook URL, read once per container (see `createWebhookUrlReader`). */
  readonly webhookUrl: () => Promise<string>;
  /** Called when Slack says the webhook no longer exists, so a rotated secret is read on the next invocation. */
  readonly invalidateWebhookUrl?: () => void;
  readonly delivery?: Omit<DeliveryOptions, 'remainingTimeMs' | 'onFailedAttempt'>;
}

/** Slack's answers for a revoked or deleted webhook: the stored URL may have been rotated since it was cached. */
const WEBHOOK_GONE: ReadonlySet<number> = new Set([403, 404, 410]);

export interface NotifierContext {
  getRemainingTimeInMillis?(): number;
}

const SnsEventSchema = z.object({
  Records: z
    .array(
      z.object({
        EventSource: z.optional(z.string()),
        Sns: z.object({
          MessageId: z.string(),
          Message: z.string(),
          Subject: z.optional(z.nullable(z.string())),
          TopicArn: z.optional(z.string()),
        }),
      }),
    )
    .check(z.minLength(1)),
});

export class NotifierEventError extends Error {
  override readonly name = 'NotifierEventError';
}

export interface NotifierResult {
  readonly delivered: readonly { readonly messageId: string; readonly attempts: number; readonly formatted: boolean }[];
}

/**
 * A message that is not an alert of a schema this notifier knows (for example
 * during a deploy, from a newer publisher) still reaches people, as plain text.
 */
export function fallbackMessage(subject: string | undefined, raw: string, problems: readonly string[]): SlackMessage {
  const title = subject && subject.trim() !== '' ? subject : 'Remediation bot alert';
  return {
    text: clip(escapeMrkdwn(title), 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, 150), emoji: true } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: clip(`This alert could not be formatted (${escapeMrkdwn(problems.join('; '))}). Its raw text:`, 3000) },
      },
      { type: 'section', text: { type: 'mrkdwn', text: `\`\`\`\n${clip(escapeMrkdwn(raw), 2990)}\n\`\`\`` } },
    ],
  };
}

type Parsed =
  | { readonly kind: 'alert'; readonly message: AlertMessage }
  | { readonly kind: 'alarm'; readonly alarm: AlarmNotification }
  | { readonly kind: 'unknown'; readonly problems: readonly string[] };

/** An alert of the bot, a CloudWatch alarm of the stack, or something else (posted as text). */
function parseMessage(raw: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(raw) as unknown;
  } catch {
    return { kind: 'unknown', problems: ['the SNS message is not JSON'] };
  }
  const alert = AlertMessageSchema.safeParse(json);
  if (alert.success) return { kind: 'alert', message: asAlertMessage(alert.data) };
  const alarm = AlarmNotificationSchema.safeParse(json);
  if (alarm.success) return { kind: 'alarm', alarm: alarm.data };
  return { kind: 'unknown', problems: formatIssues(alert.error.issues) };
}

function slackMessageOf(parsed: Parsed, subject: string | undefined, raw: string): SlackMessage {
  switch (parsed.kind) {
    case 'alert':
      return buildSlackMessage(parsed.message);
    case 'alarm':
      return buildAlarmSlackMessage(parsed.alarm);
    case 'unknown':
      return fallbackMessage(subject, raw, parsed.problems);
  }
}

export function createNotifier(deps: NotifierDeps): (event: unknown, context?: NotifierContext) => Promise<NotifierResult> {
  const { logger, metrics } = deps;
  return async (event, context = {}) => {
    const parsed = SnsEventSchema.safeParse(event);
    if (!parsed.success) {
      const problems = formatIssues(parsed.error.issues);
      logger.error('not an SNS event: nothing posted', { problems });
      metrics.addMetric(METRICS.invalidMessage, 'Count', 1);
      // Thrown, not returned: Lambda then keeps the event in the DLQ for a person to look at.
      throw new NotifierEventError(`not an SNS event: ${problems.join('; ')}`);
    }

    const delivered: { messageId: string; attempts: number; formatted: boolean }[] = [];
    for (const record of parsed.data.Records) {
      const { MessageId: messageId, Message: raw, Subject: subject } = record.Sns;
      const parsed = parseMessage(raw);
      if (parsed.kind === 'unknown') {
        logger.warn('alert message not in the expected format: posting it as text', { messageId, problems: parsed.problems });
        metrics.addMetric(METRICS.invalidMessage, 'Count', 1);
      }
      const slackMessage = slackMessageOf(parsed, subject ?? undefined, raw);
      const message = parsed.kind === 'alert' ? parsed.message : undefined;
      const alertKeys = message ? { rule: message.decision.rule, outcome: message.outcome, severity: message.decision.severity, eventId: message.decision.eventId } : {};

      let url: string | undefined;
      try {
        url = await deps.webhookUrl();
        const result = await postToSlack(url, slackMessage, {
          ...deps.delivery,
          ...(context.getRemainingTimeInMillis ? { remainingTimeMs: () => context.getRemainingTimeInMillis?.() ?? 0 } : {}),
          onFailedAttempt: (failed) => {
            if (failed.status === 429) metrics.addMetric(METRICS.rateLimited, 'Count', 1);
            if (failed.waitMs === undefined) return;
            logger.warn(failed.status === 429 ? 'Slack rate limited the webhook: waiting Retry-After' : 'Slack delivery failed: retrying', {
              messageId,
              attempt: failed.attempt,
              waitMs: failed.waitMs,
              reason: redactWebhookUrl(failed.reason, url),
            });
          },
        });
        metrics.addMetric(METRICS.delivered, 'Count', 1);
        logger.info('alert posted to Slack', { messageId, attempts: result.attempts, ...alertKeys });
        delivered.push({ messageId, attempts: result.attempts, formatted: parsed.kind !== 'unknown' });
      } catch (error) {
        metrics.addMetric(METRICS.failed, 'Count', 1);
        if (error instanceof SlackDeliveryError && error.status !== undefined && WEBHOOK_GONE.has(error.status)) deps.invalidateWebhookUrl?.();
        const detail = error instanceof SlackDeliveryError ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        const reason = redactWebhookUrl(detail, url);
        logger.error('Slack delivery failed: Lambda will retry, then keep the alert in the DLQ', { messageId, reason, ...alertKeys });
        // A fresh error: the original's message, stack or cause could carry the URL into the runtime's own log line.
        throw new SlackDeliveryError(reason, error instanceof SlackDeliveryError ? error.attempts : 0, error instanceof SlackDeliveryError ? error.status : undefined);
      }
    }
    return { delivered };
  };
}
