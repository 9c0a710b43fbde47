/**
 * Replays one input (a file or stdin) from bytes to decision lines. The same
 * code runs on the main thread and in the worker threads, so the output does
 * not depend on how many there are.
 */
import type { Readable } from 'node:stream';
import { readSource, type ReadStats } from './inputs.js';
import { decideRecord, type ReplayLine, type ReplayOptions } from './replay.js';
import type { NameGate } from './scan.js';

export interface ReplayEngine extends ReplayOptions {
  /** Present when every selected rule's pattern pins `detail.eventName` (see `cli/gate.ts`). */
  readonly gate?: NameGate;
}

export interface InputCounts {
  /** Records read, including those no rule could reach (dropped unparsed) and invalid ones. */
  readonly records: number;
  /** Records that reached at least one rule and were decided. */
  readonly matched: number;
  /** 1 when the input could not be read, or not to its end. */
  readonly unreadable: number;
}

/**
 * Lines are handed over in batches: few messages between threads, bounded
 * memory. Small ones: a batch's lines (each holds its decision's plans) live
 * until it is handed over, so a larger batch is copied by every young-generation
 * collection it outlives and then promoted (256 lines cost a seventh more CPU
 * than 32 on the decided records of the bench corpus).
 */
export const BATCH_LINES = 32;

interface ReplayInputHooks {
  /** Receives the lines in order; the returned promise, if any, is awaited (backpressure). */
  lines(lines: ReplayLine[]): void | Promise<void>;
  /** Raw (compressed) bytes read so far from this input, and records seen. */
  progress?(bytes: number, records: number): void;
}

export async function replayInput(source: Readable, name: string, engine: ReplayEngine, hooks: ReplayInputHooks): Promise<InputCounts> {
  const stats: ReadStats = { records: 0 };
  let bytes = 0;
  let matched = 0;
  let unreadable = 0;
  let batch: ReplayLine[] = [];
  const onBytes = hooks.progress
    ? (read: number) => {
        bytes = read;
        hooks.progress?.(bytes, stats.records);
      }
    : undefined;
  for await (const record of readSource(source, name, { ...(engine.gate ? { gate: engine.gate } : {}), stats, ...(onBytes ? { onBytes } : {}) })) {
    if ('unreadable' in record && record.unreadable) unreadable = 1;
    const lines = await decideRecord(record, engine);
    if (lines === undefined) continue;
    if (lines.some((line) => line.verdict !== 'invalid')) matched += 1;
    for (const line of lines) batch.push(line);
    if (batch.length >= BATCH_LINES) {
      const full = batch;
      batch = [];
      await hooks.lines(full);
    }
  }
  if (batch.length > 0) await hooks.lines(batch);
  hooks.progress?.(bytes, stats.records);
  return { records: stats.records, matched, unreadable };
}
