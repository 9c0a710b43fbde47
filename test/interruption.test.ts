/**
 * An invocation that runs out of time part-way through a plan (the pacer's
 * `OutOfTime`) fails with what it applied in the undo record and no alert;
 * Lambda's retry resumes at the next step, exactly once, and alerts once.
 * A progress record that the bot did not seal, or for another plan, is set
 * aside: the retry then acts afresh, which each step's read before its write
 * keeps exact. (The burst-scale version of this is `test/load.test.ts`.)
 */
import { createHmac } from 'node:crypto';
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, type AwsGateway } from '../engine/aws.js';
import { dynamoDbIdempotency } from '../engine/idempotency.js';
import type { InvocationResult } from '../engine/lambda.js';
import type { EngineMetrics } from '../engine/metrics.js';
import { createPacer, OutOfTimeError, type Clock } from '../engine/pacing.js';
import { dynamoDbProgressStore } from '../engine/progress-store.js';
import { dynamoDbProposalStore, proposalIdFor } from '../engine/proposal-store.js';
import { dynamoDbUndoStore } from '../engine/undo-store.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { familiesByName } from '../remediations/registry.js';
import { useDynalite } from './helpers/dynalite.js';
import { fakeSecurityGroups, ingressRule, type GroupState } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { familyHandler, TEST_REGION } from './helpers/rule-harness.js';

const GROUP = 'sg-0a1b2c3d4e5f67890';
const SSH = 'sgr-0aa1b2c3d4e5f6071';
const RDP = 'sgr-0bb1b2c3d4e5f6072';
const EVENT = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json';
const sns = mockClient(SNSClient);
const dynamo = useDynalite();
let table = '';
let tables = 0;

const event = () => loadEvent(EVENT);
const eventId = () => event().detail.eventID;
const progressKey = () => ({ id: { S: `progress#security-groups#${eventId()}` } });
const revokes = (ec2: ReturnType<typeof fakeSecurityGroups>['ec2']) => ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input.SecurityGroupRuleIds);

function bothOpen(): GroupState {
  const rules = [ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0'), ingressRule(GROUP, RDP, 'tcp', 3389, 3389, '0.0.0.0/0')];
  return { groupId: GROUP, groupName: 'web', rules: new Map(rules.map((rule) => [rule.SecurityGroupRuleId ?? '', rule])) };
}

function fakeClock(): Clock & { t: number } {
  const clock = { t: 0, now: () => clock.t, sleep: async (ms: number) => void (clock.t += ms) };
  return clock;
}

const seal = async (text: string) => createHmac('sha256', 'test-key').update(text).digest('base64');

/**
 * The security-groups function in remediate mode with every store on the
 * table, and a pacer so sparing (1% of each bucket) that the second revoke
 * must wait 20 s for its token: with 25 s left (10 s kept back), the first
 * invocation runs out of time between the two steps.
 */
function bot(clock: Clock, counts: Record<string, number> = {}, gateway?: AwsGateway, mode: 'remediate' | 'propose' = 'remediate') {
  const client = dynamo.client;
  const metrics: EngineMetrics = { count: (name, rule) => void (counts[rule ? `${name}:${rule}` : name] = (counts[rule ? `${name}:${rule}` : name] ?? 0) + 1) };
  const { handler } = familyHandler('security-groups', {
    modes: { 'sg-open-ingress': mode },
    proposals: dynamoDbProposalStore({ tableName: table, client }),
    idempotency: dynamoDbIdempotency({ tableName: table, client, keyPrefix: 'remediation-bot-test-security-groups' }),
    undoStore: dynamoDbUndoStore({ tableName: table, client }),
    progress: dynamoDbProgressStore({ tableName: table, client }),
    pacer: createPacer({ share: 0.01, instances: 1, clock, random: () => 0 }),
    seal,
    metrics,
    now: () => new Date(Date.parse('2025-03-05T08:42:00Z') + clock.now()),
    ...(gateway ? { gateway } : {}),
  });
  return (deadlineMs: number, input: unknown = event()): Promise<InvocationResult> => {
    const deadline = clock.now() + deadlineMs;
    return handler(input, { getRemainingTimeInMillis: () => deadline - clock.now() });
  };
}

async function undoEntries() {
  const [record] = await dynamoDbUndoStore({ tableName: table, client: dynamo.client }).read(eventId(), ['security-groups']);
  return (record?.entries ?? []).map((entry) => [entry.outcome, entry.applied.map((step) => step.input['SecurityGroupRuleIds'])]);
}

beforeEach(async () => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  tables += 1;
  table = await dynamo.createTable(`interruption-${tables}`);
});

