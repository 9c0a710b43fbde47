/**
 * The token bucket (the load harness's stand-in answers with it, and the bot
 * paces itself with it), the documented bucket table, and the pacer: its
 * share of each bucket, its retries within the invocation's deadline, and
 * `OutOfTime` when the next wait would pass the deadline.
 */
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { AwsGateway } from '../engine/aws.js';
import { apiBucket, createPacer, isOutOfTime, shareOf, TokenBucket, type Clock } from '../engine/pacing.js';

/** A clock that moves only when something sleeps, and records each sleep. */
function fakeClock(start = 0): Clock & { t: number; slept: number[] } {
  const clock = {
    t: start,
    slept: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

function throttle(): EC2ServiceException {
  return new EC2ServiceException({ name: 'RequestLimitExceeded', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Request limit exceeded.' });
}

function notFound(): EC2ServiceException {
  return new EC2ServiceException({ name: 'InvalidGroup.NotFound', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'no such group' });
}

/** A gateway that answers from a script: each entry an error to throw or a value to return. */
function scripted(answers: unknown[]): AwsGateway & { calls: number } {
  const gateway = {
    calls: 0,
    async call() {
      const answer = answers[gateway.calls];
      gateway.calls += 1;
      if (answer instanceof Error) throw answer;
      return answer ?? {};
    },
  };
  return gateway;
}

describe('TokenBucket, as EC2 documents it', () => {
  it('starts full, gives its capacity at once, then throttles', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ name: 'ec2:RevokeSecurityGroupIngress', capacity: 50, refillPerSecond: 5 }, clock);
    for (let i = 0; i < 50; i += 1) expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('refills at its rate: 5 more requests after one second, not 6', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ name: 'b', capacity: 50, refillPerSecond: 5 }, clock);
    while (bucket.tryTake());
    clock.t += 1000;
    let taken = 0;
    while (bucket.tryTake()) taken += 1;
    expect(taken).toBe(5);
    expect(bucket.msUntilToken()).toBe(200);
  });

  it('never holds more than its capacity, however long it rests', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ name: 'b', capacity: 100, refillPerSecond: 20 }, clock);
    while (bucket.tryTake());
    // The documentation's example: empty, it is full again after 5 seconds, and stays full.
    clock.t += 5000;
    expect(bucket.tokens()).toBe(100);
    clock.t += 3_600_000;
    expect(bucket.tokens()).toBe(100);
    expect(bucket.msUntilToken()).toBe(0);
  });

  it('drain empties it, so a throttled caller waits a whole refill', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ name: 'b', capacity: 10, refillPerSecond: 2 }, clock);
    bucket.drain();
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.msUntilToken()).toBe(500);
  });
});

describe('apiBucket: the documented buckets of the calls the bot makes', () => {
  it.each([
    ['ec2', 'RevokeSecurityGroupIngress', {}, 50, 5],
    ['ec2', 'ModifyInstanceMetadataOptions', {}, 100, 5],
    ['ec2', 'ModifySnapshotAttribute', {}, 100, 5],
    ['ec2', 'CreateTags', {}, 100, 10],
    ['ec2', 'DeleteNetworkAclEntry', {}, 50, 5],
    ['ec2', 'DescribeSecurityGroupRules', {}, 100, 20],
    ['ec2', 'DescribeSecurityGroups', { GroupIds: ['sg-1'] }, 50, 10],
    ['ec2', 'DescribeSecurityGroups', { Filters: [{ Name: 'group-id', Values: ['sg-1'] }] }, 100, 20],
    ['ec2', 'DescribeInstances', { MaxResults: 5 }, 100, 20],
    ['sns', 'Publish', {}, 30_000, 30_000],
    ['sts', 'AssumeRole', {}, 600, 600],
    ['iam', 'DeleteAccessKey', {}, 10, 10],
  ] as const)('%s:%s %o is %i tokens, %i per second', (service, operation, input, capacity, refill) => {
    expect(apiBucket(service, operation, input)).toStrictEqual({ name: `${service}:${operation}`, capacity, refillPerSecond: refill });
  });

  it('splits a share of a bucket evenly across the instances', () => {
    expect(shareOf({ name: 'b', capacity: 50, refillPerSecond: 5 }, 0.5, 5)).toStrictEqual({ name: 'b', capacity: 5, refillPerSecond: 0.5 });
  });
});

