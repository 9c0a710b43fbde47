/**
 * The history: one item per decision the bot alerted on (every decision but
 * compliant ones and quiet skips), for `remediate history`: what the bot
 * decided and did, and what is still open, by time range, without a Scan.
 *
 * It lives in its own table (`HISTORY_TABLE`, `<service>-<stage>-history`),
 * because its access pattern is a time range, not a key:
 *
 * - partition key `pk` = `<family>#<YYYY-MM-DD>` (the UTC day of the event
 *   time), sort key `sk` = `<event time, ISO, ms>#<event id>#<rule>`. A
 *   range is read as one Query per family and day, newest first, with no Scan
 *   at any size. The family in the partition key lets each function's role
 *   write only its own family's items (`dynamodb:LeadingKeys` `<family>#*`),
 *   as with undo records; it also spreads a day over the families, which is
 *   more than enough: one alerting decision per event, well under a
 *   partition's 1,000 writes per second.
 * - the key comes from the event alone (its time, id and the rule), never from
 *   the clock: a redelivered or retried event overwrites the same item.
 * - `expiration` (TTL) is the event time plus the retention (default 90 days,
 *   like undo records), so a day's items expire together.
 *
 * A history write is best-effort and bounded (`timeoutMs`): the alert is the
 * authoritative channel and has already gone out (see `engine/lambda.ts`).
 */
import { createHash } from 'node:crypto';
import { PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { StoreFault } from './errors.js';
import { HISTORY_OUTCOMES, MODES, SEVERITIES, verdictSummary, type Decision, type HistoryOutcome } from './types.js';
import { UndoEntrySchema, type UndoEntry } from './undo-store.js';

export const HISTORY_RETENTION_DAYS = 90;


/** The table's key schema and TTL attribute, for the deployment and the tests (declared once, here). */
export const HISTORY_TABLE_SCHEMA = {
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ],
  ttlAttribute: 'expiration',
} as const;

const FAMILY = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const HistoryRecordSchema = z.object({
  /** The event time (CloudTrail `eventTime`), as `Date.toISOString` writes it. */
  time: z.string().check(z.regex(ISO_UTC, 'an ISO 8601 time in UTC')),
  /** When the function decided. */
  recordedAt: z.string().check(z.regex(ISO_UTC, 'an ISO 8601 time in UTC')),
  eventId: z.string().check(z.minLength(1)),
  eventName: z.string(),
  eventSource: z.string(),
  rule: z.string().check(z.minLength(1)),
  family: z.string().check(z.regex(FAMILY, 'a family name')),
  severity: z.enum(SEVERITIES),
  mode: z.enum(MODES),
  verdict: z.enum(['violation', 'compliant', 'exempt', 'skipped']),
  outcome: z.enum(HISTORY_OUTCOMES),
  account: z.string(),
  region: z.string(),
  principal: z.string(),
  sourceIp: z.optional(z.string()),
  resources: z.array(z.string()),
  /** Resources left out of `resources` to keep the item small. */
  resourcesOmitted: z.optional(z.number()),
  summary: z.string(),
  note: z.optional(z.string()),
  functionName: z.optional(z.string()),
  /** The steps that reverse what this attempt applied, in the order to run them (`remediate undo <eventId>` runs them). */
  undo: UndoEntrySchema.shape.undo,
  /** Undo steps left out for size: `remediate undo` still has them all. */
  undoOmitted: z.optional(z.number()),
  /** Who approved a proposal; absent until approvals exist. */
  approver: z.optional(z.string()),
});
export type HistoryRecord = z.infer<typeof HistoryRecordSchema>;

/** What the engine knows of one decision when it records it. */
export interface HistoryInput {
  readonly decision: Decision;
  readonly outcome: HistoryOutcome;
  readonly family: string;
  readonly recordedAt: Date;
  readonly note?: string;
  readonly undo?: UndoEntry;
  readonly functionName?: string;
}

const MAX_TEXT_CHARS = 1_000;
const MAX_RESOURCES = 20;
/** DynamoDB items hold 400 KB; undo steps (policy documents) are the only large part. */
const MAX_UNDO_JSON_BYTES = 200_000;

function capped(text: string): string {
  return text.length <= MAX_TEXT_CHARS ? text : `${text.slice(0, MAX_TEXT_CHARS - 1)}…`;
}

/** The event time as the key holds it; an unreadable one (never from CloudTrail) falls back to the decision time. */
function eventTime(decision: Decision, recordedAt: Date): string {
  const time = Date.parse(decision.eventTime);
  return Number.isNaN(time) || time < 0 || time >= Date.UTC(10_000, 0, 1) ? recordedAt.toISOString() : new Date(time).toISOString();
}

