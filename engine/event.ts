/**
 * The boundary: an EventBridge "AWS API Call via CloudTrail" envelope (or, for
 * console sign-ins, "AWS Console Sign In via CloudTrail") with the CloudTrail
 * record in `detail`. Only the fields the engine relies on are required;
 * everything else passes through untouched for the rules to read.
 */
import { ParseFault } from './errors.js';
import * as z from 'zod/mini';
import { formatIssues, type Issue } from './issues.js';

const UserIdentitySchema = z.looseObject({
  type: z.optional(z.string()),
  arn: z.optional(z.string()),
  principalId: z.optional(z.string()),
  accountId: z.optional(z.string()),
  invokedBy: z.optional(z.string()),
  sessionContext: z.optional(
    z.looseObject({
      sessionIssuer: z.optional(z.looseObject({ arn: z.optional(z.string()), type: z.optional(z.string()) })),
    }),
  ),
});

/**
 * What `z.record` accepts: an object that is not an array and has no symbol
 * keys, whose constructor, if it is a function, has a prototype of its own
 * (`Object`'s or a class's). Every object `JSON.parse` makes is one.
 */
export function isRecordLike(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const constructor: unknown = (value as { constructor?: unknown }).constructor;
  if (typeof constructor === 'function') {
    const prototype: unknown = (constructor as { prototype?: unknown }).prototype;
    if (typeof prototype !== 'object' || prototype === null || Array.isArray(prototype) || !Object.hasOwn(prototype, 'isPrototypeOf')) return false;
  }
  return Object.getOwnPropertySymbols(value).length === 0;
}

const RecordSchema = z.record(z.string(), z.unknown());

/**
 * `requestParameters` and `responseElements` are objects or `null` (failed
 * calls, some read calls). Checked as `z.record(z.string(), z.unknown())`
 * would, without copying every key: they are the largest part of most events.
 * What its copy would change still goes through that copy: an object whose
 * prototype is not `Object`'s, and an own `__proto__` key (which `JSON.parse`
 * makes from `"__proto__"`, and the copy drops). So the result is always the
 * one `z.record` gives.
 */
const ElementsSchema = z.nullable(
  z.optional(
    z
      .custom<Record<string, unknown>>((value) => isRecordLike(value), {
        error: (issue) => `expected record, got ${issue.input === null ? 'null' : Array.isArray(issue.input) ? 'array' : typeof issue.input}`,
      })
      .check(z.overwrite((value) => (Object.getPrototypeOf(value) === Object.prototype && !Object.hasOwn(value, '__proto__') ? value : RecordSchema.parse(value)))),
  ),
);

const CloudTrailRecordSchema = z.looseObject({
  eventVersion: z.optional(z.string()),
  eventID: z.string().check(z.minLength(1)),
  eventTime: z.string().check(z.minLength(1)),
  eventSource: z.string().check(z.minLength(1)),
  eventName: z.string().check(z.minLength(1)),
  awsRegion: z.string().check(z.minLength(1)),
  sourceIPAddress: z.optional(z.string()),
  userAgent: z.optional(z.string()),
  userIdentity: z.optional(UserIdentitySchema),
  errorCode: z.optional(z.nullable(z.string())),
  errorMessage: z.optional(z.nullable(z.string())),
  requestParameters: ElementsSchema,
  responseElements: ElementsSchema,
  recipientAccountId: z.optional(z.string()),
  readOnly: z.optional(z.boolean()),
  managementEvent: z.optional(z.boolean()),
});

export const DETAIL_TYPE = 'AWS API Call via CloudTrail';
/** CloudTrail records of `eventType` `AwsConsoleSignIn` (`ConsoleLogin`) reach EventBridge with this detail-type, not `DETAIL_TYPE`. */
export const CONSOLE_SIGN_IN_DETAIL_TYPE = 'AWS Console Sign In via CloudTrail';
/** The detail-types the engine accepts; a rule trigger names one of them (see `Trigger.detailType`). */
export const ENVELOPE_DETAIL_TYPES = [DETAIL_TYPE, CONSOLE_SIGN_IN_DETAIL_TYPE] as const;
export type DetailType = (typeof ENVELOPE_DETAIL_TYPES)[number];

