import {
  AttachRolePolicyCommand,
  DeleteGroupPolicyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  IAMClient,
  LimitExceededException,
  NoSuchEntityException,
  SetDefaultPolicyVersionCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { executePlan } from '../engine/executor.js';
import type { Facts, Plan, Rule } from '../engine/types.js';
import { iamCommands } from '../remediations/iam/commands.js';
import { iamAttachedAdminPolicy } from '../remediations/iam/iam-attached-admin-policy.js';
import { iamInlinePolicyAdmin } from '../remediations/iam/iam-inline-policy-admin.js';
import { iamPolicyVersionAdmin } from '../remediations/iam/iam-policy-version-admin.js';
import { iamTrustPolicyOpen } from '../remediations/iam/iam-trust-policy-open.js';
import { iamRules } from '../remediations/iam/index.js';
import { loadEvent } from './helpers/fixtures.js';

const iam = mockClient(IAMClient);
const FUNCTION = 'remediation-bot-test-iam';

/** What the SDK throws for IAM's query-protocol errors: the class, plus the wire `Code` (see the HTTP test below). */
function noSuchEntity(message = 'The role with name ml-training-role cannot be found.'): NoSuchEntityException {
  return Object.assign(new NoSuchEntityException({ message, $metadata: { httpStatusCode: 404 } }), { Code: 'NoSuchEntity' });
}

function limitExceeded(): LimitExceededException {
  return Object.assign(new LimitExceededException({ message: 'Cannot exceed quota for PoliciesPerRole: 10', $metadata: { httpStatusCode: 409 } }), {
    Code: 'LimitExceeded',
  });
}

function planOf(rule: Rule, event: CloudTrailEvent, facts: Facts = {}): Plan {
  const config = parseConfig({}, iamRules);
  const verdict = rule.evaluate(event, facts, { config, settings: config.rules[rule.id]?.settings, now: new Date('2025-03-10T14:00:00Z') });
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}`);
  return verdict.plan;
}

const gateway = () => createAwsGateway(iamCommands, { region: 'us-east-1', maxAttempts: 1 });

describe('IAM plans through the executor', () => {
  beforeEach(() => {
    iam.reset();
  });

  describe.each([
    ['iam/PutRolePolicy-admin-star.json', DeleteRolePolicyCommand, { RoleName: 'ml-training-role', PolicyName: 'AllowEverything' }],
    ['iam/PutUserPolicy-notaction-allow.json', DeleteUserPolicyCommand as unknown as typeof DeleteRolePolicyCommand, { UserName: 'ci-deployer', PolicyName: 'DeployAnything' }],
    ['iam/PutGroupPolicy-s3-wildcard-all-resources.json', DeleteGroupPolicyCommand as unknown as typeof DeleteRolePolicyCommand, { GroupName: 'data-scientists', PolicyName: 'S3Everything' }],
  ] as const)('inline policy %s', (name, Command, input) => {
    it('sends exactly one delete with the exact input', async () => {
      // Arrange
      iam.on(Command).resolves({});
      // Act
      const report = await executePlan(planOf(iamInlinePolicyAdmin, loadEvent(name)), gateway());
      // Assert
      expect(report.status).toBe('applied');
      expect(iam.calls()).toHaveLength(1);
      expect(iam.commandCalls(Command)[0]?.args[0].input).toStrictEqual(input);
    });

    it('counts NoSuchEntity as already done: the policy (or its identity) is gone', async () => {
      iam.on(Command).rejects(noSuchEntity());
      const report = await executePlan(planOf(iamInlinePolicyAdmin, loadEvent(name)), gateway());
      expect(report.status).toBe('already-fixed');
      expect(report.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([['already-done', 'NoSuchEntity']]);
    });
  });

  describe.each([
    ['iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json', DetachRolePolicyCommand, { RoleName: 'stratus-red-team-malicious-iam-role', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }],
    ['iam/AttachUserPolicy-IAMFullAccess.json', DetachUserPolicyCommand as unknown as typeof DetachRolePolicyCommand, { UserName: 'ci-deployer', PolicyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }],
    ['iam/AttachGroupPolicy-PowerUserAccess.json', DetachGroupPolicyCommand as unknown as typeof DetachRolePolicyCommand, { GroupName: 'developers', PolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' }],
  ] as const)('attachment %s', (name, Command, input) => {
    it('sends exactly one detach with the exact input', async () => {
      iam.on(Command).resolves({});
      const report = await executePlan(planOf(iamAttachedAdminPolicy, loadEvent(name)), gateway());
      expect(report.status).toBe('applied');
      expect(iam.calls()).toHaveLength(1);
      expect(iam.commandCalls(Command)[0]?.args[0].input).toStrictEqual(input);
    });

    it('counts NoSuchEntity (not attached any more) as already done', async () => {
      iam.on(Command).rejects(noSuchEntity('Policy arn:aws:iam::aws:policy/AdministratorAccess was not found.'));
      const report = await executePlan(planOf(iamAttachedAdminPolicy, loadEvent(name)), gateway());
      expect(report.status).toBe('already-fixed');
    });
  });

  it('counts the SDK class name NoSuchEntityException as already done too, when the wire code is missing', async () => {
    iam.on(DetachRolePolicyCommand).rejects(new NoSuchEntityException({ message: 'gone', $metadata: {} }));
    const report = await executePlan(planOf(iamAttachedAdminPolicy, loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json')), gateway());
    expect(report.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([['already-done', 'NoSuchEntityException']]);
  });

  describe('trust containment', () => {
    const plan = () => planOf(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-external-account-stratus-genuine.json'));
    const input = { RoleName: 'stratus-red-team-backdoor-r-role', PolicyArn: 'arn:aws:iam::aws:policy/AWSDenyAll' };

    it('attaches AWSDenyAll with the exact input and nothing else', async () => {
      iam.on(AttachRolePolicyCommand).resolves({});
      const report = await executePlan(plan(), gateway());
      expect(report.status).toBe('applied');
      expect(iam.calls()).toHaveLength(1);
      expect(iam.commandCalls(AttachRolePolicyCommand)[0]?.args[0].input).toStrictEqual(input);
    });

    it('reports LimitExceeded (the role already has its quota of managed policies) as a clear failure, not a fault', async () => {
      iam.on(AttachRolePolicyCommand).rejects(limitExceeded());
      const report = await executePlan(plan(), gateway(), { functionName: FUNCTION });
      expect(report.status).toBe('failed');
      expect(report.unexpectedError).toBeUndefined();
      expect(report.steps.map(({ status, errorCode, errorMessage }) => ({ status, errorCode, errorMessage }))).toStrictEqual([
        { status: 'failed', errorCode: 'LimitExceeded', errorMessage: 'Cannot exceed quota for PoliciesPerRole: 10' },
      ]);
      expect(report.steps[0]?.step.reason).toContain('If IAM answers LimitExceeded, the role already has as many managed policies as its quota allows');
    });

    it('reports NoSuchEntity on the attach as a failure: the role may still exist if the policy ARN was wrong', async () => {
      iam.on(AttachRolePolicyCommand).rejects(noSuchEntity('The role with name stratus-red-team-backdoor-r-role cannot be found.'));
      const report = await executePlan(plan(), gateway());
      expect(report.status).toBe('failed');
      expect(report.steps[0]?.errorMessage).toBe('The role with name stratus-red-team-backdoor-r-role cannot be found.');
    });

    it('names the missing permission and function on AccessDenied', async () => {
      iam.on(AttachRolePolicyCommand).rejects(
        Object.assign(new Error('User is not authorized to perform: iam:AttachRolePolicy'), { name: 'AccessDenied', $fault: 'client', $metadata: {} }),
      );
      const report = await executePlan(plan(), gateway(), { functionName: FUNCTION });
      expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'AccessDenied', hint: `grant iam:AttachRolePolicy to function ${FUNCTION}` });
    });
  });

  describe('default version rollback', () => {
    const facts: Facts = {
      policyVersions: {
        status: 'ok',
        value: {
          versions: [
            { versionId: 'v1', isDefault: false, createDate: '2025-01-01T00:00:00.000Z' },
            { versionId: 'v3', isDefault: true, createDate: '2025-03-10T11:00:00.000Z' },
          ],
        },
      },
    };

    it('sets the previous default with the exact input', async () => {
      iam.on(SetDefaultPolicyVersionCommand).resolves({});
      const report = await executePlan(planOf(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'), facts), gateway());
      expect(report.status).toBe('applied');
      expect(iam.calls()).toHaveLength(1);
      expect(iam.commandCalls(SetDefaultPolicyVersionCommand)[0]?.args[0].input).toStrictEqual({
        PolicyArn: 'arn:aws:iam::111122223333:policy/DevTeamPolicy',
        VersionId: 'v1',
      });
    });

    it('reports NoSuchEntity (the version or policy was deleted meanwhile) as a failure for a person to look at', async () => {
      iam.on(SetDefaultPolicyVersionCommand).rejects(noSuchEntity('Policy version v1 was not found.'));
      const report = await executePlan(planOf(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'), facts), gateway());
      expect(report.status).toBe('failed');
      expect(report.steps[0]?.errorCode).toBe('NoSuchEntity');
    });
  });
});

describe('IAM errors as they come off the wire', () => {
  let server: Server;
  let reply: { status: number; body: string } = { status: 200, body: '' };
  const saved = { ...process.env };
  const bodies: string[] = [];

  const errorXml = (code: string, message: string) =>
    `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>4a2f1c3e-0000-4000-8000-000000000000</RequestId></ErrorResponse>`;

  beforeAll(async () => {
    iam.restore();
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        response.writeHead(reply.status, { 'content-type': 'text/xml' });
        response.end(reply.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_IAM: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'not-a-secret',
    });
  });

  afterAll(() => {
    server.close();
    for (const key of ['AWS_ENDPOINT_URL_IAM', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('NoSuchEntity on DeleteRolePolicy is already done, with the wire code', async () => {
    reply = { status: 404, body: errorXml('NoSuchEntity', 'The role policy with name AllowEverything cannot be found.') };
    const report = await executePlan(planOf(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json')), gateway());
    expect(report.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([['already-done', 'NoSuchEntity']]);
    expect(bodies.at(-1)).toBe('Action=DeleteRolePolicy&Version=2010-05-08&RoleName=ml-training-role&PolicyName=AllowEverything');
  });

  it('LimitExceeded on AttachRolePolicy is a reported failure, not a fault to retry', async () => {
    reply = { status: 409, body: errorXml('LimitExceeded', 'Cannot exceed quota for PoliciesPerRole: 10') };
    const report = await executePlan(planOf(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json')), gateway());
    expect(report.status).toBe('failed');
    expect(report.unexpectedError).toBeUndefined();
    expect(report.steps.map((s) => [s.status, s.errorCode, s.errorMessage])).toStrictEqual([['failed', 'LimitExceeded', 'Cannot exceed quota for PoliciesPerRole: 10']]);
    expect(bodies.at(-1)).toBe(
      'Action=AttachRolePolicy&Version=2010-05-08&RoleName=data-export-role&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAWSDenyAll',
    );
  });
});
