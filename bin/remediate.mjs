#!/usr/bin/env node
// The CLI is bundled by `npm run prepare` (scripts/build-cli.mjs) into dist/cli.mjs.
import { main } from '../dist/cli.mjs';

const io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
};
process.exitCode = await main(process.argv.slice(2), io, process.env);
