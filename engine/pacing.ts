/**
 * The bot's manners under a burst. AWS throttles each API per account and
 * Region with token buckets (EC2 documents its buckets: "Request throttling
 * for the Amazon EC2 API"); the bot shares those buckets with every other
 * workload of the account. So every call a function makes goes through a
 * pacer that:
 *
 * - takes a token from the instance's own bucket for that API first: a
 *   `share` of AWS's bucket (capacity and refill rate), split evenly across the
 *   function's reserved concurrency, so all instances together never use more
 *   than `share` of any bucket, whatever the burst;
 * - retries a throttled or failed-on-AWS's-side call with capped exponential
 *   backoff and full jitter, and on a throttle empties its own bucket (AWS
 *   says the account is busy: the instance slows down);
 * - never waits past the invocation's deadline (less a margin for the alert
 *   and the records): when the next wait would not fit, the call fails with
 *   `OutOfTime`, and the engine stores where the plan stopped so that Lambda's
 *   retry resumes it (`lambda.ts`). Outside Lambda (the CLI) a call is tried a
 *   bounded number of times.
 *
 * The SDK's own retries are off in the deployed functions (`maxAttempts: 1`):
 * they know nothing of the deadline, and two retry loops would multiply.
 */
import { errorCode, type AwsGateway } from './aws.js';
import { StepFault } from './errors.js';
import { classifyFault } from './faults.js';
import type { Service } from './types.js';

/** Milliseconds since the epoch, and a way to let them pass. Tests and the load harness pass a simulated clock. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface BucketSpec {
  /** What the documentation calls it, for reports: `ec2:mutating`, `sns:Publish`, … */
  readonly name: string;
  /** Tokens the bucket holds at most: the largest burst. */
  readonly capacity: number;
  /** Tokens added per second, up to the capacity. */
  readonly refillPerSecond: number;
}

/**
 * A token bucket as EC2 documents it: it starts full, each request takes one
 * token, tokens come back at the refill rate, and it never holds more than
 * its capacity. Refill is continuous (a fraction of a token per millisecond),
 * which gives the documented rate over every whole second.
 */
export class TokenBucket {
  private level: number;
  private updatedAt: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly clock: Pick<Clock, 'now'>,
  ) {
    this.level = spec.capacity;
    this.updatedAt = clock.now();
  }

  /** Tokens in the bucket now. */
  tokens(): number {
    const now = this.clock.now();
    if (now > this.updatedAt) {
      this.level = Math.min(this.spec.capacity, this.level + ((now - this.updatedAt) / 1000) * this.spec.refillPerSecond);
      this.updatedAt = now;
    }
    return this.level;
  }

  /** Takes one token if there is one. */
  tryTake(): boolean {
    if (this.tokens() < 1) return false;
    this.level -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0: now). */
  msUntilToken(): number {
    const missing = 1 - this.tokens();
    return missing <= 0 ? 0 : Math.ceil((missing / this.spec.refillPerSecond) * 1000);
  }

  /** Empties the bucket: what a throttled caller does so that it slows down. */
  drain(): void {
    this.tokens();
    this.level = Math.min(this.level, 0);
  }
}

/**
 * AWS's request buckets, per account and Region. EC2 gives every API action
 * its own bucket, sized by the action's category ("Request throttling for the
 * Amazon EC2 API": non-mutating 100 tokens refilled at 20/s; the seven
 * big Describe actions called without a filter or pagination 50 at 10/s;
 * mutating and resource-intensive 50 at 5/s; and a table of uncategorized
 * actions, of which those below are the ones the bot's plans send). The
 * other services get their documented per-second quotas as a bucket holding
 * one second of requests (SNS Publish in us-east-1, STS); IAM documents no
 * rate, so it gets a cautious 10/s, as does any service not listed.
 */
const EC2_UNCATEGORIZED: Readonly<Record<string, readonly [capacity: number, refillPerSecond: number]>> = {
  AssociateIamInstanceProfile: [100, 5],
  CreateSnapshot: [100, 5],
  CreateTags: [100, 10],
  CreateVolume: [100, 5],
  DeleteTags: [100, 10],
  DisassociateIamInstanceProfile: [100, 5],
  ModifyImageAttribute: [100, 5],
  ModifyInstanceMetadataOptions: [100, 5],
  ModifySnapshotAttribute: [100, 5],
};
/** Describe actions that draw from the small bucket when called with neither `Filters` nor pagination. */
const EC2_UNFILTERED_SMALL = new Set(['DescribeInstances', 'DescribeInstanceStatus', 'DescribeNetworkInterfaces', 'DescribeSecurityGroups', 'DescribeSnapshots', 'DescribeSpotInstanceRequests', 'DescribeVolumes']);

/** Keyed by the service's endpoint prefix: requests per second (STS too: the Organization hub will assume roles). */
const PER_SECOND_LIMITS: Readonly<Record<string, number>> = { sns: 30_000, sts: 600, iam: 10 };
const DEFAULT_PER_SECOND = 10;

const NON_MUTATING = /^(Describe|Get|List|Search|Lookup|Head|Check)[A-Z]/;

export function isNonMutating(operation: string): boolean {
  return NON_MUTATING.test(operation);
}

function ec2Bucket(operation: string, input: Readonly<Record<string, unknown>>): readonly [capacity: number, refillPerSecond: number] {
  const listed = EC2_UNCATEGORIZED[operation];
  if (listed) return listed;
  if (!isNonMutating(operation)) return [50, 5];
  const unfiltered = input['Filters'] === undefined && input['MaxResults'] === undefined && input['NextToken'] === undefined;
  return EC2_UNFILTERED_SMALL.has(operation) && unfiltered ? [50, 10] : [100, 20];
}

