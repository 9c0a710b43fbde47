/**
 * Runs a replay over many inputs: on the main thread, or over worker threads
 * (one per core) that each take whole files. Either way the lines come out in
 * input order, file by file, so the output never depends on scheduling.
 * Memory stays bounded: workers run at most `WINDOW_PER_WORKER` files ahead of
 * the file being printed, and each holds back after a few unacknowledged batches.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Env } from '../engine/decide.js';
import { openFile, type Input } from './inputs.js';
import { replayInput, type InputCounts, type ReplayEngine } from './replay-input.js';
import { isOutsideWindow, type ReplayLine, type TimeWindow } from './replay.js';

/** What a worker needs to rebuild the engine: config and rules are reloaded, not cloned. */
export interface WorkerSetup {
  readonly ruleIds: readonly string[];
  readonly configPath: string | undefined;
  readonly env: Env;
  readonly window: TimeWindow;
  readonly useGate: boolean;
}

export type ToWorker = { readonly type: 'file'; readonly seq: number; readonly path: string } | { readonly type: 'ack' };

export type FromWorker =
  | { readonly type: 'lines'; readonly seq: number; readonly lines: ReplayLine[] }
  | { readonly type: 'progress'; readonly seq: number; readonly bytes: number; readonly records: number }
  | { readonly type: 'done'; readonly seq: number; readonly counts: InputCounts }
  | { readonly type: 'fatal'; readonly error: string };

export interface ProgressState {
  readonly inputsDone: number;
  readonly inputs: number;
  readonly bytes: number;
  readonly totalBytes: number;
  readonly records: number;
}

interface RunOptions {
  readonly inputs: readonly Input[];
  readonly engine: ReplayEngine;
  readonly setup: WorkerSetup;
  /** Worker threads to use at most; 1 runs on the main thread. */
  readonly jobs: number;
  /** Set when the user chose `jobs`: workers run even for a small input. */
  readonly jobsExplicit?: boolean;
  /** The bundled worker script; without it (tests run the TypeScript sources) the replay runs on the main thread. */
  readonly workerUrl?: URL;
  readonly stdin?: Readable;
  readonly onLines: (lines: readonly ReplayLine[]) => void;
  readonly onProgress?: (state: ProgressState) => void;
}

interface RunTotals {
  readonly records: number;
  /** Records that reached a rule inside the time window and were decided. */
  readonly matched: number;
  /** Records that reached a rule but fell outside the `--since`/`--until` window. */
  readonly filtered: number;
  readonly unreadable: number;
  readonly inputs: number;
}

/** Worker start-up costs tens of milliseconds: below this much input, the main thread is faster. */
const MIN_BYTES_FOR_WORKERS = 4 * 1024 * 1024;
const WINDOW_PER_WORKER = 16;
/**
 * Each worker adds about 30 MB of resident memory, so the default stops at 4
 * (peak RSS under 300 MB whatever the machine); `--jobs` goes further.
 */
const MAX_DEFAULT_JOBS = 4;
/** A worker's garbage is short-lived (chunks, skipped records): a small young generation keeps its memory down at no cost in speed. */
const WORKER_YOUNG_GENERATION_MB = 4;

/**
 * One worker per core, capped so that memory stays bounded on large machines;
 * on one or two cores, the main thread alone. Each worker starts the engine and
 * compiles the rules again, and the main thread still merges and prints: on a
 * 2-vCPU machine two workers took from 12% less to 6% more time than one
 * thread, for 1.4 to 1.6 times its CPU (`npm run bench`).
 */
export function defaultJobs(cores = availableParallelism()): number {
  return cores <= 2 ? 1 : Math.min(cores, MAX_DEFAULT_JOBS);
}

function unreadableLine(input: Extract<Input, { kind: 'unreadable' }>): ReplayLine {
  return { verdict: 'invalid', error: `unreadable: ${input.error}`, source: input.path };
}

function sizeOf(input: Input): number {
  return input.kind === 'file' ? input.size : 0;
}

function workerCount(options: RunOptions): number {
  const files = options.inputs.filter((input) => input.kind === 'file');
  if (options.jobs <= 1 || files.length < 2 || options.inputs.some((input) => input.kind === 'stdin')) return 0;
  if (!options.workerUrl || !existsSync(fileURLToPath(options.workerUrl))) return 0;
  if (!options.jobsExplicit && files.reduce((sum, input) => sum + sizeOf(input), 0) < MIN_BYTES_FOR_WORKERS) return 0;
  return Math.min(options.jobs, files.length);
}

export async function runReplay(options: RunOptions): Promise<RunTotals> {
  const count = workerCount(options);
  let filtered = 0;
  // Records outside the time window come as marker lines (from the workers too): counted here, never printed.
  const onLines = (lines: readonly ReplayLine[]) => {
    const kept = lines.filter((line) => !isOutsideWindow(line));
    filtered += lines.length - kept.length;
    if (kept.length > 0) options.onLines(kept);
  };
  const counted = { ...options, onLines };
  const totals = await (count === 0 ? runInline(counted) : runWorkers(counted, count));
  return { ...totals, filtered };
}

