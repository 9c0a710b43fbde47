/**
 * The IAM family with AWS mocked: its Lambda function as deployed, and its
 * plans through the executor against the answers IAM really gives.
 *
 * - The function (remediate mode): lookups, plan, reads before and after each
 *   write, undo record and alert, for each rule.
 * - Issue 14, "padding a policy makes the IAM rules silent". IAM's size quotas
 *   do not count whitespace, so a document padded with spaces, tabs or
 *   newlines up to IAM's own 131,072-character parameter limit is accepted by
 *   IAM: the bot must judge it by its content, and plan with a compact copy of
 *   it (the padding must not inflate the plan past the plan guard, which would
 *   withhold it). A document CloudTrail left out of the record
 *   (`omitted: true`) is a high-severity "could not inspect" alert, never
 *   silence. Mutations these tests catch: counting whitespace against the
 *   quota; putting the padded text in the undo; dropping the omission check
 *   (the skip then says only that names are missing, or turns quiet).
 * - Issue 13, IAM part: the bot acts on the present and proves every fix.
 *   Each scenario fails on the code before preconditions existed: a rollback
 *   to an earlier version that also grants admin (it used to set v1 as the
 *   default and report `applied`); AWSDenyAll attached before the bot acted
 *   (it used to report `applied` and record an undo that would detach an
 *   attachment the bot never made); an inline policy changed since the event
 *   (it used to skip in silence); a redelivery after the rollback (it used to
 *   say "nothing to roll back").
 * - Every plan of the IAM rules can be undone from the plan alone: each step,
 *   applied or proposed, carries an undo whose input is complete, and the undo
 *   is the exact inverse of the step (a deleted inline policy comes back with
 *   the very document the event put, without its padding). Every step also
 *   reads the present before and after it, through a probe of its own rule.
 * - Through the executor: each write is preceded by a read of the present (a
 *   precondition) and followed by a read that verifies it, and the outcome
 *   says what the reads showed. Mutations these tests catch: a precondition or
 *   verification removed from a step, a probe that always answers `needed`,
 *   NoSuchEntity on a write believed without a read.
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
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  LimitExceededException,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListPolicyVersionsCommand,
  NoSuchEntityException,
  SetDefaultPolicyVersionCommand,
} from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts, type FactSource } from '../../engine/decide.js';
import { parseEvent, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { executePlan, type ExecutionReport } from '../../engine/executor.js';
import { iamActionFor } from '../../engine/iam-actions.js';
import type { MetricName } from '../../engine/metrics.js';
import { MAX_STEP_INPUT_CHARS } from '../../engine/plan-guard.js';
import { analyzePermissionsPolicy, analyzeTrustPolicy, IAM_POLICY_SIZE_LIMITS, MAX_RAW_POLICY_INPUT } from '../../engine/policy/analyzer.js';
import { isUnknownValue, type Decision, type Fact, type Facts, type Plan, type PlanStep, type Rule } from '../../engine/types.js';
import type { UndoEntry, UndoRecord, UndoStore } from '../../engine/undo-store.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { compactDocument, sameDocument } from '../../remediations/iam/common.js';
import { trustDocumentOf } from '../../remediations/iam/iam-trust-policy-open.js';
import { iamFamily, iamRules } from '../../remediations/iam/index.js';
import { roleLookup } from '../../remediations/iam/lookups.js';
import { allFixtureNames, loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler, NOW, TEST_REGION, type HandlerHarnessOptions } from '../helpers/rule-harness.js';

const iam = mockClient(IAMClient);
const sns = mockClient(SNSClient);
const iamCommands = runtimeCommands(iamFamily);
const iamAttachedAdminPolicy = registeredRule('iam-attached-admin-policy');
const iamInlinePolicyAdmin = registeredRule('iam-inline-policy-admin');
const iamPolicyVersionAdmin = registeredRule('iam-policy-version-admin');
const iamTrustPolicyOpen = registeredRule('iam-trust-policy-open');

const ACCOUNT = '111122223333';
const FUNCTION = 'remediation-bot-test-iam';
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/DevTeamPolicy`;
const BOT_ROLE = `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-iam`;
const BOT_SESSION = 'remediation-bot-prod-iam';
const DENY_ALL = 'arn:aws:iam::aws:policy/AWSDenyAll';
const ADMIN_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}';
const SCOPED_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';

/**
 * The IAM function as deployed, with its own identity, every rule in
 * `remediate` mode, and one attempt per AWS call, so that an error is
 * reported as IAM gave it rather than retried.
 */
function iamHandler(options: HandlerHarnessOptions = {}) {
  const { env = {}, ...rest } = options;
  return familyHandler(iamFamily, {
    config: { defaultMode: 'remediate' },
    gateway: createAwsGateway(iamCommands, { region: TEST_REGION, maxAttempts: 1 }),
    env: { BOT_PRINCIPALS: BOT_ROLE, BOT_SESSION_NAMES: BOT_SESSION, ...env },
    ...rest,
  });
}

/** What the SDK throws for IAM's query-protocol errors: the class, plus the wire `Code` (see the tests off the wire below). */
function noSuchEntity(message = 'The role with name ml-training-role cannot be found.'): NoSuchEntityException {
  return Object.assign(new NoSuchEntityException({ message, $metadata: { httpStatusCode: 404 } }), { Code: 'NoSuchEntity' });
}

function request(event: CloudTrailEvent, key: string): string {
  const value = event.detail.requestParameters?.[key];
  if (typeof value !== 'string') throw new Error(`no requestParameters.${key}`);
  return value;
}

const attachedPolicies = (...arns: string[]) => ({ AttachedPolicies: arns.map((PolicyArn) => ({ PolicyArn, PolicyName: PolicyArn.split('/').at(-1) })), IsTruncated: false });
const commandNames = () => iam.calls().map((call) => call.args[0].constructor.name.replace(/Command$/, ''));

