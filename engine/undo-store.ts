/**
 * The undo record: every plan the bot applied, with the steps that reverse it,
 * kept for `remediate undo <event-id>`. It lives in the idempotency table, in
 * an item of its own (`id` = `undo#<eventId>`), because:
 *
 * - the idempotency item is deleted when an invocation fails part-way (so that
 *   Lambda can retry), which is exactly when an undo matters most;
 * - its key is a hash scoped to one function, while a person has only the
 *   event id from the alert;
 * - it is kept much longer (90 days) than a duplicate can arrive (24 hours).
 *
 * Each applied plan appends one entry (`list_append`), so a retry that finishes
 * a half-applied plan adds its own steps without losing the first attempt's.
 */
import { createHash } from 'node:crypto';
import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import type { Decision, Service, UndoStep } from './types.js';
import { isWaitStep } from './types.js';
import type { ExecutionReport } from './executor.js';

export const UNDO_RETENTION_DAYS = 90;

const StepSchema = z.object({
  // Any service the executor knows; the CLI's command table refuses the others.
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
  family: z.string().check(z.minLength(1)),
  appliedAt: z.string(),
  account: z.string(),
  region: z.string(),
  outcome: z.enum(['applied', 'failed']),
  functionName: z.optional(z.string()),
  /** The steps that changed something, in the order they ran. */
  applied: z.array(StepSchema),
  /** What reverses them, in the order to run it: the last applied step first. */
  undo: z.array(StepSchema),
  /** Applied steps that nothing reverses. */
  irreversible: z.array(StepSchema),
});
export type UndoEntry = z.infer<typeof UndoEntrySchema>;

export interface UndoRecord {
  readonly eventId: string;
  /** Oldest first. */
  readonly entries: readonly UndoEntry[];
  /** When `remediate undo` last replayed the record. */
  readonly undoneAt?: string;
}

export interface UndoStore {
  record(eventId: string, entry: UndoEntry): Promise<void>;
  read(eventId: string): Promise<UndoRecord | undefined>;
  markUndone(eventId: string, at: Date): Promise<void>;
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
  const applied = execution.steps.filter((result) => result.status === 'applied' && !isWaitStep(result.step)).map((result) => result.step);
  if (applied.length === 0) return undefined;
  return {
    rule: decision.rule,
    family,
    appliedAt: appliedAt.toISOString(),
    account: decision.account,
    region: decision.region,
    outcome: execution.status === 'failed' ? 'failed' : 'applied',
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

/** The item key of an event's undo record; it cannot collide with Powertools keys (`<function name>#<hash>`). */
export function undoRecordKey(eventId: string): string {
  const plain = `undo#${eventId}`;
  if (Buffer.byteLength(plain, 'utf8') <= MAX_PLAIN_KEY_BYTES) return plain;
  return `undo#sha256:${createHash('sha256').update(eventId, 'utf8').digest('hex')}`;
}

export class UndoRecordError extends Error {
  override readonly name = 'UndoRecordError';
}

export interface DynamoDbUndoStoreOptions {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly retentionDays?: number;
}

export function dynamoDbUndoStore(options: DynamoDbUndoStoreOptions): UndoStore {
  const { tableName, client } = options;
  const retentionSeconds = (options.retentionDays ?? UNDO_RETENTION_DAYS) * 24 * 60 * 60;
  return {
    async record(eventId, entry) {
      const expiration = Math.floor(Date.parse(entry.appliedAt) / 1000) + retentionSeconds;
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { id: { S: undoRecordKey(eventId) } },
          // A new entry after an undo (a late retry) makes the record current again.
          UpdateExpression: 'SET #entries = list_append(if_not_exists(#entries, :none), :entry), #eventId = :eventId, #expiration = :expiration REMOVE #undoneAt',
          ExpressionAttributeNames: { '#entries': 'entries', '#eventId': 'eventId', '#expiration': 'expiration', '#undoneAt': 'undoneAt' },
          ExpressionAttributeValues: {
            ':none': { L: [] },
            ':entry': { L: [{ S: JSON.stringify(entry) }] },
            ':eventId': { S: eventId },
            ':expiration': { N: String(expiration) },
          },
        }),
      );
    },

    async read(eventId) {
      const { Item: item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: undoRecordKey(eventId) } }, ConsistentRead: true }));
      if (!item) return undefined;
      const entries = (item['entries']?.L ?? []).map((value, index) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(value.S ?? '');
        } catch {
          throw new UndoRecordError(`undo record of ${eventId}: entry ${index + 1} is not JSON`);
        }
        const result = UndoEntrySchema.safeParse(parsed);
        if (!result.success) throw new UndoRecordError(`undo record of ${eventId}: entry ${index + 1} is not a valid undo entry`);
        return result.data;
      });
      const undoneAt = item['undoneAt']?.S;
      return { eventId: item['eventId']?.S ?? eventId, entries, ...(undoneAt ? { undoneAt } : {}) };
    },

    async markUndone(eventId, at) {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { id: { S: undoRecordKey(eventId) } },
          UpdateExpression: 'SET #undoneAt = :at',
          ConditionExpression: 'attribute_exists(#id)',
          ExpressionAttributeNames: { '#undoneAt': 'undoneAt', '#id': 'id' },
          ExpressionAttributeValues: { ':at': { S: at.toISOString() } },
        }),
      );
    },
  };
}
