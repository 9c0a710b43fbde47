/**
 * Undo, end to end: the security-groups handler records what it applied in
 * the table (dynalite on 127.0.0.1), and `remediate undo <event-id>` replays
 * the undo steps against the account (EC2 and STS mocked with aws-sdk-client-mock).
 */
import { AuthorizeSecurityGroupIngressCommand, EC2ServiceException, RevokeSecurityGroupIngressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { undoCommand } from '../cli/undo.js';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import type { PlanStep, Rule } from '../engine/types.js';
import { dynamoDbUndoStore, undoRecordKey, type UndoEntry } from '../engine/undo-store.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';
import { captureIo } from './helpers/cli.js';
import { TEST_REGION, useDynalite } from './helpers/dynalite.js';
import { fakeSecurityGroups, ingressRule } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

let ec2: AwsClientStub<EC2Client>;
const sns = mockClient(SNSClient);
const sts = mockClient(STSClient);
const OPERATOR = 'arn:aws:sts::111122223333:assumed-role/Operator/alice';
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const FIXTURE = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';
const GROUP = 'sg-0a1b2c3d4e5f67890';
const REAUTHORIZE = {
  GroupId: GROUP,
  IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'temp access' }] }],
};

const dynamo = useDynalite({ env: true });
let table: string;
let tables = 0;

function handlerWith(rules: readonly Rule[] = securityGroupRules) {
  return remediationHandler({
    rules,
    commands: securityGroupCommands,
    logger: recordingLogger(),
    config: parseConfig({ rules: Object.fromEntries(rules.map((rule) => [rule.id, { mode: 'remediate' }])) }, rules),
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-security-groups', IDEMPOTENCY_TABLE: table, AWS_REGION: TEST_REGION },
    gateway: createAwsGateway(securityGroupCommands, { region: TEST_REGION }),
  });
}

const context = { getRemainingTimeInMillis: () => 60_000 };
const undo = (args: string[], io = captureIo()) => undoCommand([...args, '--yes', '--table', table], io, { AWS_REGION: TEST_REGION }).then((code) => ({ code, io }));
const readRecords = (eventId: string) => dynamoDbUndoStore({ tableName: table, client: dynamo.client }).read(eventId, ['security-groups']);

/** The JSON alert of the n-th SNS publish, as machine subscribers receive it. */
function alertJson(index = 0): { outcome: string; undo: unknown[]; execution?: { steps: { status: string }[] } } {
  const message = JSON.parse(String(sns.commandCalls(PublishCommand)[index]?.args[0].input.Message)) as Record<string, string>;
  return JSON.parse(message['lambda'] ?? '{}') as { outcome: string; undo: unknown[] };
}

