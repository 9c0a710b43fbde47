// The ceiling of the replay benchmark: the bare loop every replay must at
// least do, on one thread — read each gzip log file, gunzip it, JSON.parse it.
// Usage: node bench/ceiling.mjs <dir>   Prints {"records":…,"files":…}.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export function walk(directory, files = []) {
  for (const entry of readdirSync(directory, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) walk(path, files);
    else if (entry.name.endsWith('.json.gz')) files.push(path);
  }
  return files;
}

if (import.meta.filename === process.argv[1]) {
  let records = 0;
  const files = walk(process.argv[2]);
  for (const file of files) records += JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')).Records.length;
  console.log(JSON.stringify({ records, files: files.length }));
}
