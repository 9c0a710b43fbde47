/**
 * The progress bar: one line on stderr, redrawn in place, only when stderr is
 * a terminal. Pipes and files get nothing, so they stay clean.
 */
import type { ProgressState } from './replay-pool.js';

interface ProgressOutput {
  /** Writes without a newline. */
  write(text: string): void;
  readonly columns?: number;
}

const REDRAW_EVERY_MS = 100;
const BAR_WIDTH = 24;

function compact(count: number): string {
  if (count >= 1e6) return `${(count / 1e6).toFixed(1)}M`;
  if (count >= 1e4) return `${Math.round(count / 1e3)}k`;
  return String(Math.round(count));
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  const mmss = `${String(minutes).padStart(2, '0')}:${String(secs).padStart(2, '0')}`;
  return hours > 0 ? `${hours}:${mmss}` : mmss;
}

/** Renders one state; `elapsedMs` since the start. Exported for tests. */
export function renderProgress(state: ProgressState, elapsedMs: number): string {
  const fraction = state.totalBytes > 0 ? Math.min(1, state.bytes / state.totalBytes) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `${'='.repeat(filled)}${filled < BAR_WIDTH ? '>' : ''}${' '.repeat(Math.max(0, BAR_WIDTH - filled - 1))}`;
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? state.records / seconds : 0;
  const eta = fraction > 0 && state.totalBytes > 0 ? (seconds / fraction) * (1 - fraction) : Number.NaN;
  return `[${bar}] ${state.inputsDone}/${state.inputs} files  ${compact(state.records)} records  ${compact(rate)} rec/s  ETA ${duration(eta)}`;
}

export function createProgressBar(output: ProgressOutput, now: () => number = Date.now): { update(state: ProgressState): void; clear(): void } {
  const started = now();
  let lastDraw = 0;
  let drawn = false;
  return {
    update(state) {
      const time = now();
      if (time - lastDraw < REDRAW_EVERY_MS) return;
      lastDraw = time;
      const line = renderProgress(state, time - started);
      const width = output.columns ?? 80;
      output.write(`\r${line.length >= width ? line.slice(0, width - 1) : line}\x1b[K`);
      drawn = true;
    },
    clear() {
      if (drawn) output.write('\r\x1b[K');
    },
  };
}
