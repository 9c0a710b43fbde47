/**
 * Publishes an alert to the SNS topic with `MessageStructure: json`, one body
 * per protocol: plain text for `email` (and `default`), the alert JSON for
 * `lambda` (the Slack notifier), `sqs` and `email-json`, and an AWS Chatbot
 * custom notification for `https` (Chatbot's own protocol). Message attributes
 * carry what subscription filter policies route on (`deploy/notification-filters.ts`)
 * and, when the function has a signing key, the HMAC of the `lambda` body
 * (`alert-signature.ts`) that the Slack notifier verifies.
 */
import { errorCode, errorMessage, type AwsGateway } from '../engine/aws.js';
import type { AlertDelivery, AlertSink } from '../engine/ports.js';
import { severityRank } from '../engine/types.js';
import { renderJson, renderSubject, renderText, type Alert } from './alert.js';
import { SIGNATURE_ATTRIBUTE, SIGNATURE_KEY_ATTRIBUTE, signAlertBody, type AlertSignature } from './alert-signature.js';
import { renderChatbot } from './chatbot.js';

/**
 * SNS caps a whole message at 256 KiB, and the text goes out twice and the
 * JSON three times, escaped inside the outer JSON. These caps keep the sum
 * well under the limit.
 */
const MAX_TEXT_CHARS = 30_000;
const MAX_JSON_CHARS = 40_000;
const MARKER = '…[truncated]';

function capText(text: string): string {
  return text.length <= MAX_TEXT_CHARS ? text : `${text.slice(0, MAX_TEXT_CHARS - MARKER.length - 1)}\n${MARKER}`;
}

function longestString(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; length: number } | undefined {
  if (typeof value === 'string') return { path, length: value.length };
  if (typeof value !== 'object' || value === null) return undefined;
  let best: { path: (string | number)[]; length: number } | undefined;
  for (const [key, child] of Object.entries(value)) {
    const found = longestString(child, [...path, Array.isArray(value) ? Number(key) : key]);
    if (found && (!best || found.length > best.length)) best = found;
  }
  return best;
}

/**
 * Serialises `value` within `max` characters and keeps it valid JSON: the
 * longest strings (a policy document, an error message) are cut, with the
 * marker, until it fits. Subscribers always receive parseable JSON.
 */
export function boundedJson(value: unknown, max: number = MAX_JSON_CHARS): string {
  let json = JSON.stringify(value);
  if (json.length <= max) return json;
  const copy = structuredClone(value) as Record<string, unknown>;
  for (let round = 0; round < 1000 && json.length > max; round += 1) {
    const longest = longestString(copy);
    if (!longest || longest.length <= 64) break;
    const keep = Math.max(32, longest.length - (json.length - max) - MARKER.length);
    const parent = longest.path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], copy) as Record<string | number, unknown>;
    const key = longest.path.at(-1);
    if (key === undefined) break;
    parent[key] = `${(parent[key] as string).slice(0, keep)}${MARKER}`;
    json = JSON.stringify(copy);
  }
  return json;
}

interface MessageAttribute {
  readonly DataType: 'String' | 'Number';
  readonly StringValue: string;
}

/** The SNS `Publish` input of one alert. */
export type PublishInput = {
  readonly TopicArn: string;
  readonly Subject: string;
  readonly MessageStructure: 'json';
  readonly Message: string;
  readonly MessageAttributes: Readonly<Record<string, MessageAttribute>>;
};

function render(alert: Alert, topicArn: string): { readonly input: PublishInput; readonly lambdaBody: string } {
  const message = renderJson(alert);
  const text = capText(renderText(alert));
  const json = boundedJson(message);
  const chatbot = JSON.stringify(renderChatbot(message));
  const { decision } = alert;
  const attribute = (value: string): MessageAttribute => ({ DataType: 'String', StringValue: value });
  return {
    lambdaBody: json,
    input: {
      TopicArn: topicArn,
      Subject: renderSubject(alert),
      MessageStructure: 'json',
      Message: JSON.stringify({ default: text, email: text, 'email-json': json, sqs: json, lambda: json, https: chatbot }),
      MessageAttributes: {
        rule: attribute(decision.rule),
        severity: attribute(decision.severity),
        severityRank: { DataType: 'Number', StringValue: String(severityRank(decision.severity)) },
        account: attribute(decision.account),
        mode: attribute(decision.mode),
        outcome: attribute(alert.outcome),
      },
    },
  };
}

/** The unsigned `Publish` input of an alert. */
export function buildPublishInput(alert: Alert, topicArn: string): PublishInput {
  return render(alert, topicArn).input;
}

/** The same input with the signature of its `lambda` body in two more attributes; the routing attributes are kept. */
export function withSignature(input: PublishInput, signature: AlertSignature): PublishInput {
  return {
    ...input,
    MessageAttributes: {
      ...input.MessageAttributes,
      [SIGNATURE_ATTRIBUTE]: { DataType: 'String', StringValue: signature.signature },
      [SIGNATURE_KEY_ATTRIBUTE]: { DataType: 'String', StringValue: signature.keyId },
    },
  };
}

interface PublishOptions {
  /** The KMS HMAC key (`ALERT_SIGNING_KEY_ID`). Absent: the alert goes out unsigned (the CLI's `invoke`, unit tests). */
  readonly signingKeyId?: string;
}

/** How the alert went out (`engine/ports.ts`): a signing failure publishes it unsigned, shown as unverified in Slack. */
type PublishResult = AlertDelivery;

export async function publishAlert(alert: Alert, gateway: AwsGateway, topicArn: string, options: PublishOptions = {}): Promise<PublishResult> {
  const { input, lambdaBody } = render(alert, topicArn);
  const keyId = options.signingKeyId?.trim() ?? '';
  if (keyId === '') {
    await gateway.call('sns', 'Publish', input);
    return { signature: 'unsigned' };
  }
  let signature: AlertSignature;
  try {
    signature = await signAlertBody(gateway, keyId, lambdaBody);
  } catch (error) {
    await gateway.call('sns', 'Publish', input);
    return { signature: 'signing-failed', errorCode: errorCode(error), errorMessage: errorMessage(error) };
  }
  await gateway.call('sns', 'Publish', withSignature(input, signature));
  return { signature: 'signed' };
}

/** The engine's alert port, implemented with SNS: every alert to `topicArn`, signed with `signingKeyId` when the function has one. */
export function snsAlertSink(gateway: AwsGateway, topicArn: string, options: PublishOptions = {}): AlertSink {
  return { publish: (alert) => publishAlert(alert, gateway, topicArn, options) };
}
