/**
 * Fault handling, step by step: throttling and 5xx retried by the SDK itself
 * (a real client against a local HTTP server), permission errors reported with
 * the missing permission, "already done" counted as success, a half-applied
 * plan reported exactly, and unexpected faults rethrown after the alert.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  EC2ServiceException,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { DetachRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, type CommandTable } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { executePlan } from '../engine/executor.js';
import { classifyFault } from '../engine/faults.js';
import { type EngineDeps } from '../engine/lambda.js';
import { processEvent } from './helpers/engine.js';
import type { Plan, PlanStep, Rule } from '../engine/types.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { securityGroupRules } from '../remediations/security-groups/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const FUNCTION = 'remediation-bot-test-security-groups';
const GROUP = 'sg-0a1b2c3d4e5f67890';
const revokeStep: PlanStep = {
  service: 'ec2',
  operation: 'RevokeSecurityGroupIngress',
  input: { GroupId: GROUP, SecurityGroupRuleIds: ['sgr-01111111111111111'] },
  reason: 'close ssh',
  alreadyDoneCodes: ['InvalidPermission.NotFound'],
};

describe('fault handling: throttling and 5xx are retried by the SDK (adaptive retry, bounded attempts)', () => {
  /** Scripted answers, one per request; the last one repeats. */
  let script: { status: number; body: string }[] = [];
  let requests = 0;
  let server: Server;
  const saved = { ...process.env };
  const ENV_KEYS = ['AWS_ENDPOINT_URL_EC2', 'AWS_ENDPOINT_URL_IAM', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

  const ec2Ok = '<RevokeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><return>true</return></RevokeSecurityGroupIngressResponse>';
  const ec2Error = (code: string) => `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${code} message</Message></Error></Errors><RequestID>r</RequestID></Response>`;
  const iamOk = '<DetachRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DetachRolePolicyResponse>';
  const iamThrottling =
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>';
  const iamTable: CommandTable = { clients: { iam: IAMClient }, commands: { 'iam:DetachRolePolicy': DetachRolePolicyCommand } };
  const detachStep: PlanStep = {
    service: 'iam',
    operation: 'DetachRolePolicy',
    input: { RoleName: 'app-role', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    reason: 'detach admin',
    alreadyDoneCodes: ['NoSuchEntity'],
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const answer = script[Math.min(requests, script.length - 1)] ?? { status: 500, body: '' };
        requests += 1;
        response.writeHead(answer.status, { 'content-type': 'text/xml' });
        response.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    Object.assign(process.env, { AWS_ENDPOINT_URL_EC2: endpoint, AWS_ENDPOINT_URL_IAM: endpoint, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-secret' });
  });

  afterAll(() => {
    server.close();
    for (const key of ENV_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  beforeEach(() => {
    requests = 0;
  });

  it('retries RequestLimitExceeded (EC2, HTTP 503) and then applies the step', async () => {
    script = [
      { status: 503, body: ec2Error('RequestLimitExceeded') },
      { status: 200, body: ec2Ok },
    ];
    const report = await executePlan([revokeStep], createAwsGateway(securityGroupCommands, { region: 'us-east-1' }));
    expect(report.steps.map((step) => step.status)).toStrictEqual(['applied']);
    expect(requests).toBe(2);
  });

  it('retries Throttling (IAM, HTTP 400) and then applies the step', async () => {
    script = [
      { status: 400, body: iamThrottling },
      { status: 200, body: iamOk },
    ];
    const report = await executePlan([detachStep], createAwsGateway(iamTable, { region: 'us-east-1' }));
    expect(report.steps.map((step) => step.status)).toStrictEqual(['applied']);
    expect(requests).toBe(2);
  });

  it('retries a 500 InternalError and then applies the step', async () => {
    script = [
      { status: 500, body: ec2Error('InternalError') },
      { status: 200, body: ec2Ok },
    ];
    const report = await executePlan([revokeStep], createAwsGateway(securityGroupCommands, { region: 'us-east-1' }));
    expect(report.steps.map((step) => step.status)).toStrictEqual(['applied']);
    expect(requests).toBe(2);
  });

  it('gives up after the attempt budget; the plan fails with a fault the handler rethrows so that Lambda retries later', async () => {
    script = [{ status: 503, body: ec2Error('RequestLimitExceeded') }];
    const report = await executePlan([revokeStep], createAwsGateway(securityGroupCommands, { region: 'us-east-1', maxAttempts: 2 }));
    expect(requests).toBe(2);
    expect(report.steps.map((step) => [step.status, step.errorCode])).toStrictEqual([['failed', 'RequestLimitExceeded']]);
    expect(report.unexpectedError).toBeDefined();
  });

  it('configures every client with adaptive retry and five attempts by default', async () => {
    const client = createAwsGateway(securityGroupCommands, { region: 'us-east-1' }).client('ec2') as EC2Client;
    expect(client.config.retryMode).toBe('adaptive');
    expect(await client.config.maxAttempts()).toBe(5);
  });
});

// Mocked only after the real-client tests above ran: aws-sdk-client-mock replaces `send` on every instance.
const createMocks = () => ({ ec2: mockClient(EC2Client), sns: mockClient(SNSClient) });
let ec2: ReturnType<typeof createMocks>['ec2'];
let sns: ReturnType<typeof createMocks>['sns'];

function awsError(name: string, fault: 'client' | 'server' = 'client'): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: fault === 'client' ? 400 : 500 }, message: `${name} message` });
}