describe('the IAM function (remediate mode)', () => {
  function getRole(name: string, options: { path?: string; trust?: string; tags?: { Key: string; Value: string }[] } = {}) {
    const path = options.path ?? '/';
    return {
      Role: {
        Path: path,
        RoleName: name,
        RoleId: 'AROAEXAMPLEEXAMPLE01',
        Arn: `arn:aws:iam::${ACCOUNT}:role${path}${name}`,
        CreateDate: new Date('2025-03-01T00:00:00Z'),
        ...(options.trust !== undefined && { AssumeRolePolicyDocument: encodeURIComponent(options.trust) }),
        Tags: options.tags ?? [],
      },
    };
  }

  function alertMessage(index = 0): Record<string, string> {
    return JSON.parse(String(sns.commandCalls(PublishCommand)[index]?.args[0].input.Message)) as Record<string, string>;
  }

  /** The plain-text alert people read. */
  function alertEmail(index = 0): string {
    return alertMessage(index)['email'] ?? '';
  }

  /** The machine-readable alert (what the Slack notifier and other subscribers consume). */
  function alertJson(index = 0): { decision: { verdict: { proposal?: { operation: string; input: unknown }[] } }; execution?: { steps: { errorCode?: string; errorMessage?: string }[] } } {
    return JSON.parse(alertMessage(index)['lambda'] ?? '{}') as ReturnType<typeof alertJson>;
  }

  const policy = (defaultVersionId: string) => ({ Policy: { PolicyName: 'DevTeamPolicy', Arn: POLICY, DefaultVersionId: defaultVersionId, Tags: [] } });

  beforeEach(() => {
    iam.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('deletes an admin inline policy after reading the role and the current document, verifies it gone, and alerts with the full undo', async () => {
    // Arrange
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    const document = request(event, 'policyDocument');
    iam.on(GetRoleCommand).resolves(getRole('ml-training-role'));
    iam
      .on(GetRolePolicyCommand)
      .resolvesOnce({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(document) })
      .rejects(noSuchEntity('The role policy with name AllowEverything cannot be found.'));
    iam.on(DeleteRolePolicyCommand).resolves({});
    const { handler } = iamHandler();
    // Act
    const result = await handler(event);
    // Assert
    expect(commandNames()).toStrictEqual(['GetRole', 'GetRolePolicy', 'DeleteRolePolicy', 'GetRolePolicy']);
    expect(iam.commandCalls(GetRoleCommand).map((c) => c.args[0].input)).toStrictEqual([{ RoleName: 'ml-training-role' }]);
    expect(iam.commandCalls(GetRolePolicyCommand).map((c) => c.args[0].input)).toStrictEqual([
      { RoleName: 'ml-training-role', PolicyName: 'AllowEverything' },
      { RoleName: 'ml-training-role', PolicyName: 'AllowEverything' },
    ]);
    expect(iam.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input)).toStrictEqual([{ RoleName: 'ml-training-role', PolicyName: 'AllowEverything' }]);
    expect(result).toStrictEqual({
      status: 'processed',
      eventId: event.detail.eventID,
      decisions: [
        {
          rule: 'iam-inline-policy-admin',
          verdict: 'violation',
          outcome: 'applied',
          summary: 'role ml-training-role: inline policy AllowEverything grants full-admin (critical) in Statement 0 ("AdminAll")',
          execution: 'applied',
        },
      ],
    });
    const email = alertEmail();
    expect(email).toContain('[critical] Statement 0 ("AdminAll") allows every action (*) on all resources: full administrator access. Offending statement: {"Sid":"AdminAll","Effect":"Allow","Action":"*","Resource":"*"}');
    expect(email).toContain(`aws iam put-role-policy --region us-east-1 --role-name ml-training-role --policy-name AllowEverything --policy-document '${JSON.stringify(JSON.parse(document))}'`);
  });

  it('reports already fixed when the delete finds the policy gone (second delivery racing the first) and a read agrees', async () => {
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    iam.on(GetRoleCommand).resolves(getRole('ml-training-role'));
    iam
      .on(GetRolePolicyCommand)
      .resolvesOnce({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(request(event, 'policyDocument')) })
      .rejects(noSuchEntity('The role policy with name AllowEverything cannot be found.'));
    iam.on(DeleteRolePolicyCommand).rejects(noSuchEntity('The role policy with name AllowEverything cannot be found.'));
    const result = await iamHandler().handler(event);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
  });

  it("never remediates the bot's own role, known by its exact ARN: no write call, and a person is alerted with what was put", async () => {
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    event.detail.requestParameters = { ...event.detail.requestParameters, roleName: 'remediation-bot-prod-us-east-1-iam' };
    iam.on(GetRoleCommand).resolves(getRole('remediation-bot-prod-us-east-1-iam', { path: '/remediation-bot/' }));
    const { handler } = iamHandler({ env: { BOT_PRINCIPALS: BOT_ROLE } });
    const result = await handler(event);
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'exempt', outcome: 'exempt' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(alertEmail()).toContain("is one of the bot's own roles");
    expect(alertEmail()).toContain('allows every action (*) on all resources');
  });

  it('is never triggered by the bot itself: no lookup, no write, no alert', async () => {
    const result = await iamHandler({ env: { BOT_PRINCIPALS: BOT_ROLE } }).handler(loadEvent('iam/PutRolePolicy-by-bot-itself-skipped.json'));
    expect(iam.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]?.verdict).toBe('skipped');
  });

  it('detaches AdministratorAccess with the exact input, between two reads of the attachments', async () => {
    const admin = 'arn:aws:iam::aws:policy/AdministratorAccess';
    iam.on(GetRoleCommand).resolves(getRole('stratus-red-team-malicious-iam-role'));
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies(admin)).resolves(attachedPolicies());
    iam.on(DetachRolePolicyCommand).resolves({});
    const result = await iamHandler().handler(loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'));
    expect(commandNames()).toStrictEqual(['GetRole', 'ListAttachedRolePolicies', 'DetachRolePolicy', 'ListAttachedRolePolicies']);
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input)).toStrictEqual([{ RoleName: 'stratus-red-team-malicious-iam-role', PolicyArn: admin }]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
  });

  it('contains an open trust policy with AWSDenyAll and proposes the fixed document', async () => {
    const event = loadEvent('iam/UpdateAssumeRolePolicy-public-aws-star-beside-service.json');
    iam.on(GetRoleCommand).resolves(getRole('report-builder', { trust: request(event, 'policyDocument') }));
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies()).resolves(attachedPolicies(DENY_ALL));
    iam.on(AttachRolePolicyCommand).resolves({});
    const result = await iamHandler().handler(event);
    expect(commandNames()).toStrictEqual(['GetRole', 'ListAttachedRolePolicies', 'AttachRolePolicy', 'ListAttachedRolePolicies']);
    expect(iam.commandCalls(AttachRolePolicyCommand).map((c) => c.args[0].input)).toStrictEqual([{ RoleName: 'report-builder', PolicyArn: DENY_ALL }]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
    expect(alertJson().decision.verdict.proposal?.map((step) => [step.operation, step.input])).toStrictEqual([
      [
        'UpdateAssumeRolePolicy',
        {
          RoleName: 'report-builder',
          PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Sid":"LambdaService","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
        },
      ],
    ]);
    expect(alertEmail()).toContain('UpdateAssumeRolePolicy');
  });

  it('reports LimitExceeded on the containment clearly, as a failed remediation', async () => {
    const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
    iam.on(GetRoleCommand).resolves(getRole('data-export-role', { trust: request(event, 'policyDocument') }));
    iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies());
    iam.on(AttachRolePolicyCommand).rejects(
      Object.assign(new LimitExceededException({ message: 'Cannot exceed quota for PoliciesPerRole: 10', $metadata: { httpStatusCode: 409 } }), { Code: 'LimitExceeded' }),
    );
    const result = await iamHandler().handler(event);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
    expect(alertJson().execution?.steps.map(({ errorCode, errorMessage }) => ({ errorCode, errorMessage }))).toStrictEqual([
      { errorCode: 'LimitExceeded', errorMessage: 'Cannot exceed quota for PoliciesPerRole: 10' },
    ]);
    const email = alertEmail();
    expect(email).toContain('LimitExceeded');
    expect(email).toContain('If IAM answers LimitExceeded, the role already has as many managed policies as its quota allows');
  });

  it('rolls a new admin default version back to the only earlier version, once its document reads clean', async () => {
    iam.on(GetPolicyCommand).resolvesOnce(policy('v3')).resolvesOnce(policy('v3')).resolves(policy('v1'));
    iam.on(ListPolicyVersionsCommand).resolves({
      Versions: [
        { VersionId: 'v3', IsDefaultVersion: true, CreateDate: new Date('2025-03-10T11:00:00Z') },
        { VersionId: 'v1', IsDefaultVersion: false, CreateDate: new Date('2025-01-01T00:00:00Z') },
      ],
    });
    iam.on(GetPolicyVersionCommand).resolves({ PolicyVersion: { VersionId: 'v1', IsDefaultVersion: false, Document: encodeURIComponent(SCOPED_DOCUMENT) } });
    iam.on(SetDefaultPolicyVersionCommand).resolves({});
    const result = await iamHandler().handler(loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'));
    expect(commandNames()).toStrictEqual(['GetPolicy', 'ListPolicyVersions', 'GetPolicyVersion', 'GetPolicy', 'SetDefaultPolicyVersion', 'GetPolicy']);
    expect(iam.commandCalls(ListPolicyVersionsCommand).map((c) => c.args[0].input)).toStrictEqual([{ PolicyArn: POLICY }]);
    expect(iam.commandCalls(GetPolicyVersionCommand).map((c) => c.args[0].input)).toStrictEqual([{ PolicyArn: POLICY, VersionId: 'v1' }]);
    expect(iam.commandCalls(SetDefaultPolicyVersionCommand).map((c) => c.args[0].input)).toStrictEqual([{ PolicyArn: POLICY, VersionId: 'v1' }]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
  });

  it('reads the version SetDefaultPolicyVersion made the default, decodes it, and rolls back to the clean one before it', async () => {
    iam.on(GetPolicyCommand).resolvesOnce(policy('v2')).resolvesOnce(policy('v2')).resolves(policy('v4'));
    iam.on(GetPolicyVersionCommand, { PolicyArn: POLICY, VersionId: 'v2' }).resolves({
      PolicyVersion: { VersionId: 'v2', IsDefaultVersion: true, Document: encodeURIComponent('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}') },
    });
    iam.on(GetPolicyVersionCommand, { PolicyArn: POLICY, VersionId: 'v4' }).resolves({ PolicyVersion: { VersionId: 'v4', IsDefaultVersion: false, Document: encodeURIComponent(SCOPED_DOCUMENT) } });
    iam.on(ListPolicyVersionsCommand).resolves({
      Versions: [
        { VersionId: 'v2', IsDefaultVersion: true, CreateDate: new Date('2025-01-01T00:00:00Z') },
        { VersionId: 'v4', IsDefaultVersion: false, CreateDate: new Date('2025-03-01T00:00:00Z') },
      ],
    });
    iam.on(SetDefaultPolicyVersionCommand).resolves({});
    const result = await iamHandler().handler(loadEvent('iam/SetDefaultPolicyVersion-needs-lookup.json'));
    expect(iam.commandCalls(GetPolicyVersionCommand).map((c) => c.args[0].input)).toStrictEqual([
      { PolicyArn: POLICY, VersionId: 'v2' },
      { PolicyArn: POLICY, VersionId: 'v4' },
    ]);
    expect(iam.commandCalls(SetDefaultPolicyVersionCommand).map((c) => c.args[0].input)).toStrictEqual([{ PolicyArn: POLICY, VersionId: 'v4' }]);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({
      verdict: 'violation',
      outcome: 'applied',
      summary: 'policy DevTeamPolicy v2 became the default and grants service-wildcard (high) in Statement 0; plan: roll back to v4, the default before it, which grants no admin',
    });
  });

  it('leaves a role exempt by tag alone, and a failed call untouched', async () => {
    const event = loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json');
    iam.on(GetRoleCommand).resolves(getRole('stratus-red-team-malicious-iam-role', { tags: [{ Key: 'remediation:exempt', Value: 'red-team exercise' }] }));
    const exempt = await iamHandler().handler(event);
    expect(iam.commandCalls(DetachRolePolicyCommand)).toHaveLength(0);
    expect(exempt.status === 'processed' && exempt.decisions[0]).toMatchObject({ verdict: 'exempt', summary: 'role stratus-red-team-malicious-iam-role is tagged remediation:exempt: red-team exercise' });

    iam.reset();
    const failed = await iamHandler().handler(loadEvent('iam/AttachRolePolicy-failed-no-such-entity.json'));
    expect(iam.calls()).toHaveLength(0);
    expect(failed.status === 'processed' && failed.decisions[0]?.verdict).toBe('skipped');
  });

  it('detaches a customer-managed policy whose default version grants admin, read through chained lookups (GetPolicy, then GetPolicyVersion)', async () => {
    const event = loadEvent('iam/AttachRolePolicy-customer-managed-needs-lookup.json');
    const policyArn = request(event, 'policyArn');
    const roleName = request(event, 'roleName');
    iam.on(GetRoleCommand).resolves(getRole(roleName));
    iam.on(GetPolicyCommand).resolves({ Policy: { Arn: policyArn, DefaultVersionId: 'v4', Tags: [] } });
    iam.on(GetPolicyVersionCommand).resolves({
      PolicyVersion: { VersionId: 'v4', IsDefaultVersion: true, Document: encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] })) },
    });
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies(policyArn)).resolves(attachedPolicies());
    iam.on(DetachRolePolicyCommand).resolves({});
    const result = await iamHandler().handler(event);
    expect(iam.commandCalls(GetPolicyVersionCommand).map((call) => call.args[0].input)).toStrictEqual([{ PolicyArn: policyArn, VersionId: 'v4' }]);
    expect(iam.commandCalls(DetachRolePolicyCommand).map((call) => call.args[0].input)).toStrictEqual([{ RoleName: roleName, PolicyArn: policyArn }]);
    expect(result.status === 'processed' && result.decisions.find((d) => d.rule === 'iam-attached-admin-policy')?.outcome).toBe('applied');
  });
});

