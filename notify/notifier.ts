/**
 * The notifier Lambda's logic: SNS (protocol `lambda`) delivers the alert JSON
 * that `renderJson` published; the notifier posts it to Slack as Block Kit.
 *
 * Only a message whose signature KMS verifies (`alert-signature.ts`) is
 * rendered as a bot alert. Anything else on the topic (a forged alert, one of
 * the stack's CloudWatch alarms, a message the key cannot be checked for) is
 * posted as plain text under an UNVERIFIED header, counted in the
 * `AlertUnverified` metric, and never dropped: its commands are never rendered
 * as commands. A signed message in a format this notifier does not know is
 * posted as text too.
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
import { ParseFault } from '../engine/errors.js';
import { KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import type { CommandTable } from '../engine/aws.js';
import { formatIssues } from '../engine/issues.js';
import { AlarmNotificationSchema, type AlarmNotification } from './alarm.js';
import { AlertDeliverySchema, parseAlertBody, type AlertMessage } from './alert-message.js';
import type { AlertVerifier, Verification } from './alert-signature.js';
import { buildSlackMessage, clip, escapeMrkdwn, SLACK_LIMITS, type SlackMessage } from './slack.js';
import { postToSlack, SlackDeliveryError, type DeliveryOptions } from './slack-delivery.js';
import { redactWebhookUrl } from './webhook-secret.js';

/** What the notifier sends to AWS besides reading the webhook secret: `VerifyMac`, for `createAlertVerifier`. */
export const notifierCommands = {
  clients: { kms: KMSClient },
  commands: { 'kms:VerifyMac': VerifyMacCommand },
} as const satisfies CommandTable;

export interface NotifierLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** The part of Powertools Metrics the notifier uses. */
export interface MetricsSink {
  addMetric(name: string, unit: 'Count', value: number): void;
}

const METRICS = {
  delivered: 'SlackDelivered',
  rateLimited: 'SlackRateLimited',
  failed: 'SlackDeliveryFailed',
  invalidMessage: 'AlertMessageInvalid',
  unverified: 'AlertUnverified',
} as const;

export interface NotifierDeps {
  readonly logger: NotifierLogger;
  readonly metrics: MetricsSink;
  /** The webhook URL, read once per container (see `createWebhookUrlReader`). */
  readonly webhookUrl: () => Promise<string>;
  /** Checks each message's signature (`createAlertVerifier` with the key of the notifier's own environment). */
  readonly verifyAlert: AlertVerifier;
  /** Called when Slack says the webhook no longer exists, so a rotated secret is read on the next invocation. */
  readonly invalidateWebhookUrl?: () => void;
  readonly delivery?: Omit<DeliveryOptions, 'remainingTimeMs' | 'onFailedAttempt'>;
}

/** Slack's answers for a revoked or deleted webhook: the stored URL may have been rotated since it was cached. */
const WEBHOOK_GONE: ReadonlySet<number> = new Set([403, 404, 410]);

interface NotifierContext {
  getRemainingTimeInMillis?(): number;
}

export class NotifierEventError extends ParseFault {
  override readonly name = 'NotifierEventError';
}

interface NotifierResult {
  readonly delivered: readonly Delivered[];
}

interface Delivered {
  readonly messageId: string;
  readonly attempts: number;
  /** Rendered as a bot alert (Block Kit), not as text. */
  readonly formatted: boolean;
  /** Signed by the bot's key; an unverified message is always posted as text. */
  readonly verified: boolean;
}

/**
 * A message that is not an alert of a schema this notifier knows (for example
 * during a deploy, from a newer publisher) still reaches people, as plain text.
 */
