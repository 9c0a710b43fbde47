/**
 * An Organization hub acting in a member account: every lookup and step of an
 * event in another account runs as that account's member role for the family,
 * in the event's Region, in a session named after the event; nothing is
 * assumed for an event the engine skips; an account that is not enrolled is a
 * failed remediation that names the role and the StackSet; and the member
 * role's own calls are the bot's.
 */
import type { WriteBudget } from '../engine/write-budget.js';
import { DescribeSecurityGroupRulesCommand, DescribeSnapshotsCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CloudTrailEvent } from '../engine/event.js';
import { memberAccessFromEnv } from '../handlers/member-access.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { familiesByName } from '../remediations/registry.js';
import { BOT_ENV } from './helpers/bot.js';
import { fakeSecurityGroups, ingressRule, type GroupState } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { familyHandler } from './helpers/rule-harness.js';
import { useDynalite } from './helpers/dynalite.js';
import { dynamoDbProposalStore, proposalIdFor } from '../engine/proposal-store.js';

const HUB = '111122223333';
const MEMBER = '444455556666';
const GROUP = 'sg-0a1b2c3d4e5f67890';
const SSH = 'sgr-0aa1b2c3d4e5f6071';
const RDP = 'sgr-0bb1b2c3d4e5f6072';
const MEMBER_ROLE = `arn:aws:iam::${MEMBER}:role/remediation-bot/remediation-bot-member-security-groups`;
const ASSUMED = { AccessKeyId: 'ASIAMEMBEREXAMPLE', SecretAccessKey: 'member-secret', SessionToken: 'member-token', Expiration: new Date('2099-01-01T00:00:00Z') };
const sts = mockClient(STSClient);
const dynamo = useDynalite();
const sns = mockClient(SNSClient);

