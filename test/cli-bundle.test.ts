/**
 * The CLI's bundle (scripts/build-cli.mjs, built by the global setup): the
 * offline commands (replay, rules) load no AWS SDK client, only stubs that
 * carry each command's operation schema, so a replay and each of its worker
 * threads start small; the subcommands that call AWS load the real SDK, and
 * only when they run. Mutation this catches: building the CLI with the real
 * SDK in the replay's import graph (start-up time and memory of every replay
 * and worker; the figures are in `npm run bench`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIST = join(import.meta.dirname, '..', 'dist');

/** A bundle file and every file it imports statically (dynamic `import()` is left out: it loads only when it runs). */
function staticGraph(entry: string, seen = new Set<string>()): Set<string> {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const source = readFileSync(entry, 'utf8');
  for (const match of source.matchAll(/(?:^|[;\n}])\s*(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?["'](\.{1,2}\/[^"']+)["']/g)) {
    staticGraph(join(dirname(entry), match[1] ?? ''), seen);
  }
  return seen;
}

const text = (files: Set<string>) => [...files].map((file) => readFileSync(file, 'utf8')).join('\n');
/** Code only the real SDK carries: the request signer. */
const REAL_SDK = /SignatureV4/;

describe('the CLI bundle', () => {
  it('replay and rules load SDK stubs, not the SDK', () => {
    for (const entry of ['cli.mjs', 'replay-worker.mjs']) {
      const code = text(staticGraph(join(DIST, entry)));
      expect(code, entry).toContain('the replay makes no AWS call');
      expect(REAL_SDK.test(code), entry).toBe(false);
    }
  });

  it('the subcommands that call AWS carry the real SDK, in their own files', () => {
    for (const name of ['invoke', 'undo', 'history', 'lookup-events', 'athena', 'lake', 'approve', 'redrive']) {
      const code = text(staticGraph(join(DIST, 'aws', `${name}.mjs`)));
      expect(code, name).not.toContain('the replay makes no AWS call');
      if (name !== 'athena' && name !== 'lake') expect(REAL_SDK.test(code), name).toBe(true);
    }
    expect(readFileSync(join(DIST, 'cli.mjs'), 'utf8')).toMatch(/import\(["']\.\/aws\/invoke\.mjs["']\)/);
  });
});