describe('createPacer', () => {
  it('keeps each instance to its share: the burst it may send at once, then one call per refill', async () => {
    const clock = fakeClock();
    const pacer = createPacer({ share: 0.5, instances: 5, clock, random: () => 0 });
    const gateway = pacer.wrap(scripted([]));
    pacer.begin();
    for (let i = 0; i < 7; i += 1) await gateway.call('ec2', 'RevokeSecurityGroupIngress', {});
    // 50 × 0.5 / 5 = 5 at once; then 0.5 per second: a call every 2 s.
    expect(clock.slept).toStrictEqual([2000, 2000]);
    expect(pacer.stats.calls).toBe(7);
  });

  it('retries a throttled call with backoff and empties its own bucket, within the deadline', async () => {
    const clock = fakeClock();
    const pacer = createPacer({ share: 1, instances: 1, clock, random: () => 0.5 });
    const inner = scripted([throttle(), throttle(), { ok: true }]);
    pacer.begin(() => 120_000);
    await expect(pacer.wrap(inner).call('ec2', 'RevokeSecurityGroupIngress', {})).resolves.toStrictEqual({ ok: true });
    expect(inner.calls).toBe(3);
    expect(pacer.stats).toMatchObject({ throttled: 2, retries: 2, outOfTime: 0 });
    // Backoff: half (the jitter) of 200 ms; the bucket was emptied by the throttle, and at 5/s holds half a token
    // by then: 100 ms more. Then half of 400 ms, after which a token is there.
    expect(clock.slept).toStrictEqual([100, 100, 200]);
  });

  it('fails with OutOfTime, without sending, when the next wait would pass the deadline less the margin', async () => {
    const clock = fakeClock();
    const pacer = createPacer({ share: 1, instances: 1, clock, random: () => 0.99, marginMs: 10_000 });
    const inner = scripted(Array.from({ length: 50 }, throttle));
    pacer.begin(() => 12_000);
    const failure = await pacer.wrap(inner).call('ec2', 'RevokeSecurityGroupIngress', {}).catch((error: unknown) => error);
    expect(isOutOfTime(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/^ec2:RevokeSecurityGroupIngress was answered RequestLimitExceeded: waiting \d+ ms more would pass this invocation's deadline/);
    expect((failure as Error).cause).toBeInstanceOf(EC2ServiceException);
    // Every wait it did take fitted in the 2 s before the margin.
    expect(clock.t).toBeLessThanOrEqual(2_000);
    expect(pacer.stats.outOfTime).toBe(1);
  });

  it('without a deadline (the CLI) gives up after maxAttempts with the AWS error itself', async () => {
    const clock = fakeClock();
    const pacer = createPacer({ share: 1, instances: 1, clock, random: () => 0, maxAttempts: 3 });
    const inner = scripted(Array.from({ length: 10 }, throttle));
    pacer.begin();
    await expect(pacer.wrap(inner).call('ec2', 'DescribeSecurityGroupRules', {})).rejects.toThrow(EC2ServiceException);
    expect(inner.calls).toBe(3);
  });

  it('does not retry an answer that trying again cannot change', async () => {
    const pacer = createPacer({ share: 1, instances: 1, clock: fakeClock() });
    const inner = scripted([notFound(), {}]);
    pacer.begin(() => 120_000);
    await expect(pacer.wrap(inner).call('ec2', 'DescribeSecurityGroups', {})).rejects.toThrow('no such group');
    expect(inner.calls).toBe(1);
  });
});
