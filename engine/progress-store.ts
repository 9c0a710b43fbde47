/**
 * Where an event's work stopped when its invocation ran out of time
 * (`OutOfTime`, see `pacing.ts`), so that Lambda's retry (or a redrive) goes
 * on from there instead of starting again:
 *
 * - the decisions that finished (acted on and alerted) are not done again:
 *   their results are kept and returned;
 * - a plan that stopped part-way resumes at its next step with the outputs
 *   of the steps before it, and the retry's report shows those steps as the
 *   first attempt found them. What was applied is already in the undo record.
 *
 * One item per family and event in the idempotency table (`id` =
 * `progress#<family>#<eventId>`: each function's role may write only its own
 * family's), removed once the event is done, and by TTL after 14 days (the
 * failure queue's retention: a redrive can still resume). The record is sealed
 * with the bot's MAC when the deployment has one, and a resumed plan must be
 * the very plan the rule decides again: a record written by anyone else
 * cannot skip a step or plant one.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { StoreFault } from './errors.js';
import type { ResumePoint } from './executor.js';
import { OUTCOMES } from './types.js';

const PROGRESS_RETENTION_DAYS = 14;


const FinishedSchema = z.object({
  rule: z.string(),
  verdict: z.enum(['violation', 'compliant', 'skipped', 'exempt']),
  outcome: z.enum(OUTCOMES),
  summary: z.string(),
  execution: z.optional(z.enum(['applied', 'unverified', 'already-fixed', 'stale', 'failed'])),
});

/** The executor's resume point, tied to its plan by `planHash`; the steps in it are the executor's own reports. */
function isResumePoint(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const point = value as { fromIndex?: unknown; outputs?: unknown; planHash?: unknown; steps?: unknown };
  return Number.isInteger(point.fromIndex) && typeof point.outputs === 'object' && point.outputs !== null && typeof point.planHash === 'string' && (point.steps === undefined || Array.isArray(point.steps));
}

const ProgressSchema = z.object({
  eventId: z.string(),
  family: z.string(),
  /** Results of the decisions that finished, in decision order. */
  finished: z.array(FinishedSchema),
  /** Rules whose plan stopped, with where it resumes (absent: nothing of it was sent yet). */
  interrupted: z.array(z.object({ rule: z.string(), resume: z.optional(z.custom<ResumePoint & { readonly planHash: string }>(isResumePoint)) })),
  /** How many invocations stopped on this event so far. */
  attempts: z.number().check(z.int(), z.minimum(1)),
  savedAt: z.string(),
});
export type EventProgress = z.infer<typeof ProgressSchema>;

export interface ProgressStore {
  read(family: string, eventId: string): Promise<{ readonly progress: EventProgress; readonly text: string; readonly seal?: string } | undefined>;
  save(progress: EventProgress, text: string, seal: string | undefined, now: Date): Promise<void>;
  clear(family: string, eventId: string): Promise<void>;
}

class ProgressStoreError extends StoreFault {
  override readonly name = 'ProgressStoreError';
}

/** What the seal covers: the record's exact JSON, under a tag no alert body or proposal starts with. */
export function progressSealText(text: string): string {
  return `remediation-bot progress v1\n${text}`;
}

function keyOf(family: string, eventId: string): string {
  return `progress#${family}#${eventId}`;
}

export function dynamoDbProgressStore(options: { readonly tableName: string; readonly client: DynamoDBClient }): ProgressStore {
  const { tableName, client } = options;
  return {
    async read(family, eventId) {
      const answer = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: keyOf(family, eventId) } }, ConsistentRead: true }));
      const text = answer.Item?.['progress']?.S;
      if (text === undefined) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ProgressStoreError(`the progress record of ${eventId} is not JSON`);
      }
      const result = ProgressSchema.safeParse(parsed);
      if (!result.success || result.data.family !== family || result.data.eventId !== eventId) throw new ProgressStoreError(`the progress record of ${eventId} is not one this function wrote`);
      const seal = answer.Item?.['seal']?.S;
      return { progress: result.data, text, ...(seal !== undefined ? { seal } : {}) };
    },
    async save(progress, text, seal, now) {
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            id: { S: keyOf(progress.family, progress.eventId) },
            progress: { S: text },
            ...(seal !== undefined ? { seal: { S: seal } } : {}),
            expiration: { N: String(Math.floor(now.getTime() / 1000) + PROGRESS_RETENTION_DAYS * 86_400) },
          },
        }),
      );
    },
    async clear(family, eventId) {
      await client.send(new DeleteItemCommand({ TableName: tableName, Key: { id: { S: keyOf(family, eventId) } } }));
    },
  };
}
