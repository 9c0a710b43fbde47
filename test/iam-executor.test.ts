/**
 * The IAM plans through the executor, against the answers IAM really gives:
 * each write is preceded by a read of the present (a precondition) and
 * followed by a read that verifies it, and the outcome says what the reads
 * showed. Mutations these tests catch: a precondition or verification removed
 * from a step, a probe that always answers `needed`, NoSuchEntity on a write
 * believed without a read.
 */
import {
  AttachRolePolicyCommand,
  DeleteGroupPolicyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetGroupPolicyCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  LimitExceededException,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
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
import { executePlan, type ExecutionReport } from '../engine/executor.js';
import type { Facts, Plan, Rule } from '../engine/types.js';
import { iamRules } from '../remediations/iam/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { iamFamily } from '../remediations/iam/index.js';
import { registeredRule } from './helpers/registered.js';

const iamCommands = runtimeCommands(iamFamily);
const iamAttachedAdminPolicy = registeredRule('iam-attached-admin-policy');
const iamInlinePolicyAdmin = registeredRule('iam-inline-policy-admin');
const iamPolicyVersionAdmin = registeredRule('iam-policy-version-admin');
const iamTrustPolicyOpen = registeredRule('iam-trust-policy-open');

const iam = mockClient(IAMClient);
const FUNCTION = 'remediation-bot-test-iam';
const POLICY = 'arn:aws:iam::111122223333:policy/DevTeamPolicy';
const DENY_ALL = 'arn:aws:iam::aws:policy/AWSDenyAll';
const ADMIN_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}';
const SCOPED_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';

/** What the SDK throws for IAM's query-protocol errors: the class, plus the wire `Code` (see the HTTP test below). */
function noSuchEntity(message = 'The role with name ml-training-role cannot be found.'): NoSuchEntityException {
  return Object.assign(new NoSuchEntityException({ message, $metadata: { httpStatusCode: 404 } }), { Code: 'NoSuchEntity' });
}

function limitExceeded(): LimitExceededException {
  return Object.assign(new LimitExceededException({ message: 'Cannot exceed quota for PoliciesPerRole: 10', $metadata: { httpStatusCode: 409 } }), {
    Code: 'LimitExceeded',
  });
}

function accessDenied(action: string): Error {
  return Object.assign(new Error(`User is not authorized to perform: ${action}`), { name: 'AccessDenied', $fault: 'client', $metadata: {} });
}

