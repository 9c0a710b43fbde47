/**
 * What a replay record is, and the EventBridge envelope it becomes.
 *
 * Inputs hold EventBridge envelopes, raw CloudTrail records (S3 log files,
 * CloudTrail Lake and Athena exports) or `lookup-events` entries. Raw records
 * are wrapped exactly as EventBridge delivers them, so the rules' patterns see
 * the same document as in production; records EventBridge would not deliver
 * to a rule in its default state are dropped, so a replay never decides an
 * event production never sees. A record EventBridge could not carry (over its
 * event size limit) or one whose detail-type cannot be told is reported, never
 * dropped in silence.
 */
import { hash as oneShotHash } from 'node:crypto';
import { DETAIL_TYPE } from '../engine/event.js';
import { sourceFor } from '../engine/patterns.js';

/** EventBridge's `detail-type` for each CloudTrail `eventType`. Rules match `AWS API Call via CloudTrail` only. */
const DETAIL_TYPES: Readonly<Record<string, string>> = {
  AwsApiCall: DETAIL_TYPE,
  AwsServiceEvent: 'AWS Service Event via CloudTrail',
  AwsConsoleSignIn: 'AWS Console Sign In via CloudTrail',
  AwsConsoleAction: 'AWS Console Action via CloudTrail',
  AwsCloudTrailInsight: 'AWS Insight via CloudTrail',
};

/**
 * The console sign-in events CloudTrail logs for `signin.amazonaws.com`, all
 * with `eventType` `AwsConsoleSignIn` ("For sign-in events, the eventType
 * field is AwsConsoleSignIn", CloudTrail User Guide, "AWS Management Console
 * sign-in events").
 */
const CONSOLE_SIGN_IN_EVENTS: ReadonlySet<string> = new Set([
  'ConsoleLogin',
  'CheckMfa',
  'SwitchRole',
  'ExitRole',
  'RenewRole',
  'PasswordRecoveryRequested',
  'PasswordRecoveryCompleted',
]);

/**
 * EventBridge's event size limit ("the total entry size must be less than
 * 256KB", PutEvents entry size): CloudTrail cannot deliver a larger event, so
 * no rule ever sees it.
 */
export const EVENTBRIDGE_MAX_EVENT_BYTES = 256 * 1024;
/**
 * Our measure re-serialises the record, which may differ from CloudTrail's
 * bytes by key order and escapes: only a record past the limit by more than
 * this is certain never to be delivered.
 */
const EVENT_SIZE_MARGIN_BYTES = 8 * 1024;

/**
 * STS calls whose names start with `Get` but that EventBridge documents as
 * change events, delivered like any write.
 */
const STS_CHANGE_EVENTS = new Set(['GetFederationToken', 'GetSessionToken']);

