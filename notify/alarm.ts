/**
 * CloudWatch alarm notifications on the alert topic (function errors,
 * throttles, dead-letter queue depth): the stack's own health. They are not
 * alerts of a rule, so they get a short Slack message of their own instead of
 * the raw-text fallback.
 */
import * as z from 'zod/mini';
import { consoleOrigin } from './console-links.js';
import { clip, escapeMrkdwn, SLACK_LIMITS, type SlackMessage } from './slack.js';

/** The fields of CloudWatch's SNS alarm message that the Slack message shows. */
export const AlarmNotificationSchema = z.object({
  AlarmName: z.string(),
  AlarmDescription: z.optional(z.nullable(z.string())),
  AWSAccountId: z.optional(z.string()),
  NewStateValue: z.string(),
  NewStateReason: z.optional(z.string()),
  StateChangeTime: z.optional(z.string()),
  AlarmArn: z.optional(z.string()),
});
export type AlarmNotification = z.infer<typeof AlarmNotificationSchema>;

const STATE_EMOJI: Readonly<Record<string, string>> = { ALARM: ':rotating_light:', OK: ':white_check_mark:', INSUFFICIENT_DATA: ':grey_question:' };

export function buildAlarmSlackMessage(alarm: AlarmNotification): SlackMessage {
  const region = /^arn:[^:]+:cloudwatch:([a-z0-9-]+):/.exec(alarm.AlarmArn ?? '')?.[1];
  const title = `${alarm.NewStateValue}: ${alarm.AlarmName}`;
  const url = region ? `${consoleOrigin(region)}/cloudwatch/home?region=${region}#alarmsV2:alarm/${encodeURIComponent(alarm.AlarmName)}` : undefined;
  const lines = [
    ...(alarm.AlarmDescription ? [`*${escapeMrkdwn(alarm.AlarmDescription)}*`] : []),
    ...(alarm.NewStateReason ? [escapeMrkdwn(alarm.NewStateReason)] : []),
    [alarm.AWSAccountId && `account ${alarm.AWSAccountId}`, region && `region ${region}`, alarm.StateChangeTime && `at ${alarm.StateChangeTime}`]
      .filter(Boolean)
      .join(' · '),
    ...(url ? [`:link: <${url}|Open the alarm in the CloudWatch console>`] : []),
  ].filter((line) => line !== '');
  return {
    text: clip(escapeMrkdwn(title), SLACK_LIMITS.fallbackText),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(`${STATE_EMOJI[alarm.NewStateValue] ?? ':bell:'} ${title}`, SLACK_LIMITS.headerText), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), SLACK_LIMITS.sectionText) } },
    ],
  };
}