describe('an invocation that runs out of time between two steps', () => {
  it('fails with what it applied in the undo record, alerts nobody yet, and its retry resumes at the next step, once', async () => {
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    const clock = fakeClock();
    const counts: Record<string, number> = {};
    const invoke = bot(clock, counts);

    await expect(invoke(25_000)).rejects.toMatchObject({ name: 'Interrupted', message: expect.stringContaining('Lambda\'s retry resumes at the next step') });
    expect(revokes(ec2)).toStrictEqual([[SSH]]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    expect(await undoEntries()).toStrictEqual([['interrupted', [[SSH]]]]);
    expect(counts['Interrupted']).toBe(1);

    // Lambda retries a minute later.
    clock.t += 60_000;
    const result = await invoke(120_000);
    expect(result).toMatchObject({ status: 'processed', decisions: [{ rule: 'sg-open-ingress', outcome: 'applied', execution: 'applied' }] });
    expect(revokes(ec2)).toStrictEqual([[SSH], [RDP]]);
    expect(groups[0]?.rules.size).toBe(0);
    expect(await undoEntries()).toStrictEqual([
      ['interrupted', [[SSH]]],
      ['applied', [[RDP]]],
    ]);
    // One alert, for the whole plan: the first step as the first invocation found it.
    const alerts = sns.commandCalls(PublishCommand).map((call) => JSON.parse(String(call.args[0].input.Message)) as { email: string });
    expect(alerts).toHaveLength(1);
    // Resumed, not redone: the SSH step shows as applied, with the reads the first invocation made, and the
    // undo covers both steps (acting afresh would show it "already done" and undo only RDP).
    expect(alerts[0]?.email).toContain(`result: APPLIED\n   before: still needed - ${SSH} still allows 0.0.0.0/0 on tcp/22\n   after: done - ${SSH} no longer exists`);
    expect(alerts[0]?.email).toContain('HOW TO UNDO (2 COMMANDS, IN THIS ORDER)');
    const { Item: left } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: progressKey() }));
    expect(left).toBeUndefined();

    // A later duplicate delivery gets the stored result: no call, no alert.
    clock.t += 60_000;
    await expect(invoke(120_000)).resolves.toStrictEqual(result);
    expect(revokes(ec2)).toHaveLength(2);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('sets aside a progress record without the bot\'s seal (one that would skip the second step): the retry acts afresh and skips nothing', async () => {
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    const clock = fakeClock();
    const counts: Record<string, number> = {};
    const invoke = bot(clock, counts);
    await expect(invoke(25_000)).rejects.toMatchObject({ name: 'Interrupted' });

    // Someone with write access to the table moves the resume point past the last step.
    const { Item: item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: progressKey() }));
    const progress = JSON.parse(item?.['progress']?.S ?? '{}') as { interrupted: { resume: { fromIndex: number } }[] };
    const entry = progress.interrupted[0];
    if (entry) entry.resume.fromIndex = 2;
    await dynamo.client.send(new PutItemCommand({ TableName: table, Item: { ...item, progress: { S: JSON.stringify(progress) } } }));

    clock.t += 60_000;
    const result = await invoke(120_000);
    expect(counts['ProgressRefused']).toBe(1);
    expect(result).toMatchObject({ status: 'processed', decisions: [{ outcome: 'applied' }] });
    // SSH was read gone before any write; RDP was revoked.
    expect(revokes(ec2)).toStrictEqual([[SSH], [RDP]]);
    expect(groups[0]?.rules.size).toBe(0);
  });

  it('that ran out while reading the facts did nothing: no write, no record, and the retry decides afresh', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    const real = createAwsGateway(runtimeCommands(familiesByName['security-groups']), { region: TEST_REGION });
    let starved = true;
    const gateway: AwsGateway = {
      call: (service, operation, input) => (starved ? Promise.reject(new OutOfTimeError('no time left for a lookup')) : real.call(service, operation, input)),
    };
    const clock = fakeClock();
    const invoke = bot(clock, {}, gateway);
    await expect(invoke(25_000)).rejects.toMatchObject({ name: 'Interrupted', message: expect.stringContaining('nothing was done') });
    expect(revokes(ec2)).toHaveLength(0);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    const { Item: none } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: progressKey() }));
    expect(none).toBeUndefined();

    starved = false;
    clock.t += 60_000;
    await expect(invoke(120_000)).resolves.toMatchObject({ decisions: [{ outcome: 'applied' }] });
    expect(revokes(ec2)).toStrictEqual([[SSH], [RDP]]);
  });
});

