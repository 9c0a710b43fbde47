/**
 * What a replay record is, and the EventBridge envelope it becomes.
 *
 * Inputs hold EventBridge envelopes, raw CloudTrail records (S3 log files,
 * CloudTrail Lake and Athena exports) or `lookup-events` entries. Raw records
 * are wrapped exactly as EventBridge delivers them, so the rules' patterns see
 * the same document as in production; records EventBridge would not deliver
 * to a rule in its default state are dropped, so a replay never decides an
 * event production never sees.
 */
import { createHash } from 'node:crypto';
import { DETAIL_TYPE } from '../engine/event.js';
import { sourceFor } from '../engine/patterns.js';

/** EventBridge's `detail-type` for each CloudTrail `eventType`. Rules match `AWS API Call via CloudTrail` only. */
export const DETAIL_TYPES: Readonly<Record<string, string>> = {
  AwsApiCall: DETAIL_TYPE,
  AwsServiceEvent: 'AWS Service Event via CloudTrail',
  AwsConsoleSignIn: 'AWS Console Sign In via CloudTrail',
  AwsConsoleAction: 'AWS Console Action via CloudTrail',
  AwsCloudTrailInsight: 'AWS Insight via CloudTrail',
};

/**
 * STS calls whose names start with `Get` but that EventBridge documents as
 * change events, delivered like any write.
 */
const STS_CHANGE_EVENTS = new Set(['GetFederationToken', 'GetSessionToken']);

/** Namespace of the replay's deterministic envelope ids (a fixed, random UUID). */
const ID_NAMESPACE = Buffer.from('6f0b7a3e4c2d4f1a9b8e5d7c3a1f2e40', 'hex');

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A name-based UUID (RFC 9562 version 5) of the CloudTrail `eventID`. The
 * real envelope id is random; a replay derives it so two replays of the same
 * logs print the same ids.
 */
export function envelopeIdFor(eventID: string): string {
  const hash = createHash('sha1').update(ID_NAMESPACE).update(eventID, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Whether EventBridge delivers the record to a rule in the default `ENABLED`
 * state. Read-only management events named `Describe*`, `Get*` or `List*` are
 * delivered only to rules in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`,
 * which the bot does not use. Records that do not say they are read-only
 * (older than eventVersion 1.06) are kept: only what is certain is dropped.
 */
export function deliveredByEventBridge(record: JsonObject): boolean {
  if (record['readOnly'] !== true || record['managementEvent'] === false) return true;
  const name = record['eventName'];
  if (typeof name !== 'string' || !/^(Describe|Get|List)/.test(name)) return true;
  return record['eventSource'] === 'sts.amazonaws.com' && STS_CHANGE_EVENTS.has(name);
}

/** Wraps a raw CloudTrail record into the envelope EventBridge would deliver. Missing fields stay missing, for the parser to name. */
export function wrapRecord(record: JsonObject): JsonObject {
  const { eventID, eventSource, eventType, eventTime, awsRegion, recipientAccountId, userIdentity } = record;
  const accountId = isObject(userIdentity) ? userIdentity['accountId'] : undefined;
  const account = typeof recipientAccountId === 'string' ? recipientAccountId : accountId;
  const detailType = typeof eventType === 'string' ? (DETAIL_TYPES[eventType] ?? `AWS ${eventType} via CloudTrail`) : DETAIL_TYPE;
  return {
    version: '0',
    ...(typeof eventID === 'string' ? { id: envelopeIdFor(eventID) } : {}),
    'detail-type': detailType,
    ...(typeof eventSource === 'string' ? { source: sourceFor(eventSource) } : {}),
    ...(account !== undefined ? { account } : {}),
    ...(eventTime !== undefined ? { time: eventTime } : {}),
    ...(awsRegion !== undefined ? { region: awsRegion } : {}),
    resources: [],
    detail: record,
  };
}

export type Classified =
  | { readonly kind: 'event'; readonly event: JsonObject }
  | { readonly kind: 'not-delivered' }
  | { readonly kind: 'invalid'; readonly error: string };

/**
 * Turns one input record into the envelope the rules see: an envelope (it has
 * `detail`) as it is, a `lookup-events` entry through its `CloudTrailEvent`
 * string, a raw record wrapped.
 */
export function classifyRecord(value: unknown): Classified {
  if (!isObject(value)) return { kind: 'invalid', error: 'a record must be a JSON object' };
  if (Object.hasOwn(value, 'detail')) return { kind: 'event', event: value };
  let record = value;
  const embedded = value['CloudTrailEvent'];
  if (typeof embedded === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(embedded);
    } catch (error) {
      return { kind: 'invalid', error: `CloudTrailEvent is not JSON: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (!isObject(parsed)) return { kind: 'invalid', error: 'CloudTrailEvent must hold a JSON object' };
    record = parsed;
  } else if (!Object.hasOwn(value, 'eventName') && !Object.hasOwn(value, 'eventSource') && !Object.hasOwn(value, 'eventID')) {
    return { kind: 'invalid', error: 'neither an EventBridge event (no "detail") nor a CloudTrail record (no "eventName", "eventSource" or "eventID")' };
  }
  if (!deliveredByEventBridge(record)) return { kind: 'not-delivered' };
  return { kind: 'event', event: wrapRecord(record) };
}