/** The fixture's admin document, padded with newlines to exactly IAM's parameter limit: IAM accepts it, its quota ignores whitespace. */
function paddedAdmin(): { event: CloudTrailEvent; padded: string; plain: string } {
  const event = loadEvent('iam/PutRolePolicy-admin-star.json');
  const plain = String(event.detail.requestParameters?.['policyDocument']);
  const padded = plain.replace('"Statement"', `${'\n'.repeat(MAX_RAW_POLICY_INPUT - plain.length)}"Statement"`);
  (event.detail.requestParameters as Record<string, unknown>)['policyDocument'] = padded;
  return { event, padded, plain };
}

describe('a padded policy is judged by its content (issue 14)', () => {
  beforeEach(() => {
    iam.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('counts IAM quotas without whitespace: a document at IAM\'s 131,072-character limit that holds 100 characters is analysed', () => {
    const { padded } = paddedAdmin();
    expect(padded.length).toBe(MAX_RAW_POLICY_INPUT);
    expect(analyzePermissionsPolicy(padded, { maxPolicyCharacters: IAM_POLICY_SIZE_LIMITS.userInlinePolicies })).toMatchObject({ ok: true, findings: [{ code: 'full-admin' }] });
    // URL-encoded, as IAM's own answers are, it is three times as long: still the same document.
    expect(analyzePermissionsPolicy(encodeURIComponent(padded))).toMatchObject({ ok: true, findings: [{ code: 'full-admin' }] });
    expect(analyzePermissionsPolicy(`${padded} `)).toMatchObject({ ok: false, error: expect.stringContaining("IAM's limit, whitespace included") });
  });

  it('is a violation with a plan, not withheld and not skipped, and the undo carries the compact document', async () => {
    const { event, plain } = paddedAdmin();
    const config = parseConfig({ defaultMode: 'remediate' }, iamRules);
    const decision = await decide(event, iamInlinePolicyAdmin, { config, env: {}, facts: offlineFacts, now: NOW });
    expect(decision.verdict.kind).toBe('violation');
    if (decision.verdict.kind !== 'violation') return;
    expect(decision.verdict.withheld).toBeUndefined();
    expect(decision.verdict.plan.map((step) => step.operation)).toStrictEqual(['DeleteRolePolicy']);
    const undoDocument = decision.verdict.plan[0]?.undo?.input['PolicyDocument'];
    expect(undoDocument).toBe(JSON.stringify(JSON.parse(plain)));
    expect(JSON.stringify(decision.verdict.plan).length).toBeLessThan(MAX_STEP_INPUT_CHARS / 10);
    expect(decision.severity).toBe('critical');
  });

  it('is deleted and verified through the Lambda path, with an alert', async () => {
    const { event, padded } = paddedAdmin();
    const metrics: { name: MetricName; rule?: string }[] = [];
    iam.on(GetRoleCommand).resolves({ Role: { Path: '/', RoleName: 'ml-training-role', RoleId: 'AROAEXAMPLEEXAMPLE01', Arn: 'arn:aws:iam::111122223333:role/ml-training-role', CreateDate: new Date(), Tags: [] } });
    iam
      .on(GetRolePolicyCommand)
      .resolvesOnce({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(padded) })
      .rejects(Object.assign(new NoSuchEntityException({ message: 'The role policy with name AllowEverything cannot be found.', $metadata: {} }), { Code: 'NoSuchEntity' }));
    iam.on(DeleteRolePolicyCommand).resolves({});
    const result = await iamHandler({ metrics: { count: (name, rule) => metrics.push({ name, ...(rule !== undefined && { rule }) }) } }).handler(event);
    expect(result.status === 'processed' && result.decisions.map((d) => [d.verdict, d.outcome])).toStrictEqual([['violation', 'applied']]);
    expect(iam.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input)).toStrictEqual([{ RoleName: 'ml-training-role', PolicyName: 'AllowEverything' }]);
    expect(metrics).toContainEqual({ name: 'Applied', rule: 'iam-inline-policy-admin' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });
});

describe('a document CloudTrail omitted is a high-severity "could not inspect" (issue 14)', () => {
  beforeEach(() => {
    iam.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('alerts with severity high, says the document could not be inspected, counts Skipped, and makes no AWS call', async () => {
    const metrics: { name: MetricName; rule?: string }[] = [];
    const result = await iamHandler({ metrics: { count: (name, rule) => metrics.push({ name, ...(rule !== undefined && { rule }) }) } }).handler(loadEvent('iam/PutRolePolicy-request-parameters-omitted.json'));
    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([['iam-inline-policy-admin', 'skipped', 'uninspected']]);
    expect(result.status === 'processed' && result.decisions[0]?.summary).toContain('could not be inspected: CloudTrail omitted it (requestParameters too large, originally 131,059 characters)');
    expect(iam.calls()).toHaveLength(0);
    const publish = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(publish?.MessageAttributes?.['severity']?.StringValue).toBe('high');
    expect(publish?.MessageAttributes?.['outcome']?.StringValue).toBe('uninspected');
    expect(metrics).toContainEqual({ name: 'Skipped', rule: 'iam-inline-policy-admin' });
  });

  it('analyses a trust policy given as JSON text or as an object alike', () => {
    const plain = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}';
    const asText = analyzeTrustPolicy(plain, { trustedAccounts: [] });
    const asObject = analyzeTrustPolicy(JSON.parse(plain) as object, { trustedAccounts: [] });
    expect(asObject).toStrictEqual(asText);
  });
});

describe('iam rules act on the present (issue 13)', () => {
  const ADMIN_V1 = '{"Version":"2012-10-17","Statement":[{"Sid":"LegacyAdmin","Effect":"Allow","Action":"*","Resource":"*"}]}';

  /** An undo store that keeps what the engine records, as DynamoDB would. */
  function memoryUndoStore(): UndoStore & { readonly entries: { eventId: string; entry: UndoEntry }[] } {
    const entries: { eventId: string; entry: UndoEntry }[] = [];
    return {
      entries,
      async record(eventId, entry) {
        entries.push({ eventId, entry });
      },
      async read(eventId, families): Promise<readonly UndoRecord[]> {
        return families.flatMap((family) => {
          const mine = entries.filter((item) => item.eventId === eventId && item.entry.family === family).map((item) => item.entry);
          return mine.length > 0 ? [{ eventId, family, entries: mine }] : [];
        });
      },
      async markUndone() {},
    };
  }

  function alert(index = 0): { email: string; lambda: { decision: { severity: string } } } {
    const message = JSON.parse(String(sns.commandCalls(PublishCommand)[index]?.args[0].input.Message)) as Record<string, string>;
    return { email: message['email'] ?? '', lambda: JSON.parse(message['lambda'] ?? '{}') as { decision: { severity: string } } };
  }

  const policy = (defaultVersionId: string) => ({ Policy: { PolicyName: 'DevTeamPolicy', Arn: POLICY, DefaultVersionId: defaultVersionId, AttachmentCount: 1, Tags: [] } });

  /** The scenario: v1 grants admin; v2, also admin, was created and made the default. */
  function v2MadeDefault(): CloudTrailEvent {
    const event = loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json');
    event.detail.responseElements = { policyVersion: { versionId: 'v2', isDefaultVersion: true, createDate: 'Mar 10, 2025 11:00:00 AM' } };
    return event;
  }

  function twoAdminVersions(): void {
    iam.on(ListPolicyVersionsCommand).resolves({
      Versions: [
        { VersionId: 'v2', IsDefaultVersion: true, CreateDate: new Date('2025-03-10T11:00:00Z') },
        { VersionId: 'v1', IsDefaultVersion: false, CreateDate: new Date('2025-01-01T00:00:00Z') },
      ],
    });
    iam.on(GetPolicyVersionCommand, { PolicyArn: POLICY, VersionId: 'v1' }).resolves({ PolicyVersion: { VersionId: 'v1', IsDefaultVersion: false, Document: encodeURIComponent(ADMIN_V1) } });
  }

  beforeEach(() => {
    iam.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  describe('iam-policy-version-admin: v1 admin, v2 admin made the default', () => {
    it('never makes v1 the default: it detaches the policy from its identities, verifies each, records their undo, and says why', async () => {
      // Arrange
      const undo = memoryUndoStore();
      iam.on(GetPolicyCommand).resolves(policy('v2'));
      twoAdminVersions();
      iam.on(ListEntitiesForPolicyCommand).resolves({ PolicyRoles: [{ RoleName: 'app-role', RoleId: 'AROAEXAMPLEAPPROLE01' }], PolicyUsers: [], PolicyGroups: [], IsTruncated: false });
      iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [], IsTruncated: false });
      iam.on(DetachRolePolicyCommand).resolves({});
      // Act
      const result = await iamHandler({ undoStore: undo }).handler(v2MadeDefault());
      // Assert
      expect(iam.commandCalls(SetDefaultPolicyVersionCommand)).toHaveLength(0);
      expect(commandNames()).toStrictEqual(['GetPolicy', 'ListPolicyVersions', 'GetPolicyVersion', 'ListEntitiesForPolicy', 'GetPolicy', 'DetachRolePolicy', 'ListAttachedRolePolicies']);
      expect(iam.commandCalls(ListEntitiesForPolicyCommand)[0]?.args[0].input).toStrictEqual({ PolicyArn: POLICY, MaxItems: 1000 });
      expect(iam.commandCalls(DetachRolePolicyCommand)[0]?.args[0].input).toStrictEqual({ RoleName: 'app-role', PolicyArn: POLICY });
      expect(result).toStrictEqual({
        status: 'processed',
        eventId: v2MadeDefault().detail.eventID,
        decisions: [
          {
            rule: 'iam-policy-version-admin',
            verdict: 'violation',
            outcome: 'applied',
            summary:
              'policy DevTeamPolicy v2 became the default and grants full-admin (critical) in Statement 0 ("AdminAll"); every earlier version also grants admin: v1 full-admin (critical) in Statement 0 ("LegacyAdmin"), so it is not rolled back; plan: detach DevTeamPolicy from 1 identity (role app-role)',
            execution: 'applied',
          },
        ],
      });
      expect(undo.entries.map(({ entry }) => [entry.applied.map((s) => s.operation), entry.undo.map((s) => [s.operation, s.input])])).toStrictEqual([
        [['DetachRolePolicy'], [['AttachRolePolicy', { RoleName: 'app-role', PolicyArn: POLICY }]]],
      ]);
      expect(alert().email).toContain('every earlier version also grants admin: v1');
    });

    it('reports stale, detaching nothing, when a compliant version was made the default before the bot acted', async () => {
      const undo = memoryUndoStore();
      iam.on(GetPolicyCommand).resolvesOnce(policy('v2')).resolves(policy('v3'));
      twoAdminVersions();
      iam.on(ListEntitiesForPolicyCommand).resolves({ PolicyRoles: [{ RoleName: 'app-role', RoleId: 'AROAEXAMPLEAPPROLE01' }], PolicyUsers: [], PolicyGroups: [], IsTruncated: false });
      const result = await iamHandler({ undoStore: undo }).handler(v2MadeDefault());
      expect(iam.commandCalls(DetachRolePolicyCommand)).toHaveLength(0);
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'stale', execution: 'stale' });
      expect(undo.entries).toStrictEqual([]);
      expect(alert().email).toContain('v3 is now the default version of DevTeamPolicy (set after this event), not v2 as the event left it');
    });
  });

  it('iam-policy-version-admin: a redelivery after the rollback reports already fixed, with the evidence, instead of silence', async () => {
    const undo = memoryUndoStore();
    // v1 was rolled back to by the first delivery: it is the default now.
    iam.on(GetPolicyCommand).resolves(policy('v1'));
    iam.on(ListPolicyVersionsCommand).resolves({
      Versions: [
        { VersionId: 'v3', IsDefaultVersion: false, CreateDate: new Date('2025-03-10T11:00:00Z') },
        { VersionId: 'v1', IsDefaultVersion: true, CreateDate: new Date('2025-01-01T00:00:00Z') },
      ],
    });
    iam.on(GetPolicyVersionCommand).resolves({ PolicyVersion: { VersionId: 'v1', IsDefaultVersion: true, Document: encodeURIComponent(SCOPED_DOCUMENT) } });
    const result = await iamHandler({ undoStore: undo }).handler(loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'));
    expect(iam.commandCalls(SetDefaultPolicyVersionCommand)).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'violation', outcome: 'already-fixed', execution: 'already-fixed' });
    expect(undo.entries).toStrictEqual([]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(alert().email).toContain('v1 is the default version of DevTeamPolicy, not v3');
  });

  it('iam-trust-policy-open: AWSDenyAll attached before the bot acted is already fixed, attaches nothing, and records no undo', async () => {
    const undo = memoryUndoStore();
    const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
    const trust = String(event.detail.requestParameters?.['policyDocument']);
    iam.on(GetRoleCommand).resolves({
      Role: { Path: '/', RoleName: 'data-export-role', RoleId: 'AROAEXAMPLEEXAMPLE01', Arn: `arn:aws:iam::${ACCOUNT}:role/data-export-role`, CreateDate: new Date('2025-03-01T00:00:00Z'), AssumeRolePolicyDocument: encodeURIComponent(trust), Tags: [] },
    });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'AWSDenyAll', PolicyArn: DENY_ALL }], IsTruncated: false });
    iam.on(AttachRolePolicyCommand).resolves({});
    const result = await iamHandler({ undoStore: undo }).handler(event);
    expect(commandNames()).toStrictEqual(['GetRole', 'ListAttachedRolePolicies']);
    expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
    expect(undo.entries).toStrictEqual([]);
    expect(alert().email).toContain('AWSDenyAll is attached to role data-export-role');
  });

  it('iam-trust-policy-open: an attach the bot made is recorded with its undo', async () => {
    const undo = memoryUndoStore();
    const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
    iam.on(GetRoleCommand).resolves({ Role: { Path: '/', RoleName: 'data-export-role', RoleId: 'AROAEXAMPLEEXAMPLE01', Arn: `arn:aws:iam::${ACCOUNT}:role/data-export-role`, CreateDate: new Date(), Tags: [] } });
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce({ AttachedPolicies: [], IsTruncated: false }).resolves({ AttachedPolicies: [{ PolicyName: 'AWSDenyAll', PolicyArn: DENY_ALL }], IsTruncated: false });
    iam.on(AttachRolePolicyCommand).resolves({});
    const result = await iamHandler({ undoStore: undo }).handler(event);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
    expect(undo.entries.map(({ entry }) => entry.undo.map((s) => [s.operation, s.input]))).toStrictEqual([[['DetachRolePolicy', { RoleName: 'data-export-role', PolicyArn: DENY_ALL }]]]);
  });

  it('iam-inline-policy-admin: a policy that holds another document since the event is stale: nothing deleted, and the alert says what changed', async () => {
    const undo = memoryUndoStore();
    iam.on(GetRoleCommand).resolves({ Role: { Path: '/', RoleName: 'ml-training-role', RoleId: 'AROAEXAMPLEEXAMPLE01', Arn: `arn:aws:iam::${ACCOUNT}:role/ml-training-role`, CreateDate: new Date(), Tags: [] } });
    iam.on(GetRolePolicyCommand).resolves({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(SCOPED_DOCUMENT) });
    const result = await iamHandler({ undoStore: undo }).handler(loadEvent('iam/PutRolePolicy-admin-star.json'));
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(0);
    expect(commandNames()).toStrictEqual(['GetRole', 'GetRolePolicy']);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'violation', outcome: 'stale', execution: 'stale' });
    expect(undo.entries).toStrictEqual([]);
    expect(alert().email).toContain('inline policy AllowEverything of role ml-training-role now holds another document (set after this event): nothing deleted');
  });
});