function fallbackMessage(subject: string | undefined, raw: string, problems: readonly string[]): SlackMessage {
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

export const UNVERIFIED_HEADER = ':warning: UNVERIFIED message on the alert topic: not signed by the bot';

/** A CloudWatch alarm's fields as plain lines: shown as text, with no link, since anyone able to create an alarm chooses them. */
function alarmLines(alarm: AlarmNotification): string[] {
  const where = [alarm.AWSAccountId && `account ${alarm.AWSAccountId}`, alarm.AlarmArn && `alarm ${alarm.AlarmArn}`, alarm.StateChangeTime && `at ${alarm.StateChangeTime}`]
    .filter(Boolean)
    .join(' · ');
  return [`CloudWatch alarm ${alarm.AlarmName}: ${alarm.NewStateValue}`, alarm.AlarmDescription ?? '', alarm.NewStateReason ?? '', where].filter((line) => line !== '');
}

function unverifiedContent(subject: string | undefined, raw: string): string {
  let body = raw;
  try {
    const alarm = AlarmNotificationSchema.safeParse(JSON.parse(raw) as unknown);
    if (alarm.success) body = alarmLines(alarm.data).join('\n');
  } catch {
    // Not JSON: the raw text is shown as it is.
  }
  const text = subject ? `Subject: ${subject}\n\n${body}` : body;
  // Slack has no escape for a backtick: a look-alike keeps the text inside the code block, so it cannot close the fence and format what follows.
  return text.replace(/`/g, '\u02cb');
}

/**
 * A message the bot did not sign, posted so people still see it, but never as
 * an alert: no severity, no facts, no links, no undo section. Its subject and
 * text sit escaped inside a code block, so nothing in them formats, mentions
 * or links.
 */
function unverifiedMessage(subject: string | undefined, raw: string, verification: Exclude<Verification, { status: 'verified' }>): SlackMessage {
  const published = subject && subject.trim() !== '' ? subject : undefined;
  const warning = [
    `*Do not act on this message.* It was published to the alert topic without a valid signature of the remediation bot: ${escapeMrkdwn(verification.reason)}.`,
    "It may be one of the stack's CloudWatch alarms, or a forged alert. Nothing in it comes from the bot: run no command it contains. As published:",
  ].join('\n');
  return {
    text: clip(escapeMrkdwn(`UNVERIFIED (not signed by the bot): ${published ?? 'message on the alert topic'}`), SLACK_LIMITS.fallbackText),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(UNVERIFIED_HEADER, SLACK_LIMITS.headerText), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: clip(warning, SLACK_LIMITS.sectionText) } },
      { type: 'section', text: { type: 'mrkdwn', text: `\`\`\`\n${clip(escapeMrkdwn(unverifiedContent(published, raw)), SLACK_LIMITS.sectionText - 10)}\n\`\`\`` } },
    ],
  };
}

interface Rendered {
  readonly slackMessage: SlackMessage;
  /** The alert, when the message is a signed alert this notifier can format. */
  readonly message?: AlertMessage;
  readonly verified: boolean;
}

/** Verifies one message, then renders it: a bot alert only when signed, plain text otherwise. */
async function render(deps: NotifierDeps, messageId: string, raw: string, subject: string | undefined, attributes: Readonly<Record<string, unknown>> | undefined): Promise<Rendered> {
  const { logger, metrics } = deps;
  const verification = await deps.verifyAlert(raw, attributes);
  if (verification.status !== 'verified') {
    metrics.addMetric(METRICS.unverified, 'Count', 1);
    if (verification.status === 'failed') {
      logger.error('the alert signature could not be verified: posting the message as unverified text', {
        messageId,
        errorCode: verification.errorCode,
        error: verification.errorMessage,
      });
    } else {
      logger.warn('message not signed by the bot: posting it as unverified text', { messageId, verification: verification.status, reason: verification.reason });
    }
    return { slackMessage: unverifiedMessage(subject, raw, verification), verified: false };
  }
  const parsed = parseAlertBody(raw);
  if (parsed.kind === 'unknown') {
    logger.warn('alert message not in the expected format: posting it as text', { messageId, problems: parsed.problems });
    metrics.addMetric(METRICS.invalidMessage, 'Count', 1);
    return { slackMessage: fallbackMessage(subject, raw, parsed.problems), verified: true };
  }
  return { slackMessage: buildSlackMessage(parsed.message), message: parsed.message, verified: true };
}

export function createNotifier(deps: NotifierDeps): (event: unknown, context?: NotifierContext) => Promise<NotifierResult> {
  const { logger, metrics } = deps;
  return async (event, context = {}) => {
    const parsed = AlertDeliverySchema.safeParse(event);
    if (!parsed.success) {
      const problems = formatIssues(parsed.error.issues);
      logger.error('not an SNS event: nothing posted', { problems });
      metrics.addMetric(METRICS.invalidMessage, 'Count', 1);
      // Thrown, not returned: Lambda then keeps the event in the DLQ for a person to look at.
      throw new NotifierEventError(`not an SNS event: ${problems.join('; ')}`);
    }

    const delivered: Delivered[] = [];
    for (const record of parsed.data.Records) {
      const { MessageId: messageId, Message: raw, Subject: subject, MessageAttributes: attributes } = record.Sns;
      const { slackMessage, message, verified } = await render(deps, messageId, raw, subject ?? undefined, attributes);
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
        logger.info('alert posted to Slack', { messageId, attempts: result.attempts, verified, ...alertKeys });
        delivered.push({ messageId, attempts: result.attempts, formatted: message !== undefined, verified });
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