describe('undo', () => {
  beforeEach(async () => {
    table = await dynamo.createTable(`remediation-bot-test-undo-${(tables += 1)}`);
    // The group as the event left it: the rule it opened is there until the bot revokes it.
    const rule = ingressRule(GROUP, 'sgr-0f1e2d3c4b5a69788', 'tcp', 22, 22, '0.0.0.0/0');
    ({ ec2 } = fakeSecurityGroups([{ groupId: GROUP, tags: [], rules: new Map([[rule.SecurityGroupRuleId ?? '', rule]]) }]));
    sns.reset();
    sts.reset();
    sts.on(GetCallerIdentityCommand).resolves({ Arn: OPERATOR, Account: '111122223333', UserId: 'AROAEXAMPLE:alice' });
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('undo for every applied change: an applied plan is recorded with its undo steps, the same ones the alert shows', async () => {
    // Arrange
    const event = loadEvent(FIXTURE);
    // Act
    await handlerWith()(event, context);
    const [record] = await readRecords(event.detail.eventID);
    // Assert
    const undoStep = { service: 'ec2', operation: 'AuthorizeSecurityGroupIngress', input: REAUTHORIZE, reason: 'Re-open the revoked ingress exactly as it was granted.' };
    expect(record?.entries).toStrictEqual([
      {
        rule: 'sg-open-ingress',
        family: 'security-groups',
        appliedAt: expect.any(String),
        account: '111122223333',
        region: 'us-east-1',
        outcome: 'applied',
        functionName: 'remediation-bot-test-security-groups',
        applied: [
          {
            service: 'ec2',
            operation: 'RevokeSecurityGroupIngress',
            input: { GroupId: GROUP, SecurityGroupRuleIds: ['sgr-0f1e2d3c4b5a69788'] },
            reason: expect.any(String),
          },
        ],
        undo: [undoStep],
        irreversible: [],
      },
    ]);
    expect(alertJson().undo).toStrictEqual([undoStep]);
  });

  it('keeps the record 90 days (TTL attribute `expiration`) under the key undo#<family>#<event id>', async () => {
    const event = loadEvent(FIXTURE);
    await handlerWith()(event, context);
    const { GetItemCommand } = await import('@aws-sdk/client-dynamodb');
    const { Item: item } = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { id: { S: undoRecordKey('security-groups', event.detail.eventID) } } }));
    const appliedAt = Date.parse(JSON.parse(item?.['entries']?.L?.[0]?.S ?? '{}').appliedAt as string);
    expect(item?.['id']?.S).toBe(`undo#security-groups#${event.detail.eventID}`);
    expect(Number(item?.['expiration']?.N)).toBe(Math.floor(appliedAt / 1000) + 90 * 24 * 60 * 60);
  });

  it('remediate undo --dry-run prints the undo steps and changes nothing', async () => {
    const event = loadEvent(FIXTURE);
    await handlerWith()(event, context);
    const { code, io } = await undo([event.detail.eventID, '--dry-run']);
    expect(code).toBe(0);
    expect(io.stdout.join('\n')).toContain(`ec2:AuthorizeSecurityGroupIngress ${JSON.stringify(REAUTHORIZE)}`);
    expect(io.stdout.at(-1)).toBe('Dry run: nothing was changed. Without --dry-run, 1 undo step(s) run in the order shown.');
    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('remediate undo replays the undo steps against the account, then marks the record undone by the caller', async () => {
    const event = loadEvent(FIXTURE);
    await handlerWith()(event, context);
    const first = await undo([event.detail.eventID]);
    const second = await undo([event.detail.eventID]);

    expect(first.code).toBe(0);
    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input)).toStrictEqual([REAUTHORIZE]);
    expect(first.io.stdout.at(-1)).toMatch(new RegExp(`^Undone: 1 step\\(s\\) replayed for event ${event.detail.eventID} by ${OPERATOR} at \\d{4}-.+Z\\.$`));
    expect(second.code).toBe(0);
    expect(second.io.stdout.at(-1)).toMatch(/^Already undone at .+: nothing to do \(pass --force to replay the undo steps again\)\.$/);
    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);
  });

  it('remediate undo counts an undo already in place (InvalidPermission.Duplicate) as done', async () => {
    const event = loadEvent(FIXTURE);
    await handlerWith()(event, context);
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(new EC2ServiceException({ name: 'InvalidPermission.Duplicate', $fault: 'client', $metadata: {}, message: 'already exists' }));
    const { code, io } = await undo([event.detail.eventID]);
    expect(code).toBe(0);
    expect(io.stdout).toContain('   already in place: ec2:AuthorizeSecurityGroupIngress (InvalidPermission.Duplicate)');
  });

  it('remediate undo stops at a failing step, says why, exits 4 and leaves the record open', async () => {
    const event = loadEvent(FIXTURE);
    await handlerWith()(event, context);
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(new EC2ServiceException({ name: 'UnauthorizedOperation', $fault: 'client', $metadata: {}, message: 'not allowed' }));
    const failed = await undo([event.detail.eventID]);
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });
    const retried = await undo([event.detail.eventID]);

    expect(failed.code).toBe(4);
    expect(failed.io.stderr[0]).toBe("   FAILED: ec2:AuthorizeSecurityGroupIngress: UnauthorizedOperation: not allowed (your credentials need ec2:AuthorizeSecurityGroupIngress)");
    expect(retried.code).toBe(0);
  });

  it('remediate undo exits 2 when the event has no undo record, and 1 without a table or an event id', async () => {
    const missing = await undo(['00000000-0000-4000-8000-00000000dead']);
    const io = captureIo();
    const noTable = await undoCommand(['00000000-0000-4000-8000-00000000dead'], io, {});
    const noEvent = await undo([]);
    expect(missing.code).toBe(2);
    expect(missing.io.stderr[0]).toContain('no undo record for event 00000000-0000-4000-8000-00000000dead');
    expect(noTable).toBe(1);
    expect(noEvent.code).toBe(1);
    expect(ec2.calls()).toHaveLength(0);
  });

  describe('with a plan that fails part-way', () => {
    const revoke = (group: string): PlanStep => ({
      service: 'ec2',
      operation: 'RevokeSecurityGroupIngress',
      input: { GroupId: group, SecurityGroupRuleIds: ['sgr-01111111111111111'] },
      reason: `close ${group}`,
      undo: { service: 'ec2', operation: 'AuthorizeSecurityGroupIngress', input: { GroupId: group, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }, reason: `reopen ${group}` },
      alreadyDoneCodes: ['InvalidPermission.NotFound'],
    });
    const groups = ['sg-0a1b2c3d4e5f67890', 'sg-0fedcba9876543210', 'sg-0123456789abcdef0'];
    // Standing in for sg-open-ingress: an undo record may only name a rule of its family.
    const threeRevokes: Rule = {
      id: 'sg-open-ingress',
      title: 'three revokes',
      severity: 'high',
      rationale: 'test rule',
      family: 'security-groups',
      triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['AuthorizeSecurityGroupIngress'] }],
      permissions: [],
      evaluate: () => ({ kind: 'violation', summary: 'three', resources: groups, findings: [], plan: groups.map(revoke) }),
    };

    it('records only the applied steps, and a retry that finishes the plan appends its own; undo reverses the newest first', async () => {
      const event = loadEvent(FIXTURE);
      ec2
        .on(RevokeSecurityGroupIngressCommand)
        .resolvesOnce({ Return: true })
        .rejectsOnce(new EC2ServiceException({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'internal' }))
        .rejectsOnce(new EC2ServiceException({ name: 'InvalidPermission.NotFound', $fault: 'client', $metadata: {}, message: 'gone' }))
        .resolves({ Return: true });
      const handler = handlerWith([threeRevokes]);
      await expect(handler(event, context)).rejects.toMatchObject({ name: 'InternalError' });
      await handler(structuredClone(event), context);
      const [record] = await readRecords(event.detail.eventID);
      const { code } = await undo([event.detail.eventID]);

      expect(record?.entries.map((entry: UndoEntry) => [entry.outcome, entry.applied.map((step) => step.input['GroupId'])])).toStrictEqual([
        ['failed', [groups[0]]],
        ['applied', [groups[1], groups[2]]],
      ]);
      expect(code).toBe(0);
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand).map((call) => call.args[0].input.GroupId)).toStrictEqual([groups[2], groups[1], groups[0]]);
    });
  });
});
