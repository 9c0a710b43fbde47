#!/usr/bin/env node
// The CLI is bundled by `npm run prepare` (scripts/build-cli.mjs) into dist/cli.mjs.
import { main } from '../dist/cli.mjs';

// A closed pipe (`remediate replay … | head`) ends the run quietly.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  progress: (text) => process.stderr.write(text),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  stderrColumns: process.stderr.columns,
  stdoutColumns: process.stdout.columns,
  get stdin() {
    return process.stdin;
  },
};
process.exitCode = await main(process.argv.slice(2), io, process.env);
