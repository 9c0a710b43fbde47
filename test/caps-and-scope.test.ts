/**
 * Caps that hold across events, and the scope a deployed function acts in:
 * the deployment's write budget (a DynamoDB counter, against dynalite on
 * 127.0.0.1), events from another account or Region, exemptions written in the
 * config with an end date, and principal globs that would match strangers.
 *
 * Mutations caught: the budget check removed from `act`; the counter's
 * condition dropped (every reservation granted); the scope check removed from
 * `engineSkip`; a config exemption applied after its end.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { ConfigError, parseConfig } from '../engine/config.js';
import { type InvocationResult } from '../engine/lambda.js';
import { processEvent } from './helpers/engine.js';
import type { MetricName } from '../engine/metrics.js';
import { dynamoDbWriteBudget, type WriteBudget } from '../engine/write-budget.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';
import { allRules } from '../remediations/registry.js';
import { fakeSecurityGroups, ingressRule } from './helpers/ec2-security-groups.js';
import { useDynalite } from './helpers/dynalite.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

const GROUP = 'sg-0a1b2c3d4e5f67890';
const RULE_ID = 'sgr-0f1e2d3c4b5a69788';
const sns = mockClient(SNSClient);
const dynamo = useDynalite();
let tables = 0;


function openGroup() {
  return fakeSecurityGroups([{ groupId: GROUP, rules: new Map([[RULE_ID, ingressRule(GROUP, RULE_ID, 'tcp', 22, 22, '0.0.0.0/0')]]) }]);
}

async function run(event: unknown, options: { budget?: WriteBudget; env?: Record<string, string>; config?: Record<string, unknown>; now?: Date } = {}) {
  const counted: string[] = [];
  const result = await processEvent(event, {
    rules: securityGroupRules,
    config: parseConfig({ ...options.config, rules: { 'sg-open-ingress': { mode: 'remediate' } } }, securityGroupRules),
    env: { ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:alerts', ...options.env },
    gateway: createAwsGateway(securityGroupCommands, { region: 'us-east-1' }),
    logger: recordingLogger(),
    now: () => options.now ?? new Date('2025-03-04T10:20:00Z'),
    metrics: { count: (name: MetricName, rule?: string) => void counted.push(rule ? `${name}/${rule}` : name) },
    ...(options.budget ? { writeBudget: options.budget } : {}),
  });
  return { result, counted };
}

const outcome = (result: InvocationResult) => (result.status === 'processed' ? result.decisions[0]?.outcome : undefined);
const lastAlert = () => JSON.parse(String(sns.commandCalls(PublishCommand).at(-1)?.args[0].input.Message)) as Record<string, string>;

beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('the write budget across events', () => {
  async function budget(maxWrites: number): Promise<WriteBudget> {
    const tableName = await dynamo.createTable(`budget-${(tables += 1)}`);
    return dynamoDbWriteBudget({ tableName, client: dynamo.client, settings: { maxWrites, windowMinutes: 60 } });
  }

  it('grants writes until the window\u2019s budget is spent, then every plan is proposed, the alert says why, and a metric counts it', async () => {
    const shared = await budget(1);
    const first = openGroup();
    const applied = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { budget: shared });
    expect(outcome(applied.result)).toBe('applied');
    expect(first.ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);

    const second = openGroup();
    const capped = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { budget: shared });
    expect(second.ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(outcome(capped.result)).toBe('proposed');
    expect(capped.counted).toEqual(expect.arrayContaining(['WriteBudgetExhausted/sg-open-ingress', 'WriteBudgetExhausted']));
    expect(lastAlert()['email']).toContain("the deployment's write budget of 1 write calls per 60 minutes is spent (writeBudget)");
  });

  it('never overspends under concurrency: of twenty reservations of one write against a budget of five, exactly five are granted', async () => {
    const shared = await budget(5);
    const answers = await Promise.all(Array.from({ length: 20 }, () => shared.reserve(1, new Date('2025-03-04T10:20:00Z'))));
    expect(answers.filter((answer) => answer.granted)).toHaveLength(5);
  });

  it('starts again in the next window', async () => {
    const shared = await budget(1);
    expect(await shared.reserve(1, new Date('2025-03-04T10:20:00Z'))).toStrictEqual({ granted: true });
    expect((await shared.reserve(1, new Date('2025-03-04T10:59:59Z'))).granted).toBe(false);
    expect(await shared.reserve(1, new Date('2025-03-04T11:00:00Z'))).toStrictEqual({ granted: true });
  });

  it("gives each member account of an Organization hub a budget of its own, apart from the hub's, within one for all members together", async () => {
    const tableName = await dynamo.createTable(`budget-${(tables += 1)}`);
    const shared = dynamoDbWriteBudget({ tableName, client: dynamo.client, settings: { maxWrites: 1, windowMinutes: 60, allMembersMaxWrites: 2 } });
    const at = new Date('2025-03-04T10:20:00Z');
    expect(await shared.reserve(1, at)).toStrictEqual({ granted: true });
    expect(await shared.reserve(1, at, '444455556666')).toStrictEqual({ granted: true });
    expect(await shared.reserve(1, at, '444455556666')).toStrictEqual({ granted: false, reason: "account 444455556666's write budget of 1 write calls per 60 minutes is spent (writeBudget)" });
    // That refusal gave its write back to all members' budget: another account still gets one.
    expect(await shared.reserve(1, at, '777788889999')).toStrictEqual({ granted: true });
    expect(await shared.reserve(1, at, '210987654321')).toStrictEqual({
      granted: false,
      reason: 'the write budget of all member accounts together, 2 write calls per 60 minutes, is spent (writeBudget.allMembersMaxWrites)',
    });
    expect((await shared.reserve(1, at)).granted).toBe(false);
  });

  it('caps all member accounts together at ten times an account\'s budget by default, and never overspends under concurrency', async () => {
    const shared = await budget(2);
    const at = new Date('2025-03-04T10:20:00Z');
    const accounts = Array.from({ length: 15 }, (_, i) => String(100000000000 + i));
    const answers = await Promise.all(accounts.flatMap((account) => [shared.reserve(1, at, account), shared.reserve(1, at, account)]));
    expect(answers.filter((answer) => answer.granted)).toHaveLength(20);
  });

  it('fails closed: a counter that cannot be reached grants nothing', async () => {
    const unreachable = dynamoDbWriteBudget({ tableName: 'no-such-table', client: dynamo.client, settings: { maxWrites: 50, windowMinutes: 60 } });
    const answer = await unreachable.reserve(1, new Date());
    expect(answer).toStrictEqual({ granted: false, reason: 'the write budget could not be checked (ResourceNotFoundException), so nothing is applied' });
  });
});

describe('the scope a deployed function acts in', () => {
  it.each([
    ['another account', { BOT_ACCOUNT: '444455556666', AWS_REGION: 'us-east-1' }, 'the event is for account 111122223333, which this deployment does not serve (444455556666): not acted on'],
    ['another Region', { BOT_ACCOUNT: '111122223333', AWS_REGION: 'eu-west-1' }, 'the event is for Region us-east-1, and this function acts in eu-west-1 only: not acted on'],
  ])('does not act on an event for %s, and says so in an alert', async (_, env, reason) => {
    const { ec2 } = openGroup();
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { env });
    expect(ec2.calls()).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'skipped', outcome: 'uninspected', summary: reason });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('acts on its own account in its own Region', async () => {
    openGroup();
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { env: { BOT_ACCOUNT: '111122223333', AWS_REGION: 'us-east-1' } });
    expect(outcome(result)).toBe('applied');
  });
});

describe('exemptions written in the config', () => {
  const exemptions = [{ resource: GROUP, rules: ['sg-open-ingress'], reason: 'bastion, ticket SEC-42', expires: '2025-03-31', approvedBy: 'secops@example.com' }];

  it('exempts the resource until the end of the day it expires, and the alert shows what it let through and who approved it', async () => {
    const { ec2 } = openGroup();
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { config: { exemptions }, now: new Date('2025-03-31T23:00:00Z') });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(outcome(result)).toBe('exempt');
    const email = lastAlert()['email'] ?? '';
    expect(email).toContain(`${GROUP} is exempt in the config until 2025-03-31, approved by secops@example.com: bastion, ticket SEC-42`);
    expect(email).toContain('tcp/22 open to 0.0.0.0/0 (the whole internet)');
  });

  it('no longer exempts after its end: the violation is acted on and says the exemption expired', async () => {
    openGroup();
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { config: { exemptions }, now: new Date('2025-04-01T00:00:01Z') });
    expect(outcome(result)).toBe('applied');
    expect(result.status === 'processed' && result.decisions[0]?.summary).toContain('(its exemption in the config expired on 2025-03-31)');
  });

  it('turns tag exemptions off with exemptionTags: false', async () => {
    const { ec2 } = fakeSecurityGroups([
      { groupId: GROUP, tags: [{ Key: 'remediation:exempt', Value: 'trust me' }], rules: new Map([[RULE_ID, ingressRule(GROUP, RULE_ID, 'tcp', 22, 22, '0.0.0.0/0')]]) },
    ]);
    expect(outcome((await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'))).result)).toBe('exempt');
    const { result } = await run(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { config: { exemptionTags: false } });
    expect(outcome(result)).toBe('applied');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
  });
});

describe('ignorePrincipals', () => {
  const problems = (raw: unknown): string[] => {
    try {
      parseConfig(raw, allRules);
      return [];
    } catch (error) {
      return error instanceof ConfigError ? [...error.problems] : [String(error)];
    }
  };

  it('refuses an account wildcard, which would ignore principals of any account', () => {
    expect(problems({ ignorePrincipals: ['arn:aws:iam::*:role/BreakGlass'] })).toStrictEqual([
      'ignorePrincipals.0: "arn:aws:iam::*:role/BreakGlass" must be an ARN with its 12-digit account id: a wildcard account matches principals in any account',
    ]);
  });

  it('warns about a trailing wildcard, which anyone allowed to name a role can match', () => {
    expect(parseConfig({ ignorePrincipals: ['arn:aws:iam::111122223333:role/BreakGlass*'] }, allRules).warnings).toStrictEqual([
      'ignorePrincipals.0: "arn:aws:iam::111122223333:role/BreakGlass*" ends with a wildcard, so anyone who can create a role or user with a matching name is ignored too',
    ]);
    expect(parseConfig({ ignorePrincipals: ['arn:aws:iam::111122223333:role/BreakGlass'] }, allRules).warnings).toStrictEqual([]);
  });
});