/** The recorded event, as it happened in `account` in `region`. */
function eventIn(account: string, region = 'eu-west-1'): CloudTrailEvent {
  const text = JSON.stringify(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json')).replaceAll(HUB, account).replaceAll('us-east-1', region);
  return JSON.parse(text) as CloudTrailEvent;
}

function bothOpen(): GroupState {
  const rules = [ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0'), ingressRule(GROUP, RDP, 'tcp', 3389, 3389, '0.0.0.0/0')];
  return { groupId: GROUP, rules: new Map(rules.map((rule) => [rule.SecurityGroupRuleId ?? '', rule])) };
}

const HUB_ENV = { ...BOT_ENV, BOT_ACCOUNT: HUB, BOT_MEMBER_ACCOUNTS: MEMBER, BOT_MEMBER_ROLE_NAMES: 'remediation-bot-member-security-groups', AWS_REGION: 'eu-west-1' };

/** The hub's security-groups function, in remediate mode (or another), with member access as deployed (STS mocked). */
function hub(env: Record<string, string> = HUB_ENV, options: { mode?: 'remediate' | 'propose'; table?: string; writeBudget?: WriteBudget } = {}) {
  const family = familiesByName['security-groups'];
  const members = memberAccessFromEnv({ family: family.name, commands: runtimeCommands(family), env, sts: new STSClient({ region: 'eu-west-1' }) });
  return familyHandler('security-groups', {
    modes: { 'sg-open-ingress': options.mode ?? 'remediate' },
    env,
    ...(members ? { members } : {}),
    ...(options.table ? { proposals: dynamoDbProposalStore({ tableName: options.table, client: dynamo.client }) } : {}),
    ...(options.writeBudget ? { writeBudget: options.writeBudget } : {}),
  }).handler;
}

const signedBy = async (call: { thisValue: unknown }) =>
  (await (call.thisValue as { config: { credentials: () => Promise<{ accessKeyId: string }> } }).config.credentials()).accessKeyId;

beforeEach(() => {
  sts.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('an Organization hub', () => {
  it('reads and writes in a member account only as its member role, in the event\'s Region, in a session named after the event', async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    const event = eventIn(MEMBER);
    const result = await hub()(event);
    expect(result).toMatchObject({ status: 'processed', decisions: [{ rule: 'sg-open-ingress', outcome: 'applied' }] });
    expect(groups[0]?.rules.size).toBe(0);
    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input)).toStrictEqual([
      { RoleArn: MEMBER_ROLE, RoleSessionName: `remediation-bot-${event.detail.eventID}`, DurationSeconds: 900 },
    ]);
    // Every EC2 call, reads and writes, was signed with the member session, for the event's Region.
    const calls = [...ec2.commandCalls(DescribeSecurityGroupRulesCommand), ...ec2.commandCalls(RevokeSecurityGroupIngressCommand)];
    expect(calls.length).toBeGreaterThanOrEqual(6);
    for (const call of calls) {
      expect(await signedBy(call)).toBe('ASIAMEMBEREXAMPLE');
      expect(await (call.thisValue as { config: { region: () => Promise<string> } }).config.region()).toBe('eu-west-1');
    }
  });

  it("takes a member account's writes from that account's budget, and the hub's own from the hub's", async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
    const accounts: (string | undefined)[] = [];
    const writeBudget: WriteBudget = { reserve: async (_writes, _now, account) => (accounts.push(account), { granted: true }) };
    fakeSecurityGroups([bothOpen()]);
    await hub(HUB_ENV, { writeBudget })(eventIn(MEMBER));
    fakeSecurityGroups([bothOpen()]);
    await hub(HUB_ENV, { writeBudget })(eventIn(HUB));
    expect(accounts).toStrictEqual([MEMBER, undefined]);
  });

  it('assumes nothing for an event it skips: the member role\'s own call is the bot\'s', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    const event = eventIn(MEMBER);
    event.detail.userIdentity = {
      type: 'AssumedRole',
      arn: `arn:aws:sts::${MEMBER}:assumed-role/remediation-bot-member-security-groups/remediation-bot-${event.detail.eventID}`,
      sessionContext: { sessionIssuer: { type: 'Role', arn: MEMBER_ROLE } },
    } as CloudTrailEvent['detail']['userIdentity'];
    const result = await hub()(event);
    expect(result).toMatchObject({ status: 'processed', decisions: [{ verdict: 'skipped', outcome: 'none' }] });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('a look-alike role in another member account is not the bot', async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
    fakeSecurityGroups([bothOpen()]);
    const event = eventIn(MEMBER);
    event.detail.userIdentity = {
      type: 'AssumedRole',
      arn: `arn:aws:sts::${MEMBER}:assumed-role/remediation-bot-member-security-groups/x`,
      // The member role of another account, named the same: not this account's bot.
      sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::777788889999:role/remediation-bot/remediation-bot-member-security-groups` } },
    } as CloudTrailEvent['detail']['userIdentity'];
    await expect(hub()(event)).resolves.toMatchObject({ decisions: [{ verdict: 'violation', outcome: 'applied' }] });
  });

  it('an account that is not enrolled is a failed remediation naming the role and the StackSet, with no write', async () => {
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }));
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    const result = await hub()(eventIn(MEMBER));
    expect(result).toMatchObject({ decisions: [{ outcome: 'failed', execution: 'failed' }] });
    expect(ec2.calls()).toHaveLength(0);
    const [alert] = sns.commandCalls(PublishCommand).map((call) => JSON.parse(String(call.args[0].input.Message)) as { email: string });
    expect(alert?.email).toContain(
      `before: COULD NOT READ - DescribeSecurityGroupRules failed: MemberRoleUnavailable (account ${MEMBER} is not enrolled, or its member role does not trust this function's role: deploy the member StackSet to it`,
    );
  });

  it('applies an approved proposal from a member account in that account, as its member role', async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    const table = await dynamo.createTable('member-approvals');
    const event = eventIn(MEMBER);
    await expect(hub(HUB_ENV, { mode: 'propose', table })(event)).resolves.toMatchObject({ decisions: [{ outcome: 'proposed' }] });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    const proposalId = proposalIdFor('security-groups', event.detail.eventID, 'sg-open-ingress');
    const approval = { approval: { proposalId, action: 'approve', approver: 'arn:aws:sts::111122223333:assumed-role/SecOps/alice' } };
    const budgets: (string | undefined)[] = [];
    const writeBudget: WriteBudget = { reserve: async (_writes, _now, account) => (budgets.push(account), { granted: true }) };
    await expect(hub(HUB_ENV, { mode: 'propose', table, writeBudget })(approval)).resolves.toMatchObject({ status: 'ran', outcome: 'applied' });
    expect(budgets).toStrictEqual([MEMBER]);
    expect(groups[0]?.rules.size).toBe(0);
    const revokes = ec2.commandCalls(RevokeSecurityGroupIngressCommand);
    expect(revokes).toHaveLength(2);
    for (const call of revokes) expect(await signedBy(call)).toBe('ASIAMEMBEREXAMPLE');
  });

  it('polls a plan\'s wait step in the member account too, as its member role', async () => {
    sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-0123456789abcdef0', State: 'completed' }] });
    const family = familiesByName['ebs'];
    const access = memberAccessFromEnv({ family: family.name, commands: runtimeCommands(family), env: HUB_ENV, sts: new STSClient({ region: 'eu-west-1' }) });
    const gateway = await access?.gatewayFor({ account: MEMBER, region: 'eu-west-1', eventId: 'e-1' });
    await gateway?.wait?.('ec2', 'waitUntilSnapshotCompleted', { SnapshotIds: ['snap-0123456789abcdef0'] }, { maxWaitSeconds: 10, minDelaySeconds: 1, maxDelaySeconds: 2 });
    const polls = ec2.commandCalls(DescribeSnapshotsCommand);
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const call of polls) expect(await signedBy(call)).toBe('ASIAMEMBEREXAMPLE');
    expect(sts.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input.RoleArn)).toStrictEqual([`arn:aws:iam::${MEMBER}:role/remediation-bot/remediation-bot-member-ebs`]);
  });

  it('never enters an account it does not serve', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    const result = await hub()(eventIn('555566667777'));
    expect(result).toMatchObject({ decisions: [{ verdict: 'skipped' }] });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
  });
});
