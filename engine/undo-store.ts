/**
 * The undo record: every plan the bot applied, with the steps that reverse it,
 * kept for `remediate undo <event-id>`. It lives in the idempotency table, one
 * item per family and event (`id` = `undo#<family>#<eventId>`), because:
 *
 * - the idempotency item is deleted when an invocation fails part-way (so that
 *   Lambda can retry), which is exactly when an undo matters most;
 * - its key is a hash scoped to one function, while a person has only the
 *   event id from the alert;
 * - it is kept much longer (90 days) than a duplicate can arrive (24 hours);
 * - the family in the key lets each function's role write only its own
 *   records (`dynamodb:LeadingKeys` `undo#<family>#*`), so one family's
 *   function cannot plant steps in another's.
 *
 * Each applied plan appends one entry (`list_append`), so a retry that finishes
 * a half-applied plan adds its own steps without losing the first attempt's.
 * `remediate undo` reads the records of every family for the event, and writes
 * back who undid what (`undoneBy`, `undoneAt`, `undoneSteps`, and `undoLog`,
 * one line per run).
 */
import { StoreFault } from './errors.js';
import { createHash } from 'node:crypto';
import { GetItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import type { Decision, Service, UndoStep } from './types.js';
import { isWaitStep } from './types.js';
import type { ExecutionReport } from './executor.js';

const UNDO_RETENTION_DAYS = 90;

/** A family name as a record key holds it: kebab-case, so `#` can never shift the key's fields. */
const FAMILY = /^[a-z0-9]+(-[a-z0-9]+)*$/;

const StepSchema = z.object({
  // Any service the executor knows; the inverse table decides which may run.
  service: z.pipe(
    z.string().check(z.regex(/^[a-z0-9-]{2,32}$/, 'an AWS service name')),
    z.transform((service) => service as Service),
  ),
  operation: z.string().check(z.regex(/^[A-Z][A-Za-z0-9]{1,127}$/, 'an AWS API name')),
  input: z.record(z.string(), z.unknown()),
  reason: z.string(),
});

export const UndoEntrySchema = z.object({
  rule: z.string().check(z.minLength(1)),
  family: z.string().check(z.regex(FAMILY, 'a family name')),
  appliedAt: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, 'an ISO 8601 time in UTC')),
  account: z.string().check(z.regex(/^\d{12}$/, 'an AWS account id')),
  region: z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'an AWS Region')),
  /** `interrupted`: the invocation ran out of time part-way; a later entry holds what its retry applied. */
  outcome: z.enum(['applied', 'failed', 'interrupted']),
  functionName: z.optional(z.string()),
  /** The steps that changed something, in the order they ran. */
  applied: z.array(StepSchema),
  /** What reverses them, in the order to run it: the last applied step first. */
  undo: z.array(StepSchema),
  /** Applied steps that nothing reverses. */
  irreversible: z.array(StepSchema),
  /** Who approved the proposal whose plan this is, when a person did (`remediate approve`). */
  approvedBy: z.optional(z.string()),
});
export type UndoEntry = z.infer<typeof UndoEntrySchema>;

/** One family's undo record of one event. */
export interface UndoRecord {
  readonly eventId: string;
  readonly family: string;
  /** Oldest first. */
  readonly entries: readonly UndoEntry[];
  /** When `remediate undo` last replayed the whole record. */
  readonly undoneAt?: string;
  /** Who did: the caller's ARN as STS GetCallerIdentity named it. */
  readonly undoneBy?: string;
}

/** One run of `remediate undo` over a record: who, when, and the undo steps that ran. */
export interface Undoing {
  readonly by: string;
  readonly at: Date;
  readonly steps: readonly UndoStep[];
  /** Every entry of the record was replayed (not only one rule's, and none failed): the record is undone. */
  readonly complete: boolean;
}

export interface UndoStore {
  /** Appends `entry` to the record of `entry.family` for the event. */
  record(eventId: string, entry: UndoEntry): Promise<void>;
  /** The records of these families for the event, in the order given; families without one are left out. */
  read(eventId: string, families: readonly string[]): Promise<readonly UndoRecord[]>;
  /** Logs a run of `remediate undo` in the record; a complete one sets `undoneBy`, `undoneAt` and `undoneSteps`. */
  markUndone(eventId: string, family: string, undoing: Undoing): Promise<void>;
}

function plainStep(step: UndoStep): UndoEntry['applied'][number] {
  return { service: step.service, operation: step.operation, input: { ...step.input }, reason: step.reason };
}

/**
 * The undo entry for an executed plan: `undefined` when no step changed
 * anything (all already done, or the first step failed). Undo steps are those
 * of the applied steps, last first: the same list the alert shows.
 */
export function undoEntryFor(decision: Decision, execution: ExecutionReport, family: string, appliedAt: Date, functionName?: string): UndoEntry | undefined {
  // A resumed plan's earlier steps are in the entry of the invocation that applied them.
  const applied = execution.steps.filter((result) => result.status === 'applied' && !result.resumed && !isWaitStep(result.step)).map((result) => result.step);
  if (applied.length === 0) return undefined;
  return {
    rule: decision.rule,
    family,
    appliedAt: appliedAt.toISOString(),
    account: decision.account,
    region: decision.region,
    outcome: execution.interrupted ? 'interrupted' : execution.status === 'failed' ? 'failed' : 'applied',
    ...(functionName ? { functionName } : {}),
    applied: applied.map(plainStep),
    undo: applied
      .map((step) => step.undo)
      .filter((undo): undo is UndoStep => undo !== undefined)
      .reverse()
      .map(plainStep),
    irreversible: applied.filter((step) => step.undo === undefined).map(plainStep),
  };
}

