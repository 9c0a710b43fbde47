/**
 * Publishes an alert to the SNS topic: a subject, a text body for email and a
 * JSON body for machine subscribers (`MessageStructure: json`), with message
 * attributes that subscription filter policies route on.
 */
import type { AwsGateway } from '../engine/aws.js';
import { renderJson, renderSubject, renderText, severityRank, type Alert } from './alert.js';

/** SNS caps a message at 256 KB; keep well clear so attributes and JSON escaping fit. */
const MAX_BODY_CHARS = 100_000;

function cap(text: string): string {
  return text.length <= MAX_BODY_CHARS ? text : `${text.slice(0, MAX_BODY_CHARS)}\n…[truncated]`;
}

export function buildPublishInput(alert: Alert, topicArn: string): Record<string, unknown> {
  const text = cap(renderText(alert));
  const json = cap(JSON.stringify(renderJson(alert)));
  const { decision } = alert;
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
  return {
    TopicArn: topicArn,
    Subject: renderSubject(alert),
    MessageStructure: 'json',
    Message: JSON.stringify({ default: text, email: text, 'email-json': json, sqs: json, lambda: json, https: json }),
    MessageAttributes: {
      rule: attribute(decision.rule),
      severity: attribute(decision.severity),
      severityRank: { DataType: 'Number', StringValue: String(severityRank(decision.severity)) },
      account: attribute(decision.account),
      mode: attribute(decision.mode),
      outcome: attribute(alert.outcome),
    },
  };
}

export async function publishAlert(alert: Alert, gateway: AwsGateway, topicArn: string): Promise<void> {
  await gateway.call('sns', 'Publish', buildPublishInput(alert, topicArn));
}
