/**
 * What `remediate replay` prints for people: the table (width, order, colour,
 * `--only violations`, totals), the Markdown report (every exempt decision),
 * the HTML page (escaping hostile event text) and SARIF, through `main`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lineStore, type Io } from '../cli/format.js';
import { main } from '../cli/main.js';
import type { ReplayLine } from '../cli/replay.js';
import { displayWidth, terminalText, wrapCommand } from '../cli/terminal.js';
import { awsCliCommand } from '../engine/step-text.js';
import type { PlanStep } from '../engine/types.js';
import { loadEvent } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');
const EVENTS = join(ROOT, 'events');
const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low'];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function replay(args: readonly string[], options: { readonly tty?: boolean; readonly columns?: number; readonly env?: Record<string, string> } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    stdoutIsTTY: options.tty ?? false,
    stderrIsTTY: false,
    ...(options.columns !== undefined ? { stdoutColumns: options.columns } : {}),
  };
  const code = await main(['replay', ...args], io, options.env ?? {});
  return { code, stdout: out.length > 0 ? `${out.join('\n')}\n` : '', stderr: err.join('\n') };
}

function lines(text: string): string[] {
  return text.split('\n').slice(0, -1);
}

/** The rows of the violations section: `[severity, rule, time]` of each. */
function violationRows(table: string): { severity: string; time: string }[] {
  const all = lines(table);
  const end = all.findIndex((line) => /^(Exempt|Skipped|Compliant|Invalid records) \(|^Totals:/.test(line));
  return all
    .slice(0, end)
    .map((line) => /^(critical|high|medium|low) +\S+ +(?:.*?  )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ severity: match[1] ?? '', time: match[2] ?? '' }));
}

