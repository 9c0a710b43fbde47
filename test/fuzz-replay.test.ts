/**
 * Hostile and malformed input against the replay parser: bytes go through the
 * streaming reader (`readSource`) and every record through `replayRecord` with
 * all rules, as `remediate replay` does.
 *
 * Properties, for every case:
 * - nothing throws, and every record carries its origin;
 * - every replay line can be printed (serialised as the `jsonl` format does);
 * - every step of every plan and proposal names only resources its event names.
 *
 * FUZZ_RUNS (default 10,000) cases per property; the seed is fixed (FUZZ_SEED,
 * default 8) so the suite is deterministic, and FUZZ_SEED=random explores.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { readSource, type InputRecord } from '../cli/inputs.js';
import { replayRecord, type ReplayLine } from '../cli/replay.js';
import { parseConfig } from '../engine/config.js';
import { allRules } from '../remediations/registry.js';
import { adversarialFixture, jsonText, mutatedFixture, randomEvents } from './helpers/hostile-input.js';
import { assertScopedToEvent, eventSources } from './helpers/plan-scope.js';

const RUNS = Math.ceil(Number(process.env['FUZZ_RUNS'] ?? 10_000) / 2);
/** Generous: the suite shares two cores with the other test files. */
const FUZZ_TIMEOUT_MS = 600_000;
const SEED = process.env['FUZZ_SEED'] === 'random' ? {} : { seed: Number(process.env['FUZZ_SEED'] ?? 8) };
const options = { rules: allRules, config: parseConfig({}, allRules), env: {}, now: new Date('2024-05-01T12:00:00Z') };

async function recordsOf(bytes: Buffer): Promise<InputRecord[]> {
  const records: InputRecord[] = [];
  for await (const record of readSource(Readable.from([bytes]), 'fuzz.jsonl')) records.push(record);
  return records;
}

function checkLine(line: ReplayLine, value: unknown): void {
  if (JSON.stringify(line) === undefined) throw new Error('a replay line does not serialise');
  if (line.verdict === 'invalid') return;
  const steps = [...line.plan, ...(line.proposal ?? [])];
  if (steps.length > 0) assertScopedToEvent(steps, eventSources(value), `replay of ${line.source}`);
}

async function checkText(text: string): Promise<void> {
  for (const record of await recordsOf(Buffer.from(text, 'utf8'))) {
    if (record.origin.length === 0) throw new Error('a record without origin');
    const value = 'value' in record ? record.value : undefined;
    for (const line of await replayRecord(record, options)) checkLine(line, value);
  }
}

/** JSON text of an event; the 10,000-deep ones need the iterative writer. */
function serialise(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return jsonText(value);
  }
}

/** Several events as JSON Lines, some lines broken, as a hostile file would be. */
function asJsonLines(values: readonly unknown[], breakAt: number): string {
  return values
    .map((value, index) => {
      const text = serialise(value);
      return index === breakAt ? text.slice(0, Math.floor(text.length / 2)) : text;
    })
    .join('\n');
}

describe('hostile input to the replay parser', () => {
  it('never crashes on random bytes, random JSON documents or random JSON Lines', async () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue({ maxDepth: 5 }).map((value) => JSON.stringify(value) ?? ''),
      fc.array(randomEvents(allRules), { maxLength: 4 }).map((values) => asJsonLines(values, -1)),
      fc.constantFrom('[', '{"Records":[', '{"Events":[{}', '\u0000\u0000', '[]]]', '{"detail":', '\n\n\n', '"\\ud800"', '['.repeat(10_000)),
    );
    await fc.assert(fc.asyncProperty(text, checkText), { numRuns: RUNS, ...SEED });
  }, FUZZ_TIMEOUT_MS);

  it('never crashes on mutated and adversarial fixtures, alone, as JSON Lines beside a broken copy, or in a CloudTrail Records file', async () => {
    const text = fc.tuple(fc.oneof(mutatedFixture, adversarialFixture), fc.constantFrom('single', 'jsonl', 'records')).map(([{ event }, shape]) => {
      switch (shape) {
        case 'single':
          return serialise(event);
        case 'jsonl':
          return asJsonLines([event, event], 1);
        case 'records':
          return serialise({ Records: [(event as { detail?: unknown }).detail ?? event] });
      }
    });
    await fc.assert(fc.asyncProperty(text, checkText), { numRuns: RUNS, ...SEED });
  }, FUZZ_TIMEOUT_MS);
});
