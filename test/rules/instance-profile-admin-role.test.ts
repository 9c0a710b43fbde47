import {
  DescribeIamInstanceProfileAssociationsCommand,
  DescribeInstancesCommand,
  DisassociateIamInstanceProfileCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, GetPolicyCommand, GetPolicyVersionCommand, GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { InvocationResult } from '../../engine/lambda.js';
import type { Fact, Facts, Verdict } from '../../engine/types.js';
import { MAX_INLINE } from '../../remediations/instances/instance-profile-admin-role.js';
import { loadEvent } from '../helpers/fixtures.js';
import { familyHandler, ruleEvaluator } from '../helpers/rule-harness.js';

const ID = 'instance-profile-admin-role';
const evaluate = ruleEvaluator(ID);
const PROFILE_ARN = 'arn:aws:iam::111122223333:instance-profile/ml-notebook-admin';
const ROLE = 'ml-notebook-admin';
const ASSOCIATE = 'ec2/AssociateIamInstanceProfile-ml-notebook-admin.json';
const REPLACE = 'ec2/ReplaceIamInstanceProfileAssociation-ml-notebook-admin.json';
const RUN = 'ec2/RunInstances-instance-profile.json';

const ok = <T>(value: T): Fact<T> => ({ status: 'ok', value });
const ADMIN_POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
const READ_ONLY_POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::ml-data', 'arn:aws:s3:::ml-data/*'] }] });

/** The facts of a role with these attached policy ARNs and inline documents (read in full). */
function roleFacts(attached: string[], inline: Record<string, string> = {}, tags: Record<string, string> = {}): Facts {
  const names = Object.keys(inline);
  return {
    instanceProfile: ok({ arn: PROFILE_ARN, roleName: ROLE, tags }),
    roleAttachedPolicies: ok({ names: attached, truncated: false }),
    roleInlinePolicies: ok({ names, truncated: false }),
    ...Object.fromEntries(names.slice(0, MAX_INLINE).map((name, index) => [`roleInlinePolicy${index + 1}`, ok({ name, document: inline[name] })])),
  };
}

function violation(verdict: Verdict): Extract<Verdict, { kind: 'violation' }> {
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

describe(ID, () => {
  describe('evaluate', () => {
    it('finds AdministratorAccess on the role of the associated profile, and plans to take exactly that association away; the undo gives the same profile back', () => {
      const verdict = violation(evaluate(loadEvent(ASSOCIATE), { facts: roleFacts(['arn:aws:iam::aws:policy/AdministratorAccess']) }));
      expect(verdict.findings.map((finding) => [finding.code, finding.severity])).toStrictEqual([['admin-managed-policy', 'critical']]);
      expect(verdict.resources).toStrictEqual(['i-0a1b2c3d4e5f60012']);
      expect(verdict.plan.map((step) => [step.service, step.operation, step.input])).toStrictEqual([
        ['ec2', 'DisassociateIamInstanceProfile', { AssociationId: 'iip-assoc-0e7736511a163c209' }],
      ]);
      expect(verdict.plan[0]?.undo).toMatchObject({
        service: 'ec2',
        operation: 'AssociateIamInstanceProfile',
        input: { InstanceId: 'i-0a1b2c3d4e5f60012', IamInstanceProfile: { Arn: PROFILE_ARN } },
      });
      expect(verdict.plan[0]?.precondition).toMatchObject({
        service: 'ec2',
        operation: 'DescribeIamInstanceProfileAssociations',
        input: { AssociationIds: ['iip-assoc-0e7736511a163c209'] },
        expect: { associationId: 'iip-assoc-0e7736511a163c209', instanceId: 'i-0a1b2c3d4e5f60012', profileName: 'ml-notebook-admin' },
      });
    });

    it('analyses inline policies with the policy analyzer: Action * on * is full admin', () => {
      const verdict = violation(evaluate(loadEvent(REPLACE), { facts: roleFacts([], { 'notebook-all': ADMIN_POLICY }) }));
      expect(verdict.findings[0]?.code).toBe('full-admin');
      expect(verdict.findings[0]?.subject).toContain('role ml-notebook-admin, inline policy notebook-all');
      // A replace makes a new association: that one is taken away, not the one the request replaced.
      expect(verdict.plan[0]?.input).toStrictEqual({ AssociationId: 'iip-assoc-08049da59357d598c' });
    });

    it('is compliant for a role whose policies grant no admin, service-wide or escalation permission', () => {
      const verdict = evaluate(loadEvent(ASSOCIATE), { facts: roleFacts(['arn:aws:iam::aws:policy/AmazonSageMakerReadOnly'], { 'read-data': READ_ONLY_POLICY }) });
      expect(verdict.kind).toBe('compliant');
    });

    it('is compliant for RunInstances without an instance profile, and for a profile without a role', () => {
      expect(evaluate(loadEvent('ec2/RunInstances-imdsv2-required-compliant.json')).kind).toBe('compliant');
      expect(evaluate(loadEvent(RUN), { facts: { instanceProfile: ok({ arn: PROFILE_ARN, tags: {} }) } }).kind).toBe('compliant');
    });

    it('never passes a role it could not read: offline, a medium finding that says what was not read, and no plan', () => {
      const verdict = violation(evaluate(loadEvent(ASSOCIATE)));
      expect(verdict.findings.map((finding) => [finding.code, finding.severity])).toStrictEqual([['instance-role-not-inspected', 'medium']]);
      expect(verdict.summary).toContain('GetInstanceProfile was not looked up');
      expect(verdict.plan).toStrictEqual([]);
    });

    it('reports more inline policies than it reads as not inspected, even when those it read are clean', () => {
      const many = Object.fromEntries(Array.from({ length: MAX_INLINE + 1 }, (_, index) => [`p${index}`, READ_ONLY_POLICY]));
      const verdict = violation(evaluate(loadEvent(ASSOCIATE), { facts: roleFacts([], many) }));
      expect(verdict.findings[0]?.code).toBe('instance-role-not-inspected');
      expect(verdict.summary).toContain(`inline policy p${MAX_INLINE} was not read (only the first ${MAX_INLINE} are)`);
    });

    it('reads the association id of RunInstances from the lookup, and leaves a placeholder a person fills in without it', () => {
      const facts = roleFacts(['arn:aws:iam::aws:policy/IAMFullAccess']);
      const found = violation(evaluate(loadEvent(RUN), { facts: { ...facts, profileAssociations: ok({ 'i-0a1b2c3d4e5f60301': 'iip-assoc-0f1e2d3c4b5a69788' }) } }));
      expect(found.plan[0]?.input).toStrictEqual({ AssociationId: 'iip-assoc-0f1e2d3c4b5a69788' });
      const missing = violation(evaluate(loadEvent(RUN), { facts }));
      expect(missing.plan[0]?.input).toStrictEqual({
        AssociationId: { $unknown: 'the association id of instance i-0a1b2c3d4e5f60301 (aws ec2 describe-iam-instance-profile-associations --filters Name=instance-id,Values=i-0a1b2c3d4e5f60301)' },
      });
    });

    it('leaves an instance profile carrying the exemption tag alone, and says what the exemption let through', () => {
      const verdict = evaluate(loadEvent(ASSOCIATE), { facts: roleFacts(['arn:aws:iam::aws:policy/AdministratorAccess'], {}, { 'remediation:exempt': 'break-glass host SEC-12' }) });
      expect(verdict.kind).toBe('exempt');
      expect(verdict.kind === 'exempt' && verdict.findings?.map((finding) => finding.code)).toStrictEqual(['admin-managed-policy']);
    });

    it('skips a record that names no profile, with a severity (could not inspect)', () => {
      const event: CloudTrailEvent = loadEvent(ASSOCIATE);
      event.detail.requestParameters = { AssociateIamInstanceProfileRequest: { InstanceId: 'i-0a1b2c3d4e5f60012' } };
      event.detail.responseElements = null;
      expect(evaluate(event)).toMatchObject({ kind: 'skipped', severity: 'high' });
    });
  });

  describe('through the Lambda path, against the present state', () => {
    const ec2 = mockClient(EC2Client);
    const iamMock = mockClient(IAMClient);
    const sns = mockClient(SNSClient);
    const ASSOCIATION = { AssociationId: 'iip-assoc-0e7736511a163c209', InstanceId: 'i-0a1b2c3d4e5f60012', IamInstanceProfile: { Arn: PROFILE_ARN, Id: 'AIPAJBLK7RKJKWDXVHIEC' } };
    const decisionOf = (result: InvocationResult) => (result.status === 'processed' ? result.decisions.find((decision) => decision.rule === ID) : undefined);

    beforeEach(() => {
      ec2.reset();
      iamMock.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
      iamMock.on(GetInstanceProfileCommand).resolves({
        InstanceProfile: { InstanceProfileName: 'ml-notebook-admin', InstanceProfileId: 'AIPAJBLK7RKJKWDXVHIEC', Arn: PROFILE_ARN, Path: '/', CreateDate: new Date(0), Roles: [{ RoleName: ROLE, RoleId: 'AROAEXAMPLE', Arn: `arn:aws:iam::111122223333:role/${ROLE}`, Path: '/', CreateDate: new Date(0) }] },
      });
      iamMock.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'ml-admin', PolicyArn: 'arn:aws:iam::111122223333:policy/ml-admin' }], IsTruncated: false });
      iamMock.on(ListRolePoliciesCommand).resolves({ PolicyNames: [], IsTruncated: false });
      iamMock.on(GetPolicyCommand).resolves({ Policy: { DefaultVersionId: 'v3' } });
      iamMock.on(GetPolicyVersionCommand).resolves({ PolicyVersion: { VersionId: 'v3', Document: encodeURIComponent(ADMIN_POLICY) } });
      ec2.on(DisassociateIamInstanceProfileCommand).resolves({});
    });

    it('reads the role through the profile, then takes the association away between a read before (still the profile) and a read after (disassociating)', async () => {
      ec2
        .on(DescribeIamInstanceProfileAssociationsCommand)
        .resolvesOnce({ IamInstanceProfileAssociations: [{ ...ASSOCIATION, State: 'associated' }] })
        .resolves({ IamInstanceProfileAssociations: [{ ...ASSOCIATION, State: 'disassociating' }] });
      const { handler } = familyHandler('instances', { modes: { [ID]: 'remediate' } });
      const result = await handler(loadEvent(ASSOCIATE));
      expect(iamMock.commandCalls(GetInstanceProfileCommand).map((call) => call.args[0].input)).toStrictEqual([{ InstanceProfileName: 'ml-notebook-admin' }]);
      expect(iamMock.commandCalls(ListAttachedRolePoliciesCommand).map((call) => call.args[0].input)).toStrictEqual([{ RoleName: ROLE, MaxItems: 100 }]);
      expect(iamMock.commandCalls(GetPolicyVersionCommand).map((call) => call.args[0].input)).toStrictEqual([{ PolicyArn: 'arn:aws:iam::111122223333:policy/ml-admin', VersionId: 'v3' }]);
      expect(iamMock.commandCalls(GetRolePolicyCommand)).toHaveLength(0);
      expect(ec2.commandCalls(DisassociateIamInstanceProfileCommand).map((call) => call.args[0].input)).toStrictEqual([{ AssociationId: 'iip-assoc-0e7736511a163c209' }]);
      expect(ec2.commandCalls(DescribeIamInstanceProfileAssociationsCommand).map((call) => call.args[0].input)).toStrictEqual([
        { AssociationIds: ['iip-assoc-0e7736511a163c209'] },
        { AssociationIds: ['iip-assoc-0e7736511a163c209'] },
      ]);
      expect(decisionOf(result)).toMatchObject({ verdict: 'violation', outcome: 'applied' });
    });

    it('writes nothing when the association now holds another profile: stale', async () => {
      ec2.on(DescribeIamInstanceProfileAssociationsCommand).resolves({
        IamInstanceProfileAssociations: [{ ...ASSOCIATION, IamInstanceProfile: { Arn: 'arn:aws:iam::111122223333:instance-profile/notebook-least-privilege' }, State: 'associated' }],
      });
      const { handler } = familyHandler('instances', { modes: { [ID]: 'remediate' } });
      const result = await handler(loadEvent(ASSOCIATE));
      expect(ec2.commandCalls(DisassociateIamInstanceProfileCommand)).toHaveLength(0);
      expect(decisionOf(result)?.outcome).toBe('stale');
    });

    it('counts an association already gone (InvalidAssociationID.NotFound) as already fixed, with no write', async () => {
      ec2.on(DescribeIamInstanceProfileAssociationsCommand).rejects(new EC2ServiceException({ name: 'InvalidAssociationID.NotFound', $fault: 'client', $metadata: {}, message: 'not found' }));
      const { handler } = familyHandler('instances', { modes: { [ID]: 'remediate' } });
      const result = await handler(loadEvent(ASSOCIATE));
      expect(ec2.commandCalls(DisassociateIamInstanceProfileCommand)).toHaveLength(0);
      expect(decisionOf(result)?.outcome).toBe('already-fixed');
    });

    it('only alerts by default (notify): no read of the association, no write', async () => {
      const { handler } = familyHandler('instances');
      const result = await handler(loadEvent(ASSOCIATE));
      expect(ec2.commandCalls(DescribeIamInstanceProfileAssociationsCommand)).toHaveLength(0);
      expect(ec2.commandCalls(DisassociateIamInstanceProfileCommand)).toHaveLength(0);
      expect(decisionOf(result)).toMatchObject({ verdict: 'violation', outcome: 'notified' });
    });

    it('never acts on a failed call', async () => {
      const { handler } = familyHandler('instances', { modes: { [ID]: 'remediate' } });
      await handler(loadEvent('ec2/AssociateIamInstanceProfile-failed-pass-role-denied.json'));
      expect(iamMock.calls()).toHaveLength(0);
      expect(ec2.commandCalls(DisassociateIamInstanceProfileCommand)).toHaveLength(0);
    });
  });
});
