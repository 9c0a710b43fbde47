import {
  AttachRolePolicyCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  LimitExceededException,
  ListAttachedRolePoliciesCommand,
  ListPolicyVersionsCommand,
  NoSuchEntityException,
  SetDefaultPolicyVersionCommand,
} from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import { iamRules } from '../remediations/iam/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { iamFamily } from '../remediations/iam/index.js';

const iamCommands = runtimeCommands(iamFamily);

const iam = mockClient(IAMClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const ACCOUNT = '111122223333';
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/DevTeamPolicy`;
const BOT_ROLE = `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-iam`;
const DENY_ALL = 'arn:aws:iam::aws:policy/AWSDenyAll';
const SCOPED_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';

function handlerFor(env: Record<string, string> = {}) {
  const logger = recordingLogger();
  const config = parseConfig({ defaultMode: 'remediate' }, iamRules);
  const handler = remediationHandler({
    rules: iamRules,
    commands: iamCommands,
    logger,
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-iam', ...env },
    gateway: createAwsGateway(iamCommands, { region: 'us-east-1', maxAttempts: 1 }),
  });
  return { handler, logger };
}

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

function requestString(event: CloudTrailEvent, key: string): string {
  const value = event.detail.requestParameters?.[key];
  if (typeof value !== 'string') throw new Error(`no requestParameters.${key}`);
  return value;
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

const noSuchEntity = (message: string) => Object.assign(new NoSuchEntityException({ message, $metadata: { httpStatusCode: 404 } }), { Code: 'NoSuchEntity' });

const attachedPolicies = (...arns: string[]) => ({ AttachedPolicies: arns.map((PolicyArn) => ({ PolicyArn, PolicyName: PolicyArn.split('/').at(-1) })), IsTruncated: false });
const policy = (defaultVersionId: string) => ({ Policy: { PolicyName: 'DevTeamPolicy', Arn: POLICY, DefaultVersionId: defaultVersionId, Tags: [] } });
const commandNames = () => iam.calls().map((call) => call.args[0].constructor.name.replace(/Command$/, ''));

describe('iam handler (remediate mode)', () => {
  beforeEach(() => {
    iam.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('deletes an admin inline policy after reading the role and the current document, verifies it gone, and alerts with the full undo', async () => {
    // Arrange
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    const document = requestString(event, 'policyDocument');
    iam.on(GetRoleCommand).resolves(getRole('ml-training-role'));
    iam
      .on(GetRolePolicyCommand)
      .resolvesOnce({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(document) })
      .rejects(noSuchEntity('The role policy with name AllowEverything cannot be found.'));
    iam.on(DeleteRolePolicyCommand).resolves({});
    const { handler } = handlerFor();
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
    expect(email).toContain(JSON.stringify({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: JSON.stringify(JSON.parse(document)) }));
  });

  it('reports already fixed when the delete finds the policy gone (second delivery racing the first) and a read agrees', async () => {
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    iam.on(GetRoleCommand).resolves(getRole('ml-training-role'));
    iam
      .on(GetRolePolicyCommand)
      .resolvesOnce({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(requestString(event, 'policyDocument')) })
      .rejects(noSuchEntity('The role policy with name AllowEverything cannot be found.'));
    iam.on(DeleteRolePolicyCommand).rejects(noSuchEntity('The role policy with name AllowEverything cannot be found.'));
    const result = await handlerFor().handler(event);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
  });

  it("never remediates the bot's own role, known by its exact ARN: no write call, and a person is alerted with what was put", async () => {
    const event = loadEvent('iam/PutRolePolicy-admin-star.json');
    event.detail.requestParameters = { ...event.detail.requestParameters, roleName: 'remediation-bot-prod-us-east-1-iam' };
    iam.on(GetRoleCommand).resolves(getRole('remediation-bot-prod-us-east-1-iam', { path: '/remediation-bot/' }));
    const { handler } = handlerFor({ BOT_PRINCIPALS: BOT_ROLE });
    const result = await handler(event);
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'exempt', outcome: 'exempt' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(alertEmail()).toContain("is one of the bot's own roles");
    expect(alertEmail()).toContain('allows every action (*) on all resources');
  });

  it('is never triggered by the bot itself: no lookup, no write, no alert', async () => {
    const result = await handlerFor({ BOT_PRINCIPALS: BOT_ROLE }).handler(loadEvent('iam/PutRolePolicy-by-bot-itself-skipped.json'));
    expect(iam.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]?.verdict).toBe('skipped');
  });

  it('detaches AdministratorAccess with the exact input, between two reads of the attachments', async () => {
    const admin = 'arn:aws:iam::aws:policy/AdministratorAccess';
    iam.on(GetRoleCommand).resolves(getRole('stratus-red-team-malicious-iam-role'));
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies(admin)).resolves(attachedPolicies());
    iam.on(DetachRolePolicyCommand).resolves({});
    const result = await handlerFor().handler(loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'));
    expect(commandNames()).toStrictEqual(['GetRole', 'ListAttachedRolePolicies', 'DetachRolePolicy', 'ListAttachedRolePolicies']);
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input)).toStrictEqual([{ RoleName: 'stratus-red-team-malicious-iam-role', PolicyArn: admin }]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
  });

  it('contains an open trust policy with AWSDenyAll and proposes the fixed document', async () => {
    const event = loadEvent('iam/UpdateAssumeRolePolicy-public-aws-star-beside-service.json');
    iam.on(GetRoleCommand).resolves(getRole('report-builder', { trust: requestString(event, 'policyDocument') }));
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies()).resolves(attachedPolicies(DENY_ALL));
    iam.on(AttachRolePolicyCommand).resolves({});
    const result = await handlerFor().handler(event);
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
    iam.on(GetRoleCommand).resolves(getRole('data-export-role', { trust: requestString(event, 'policyDocument') }));
    iam.on(ListAttachedRolePoliciesCommand).resolves(attachedPolicies());
    iam.on(AttachRolePolicyCommand).rejects(
      Object.assign(new LimitExceededException({ message: 'Cannot exceed quota for PoliciesPerRole: 10', $metadata: { httpStatusCode: 409 } }), { Code: 'LimitExceeded' }),
    );
    const result = await handlerFor().handler(event);
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
    const result = await handlerFor().handler(loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'));
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
    const result = await handlerFor().handler(loadEvent('iam/SetDefaultPolicyVersion-needs-lookup.json'));
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
    const exempt = await handlerFor().handler(event);
    expect(iam.commandCalls(DetachRolePolicyCommand)).toHaveLength(0);
    expect(exempt.status === 'processed' && exempt.decisions[0]).toMatchObject({ verdict: 'exempt', summary: 'role stratus-red-team-malicious-iam-role is tagged remediation:exempt: red-team exercise' });

    iam.reset();
    const failed = await handlerFor().handler(loadEvent('iam/AttachRolePolicy-failed-no-such-entity.json'));
    expect(iam.calls()).toHaveLength(0);
    expect(failed.status === 'processed' && failed.decisions[0]?.verdict).toBe('skipped');
  });

  it('detaches a customer-managed policy whose default version grants admin, read through chained lookups (GetPolicy, then GetPolicyVersion)', async () => {
    const event = loadEvent('iam/AttachRolePolicy-customer-managed-needs-lookup.json');
    const policyArn = requestString(event, 'policyArn');
    const roleName = requestString(event, 'roleName');
    iam.on(GetRoleCommand).resolves(getRole(roleName));
    iam.on(GetPolicyCommand).resolves({ Policy: { Arn: policyArn, DefaultVersionId: 'v4', Tags: [] } });
    iam.on(GetPolicyVersionCommand).resolves({
      PolicyVersion: { VersionId: 'v4', IsDefaultVersion: true, Document: encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] })) },
    });
    iam.on(ListAttachedRolePoliciesCommand).resolvesOnce(attachedPolicies(policyArn)).resolves(attachedPolicies());
    iam.on(DetachRolePolicyCommand).resolves({});
    const result = await handlerFor().handler(event);
    expect(iam.commandCalls(GetPolicyVersionCommand).map((call) => call.args[0].input)).toStrictEqual([{ PolicyArn: policyArn, VersionId: 'v4' }]);
    expect(iam.commandCalls(DetachRolePolicyCommand).map((call) => call.args[0].input)).toStrictEqual([{ RoleName: roleName, PolicyArn: policyArn }]);
    expect(result.status === 'processed' && result.decisions.find((d) => d.rule === 'iam-attached-admin-policy')?.outcome).toBe('applied');
  });
});