async function runInline(options: RunOptions): Promise<Omit<RunTotals, 'filtered'>> {
  const { inputs } = options;
  const totalBytes = inputs.reduce((sum, input) => sum + sizeOf(input), 0);
  let records = 0;
  let matched = 0;
  let unreadable = 0;
  let bytesBefore = 0;
  for (const [index, input] of inputs.entries()) {
    if (input.kind === 'unreadable') {
      unreadable += 1;
      options.onLines([unreadableLine(input)]);
      continue;
    }
    const source = input.kind === 'stdin' ? options.stdin : openFile(input.path);
    const name = input.kind === 'stdin' ? (input.name ?? 'stdin') : input.path;
    if (!source) {
      unreadable += 1;
      options.onLines([{ verdict: 'invalid', error: 'unreadable: no standard input', source: name }]);
      continue;
    }
    const counts = await replayInput(source, name, options.engine, {
      lines: (lines) => options.onLines(lines),
      ...(options.onProgress
        ? {
            progress: (bytes: number, seen: number) =>
              options.onProgress?.({ inputsDone: index, inputs: inputs.length, bytes: bytesBefore + bytes, totalBytes, records: records + seen }),
          }
        : {}),
    });
    bytesBefore += sizeOf(input);
    records += counts.records;
    matched += counts.matched;
    unreadable += counts.unreadable;
  }
  return { records, matched, unreadable, inputs: inputs.length };
}

interface Slot {
  readonly input: Input;
  readonly pending: ReplayLine[][];
  worker: Worker | undefined;
  counts: InputCounts | undefined;
  bytes: number;
  records: number;
}

function runWorkers(options: RunOptions, count: number): Promise<Omit<RunTotals, 'filtered'>> {
  const { inputs } = options;
  const workerUrl = options.workerUrl as URL;
  const totalBytes = inputs.reduce((sum, input) => sum + sizeOf(input), 0);
  const slots: Slot[] = inputs.map((input) => ({ input, pending: [], worker: undefined, counts: undefined, bytes: 0, records: 0 }));
  for (const slot of slots) {
    if (slot.input.kind === 'unreadable') {
      slot.pending.push([unreadableLine(slot.input)]);
      slot.counts = { records: 0, matched: 0, unreadable: 1 };
    }
  }
  const totals = { records: 0, matched: 0, unreadable: 0 };
  let head = 0;
  let next = 0;
  let inputsDone = 0;
  let bytesDone = 0;
  let recordsDone = 0;
  const idle: Worker[] = [];
  const workers: Worker[] = [];

  return new Promise<Omit<RunTotals, 'filtered'>>((resolve, reject) => {
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      void Promise.all(workers.map((worker) => worker.terminate())).then(() =>
        error === undefined ? resolve({ ...totals, inputs: inputs.length }) : reject(error instanceof Error ? error : new Error(String(error))),
      );
    };

    const report = () => {
      if (!options.onProgress) return;
      let bytes = bytesDone;
      let records = recordsDone;
      for (let index = head; index < slots.length && index < next; index++) {
        const slot = slots[index] as Slot;
        if (slot.counts === undefined) {
          bytes += slot.bytes;
          records += slot.records;
        }
      }
      options.onProgress({ inputsDone, inputs: inputs.length, bytes, totalBytes, records });
    };

    const emit = (slot: Slot, lines: ReplayLine[]) => {
      options.onLines(lines);
      slot.worker?.postMessage({ type: 'ack' } satisfies ToWorker);
    };

    const advance = () => {
      while (head < slots.length) {
        const slot = slots[head] as Slot;
        for (const lines of slot.pending.splice(0, slot.pending.length)) emit(slot, lines);
        if (slot.counts === undefined) return;
        totals.records += slot.counts.records;
        totals.matched += slot.counts.matched;
        totals.unreadable += slot.counts.unreadable;
        head += 1;
      }
      finish();
    };

    const pump = () => {
      while (!settled && idle.length > 0) {
        while (next < slots.length && (slots[next] as Slot).input.kind !== 'file') next += 1;
        if (next >= slots.length || next >= head + WINDOW_PER_WORKER * count) return;
        const slot = slots[next] as Slot;
        const worker = idle.pop() as Worker;
        slot.worker = worker;
        worker.postMessage({ type: 'file', seq: next, path: (slot.input as Extract<Input, { kind: 'file' }>).path } satisfies ToWorker);
        next += 1;
      }
    };

    for (let index = 0; index < count; index++) {
      const worker = new Worker(workerUrl, { workerData: options.setup satisfies WorkerSetup, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
      workers.push(worker);
      idle.push(worker);
      worker.on('message', (message: FromWorker) => {
        if (settled) return;
        switch (message.type) {
          case 'lines': {
            const slot = slots[message.seq] as Slot;
            if (message.seq === head) emit(slot, message.lines);
            else slot.pending.push(message.lines);
            return;
          }
          case 'progress': {
            const slot = slots[message.seq] as Slot;
            slot.bytes = message.bytes;
            slot.records = message.records;
            report();
            return;
          }
          case 'done': {
            const slot = slots[message.seq] as Slot;
            slot.counts = message.counts;
            inputsDone += 1;
            bytesDone += sizeOf(slot.input);
            recordsDone += message.counts.records;
            idle.push(worker);
            if (message.seq === head) advance();
            pump();
            report();
            return;
          }
          case 'fatal':
            finish(new Error(`replay worker failed: ${message.error}`));
            return;
        }
      });
      worker.on('error', (error) => finish(error));
      worker.on('exit', (code) => {
        if (!settled) finish(new Error(`replay worker exited with code ${code}`));
      });
    }
    // Unreadable inputs at the front resolve at once; an input list of only those finishes here.
    advance();
    pump();
  });
}
