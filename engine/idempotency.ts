/**
 * At-least-once safety: EventBridge may deliver the same CloudTrail event more
 * than once, and Lambda retries a failed invocation. Powertools Idempotency,
 * with a DynamoDB table, makes the work for one CloudTrail `eventID` run once
 * per function; every later delivery gets the stored result of the first, with
 * no AWS write and no second alert.
 *
 * Only the event id is hashed (the key is `<function name>#<md5 of the id>`), by
 * making an inner function of that one argument idempotent: no JMESPath
 * expression is evaluated.
 *
 * - A delivery that arrives while the first is still running gets
 *   `IdempotencyAlreadyInProgressError`, which the handler rethrows: Lambda
 *   retries it later and then receives the stored result. The in-progress lock
 *   expires with the first invocation's remaining time, so a crashed first
 *   attempt never blocks the retries.
 * - When the work throws (a fault after the alert, see `lambda.ts`), Powertools
 *   deletes the record, so Lambda's retry runs the plan again; plans are
 *   idempotent (`alreadyDoneCodes`), and the retry reports what is left to do.
 * - A store that cannot be reached fails the invocation (Lambda retries): the
 *   bot never acts without the lock.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';

/** The part of the Lambda context idempotency uses: the lock expires with the invocation. */
export interface RemainingTime {
  getRemainingTimeInMillis?(): number;
}

export interface Delivery<T> {
  readonly result: T;
  /** False when the result is the stored one of an earlier delivery and nothing ran now. */
  readonly firstDelivery: boolean;
}

/** Runs the work for an event id at most once; later deliveries get the first result. */
export interface EventIdempotency {
  run<T>(eventId: string, context: RemainingTime, work: () => Promise<T>): Promise<Delivery<T>>;
}

/** How long a processed event id is remembered: well past EventBridge's retry window (1 h here) and Lambda's async retries (6 h at most). */
const IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60;

interface DynamoDbIdempotencyOptions {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  /** Separates the functions that share the table: by default the Lambda function name. */
  readonly keyPrefix: string;
  readonly expiresAfterSeconds?: number;
}

/** The name Powertools gives a concurrent duplicate's error. */
export const ALREADY_IN_PROGRESS = 'IdempotencyAlreadyInProgressError';

export function isAlreadyInProgress(error: unknown): boolean {
  return error instanceof Error && error.name === ALREADY_IN_PROGRESS;
}

/**
 * Idempotency backed by the DynamoDB table that the deployment creates
 * (partition key `id`, TTL attribute `expiration`).
 */
export function dynamoDbIdempotency(options: DynamoDbIdempotencyOptions): EventIdempotency {
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: options.tableName, awsSdkV3Client: options.client });
  const config = new IdempotencyConfig({ expiresAfterSeconds: options.expiresAfterSeconds ?? IDEMPOTENCY_EXPIRY_SECONDS });
  return {
    async run<T>(eventId: string, context: RemainingTime, work: () => Promise<T>): Promise<Delivery<T>> {
      if (typeof context.getRemainingTimeInMillis === 'function') config.registerLambdaContext(context as Context);
      let ran = false;
      const once = makeIdempotent(
        async (_eventId: string): Promise<T> => {
          ran = true;
          return work();
        },
        { persistenceStore, config, keyPrefix: options.keyPrefix },
      );
      const result = (await once(eventId)) as T;
      return { result, firstDelivery: ran };
    },
  };
}
