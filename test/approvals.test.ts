/**
 * Approvals: a proposal is stored whole (dynalite), and approving it runs
 * exactly that plan, once, through the same executor, re-checked against the
 * present (a stateful EC2 stand-in), with the approver in the undo record and
 * the alert. Dismissed, expired, tampered or foreign proposals run nothing.
 */
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { DeleteItemCommand, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { InvocationResult } from '../engine/lambda.js';
import { createHmac } from 'node:crypto';
import { dynamoDbProposalStore, hashOf, proposalIdFor, proposalKey } from '../engine/proposal-store.js';
import { dynamoDbUndoStore } from '../engine/undo-store.js';
import { useDynalite } from './helpers/dynalite.js';
import { fakeSecurityGroups, ingressRule, type GroupState } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { familyHandler } from './helpers/rule-harness.js';

const GROUP = 'sg-0a1b2c3d4e5f67890';
const SSH = 'sgr-0aa1b2c3d4e5f6071';
const RDP = 'sgr-0bb1b2c3d4e5f6072';
const EVENT = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json';
const ALICE = 'arn:aws:sts::111122223333:assumed-role/SecOps/alice';
const sns = mockClient(SNSClient);
const dynamo = useDynalite();
let table = '';
let tables = 0;

function group(rules: ReturnType<typeof ingressRule>[]): GroupState {
  return { groupId: GROUP, groupName: 'web', rules: new Map(rules.map((rule) => [rule.SecurityGroupRuleId ?? '', rule])) };
}
const bothOpen = () => group([ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0'), ingressRule(GROUP, RDP, 'tcp', 3389, 3389, '0.0.0.0/0')]);

/** The security-groups function with approvals on, `now` fixed, against the test's table. */
function bot(now = new Date('2025-03-04T10:20:00Z')) {
  const client = dynamo.client;
  return familyHandler('security-groups', {
    modes: { 'sg-open-ingress': 'propose' },
    proposals: dynamoDbProposalStore({ tableName: table, client }),
    undoStore: dynamoDbUndoStore({ tableName: table, client }),
    now: () => now,
  }).handler;
}

const event = () => loadEvent(EVENT);
const proposalId = () => proposalIdFor('security-groups', event().detail.eventID, 'sg-open-ingress');
const approval = (action: 'approve' | 'dismiss', by = ALICE, id = proposalId()) => ({ approval: { proposalId: id, action, approver: by } });
const alerts = () => sns.commandCalls(PublishCommand).map((call) => JSON.parse(String(call.args[0].input.Message)) as Record<string, string>);
const statusOf = (result: InvocationResult) => result.status;

beforeEach(async () => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  tables += 1;
  table = await dynamo.createTable(`approvals-${tables}`);
});

describe('a proposal', () => {
  it('is stored whole under an opaque id, and its alert says how to approve it; nothing is written', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    const result = await bot()(event());
    expect(result.status === 'processed' ? result.decisions[0]?.outcome : undefined).toBe('proposed');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    const { Item: item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { id: { S: proposalKey(proposalId()) } } }));
    expect(item?.['status']?.S).toBe('open');
    expect(item?.['expiresAt']?.S).toBe('2025-03-11T10:20:00.000Z');
    expect(JSON.parse(item?.['decision']?.S ?? '{}')).toMatchObject({ rule: 'sg-open-ingress', verdict: { kind: 'violation' } });
    expect(alerts()[0]?.['email']).toContain(`npx remediate approve ${proposalId()} --function remediation-bot-test-security-groups`);
    // The alert names the proposal; it never carries something that will be executed.
    expect(proposalId()).toMatch(/^security-groups\.[a-z2-7]{24}$/);
  });
});

