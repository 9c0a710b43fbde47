// `npm run bench`: the replay benchmark, in one run on one corpus.
//
// 1. Generates (once, deterministically) a gzip CloudTrail corpus in the S3
//    layout under bench/.corpus (see corpus.mjs): 1,000,000 records by default,
//    about 1% of them calls the rules trigger on.
// 2. Measures, in rounds that take each command in turn (so a noisy
//    neighbour slows them alike), the best wall time and the least CPU time
//    (user + sys, every thread and child) of:
//    - `remediate replay <corpus> --format jsonl > /dev/null` (the real binary,
//      as it runs by default: worker threads with more than two cores, else one
//      thread, which is `--jobs 1` and measured once), on one thread (`--jobs 1`),
//      also with the scanner's WebAssembly SIMD path off (`REMEDIATE_NO_SIMD=1`),
//      and with two worker threads;
//    - the floor (floor.mjs): gunzip each file and find each record's
//      `"eventName":"` with Buffer.indexOf, the least work any replay must do;
//    - gunzip + JSON.parse of every file (ceiling.mjs), the naive replay;
//    - `zcat | jq` selecting the same event names, what a person would do by hand (one run);
//    - peak RSS (/usr/bin/time, else process.resourceUsage).
// 3. Checks the targets: replay CPU ≤ 1.5× the floor's, replay records/s ≥ 10×
//    jq's, peak RSS < 300 MiB.
//
// Usage: npm run bench [-- --records N] [-- --runs N]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureCorpus } from './corpus.mjs';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'remediate.mjs');
const CORPUS = join(import.meta.dirname, '.corpus');
const TARGETS = { ofFloorCpu: 1.5, overJq: 10, rssMiB: 300 };

const { values } = parseArgs({ options: { records: { type: 'string' }, runs: { type: 'string' } } });
const records = Number(values.records ?? process.env.BENCH_RECORDS ?? 1_000_000);
const runs = Number(values.runs ?? 3);
const log = (text) => process.stderr.write(`${text}\n`);
const hasTime = existsSync('/usr/bin/time');

