/**
 * The CLI's basics: each command's help, the version, one-line usage errors
 * with "did you mean", and `rules` under a config file.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS } from '../cli/format.js';
import { EXIT } from '../cli/exit-codes.js';
import { runCli, type Captured } from './helpers/cli.js';
import { COMMAND_HELP, OVERVIEW_HELP } from '../cli/usage.js';
import { MODES } from '../engine/types.js';
import { allRules } from '../remediations/registry.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'remediate.mjs');
const WORLD_SSH = join(ROOT, 'events', 'ec2', 'AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const run = runCli;

async function binary(args: readonly string[]): Promise<Captured & { readonly text: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], { cwd: ROOT });
    return { code: 0, stdout: stdout.split('\n'), stderr: stderr.split('\n'), text: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout.split('\n'), stderr: failed.stderr.split('\n'), text: failed.stdout };
  }
}

const temp = mkdtempSync(join(tmpdir(), 'cli-basics-'));
const CONFIG = join(temp, 'config.yml');

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.mjs'))) spawnSync('node', ['scripts/build-cli.mjs'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(CONFIG, ['defaultMode: notify', 'rules:', '  sg-open-ingress:', '    mode: remediate', '    allowedPorts: [tcp/443]', ''].join('\n'));
});

afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('remediate help and version', () => {
  it.each([
    ['replay', ['replay', '--help']],
    ['invoke', ['invoke', '-h']],
    ['undo', ['undo', '--help']],
    ['history', ['history', '-h']],
    ['rules', ['rules', '--help']],
  ] as const)('prints the help of %s, and only it, on stdout and exits 0', async (command, argv) => {
    const result = await run(argv);

    expect(result).toStrictEqual({ code: 0, stdout: [COMMAND_HELP[command]], stderr: [] });
    expect(COMMAND_HELP[command].split('\n')[0]).toMatch(new RegExp(`^Usage: remediate ${command} `));
  });

  it('prints the help even beside other arguments, right or wrong', async () => {
    expect(await run(['replay', WORLD_SSH, '--bogus', '--format', 'xml', '-h'])).toStrictEqual({ code: 0, stdout: [COMMAND_HELP.replay], stderr: [] });
    expect(await run(['undo', 'some-event-id', '--help'])).toStrictEqual({ code: 0, stdout: [COMMAND_HELP.undo], stderr: [] });
  });

  it('takes an argument after -- as an input, not as --help', async () => {
    const result = await run(['replay', '--format', 'jsonl', '--', '--help']);

    expect(result.code).toBe(2);
    expect(result.stdout).toHaveLength(1);
    expect(JSON.parse(result.stdout[0] ?? '')).toMatchObject({ verdict: 'invalid', source: '--help' });
  });

  it('prints the overview for --help, -h and help, and a command help for help <command>', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) expect(await run(argv)).toStrictEqual({ code: 0, stdout: [OVERVIEW_HELP], stderr: [] });
    expect(await run(['help', 'rules'])).toStrictEqual({ code: 0, stdout: [COMMAND_HELP.rules], stderr: [] });
  });

  it('lists every command and exit code in the overview, and every replay option in the replay help', () => {
    for (const command of ['replay', 'invoke', 'undo', 'rules']) expect(OVERVIEW_HELP).toContain(`remediate ${command} `);
    for (const code of Object.values(EXIT)) expect(OVERVIEW_HELP).toMatch(new RegExp(`^  ${code}  `, 'm'));
    for (const option of ['--format', '--config', '--rule', '--since', '--until', '--fail-on', '--allow-empty', '--allow-invalid', '--jobs', '--help']) {
      expect(COMMAND_HELP.replay).toMatch(new RegExp(`^  (-h, )?${option} `, 'm'));
    }
  });

  it('documents every exit code in docs/replay.md, and no other', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'replay.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Exit codes'), doc.indexOf('\n### ', doc.indexOf('### Exit codes') + 1));
    const documented = [...section.matchAll(/^\| (\d+) \|/gm)].map((match) => Number(match[1]));

    expect(documented).toStrictEqual(Object.values(EXIT).toSorted((a, b) => a - b));
  });

  it('prints the version of package.json for --version and version', async () => {
    expect(await run(['--version'])).toStrictEqual({ code: 0, stdout: [VERSION], stderr: [] });
    expect(await run(['version'])).toStrictEqual({ code: 0, stdout: [VERSION], stderr: [] });
  });

  it('prints the version and the help from the bundled binary', async () => {
    const version = await binary(['--version']);
    const help = await binary(['replay', '--help']);

    expect(version).toMatchObject({ code: 0, text: `${VERSION}\n` });
    expect(help).toMatchObject({ code: 0, text: `${COMMAND_HELP.replay}\n` });
  });
});

describe('remediate usage errors', () => {
  it.each([
    ['an unknown option', ['replay', WORLD_SSH, '--bogus'], 'unknown option --bogus', 'replay'],
    ['a close option', ['replay', WORLD_SSH, '--formt', 'json'], 'unknown option --formt; did you mean --format?', 'replay'],
    ['a close option of undo', ['undo', 'event-1', '--dryrun'], 'unknown option --dryrun; did you mean --dry-run?', 'undo'],
    ['a close option of history', ['history', '--outcomes', 'applied'], 'unknown option --outcomes; did you mean --outcome?', 'history'],
    ['an unknown short option', ['rules', '-x'], 'unknown option -x', 'rules'],
    ['a close command', ['replays', WORLD_SSH], 'unknown command "replays"; did you mean replay?', undefined],
    ['an unknown command', ['frobnicate'], 'unknown command "frobnicate"', undefined],
    ['a close top-level option', ['--verison'], 'unknown option --verison; did you mean --version?', undefined],
    ['a close rule id', ['replay', WORLD_SSH, '--rule', 'sg-open-ingres'], 'unknown rule "sg-open-ingres"; did you mean sg-open-ingress?', 'replay'],
    ['an unknown rule id', ['replay', WORLD_SSH, '--rule', 'no-such-thing'], 'unknown rule "no-such-thing"; "remediate rules" lists them', 'replay'],
    ['a missing value', ['replay', WORLD_SSH, '--format'], 'option --format needs a value', 'replay'],
    ['an option where a value should be', ['replay', WORLD_SSH, '--config', '--rule', 'sg-open-ingress'], 'option --config needs a value', 'replay'],
    ['a value to a flag', ['replay', WORLD_SSH, '--fail-on', 'violation', '--allow-empty=yes'], 'option --allow-empty takes no value, got "yes"', 'replay'],
    ['an unknown format', ['replay', WORLD_SSH, '--format', 'jsonn'], `--format must be one of ${FORMATS.join(', ')}, got "jsonn"; did you mean jsonl?`, 'replay'],
    ['an unknown --fail-on level', ['replay', WORLD_SSH, '--fail-on', 'hgh'], '--fail-on takes violation, low, medium, high, critical, got "hgh"; did you mean high?', 'replay'],
    ['--allow-empty without --fail-on', ['replay', WORLD_SSH, '--allow-empty'], '--allow-empty only applies with --fail-on', 'replay'],
    ['no input', ['replay'], 'replay: name at least one file or directory, or - for stdin, or use --from cloudtrail', 'replay'],
    ['no event file', ['invoke'], 'invoke: name exactly one event file (or - for stdin)', 'invoke'],
    ['no event id', ['undo', '--dry-run'], 'undo: name exactly one event id (the CloudTrail eventID shown in the alert)', 'undo'],
    ['an argument to rules', ['rules', 'extra'], 'rules takes no argument, got "extra"', 'rules'],
  ])('prints one line and where to find help, and exits 1: %s', async (_name, argv, problem, command) => {
    const result = await run(argv);

    expect(result).toStrictEqual({
      code: 1,
      stdout: [],
      stderr: [`remediate: ${problem} (see "remediate ${command ? `${command} ` : ''}--help")`],
    });
  });

  it('prints the same two lines from the binary, with none of node\'s own text', async () => {
    const result = await binary(['replay', WORLD_SSH, '--bogus']);

    expect(result.code).toBe(1);
    expect(result.stdout).toStrictEqual(['']);
    expect(result.stderr).toStrictEqual(['remediate: unknown option --bogus (see "remediate replay --help")', '']);
  });
});

describe('remediate rules', () => {
  it('shows the mode and settings each rule runs with under --config', async () => {
    const result = await run(['rules', '--config', CONFIG]);
    const sg = result.stdout.find((line) => line.startsWith('sg-open-ingress '));
    const notifyByDefault = result.stdout.find((line) => line.startsWith('root-console-login '));
    const proposeByDefault = result.stdout.find((line) => line.startsWith('s3-bucket-acl-public '));

    expect(result.code).toBe(0);
    expect(result.stdout).toHaveLength(allRules.length);
    expect(sg?.split('\n')[0]).toBe('sg-open-ingress [high, mode remediate, default propose] Security group open to the internet');
    expect(sg?.split('\n')[2]).toBe('    settings: {"allowedPorts":["tcp/443"],"ipv4MinPrefix":8,"ipv6MinPrefix":32}');
    expect(notifyByDefault?.split('\n')[0]).toMatch(/^root-console-login \[high, mode notify, default notify\] /);
    expect(proposeByDefault?.split('\n')[0]).toMatch(/^s3-bucket-acl-public \[critical, mode notify, default propose\] /);
  });

  it('gives every rule a default mode, its mode and its parsed settings in JSON, never null', async () => {
    const result = await run(['rules', '--format', 'json', '--config', CONFIG]);
    const rules = JSON.parse(result.stdout.join('\n')) as Record<string, unknown>[];
    const byId = new Map(rules.map((rule) => [rule['id'], rule]));

    expect(result.code).toBe(0);
    expect(rules.map((rule) => rule['id'])).toStrictEqual(allRules.map((rule) => rule.id));
    for (const rule of rules) {
      expect(MODES).toContain(rule['defaultMode']);
      expect(MODES).toContain(rule['mode']);
      expect(rule['settings']).toBeTypeOf('object');
      expect(rule['settings']).not.toBeNull();
    }
    expect(byId.get('sg-open-ingress')).toMatchObject({ defaultMode: 'propose', mode: 'remediate', settings: { allowedPorts: ['tcp/443'], ipv4MinPrefix: 8, ipv6MinPrefix: 32 } });
    expect(byId.get('root-console-login')).toMatchObject({ defaultMode: 'notify', mode: 'notify', settings: {} });
    expect(byId.get('s3-bucket-acl-public')).toMatchObject({ defaultMode: 'propose', mode: 'notify' });
  });

  it('caps "remediate" at "propose" under DRY_RUN=true, as the Lambdas do', async () => {
    const { code, stdout } = await runCli(['rules', '--format', 'json', '--config', CONFIG], { DRY_RUN: 'true' });
    expect(code).toBe(0);
    expect((JSON.parse(stdout.join('\n')) as Record<string, unknown>[]).find((rule) => rule['id'] === 'sg-open-ingress')).toMatchObject({ mode: 'propose' });
  });

  it('exits 1 naming the key for an invalid config', async () => {
    const bad = join(temp, 'bad.yml');
    writeFileSync(bad, 'defaultMode: sometimes\n');

    const result = await run(['rules', '--config', bad]);

    expect(result.code).toBe(1);
    expect(result.stdout).toStrictEqual([]);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toMatch(/^remediate: invalid config: .*defaultMode/);
  });
});
