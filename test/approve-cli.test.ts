/**
 * `remediate approve`, `dismiss` and `proposals`: the CLI asks the family's
 * function (a mocked Lambda whose Invoke runs the real family handler
 * in-process, against dynalite and a stateful EC2 stand-in) and never runs a
 * plan itself; `proposals` lists the open ones from the table.
 */
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { dynamoDbProposalStore, proposalIdFor } from '../engine/proposal-store.js';
import { expectUsageError, runCli } from './helpers/cli.js';
import { useDynalite } from './helpers/dynalite.js';
import { fakeSecurityGroups, ingressRule } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { familyHandler } from './helpers/rule-harness.js';

const GROUP = 'sg-0a1b2c3d4e5f67890';
const SSH = 'sgr-0aa1b2c3d4e5f6071';
const RDP = 'sgr-0bb1b2c3d4e5f6072';
const ALICE = 'arn:aws:sts::111122223333:assumed-role/SecOps/alice';
const FUNCTION = 'remediation-bot-prod-security-groups';
const lambda = mockClient(LambdaClient);
/** A response payload as the SDK hands it over (its bytes; the CLI only decodes them). */
const payloadOf = (text: string) => new TextEncoder().encode(text) as unknown as InvokeCommandOutput['Payload'];
const sts = mockClient(STSClient);
const sns = mockClient(SNSClient);
const dynamo = useDynalite({ env: true });
let table = '';
let tables = 0;

const event = () => loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json');
const proposalId = () => proposalIdFor('security-groups', event().detail.eventID, 'sg-open-ingress');
const store = () => dynamoDbProposalStore({ tableName: table, client: dynamo.client });
const handler = () => familyHandler('security-groups', { modes: { 'sg-open-ingress': 'propose' }, proposals: store() }).handler;

beforeEach(async () => {
  lambda.reset();
  sts.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  sts.on(GetCallerIdentityCommand).resolves({ Arn: ALICE, Account: '111122223333', UserId: 'AROAEXAMPLE:alice' });
  // The function, as Lambda runs it: the payload goes to the family's handler, its result comes back as JSON.
  lambda.on(InvokeCommand).callsFake(async (input: { Payload?: Uint8Array }) => {
    const result = await handler()(JSON.parse(new TextDecoder().decode(input.Payload)) as unknown);
    return { StatusCode: 200, Payload: payloadOf(JSON.stringify(result)) };
  });
  tables += 1;
  table = await dynamo.createTable(`approve-cli-${tables}`);
});

