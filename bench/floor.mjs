// The floor of the replay benchmark: the least work any replay must do, on one
// thread — read each gzip log file, gunzip it, and find every record's
// `"eventName":"` with Buffer.indexOf (no parsing at all).
// Usage: node bench/floor.mjs <dir>   Prints {"names":…,"files":…}.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { walk } from './ceiling.mjs';

const NEEDLE = Buffer.from('"eventName":"');
let names = 0;
const files = walk(process.argv[2]);
for (const file of files) {
  const bytes = gunzipSync(readFileSync(file));
  for (let at = bytes.indexOf(NEEDLE); at >= 0; at = bytes.indexOf(NEEDLE, at + NEEDLE.length)) names += 1;
}
console.log(JSON.stringify({ names, files: files.length }));
