// Preloaded with `node --import` when /usr/bin/time is missing: writes the
// process's peak resident set size (KiB, worker threads included) to the file
// named by BENCH_MAX_RSS_FILE when the process exits.
import { writeFileSync } from 'node:fs';

const target = process.env.BENCH_MAX_RSS_FILE;
if (target) process.on('exit', () => writeFileSync(target, String(process.resourceUsage().maxRSS)));
