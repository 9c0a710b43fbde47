// Bundles the CLI into dist/: cli.mjs (the entry), replay-worker.mjs (the
// replay's worker threads, loaded from beside cli.mjs) and shared chunks.
// Code splitting keeps the AWS SDK clients, which only `invoke` needs, out of
// the replay's start-up. No TypeScript at run time.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { build } from 'esbuild';

const result = await build({
  entryPoints: { cli: 'cli/main.ts', 'replay-worker': 'cli/replay-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});

// Chunk names carry a content hash: drop old ones this build no longer uses
// (only old ones: a concurrent build of other sources may still need its own).
const current = new Set(Object.keys(result.metafile.outputs).map((path) => basename(path)));
const stale = Date.now() - 60 * 60 * 1000;
for (const name of readdirSync('dist/chunks')) {
  const path = `dist/chunks/${name}`;
  if (!current.has(name) && statSync(path).mtimeMs < stale) rmSync(path, { force: true });
}