/** The members each IAM API requires (IAM API reference). */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  PutRolePolicy: ['RoleName', 'PolicyName', 'PolicyDocument'],
  PutUserPolicy: ['UserName', 'PolicyName', 'PolicyDocument'],
  PutGroupPolicy: ['GroupName', 'PolicyName', 'PolicyDocument'],
  DeleteRolePolicy: ['RoleName', 'PolicyName'],
  DeleteUserPolicy: ['UserName', 'PolicyName'],
  DeleteGroupPolicy: ['GroupName', 'PolicyName'],
  AttachRolePolicy: ['RoleName', 'PolicyArn'],
  AttachUserPolicy: ['UserName', 'PolicyArn'],
  AttachGroupPolicy: ['GroupName', 'PolicyArn'],
  DetachRolePolicy: ['RoleName', 'PolicyArn'],
  DetachUserPolicy: ['UserName', 'PolicyArn'],
  DetachGroupPolicy: ['GroupName', 'PolicyArn'],
  SetDefaultPolicyVersion: ['PolicyArn', 'VersionId'],
  UpdateAssumeRolePolicy: ['RoleName', 'PolicyDocument'],
};

function violatingVersion(event: CloudTrailEvent): string {
  return stringField(event.detail.responseElements, 'policyVersion', 'versionId') ?? stringField(event.detail.requestParameters, 'versionId') ?? 'v9';
}