const temp = mkdtempSync(join(tmpdir(), 'cli-output-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** What the replay decided for events/, by verdict and violation severity, from the jsonl contract. */
async function expectedCounts(): Promise<{ byVerdict: Record<string, number>; bySeverity: Record<string, number> }> {
  const run = await replay([EVENTS, '--format', 'jsonl']);
  const byVerdict: Record<string, number> = {};
  const bySeverity: Record<string, number> = {};
  for (const line of lines(run.stdout).map((text) => JSON.parse(text) as { verdict: string; severity?: string })) {
    byVerdict[line.verdict] = (byVerdict[line.verdict] ?? 0) + 1;
    if (line.verdict === 'violation' && line.severity) bySeverity[line.severity] = (bySeverity[line.severity] ?? 0) + 1;
  }
  return { byVerdict, bySeverity };
}

describe('remediate replay --format table', () => {
  it.each([80, 200])('keeps every line within --width %i and lists the violations most severe first, then by time', async (width) => {
    const run = await replay([EVENTS, '--format', 'table', '--width', String(width)]);

    expect(run.code).toBe(0);
    const tooWide = lines(run.stdout).filter((line) => displayWidth(line) > width);
    expect(tooWide).toStrictEqual([]);
    const rows = violationRows(run.stdout);
    const { byVerdict } = await expectedCounts();
    expect(rows).toHaveLength(byVerdict['violation'] ?? -1);
    const ranks = rows.map((row) => SEVERITY_ORDER.indexOf(row.severity));
    expect(ranks).toStrictEqual([...ranks].sort((a, b) => a - b));
    for (const [index, row] of rows.entries()) {
      const previous = rows[index - 1];
      if (previous && previous.severity === row.severity) expect(previous.time <= row.time).toBe(true);
    }
  });

  it('takes the terminal width on a terminal and 100 columns otherwise', async () => {
    const terminal = await replay([EVENTS, '--format', 'table', '--color', 'never'], { tty: true, columns: 90 });
    const pipe = await replay([EVENTS, '--format', 'table']);

    expect(Math.max(...lines(terminal.stdout).map(displayWidth))).toBe(90);
    expect(Math.max(...lines(pipe.stdout).map(displayWidth))).toBe(100);
  });

  it('shows each step with its AWS CLI command, the legend of step labels, and the totals', async () => {
    const run = await replay(['events/ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json', '--format', 'table', '--width', '160']);

    expect(lines(run.stdout)).toStrictEqual([
      'Violations (1), most severe first',
      'Steps: "would apply" = the deployed bot makes the call itself (mode remediate); "proposed" = sent in the alert for a person to review and run; "would fix" =',
      'notify mode, the alert reports the problem only. This replay executed nothing.',
      'SEVERITY  RULE             RESOURCE              PRINCIPAL   TIME (UTC)           OUTCOME',
      'high      sg-open-ingress  sg-0a1b2c3d4e5f67890  user/alice  2025-03-04 10:15:00  would-propose',
      '    sg-0a1b2c3d4e5f67890: sgr-0f1e2d3c4b5a69788 tcp/22 from 0.0.0.0/0 open to the internet',
      '    AuthorizeSecurityGroupIngress in 111122223333 us-east-1; mode propose; events/ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json',
      '    facts unavailable offline: securityGroup',
      '    1. proposed: ec2:RevokeSecurityGroupIngress',
      '       $ aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --security-group-rule-ids \'["sgr-0f1e2d3c4b5a69788"]\'',
      '       checks before and after: DescribeSecurityGroupRules sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22',
      '',
      'Totals: 1 violation(s): 0 critical, 1 high, 0 medium, 0 low; 0 exempt, 0 skipped, 0 compliant; 0 invalid',
      expect.stringMatching(/^Summary: 1 record\(s\) read from 1 input\(s\), .*1 reached a rule, 0 invalid$/),
      'RULE             VIOLATION  EXEMPT  COMPLIANT  SKIPPED',
      'sg-open-ingress  1          0       0          0',
    ]);
  });

  it('wraps long text and commands onto indented lines at 80 columns, cutting nothing', async () => {
    const run = await replay(['events/ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json', '--format', 'table', '--width', '80']);

    expect(lines(run.stdout).slice(4, 16)).toStrictEqual([
      'SEVERITY  RULE             PRINCIPAL   TIME (UTC)           OUTCOME',
      'high      sg-open-ingress  user/alice  2025-03-04 10:15:00  would-propose',
      '    sg-0a1b2c3d4e5f67890: sgr-0f1e2d3c4b5a69788 tcp/22 from 0.0.0.0/0 open to',
      '      the internet',
      '    AuthorizeSecurityGroupIngress in 111122223333 us-east-1; mode propose;',
      '      events/ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json',
      '    facts unavailable offline: securityGroup',
      '    1. proposed: ec2:RevokeSecurityGroupIngress',
      '       $ aws ec2 revoke-security-group-ingress --region us-east-1 --group-id \\',
      '           sg-0a1b2c3d4e5f67890 --security-group-rule-ids \\',
      "           '[\"sgr-0f1e2d3c4b5a69788\"]'",
      '       checks before and after: DescribeSecurityGroupRules',
    ]);
  });

  it('colours severities only on a terminal, never with NO_COLOR or --color never', async () => {
    const ansi = /\x1b\[/;
    const tty = await replay([EVENTS, '--format', 'table'], { tty: true, columns: 120 });
    const noColor = await replay([EVENTS, '--format', 'table'], { tty: true, columns: 120, env: { NO_COLOR: '1' } });
    const never = await replay([EVENTS, '--format', 'table', '--color', 'never'], { tty: true, columns: 120 });
    const pipe = await replay([EVENTS, '--format', 'table']);
    const forced = await replay([EVENTS, '--format', 'table', '--color', 'always']);
    const forcedNoColor = await replay([EVENTS, '--format', 'table', '--color', 'always'], { env: { NO_COLOR: 'yes' } });

    expect(tty.stdout).toMatch(/^\x1b\[1;31mcritical\x1b\[0m {2}/m);
    expect(ansi.test(noColor.stdout)).toBe(false);
    expect(ansi.test(never.stdout)).toBe(false);
    expect(ansi.test(pipe.stdout)).toBe(false);
    expect(ansi.test(forced.stdout)).toBe(true);
    expect(ansi.test(forcedNoColor.stdout)).toBe(false);
    // Colour codes take no columns: the coloured table is as wide as the plain one.
    const visible = (text: string) => lines(text.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(visible(tty.stdout)).toStrictEqual(lines((await replay([EVENTS, '--format', 'table', '--width', '120'])).stdout));
  });

  it('--only violations lists only violations and still counts every decision in the totals', async () => {
    const run = await replay([EVENTS, '--format', 'table', '--only', 'violations', '--width', '200']);
    const { byVerdict, bySeverity } = await expectedCounts();

    expect(run.stdout).not.toMatch(/^(Exempt|Skipped|Compliant) \(/m);
    expect(violationRows(run.stdout)).toHaveLength(byVerdict['violation'] ?? -1);
    const totals = lines(run.stdout).find((line) => line.startsWith('Totals:'));
    expect(totals).toBe(
      `Totals: ${byVerdict['violation']} violation(s): ${SEVERITY_ORDER.map((severity) => `${bySeverity[severity] ?? 0} ${severity}`).join(', ')}; ` +
        `${byVerdict['exempt'] ?? 0} exempt, ${byVerdict['skipped'] ?? 0} skipped, ${byVerdict['compliant'] ?? 0} compliant (not listed: --only violations); 0 invalid`,
    );
  });

  it('lists exempt, skipped and compliant decisions after the violations without --only', async () => {
    const run = await replay([EVENTS, '--format', 'table', '--width', '120']);
    const { byVerdict } = await expectedCounts();
    const headings = lines(run.stdout).filter((line) => /^(Violations|Exempt|Skipped|Compliant) \(/.test(line));

    expect(headings).toStrictEqual([
      `Violations (${byVerdict['violation']}), most severe first`,
      `Exempt (${byVerdict['exempt']}), most severe first`,
      `Skipped (${byVerdict['skipped']})`,
      `Compliant (${byVerdict['compliant']})`,
    ]);
  });

  it('shows control characters from event data escaped, never sends them to the terminal', async () => {
    const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
    (event.detail.userIdentity as { arn: string }).arn = 'arn:aws:iam::111122223333:user/\x1b[2J\x1b]0;pwned\x07\u202eevil';
    const file = join(temp, 'escape.json');
    writeFileSync(file, JSON.stringify(event));

    const run = await replay([file, '--format', 'table', '--width', '200']);

    expect(run.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\u202e]/);
    expect(run.stdout).toContain('user/\\x1b[2J\\x1b]0;pwned\\x07\\u202eevil');
  });

  it('rejects a bad --width, --only or --color', async () => {
    for (const args of [
      ['--width', '10'],
      ['--width', 'wide'],
      ['--only', 'compliant'],
      ['--color', 'sometimes'],
    ]) {
      const run = await replay([EVENTS, '--format', 'table', ...args]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
    }
  });
});

describe('terminal text', () => {
  it('wraps a command between words with a backslash, and a comment as a comment', () => {
    expect(wrapCommand(`aws ec2 revoke --group-id sg-1 --ids '["a b"]'`, 24, '$ ', '    ')).toStrictEqual(['$ aws ec2 revoke \\', '    --group-id sg-1 \\', `    --ids '["a b"]'`]);
    expect(wrapCommand('# not runnable as shown: replace the value first', 24, '', '')).toStrictEqual(['# not runnable as', '# shown: replace the', '# value first']);
  });

  it('wraps every command of the recorded replay, and hostile long words, so that bash reads back exactly the same arguments', () => {
    const commands: string[] = [];
    for (const text of readFileSync(join(ROOT, 'test', 'expected', 'replay.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      const line = JSON.parse(text) as { region?: string; plan?: PlanStep[]; proposal?: PlanStep[] };
      for (const step of [...(line.plan ?? []), ...(line.proposal ?? [])]) {
        for (const each of [step, ...(step.undo ? [step.undo] : [])]) commands.push(awsCliCommand(each, line.region ?? 'us-east-1'));
      }
    }
    const long = 'x'.repeat(150);
    commands.push(
      `aws iam put-role-policy --role-name r --policy-name p --policy-document '{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${long}/it'\\''s"}]}'`,
      `aws ec2 create-tags --region us-east-1 --resources vol-1 --tags Key=a,Value=${long}`,
      `aws ec2 create-tags --region us-east-1 --resources vol-1 --description 'a, quoted: [string] ${long}, with commas'`,
      `aws ec2 create-tags --region us-east-1 --description $'line\\nbreak ${long} \\'quoted\\''`,
    );
    const runnable = commands.filter((command) => !command.split('\n').some((line) => line.startsWith('#')));
    expect(runnable.length).toBeGreaterThan(50);
    /** The arguments bash passes to `aws` for each command, JSON arguments compared by value (their breaks are JSON whitespace). */
    const argumentsOf = (script: string) => {
      const run = spawnSync('bash', ['-c', `aws() { printf '%s\\0' "$@"; printf '\\1'; }\n${script}`], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      return run.stdout.split('\x01').map((call) => call.split('\0').map((arg) => (/^[[{]/.test(arg) ? JSON.stringify(JSON.parse(arg)) : arg)));
    };
    const expected = argumentsOf(runnable.join('\n'));
    for (const width of [40, 60, 80, 120]) {
      const wrapped = runnable.map((command) => wrapCommand(command, width, '', '    '));
      expect(wrapped.flat().filter((line) => displayWidth(line) > width), `width ${width}`).toStrictEqual([]);
      expect(argumentsOf(wrapped.map((lines) => lines.join('\n')).join('\n')), `width ${width}`).toStrictEqual(expected);
    }
  });

  it('escapes control and bidi characters', () => {
    expect(terminalText('a\x1b[31mb\u202ec\nd')).toBe('a\\x1b[31mb\\u202ec d');
  });
});

describe('the memory cap', () => {
  it('keeps at most the cap in memory, the rest on disk, and prints by severity all the same', () => {
    const severities = ['low', 'critical', 'medium', 'high', 'critical', 'low', 'high', 'medium', 'critical', 'high'];
    const store = lineStore({ sorted: true, cap: 3 });
    for (const [index, severity] of severities.entries()) {
      store.add({ verdict: 'violation', severity, rule: 'r', eventTime: `2025-03-01T00:00:${String(59 - index).padStart(2, '0')}Z`, eventId: String(index) } as unknown as ReplayLine);
    }

    const drained = [...store.drain()].map((line) => ('severity' in line ? `${line.severity}:${line.eventId}` : ''));
    store.close();

    expect(store.spilled).toBe(7);
    // In memory: 0 (low), 1 (critical), 2 (medium), sorted; on disk: the rest in input order within each severity.
    expect(drained).toStrictEqual(['critical:1', 'critical:4', 'critical:8', 'high:3', 'high:6', 'high:9', 'medium:2', 'medium:7', 'low:0', 'low:5']);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith('remediate-replay-') && existsSync(join(tmpdir(), name, '0.jsonl')))).toStrictEqual([]);
  });
});

describe('remediate replay --format markdown', () => {
  it('starts with the summary, and lists every exempt decision however many, capping only the others', async () => {
    const exempt = loadEvent('ec2/CreateVolume-unencrypted-exempt-tag.json');
    const compliant = loadEvent('ec2/AuthorizeSecurityGroupIngress-private-postgres-compliant.json');
    const records = [
      ...Array.from({ length: 60 }, (_, index) => ({ ...exempt, detail: { ...exempt.detail, eventID: `exempt-${index}` } })),
      ...Array.from({ length: 55 }, (_, index) => ({ ...compliant, detail: { ...compliant.detail, eventID: `compliant-${index}` } })),
    ];
    const file = join(temp, 'many-exempt.jsonl');
    writeFileSync(file, records.map((record) => JSON.stringify(record)).join('\n'));

    const run = await replay([file, '--format', 'markdown']);
    const all = lines(run.stdout);

    expect(run.code).toBe(0);
    expect(all.filter((line) => line.startsWith('## '))).toStrictEqual([
      '## Summary',
      '## Exempt decisions (60), most severe first',
      '## Other decisions (first 50 of 55; every one is counted in the summary, and --format jsonl lists them all)',
    ]);
    expect(all.filter((line) => line.startsWith('| medium | ebs-unencrypted-volume | CreateVolume |'))).toHaveLength(60);
    expect(all.filter((line) => line.startsWith('| compliant | sg-open-ingress |'))).toHaveLength(50);
    expect(all.indexOf('| Severity | Violations | Exempt |')).toBeLessThan(all.indexOf('## Exempt decisions (60), most severe first'));
    expect(all).toContain('| medium | 0 | 60 |');
  });

  it('lists violations most severe first, each step with its AWS CLI command and its undo', async () => {
    const run = await replay([EVENTS, '--format', 'markdown']);
    const headings = lines(run.stdout)
      .map((line) => /^### \d+\. \S+ \((\w+)\)/.exec(line)?.[1])
      .filter((severity): severity is string => severity !== undefined)
      .map((severity) => SEVERITY_ORDER.indexOf(severity));

    expect(headings.length).toBeGreaterThan(0);
    expect(headings).toStrictEqual([...headings].sort((a, b) => a - b));
    expect(run.stdout).toContain(
      "   $ aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --security-group-rule-ids '[\"sgr-0f1e2d3c4b5a69788\"]'",
    );
    expect(run.stdout).toMatch(/^ {3}undo: ec2:AuthorizeSecurityGroupIngress /m);
  });
});

describe('remediate replay --format html', () => {
  it('escapes hostile event text: the only script is the page\'s own, and the policy allows no other', async () => {
    const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
    (event.detail.userIdentity as { arn: string }).arn = 'arn:aws:iam::111122223333:user/<script>alert(1)</script>"onmouseover="alert(2)';
    const exempt = loadEvent('ec2/CreateVolume-unencrypted-exempt-tag.json');
    const hostile = JSON.stringify(exempt).replace(/throwaway benchmark volume/g, '<img src=x onerror=alert(3)>');
    const file = join(temp, 'hostile.jsonl');
    writeFileSync(file, `${JSON.stringify(event)}\n${hostile}\n`);

    const run = await replay([file, '--format', 'html']);

    expect(run.code).toBe(0);
    expect(run.stdout.match(/<script/g)).toHaveLength(1);
    expect(run.stdout).not.toContain('<img');
    expect(run.stdout).not.toContain('"onmouseover=');
    expect(run.stdout).toContain('user/&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=&quot;alert(2)');
    expect(run.stdout).toContain('&lt;img src=x onerror=alert(3)&gt;');
    expect(run.stdout).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-[^&]+&#39;; script-src &#39;sha256-[^&]+&#39;;/);
  });
});

describe('remediate replay --format sarif', () => {
  it('writes SARIF 2.1.0 with one result per violation, its rule, level and source file', async () => {
    const run = await replay([EVENTS, '--format', 'sarif']);
    const sarif = JSON.parse(run.stdout) as {
      version: string;
      runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; level: string; properties: { severity: string }; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[];
    };
    const { byVerdict } = await expectedCounts();
    const [only] = sarif.runs;
    const levels: Record<string, string> = { critical: 'error', high: 'error', medium: 'warning', low: 'note' };

    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs).toHaveLength(1);
    expect(only?.results).toHaveLength(byVerdict['violation'] ?? -1);
    const ruleIds = new Set(only?.tool.driver.rules.map((rule) => rule.id));
    for (const result of only?.results ?? []) {
      expect(ruleIds.has(result.ruleId)).toBe(true);
      expect(result.level).toBe(levels[result.properties.severity]);
      expect(existsSync(result.locations[0]?.physicalLocation.artifactLocation.uri.startsWith('file:') ? new URL(result.locations[0].physicalLocation.artifactLocation.uri) : '')).toBe(true);
    }
  });
});
