// `npm run load`: a burst of recorded events through the real family handler
// against AWS's documented rate limits (bench/load/: the harness, the AWS
// stand-in with its token buckets, simulated time). A benchmark script, never
// a timed test; `test/load.test.ts` runs a small burst and asserts behaviour.
//
// The TypeScript is bundled with esbuild into bench/.load/ (packages stay in
// node_modules) and run with the same Node.
//
// Usage: npm run load [-- --events N] [-- --concurrency N] [-- --share S]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';

const out = join(import.meta.dirname, '.load', 'main.mjs');
await build({
  entryPoints: [join(import.meta.dirname, 'load', 'main.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  logLevel: 'warning',
});
const { status } = spawnSync(process.execPath, [out, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exitCode = status ?? 1;