/** DynamoDB caps a partition key at 2,048 bytes; CloudTrail event ids are UUIDs, but the key must hold for any input. */
const MAX_PLAIN_KEY_BYTES = 1_024;

/**
 * The item key of a family's undo record of an event: `undo#<family>#<eventId>`,
 * or `undo#<family>#sha256:<hex>` for an event id too long for a key. It
 * cannot collide with Powertools keys (`<function name>#<hash>`), and
 * `undo#<family>#*` is exactly the family's records.
 */
export function undoRecordKey(family: string, eventId: string): string {
  if (!FAMILY.test(family)) throw new UndoRecordError(`"${family}" is not a family name`);
  const plain = `undo#${family}#${eventId}`;
  if (Buffer.byteLength(plain, 'utf8') <= MAX_PLAIN_KEY_BYTES) return plain;
  return `undo#${family}#sha256:${createHash('sha256').update(eventId, 'utf8').digest('hex')}`;
}

export class UndoRecordError extends StoreFault {
  override readonly name = 'UndoRecordError';
}

interface DynamoDbUndoStoreOptions {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly retentionDays?: number;
}

function parseEntries(eventId: string, family: string, values: readonly AttributeValue[]): UndoEntry[] {
  return values.map((value, index) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value.S ?? '');
    } catch {
      throw new UndoRecordError(`undo record of ${eventId} (family ${family}): entry ${index + 1} is not JSON`);
    }
    const result = UndoEntrySchema.safeParse(parsed);
    if (!result.success) throw new UndoRecordError(`undo record of ${eventId} (family ${family}): entry ${index + 1} is not a valid undo entry`);
    return result.data;
  });
}

export function dynamoDbUndoStore(options: DynamoDbUndoStoreOptions): UndoStore {
  const { tableName, client } = options;
  const retentionSeconds = (options.retentionDays ?? UNDO_RETENTION_DAYS) * 24 * 60 * 60;
  const readOne = async (eventId: string, family: string): Promise<UndoRecord | undefined> => {
    const { Item: item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: undoRecordKey(family, eventId) } }, ConsistentRead: true }));
    if (!item) return undefined;
    const entries = parseEntries(eventId, family, item['entries']?.L ?? []);
    const undoneAt = item['undoneAt']?.S;
    const undoneBy = item['undoneBy']?.S;
    return { eventId, family, entries, ...(undoneAt ? { undoneAt } : {}), ...(undoneBy ? { undoneBy } : {}) };
  };
  return {
    async record(eventId, entry) {
      const expiration = Math.floor(Date.parse(entry.appliedAt) / 1000) + retentionSeconds;
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { id: { S: undoRecordKey(entry.family, eventId) } },
          // A new entry after an undo (a late retry) makes the record current again; the undo log stays.
          UpdateExpression:
            'SET #entries = list_append(if_not_exists(#entries, :none), :entry), #eventId = :eventId, #family = :family, #expiration = :expiration REMOVE #undoneAt, #undoneBy, #undoneSteps',
          ExpressionAttributeNames: {
            '#entries': 'entries',
            '#eventId': 'eventId',
            '#family': 'family',
            '#expiration': 'expiration',
            '#undoneAt': 'undoneAt',
            '#undoneBy': 'undoneBy',
            '#undoneSteps': 'undoneSteps',
          },
          ExpressionAttributeValues: {
            ':none': { L: [] },
            ':entry': { L: [{ S: JSON.stringify(entry) }] },
            ':eventId': { S: eventId },
            ':family': { S: entry.family },
            ':expiration': { N: String(expiration) },
          },
        }),
      );
    },

    async read(eventId, families) {
      const records = await Promise.all(families.map((family) => readOne(eventId, family)));
      return records.filter((record): record is UndoRecord => record !== undefined);
    },

    async markUndone(eventId, family, undoing) {
      const at = undoing.at.toISOString();
      const steps = undoing.steps.map((step) => ({ service: step.service, operation: step.operation, input: step.input, reason: step.reason }));
      const log = { S: JSON.stringify({ by: undoing.by, at, complete: undoing.complete, steps }) };
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { id: { S: undoRecordKey(family, eventId) } },
          UpdateExpression: undoing.complete
            ? 'SET #undoLog = list_append(if_not_exists(#undoLog, :none), :log), #undoneAt = :at, #undoneBy = :by, #undoneSteps = :steps'
            : 'SET #undoLog = list_append(if_not_exists(#undoLog, :none), :log)',
          ConditionExpression: 'attribute_exists(#id)',
          ExpressionAttributeNames: {
            '#id': 'id',
            '#undoLog': 'undoLog',
            ...(undoing.complete ? { '#undoneAt': 'undoneAt', '#undoneBy': 'undoneBy', '#undoneSteps': 'undoneSteps' } : {}),
          },
          ExpressionAttributeValues: {
            ':none': { L: [] },
            ':log': { L: [log] },
            ...(undoing.complete ? { ':at': { S: at }, ':by': { S: undoing.by }, ':steps': { L: steps.map((step) => ({ S: JSON.stringify(step) })) } } : {}),
          },
        }),
      );
    },
  };
}
