/**
 * The real binary (`node bin/remediate.mjs`, bundled by the global setup):
 * exit codes, output formats, filters, stdin, worker threads, and a clean
 * stderr when it is not a terminal.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultJobs } from '../cli/replay-pool.js';
import { loadEvent } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'remediate.mjs');
const FIXTURES = join(import.meta.dirname, 'fixtures-replay');
const WORLD_SSH = join(ROOT, 'events', 'ec2', 'AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
const COMPLIANT = join(ROOT, 'events', 'ec2', 'AuthorizeSecurityGroupIngress-private-postgres-compliant.json');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function remediate(args: readonly string[], input?: Buffer): Promise<Run> {
  if (input !== undefined) {
    const result = spawnSync('node', [BIN, ...args], { cwd: ROOT, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  }
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function jsonl(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const temp = mkdtempSync(join(tmpdir(), 'cli-replay-'));
/** A small S3 tree: three days of gzip log files, each with noise, one violation and one compliant call. */
const tree = join(temp, 'AWSLogs');

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.mjs'))) spawnSync('node', ['scripts/build-cli.mjs'], { cwd: ROOT, stdio: 'inherit' });
  const violation = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json').detail;
  const compliant = loadEvent('ec2/AuthorizeSecurityGroupIngress-private-postgres-compliant.json').detail;
  for (const day of ['01', '02', '03']) {
    const time = `2025-03-${day}T10:00:00Z`;
    const noise = Array.from({ length: 50 }, (_, index) => ({ ...compliant, eventName: 'Decrypt', eventSource: 'kms.amazonaws.com', eventID: `noise-${day}-${index}`, eventTime: time }));
    const records = [...noise.slice(0, 25), { ...violation, eventID: `v-${day}`, eventTime: time }, ...noise.slice(25), { ...compliant, eventID: `c-${day}`, eventTime: time }];
    const dir = join(tree, '111122223333', 'CloudTrail', 'us-east-1', '2025', '03', day);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `111122223333_CloudTrail_us-east-1_202503${day}T1000Z_Ab12Cd34Ef56Gh78.json.gz`), gzipSync(JSON.stringify({ Records: records })));
  }
  writeFileSync(join(temp, 'bad-config.yml'), 'defaultMode: sometimes\n');
  writeFileSync(join(temp, 'truncated.json.gz'), gzipSync(JSON.stringify({ Records: [violation, violation, violation] })).subarray(0, 60));
});

afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('remediate replay (the real binary)', () => {
  describe('exit codes', () => {
    it('exits 0 and writes jsonl (not a terminal) and nothing on stderr for a clean run', async () => {
      const run = await remediate(['replay', WORLD_SSH]);

      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(jsonl(run.stdout)).toMatchObject([{ rule: 'sg-open-ingress', verdict: 'violation', source: WORLD_SSH }]);
    });

    it.each([
      ['no input', ['replay']],
      ['an unknown format', ['replay', WORLD_SSH, '--format', 'xml']],
      ['an unknown rule', ['replay', WORLD_SSH, '--rule', 'no-such-rule']],
      ['a --since that is not ISO 8601', ['replay', WORLD_SSH, '--since', 'yesterday']],
      ['a --since after --until', ['replay', WORLD_SSH, '--since', '2025-03-02', '--until', '2025-03-01']],
      ['an unknown --fail-on', ['replay', WORLD_SSH, '--fail-on', 'compliant']],
      ['an unknown option', ['replay', WORLD_SSH, '--colour']],
      ['an unknown command', ['replays', WORLD_SSH]],
    ])('exits 1 on a usage error: %s', async (_name, args) => {
      const run = await remediate(args);

      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^remediate: /);
    });

    it('exits 1 on an invalid config file, naming the key', async () => {
      const run = await remediate(['replay', WORLD_SSH, '--config', join(temp, 'bad-config.yml')]);

      expect(run.code).toBe(1);
      expect(run.stderr).toContain('defaultMode');
    });

    it('exits 2 when an input cannot be read, after replaying the others', async () => {
      const missing = join(temp, 'missing.json');

      const run = await remediate(['replay', missing, WORLD_SSH, join(temp, 'truncated.json.gz')]);

      expect(run.code).toBe(2);
      expect(jsonl(run.stdout).map((line) => [line['source'], line['verdict']])).toStrictEqual([
        [missing, 'invalid'],
        [WORLD_SSH, 'violation'],
        [join(temp, 'truncated.json.gz'), 'invalid'],
      ]);
    });

    it('exits 3 with --fail-on violation when a violation is found, and 0 when none is', async () => {
      const failing = await remediate(['replay', WORLD_SSH, '--fail-on', 'violation']);
      const passing = await remediate(['replay', COMPLIANT, '--fail-on', 'violation']);

      expect(failing.code).toBe(3);
      expect(passing.code).toBe(0);
    });
  });

  describe('formats', () => {
    it('writes one JSON document with the decisions and the summary', async () => {
      const run = await remediate(['replay', tree, '--format', 'json', '--rule', 'sg-open-ingress']);
      const document = JSON.parse(run.stdout) as { decisions: Record<string, unknown>[]; summary: Record<string, unknown> };

      expect(run.code).toBe(0);
      expect(document.decisions.map((line) => line['verdict'])).toStrictEqual(['violation', 'compliant', 'violation', 'compliant', 'violation', 'compliant']);
      expect(document.summary).toStrictEqual({
        inputs: 3,
        unreadable: 0,
        recordsRead: 156,
        recordsFilteredOut: 0,
        recordsMatched: 6,
        invalid: 0,
        byVerdict: { violation: 3, compliant: 3 },
        byRule: { 'sg-open-ingress': { violation: 3, compliant: 3 } },
        byAccount: { '111122223333': { violation: 3, compliant: 3 } },
        violationsBySeverity: { high: 3 },
      });
    });

    it('writes a Markdown report with each violation and its API calls, the other decisions and the summary', async () => {
      const run = await remediate(['replay', WORLD_SSH, COMPLIANT, '--format', 'markdown', '--rule', 'sg-open-ingress']);

      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^# Remediation dry run\n/);
      expect(run.stdout).toContain('## Violations');
      expect(run.stdout).toContain('### 1. sg-open-ingress (high): AuthorizeSecurityGroupIngress');
      expect(run.stdout).toContain('1. ec2:RevokeSecurityGroupIngress {"GroupId":"sg-0a1b2c3d4e5f67890","SecurityGroupRuleIds":["sgr-0f1e2d3c4b5a69788"]}');
      expect(run.stdout).toContain('## Other decisions');
      expect(run.stdout).toContain('| compliant | sg-open-ingress | AuthorizeSecurityGroupIngress |');
      expect(run.stdout).toContain('## Summary');
      expect(run.stdout).toContain('| sg-open-ingress | 1 | 0 | 1 | 0 |');
    });

    it('writes a table with the violations first, one row per decision, and a summary by rule and verdict', async () => {
      const run = await remediate(['replay', tree, '--format', 'table', '--rule', 'sg-open-ingress', '--width', '200']);

      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Violations \(3\), most severe first\n/);
      expect(run.stdout).toMatch(/^high +sg-open-ingress +.*would-propose$/m);
      expect(run.stdout).toContain('Summary: 156 record(s) read from 3 input(s), 0 filtered out by --since/--until/--account, 6 reached a rule, 0 invalid');
      expect(run.stdout).toMatch(/sg-open-ingress +3 +0 +3 +0/);
    });
  });

  describe('filters and inputs', () => {
    it('keeps only events in [--since, --until)', async () => {
      const run = await remediate(['replay', tree, '--since', '2025-03-02', '--until', '2025-03-03T00:00:00Z']);

      expect(jsonl(run.stdout).map((line) => line['eventId'])).toStrictEqual(['v-02', 'c-02']);
    });

    it('runs only the rules named with --rule', async () => {
      const run = await remediate(['replay', WORLD_SSH, '--rule', 'iam-attached-admin-policy']);

      expect(run.code).toBe(0);
      expect(run.stdout).toBe('');
    });

    it('reads - from stdin, gzip included', async () => {
      const run = await remediate(['replay', '-', '--format', 'jsonl'], gzipSync(JSON.stringify({ Records: [loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json').detail] })));

      expect(run.code).toBe(0);
      expect(jsonl(run.stdout)).toMatchObject([{ verdict: 'violation', source: 'stdin:1:Records[0]' }]);
    });

    it('reads lookup-events output and Lake exports', async () => {
      const run = await remediate(['replay', FIXTURES, '--format', 'jsonl', '--rule', 'sg-open-ingress']);

      expect(run.code).toBe(0);
      expect(jsonl(run.stdout).map((line) => [line['source'], line['verdict']])).toStrictEqual([
        [`${join(FIXTURES, 'lake-export.jsonl')}:1`, 'violation'],
        [`${join(FIXTURES, 'lake-export.jsonl')}:3`, 'compliant'],
        [`${join(FIXTURES, 'lookup-events.json')}:3:Events[0]`, 'violation'],
      ]);
    });

    it('prints the same lines in the same order with worker threads as on one thread', async () => {
      const single = await remediate(['replay', tree, '--jobs', '1']);
      const workers = await remediate(['replay', tree, '--jobs', '3']);

      expect(workers.code).toBe(0);
      expect(workers.stderr).toBe('');
      expect(workers.stdout).toBe(single.stdout);
      expect(jsonl(workers.stdout)).toHaveLength(6);
    });

    it('uses worker threads by default only with more than two cores, one per core up to four', () => {
      expect([1, 2, 3, 4, 8, 64].map((cores) => defaultJobs(cores))).toStrictEqual([1, 1, 3, 4, 4, 4]);
    });
  });
});

describe('remediate rules (the real binary)', () => {
  it('lists every rule with its EventBridge pattern as JSON', async () => {
    const run = await remediate(['rules', '--format', 'json']);
    const rules = JSON.parse(run.stdout) as { id: string; pattern: Record<string, unknown> }[];

    expect(run.code).toBe(0);
    expect(rules.find((rule) => rule.id === 'sg-open-ingress')?.pattern).toStrictEqual({
      source: ['aws.ec2'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: { eventSource: ['ec2.amazonaws.com'], eventName: ['AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules'] },
    });
  });
});