/** A rule whose plan revokes three groups, each with its undo: the shape of a multi-step remediation. */
const revoke = (group: string): PlanStep => ({
  ...revokeStep,
  input: { GroupId: group, SecurityGroupRuleIds: ['sgr-01111111111111111'] },
  reason: `close ${group}`,
  undo: { service: 'ec2', operation: 'AuthorizeSecurityGroupIngress', input: { GroupId: group, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }, reason: `reopen ${group}` },
});
const GROUPS = ['sg-0a1b2c3d4e5f67890', 'sg-0fedcba9876543210', 'sg-0123456789abcdef0'];
const threeStepPlan: Plan = GROUPS.map(revoke);
const threeRevokes: Rule = {
  id: 'three-revokes',
  title: 'Three revokes',
  severity: 'high',
  rationale: 'A test rule with a three-step plan.',
  family: 'security-groups',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['AuthorizeSecurityGroupIngress'] }],
  permissions: [],
  evaluate: () => ({ kind: 'violation', summary: 'three groups open', resources: GROUPS, findings: [], plan: threeStepPlan }),
};

function deps(rules: readonly Rule[]): EngineDeps & { logger: ReturnType<typeof recordingLogger> } {
  return {
    rules,
    config: parseConfig({ rules: Object.fromEntries(rules.map((rule) => [rule.id, { mode: 'remediate' }])) }, rules),
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: FUNCTION },
    gateway: createAwsGateway(securityGroupCommands, { region: 'us-east-1' }),
    logger: recordingLogger(),
  };
}

interface AlertMessage {
  outcome: string;
  undo: unknown[];
  execution?: { status: string; steps: { index: number; status: string; errorCode?: string; hint?: string }[] };
}

