/**
 * The replay's CI gate (`--fail-on`): it fails on what it finds, and on a
 * replay that proves nothing (nothing read, invalid records, unreadable
 * inputs) unless told to accept that; and the summary's counts.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { runCli, type Captured } from './helpers/cli.js';
import { loadEvent } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'remediate.mjs');
/** One violation of sg-open-ingress, severity high. */
const HIGH = join(ROOT, 'events', 'ec2', 'AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
/** One violation of ami-shared-untrusted-account, severity medium (and a compliant ami-public decision). */
const MEDIUM = join(ROOT, 'events', 'ec2', 'ModifyImageAttribute-shared-one-account.json');
const COMPLIANT = join(ROOT, 'events', 'ec2', 'AuthorizeSecurityGroupIngress-private-postgres-compliant.json');

function replay(args: readonly string[]): Promise<Captured> {
  return runCli(['replay', '--format', 'jsonl', ...args]);
}

/** The jsonl lines written (one `out` call may carry several). */
function jsonLines(stdout: readonly string[]): Record<string, unknown>[] {
  return stdout
    .join('\n')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const temp = mkdtempSync(join(tmpdir(), 'cli-gate-'));
const EMPTY_DIR = join(temp, 'empty');
const EMPTY_ARRAY = join(temp, 'empty-array.json');
const EMPTY_RECORDS = join(temp, 'empty-records.json');
const TEXT = join(temp, 'notes.txt');
const MISSING = join(temp, 'missing.json');
/** Three days of one violation each, and a record no rule reads. */
const DAYS = join(temp, 'days.json');
const DAYS_2 = join(temp, 'days-2.json');

const HEAD_EMPTY = (inputs: number) => `${'0'} record(s) read from ${inputs} input(s), 0 filtered out by --since/--until/--account, 0 reached a rule, 0 invalid`;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.mjs'))) spawnSync('node', ['scripts/build-cli.mjs'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(EMPTY_DIR);
  writeFileSync(EMPTY_ARRAY, '[]\n');
  writeFileSync(EMPTY_RECORDS, '{"Records":[]}\n');
  writeFileSync(TEXT, 'these are notes, not CloudTrail\n');
  const violation = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json').detail;
  const records = ['01', '02', '03'].map((day) => ({ ...violation, eventID: `v-${day}`, eventTime: `2025-03-${day}T10:00:00Z` }));
  const noise = { ...violation, eventName: 'Decrypt', eventSource: 'kms.amazonaws.com', eventID: 'noise', eventTime: '2025-03-02T10:00:00Z' };
  writeFileSync(DAYS, JSON.stringify({ Records: [...records, noise] }));
  writeFileSync(DAYS_2, JSON.stringify({ Records: records.map((record) => ({ ...record, eventID: `${record.eventID}-b` })) }));
});

afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('remediate replay --fail-on', () => {
  describe('a replay that read nothing', () => {
    it.each([
      ['an empty directory', EMPTY_DIR, 0],
      ['a file holding []', EMPTY_ARRAY, 1],
      ['a file holding {"Records":[]}', EMPTY_RECORDS, 1],
    ])('fails the gate with exit 5: %s', async (_name, input, inputs) => {
      const result = await replay([input, '--fail-on', 'violation']);

      expect(EXIT.noRecords).toBe(5);
      expect(result).toStrictEqual({
        code: EXIT.noRecords,
        stdout: [],
        stderr: [`remediate: --fail-on violation: failed, no record was read (--allow-empty accepts this); ${HEAD_EMPTY(inputs)}`],
      });
    });

    it.each([EMPTY_DIR, EMPTY_ARRAY, EMPTY_RECORDS])('passes with --allow-empty: %s', async (input) => {
      const result = await replay([input, '--fail-on', 'high', '--allow-empty']);

      expect(result.code).toBe(EXIT.ok);
      expect(result.stderr).toStrictEqual([`remediate: --fail-on high: passed; ${HEAD_EMPTY(input === EMPTY_DIR ? 0 : 1)}`]);
    });

    it('exits 0 without --fail-on, as before', async () => {
      expect(await replay([EMPTY_DIR, EMPTY_ARRAY, EMPTY_RECORDS])).toStrictEqual({ code: EXIT.ok, stdout: [], stderr: [] });
    });
  });

  describe('invalid records and unreadable inputs', () => {
    it('fails the gate with exit 6 on a text file that is not JSON, and passes with --allow-invalid', async () => {
      const failing = await replay([TEXT, COMPLIANT, '--fail-on', 'violation']);
      const passing = await replay([TEXT, COMPLIANT, '--fail-on', 'violation', '--allow-invalid']);
      const head = '2 record(s) read from 2 input(s), 0 filtered out by --since/--until/--account, 1 reached a rule, 1 invalid';

      expect(EXIT.invalidRecords).toBe(6);
      expect(failing.code).toBe(EXIT.invalidRecords);
      expect(failing.stderr).toStrictEqual([`remediate: --fail-on violation: failed, 1 invalid record(s) (--allow-invalid accepts this); ${head}`]);
      expect(jsonLines(failing.stdout)).toMatchObject([
        { verdict: 'invalid', source: `${TEXT}:1` },
        { verdict: 'compliant', rule: 'sg-open-ingress' },
      ]);
      expect(passing.code).toBe(EXIT.ok);
      expect(passing.stderr).toStrictEqual([`remediate: --fail-on violation: passed; ${head}`]);
    });

    it('still finds violations beside an invalid record with --allow-invalid', async () => {
      const result = await replay([TEXT, HIGH, '--fail-on', 'violation', '--allow-invalid']);

      expect(result.code).toBe(EXIT.failOn);
      expect(result.stderr).toStrictEqual(['remediate: --fail-on violation: failed, 1 violation(s); 2 record(s) read from 2 input(s), 0 filtered out by --since/--until/--account, 1 reached a rule, 1 invalid']);
    });

    it('fails the gate with exit 2 on an unreadable input, and passes with --allow-invalid', async () => {
      const failing = await replay([MISSING, COMPLIANT, '--fail-on', 'violation']);
      const passing = await replay([MISSING, COMPLIANT, '--fail-on', 'violation', '--allow-invalid']);
      const head = '1 record(s) read from 2 input(s), 0 filtered out by --since/--until/--account, 1 reached a rule, 1 invalid, 1 unreadable input(s)';

      expect(failing.code).toBe(EXIT.unreadable);
      expect(failing.stderr).toStrictEqual([`remediate: --fail-on violation: failed, 1 input(s) could not be read (--allow-invalid accepts this); ${head}`]);
      expect(passing.code).toBe(EXIT.ok);
      expect(passing.stderr).toStrictEqual([`remediate: --fail-on violation: passed; ${head}`]);
    });

    it('keeps exit 0 for invalid records and exit 2 for an unreadable input without --fail-on, as before', async () => {
      expect((await replay([TEXT, COMPLIANT])).code).toBe(EXIT.ok);
      expect((await replay([MISSING, COMPLIANT])).code).toBe(EXIT.unreadable);
    });

    it('names the unreadable input first when it is also the reason nothing was read', async () => {
      expect((await replay([MISSING, '--fail-on', 'violation'])).code).toBe(EXIT.unreadable);
      expect((await replay([MISSING, '--fail-on', 'violation', '--allow-invalid'])).code).toBe(EXIT.noRecords);
      expect((await replay([MISSING, '--fail-on', 'violation', '--allow-invalid', '--allow-empty'])).code).toBe(EXIT.ok);
    });
  });

  describe('severity levels', () => {
    it('--fail-on high ignores a medium violation and fails on a high one', async () => {
      const medium = await replay([MEDIUM, '--fail-on', 'high']);
      const high = await replay([MEDIUM, HIGH, '--fail-on', 'high']);

      expect(jsonLines(medium.stdout).map((line) => [line['verdict'], line['severity']])).toStrictEqual([
        ['compliant', 'low'],
        ['violation', 'medium'],
      ]);
      expect(medium.code).toBe(EXIT.ok);
      expect(medium.stderr).toStrictEqual(['remediate: --fail-on high: passed; 1 record(s) read from 1 input(s), 0 filtered out by --since/--until/--account, 1 reached a rule, 0 invalid']);
      expect(high.code).toBe(EXIT.failOn);
      expect(high.stderr).toStrictEqual(['remediate: --fail-on high: failed, 1 violation(s) of severity high or higher; 2 record(s) read from 2 input(s), 0 filtered out by --since/--until/--account, 2 reached a rule, 0 invalid']);
    });

    it.each([
      ['violation', MEDIUM, EXIT.failOn],
      ['low', MEDIUM, EXIT.failOn],
      ['medium', MEDIUM, EXIT.failOn],
      ['critical', HIGH, EXIT.ok],
      ['medium', COMPLIANT, EXIT.ok],
    ])('--fail-on %s on %s exits %i', async (level, input, code) => {
      expect((await replay([input, '--fail-on', level])).code).toBe(code);
    });
  });
});

describe('the replay summary', () => {
  it('counts records read, filtered out by --since/--until/--account, that reached a rule, and invalid', async () => {
    const { code, stdout } = await runCli(['replay', DAYS, TEXT, '--format', 'json', '--since', '2025-03-02', '--until', '2025-03-03']);
    const document = JSON.parse(stdout.join('\n')) as { decisions: Record<string, unknown>[]; summary: Record<string, unknown> };

    expect(code).toBe(EXIT.ok);
    expect(document.decisions.map((line) => [line['eventId'] ?? line['source'], line['verdict']])).toStrictEqual([
      ['v-02', 'violation'],
      [`${TEXT}:1`, 'invalid'],
    ]);
    expect(document.summary).toStrictEqual({
      inputs: 2,
      unreadable: 0,
      recordsRead: 5,
      recordsFilteredOut: 2,
      recordsMatched: 1,
      invalid: 1,
      byVerdict: { violation: 1, invalid: 1 },
      byRule: { 'sg-open-ingress': { violation: 1 } },
      byAccount: { '111122223333': { violation: 1 } },
      violationsBySeverity: { high: 1 },
    });
  });

  it('counts the records filtered out in worker threads too (the real binary)', async () => {
    const { stdout } = await promisify(execFile)('node', [BIN, 'replay', DAYS, DAYS_2, '--format', 'json', '--jobs', '2', '--since', '2025-03-02'], { cwd: ROOT });
    const document = JSON.parse(stdout) as { decisions: Record<string, unknown>[]; summary: Record<string, unknown> };

    expect(document.decisions.map((line) => line['eventId'])).toStrictEqual(['v-02', 'v-03', 'v-02-b', 'v-03-b']);
    expect(document.summary).toMatchObject({ inputs: 2, recordsRead: 7, recordsFilteredOut: 2, recordsMatched: 4, invalid: 0 });
  });
});