function envelopeSchema<T extends DetailType>(detailType: T) {
  return z.looseObject({
    version: z.optional(z.string()),
    id: z.string().check(z.minLength(1)),
    'detail-type': z.literal(detailType),
    source: z.string().check(z.minLength(1)),
    account: z.string().check(z.minLength(1)),
    time: z.string().check(z.minLength(1)),
    region: z.string().check(z.minLength(1)),
    resources: z.optional(z.array(z.unknown())),
    detail: CloudTrailRecordSchema,
  });
}

const ApiCallEventSchema = envelopeSchema(DETAIL_TYPE);
const ConsoleSignInEventSchema = envelopeSchema(CONSOLE_SIGN_IN_DETAIL_TYPE);

export const CloudTrailEventSchema = z.union([ApiCallEventSchema, ConsoleSignInEventSchema]);
export type CloudTrailEvent = z.infer<typeof CloudTrailEventSchema>;

/** A malformed event: names the event and every field that was wrong. */
export class EventParseError extends ParseFault {
  override readonly name = 'EventParseError';
  constructor(
    readonly eventId: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`malformed event ${eventId}: ${problems.join('; ')}`, options);
  }
}

function guessEventId(input: unknown): string {
  if (typeof input !== 'object' || input === null) return '(unknown)';
  const record = input as Record<string, unknown>;
  const detail = record['detail'];
  if (typeof detail === 'object' && detail !== null) {
    const eventID = (detail as Record<string, unknown>)['eventID'];
    if (typeof eventID === 'string' && eventID.length > 0) return eventID.slice(0, 100);
  }
  const id = record['id'];
  return typeof id === 'string' && id.length > 0 ? id.slice(0, 100) : '(unknown)';
}

export type ParseResult =
  | { readonly success: true; readonly event: CloudTrailEvent }
  | { readonly success: false; readonly error: EventParseError };

/** Parses an EventBridge envelope. Never throws: a malformed event is a value. */
export function parseEvent(input: unknown): ParseResult {
  // One schema per detail-type, chosen up front, so that a problem is named field by field
  // (a union would only say "invalid input"). Anything that is not a sign-in is judged as an API call.
  const schema = field(input, 'detail-type') === CONSOLE_SIGN_IN_DETAIL_TYPE ? ConsoleSignInEventSchema : ApiCallEventSchema;
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) {
    // The account acted on is the envelope's: a record that says it was delivered to another account is not believed.
    const recipient = result.data.detail.recipientAccountId;
    if (recipient !== undefined && recipient !== result.data.account) {
      return { success: false, error: new EventParseError(result.data.detail.eventID, [`detail.recipientAccountId: ${JSON.stringify(recipient.slice(0, 40))} is not the envelope's account ${JSON.stringify(result.data.account.slice(0, 40))}`]) };
    }
    return { success: true, event: result.data };
  }
  const error = new EventParseError(guessEventId(input), formatIssues(result.error.issues as readonly Issue[]), {
    cause: result.error,
  });
  return { success: false, error };
}

/** The principal that made the call: the role behind an assumed-role session, else the identity ARN. */
export function principalArn(event: CloudTrailEvent): string {
  const identity = event.detail.userIdentity;
  if (!identity) return 'unknown';
  return identity.arn ?? identity.sessionContext?.sessionIssuer?.arn ?? identity.invokedBy ?? identity.principalId ?? 'unknown';
}

/** Every ARN a call can be attributed to: the session ARN and, for assumed roles, the role ARN. */
export function principalArns(event: CloudTrailEvent): string[] {
  const identity = event.detail.userIdentity;
  if (!identity) return [];
  const arns = [identity.arn, identity.sessionContext?.sessionIssuer?.arn].filter(
    (arn): arn is string => typeof arn === 'string' && arn.length > 0,
  );
  return [...new Set(arns)];
}

/** Reads a nested field without trusting the shape: every step is checked. */
export function field(value: unknown, ...path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** CloudTrail collections are `{items: [...]}`, and empty ones are `{}`. Returns the items that are objects. */
export function items(value: unknown): Record<string, unknown>[] {
  const list = field(value, 'items');
  if (!Array.isArray(list)) return [];
  return list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

export function stringField(value: unknown, ...path: readonly string[]): string | undefined {
  const found = field(value, ...path);
  return typeof found === 'string' ? found : undefined;
}