const OPEN_SSH = { SecurityGroupRuleId: 'sgr-0f1e2d3c4b5a69788', GroupId: GROUP, IsEgress: false, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' };
const STILL_OPEN = { state: 'needed', evidence: 'sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22' };

function publishedAlert(index = 0): AlertMessage {
  const message = JSON.parse(String(sns.commandCalls(PublishCommand)[index]?.args[0].input.Message)) as Record<string, string>;
  return JSON.parse(message['lambda'] ?? '{}') as AlertMessage;
}

describe('fault handling in the Lambda path', () => {
  beforeAll(() => {
    ({ ec2, sns } = createMocks());
  });

  afterAll(() => {
    ec2.restore();
    sns.restore();
  });

  beforeEach(() => {
    ec2.reset();
    sns.reset();
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: GROUP, Tags: [] }] });
    // The ssh rule the recorded event opened is still open when the bot reads it.
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [OPEN_SSH] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it.each(['UnauthorizedOperation', 'Client.UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException'])(
    'permission errors (%s): a failed remediation whose alert names the missing permission and the function, not retried',
    async (code) => {
      ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError(code));
      const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), deps(securityGroupRules));
      expect(result.status === 'processed' && result.decisions.map((d) => d.outcome)).toStrictEqual(['failed']);
      expect(publishedAlert().outcome).toBe('failed');
      expect(publishedAlert().execution?.steps).toStrictEqual([
        {
          index: 0,
          status: 'failed',
          errorCode: code,
          errorMessage: `${code} message`,
          hint: `grant ec2:RevokeSecurityGroupIngress to function ${FUNCTION}`,
          precondition: STILL_OPEN,
        },
      ]);
    },
  );

  it('already done: InvalidSecurityGroupRuleId.NotFound on a revoke counts as success ("already fixed") once a fresh read agrees, with no retry', async () => {
    // A person revoked the rule between the bot's read and its revoke.
    ec2.on(DescribeSecurityGroupRulesCommand).resolvesOnce({ SecurityGroupRules: [OPEN_SSH] }).rejects(awsError('InvalidSecurityGroupRuleId.NotFound'));
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(awsError('InvalidSecurityGroupRuleId.NotFound'));
    const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), deps(securityGroupRules));
    expect(result.status === 'processed' && result.decisions.map((d) => [d.outcome, d.execution])).toStrictEqual([['already-fixed', 'already-fixed']]);
    expect(publishedAlert().undo).toStrictEqual([]);
  });

  it('a failure mid-plan: the alert lists exactly which steps were applied, their undo steps, and a failed outcome', async () => {
    ec2.on(RevokeSecurityGroupIngressCommand).resolvesOnce({ Return: true }).rejectsOnce(awsError('InvalidGroup.NotFound')).resolves({ Return: true });
    const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), deps([threeRevokes]));
    const alert = publishedAlert();

    expect(result.status === 'processed' && result.decisions.map((d) => d.outcome)).toStrictEqual(['failed']);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((call) => call.args[0].input.GroupId)).toStrictEqual(GROUPS.slice(0, 2));
    expect(alert.outcome).toBe('failed');
    expect(alert.execution?.steps.map(({ index, status, errorCode }) => [index, status, errorCode])).toStrictEqual([
      [0, 'applied', undefined],
      [1, 'failed', 'InvalidGroup.NotFound'],
      [2, 'not-run', undefined],
    ]);
    expect(alert.undo).toStrictEqual([threeStepPlan[0]?.undo]);
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input.MessageAttributes?.['outcome']).toStrictEqual({ DataType: 'String', StringValue: 'failed' });
  });

  it('an unexpected error is rethrown after the alert is sent, so that Lambda retries the event', async () => {
    const fault = awsError('InternalError', 'server');
    ec2.on(RevokeSecurityGroupIngressCommand).resolvesOnce({ Return: true }).rejects(fault);
    sns.on(PublishCommand).callsFake(() => {
      // The alert goes out before the invocation fails.
      expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(2);
      return { MessageId: 'm-1' };
    });
    await expect(processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), deps([threeRevokes]))).rejects.toBe(fault);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(publishedAlert().outcome).toBe('failed');
    expect(publishedAlert().undo).toStrictEqual([threeStepPlan[0]?.undo]);
  });

  it('throttling that outlives the SDK retries is rethrown after the alert, so that Lambda retries the event later', async () => {
    const throttled = awsError('RequestLimitExceeded');
    ec2.on(RevokeSecurityGroupIngressCommand).rejects(throttled);
    await expect(processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), deps(securityGroupRules))).rejects.toBe(throttled);
    expect(publishedAlert().outcome).toBe('failed');
  });

  it('an alert that cannot be published fails the invocation, so that Lambda retries it', async () => {
    const down = Object.assign(new Error('SNS is down'), { name: 'InternalError', $fault: 'server', $metadata: {} });
    sns.on(PublishCommand).rejects(down);
    await expect(processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), deps(securityGroupRules))).rejects.toBe(down);
  });
});

describe('classifyFault', () => {
  it.each([
    ['RequestLimitExceeded', 'client', 503, 'throttled'],
    ['Throttling', 'client', 400, 'throttled'],
    ['ThrottlingException', 'client', 400, 'throttled'],
    ['TooManyRequestsException', 'client', 429, 'throttled'],
    ['InternalError', 'server', 500, 'server'],
    ['ServiceUnavailable', 'server', 503, 'server'],
    ['UnauthorizedOperation', 'client', 403, 'client'],
    ['AccessDenied', 'client', 403, 'client'],
    ['InvalidGroup.NotFound', 'client', 400, 'client'],
    ['NoSuchEntity', 'client', 404, 'client'],
  ] as const)('%s (%s, HTTP %i) is %s', (name, fault, status, kind) => {
    const error = Object.assign(new Error(name), { name, $fault: fault, $metadata: { httpStatusCode: status } });
    expect(classifyFault(error)).toBe(kind);
  });

  it('treats errors that are not AWS answers as unexpected, and SDK timeouts as transient', () => {
    expect(classifyFault(new TypeError('x is undefined'))).toBe('unexpected');
    expect(classifyFault('a string')).toBe('unexpected');
    expect(classifyFault(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe('server');
  });
});