/** Lookup answers shaped like the SDK's output, consistent with the event (nothing has changed since it). */
function sdkOutput(operation: string, input: Readonly<Record<string, unknown>>, event: CloudTrailEvent): unknown {
  const params = event.detail.requestParameters;
  const document = stringField(params, 'policyDocument');
  switch (operation) {
    case 'GetRole': {
      const trust = trustDocumentOf(event);
      return { Role: { RoleName: input['RoleName'], Path: '/', Arn: `arn:aws:iam::${event.account}:role/${String(input['RoleName'])}`, Tags: [], ...(trust && { AssumeRolePolicyDocument: encodeURIComponent(trust) }) } };
    }
    case 'GetUser':
      return { User: { UserName: input['UserName'], Path: '/', Arn: `arn:aws:iam::${event.account}:user/${String(input['UserName'])}`, Tags: [] } };
    case 'GetRolePolicy':
    case 'GetUserPolicy':
    case 'GetGroupPolicy':
      return { PolicyName: input['PolicyName'], PolicyDocument: encodeURIComponent(document ?? '') };
    case 'GetPolicy':
      return { Policy: { Arn: input['PolicyArn'], DefaultVersionId: event.detail.eventName === 'SetDefaultPolicyVersion' ? violatingVersion(event) : 'v7', Tags: [] } };
    case 'GetPolicyVersion': {
      // v1, the version ListPolicyVersions lists before the violating one, grants little; any default grants admin.
      const earlier = input['VersionId'] === 'v1';
      return { PolicyVersion: { VersionId: input['VersionId'], IsDefaultVersion: !earlier, Document: encodeURIComponent(earlier ? SCOPED_DOCUMENT : ADMIN_DOCUMENT) } };
    }
    case 'ListEntitiesForPolicy':
      return { PolicyRoles: [{ RoleName: 'app-role', RoleId: 'AROAEXAMPLE1' }], PolicyUsers: [], PolicyGroups: [], IsTruncated: false };
    case 'ListPolicyVersions':
      return {
        Versions: [
          { VersionId: 'v1', IsDefaultVersion: false, CreateDate: new Date('2020-01-01T00:00:00Z') },
          { VersionId: violatingVersion(event), IsDefaultVersion: true, CreateDate: new Date(event.detail.eventTime) },
        ],
      };
    default:
      throw new Error(`unexpected lookup ${operation}`);
  }
}