/** The history record of a decision that alerted. */
export function historyRecordFor(input: HistoryInput): HistoryRecord {
  const { decision } = input;
  const resources = decision.verdict.resources ?? [];
  const undoSteps = input.undo?.undo ?? [];
  const undoFits = Buffer.byteLength(JSON.stringify(undoSteps), 'utf8') <= MAX_UNDO_JSON_BYTES;
  return {
    time: eventTime(decision, input.recordedAt),
    recordedAt: input.recordedAt.toISOString(),
    eventId: decision.eventId,
    eventName: capped(decision.eventName),
    eventSource: capped(decision.eventSource),
    rule: decision.rule,
    family: input.family,
    severity: decision.severity,
    mode: decision.mode,
    verdict: decision.verdict.kind,
    outcome: input.outcome,
    account: capped(decision.account),
    region: capped(decision.region),
    principal: capped(decision.principal),
    ...(decision.sourceIp !== undefined ? { sourceIp: capped(decision.sourceIp) } : {}),
    resources: resources.slice(0, MAX_RESOURCES).map(capped),
    ...(resources.length > MAX_RESOURCES ? { resourcesOmitted: resources.length - MAX_RESOURCES } : {}),
    summary: capped(verdictSummary(decision.verdict)),
    ...(input.note !== undefined ? { note: capped(input.note) } : {}),
    ...(input.functionName !== undefined ? { functionName: input.functionName } : {}),
    undo: undoFits ? [...undoSteps] : [],
    ...(undoFits ? {} : { undoOmitted: undoSteps.length }),
  };
}

/** DynamoDB caps a sort key at 1,024 bytes; CloudTrail event ids are UUIDs, but the key must hold for any input. */
const MAX_PLAIN_EVENT_ID_BYTES = 512;

/** The UTC day of an ISO time: `2025-03-01`. */
function dayOf(time: string): string {
  return time.slice(0, 10);
}

export function historyPartitionKey(family: string, day: string): string {
  if (!FAMILY.test(family)) throw new HistoryRecordError(`"${family}" is not a family name`);
  return `${family}#${day}`;
}

/** `<time>#<event id>#<rule>`, the event id hashed when too long for a key. */
export function historySortKey(record: Pick<HistoryRecord, 'time' | 'eventId' | 'rule'>): string {
  const eventId = Buffer.byteLength(record.eventId, 'utf8') <= MAX_PLAIN_EVENT_ID_BYTES ? record.eventId : `sha256:${createHash('sha256').update(record.eventId, 'utf8').digest('hex')}`;
  return `${record.time}#${eventId}#${record.rule}`;
}

export class HistoryRecordError extends StoreFault {
  override readonly name = 'HistoryRecordError';
}

/** What `remediate history` reads: records, and items that do not parse (named by key, never dropped silently). */
export type HistoryRow = { readonly kind: 'record'; readonly record: HistoryRecord } | { readonly kind: 'invalid'; readonly key: string; readonly problem: string };

export interface HistoryQuery {
  /** Inclusive. */
  readonly since: Date;
  /** Exclusive. */
  readonly until: Date;
  /** The families whose partitions are read. */
  readonly families: readonly string[];
  readonly account?: string;
  readonly rule?: string;
  readonly outcomes?: readonly HistoryOutcome[];
}

export interface HistoryStore {
  /** Writes the record's item, replacing the one of an earlier delivery of the same event. */
  record(record: HistoryRecord): Promise<void>;
}

export interface HistoryReader {
  /** The matching records, newest first, read day by day: at most one page per family in memory. */
  query(query: HistoryQuery): AsyncIterable<HistoryRow>;
}

interface DynamoDbHistoryStoreOptions {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly retentionDays?: number;
  /** A write is abandoned after this long (default 2 s): it must not hold up the invocation. */
  readonly timeoutMs?: number;
  /** Items per Query page (default 100). */
  readonly pageSize?: number;
}

const TEXT_LIST_FIELDS: ReadonlySet<string> = new Set(['resources']);
const JSON_FIELDS: ReadonlySet<string> = new Set(['undo']);

function toItem(record: HistoryRecord, expiration: number): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    pk: { S: historyPartitionKey(record.family, dayOf(record.time)) },
    sk: { S: historySortKey(record) },
    expiration: { N: String(expiration) },
  };
  for (const [name, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (JSON_FIELDS.has(name)) item[name] = { S: JSON.stringify(value) };
    else if (Array.isArray(value)) item[name] = { L: value.map((text) => ({ S: String(text) })) };
    else if (typeof value === 'number') item[name] = { N: String(value) };
    else item[name] = { S: String(value) };
  }
  return item;
}

