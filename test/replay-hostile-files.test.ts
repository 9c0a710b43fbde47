/**
 * Hostile files given to `remediate replay`: none can hang the run or exceed
 * its memory bound, and each is reported with the reason, never silently
 * dropped. Mutations these tests catch: listing directory entries with `stat`
 * instead of `lstat` (a FIFO hangs the run, a link to /dev/zero never ends);
 * opening without `O_NONBLOCK` or without checking the open file; following
 * links out of the paths the user named; no cap on a record; no cap on how far
 * gzip may inflate.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../cli/format.js';
import { CHUNK_BYTES, MAX_INFLATE_RATIO, MIN_INFLATE_LIMIT_BYTES, listInputs, openFile, readRecords, readSource, type InputRecord } from '../cli/inputs.js';
import { main } from '../cli/main.js';
import { EVENTBRIDGE_MAX_EVENT_BYTES } from '../cli/records.js';
import { replayInput } from '../cli/replay-input.js';
import { decideRecord, type ReplayLine } from '../cli/replay.js';
import { eventNameGate } from '../cli/gate.js';
import { MAX_RECORD_BYTES, type NameGate } from '../cli/scan.js';
import { parseConfig } from '../engine/config.js';
import { allRules } from '../remediations/registry.js';
import { loadEvent } from './helpers/fixtures.js';
import { singleStringGzipBomb } from './helpers/hostile-input.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'remediate.mjs');
/** What the bounded replay stays under: the default run's documented peak (docs/replay.md, Scale) with room to spare. */
const MEMORY_BOUND_KIB = 300 * 1024;

const sgRules = allRules.filter((rule) => rule.id === 'sg-open-ingress');
const options = { rules: sgRules, config: parseConfig({}, allRules), env: {} };
const worldSsh = () => loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json').detail as Record<string, unknown>;

const temp = mkdtempSync(join(tmpdir(), 'replay-hostile-'));
/** The tree the user names; `outside` is not part of it. */
const logs = join(temp, 'logs');
const outside = join(temp, 'outside');
let socket: Server | undefined;

beforeAll(async () => {
  mkdirSync(logs);
  mkdirSync(outside);
  writeFileSync(join(logs, 'a-good.json'), JSON.stringify(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json')));
  expect(spawnSync('mkfifo', [join(logs, 'b-fifo.json')]).status).toBe(0);
  symlinkSync('/dev/zero', join(logs, 'c-zero.json'));
  writeFileSync(join(outside, 'secret.json'), JSON.stringify(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json')));
  symlinkSync(join(outside, 'secret.json'), join(logs, 'd-outside.json'));
  symlinkSync(join(logs, 'a-good.json'), join(logs, 'e-inside.json'));
  symlinkSync('b-fifo.json', join(logs, 'f-fifo-link.json'));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(logs, 'g-socket.json'), resolve));
  socket = server;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (socket ? socket.close(() => resolve()) : resolve()));
  rmSync(temp, { recursive: true, force: true });
});

function fakeIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => void stdout.push(text), err: (text) => void stderr.push(text), stdoutIsTTY: false, stderrIsTTY: false };
}