/** The bucket AWS draws a call from: one per API action (EC2's size depends on the call's category, and for some Describe actions on its input). */
export function apiBucket(service: Service | 'sts', operation: string, input: Readonly<Record<string, unknown>> = {}): BucketSpec {
  const name = `${service}:${operation}`;
  if (service === 'ec2') {
    const [capacity, refillPerSecond] = ec2Bucket(operation, input);
    return { name, capacity, refillPerSecond };
  }
  const perSecond = PER_SECOND_LIMITS[service] ?? DEFAULT_PER_SECOND;
  return { name, capacity: perSecond, refillPerSecond: perSecond };
}

/** The part of AWS's bucket one instance may use: `share` of it, split across `instances`. */
export function shareOf(spec: BucketSpec, share: number, instances: number): BucketSpec {
  const part = share / Math.max(1, instances);
  return { name: spec.name, capacity: Math.max(1, spec.capacity * part), refillPerSecond: spec.refillPerSecond * part };
}

/** A call could not be made, or retried, before the invocation's deadline: Lambda's retry resumes the work. */
export class OutOfTimeError extends StepFault {
  override readonly name = 'OutOfTime';
}

export function isOutOfTime(error: unknown): boolean {
  return errorCode(error) === 'OutOfTime';
}

export interface PacingOptions {
  /** The share (0 to 1] of each AWS bucket that all instances of the function together may use. */
  readonly share: number;
  /** How many instances may run at once (the function's reserved concurrency). */
  readonly instances: number;
  readonly clock?: Clock;
  /** Uniform in [0, 1): the jitter. */
  readonly random?: () => number;
  /** Kept back at the end of an invocation for the alert and the records (default 10 s). */
  readonly marginMs?: number;
  /** Without a deadline: tries per call (default 5). */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface PacingStats {
  calls: number;
  throttled: number;
  retries: number;
  outOfTime: number;
  /** Milliseconds spent waiting for the instance's own tokens. */
  waitedMs: number;
}

export interface Pacer {
  /** The gateway whose every call is paced and retried; `scope` (another account and Region) has buckets of its own. */
  wrap(gateway: AwsGateway, scope?: string): AwsGateway;
  /** Starts an invocation: its deadline is `remainingTimeMs()` from now (none: the CLI). */
  begin(remainingTimeMs?: () => number): void;
  readonly stats: Readonly<PacingStats>;
}

const DEFAULT_MARGIN_MS = 10_000;

function isRetryable(error: unknown): boolean {
  const kind = classifyFault(error);
  return kind === 'throttled' || kind === 'server';
}

export function createPacer(options: PacingOptions): Pacer {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const marginMs = options.marginMs ?? DEFAULT_MARGIN_MS;
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const buckets = new Map<string, TokenBucket>();
  const stats: PacingStats = { calls: 0, throttled: 0, retries: 0, outOfTime: 0, waitedMs: 0 };
  let deadline: number | undefined;

  const bucketFor = (scope: string, service: Service, operation: string, input: Readonly<Record<string, unknown>>): TokenBucket => {
    const spec = apiBucket(service, operation, input);
    // EC2's unfiltered Describe calls draw from a smaller bucket of the same action: kept apart by size.
    const key = `${scope}/${spec.name}/${spec.capacity}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(shareOf(spec, options.share, options.instances), clock);
      buckets.set(key, bucket);
    }
    return bucket;
  };

  /** Waits `ms` if that still leaves the margin before the deadline; otherwise fails with `OutOfTime`. */
  const waitWithin = async (ms: number, what: string, cause?: unknown): Promise<void> => {
    if (deadline !== undefined && clock.now() + ms > deadline - marginMs) {
      stats.outOfTime += 1;
      throw new OutOfTimeError(`${what}: waiting ${ms} ms more would pass this invocation's deadline; Lambda's retry resumes from here`, cause === undefined ? {} : { cause });
    }
    if (ms > 0) await clock.sleep(ms);
  };

  const paced = async <T>(scope: string, service: Service, operation: string, input: Readonly<Record<string, unknown>>, send: () => Promise<T>): Promise<T> => {
    const bucket = bucketFor(scope, service, operation, input);
    for (let attempt = 1; ; attempt += 1) {
      for (let wait = bucket.msUntilToken(); wait > 0; wait = bucket.msUntilToken()) {
        stats.waitedMs += wait;
        await waitWithin(wait, `${service}:${operation} waits for its share of ${bucket.spec.name}`);
      }
      bucket.tryTake();
      stats.calls += 1;
      try {
        return await send();
      } catch (error) {
        if (!isRetryable(error)) throw error;
        if (classifyFault(error) === 'throttled') {
          stats.throttled += 1;
          bucket.drain();
        }
        if (deadline === undefined && attempt >= maxAttempts) throw error;
        stats.retries += 1;
        const delay = Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
        await waitWithin(delay, `${service}:${operation} was answered ${errorCode(error)}`, error);
      }
    }
  };

  return {
    stats,
    begin(remainingTimeMs) {
      deadline = remainingTimeMs ? clock.now() + remainingTimeMs() : undefined;
    },
    wrap(gateway, scope = '') {
      return {
        call: (service, operation, input) => paced(scope, service, operation, input, () => gateway.call(service, operation, input)),
        ...(gateway.wait ? { wait: gateway.wait.bind(gateway) } : {}),
      };
    },
  };
}
