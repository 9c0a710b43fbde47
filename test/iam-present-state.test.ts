/**
 * Issue 13, IAM part: the bot acts on the present and proves every fix.
 * Each scenario runs the Lambda path (lookups, plan, reads before and after
 * each write, undo record, alert) against the answers IAM gives, and fails on
 * the code before preconditions existed:
 * - a rollback to an earlier version that also grants admin (it used to set
 *   v1 as the default and report `applied`);
 * - AWSDenyAll attached before the bot acted (it used to report `applied` and
 *   record an undo that would detach an attachment the bot never made);
 * - an inline policy changed since the event (it used to skip in silence);
 * - a redelivery after the rollback (it used to say "nothing to roll back").
 */
import {
  AttachRolePolicyCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListPolicyVersionsCommand,
  SetDefaultPolicyVersionCommand,
} from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import type { UndoEntry, UndoRecord, UndoStore } from '../engine/undo-store.js';
import { iamRules } from '../remediations/iam/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { iamFamily } from '../remediations/iam/index.js';

const iamCommands = runtimeCommands(iamFamily);

const iam = mockClient(IAMClient);
const sns = mockClient(SNSClient);
const ACCOUNT = '111122223333';
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:remediation-bot-test-alerts`;
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/DevTeamPolicy`;
const DENY_ALL = 'arn:aws:iam::aws:policy/AWSDenyAll';
const ADMIN_V1 = '{"Version":"2012-10-17","Statement":[{"Sid":"LegacyAdmin","Effect":"Allow","Action":"*","Resource":"*"}]}';
const SCOPED = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';

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

function handlerFor(undoStore: UndoStore) {
  const config = parseConfig({ defaultMode: 'remediate' }, iamRules);
  return remediationHandler({
    rules: iamRules,
    commands: iamCommands,
    logger: recordingLogger(),
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-iam' },
    gateway: createAwsGateway(iamCommands, { region: 'us-east-1', maxAttempts: 1 }),
    undoStore,
  });
}

function alert(index = 0): { email: string; lambda: { decision: { severity: string } } } {
  const message = JSON.parse(String(sns.commandCalls(PublishCommand)[index]?.args[0].input.Message)) as Record<string, string>;
  return { email: message['email'] ?? '', lambda: JSON.parse(message['lambda'] ?? '{}') as { decision: { severity: string } } };
}

const commandNames = () => iam.calls().map((call) => call.args[0].constructor.name.replace(/Command$/, ''));
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

describe('iam rules act on the present (issue 13)', () => {
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
      const result = await handlerFor(undo)(v2MadeDefault());
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
      const result = await handlerFor(undo)(v2MadeDefault());
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
    iam.on(GetPolicyVersionCommand).resolves({ PolicyVersion: { VersionId: 'v1', IsDefaultVersion: true, Document: encodeURIComponent(SCOPED) } });
    const result = await handlerFor(undo)(loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json'));
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
    const result = await handlerFor(undo)(event);
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
    const result = await handlerFor(undo)(event);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
    expect(undo.entries.map(({ entry }) => entry.undo.map((s) => [s.operation, s.input]))).toStrictEqual([[['DetachRolePolicy', { RoleName: 'data-export-role', PolicyArn: DENY_ALL }]]]);
  });

  it('iam-inline-policy-admin: a policy that holds another document since the event is stale: nothing deleted, and the alert says what changed', async () => {
    const undo = memoryUndoStore();
    iam.on(GetRoleCommand).resolves({ Role: { Path: '/', RoleName: 'ml-training-role', RoleId: 'AROAEXAMPLEEXAMPLE01', Arn: `arn:aws:iam::${ACCOUNT}:role/ml-training-role`, CreateDate: new Date(), Tags: [] } });
    iam.on(GetRolePolicyCommand).resolves({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(SCOPED) });
    const result = await handlerFor(undo)(loadEvent('iam/PutRolePolicy-admin-star.json'));
    expect(iam.commandCalls(DeleteRolePolicyCommand)).toHaveLength(0);
    expect(commandNames()).toStrictEqual(['GetRole', 'GetRolePolicy']);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'violation', outcome: 'stale', execution: 'stale' });
    expect(undo.entries).toStrictEqual([]);
    expect(alert().email).toContain('inline policy AllowEverything of role ml-training-role now holds another document (set after this event): nothing deleted');
  });
});
