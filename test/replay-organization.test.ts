/**
 * Replaying an organisation trail (`AWSLogs/o-…/<account>/CloudTrail/…`):
 * every account's records are decided with that account's config, the summary
 * counts verdicts per account, and `--account` keeps only the named accounts,
 * passing over the other accounts' folders without opening a file in them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { loadEvent } from './helpers/fixtures.js';

const temp = mkdtempSync(join(tmpdir(), 'replay-org-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const ORG = join(temp, 'AWSLogs', 'o-a1b2c3d4e5');
const ACCOUNTS = ['111122223333', '444455556666', '777788889999'];

for (const [i, account] of ACCOUNTS.entries()) {
  const folder = join(ORG, account, 'CloudTrail', 'us-east-1', '2025', '03', '05');
  mkdirSync(folder, { recursive: true });
  const { detail } = JSON.parse(JSON.stringify(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json')).replaceAll('111122223333', account)) as { detail: Record<string, unknown> };
  writeFileSync(join(folder, `${account}_CloudTrail_us-east-1_20250305T0845Z_a.json.gz`), gzipSync(JSON.stringify({ Records: [{ ...detail, eventID: `e-${i}` }] })));
}
// A corrupt file in the third account's folder: an invalid record only if that folder is read.
writeFileSync(join(ORG, '777788889999', 'CloudTrail', 'us-east-1', '2025', '03', '05', 'corrupt.json.gz'), 'not gzip');
const config = join(temp, 'config.yml');
writeFileSync(config, "accounts:\n  '444455556666': { name: sandbox, defaultMode: remediate }\n");

type Line = { account?: string; mode?: string; verdict?: string };
type Output = { decisions: Line[]; summary: { byAccount: Record<string, Record<string, number>>; invalid: number } };
const parse = (stdout: readonly string[]): Output => JSON.parse(stdout.join('\n')) as Output;

describe('an organisation trail', () => {
  it('is decided per account, with each account\'s config, and counted per account', async () => {
    const { stdout } = await runCli(['replay', temp, '--format', 'json', '--config', config]);
    const { decisions, summary } = parse(stdout);
    expect(summary.invalid).toBe(1);
    expect(decisions.filter((line) => line.verdict === 'violation').map((line) => [line.account, line.mode])).toStrictEqual([
      ['111122223333', 'propose'],
      ['444455556666', 'remediate'],
      ['777788889999', 'propose'],
    ]);
    expect(summary.byAccount).toStrictEqual(Object.fromEntries(ACCOUNTS.map((account) => [account, { violation: 1 }])));
  });

  it('--account keeps the named accounts and does not open the others\' folders', async () => {
    const { code, stdout } = await runCli(['replay', temp, '--format', 'json', '--account', '444455556666', '--account', '111122223333']);
    expect(code).toBe(0);
    const { decisions, summary } = parse(stdout);
    expect(decisions.filter((line) => line.verdict === 'violation').map((line) => line.account)).toStrictEqual(['111122223333', '444455556666']);
    // The corrupt file in the third account's folder was never opened.
    expect(summary).toMatchObject({ invalid: 0, byAccount: { '111122223333': { violation: 1 }, '444455556666': { violation: 1 } } });
  });

  it('refuses an --account that is not 12 digits, in one line', async () => {
    const { code, stderr } = await runCli(['replay', temp, '--account', '4444']);
    expect([code, stderr]).toStrictEqual([1, ['remediate: --account must be a 12-digit account id, got "4444" (see "remediate replay --help")']]);
  });
});