describe('an approved proposal whose run runs out of time between two steps', () => {
  const ALICE = 'arn:aws:sts::111122223333:assumed-role/SecOps/alice';
  const approval = (approver: string) => ({ approval: { proposalId: proposalIdFor('security-groups', eventId(), 'sg-open-ingress'), action: 'approve', approver } });

  it('fails with what it applied in the undo record, and goes on at the next step as its approver when asked again; then it is settled', async () => {
    const { ec2, groups } = fakeSecurityGroups([bothOpen()]);
    const clock = fakeClock();
    const counts: Record<string, number> = {};
    const invoke = bot(clock, counts, undefined, 'propose');
    await expect(invoke(120_000)).resolves.toMatchObject({ decisions: [{ outcome: 'proposed' }] });
    const proposed = sns.commandCalls(PublishCommand).length;

    await expect(invoke(25_000, approval(ALICE))).rejects.toMatchObject({ name: 'Interrupted', message: expect.stringContaining('the approval resumes at the next step') });
    expect(revokes(ec2)).toStrictEqual([[SSH]]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(proposed);
    expect(await undoEntries()).toStrictEqual([['interrupted', [[SSH]]]]);
    expect(counts['Interrupted']).toBe(1);

    // Lambda retries the Slack approval a minute later (or someone approves again): as alice, from the next step.
    clock.t += 60_000;
    await expect(invoke(120_000, approval('arn:aws:sts::111122223333:assumed-role/SecOps/bob'))).resolves.toMatchObject({ status: 'ran', by: ALICE, outcome: 'applied' });
    expect(revokes(ec2)).toStrictEqual([[SSH], [RDP]]);
    expect(groups[0]?.rules.size).toBe(0);
    expect(await undoEntries()).toStrictEqual([
      ['interrupted', [[SSH]]],
      ['applied', [[RDP]]],
    ]);
    const alerts = sns.commandCalls(PublishCommand).slice(proposed).map((call) => JSON.parse(String(call.args[0].input.Message)) as { email: string });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.email).toContain(`Approved by ${ALICE}`);
    expect(alerts[0]?.email).toContain('HOW TO UNDO (2 COMMANDS, IN THIS ORDER)');
    const { Item: left } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { id: { S: `progress#security-groups#approval:${approval(ALICE).approval.proposalId}` } } }));
    expect(left).toBeUndefined();

    // Finished: asked again, it is refused as settled, and nothing runs.
    clock.t += 60_000;
    await expect(invoke(120_000, approval(ALICE))).resolves.toMatchObject({ status: 'refused', reason: expect.stringContaining(`already approved by ${ALICE}`) });
    expect(revokes(ec2)).toHaveLength(2);
  });

  it('is not resumed without a progress record the bot sealed: an approved proposal stays settled', async () => {
    const { ec2 } = fakeSecurityGroups([bothOpen()]);
    const clock = fakeClock();
    const invoke = bot(clock, {}, undefined, 'propose');
    await invoke(120_000);
    await expect(invoke(25_000, approval(ALICE))).rejects.toMatchObject({ name: 'Interrupted' });
    const key = { id: { S: `progress#security-groups#approval:${approval(ALICE).approval.proposalId}` } };
    const { Item: saved } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: key }));
    await dynamo.client.send(new PutItemCommand({ TableName: table, Item: { ...saved, seal: { S: 'forged' } } }));
    clock.t += 60_000;
    await expect(invoke(120_000, approval(ALICE))).resolves.toMatchObject({ status: 'refused', reason: expect.stringContaining('already approved') });
    expect(revokes(ec2)).toStrictEqual([[SSH]]);
  });
});