function fromItem(item: Record<string, AttributeValue>): HistoryRow {
  const key = `${item['pk']?.S ?? '?'} / ${item['sk']?.S ?? '?'}`;
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    if (name === 'pk' || name === 'sk' || name === 'expiration') continue;
    if (JSON_FIELDS.has(name)) {
      try {
        fields[name] = JSON.parse(value.S ?? '');
      } catch {
        return { kind: 'invalid', key, problem: `${name} is not JSON` };
      }
    } else if (TEXT_LIST_FIELDS.has(name)) fields[name] = (value.L ?? []).map((entry) => entry.S);
    else if (value.N !== undefined) fields[name] = Number(value.N);
    else fields[name] = value.S;
  }
  const parsed = HistoryRecordSchema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'invalid', key, problem: issue ? `${issue.path.join('.') || 'item'}: ${issue.message}` : 'not a history record' };
  }
  return { kind: 'record', record: parsed.data };
}

/** The UTC days from `until`'s back to `since`'s, newest first. */
function daysDescending(since: Date, until: Date): string[] {
  const DAY_MS = 86_400_000;
  const startOfDay = (time: number) => Math.floor(time / DAY_MS) * DAY_MS;
  const days: string[] = [];
  for (let day = startOfDay(until.getTime() - 1); day >= startOfDay(since.getTime()); day -= DAY_MS) days.push(new Date(day).toISOString().slice(0, 10));
  return days;
}

/** Whether a record is one the query asked for: the server-side filter is an optimisation, this is the answer. */
function matchesQuery(record: HistoryRecord, query: HistoryQuery): boolean {
  const time = Date.parse(record.time);
  return (
    time >= query.since.getTime() &&
    time < query.until.getTime() &&
    (query.account === undefined || record.account === query.account) &&
    (query.rule === undefined || record.rule === query.rule) &&
    (query.outcomes === undefined || query.outcomes.includes(record.outcome))
  );
}

export function dynamoDbHistoryStore(options: DynamoDbHistoryStoreOptions): HistoryStore & HistoryReader {
  const { tableName, client } = options;
  const retentionSeconds = (options.retentionDays ?? HISTORY_RETENTION_DAYS) * 24 * 60 * 60;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const pageSize = options.pageSize ?? 100;

  /** One family's partition for one day, newest first, page by page. */
  async function* partition(family: string, day: string, query: HistoryQuery): AsyncGenerator<Record<string, AttributeValue>> {
    const filters: string[] = [];
    const names: Record<string, string> = { '#pk': 'pk', '#sk': 'sk' };
    // The sort key starts with the ISO time: `since` is a lower bound as is; `until` is exclusive, and '$' sorts after '#'.
    const values: Record<string, AttributeValue> = {
      ':pk': { S: historyPartitionKey(family, day) },
      ':from': { S: query.since.toISOString() },
      ':to': { S: `${new Date(query.until.getTime() - 1).toISOString()}$` },
    };
    if (query.account !== undefined) {
      filters.push('#account = :account');
      names['#account'] = 'account';
      values[':account'] = { S: query.account };
    }
    if (query.rule !== undefined) {
      filters.push('#rule = :rule');
      names['#rule'] = 'rule';
      values[':rule'] = { S: query.rule };
    }
    if (query.outcomes !== undefined) {
      names['#outcome'] = 'outcome';
      query.outcomes.forEach((outcome, index) => (values[`:outcome${index}`] = { S: outcome }));
      filters.push(`#outcome IN (${query.outcomes.map((_, index) => `:outcome${index}`).join(', ')})`);
    }
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: pageSize,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      yield* page.Items ?? [];
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  }

  /** The families' partitions of one day merged by sort key, newest first. */
  async function* day(day: string, query: HistoryQuery): AsyncGenerator<Record<string, AttributeValue>> {
    const streams = query.families.map((family) => partition(family, day, query));
    const heads = await Promise.all(streams.map((stream) => stream.next()));
    for (;;) {
      let newest: { index: number; item: Record<string, AttributeValue>; sk: string } | undefined;
      for (const [index, head] of heads.entries()) {
        if (head.done) continue;
        const sk = head.value['sk']?.S ?? '';
        if (newest === undefined || sk > newest.sk) newest = { index, item: head.value, sk };
      }
      const stream = newest && streams[newest.index];
      if (!newest || !stream) return;
      yield newest.item;
      heads[newest.index] = await stream.next();
    }
  }

  return {
    async record(record) {
      const expiration = Math.floor(Date.parse(record.time) / 1000) + retentionSeconds;
      await client.send(new PutItemCommand({ TableName: tableName, Item: toItem(record, expiration) }), { abortSignal: AbortSignal.timeout(timeoutMs) });
    },

    async *query(query) {
      for (const date of daysDescending(query.since, query.until)) {
        for await (const item of day(date, query)) {
          const row = fromItem(item);
          if (row.kind === 'invalid' || matchesQuery(row.record, query)) yield row;
        }
      }
    },
  };
}