const liveLikeFacts: FactSource = {
  async fetch(lookup, input, event): Promise<Fact> {
    return { status: 'ok', value: lookup.select(sdkOutput(lookup.operation, input, event)) };
  },
};
const offline: FactSource = { fetch: async () => ({ status: 'unavailable', reason: 'offline replay has no AWS access' }) };

async function iamDecisions(facts: FactSource): Promise<{ name: string; event: CloudTrailEvent; decision: Decision }[]> {
  const config = parseConfig({}, iamRules);
  const results: { name: string; event: CloudTrailEvent; decision: Decision }[] = [];
  for (const name of allFixtureNames().filter((n) => n.startsWith('iam/'))) {
    const parsed = parseEvent(loadEvent(name));
    if (!parsed.success) throw parsed.error;
    for (const rule of iamRules) {
      if (!(rule.triggers as readonly { eventNames: readonly string[] }[]).some((t) => t.eventNames.includes(parsed.event.detail.eventName))) continue;
      results.push({ name, event: parsed.event, decision: await decide(parsed.event, rule, { config, env: {}, facts, now: new Date('2025-03-10T14:00:00Z') }) });
    }
  }
  return results;
}

function containsUnknown(value: unknown): boolean {
  if (isUnknownValue(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).some(containsUnknown);
}

/** The step the undo must be: the inverse operation on the same target. */
function expectInverse(step: PlanStep, event: CloudTrailEvent): void {
  const { undo } = step;
  if (!undo) throw new Error(`${step.operation} has no undo`);
  const input = step.input;
  switch (step.operation) {
    case 'DeleteRolePolicy':
    case 'DeleteUserPolicy':
    case 'DeleteGroupPolicy': {
      expect(undo.operation).toBe(step.operation.replace('Delete', 'Put'));
      const document = stringField(event.detail.requestParameters, 'policyDocument') ?? '';
      expect(undo.input).toStrictEqual({ ...input, PolicyDocument: compactDocument(document) });
      expect(() => JSON.parse(String(undo.input['PolicyDocument']))).not.toThrow();
      break;
    }
    case 'DetachRolePolicy':
    case 'DetachUserPolicy':
    case 'DetachGroupPolicy':
      expect(undo.operation).toBe(step.operation.replace('Detach', 'Attach'));
      expect(undo.input).toStrictEqual(input);
      break;
    case 'AttachRolePolicy':
      expect(undo.operation).toBe('DetachRolePolicy');
      expect(undo.input).toStrictEqual(input);
      break;
    case 'SetDefaultPolicyVersion':
      expect(undo.operation).toBe('SetDefaultPolicyVersion');
      expect(undo.input).toStrictEqual({ PolicyArn: input['PolicyArn'], VersionId: violatingVersion(event) });
      break;
    case 'UpdateAssumeRolePolicy':
      expect(undo.operation).toBe('UpdateAssumeRolePolicy');
      expect(undo.input['RoleName']).toBe(input['RoleName']);
      expect(sameDocument(String(undo.input['PolicyDocument']), trustDocumentOf(event) ?? '')).toBe(true);
      break;
    default:
      throw new Error(`unexpected IAM plan step ${step.operation}`);
  }
}

describe('IAM plans are reversible from the plan itself', () => {
  it.each([
    ['with live lookups', liveLikeFacts],
    ['offline', offline],
  ])('%s: every applied and proposed step carries a complete, exact inverse', async (_, facts) => {
    const operations = new Set<string>();
    for (const { name, event, decision } of await iamDecisions(facts)) {
      const { verdict } = decision;
      if (verdict.kind !== 'violation') continue;
      for (const step of [...verdict.plan, ...(verdict.proposal ?? [])]) {
        operations.add(step.operation);
        const undo = step.undo;
        expect(undo, `${name}: ${step.operation} has no undo`).toBeDefined();
        if (!undo) continue;
        expect(undo.service).toBe('iam');
        const required = REQUIRED[undo.operation];
        expect(required, `${name}: unknown undo ${undo.operation}`).toBeDefined();
        for (const key of required ?? []) {
          const value = undo.input[key];
          expect(typeof value === 'string' && value.length > 0, `${name}: ${undo.operation}.${key}`).toBe(true);
        }
        expect(Object.keys(undo.input).sort()).toStrictEqual([...(required ?? [])].sort());
        expect(containsUnknown(undo.input), `${name}: undo holds a placeholder`).toBe(false);
        expect(undo.reason.length).toBeGreaterThan(10);
        expectInverse(step, event);
      }
      for (const step of verdict.plan) expect(containsUnknown(step.input), `${name}: an applied step holds a placeholder`).toBe(false);
    }
    if (facts === liveLikeFacts) {
      expect([...operations].sort()).toStrictEqual(
        [
          'AttachRolePolicy',
          'DeleteGroupPolicy',
          'DeleteRolePolicy',
          'DeleteUserPolicy',
          'DetachGroupPolicy',
          'DetachRolePolicy',
          'DetachUserPolicy',
          'SetDefaultPolicyVersion',
          'UpdateAssumeRolePolicy',
        ].sort(),
      );
    }
  });
});

describe('IAM plans read the present before and after each write', () => {
  it.each([
    ['with live lookups', liveLikeFacts],
    ['offline', offline],
  ])('%s: every applied and proposed step names a precondition and a verification its own rule can judge', async (_, facts) => {
    let steps = 0;
    for (const { name, decision } of await iamDecisions(facts)) {
      const { verdict } = decision;
      if (verdict.kind !== 'violation') continue;
      const rule = iamRules.find((candidate) => candidate.id === decision.rule) as Rule | undefined;
      for (const step of [...verdict.plan, ...(verdict.proposal ?? [])]) {
        steps += 1;
        expect(step.alreadyDone, `${name}: ${step.operation} uses the deprecated alreadyDone`).toBeUndefined();
        for (const check of [step.precondition, step.verification]) {
          expect(check, `${name}: ${step.operation} has no check`).toBeDefined();
          const probe = rule?.probes?.find((candidate) => candidate.name === check?.probe);
          expect(probe, `${name}: ${step.operation} names probe ${check?.probe}, which ${decision.rule} lacks`).toBeDefined();
          expect([check?.service, check?.operation]).toStrictEqual([probe?.service, probe?.operation]);
          expect(check?.operation).toMatch(/^(Get|List)/);
        }
      }
    }
    expect(steps).toBeGreaterThan(10);
  });
});

describe('the IAM function can never grant access', () => {
  it('holds every plan, lookup and probe operation, and no operation that grants or changes a trust policy', () => {
    const commands = Object.keys(iamCommands.commands).filter((key) => key.startsWith('iam:'));
    const planned = iamRules.flatMap((rule) => rule.permissions.map((p) => p.action));
    const looked = iamRules.flatMap((rule) => (rule.lookups ?? []).map((l) => l.permission));
    const probed = iamRules.flatMap((rule) => (rule.probes ?? []).map((p) => iamActionFor(p.service, p.operation)));
    expect([...new Set([...planned, ...looked, ...probed])].sort()).toStrictEqual([...commands].sort());
    for (const key of commands) expect(key).not.toMatch(/^iam:(Put|Create|Update|Add|Tag|Upload)/);
    expect(commands.filter((key) => key.startsWith('iam:Attach'))).toStrictEqual(['iam:AttachRolePolicy']);
  });

  it('scopes every write permission to the account, never iam:* or Resource *', () => {
    for (const rule of iamRules) {
      for (const permission of rule.permissions) {
        expect(permission.action).not.toContain('*');
        expect(permission.resource).toMatch(/^arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:(role|user|group|policy)\/\*$/);
      }
    }
  });
});

describe('IAM rules offline', () => {
  it('decide every IAM fixture without throwing and never plan a write for a failed call', async () => {
    const config = parseConfig({}, iamRules);
    for (const name of ['PutRolePolicy-failed-access-denied', 'AttachRolePolicy-failed-no-such-entity', 'CreatePolicyVersion-failed-limit-exceeded', 'CreateRole-failed-access-denied']) {
      const event = loadEvent(`iam/${name}.json`);
      for (const rule of iamRules) {
        const decision = await decide(event, rule, { config, env: {}, facts: offlineFacts, now: NOW });
        expect(decision.verdict.kind, `${rule.id} ${name}`).toBe('skipped');
      }
    }
  });

  it('reads identity lookups for the right identity kind only', () => {
    expect(roleLookup.input(loadEvent('iam/PutRolePolicy-admin-star.json'))).toStrictEqual({ RoleName: 'ml-training-role' });
    expect(roleLookup.input(loadEvent('iam/PutUserPolicy-notaction-allow.json'))).toBeUndefined();
  });
});

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