describe('approving it', () => {
  it('runs exactly the stored plan once, re-checked, and names the approver in the undo record and the alert', async () => {
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    const result = await bot()(approval('approve'));
    expect(result).toStrictEqual({ status: 'ran', proposalId: proposalId(), by: ALICE, rule: 'sg-open-ingress', outcome: 'applied' });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toStrictEqual([
      { GroupId: GROUP, SecurityGroupRuleIds: [SSH] },
      { GroupId: GROUP, SecurityGroupRuleIds: [RDP] },
    ]);
    expect(groups[0]?.rules.size).toBe(0);
    const [undo] = await dynamoDbUndoStore({ tableName: table, client: dynamo.client }).read(event().detail.eventID, ['security-groups']);
    expect(undo?.entries[0]?.approvedBy).toBe(ALICE);
    const last = alerts().at(-1);
    expect(last?.['email']).toContain(`Approved by ${ALICE} (proposal ${proposalId()})`);
    const { Item: item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { id: { S: proposalKey(proposalId()) } } }));
    expect([item?.['status']?.S, item?.['settledBy']?.S, item?.['outcome']?.S]).toStrictEqual(['approved', ALICE, 'applied']);
  });

  it('twice at once (a double click, a retry) runs the plan once; the other is refused and says by whom', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    const results = await Promise.all([bot()(approval('approve')), bot()(approval('approve', 'arn:aws:sts::111122223333:assumed-role/SecOps/bob'))]);
    expect(results.map(statusOf).sort()).toStrictEqual(['ran', 'refused']);
    // One run of the two-step plan.
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input.SecurityGroupRuleIds)).toStrictEqual([[SSH], [RDP]]);
    const refused = results.find((result) => result.status === 'refused');
    expect(refused && 'reason' in refused ? refused.reason : '').toMatch(/^already approved by arn:aws:sts::111122223333:assumed-role\/SecOps\/(alice|bob) at /);
  });

  it('after a person revoked the rules by hand is "already-fixed", on the evidence of a read, with no write', async () => {
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    groups[0]?.rules.clear();
    const result = await bot()(approval('approve'));
    expect(result.status === 'ran' ? result.outcome : result.status).toBe('already-fixed');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('after the rule was changed to a private range is "stale": nothing is revoked', async () => {
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    groups[0]?.rules.set(SSH, ingressRule(GROUP, SSH, 'tcp', 22, 22, '10.0.0.0/8'));
    groups[0]?.rules.set(RDP, ingressRule(GROUP, RDP, 'tcp', 3389, 3389, '10.0.0.0/8'));
    const result = await bot()(approval('approve'));
    expect(result.status === 'ran' ? result.outcome : result.status).toBe('stale');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it.each([
    ['dismissed first', async () => void (await bot()(approval('dismiss'))), /^already dismissed by arn:aws:sts::111122223333:assumed-role\/SecOps\/alice at /],
    ['expired', async () => undefined, /^expired at 2025-03-11T10:20:00.000Z$/],
    [
      'changed in the table',
      async () => {
        const key = { id: { S: proposalKey(proposalId()) } };
        const { Item: item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: key }));
        const altered = (item?.['decision']?.S ?? '').replace(SSH, 'sgr-0ffffffffffffffff');
        await dynamo.client.send(new UpdateItemCommand({ TableName: table, Key: key, UpdateExpression: 'SET #d = :d', ExpressionAttributeNames: { '#d': 'decision' }, ExpressionAttributeValues: { ':d': { S: altered } } }));
      },
      /does not match its hash/,
    ],
  ])('when %s, runs nothing', async (name, before, reason) => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    await before();
    const at = name === 'expired' ? new Date('2025-03-11T10:20:00Z') : undefined;
    const result = await bot(at)(approval('approve'));
    expect(result.status).toBe('refused');
    expect(result.status === 'refused' ? result.reason : '').toMatch(reason);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('for another family, an unknown id or a malformed request runs nothing and reads no proposal', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    const foreign = await bot()(approval('approve', ALICE, proposalIdFor('iam', event().detail.eventID, 'sg-open-ingress')));
    expect(foreign.status === 'refused' ? foreign.reason : '').toBe('the proposal belongs to family iam, this function acts for security-groups');
    const unknown = await bot()(approval('approve', ALICE, proposalIdFor('security-groups', 'other-event', 'sg-open-ingress')));
    expect(unknown.status === 'refused' ? unknown.reason : '').toMatch(/^no such proposal/);
    const malformed = await bot()({ approval: { proposalId: proposalId(), action: 'approve', approver: ALICE, plan: [{ operation: 'DeleteSecurityGroup' }] } });
    expect(malformed.status === 'refused' ? malformed.reason : '').toMatch(/^not an approval request/);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it.each([
    ['DRY_RUN=true on the function', { env: { DRY_RUN: 'true' } }, 'DRY_RUN=true on this function: nothing is applied'],
    ['the rule now in notify', { modes: { 'sg-open-ingress': 'notify' as const } }, 'rule sg-open-ingress now runs in notify: its proposals are no longer applied'],
  ])('with %s, runs nothing and leaves it open', async (_, options, reason) => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    const { handler } = familyHandler('security-groups', { modes: { 'sg-open-ingress': 'propose' }, ...options, proposals: dynamoDbProposalStore({ tableName: table, client: dynamo.client }) });
    const result = await handler(approval('approve'));
    expect(result.status === 'refused' ? result.reason : '').toBe(reason);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect((await dynamoDbProposalStore({ tableName: table, client: dynamo.client }).get(proposalId()))?.status).toBe('open');
  });

  it('from Slack, only by a user on the list for the proposal\'s rule (else its severity\'s, else slackUsers)', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    await bot()(event());
    const approvals = { slackUsers: ['U0EVERYONE'], rules: { 'sg-open-ingress': ['U0NETWORK'] }, severities: { critical: ['U0CISO'] } };
    const withList = () => familyHandler('security-groups', { modes: { 'sg-open-ingress': 'propose' }, config: { approvals }, now: () => new Date('2025-03-04T10:20:00Z'), proposals: dynamoDbProposalStore({ tableName: table, client: dynamo.client }) }).handler;
    const refused = await withList()(approval('approve', 'slack:U0EVERYONE (eve)'));
    expect(refused.status === 'refused' ? refused.reason : '').toMatch(/^Slack user U0EVERYONE is not on the approval list for sg-open-ingress proposals/);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    const ran = await withList()(approval('approve', 'slack:U0NETWORK (nina)'));
    expect(ran.status === 'ran' ? ran.outcome : ran.status === 'refused' ? ran.reason : ran.status).toBe('applied');
  });

  it('with sealing on, runs only a proposal the bot sealed: one rewritten with a matching hash, or written without a seal, runs nothing', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    // The runtime seals with KMS GenerateMac under the stack's signing key; here an HMAC with a key the test keeps.
    const seal = async (text: string) => createHmac('sha256', 'bot-only-key').update(text).digest('base64');
    const sealed = () => familyHandler('security-groups', { modes: { 'sg-open-ingress': 'propose' }, seal, now: () => new Date('2025-03-04T10:20:00Z'), proposals: dynamoDbProposalStore({ tableName: table, client: dynamo.client }) }).handler;
    await sealed()(event());
    const key = { id: { S: proposalKey(proposalId()) } };
    const { Item: item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: key }));
    expect(item?.['seal']?.S).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    // Someone with write access to the table swaps in another plan, with its own correct hash.
    const forged = (item?.['decision']?.S ?? '').replaceAll(RDP, 'sgr-0ffffffffffffffff');
    await dynamo.client.send(
      new UpdateItemCommand({ TableName: table, Key: key, UpdateExpression: 'SET #d = :d, #h = :h', ExpressionAttributeNames: { '#d': 'decision', '#h': 'hash' }, ExpressionAttributeValues: { ':d': { S: forged }, ':h': { S: hashOf(forged) } } }),
    );
    const refused = await sealed()(approval('approve'));
    expect(refused.status === 'refused' ? refused.reason : '').toBe("the stored proposal does not carry the bot's seal: the bot did not write it as it is, so it is not run");
    // The same proposal written again by a writer that does not seal.
    await dynamo.client.send(new DeleteItemCommand({ TableName: table, Key: key }));
    await bot()(event());
    const unsealed = await sealed()(approval('approve'));
    expect(unsealed.status === 'refused' ? unsealed.reason : '').toBe("the stored proposal does not carry the bot's seal: the bot did not write it as it is, so it is not run");
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('with sealing on, runs a proposal the bot sealed', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    const seal = async (text: string) => createHmac('sha256', 'bot-only-key').update(text).digest('base64');
    const sealed = () => familyHandler('security-groups', { modes: { 'sg-open-ingress': 'propose' }, seal, now: () => new Date('2025-03-04T10:20:00Z'), proposals: dynamoDbProposalStore({ tableName: table, client: dynamo.client }) }).handler;
    await sealed()(event());
    const result = await sealed()(approval('approve'));
    expect(result.status === 'ran' ? result.outcome : result.status).toBe('applied');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
  });

  it('without approvals enabled is refused', async () => {
    fakeSecurityGroups([bothOpen()]);
    const { handler } = familyHandler('security-groups', { modes: { 'sg-open-ingress': 'propose' } });
    const result = await handler(approval('approve'));
    expect(result.status === 'refused' ? result.reason : '').toMatch(/approvals are not enabled/);
  });
});
