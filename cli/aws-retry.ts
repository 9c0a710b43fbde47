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

/** How a history query (Athena, CloudTrail Lake) is waited for. */
export interface QueryWait {
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long to wait for the query, in milliseconds (default: the engine's own limit on a query's run time). */
  readonly timeoutMs?: number;
  readonly onState?: (state: string) => void;
}

/** What one look at a running query found: its state, and whether it finished well or failed (with the engine's reason). */
export interface QueryState {
  readonly state: string;
  readonly finished: boolean;
  readonly failure?: string;
}

const POLL_MS = [500, 1000, 2000, 4000, 5000];

/** Looks at the query `name` until it finishes, waiting longer between looks; throws its failure, or when `timeoutMs` has passed. */
export async function waitForQuery(name: string, look: () => Promise<QueryState>, wait: QueryWait, defaultTimeoutMs: number): Promise<void> {
  const sleep = wait.sleep ?? defaultSleep;
  let waited = 0;
  for (let poll = 0; ; poll += 1) {
    const { state, finished, failure } = await look();
    wait.onState?.(state);
    if (finished) return;
    if (failure !== undefined) throw new Error(`${name} ${state}: ${failure}`);
    const next = POLL_MS[Math.min(poll, POLL_MS.length - 1)] ?? 5000;
    if (waited + next > (wait.timeoutMs ?? defaultTimeoutMs)) throw new Error(`${name} did not finish in time (still ${state})`);
    waited += next;
    await sleep(next);
  }
}
