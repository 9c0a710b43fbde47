/** The progress bar: what it shows, and that it shows only on a terminal. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Io } from '../cli/format.js';
import { main } from '../cli/main.js';
import { createProgressBar, renderProgress } from '../cli/progress.js';

const ROOT = join(import.meta.dirname, '..');
const EVENTS = join(ROOT, 'events');

function fakeIo(terminal: boolean): Io & { stdout: string[]; stderr: string[]; bar: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const bar: string[] = [];
  return {
    stdout,
    stderr,
    bar,
    out: (text) => void stdout.push(text),
    err: (text) => void stderr.push(text),
    progress: (text) => void bar.push(text),
    stdoutIsTTY: false,
    stderrIsTTY: terminal,
  };
}

describe('progress bar', () => {
  it('shows files, records per second and the ETA from the bytes read', () => {
    const line = renderProgress({ inputsDone: 3, inputs: 12, bytes: 25, totalBytes: 100, records: 50_000 }, 10_000);

    expect(line).toBe('[======>                 ] 3/12 files  50k records  5000 rec/s  ETA 00:30');
  });

  it('redraws in place at most every 100 ms, and clears its line at the end', () => {
    let now = 0;
    const written: string[] = [];
    const bar = createProgressBar({ write: (text) => void written.push(text), columns: 200 }, () => now);
    const state = { inputsDone: 0, inputs: 1, bytes: 0, totalBytes: 10, records: 0 };

    now = 150;
    bar.update(state);
    now = 200;
    bar.update(state);
    now = 260;
    bar.update({ ...state, bytes: 10, records: 26, inputsDone: 1 });
    bar.clear();

    expect(written).toStrictEqual([
      '\r[>                       ] 0/1 files  0 records  0 rec/s  ETA --:--\x1b[K',
      '\r[========================] 1/1 files  26 records  100 rec/s  ETA 00:00\x1b[K',
      '\r\x1b[K',
    ]);
  });

  it('is drawn on stderr when it is a terminal, and nothing is written there otherwise', async () => {
    const terminal = fakeIo(true);
    const pipe = fakeIo(false);

    expect(await main(['replay', EVENTS, '--format', 'jsonl'], terminal)).toBe(0);
    expect(await main(['replay', EVENTS, '--format', 'jsonl'], pipe)).toBe(0);

    expect(terminal.bar.at(-1)).toBe('\r\x1b[K');
    expect(terminal.bar.some((text) => /files .* records .* rec\/s {2}ETA /.test(text))).toBe(true);
    expect(pipe.bar).toStrictEqual([]);
    expect(pipe.stderr).toStrictEqual([]);
    expect(terminal.stdout).toStrictEqual(pipe.stdout);
  });
});