describe('remediate approve', () => {
  it('asks the family\'s function, naming the caller, and the function runs its stored plan: the CLI sends no EC2 call of its own', async () => {
    const { ec2, groups } = fakeSecurityGroups([
      { groupId: GROUP, groupName: 'web', rules: new Map([[SSH, ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0')], [RDP, ingressRule(GROUP, RDP, 'tcp', 3389, 3389, '0.0.0.0/0')]]) },
    ]);
    await handler()(event());
    const { code, stdout, stderr } = await runCli(['approve', proposalId(), '--function', FUNCTION, '--region', 'eu-west-1']);
    expect(stderr).toStrictEqual([]);
    expect(code).toBe(0);
    expect(stdout).toStrictEqual([`${proposalId()}: sg-open-ingress: applied (approved by ${ALICE}; the alert has each step with its reads before and after)`]);
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    const { Payload: payload, ...rest } = calls[0]?.args[0].input ?? {};
    expect(rest).toStrictEqual({ FunctionName: FUNCTION, InvocationType: 'RequestResponse' });
    expect(JSON.parse(new TextDecoder().decode(payload as Uint8Array))).toStrictEqual({ approval: { proposalId: proposalId(), action: 'approve', approver: ALICE } });
    expect(await calls[0]?.thisValue.config.region()).toBe('eu-west-1');
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
    expect(groups[0]?.rules.size).toBe(0);

    // Again: the function refuses, and the CLI says why, exit 2.
    const again = await runCli(['approve', proposalId(), '--stage', 'prod']);
    expect(again.code).toBe(2);
    expect(again.stderr[0]).toMatch(new RegExp(`^remediate approve: ${proposalId().replace('.', '\\.')} refused: already approved by ${ALICE.replace(/\//g, '\\/')} at `));
    expect(lambda.commandCalls(InvokeCommand)[1]?.args[0].input.FunctionName).toBe(FUNCTION);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
  });

  it('dismiss closes it; nothing changes', async () => {
    const { ec2 } = fakeSecurityGroups([{ groupId: GROUP, groupName: 'web', rules: new Map([[SSH, ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0')]]) }]);
    await handler()(event());
    const { code, stdout } = await runCli(['dismiss', proposalId(), '--stage', 'prod']);
    expect(code).toBe(0);
    expect(stdout).toStrictEqual([`${proposalId()}: dismissed by ${ALICE}; nothing was changed`]);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(await store().listOpen(new Date())).toStrictEqual([]);
  });

  it('takes the event id and the rule instead of the proposal id', async () => {
    fakeSecurityGroups([{ groupId: GROUP, groupName: 'web', rules: new Map([[SSH, ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0')]]) }]);
    await handler()(event());
    const { code, stdout } = await runCli(['dismiss', event().detail.eventID, '--rule', 'sg-open-ingress', '--stage', 'prod']);
    expect(code).toBe(0);
    expect(stdout).toStrictEqual([`${proposalId()}: dismissed by ${ALICE}; nothing was changed`]);
    expect(JSON.parse(new TextDecoder().decode(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array))).toStrictEqual({ approval: { proposalId: proposalId(), action: 'dismiss', approver: ALICE } });
  });

  it('says what the function answered when it failed, exit 4', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: payloadOf('{"errorMessage":"boom"}') });
    const { code, stderr } = await runCli(['approve', proposalId(), '--function', FUNCTION]);
    expect(code).toBe(4);
    expect(stderr).toStrictEqual(['remediate approve: the function failed (Unhandled): {"errorMessage":"boom"}']);
  });

  it.each([
    [['approve'], 'approve: name exactly one proposal id'],
    [['approve', 'sg-open-ingress!'], '"sg-open-ingress!" is neither a proposal id'],
    [['approve', '3b2f4c9e-1111-4222-8333-944455556666', '--stage', 'prod'], 'looks like an event id: name the rule too (--rule ID)'],
    [['approve', '3b2f4c9e-1111-4222-8333-944455556666', '--rule', 'sg-open-ingres', '--stage', 'prod'], 'unknown rule "sg-open-ingres"; did you mean sg-open-ingress?'],
    [['approve', 'security-groups.aaaaaaaaaaaaaaaaaaaaaaaa', '--rule', 'sg-open-ingress', '--stage', 'prod'], '--rule goes with an event id, not with a proposal id'],
    [['approve', 'security-groups.aaaaaaaaaaaaaaaaaaaaaaaa'], 'name the function: --function NAME'],
    [['dismiss', 'security-groups.aaaaaaaaaaaaaaaaaaaaaaaa', '--function', 'f', '--stage', 'prod'], 'give --function or --stage, not both'],
    [['approve', 'security-groups.aaaaaaaaaaaaaaaaaaaaaaaa', '--function', 'f;rm'], '--function must be a Lambda function name or ARN'],
    [['proposals', '--format', 'csv', '--table', 't'], '--format must be table or jsonl'],
  ])('refuses %j in one line, with no AWS call', (argv, message) => expectUsageError(argv, message, [lambda, sts]));
});

describe('remediate proposals', () => {
  it('lists the open proposals from the table, and no longer one that was dismissed', async () => {
    fakeSecurityGroups([{ groupId: GROUP, groupName: 'web', rules: new Map([[SSH, ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0')]]) }]);
    await handler()(event());
    const listed = await runCli(['proposals', '--table', table, '--format', 'jsonl']);
    expect(listed.code).toBe(0);
    const [row, ...more] = listed.stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(more).toStrictEqual([]);
    expect(row).toMatchObject({ id: proposalId(), rule: 'sg-open-ingress', account: '111122223333', eventId: event().detail.eventID });
    const text = await runCli(['proposals', '--table', table]);
    expect(text.stdout[0]).toBe('PROPOSAL  RULE  SEVERITY  ACCOUNT  AGE  EXPIRES IN  RESOURCE');
    expect(text.stdout[1]).toContain(`${proposalId()}  sg-open-ingress  `);
    await runCli(['dismiss', proposalId(), '--stage', 'prod']);
    expect((await runCli(['proposals', '--table', table, '--format', 'jsonl'])).stdout).toStrictEqual([]);
  });
});
