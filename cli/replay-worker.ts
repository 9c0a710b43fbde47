/**
 * Worker thread of the replay: inflates, splits, matches and decides whole
 * files, and sends their lines back in batches. It holds back once
 * `MAX_UNACKED_BATCHES` batches wait unacknowledged, so the main thread, which
 * prints files in order, never buffers more than that per file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { allRules } from '../remediations/registry.js';
import { loadConfigFile } from './config-file.js';
import { eventNameGate } from './gate.js';
import { openFile } from './inputs.js';
import { BATCH_LINES, replayInput, type ReplayEngine } from './replay-input.js';
import type { FromWorker, ToWorker, WorkerSetup } from './replay-pool.js';

/** 1,024 lines ahead of the printing, in batches of {@link BATCH_LINES}: as far as before batches were made smaller. */
const MAX_UNACKED_BATCHES = 1024 / BATCH_LINES;
const PROGRESS_EVERY_MS = 100;

const port = parentPort;
if (!port) throw new Error('replay-worker runs only as a worker thread');
const setup = workerData as WorkerSetup;
const rules = allRules.filter((rule) => setup.ruleIds.includes(rule.id));
const gate = setup.useGate ? eventNameGate(rules) : undefined;
const engine: ReplayEngine = {
  rules,
  config: loadConfigFile(setup.configPath, allRules),
  env: setup.env,
  window: setup.window,
  ...(gate ? { gate } : {}),
};

let unacked = 0;
let wake: (() => void) | undefined;
const queue: { seq: number; path: string }[] = [];
let running = false;

function send(message: FromWorker): void {
  port?.postMessage(message);
}

async function run(): Promise<void> {
  running = true;
  for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
    const { seq, path } = job;
    let lastProgress = 0;
    const counts = await replayInput(openFile(path), path, engine, {
      async lines(lines) {
        send({ type: 'lines', seq, lines });
        unacked += 1;
        while (unacked >= MAX_UNACKED_BATCHES) await new Promise<void>((resolve) => (wake = resolve));
      },
      progress(bytes, records) {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        send({ type: 'progress', seq, bytes, records });
      },
    });
    send({ type: 'done', seq, counts });
  }
  running = false;
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'ack') {
    unacked -= 1;
    const resolve = wake;
    wake = undefined;
    resolve?.();
    return;
  }
  queue.push({ seq: message.seq, path: message.path });
  if (!running) {
    run().catch((error: unknown) => {
      send({ type: 'fatal', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    });
  }
});
