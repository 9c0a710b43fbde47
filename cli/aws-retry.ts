/**
 * The history readers (`replay --from cloudtrail|athena|lake`) call read-only
 * APIs with tight rate limits. Their clients make one attempt each
 * (`maxAttempts: 1`), so every retry is here, where a test sees it: a
 * throttled call is retried with exponential backoff, anything else fails at
 * once with its reason.
 */
import { setTimeout as delay } from 'node:timers/promises';

export const defaultSleep = (ms: number): Promise<void> => delay(ms);

/** Error names AWS uses for "slow down" across the services read here. */
const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'Throttling', 'RequestLimitExceeded', 'MaxConcurrentQueriesException']);

export function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // Athena says "slow down" with a TooManyRequestsException, or with an InvalidRequestException whose AthenaErrorCode is THROTTLING.
  const code = (error as { AthenaErrorCode?: unknown }).AthenaErrorCode;
  return THROTTLING.has(error.name) || code === 'THROTTLING';
}

export interface RetryOptions {
  readonly sleep?: (ms: number) => Promise<void>;
  /** Attempts in all, the first included (default 6). */
  readonly attempts?: number;
  /** The first wait; each next one doubles it (default 1 s). */
  readonly firstWaitMs?: number;
}

/** `call`, retried while AWS throttles it; the last error is thrown once the attempts are spent. */
export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  const sleep = options.sleep ?? defaultSleep;
  const first = options.firstWaitMs ?? 1000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error) || attempt >= attempts) throw error;
      await sleep(first * 2 ** (attempt - 1));
    }
  }
}