/** Runs a command; returns wall seconds, CPU seconds (user + sys, children included) and peak RSS (KiB) when measured. */
function measure(command, args, { shell = false, rss = false, extraEnv = {} } = {}) {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-'));
  const rssFile = join(scratch, 'rss');
  let file = command;
  let argv = args;
  const env = { ...process.env, ...extraEnv };
  if (shell) {
    file = 'bash';
    argv = ['-c', command];
  }
  if (rss && hasTime) {
    argv = ['-f', '%M %U %S', '-o', rssFile, file, ...argv];
    file = '/usr/bin/time';
  } else if (rss) {
    argv = ['--import', join(import.meta.dirname, 'max-rss.mjs'), ...argv];
    env.BENCH_MAX_RSS_FILE = rssFile;
  }
  const started = performance.now();
  const result = spawnSync(file, argv, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  const wall = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  let maxRssKiB;
  let cpu;
  if (rss && existsSync(rssFile)) {
    const fields = readFileSync(rssFile, 'utf8').trim().split(/\s+/).map(Number);
    maxRssKiB = fields[0];
    if (hasTime) cpu = (fields[1] ?? 0) + (fields[2] ?? 0);
  }
  rmSync(scratch, { recursive: true, force: true });
  return { wall, cpu, maxRssKiB };
}

/** Runs each command once per round, in turn; keeps each one's best wall time, least CPU time and largest peak RSS. */
function rounds(commands) {
  const results = new Map(commands.map(([label]) => [label, []]));
  for (let round = 1; round <= runs; round++) {
    for (const [label, run] of commands) {
      const result = run();
      log(`  round ${round}, ${label}: ${result.wall.toFixed(2)} s${result.cpu !== undefined ? `, ${result.cpu.toFixed(2)} s CPU` : ''}${result.maxRssKiB ? `, ${(result.maxRssKiB / 1024).toFixed(0)} MiB peak RSS` : ''}`);
      results.get(label).push(result);
    }
  }
  return new Map(
    [...results].map(([label, list]) => {
      const cpus = list.map((r) => r.cpu).filter((cpu) => cpu !== undefined);
      return [label, { wall: Math.min(...list.map((r) => r.wall)), cpu: cpus.length > 0 ? Math.min(...cpus) : undefined, maxRssKiB: Math.max(...list.map((r) => r.maxRssKiB ?? 0)) || undefined }];
    }),
  );
}

function ensureJq() {
  if (spawnSync('jq', ['--version']).status === 0) return true;
  if (process.getuid?.() === 0) {
    log('jq is missing: installing it with apt-get');
    spawnSync('apt-get', ['install', '-y', 'jq'], { stdio: 'ignore' });
    if (spawnSync('jq', ['--version']).status === 0) return true;
  }
  log('jq is not available (apt-get install -y jq): the jq column is skipped');
  return false;
}

log(`corpus: ${records.toLocaleString('en')} records in ${CORPUS} (generated once, then reused)`);
const manifest = await ensureCorpus(CORPUS, records, log);
log(`corpus: ${manifest.files} gzip files, ${(manifest.rawBytes / 2 ** 20).toFixed(0)} MiB of JSON, ${(manifest.gzBytes / 2 ** 20).toFixed(0)} MiB gzipped`);

// A first replay warms the page cache and checks that every record was read.
const check = JSON.parse(execFileSync('node', [BIN, 'replay', CORPUS, '--format', 'json'], { cwd: ROOT, maxBuffer: 512 * 1024 * 1024 }).toString()).summary;
if (check.recordsRead !== records) throw new Error(`the replay read ${check.recordsRead} records, the corpus holds ${records}`);
log(`replay check: ${check.recordsRead} records read, ${check.recordsMatched} reached a rule (${((100 * check.recordsMatched) / records).toFixed(2)}%), ${check.invalid} invalid`);

const rules = JSON.parse(execFileSync('node', [BIN, 'rules', '--format', 'json'], { cwd: ROOT }).toString());
const names = [...new Set(rules.flatMap((rule) => rule.triggers.flatMap((trigger) => trigger.eventNames)))].sort();

const cores = availableParallelism();
// What `remediate replay` runs without --jobs (cli/replay-pool.ts, defaultJobs): on one or two cores that is `--jobs 1`, measured once.
const defaultIsOneThread = cores <= 2;
log(`${defaultIsOneThread ? '' : 'replay (default jobs), '}replay --jobs 1 (with the SIMD scanner and without), replay --jobs 2, floor and gunzip + JSON.parse, ${runs} rounds:`);
const measured = rounds([
  ...(defaultIsOneThread ? [] : [['replay', () => measure('node', [BIN, 'replay', CORPUS, '--format', 'jsonl'], { rss: true })]]),
  ['replay --jobs 1', () => measure('node', [BIN, 'replay', CORPUS, '--format', 'jsonl', '--jobs', '1'], { rss: true })],
  ['replay --jobs 1, JavaScript scanner', () => measure('node', [BIN, 'replay', CORPUS, '--format', 'jsonl', '--jobs', '1'], { rss: true, extraEnv: { REMEDIATE_NO_SIMD: '1' } })],
  ['replay --jobs 2', () => measure('node', [BIN, 'replay', CORPUS, '--format', 'jsonl', '--jobs', '2'], { rss: true })],
  ['floor', () => measure('node', [join(import.meta.dirname, 'floor.mjs'), CORPUS], { rss: true })],
  ['gunzip + JSON.parse', () => measure('node', [join(import.meta.dirname, 'ceiling.mjs'), CORPUS], { rss: true })],
]);
const single = measured.get('replay --jobs 1');
const replay = defaultIsOneThread ? single : measured.get('replay');
const scalar = measured.get('replay --jobs 1, JavaScript scanner');
const twoWorkers = measured.get('replay --jobs 2');
const floor = measured.get('floor');
const ceiling = measured.get('gunzip + JSON.parse');
let jq;
if (ensureJq()) {
  const filter = `.Records[] | select(${names.map((name) => `.eventName == ${JSON.stringify(name)}`).join(' or ')})`;
  // The corpus may be a symbolic link (to share one between work trees): find lists files under its target only.
  const command = `find ${JSON.stringify(realpathSync(CORPUS))} -name '*.json.gz' -print0 | sort -z | xargs -0 zcat | jq -c ${JSON.stringify(filter).replaceAll('$', '\\$')} > /dev/null`;
  log('zcat | jq (once):');
  jq = measure(command, [], { shell: true, rss: hasTime });
  log(`  jq: ${jq.wall.toFixed(2)} s`);
  if (!hasTime) jq.cpu = undefined;
}

const rate = (result) => records / result.wall;
const rows = [
  ...(defaultIsOneThread ? [['`remediate replay` (default here: one thread) and `--jobs 1`', single]] : [[`\`remediate replay\` (default: ${Math.min(cores, 4)} worker threads)`, replay], ['`remediate replay --jobs 1`', single]]),
  ['`--jobs 1` without SIMD (`REMEDIATE_NO_SIMD=1`)', scalar],
  ['`--jobs 2`: two worker threads', twoWorkers],
  ['floor: gunzip + find each eventName', floor],
  ['gunzip + JSON.parse', ceiling],
  ...(jq ? [['zcat \\| jq', jq]] : []),
];
const out = [];
out.push(`Replay benchmark: ${records.toLocaleString('en')} CloudTrail records (${manifest.files} gzip files, ${(manifest.rawBytes / 2 ** 20).toFixed(0)} MiB JSON), ${check.recordsMatched.toLocaleString('en')} reaching a rule`);
out.push(`Machine: ${cores} core(s), ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ${runs} rounds, best wall and least CPU of each (jq: one run)`);
out.push('');
out.push('| | records/s | wall s | CPU s | CPU × floor | peak RSS |');
out.push('| --- | ---: | ---: | ---: | ---: | ---: |');
const ofFloor = (result) => (result.cpu !== undefined && floor.cpu ? result.cpu / floor.cpu : undefined);
for (const [label, result] of rows) {
  const ratio = ofFloor(result);
  out.push(`| ${label} | ${Math.round(rate(result)).toLocaleString('en')} | ${result.wall.toFixed(2)} | ${result.cpu !== undefined ? result.cpu.toFixed(2) : '-'} | ${ratio !== undefined ? ratio.toFixed(2) : '-'} | ${result.maxRssKiB ? `${(result.maxRssKiB / 1024).toFixed(0)} MiB` : '-'} |`);
}
const overJq = jq ? rate(replay) / rate(jq) : undefined;
const rssMiB = Math.max(replay.maxRssKiB ?? 0, single.maxRssKiB ?? 0, twoWorkers.maxRssKiB ?? 0) / 1024;
const verdict = (ok) => (ok ? 'met' : 'MISSED');
out.push('');
for (const [label, result] of defaultIsOneThread ? [['replay (default: one thread, as --jobs 1)', single]] : [['replay', replay], ['replay --jobs 1', single]]) {
  const ratio = ofFloor(result);
  out.push(ratio !== undefined ? `- ${label} CPU: ${ratio.toFixed(2)}× the floor (target ≤ ${TARGETS.ofFloorCpu}×: ${verdict(ratio <= TARGETS.ofFloorCpu)})` : `- ${label} CPU: not measured (no /usr/bin/time)`);
}
// Each worker thread starts the engine and compiles the rules again: the price of a shorter wall time, where there are cores to spare.
const workersRatio = ofFloor(twoWorkers);
if (workersRatio !== undefined) out.push(`- replay --jobs 2 CPU: ${workersRatio.toFixed(2)}× the floor, ${(twoWorkers.wall / single.wall).toFixed(2)}× the wall time of one thread (each worker starts and compiles the engine again)`);
out.push(overJq !== undefined ? `- replay vs jq: ${overJq.toFixed(1)}× the records/s (target ≥ ${TARGETS.overJq}×: ${verdict(overJq >= TARGETS.overJq)})` : '- replay vs jq: skipped (no jq)');
out.push(`- replay peak RSS: ${rssMiB.toFixed(0)} MiB (target < ${TARGETS.rssMiB} MiB: ${verdict(rssMiB > 0 && rssMiB < TARGETS.rssMiB)})`);
console.log(out.join('\n'));

// Lambda bundles and cold init against their SDK-only floor (issue: deployment).
log('measuring Lambda bundles and cold init...');
console.log('');
console.log(execFileSync('node', [join(import.meta.dirname, 'bundles.mjs')], { cwd: ROOT }).toString().trimEnd());
