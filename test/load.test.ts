/**
 * A small burst through the load harness (`npm run load` runs 10,000 events):
 * the real security-groups handler at concurrency 10 against the AWS
 * stand-in's token buckets and dynalite. Behaviour only, never timings.
 */
import { describe, expect, it } from 'vitest';
import { runLoad, type LoadReport } from '../bench/load/harness.js';
import { useDynalite } from './helpers/dynalite.js';

const dynamo = useDynalite();
let tables = 0;

async function run(options: Omit<Parameters<typeof runLoad>[0], 'dynamo'>): Promise<LoadReport> {
  tables += 1;
  const table = await dynamo.createTable(`load-${tables}`);
  return runLoad({ ...options, dynamo: { endpoint: dynamo.endpoint, table, client: dynamo.client } });
}

describe('a burst of 300 events at concurrency 10', () => {
  it('against buckets a tenth of the documented size, half taken by another workload: nothing lost, nothing done twice, nothing half-applied unrecorded', async () => {
    const report = await run({ events: 300, concurrency: 10, share: 0.5, scale: 0.1, other: { share: 0.5 }, duplicates: 0.05 });
    // The bot met throttling, and invocations ran out of time part-way and were resumed: the paths under test ran.
    expect(report.stand.throttled['RevokeSecurityGroupIngress'] ?? 0).toBeGreaterThan(0);
    expect(report.interrupted).toBeGreaterThan(0);
    expect(report.deliveries).toBeGreaterThan(report.events);
    // Every event was decided, or failed every attempt with a reason.
    expect(report.decided + report.givenUp.length).toBe(report.events);
    for (const failed of report.givenUp) expect(failed.reason).toMatch(/^\w+: .+/);
    // No write twice, and no invocation past its timeout.
    expect(report.stand.duplicateWrites).toBe(0);
    expect(report.overran).toBe(0);
    // Every rule the bot revoked is in an undo record, whichever invocation revoked it.
    expect([...report.revoked].filter((id) => !report.undoListed.has(id))).toStrictEqual([]);
    expect([...report.undoListed].filter((id) => !report.revoked.has(id))).toStrictEqual([]);
    // What stays open belongs to events that were given up on, never to ones reported decided.
    expect(report.stillOpen).toBeLessThanOrEqual(report.givenUp.length * 2);
    if (report.givenUp.length === 0) expect(report.stillOpen).toBe(0);
  });

  it('against the documented buckets: every violation fixed, and the bot never takes more than its share of any bucket', async () => {
    const report = await run({ events: 300, concurrency: 10, share: 0.5 });
    expect(report.decided).toBe(300);
    expect(report.outcomes).toStrictEqual({ none: 200, applied: 100 });
    expect(report.stillOpen).toBe(0);
    expect(report.stand.duplicateWrites).toBe(0);
    expect(report.stand.throttled).toStrictEqual({});
    expect(report.stand.overShare).toStrictEqual({});
    // At its lowest, every EC2 bucket the bot drew from still held the other half for everyone else.
    expect(report.stand.lowestLevel).toBeGreaterThanOrEqual(0.5);
  });
});
