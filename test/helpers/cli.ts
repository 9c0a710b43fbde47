/** Runs the CLI's `main` in-process, capturing what it writes, as a pipe (no terminal) would see it. */
import { expect } from 'vitest';
import type { Io } from '../../cli/format.js';
import { main } from '../../cli/main.js';
import type { Env } from '../../engine/decide.js';

export interface Captured {
  readonly code: number;
  readonly stdout: string[];
  readonly stderr: string[];
}

export type CapturedIo = Io & { readonly stdout: string[]; readonly stderr: string[] };

/** An `Io` that keeps each line written, as a pipe (no terminal) would. */
export function captureIo(): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => void stdout.push(text), err: (text) => void stderr.push(text), stdoutIsTTY: false, stderrIsTTY: false };
}

export async function runCli(argv: readonly string[], env: Env = {}): Promise<Captured> {
  const io = captureIo();
  const code = await main(argv, io, env);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** Runs `argv` and checks it is refused as a usage error: exit 1, one line on stderr holding `message`, and no call on any of `clients`. */
export async function expectUsageError(argv: readonly string[], message: string, clients: readonly { calls(): readonly unknown[] }[]): Promise<void> {
  const { code, stderr } = await runCli(argv);
  expect(code).toBe(1);
  expect(stderr).toHaveLength(1);
  expect(stderr[0]).toContain(message);
  for (const client of clients) expect(client.calls()).toHaveLength(0);
}