function verdictOf(rule: Rule, event: CloudTrailEvent, facts: Facts = {}) {
  const config = parseConfig({}, iamRules);
  const verdict = rule.evaluate(event, facts, { config, settings: config.rules[rule.id]?.settings, now: new Date('2025-03-10T14:00:00Z') });
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}`);
  return verdict;
}

function planOf(rule: Rule, event: CloudTrailEvent, facts: Facts = {}): Plan {
  return verdictOf(rule, event, facts).plan;
}

const gateway = () => createAwsGateway(iamCommands, { region: 'us-east-1', maxAttempts: 1 });

function run(rule: Rule, plan: Plan, options: { functionName?: string } = {}): Promise<ExecutionReport> {
  return executePlan(plan, gateway(), { probes: rule.probes ?? [], ...options });
}

function request(event: CloudTrailEvent, key: string): string {
  const value = event.detail.requestParameters?.[key];
  if (typeof value !== 'string') throw new Error(`no requestParameters.${key}`);
  return value;
}

const attachedPolicies = (...arns: string[]) => ({ AttachedPolicies: arns.map((PolicyArn) => ({ PolicyArn, PolicyName: PolicyArn.split('/').at(-1) })), IsTruncated: false });
const policyWithDefault = (versionId: string) => ({ Policy: { PolicyName: 'DevTeamPolicy', Arn: POLICY, DefaultVersionId: versionId, AttachmentCount: 1 } });

describe('IAM plans through the executor', () => {
  beforeEach(() => {
    iam.reset();
  });

  describe.each([
    ['iam/PutRolePolicy-admin-star.json', DeleteRolePolicyCommand, GetRolePolicyCommand, { RoleName: 'ml-training-role', PolicyName: 'AllowEverything' }],
    [
      'iam/PutUserPolicy-notaction-allow.json',
      DeleteUserPolicyCommand as unknown as typeof DeleteRolePolicyCommand,
      GetUserPolicyCommand as unknown as typeof GetRolePolicyCommand,
      { UserName: 'ci-deployer', PolicyName: 'DeployAnything' },
    ],
    [
      'iam/PutGroupPolicy-s3-wildcard-all-resources.json',
      DeleteGroupPolicyCommand as unknown as typeof DeleteRolePolicyCommand,
      GetGroupPolicyCommand as unknown as typeof GetRolePolicyCommand,
      { GroupName: 'data-scientists', PolicyName: 'S3Everything' },
    ],
  ] as const)('inline policy %s', (name, Delete, Get, input) => {
    const event = () => loadEvent(name);
    const holding = (document: string) => ({ ...input, PolicyDocument: encodeURIComponent(document) });

    it('reads the policy, deletes it, and reports applied only once a read shows it gone', async () => {
      // Arrange
      iam.on(Get).resolvesOnce(holding(request(event(), 'policyDocument'))).rejects(noSuchEntity('The role policy cannot be found.'));
      iam.on(Delete).resolves({});
      // Act
      const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, event()));
      // Assert
      expect(report.status).toBe('applied');
      expect(iam.calls().map((call) => call.args[0].constructor.name)).toStrictEqual([Get.name, Delete.name, Get.name]);
      expect(iam.commandCalls(Delete)[0]?.args[0].input).toStrictEqual(input);
      expect(iam.commandCalls(Get).map((call) => call.args[0].input)).toStrictEqual([input, input]);
      expect(report.steps[0]?.verification?.state).toBe('done');
    });

    it('deletes nothing when the policy now holds another document: stale, saying what changed', async () => {
      iam.on(Get).resolves(holding(SCOPED_DOCUMENT));
      const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, event()));
      expect(report.status).toBe('stale');
      expect(iam.commandCalls(Delete)).toHaveLength(0);
      expect(iam.calls()).toHaveLength(1);
      expect(report.steps[0]?.precondition?.evidence).toMatch(/^inline policy \S+ of (role|user|group) \S+ now holds another document \(set after this event\): nothing deleted$/);
    });

    it('reports already fixed, with no delete, when the read finds the policy (or its identity) gone', async () => {
      iam.on(Get).rejects(noSuchEntity());
      const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, event()));
      expect(report.status).toBe('already-fixed');
      expect(iam.commandCalls(Delete)).toHaveLength(0);
      expect(report.steps.map((s) => [s.status, s.precondition?.state])).toStrictEqual([['already-done', 'done']]);
    });

    it('believes NoSuchEntity on the delete (another delivery raced it) only once a read agrees', async () => {
      iam.on(Get).resolvesOnce(holding(request(event(), 'policyDocument'))).rejects(noSuchEntity());
      iam.on(Delete).rejects(noSuchEntity());
      const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, event()));
      expect(report.status).toBe('already-fixed');
      expect(report.steps.map((s) => [s.status, s.errorCode, s.verification?.state])).toStrictEqual([['already-done', 'NoSuchEntity', 'done']]);
      expect(iam.commandCalls(Get)).toHaveLength(2);
    });

    it('reports unverified when the policy is still there after the delete', async () => {
      iam.on(Get).resolves(holding(request(event(), 'policyDocument')));
      iam.on(Delete).resolves({});
      const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, event()));
      expect(report.status).toBe('unverified');
      expect(report.steps[0]?.verification?.state).toBe('needed');
    });
  });

  it('sends no delete when the read before it is denied, and names the missing permission', async () => {
    iam.on(GetRolePolicyCommand).rejects(accessDenied('iam:GetRolePolicy'));
    const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json')), { functionName: FUNCTION });
    expect(report.status).toBe('failed');
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(0);
    expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'AccessDenied', hint: `grant iam:GetRolePolicy to function ${FUNCTION}` });
  });

  it('deletes a padded admin policy and verifies it: the whitespace changes nothing (issue 14)', async () => {
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    const padded = request(event, 'policyDocument').replace('"Statement"', `${' '.repeat(90_000)}\n"Statement"`);
    (event.detail.requestParameters as Record<string, unknown>)['policyDocument'] = padded;
    // IAM keeps the caller's whitespace and answers URL-encoded.
    iam.on(GetRolePolicyCommand).resolvesOnce({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(padded) }).rejects(noSuchEntity());
    iam.on(DeleteRolePolicyCommand).resolves({});
    const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, event));
    expect(report.status).toBe('applied');
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(1);
  });

  describe.each([
    ['iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json', DetachRolePolicyCommand, ListAttachedRolePoliciesCommand, { RoleName: 'stratus-red-team-malicious-iam-role' }, 'arn:aws:iam::aws:policy/AdministratorAccess'],
    [
      'iam/AttachUserPolicy-IAMFullAccess.json',
      DetachUserPolicyCommand as unknown as typeof DetachRolePolicyCommand,
      ListAttachedUserPoliciesCommand as unknown as typeof ListAttachedRolePoliciesCommand,
      { UserName: 'ci-deployer' },
      'arn:aws:iam::aws:policy/IAMFullAccess',
    ],
    [
      'iam/AttachGroupPolicy-PowerUserAccess.json',
      DetachGroupPolicyCommand as unknown as typeof DetachRolePolicyCommand,
      ListAttachedGroupPoliciesCommand as unknown as typeof ListAttachedRolePoliciesCommand,
      { GroupName: 'developers' },
      'arn:aws:iam::aws:policy/PowerUserAccess',
    ],
  ] as const)('attachment %s', (name, Detach, List, identity, policyArn) => {
    it('reads the attachments, detaches, and reports applied once a read shows the policy gone', async () => {
      iam.on(List).resolvesOnce(attachedPolicies('arn:aws:iam::aws:policy/ReadOnlyAccess', policyArn)).resolves(attachedPolicies('arn:aws:iam::aws:policy/ReadOnlyAccess'));
      iam.on(Detach).resolves({});
      const report = await run(iamAttachedAdminPolicy, planOf(iamAttachedAdminPolicy, loadEvent(name)));
      expect(report.status).toBe('applied');
      expect(iam.calls().map((call) => call.args[0].constructor.name)).toStrictEqual([List.name, Detach.name, List.name]);
      expect(iam.commandCalls(Detach)[0]?.args[0].input).toStrictEqual({ ...identity, PolicyArn: policyArn });
      expect(iam.commandCalls(List).map((call) => call.args[0].input)).toStrictEqual([
        { ...identity, MaxItems: 100 },
        { ...identity, MaxItems: 100 },
      ]);
    });

    it('reports already fixed, with no detach, when the policy is no longer attached', async () => {
      iam.on(List).resolves(attachedPolicies('arn:aws:iam::aws:policy/ReadOnlyAccess'));
      const report = await run(iamAttachedAdminPolicy, planOf(iamAttachedAdminPolicy, loadEvent(name)));
      expect(report.status).toBe('already-fixed');
      expect(iam.commandCalls(Detach)).toHaveLength(0);
      expect(report.steps[0]?.precondition?.evidence).toMatch(/ is not attached to /);
    });

    it('reports already fixed when the identity itself is gone', async () => {
      iam.on(List).rejects(noSuchEntity());
      const report = await run(iamAttachedAdminPolicy, planOf(iamAttachedAdminPolicy, loadEvent(name)));
      expect(report.status).toBe('already-fixed');
      expect(report.steps[0]?.precondition?.evidence).toMatch(/ no longer exists$/);
    });
  });

  it('counts the SDK class name NoSuchEntityException on the detach as already done too, once a read agrees', async () => {
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies('arn:aws:iam::aws:policy/AdministratorAccess')).resolves(attachedPolicies());
    iam.on(DetachRolePolicyCommand).rejects(new NoSuchEntityException({ message: 'gone', $metadata: {} }));
    const report = await run(iamAttachedAdminPolicy, planOf(iamAttachedAdminPolicy, loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json')));
    expect(report.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([['already-done', 'NoSuchEntityException']]);
  });

  describe('trust containment', () => {
    const event = () => loadEvent('iam/UpdateAssumeRolePolicy-external-account-stratus-genuine.json');
    const plan = () => planOf(iamTrustPolicyOpen, event());
    const role = { RoleName: 'stratus-red-team-backdoor-r-role' };
    const input = { ...role, PolicyArn: DENY_ALL };

    it('attaches AWSDenyAll with the exact input after reading the attachments, and verifies it', async () => {
      iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies()).resolves(attachedPolicies(DENY_ALL));
      iam.on(AttachRolePolicyCommand).resolves({});
      const report = await run(iamTrustPolicyOpen, plan());
      expect(report.status).toBe('applied');
      expect(iam.calls().map((call) => call.args[0].constructor.name)).toStrictEqual(['ListAttachedRolePoliciesCommand', 'AttachRolePolicyCommand', 'ListAttachedRolePoliciesCommand']);
      expect(iam.commandCalls(AttachRolePolicyCommand)[0]?.args[0].input).toStrictEqual(input);
      expect(iam.commandCalls(ListAttachedRolePoliciesCommand)[0]?.args[0].input).toStrictEqual({ ...role, MaxItems: 100 });
    });

    it('reports already fixed, attaching nothing, when AWSDenyAll was attached before the bot acted (issue 13)', async () => {
      iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies(DENY_ALL));
      const report = await run(iamTrustPolicyOpen, plan());
      expect(report.status).toBe('already-fixed');
      expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(0);
      expect(report.steps.map((s) => [s.status, s.precondition?.evidence])).toStrictEqual([['already-done', 'AWSDenyAll is attached to role stratus-red-team-backdoor-r-role']]);
    });

    it('attaches nothing when GetRole showed another trust policy and a second read still does: stale', async () => {
      const changed = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}';
      const facts: Facts = { role: { status: 'ok', value: { arn: 'arn:aws:iam::111122223333:role/stratus-red-team-backdoor-r-role', tags: {}, trustPolicy: changed } } };
      iam.on(GetRoleCommand).resolves({ Role: { RoleName: role.RoleName, Path: '/', RoleId: 'AROAEXAMPLE', Arn: 'arn:aws:iam::111122223333:role/stratus-red-team-backdoor-r-role', CreateDate: new Date(), AssumeRolePolicyDocument: encodeURIComponent(changed) } });
      const report = await run(iamTrustPolicyOpen, planOf(iamTrustPolicyOpen, event(), facts));
      expect(report.status).toBe('stale');
      expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(0);
      expect(report.steps[0]?.precondition?.evidence).toBe('the trust policy of role stratus-red-team-backdoor-r-role now holds another document (set after this event)');
    });

    it('reports LimitExceeded (the role already has its quota of managed policies) as a clear failure, not a fault', async () => {
      iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies());
      iam.on(AttachRolePolicyCommand).rejects(limitExceeded());
      const report = await run(iamTrustPolicyOpen, plan(), { functionName: FUNCTION });
      expect(report.status).toBe('failed');
      expect(report.unexpectedError).toBeUndefined();
      expect(report.steps.map(({ status, errorCode, errorMessage }) => ({ status, errorCode, errorMessage }))).toStrictEqual([
        { status: 'failed', errorCode: 'LimitExceeded', errorMessage: 'Cannot exceed quota for PoliciesPerRole: 10' },
      ]);
      expect(report.steps[0]?.step.reason).toContain('If IAM answers LimitExceeded, the role already has as many managed policies as its quota allows');
    });

    it('reports NoSuchEntity on the attach as a failure while a read shows the role there without AWSDenyAll (a wrong policy ARN)', async () => {
      iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies());
      iam.on(AttachRolePolicyCommand).rejects(noSuchEntity('Policy arn:aws:iam::aws:policy/AWSDenyAll does not exist or is not attachable.'));
      const report = await run(iamTrustPolicyOpen, plan());
      expect(report.status).toBe('failed');
      expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'NothingChanged' });
      expect(report.steps[0]?.errorMessage).toContain('AWSDenyAll is not attached to role stratus-red-team-backdoor-r-role');
    });

    it('names the missing permission and function on AccessDenied', async () => {
      iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies());
      iam.on(AttachRolePolicyCommand).rejects(accessDenied('iam:AttachRolePolicy'));
      const report = await run(iamTrustPolicyOpen, plan(), { functionName: FUNCTION });
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
      earlierVersion1: { status: 'ok', value: { versionId: 'v1', document: SCOPED_DOCUMENT } },
    };
    const plan = () => planOf(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'), facts);

    it('sets the previous default with the exact input while the violating version is the default, and verifies it', async () => {
      iam.on(GetPolicyCommand).resolvesOnce(policyWithDefault('v3')).resolves(policyWithDefault('v1'));
      iam.on(SetDefaultPolicyVersionCommand).resolves({});
      const report = await run(iamPolicyVersionAdmin, plan());
      expect(report.status).toBe('applied');
      expect(iam.calls().map((call) => call.args[0].constructor.name)).toStrictEqual(['GetPolicyCommand', 'SetDefaultPolicyVersionCommand', 'GetPolicyCommand']);
      expect(iam.commandCalls(SetDefaultPolicyVersionCommand)[0]?.args[0].input).toStrictEqual({ PolicyArn: POLICY, VersionId: 'v1' });
      expect(iam.commandCalls(GetPolicyCommand).map((call) => call.args[0].input)).toStrictEqual([{ PolicyArn: POLICY }, { PolicyArn: POLICY }]);
    });

    it('reports already fixed, with the evidence, when the target is already the default (a redelivery after the fix)', async () => {
      iam.on(GetPolicyCommand).resolves(policyWithDefault('v1'));
      const report = await run(iamPolicyVersionAdmin, plan());
      expect(report.status).toBe('already-fixed');
      expect(iam.commandCalls(SetDefaultPolicyVersionCommand)).toHaveLength(0);
      expect(report.steps[0]?.precondition?.evidence).toBe('v1 is the default version of DevTeamPolicy, not v3');
    });

    it('changes nothing when someone made another version the default since the event: stale', async () => {
      iam.on(GetPolicyCommand).resolves(policyWithDefault('v4'));
      const report = await run(iamPolicyVersionAdmin, plan());
      expect(report.status).toBe('stale');
      expect(iam.commandCalls(SetDefaultPolicyVersionCommand)).toHaveLength(0);
      expect(report.steps[0]?.precondition?.evidence).toBe('v4 is now the default version of DevTeamPolicy (set after this event), not v3 as the event left it');
    });

    it('reports NoSuchEntity (the version was deleted meanwhile) as a failure for a person to look at', async () => {
      iam.on(GetPolicyCommand).resolves(policyWithDefault('v3'));
      iam.on(SetDefaultPolicyVersionCommand).rejects(noSuchEntity('Policy version v1 was not found.'));
      const report = await run(iamPolicyVersionAdmin, plan());
      expect(report.status).toBe('failed');
      expect(report.steps[0]?.errorCode).toBe('NoSuchEntity');
    });
  });

  describe('containment when every earlier version grants admin too', () => {
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
      earlierVersion1: { status: 'ok', value: { versionId: 'v1', document: ADMIN_DOCUMENT } },
      policyEntities: { status: 'ok', value: { roles: ['app-role'], users: ['alice'], groups: [], truncated: false } },
    };
    const plan = () => planOf(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'), facts);

    it('detaches from each identity while the violating version is the default, verifying each, and never sets v1 as default', async () => {
      iam.on(GetPolicyCommand).resolves(policyWithDefault('v3'));
      iam.on(DetachRolePolicyCommand).resolves({});
      iam.on(DetachUserPolicyCommand).resolves({});
      iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies());
      iam.on(ListAttachedUserPoliciesCommand).resolves(attachedPolicies());
      const report = await run(iamPolicyVersionAdmin, plan());
      expect(report.status).toBe('applied');
      expect(iam.commandCalls(SetDefaultPolicyVersionCommand)).toHaveLength(0);
      expect(iam.calls().map((call) => call.args[0].constructor.name)).toStrictEqual([
        'GetPolicyCommand',
        'DetachRolePolicyCommand',
        'ListAttachedRolePoliciesCommand',
        'GetPolicyCommand',
        'DetachUserPolicyCommand',
        'ListAttachedUserPoliciesCommand',
      ]);
      expect(iam.commandCalls(DetachRolePolicyCommand)[0]?.args[0].input).toStrictEqual({ RoleName: 'app-role', PolicyArn: POLICY });
      expect(iam.commandCalls(DetachUserPolicyCommand)[0]?.args[0].input).toStrictEqual({ UserName: 'alice', PolicyArn: POLICY });
    });

    it('detaches nothing once a compliant version was made the default since the event: stale', async () => {
      iam.on(GetPolicyCommand).resolves(policyWithDefault('v4'));
      const report = await run(iamPolicyVersionAdmin, plan());
      expect(report.status).toBe('stale');
      expect(iam.commandCalls(DetachRolePolicyCommand)).toHaveLength(0);
    });

    it('counts an identity it was already detached from as already done, on NoSuchEntity and a read that agrees', async () => {
      iam.on(GetPolicyCommand).resolves(policyWithDefault('v3'));
      iam.on(DetachRolePolicyCommand).rejects(noSuchEntity(`Policy ${POLICY} was not found.`));
      iam.on(DetachUserPolicyCommand).rejects(noSuchEntity(`Policy ${POLICY} was not found.`));
      iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies());
      iam.on(ListAttachedUserPoliciesCommand).resolves(attachedPolicies());
      const report = await run(iamPolicyVersionAdmin, plan());
      expect(report.status).toBe('already-fixed');
      expect(report.steps.map((s) => [s.status, s.verification?.evidence])).toStrictEqual([
        ['already-done', 'DevTeamPolicy is not attached to role app-role'],
        ['already-done', 'DevTeamPolicy is not attached to user alice'],
      ]);
    });
  });
});

describe('IAM errors and answers as they come off the wire', () => {
  let server: Server;
  let replies: Record<string, { status: number; body: string }[]> = {};
  const saved = { ...process.env };
  const bodies: string[] = [];
  const NS = 'https://iam.amazonaws.com/doc/2010-05-08/';

  const errorXml = (code: string, message: string) =>
    `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>4a2f1c3e-0000-4000-8000-000000000000</RequestId></ErrorResponse>`;
  const resultXml = (action: string, result: string) =>
    `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>4a2f1c3e-0000-4000-8000-000000000001</RequestId></ResponseMetadata></${action}Response>`;
  const emptyXml = (action: string) => `<${action}Response xmlns="${NS}"><ResponseMetadata><RequestId>4a2f1c3e-0000-4000-8000-000000000002</RequestId></ResponseMetadata></${action}Response>`;

  beforeAll(async () => {
    iam.restore();
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        const action = /(?:^|&)Action=([A-Za-z]+)/.exec(body)?.[1] ?? '';
        const queue = replies[action] ?? [];
        const reply = (queue.length > 1 ? queue.shift() : queue[0]) ?? { status: 500, body: errorXml('InternalFailure', `no reply for ${action}`) };
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

  beforeEach(() => {
    bodies.length = 0;
    replies = {};
  });

  afterAll(() => {
    server.close();
    for (const key of ['AWS_ENDPOINT_URL_IAM', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('NoSuchEntity on DeleteRolePolicy is already done, with the wire code, once GetRolePolicy answers NoSuchEntity too', async () => {
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    const document = encodeURIComponent(request(event, 'policyDocument'));
    replies = {
      GetRolePolicy: [
        { status: 200, body: resultXml('GetRolePolicy', `<PolicyName>AllowEverything</PolicyName><RoleName>ml-training-role</RoleName><PolicyDocument>${document}</PolicyDocument>`) },
        { status: 404, body: errorXml('NoSuchEntity', 'The role policy with name AllowEverything cannot be found.') },
      ],
      DeleteRolePolicy: [{ status: 404, body: errorXml('NoSuchEntity', 'The role policy with name AllowEverything cannot be found.') }],
    };
    const report = await run(iamInlinePolicyAdmin, planOf(iamInlinePolicyAdmin, event));
    expect(report.steps.map((s) => [s.status, s.errorCode, s.precondition?.state, s.verification?.state])).toStrictEqual([['already-done', 'NoSuchEntity', 'needed', 'done']]);
    expect(bodies).toStrictEqual([
      'Action=GetRolePolicy&Version=2010-05-08&RoleName=ml-training-role&PolicyName=AllowEverything',
      'Action=DeleteRolePolicy&Version=2010-05-08&RoleName=ml-training-role&PolicyName=AllowEverything',
      'Action=GetRolePolicy&Version=2010-05-08&RoleName=ml-training-role&PolicyName=AllowEverything',
    ]);
  });

  it('reads AWSDenyAll from a real ListAttachedRolePolicies answer: attached before the bot acted is already fixed', async () => {
    replies = {
      ListAttachedRolePolicies: [
        {
          status: 200,
          body: resultXml(
            'ListAttachedRolePolicies',
            `<AttachedPolicies><member><PolicyName>ReadOnlyAccess</PolicyName><PolicyArn>arn:aws:iam::aws:policy/ReadOnlyAccess</PolicyArn></member><member><PolicyName>AWSDenyAll</PolicyName><PolicyArn>${DENY_ALL}</PolicyArn></member></AttachedPolicies><IsTruncated>false</IsTruncated>`,
          ),
        },
      ],
    };
    const report = await run(iamTrustPolicyOpen, planOf(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json')));
    expect(report.status).toBe('already-fixed');
    expect(bodies).toStrictEqual(['Action=ListAttachedRolePolicies&Version=2010-05-08&RoleName=data-export-role&MaxItems=100']);
  });

  it('LimitExceeded on AttachRolePolicy is a reported failure, not a fault to retry', async () => {
    replies = {
      ListAttachedRolePolicies: [{ status: 200, body: resultXml('ListAttachedRolePolicies', '<AttachedPolicies/><IsTruncated>false</IsTruncated>') }],
      AttachRolePolicy: [{ status: 409, body: errorXml('LimitExceeded', 'Cannot exceed quota for PoliciesPerRole: 10') }],
    };
    const report = await run(iamTrustPolicyOpen, planOf(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json')));
    expect(report.status).toBe('failed');
    expect(report.unexpectedError).toBeUndefined();
    expect(report.steps.map((s) => [s.status, s.errorCode, s.errorMessage])).toStrictEqual([['failed', 'LimitExceeded', 'Cannot exceed quota for PoliciesPerRole: 10']]);
    expect(bodies.at(-1)).toBe('Action=AttachRolePolicy&Version=2010-05-08&RoleName=data-export-role&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAWSDenyAll');
  });

  it('reads the default version from a real GetPolicy answer before and after the rollback', async () => {
    const getPolicy = (version: string) => ({
      status: 200,
      body: resultXml('GetPolicy', `<Policy><PolicyName>DevTeamPolicy</PolicyName><Arn>${POLICY}</Arn><DefaultVersionId>${version}</DefaultVersionId><AttachmentCount>1</AttachmentCount></Policy>`),
    });
    replies = { GetPolicy: [getPolicy('v3'), getPolicy('v1')], SetDefaultPolicyVersion: [{ status: 200, body: emptyXml('SetDefaultPolicyVersion') }] };
    const facts: Facts = {
      policyVersions: { status: 'ok', value: { versions: [{ versionId: 'v1', isDefault: false, createDate: '2025-01-01T00:00:00.000Z' }, { versionId: 'v3', isDefault: true, createDate: '2025-03-10T11:00:00.000Z' }] } },
      earlierVersion1: { status: 'ok', value: { versionId: 'v1', document: SCOPED_DOCUMENT } },
    };
    const report = await run(iamPolicyVersionAdmin, planOf(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'), facts));
    expect(report.status).toBe('applied');
    expect(bodies.map((body) => /Action=(\w+)/.exec(body)?.[1])).toStrictEqual(['GetPolicy', 'SetDefaultPolicyVersion', 'GetPolicy']);
  });
});
