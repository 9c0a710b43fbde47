import { describe, expect, it } from 'vitest';
import type { Facts } from '../../engine/types.js';
import { managedPolicyDefaultVersionLookup, managedPolicyLookup } from '../../remediations/iam/lookups.js';
import { ATTACHMENT_PROBES } from '../../remediations/iam/probes.js';
import { loadEvent } from '../helpers/fixtures.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';
import { ACCOUNT, NO_SUCH_ENTITY, ADMIN_DOCUMENT, SCOPED_DOCUMENT, BOT_ROLE, ok, gone, role, withRequest, violation, attachmentCheck } from '../helpers/iam-rules.js';

const evaluate = ruleEvaluator('iam-attached-admin-policy');


describe('iam-attached-admin-policy', () => {
  const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

  describe('evaluate', () => {
    it('detaches AdministratorAccess from a role (genuine Stratus record) while it is attached, and reads the attachments again afterwards', () => {
      const check = attachmentCheck('Role', 'stratus-red-team-malicious-iam-role', ADMIN, 'detached');
      expect(evaluate(loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'role stratus-red-team-malicious-iam-role: attached AWS managed policy AdministratorAccess, which allows every action on every resource: full administrator access',
        resources: ['role stratus-red-team-malicious-iam-role'],
        findings: [
          {
            code: 'admin-managed-policy',
            severity: 'critical',
            message: 'AWS managed policy AdministratorAccess allows every action on every resource: full administrator access.',
            subject: ADMIN,
          },
        ],
        plan: [
          {
            service: 'iam',
            operation: 'DetachRolePolicy',
            input: { RoleName: 'stratus-red-team-malicious-iam-role', PolicyArn: ADMIN },
            reason:
              'Detach AdministratorAccess from role stratus-red-team-malicious-iam-role: it allows every action on every resource: full administrator access. The policy itself is not changed.',
            undo: {
              service: 'iam',
              operation: 'AttachRolePolicy',
              input: { RoleName: 'stratus-red-team-malicious-iam-role', PolicyArn: ADMIN },
              reason: 'Attach AdministratorAccess to role stratus-red-team-malicious-iam-role again.',
            },
            alreadyDoneCodes: NO_SUCH_ENTITY,
            precondition: check,
            verification: check,
          },
        ],
      });
    });

    it.each([
      ['iam/AttachUserPolicy-IAMFullAccess.json', 'User', 'ci-deployer', 'arn:aws:iam::aws:policy/IAMFullAccess', 'critical'],
      ['iam/AttachGroupPolicy-PowerUserAccess.json', 'Group', 'developers', 'arn:aws:iam::aws:policy/PowerUserAccess', 'high'],
    ] as const)('detaches the admin-equivalent policy of %s, with a finding of its own severity', (name, kind, identity, policyArn, severity) => {
      const verdict = violation(evaluate(loadEvent(name)));
      const input = { [`${kind}Name`]: identity, PolicyArn: policyArn };
      expect(verdict.findings.map((f) => f.severity)).toStrictEqual([severity]);
      expect(verdict.plan.map((step) => [step.operation, step.input, step.undo?.operation, step.undo?.input, step.precondition, step.verification])).toStrictEqual([
        [`Detach${kind}Policy`, input, `Attach${kind}Policy`, input, attachmentCheck(kind, identity, policyArn, 'detached'), attachmentCheck(kind, identity, policyArn, 'detached')],
      ]);
    });

    it.each([
      ['iam/AttachRolePolicy-ReadOnlyAccess-compliant.json', 'role auditor: AWS managed policy ReadOnlyAccess is not in the admin-equivalent list (AdministratorAccess, IAMFullAccess, PowerUserAccess)'],
      ['iam/AttachUserPolicy-AmazonS3ReadOnlyAccess-compliant.json', 'user analyst: AWS managed policy AmazonS3ReadOnlyAccess is not in the admin-equivalent list (AdministratorAccess, IAMFullAccess, PowerUserAccess)'],
      ['iam/AttachGroupPolicy-job-function-ViewOnlyAccess-compliant.json', 'group observers: AWS managed policy job-function/ViewOnlyAccess is not in the admin-equivalent list (AdministratorAccess, IAMFullAccess, PowerUserAccess)'],
    ])('finds %s compliant', (name, summary) => {
      expect(evaluate(loadEvent(name))).toStrictEqual({ kind: 'compliant', summary, resources: [summary.split(':')[0]] });
    });

    it('takes the admin list from the settings, path included and case-insensitively', () => {
      const config = { rules: { 'iam-attached-admin-policy': { adminPolicyNames: ['JOB-FUNCTION/viewonlyaccess'] } } };
      const verdict = violation(evaluate(loadEvent('iam/AttachGroupPolicy-job-function-ViewOnlyAccess-compliant.json'), { config }));
      expect(verdict.findings[0]?.message).toBe('AWS managed policy job-function/ViewOnlyAccess is listed as admin-equivalent in the rule settings (adminPolicyNames).');
      expect(verdict.findings[0]?.severity).toBe('critical');
      expect(evaluate(loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'), { config }).kind).toBe('compliant');
    });

    describe('a customer-managed policy', () => {
      const event = () => loadEvent('iam/AttachRolePolicy-customer-managed-needs-lookup.json');
      const arn = `arn:aws:iam::${ACCOUNT}:policy/DataSciencePowerTools`;
      const facts = (document: string): Facts => ({
        role: role('ml-training-role'),
        managedPolicy: ok({ defaultVersionId: 'v4', tags: {} }),
        managedPolicyDefaultVersion: ok({ versionId: 'v4', document }),
      });

      it('is analysed through its default version and detached when it grants admin', () => {
        const verdict = violation(evaluate(event(), { facts: facts(ADMIN_DOCUMENT) }));
        const check = attachmentCheck('Role', 'ml-training-role', arn, 'detached');
        expect(verdict.summary).toBe('role ml-training-role: attached customer-managed policy DataSciencePowerTools, which grants full-admin (critical) in Statement 0');
        expect(verdict.findings.map((f) => f.subject)).toStrictEqual(['policy DataSciencePowerTools v4, Statement 0']);
        expect(verdict.plan).toStrictEqual([
          {
            service: 'iam',
            operation: 'DetachRolePolicy',
            input: { RoleName: 'ml-training-role', PolicyArn: arn },
            reason: 'Detach DataSciencePowerTools from role ml-training-role: it grants full-admin (critical) in Statement 0. The policy itself is not changed.',
            undo: { service: 'iam', operation: 'AttachRolePolicy', input: { RoleName: 'ml-training-role', PolicyArn: arn }, reason: 'Attach DataSciencePowerTools to role ml-training-role again.' },
            alreadyDoneCodes: NO_SUCH_ENTITY,
            precondition: check,
            verification: check,
          },
        ]);
      });

      it('is compliant when its default version is scoped', () => {
        expect(evaluate(event(), { facts: facts(SCOPED_DOCUMENT) }).kind).toBe('compliant');
      });

      it('cannot be inspected when the default version cannot be read (offline): an alert that says why', () => {
        expect(evaluate(event(), { facts: { managedPolicy: { status: 'unavailable', reason: 'offline replay has no AWS access' } } })).toStrictEqual({
          kind: 'skipped',
          reason: 'the default version of customer-managed policy DataSciencePowerTools could not be read (offline replay has no AWS access), so what it grants is unknown',
          resources: ['role ml-training-role'],
        });
      });

      it('is a low-severity "could not inspect" when the policy is gone: IAM deletes only a policy attached to no one', () => {
        expect(evaluate(event(), { facts: { managedPolicy: gone } })).toStrictEqual({
          kind: 'skipped',
          severity: 'low',
          reason: `policy ${arn} no longer exists, so what it granted cannot be read; a deleted policy is attached to no one`,
          resources: ['role ml-training-role'],
        });
      });

      it('chains its lookups: GetPolicy gives the version GetPolicyVersion reads', () => {
        expect(managedPolicyLookup.input(event())).toStrictEqual({ PolicyArn: arn });
        const input = managedPolicyDefaultVersionLookup.input;
        expect(input(event(), { managedPolicy: ok({ defaultVersionId: 'v4', tags: {} }) })).toStrictEqual({ PolicyArn: arn, VersionId: 'v4' });
        expect(input(event())).toBeUndefined();
        expect(managedPolicyLookup.input(loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'))).toBeUndefined();
      });

      it('decodes the URL-encoded document GetPolicyVersion returns', () => {
        expect(managedPolicyDefaultVersionLookup.select({ PolicyVersion: { VersionId: 'v4', IsDefaultVersion: true, Document: encodeURIComponent(ADMIN_DOCUMENT) } })).toStrictEqual({
          versionId: 'v4',
          document: ADMIN_DOCUMENT,
        });
      });
    });

    it('plans the detach even when GetRole found no role (the read before the detach speaks of the present), and exempts a tagged user with its findings', () => {
      expect(evaluate(loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'), { facts: { role: gone } }).kind).toBe('violation');
      const facts = { user: ok({ arn: `arn:aws:iam::${ACCOUNT}:user/ci-deployer`, tags: { 'remediation:exempt': 'bootstrap user' } }) };
      expect(evaluate(loadEvent('iam/AttachUserPolicy-IAMFullAccess.json'), { facts })).toStrictEqual({
        kind: 'exempt',
        reason: 'user ci-deployer is tagged remediation:exempt: bootstrap user',
        resources: ['user ci-deployer'],
        findings: violation(evaluate(loadEvent('iam/AttachUserPolicy-IAMFullAccess.json'))).findings,
      });
    });

    it("never detaches from the bot's own role, and does from any other", () => {
      const event = withRequest('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });
      const facts = (path: string) => ({ role: ok({ arn: `arn:aws:iam::${ACCOUNT}:role${path}remediation-bot-prod-us-east-1-iam`, path, tags: {} }) });
      expect(evaluate(event, { facts: facts('/remediation-bot/'), botRoles: [BOT_ROLE] })).toMatchObject({ kind: 'exempt', findings: [{ code: 'admin-managed-policy' }] });
      expect(evaluate(event, { facts: facts('/'), botRoles: [BOT_ROLE] }).kind).toBe('violation');
    });
  });

  describe('the read before and after the detach (probe)', () => {
    const probe = ATTACHMENT_PROBES.role;
    const detached = { identity: 'role app', policyArn: ADMIN, goal: 'detached' };
    const attachedPolicies = (...arns: string[]) => ({ AttachedPolicies: arns.map((PolicyArn) => ({ PolicyArn, PolicyName: PolicyArn.split('/').at(-1) })), IsTruncated: false });

    it('finds the detach needed while the policy is attached, done once it is not or the role is gone', () => {
      expect(probe.judge(attachedPolicies('arn:aws:iam::aws:policy/ReadOnlyAccess', ADMIN), detached)).toStrictEqual({ state: 'needed', evidence: 'AdministratorAccess is still attached to role app' });
      expect(probe.judge(attachedPolicies('arn:aws:iam::aws:policy/ReadOnlyAccess'), detached)).toStrictEqual({ state: 'done', evidence: 'AdministratorAccess is not attached to role app' });
      expect(probe.judge(null, detached)).toStrictEqual({ state: 'done', evidence: 'role app no longer exists' });
    });

    it('refuses to judge a truncated page that does not show the policy (the read then counts as failed)', () => {
      expect(() => probe.judge({ AttachedPolicies: [], IsTruncated: true, Marker: 'm' }, detached)).toThrow('truncated');
    });
  });
});
