/**
 * `--since` and `--until` pass over the date folders of a CloudTrail S3 tree
 * (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`) instead of opening
 * every file, and still replay every event of the window, including one
 * delivered after the day it happened. Mutations these tests catch: walking
 * every folder (a corrupt file in a pruned folder would then be reported),
 * pruning `--until` on the folder's start without the delivery lag (the late
 * event would be lost), pruning folders outside the CloudTrail layout.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { dateFolderSpan, DELIVERY_LAG_MS, listInputs } from '../cli/inputs.js';
import { runCli } from './helpers/cli.js';
import { loadEvent } from './helpers/fixtures.js';

const temp = mkdtempSync(join(tmpdir(), 'replay-prune-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const TRAIL = join(temp, 'AWSLogs', '111122223333', 'CloudTrail', 'us-east-1');

/** One log file of CloudTrail's shape (`{"Records": [...]}`, gzipped) holding a world-open SSH rule at `eventTime`. */
function logFile(folder: string, name: string, eventTime: string): void {
  const { detail } = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, name), gzipSync(JSON.stringify({ Records: [{ ...detail, eventTime, eventID: `e-${eventTime}` }] })));
}

// 2025-03-01: an event of the day; a corrupt file that only a walk of the folder would report.
logFile(join(TRAIL, '2025', '03', '01'), '111122223333_CloudTrail_us-east-1_20250301T1200Z_a.json.gz', '2025-03-01T11:58:00Z');
writeFileSync(join(TRAIL, '2025', '03', '01', '111122223333_CloudTrail_us-east-1_20250301T1300Z_corrupt.json.gz'), 'not gzip, not JSON');
// 2025-03-02: an event of 2025-03-01 delivered just after midnight, and one of the day.
logFile(join(TRAIL, '2025', '03', '02'), '111122223333_CloudTrail_us-east-1_20250302T0005Z_late.json.gz', '2025-03-01T23:59:00Z');
logFile(join(TRAIL, '2025', '03', '02'), '111122223333_CloudTrail_us-east-1_20250302T1200Z_b.json.gz', '2025-03-02T11:58:00Z');
// 2025-03-05, and a folder of another year: far outside the windows below.
logFile(join(TRAIL, '2025', '03', '05'), '111122223333_CloudTrail_us-east-1_20250305T1200Z_c.json.gz', '2025-03-05T11:58:00Z');
logFile(join(TRAIL, '2024', '12', '31'), '111122223333_CloudTrail_us-east-1_20241231T1200Z_d.json.gz', '2024-12-31T11:58:00Z');
// A folder named like a year outside the CloudTrail layout is never pruned.
logFile(join(temp, 'exports', '2019'), 'picked.json.gz', '2025-03-02T08:00:00Z');

type Line = { eventTime?: string; verdict?: string; source?: string };
const jsonl = (stdout: readonly string[]): Line[] => stdout.join('\n').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Line);
const files = async (window?: { since?: number; until?: number }) => (await listInputs([temp], window)).map((input) => (input.kind === 'file' ? relative(temp, input.path) : input.kind));

describe('date folders of a CloudTrail tree', () => {
  it('are recognised only in the S3 layout, with the UTC span of their year, month or day', () => {
    expect(dateFolderSpan(join(TRAIL, '2025', '03', '02'))).toStrictEqual({ start: Date.parse('2025-03-02T00:00:00Z'), end: Date.parse('2025-03-03T00:00:00Z') });
    expect(dateFolderSpan(join(TRAIL, '2025', '12'))).toStrictEqual({ start: Date.parse('2025-12-01T00:00:00Z'), end: Date.parse('2026-01-01T00:00:00Z') });
    expect(dateFolderSpan(join(TRAIL, '2025'))).toStrictEqual({ start: Date.parse('2025-01-01T00:00:00Z'), end: Date.parse('2026-01-01T00:00:00Z') });
    expect(dateFolderSpan(join(temp, 'exports', '2019'))).toBeUndefined();
    expect(dateFolderSpan(join(TRAIL, '2025', '13'))).toBeUndefined();
    expect(dateFolderSpan(TRAIL)).toBeUndefined();
  });

  it('without a window, every file is listed', async () => {
    expect(await files()).toHaveLength(7);
  });

  it('--since passes over the folders that end before it; --until over those that start a full delivery lag after it', async () => {
    // 2025-03-01's folder ends at midnight, an hour (for clocks) before this `since`.
    const since = Date.parse('2025-03-02T06:00:00Z');
    const until = Date.parse('2025-03-03T00:00:00Z');
    expect(DELIVERY_LAG_MS).toBe(86_400_000);
    expect(await files({ since, until })).toStrictEqual([
      'AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/02/111122223333_CloudTrail_us-east-1_20250302T0005Z_late.json.gz',
      'AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/02/111122223333_CloudTrail_us-east-1_20250302T1200Z_b.json.gz',
      'exports/2019/picked.json.gz',
    ]);
  });

  it('replays exactly the window: the event delivered the next day is in, the pruned folder\'s corrupt file is never opened', async () => {
    const wide = await runCli(['replay', temp, '--format', 'jsonl', '--rule', 'sg-open-ingress', '--since', '2025-03-01T00:00:00Z', '--until', '2025-03-02T00:00:00Z']);
    const wideLines = jsonl(wide.stdout);
    // 2025-03-01's folder is walked (its corrupt file is reported), and 2025-03-02's for the late delivery; nothing of 2025-03-05 or 2024 is read.
    expect(wideLines.filter((line) => line.verdict === 'violation').map((line) => line.eventTime).sort()).toStrictEqual(['2025-03-01T11:58:00Z', '2025-03-01T23:59:00Z']);
    expect(wideLines.filter((line) => line.source?.includes('_corrupt.json.gz')).map((line) => line.verdict)).toStrictEqual(['invalid']);
    expect(wide.code).toBe(0);

    const narrow = await runCli(['replay', temp, '--format', 'jsonl', '--rule', 'sg-open-ingress', '--since', '2025-03-02T06:00:00Z']);
    const narrowLines = jsonl(narrow.stdout);
    expect(narrowLines.filter((line) => line.verdict === 'violation').map((line) => line.eventTime).sort()).toStrictEqual(['2025-03-02T08:00:00Z', '2025-03-02T11:58:00Z', '2025-03-05T11:58:00Z']);
    expect(narrowLines.filter((line) => line.source?.includes('_corrupt.json.gz'))).toStrictEqual([]);
  });
});