function jsonl(lines: readonly string[]): Record<string, unknown>[] {
  return lines.flatMap((text) => text.split('\n')).filter((line) => line.length > 0).map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

async function decided(records: readonly InputRecord[]): Promise<ReplayLine[]> {
  const lines: ReplayLine[] = [];
  for (const record of records) lines.push(...((await decideRecord(record, options)) ?? []));
  return lines;
}

function jsonLine(record: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(record)}\n`);
}

describe('replay of hostile files', () => {
  describe('what is not a regular file', () => {
    it('skips a FIFO and a link to /dev/zero named *.json with the reason, and replays the rest, within a second', { timeout: 1_000 }, async () => {
      const io = fakeIo();

      const code = await main(['replay', logs, '--format', 'jsonl', '--rule', 'sg-open-ingress'], io);

      expect(code).toBe(2);
      expect(io.stderr).toStrictEqual([]);
      expect(jsonl(io.stdout).map((line) => [line['source'], line['verdict'], line['error'] ?? line['rule']])).toStrictEqual([
        [join(logs, 'a-good.json'), 'violation', 'sg-open-ingress'],
        [join(logs, 'b-fifo.json'), 'invalid', 'unreadable: a FIFO, not a regular file: skipped'],
        [join(logs, 'c-zero.json'), 'invalid', 'unreadable: a symbolic link to /dev/zero, outside the input paths: not followed'],
        [join(logs, 'd-outside.json'), 'invalid', `unreadable: a symbolic link to ${join(outside, 'secret.json')}, outside the input paths: not followed`],
        [join(logs, 'e-inside.json'), 'violation', 'sg-open-ingress'],
        [join(logs, 'f-fifo-link.json'), 'invalid', `unreadable: a symbolic link to ${join(logs, 'b-fifo.json')}, a FIFO, not a regular file: skipped`],
        [join(logs, 'g-socket.json'), 'invalid', 'unreadable: a socket, not a regular file: skipped'],
      ]);
    });

    it('skips a device or a FIFO named on the command line, and says how to replay a pipe', { timeout: 1_000 }, async () => {
      const inputs = await listInputs(['/dev/zero', join(logs, 'b-fifo.json')]);

      expect(inputs).toStrictEqual([
        { kind: 'unreadable', path: '/dev/zero', error: 'a character device, not a regular file: skipped' },
        { kind: 'unreadable', path: join(logs, 'b-fifo.json'), error: 'a FIFO, not a regular file: skipped (to replay a pipe, send it to stdin: -)' },
      ]);
    });

    it('follows a link named on the command line: the user chose it', async () => {
      const inputs = await listInputs([join(logs, 'd-outside.json')]);

      expect(inputs).toMatchObject([{ kind: 'file', path: join(logs, 'd-outside.json') }]);
    });

    it('refuses, once open, a file that was swapped for a FIFO after it was listed', { timeout: 1_000 }, async () => {
      const name = join(logs, 'b-fifo.json');

      const records = await collect(readSource(openFile(name), name));

      expect(records).toStrictEqual([{ origin: name, error: 'unreadable: a FIFO, not a regular file: skipped', unreadable: true }]);
    });
  });

  describe('records EventBridge could not carry', () => {
    it(`reports a record over EventBridge's 256 KiB event size limit as invalid, with the reason`, async () => {
      const padded = { ...worldSsh(), requestParameters: { ...(worldSsh()['requestParameters'] as object), padding: 'x'.repeat(300 * 1024) } };
      const file = join(temp, 'big.jsonl');
      writeFileSync(file, Buffer.concat([jsonLine(padded), jsonLine(worldSsh())]));

      const lines = await decided(await collect(readRecords([file])));

      expect(lines.map((line) => [line.source, line.verdict, line.verdict === 'invalid' ? line.error : undefined])).toStrictEqual([
        [
          `${file}:1`,
          'invalid',
          expect.stringMatching(/^the event is 3\d\d,\d{3} bytes \(\d+\.\d KiB\), over EventBridge's 262,144 bytes \(256 KiB\) event size limit: CloudTrail cannot deliver it, so no rule would ever see it$/),
        ],
        [`${file}:2`, 'violation', undefined],
      ]);
    });

    it('decides a record at the limit, however much whitespace it is written with: only one certainly too large is refused', async () => {
      const base = JSON.stringify(worldSsh()).length;
      const padded = { ...worldSsh(), requestParameters: { ...(worldSsh()['requestParameters'] as object), padding: 'x'.repeat(EVENTBRIDGE_MAX_EVENT_BYTES - base - 20) } };
      const file = join(temp, 'at-limit.json');
      writeFileSync(file, `{${' '.repeat(64 * 1024)}${JSON.stringify(padded).slice(1)}\n`);

      const lines = await decided(await collect(readRecords([file])));

      expect(lines.map((line) => line.verdict)).toStrictEqual(['violation']);
    });

    it('reports a record larger than a record may take as written, without keeping it, in a log file or a JSON Lines file', async () => {
      const huge = { ...worldSsh(), padding: 'x'.repeat(MAX_RECORD_BYTES + 1) };
      const log = join(temp, 'huge-log.json');
      const lines = join(temp, 'huge-lines.jsonl');
      writeFileSync(log, JSON.stringify({ Records: [worldSsh(), huge, worldSsh()] }));
      writeFileSync(lines, `${JSON.stringify(huge)}\n`);

      const records = await collect(readRecords([log, lines]));
      const size = Buffer.byteLength(JSON.stringify(huge)).toLocaleString('en-US');

      expect(records.map((record) => ('error' in record ? [record.origin, record.error] : [record.origin, 'value']))).toStrictEqual([
        [`${log}:1:Records[0]`, 'value'],
        [`${log}:1:Records[1]`, `the record is ${size} bytes (1.0 MiB) as written, over the 1,048,576 bytes (1 MiB) a record may take: no event that large reaches EventBridge, so it is not read`],
        [`${log}:1:Records[2]`, 'value'],
        [lines, `the record is ${size} bytes (1.0 MiB) as written, over the 1,048,576 bytes (1 MiB) a record may take: no event that large reaches EventBridge, so it is not read`],
      ]);
    });

    it('counts, unparsed and unreported as before, an oversized record that no rule lists', async () => {
      const gate = eventNameGate(sgRules) as NameGate;
      const noise = { ...worldSsh(), eventName: 'PutObject', eventSource: 's3.amazonaws.com', padding: 'x'.repeat(MAX_RECORD_BYTES + 1) };
      const lines: ReplayLine[] = [];

      const counts = await replayInput(Readable.from([Buffer.from(JSON.stringify({ Records: [noise, worldSsh()] }))]), 'log.json', { ...options, gate }, {
        lines: (batch) => void lines.push(...batch),
      });

      expect(counts.records).toBe(2);
      expect(lines.map((line) => [line.source, line.verdict])).toStrictEqual([['log.json:1:Records[1]', 'violation']]);
    });
  });

  describe('a gzip bomb', () => {
    it('stops a 10 GiB single-string gzip at its inflate allowance and reports it, with peak memory under the bound', async () => {
      const rssFile = join(temp, 'max-rss');
      const preload = join(temp, 'max-rss.mjs');
      writeFileSync(preload, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
      const child = spawn('node', ['--import', pathToFileURL(preload).href, BIN, 'replay', '-', '--format', 'jsonl'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

      // The replay stops reading long before the end: the broken pipe that follows is expected.
      await pipeline(Readable.from(singleStringGzipBomb(10 * 1024 ** 3)), child.stdin).catch(() => undefined);
      const code = await exited;
      const lines = jsonl([Buffer.concat(stdout).toString('utf8')]);
      const error = String(lines[0]?.['error']);
      const inflated = Number(/\(([\d,]+) bytes/.exec(error)?.[1]?.replaceAll(',', ''));

      expect(Buffer.concat(stderr).toString('utf8')).toBe('');
      expect(code).toBe(2);
      expect(lines).toStrictEqual([{ verdict: 'invalid', error: expect.any(String), source: 'stdin' }]);
      expect(error).toMatch(
        new RegExp(`^unreadable: gzip data inflates more than ${MAX_INFLATE_RATIO}-fold \\([\\d,]+ bytes \\([\\d.]+ MiB\\) from [\\d,]+ bytes \\([\\d.]+ [KM]iB\\)\\), as a decompression bomb does: the rest of the input is skipped$`),
      );
      // It stopped at its allowance, within one inflated chunk, far short of the 10 GiB.
      expect(inflated).toBeGreaterThan(MIN_INFLATE_LIMIT_BYTES);
      expect(inflated).toBeLessThanOrEqual(MIN_INFLATE_LIMIT_BYTES + CHUNK_BYTES);
      expect(Number(readFileSync(rssFile, 'utf8'))).toBeLessThan(MEMORY_BOUND_KIB);
    });
  });
});