/** Namespace of the replay's deterministic envelope ids (a fixed, random UUID). */
const ID_NAMESPACE = Buffer.from('6f0b7a3e4c2d4f1a9b8e5d7c3a1f2e40', 'hex');
/** The namespace, then room for any real eventID (a UUID, 36 bytes); memory of its own, not a slice of Node's shared pool. */
const ID_INPUT = Buffer.alloc(ID_NAMESPACE.length + 240);
ID_NAMESPACE.copy(ID_INPUT);

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
  // The namespace and the id in one reused buffer, hashed in one call (crypto.hash, Node 21.7+): a Hash object and
  // two buffers per record cost more than the digest itself. An id too long for the buffer gets one of its own.
  const length = ID_NAMESPACE.length + Buffer.byteLength(eventID, 'utf8');
  const input = length <= ID_INPUT.length ? ID_INPUT : Buffer.concat([ID_NAMESPACE], length);
  input.write(eventID, ID_NAMESPACE.length, 'utf8');
  const hex = oneShotHash('sha1', input.subarray(0, length), 'hex');
  // Version 5 in the high nibble of byte 6; the variant (binary 10) in the two high bits of byte 8.
  const variant = ((Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
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

/** A short description of a value for a message: never serialises it whole (it may be huge, or nested too deep to serialise). */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

type DetailTypeOf = { readonly kind: 'known'; readonly detailType: string } | { readonly kind: 'unknown'; readonly reason: string };

/**
 * The `detail-type` EventBridge gives a raw record. From its `eventType` when
 * it has one; trimmed exports (CloudTrail Lake or Athena queries that select
 * some columns) often leave it out, and it is then inferred from what only
 * each kind of record carries:
 * - `insightDetails` (or `eventCategory` `Insight`): `AWS Insight via CloudTrail`;
 * - `serviceEventDetails`: `AWS Service Event via CloudTrail`;
 * - `eventSource` `signin.amazonaws.com` with a console sign-in event name
 *   ({@link CONSOLE_SIGN_IN_EVENTS}): `AWS Console Sign In via CloudTrail`;
 *   any other sign-in event cannot be placed, and is reported;
 * - anything else: `AWS API Call via CloudTrail`, as nearly every record is.
 * An `eventType` that is present but not a string is reported.
 */
export function detailTypeOf(record: JsonObject): DetailTypeOf {
  const { eventType, eventSource, eventName } = record;
  if (typeof eventType === 'string') return { kind: 'known', detailType: DETAIL_TYPES[eventType] ?? `AWS ${eventType} via CloudTrail` };
  if (eventType !== undefined && eventType !== null) {
    return { kind: 'unknown', reason: `"eventType" must be a string such as "AwsApiCall", got ${shown(eventType)}` };
  }
  if (Object.hasOwn(record, 'insightDetails') || record['eventCategory'] === 'Insight') return { kind: 'known', detailType: DETAIL_TYPES['AwsCloudTrailInsight'] as string };
  if (Object.hasOwn(record, 'serviceEventDetails')) return { kind: 'known', detailType: DETAIL_TYPES['AwsServiceEvent'] as string };
  if (eventSource === 'signin.amazonaws.com') {
    if (typeof eventName === 'string' && CONSOLE_SIGN_IN_EVENTS.has(eventName)) return { kind: 'known', detailType: DETAIL_TYPES['AwsConsoleSignIn'] as string };
    return {
      kind: 'unknown',
      reason: `no "eventType", and signin.amazonaws.com ${eventName === undefined ? 'without eventName' : shown(eventName)} is not a console sign-in event whose detail-type can be inferred: export the records with their eventType`,
    };
  }
  return { kind: 'known', detailType: DETAIL_TYPE };
}

/**
 * Wraps a raw CloudTrail record into the envelope EventBridge would deliver,
 * with the detail-type {@link detailTypeOf} gives (API call when it cannot
 * tell; {@link classifyRecord} reports those instead). Missing fields stay
 * missing, for the parser to name.
 */
export function wrapRecord(record: JsonObject, detailType?: string): JsonObject {
  const { eventID, eventSource, eventTime, awsRegion, recipientAccountId, userIdentity } = record;
  const accountId = isObject(userIdentity) ? userIdentity['accountId'] : undefined;
  const account = typeof recipientAccountId === 'string' ? recipientAccountId : accountId;
  const inferred = detailTypeOf(record);
  return {
    version: '0',
    ...(typeof eventID === 'string' ? { id: envelopeIdFor(eventID) } : {}),
    'detail-type': detailType ?? (inferred.kind === 'known' ? inferred.detailType : DETAIL_TYPE),
    ...(typeof eventSource === 'string' ? { source: sourceFor(eventSource) } : {}),
    ...(account !== undefined ? { account } : {}),
    ...(eventTime !== undefined ? { time: eventTime } : {}),
    ...(awsRegion !== undefined ? { region: awsRegion } : {}),
    resources: [],
    detail: record,
  };
}

type Classified =
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
  const detailType = detailTypeOf(record);
  if (detailType.kind === 'unknown') return { kind: 'invalid', error: detailType.reason };
  return { kind: 'event', event: wrapRecord(record, detailType.detailType) };
}

/**
 * The size in bytes of what EventBridge would carry for a record: the
 * envelope's `detail`, a `lookup-events` entry's `CloudTrailEvent`, or the raw
 * record, serialised compactly. A value too deeply nested to serialise counts
 * as `fallback` (its size as written).
 */
function eventBytes(value: unknown, fallback: number): number {
  const embedded = isObject(value) ? value['CloudTrailEvent'] : undefined;
  if (typeof embedded === 'string') return Buffer.byteLength(embedded, 'utf8');
  const carried = isObject(value) && Object.hasOwn(value, 'detail') ? value['detail'] : value;
  try {
    return Buffer.byteLength(JSON.stringify(carried) ?? '', 'utf8');
  } catch {
    return fallback;
  }
}

/** Why a record is too large for EventBridge, or `undefined` when it is not. `written` is its size as written, an upper bound of {@link eventBytes}. */
export function oversizeReason(value: unknown, written: number): string | undefined {
  const limit = EVENTBRIDGE_MAX_EVENT_BYTES + EVENT_SIZE_MARGIN_BYTES;
  if (written <= limit) return undefined;
  const size = eventBytes(value, written);
  if (size <= limit) return undefined;
  return `the event is ${formatBytes(size)}, over EventBridge's ${formatBytes(EVENTBRIDGE_MAX_EVENT_BYTES)} event size limit: CloudTrail cannot deliver it, so no rule would ever see it`;
}

/** `262,144 bytes (256 KiB)`: exact, and readable. */
export function formatBytes(bytes: number): string {
  let amount = bytes / 1024;
  let unit = 'KiB';
  for (const larger of ['MiB', 'GiB']) {
    if (amount < 1024) break;
    amount /= 1024;
    unit = larger;
  }
  return `${bytes.toLocaleString('en-US')} bytes (${Number.isInteger(amount) ? amount : amount.toFixed(1)} ${unit})`;
}
