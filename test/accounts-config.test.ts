/**
 * Per-account policy in the config file (`accounts.<id>`): a name for alerts,
 * a mode for every rule or per rule, more trusted accounts. Decisions use the
 * account's own config, so the replay and the Lambda agree per account, and
 * the deployment grants a rule's writes when any account applies its plans.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decideAll, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { statementsFor } from '../deploy/deployment.js';
import { alertView } from '../notify/alert-view.js';
import { allRules, rulesByFamily } from '../remediations/registry.js';
import { loadEvent } from './helpers/fixtures.js';

const SANDBOX = '444455556666';
const PRODUCTION = '777788889999';
const NOW = new Date('2025-03-10T00:00:00Z');

const config = parseConfig(
  {
    rules: { 'sg-open-ingress': { mode: 'remediate' } },
    accounts: {
      [SANDBOX]: { name: 'sandbox', defaultMode: 'remediate' },
      [PRODUCTION]: { name: 'payments-prod', modes: { 'sg-open-ingress': 'propose' } },
    },
  },
  allRules,
);

function eventIn(account: string, file = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json'): CloudTrailEvent {
  return JSON.parse(JSON.stringify(loadEvent(file)).replaceAll('111122223333', account)) as CloudTrailEvent;
}

async function decisionIn(account: string, file?: string) {
  const [decision] = await decideAll(eventIn(account, file), allRules, { config, env: {}, facts: offlineFacts, now: NOW });
  return decision;
}

describe('accounts in the config', () => {
  it('gives each account its own modes: the account\'s mode for the rule, else its default, else the file\'s', async () => {
    expect((await decisionIn(PRODUCTION))?.mode).toBe('propose');
    expect((await decisionIn('111122223333'))?.mode).toBe('remediate');
    // A rule that proposes in the file remediates in the sandbox.
    expect((await decisionIn(SANDBOX, 'ec2/ModifySnapshotAttribute-public-group-all.json'))?.mode).toBe('remediate');
    expect((await decisionIn('111122223333', 'ec2/ModifySnapshotAttribute-public-group-all.json'))?.mode).toBe('propose');
  });

  it('names the account in the decision and the alert', async () => {
    const decision = await decisionIn(PRODUCTION);
    expect(decision?.accountName).toBe('payments-prod');
    const view = alertView({ schemaVersion: '1', outcome: 'proposed', rationale: '', decision: decision as never, undo: [] } as never);
    expect(view.facts.find((fact) => fact.label === 'Account')?.value).toBe(`${PRODUCTION} (payments-prod)`);
    expect((await decisionIn('111122223333'))?.accountName).toBeUndefined();
  });

  it('trusts an account\'s own trusted accounts for its events only', async () => {
    const sharing = parseConfig({ accounts: { [SANDBOX]: { trustedAccounts: ['210987654321'] } } }, allRules);
    const file = 'ec2/ModifySnapshotAttribute-shared-one-account.json';
    const shared = loadEvent(file) as CloudTrailEvent;
    const target = JSON.stringify(shared.detail.requestParameters).match(/\d{12}/g)?.find((id) => id !== '111122223333');
    const decide = async (account: string, trusted: string) => {
      const event = JSON.parse(JSON.stringify(shared).replaceAll('111122223333', account).replaceAll(target ?? 'none', trusted)) as CloudTrailEvent;
      const decisions = await decideAll(event, allRules, { config: sharing, env: {}, facts: offlineFacts, now: NOW });
      return decisions.find((decision) => decision.rule === 'ebs-snapshot-shared-untrusted-account')?.verdict.kind;
    };
    expect(await decide(SANDBOX, '210987654321')).toBe('compliant');
    expect(await decide(PRODUCTION, '210987654321')).toBe('violation');
  });

  it('holds an exemption that names accounts in those accounts only', async () => {
    const exempting = parseConfig(
      { exemptions: [{ resource: 'sg-0a1b2c3d4e5f67890', reason: 'vendor bastion', expires: '2099-01-01', accounts: [SANDBOX] }] },
      allRules,
    );
    const verdictIn = async (account: string) => (await decideAll(eventIn(account), allRules, { config: exempting, env: {}, facts: offlineFacts, now: NOW }))[0]?.verdict.kind;
    expect(await verdictIn(SANDBOX)).toBe('exempt');
    expect(await verdictIn(PRODUCTION)).toBe('violation');
  });

  it('refuses an account id that is not 12 digits and a rule it does not know, naming each', () => {
    expect(() => parseConfig({ accounts: { '12345': { name: 'x' } } }, allRules)).toThrow(/accounts/);
    expect(() => parseConfig({ accounts: { [SANDBOX]: { modes: { 'sg-open-ingres': 'remediate' } } } }, allRules, { rejectUnknownRules: true })).toThrow('accounts.444455556666.modes.sg-open-ingres: unknown rule');
  });

  it('grants a rule\'s writes to its family when any account applies its plans, and only then', () => {
    const writes = (c: typeof config) => statementsFor(rulesByFamily['ebs'], c).flatMap((s) => s.Action).filter((action) => action === 'ec2:ModifySnapshotAttribute');
    expect(writes(parseConfig({}, allRules))).toStrictEqual([]);
    expect(writes(config)).toStrictEqual(['ec2:ModifySnapshotAttribute']);
  });

  describe('console links through the IAM Identity Center access portal (consoleSignIn)', () => {
    const PORTAL = 'https://d-1234567890.awsapps.com/start';
    const signingIn = parseConfig(
      { consoleSignIn: { portalUrl: PORTAL, roleName: 'SecurityAudit' }, accounts: { [PRODUCTION]: { consoleRole: 'ProdReadOnly' } } },
      allRules,
    );
    const viewIn = async (account: string, c = signingIn) => {
      const [decision] = await decideAll(eventIn(account), allRules, { config: c, env: {}, facts: offlineFacts, now: NOW });
      return alertView({ schemaVersion: '1', outcome: 'proposed', rationale: '', decision: decision as never, undo: [] } as never);
    };
    const shortcut = (account: string, role: string, destination: string) =>
      `${PORTAL}/#/console?account_id=${account}&role_name=${role}&destination=${encodeURIComponent(destination)}`;
    const SG_PAGE = 'https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f67890';

    it("opens the resource and the event in the event's account, with the account's permission set or the file's", async () => {
      const sandbox = await viewIn(SANDBOX);
      expect(sandbox.facts.find((fact) => fact.label === 'Resource')?.url).toBe(shortcut(SANDBOX, 'SecurityAudit', SG_PAGE));
      expect(sandbox.links.map((link) => link.url)).toContain(shortcut(SANDBOX, 'SecurityAudit', SG_PAGE));
      const eventLink = sandbox.links.find((link) => link.label.startsWith('CloudTrail event'))?.url ?? '';
      expect(eventLink.startsWith(`${PORTAL}/#/console?account_id=${SANDBOX}&role_name=SecurityAudit&destination=https%3A%2F%2Fus-east-1.console.aws.amazon.com%2Fcloudtrailv2%2F`)).toBe(true);
      expect((await viewIn(PRODUCTION)).facts.find((fact) => fact.label === 'Resource')?.url).toBe(shortcut(PRODUCTION, 'ProdReadOnly', SG_PAGE));
    });

    it('takes the portal with its trailing slash too, and warns of a consoleRole that has no portal', () => {
      expect(parseConfig({ consoleSignIn: { portalUrl: `${PORTAL}/`, roleName: 'SecurityAudit' } }, allRules).consoleSignIn?.portalUrl).toBe(PORTAL);
      expect(parseConfig({ accounts: { [SANDBOX]: { consoleRole: 'ReadOnly' } } }, allRules).warnings).toStrictEqual([
        `accounts.${SANDBOX}.consoleRole: has no effect without consoleSignIn (the access portal to sign in through)`,
      ]);
    });

    it('links straight to the console without it', async () => {
      expect((await viewIn(SANDBOX, config)).facts.find((fact) => fact.label === 'Resource')?.url).toBe(SG_PAGE);
    });

    it('refuses a portal that is not an access portal, and a permission set name with other characters', () => {
      expect(() => parseConfig({ consoleSignIn: { portalUrl: 'https://evil.example/start', roleName: 'SecurityAudit' } }, allRules)).toThrow(/consoleSignIn\.portalUrl/);
      expect(() => parseConfig({ consoleSignIn: { portalUrl: PORTAL, roleName: 'a&b' } }, allRules)).toThrow(/consoleSignIn\.roleName/);
    });
  });
});
