import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import type { Fact, Facts, Rule, Verdict } from '../engine/types.js';
import { iamAttachedAdminPolicy } from '../remediations/iam/iam-attached-admin-policy.js';
import { iamInlinePolicyAdmin } from '../remediations/iam/iam-inline-policy-admin.js';
import { earlierVersions, iamPolicyVersionAdmin } from '../remediations/iam/iam-policy-version-admin.js';
import { iamTrustPolicyOpen } from '../remediations/iam/iam-trust-policy-open.js';
import { iamRules } from '../remediations/iam/index.js';
import {
  managedPolicyDefaultVersionLookup,
  managedPolicyLookup,
  newDefaultVersionLookup,
  policyVersionsLookup,
  roleLookup,
  rolePolicyLookup,
} from '../remediations/iam/lookups.js';
import { loadEvent } from './helpers/fixtures.js';

const ACCOUNT = '111122223333';
const NOW = new Date('2025-03-10T14:00:00Z');
const NO_SUCH_ENTITY = ['NoSuchEntity', 'NoSuchEntityException'];
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/DevTeamPolicy`;
const ADMIN_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}';
const SCOPED_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';

interface EvaluateOptions {
  readonly facts?: Facts;
  readonly config?: unknown;
  readonly botPrincipals?: readonly string[];
}

function evaluate(rule: Rule, event: CloudTrailEvent, options: EvaluateOptions = {}): Verdict {
  const config = parseConfig(options.config ?? {}, iamRules);
  return rule.evaluate(event, options.facts ?? {}, {
    config,
    settings: config.rules[rule.id]?.settings,
    now: NOW,
    ...(options.botPrincipals && { botPrincipals: options.botPrincipals }),
  });
}

const ok = (value: unknown): Fact => ({ status: 'ok', value });
const gone: Fact = { status: 'ok', value: null };
const throttled: Fact = { status: 'unavailable', reason: 'GetRole failed: Throttling' };

function role(name: string, options: { path?: string; tags?: Record<string, string>; trustPolicy?: string } = {}): Fact {
  const path = options.path ?? '/';
  return ok({ arn: `arn:aws:iam::${ACCOUNT}:role${path}${name}`, path, tags: options.tags ?? {}, ...(options.trustPolicy !== undefined && { trustPolicy: options.trustPolicy }) });
}

function request(event: CloudTrailEvent, key: string): string {
  const value = event.detail.requestParameters?.[key];
  if (typeof value !== 'string') throw new Error(`fixture has no string requestParameters.${key}`);
  return value;
}

function withRequest(name: string, changes: Record<string, unknown>): CloudTrailEvent {
  const event = loadEvent(name);
  event.detail.requestParameters = { ...event.detail.requestParameters, ...changes };
  return event;
}

function violation(verdict: Verdict) {
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${verdict.kind === 'compliant' ? verdict.summary : verdict.reason}`);
  return verdict;
}

describe('iam-inline-policy-admin', () => {
  describe('evaluate', () => {
    it('deletes an Allow * on * role policy and keeps the full document in the undo', () => {
      // Arrange
      const event = loadEvent('iam/PutRolePolicy-admin-star.json');
      const document = request(event, 'policyDocument');
      // Act
      const verdict = evaluate(iamInlinePolicyAdmin, event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'role ml-training-role: inline policy AllowEverything grants full-admin (critical) in Statement 0 ("AdminAll")',
        resources: ['role ml-training-role'],
        findings: [
          {
            code: 'full-admin',
            severity: 'critical',
            message:
              'Statement 0 ("AdminAll") allows every action (*) on all resources: full administrator access. Offending statement: {"Sid":"AdminAll","Effect":"Allow","Action":"*","Resource":"*"}',
            subject: 'inline policy AllowEverything, Statement 0 ("AdminAll")',
          },
        ],
        plan: [
          {
            service: 'iam',
            operation: 'DeleteRolePolicy',
            input: { RoleName: 'ml-training-role', PolicyName: 'AllowEverything' },
            reason:
              'Delete inline policy AllowEverything from role ml-training-role: it grants full-admin (critical) in Statement 0 ("AdminAll"). The full document is kept in the undo step.',
            undo: {
              service: 'iam',
              operation: 'PutRolePolicy',
              input: { RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: document },
              reason: 'Put inline policy AllowEverything back on role ml-training-role exactly as it was.',
            },
            alreadyDoneCodes: NO_SUCH_ENTITY,
          },
        ],
      });
    });

    it('deletes a user policy that allows everything but IAM through NotAction', () => {
      const event = loadEvent('iam/PutUserPolicy-notaction-allow.json');
      const verdict = violation(evaluate(iamInlinePolicyAdmin, event));
      expect(verdict.findings.map((f) => [f.code, f.severity])).toStrictEqual([['not-action-allow', 'critical']]);
      expect(verdict.plan).toStrictEqual([
        {
          service: 'iam',
          operation: 'DeleteUserPolicy',
          input: { UserName: 'ci-deployer', PolicyName: 'DeployAnything' },
          reason:
            'Delete inline policy DeployAnything from user ci-deployer: it grants not-action-allow (critical) in Statement 0 ("EverythingButIam"). The full document is kept in the undo step.',
          undo: {
            service: 'iam',
            operation: 'PutUserPolicy',
            input: { UserName: 'ci-deployer', PolicyName: 'DeployAnything', PolicyDocument: request(event, 'policyDocument') },
            reason: 'Put inline policy DeployAnything back on user ci-deployer exactly as it was.',
          },
          alreadyDoneCodes: NO_SUCH_ENTITY,
        },
      ]);
    });

    it('deletes a group policy granting s3:* on every resource', () => {
      const event = loadEvent('iam/PutGroupPolicy-s3-wildcard-all-resources.json');
      const verdict = violation(evaluate(iamInlinePolicyAdmin, event));
      expect(verdict.plan).toStrictEqual([
        {
          service: 'iam',
          operation: 'DeleteGroupPolicy',
          input: { GroupName: 'data-scientists', PolicyName: 'S3Everything' },
          reason:
            'Delete inline policy S3Everything from group data-scientists: it grants service-wildcard (high) in Statement 0. The full document is kept in the undo step.',
          undo: {
            service: 'iam',
            operation: 'PutGroupPolicy',
            input: { GroupName: 'data-scientists', PolicyName: 'S3Everything', PolicyDocument: request(event, 'policyDocument') },
            reason: 'Put inline policy S3Everything back on group data-scientists exactly as it was.',
          },
          alreadyDoneCodes: NO_SUCH_ENTITY,
        },
      ]);
    });

    it('reads a Statement object and reports PassRole on * and its RunInstances combination', () => {
      const verdict = violation(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-statement-object-passrole-runinstances.json')));
      expect(verdict.findings.map((f) => [f.code, f.severity, f.subject])).toStrictEqual([
        ['passrole-wildcard', 'high', 'inline policy LaunchInstances, Statement 0 ("LaunchWithAnyRole")'],
        ['passrole-escalation', 'high', 'inline policy LaunchInstances, Statement 0 ("LaunchWithAnyRole")'],
      ]);
    });

    it('matches mixed-case actions and wildcards inside action names', () => {
      const verdict = violation(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutUserPolicy-mixed-case-wildcard-escalation.json')));
      expect(verdict.findings).toHaveLength(1);
      expect(verdict.findings[0]?.code).toBe('privilege-escalation');
      expect(verdict.findings[0]?.message).toContain('iam:CreateAccessKey, iam:CreateLoginProfile, iam:UpdateLoginProfile');
    });

    it.each([
      ['iam/PutRolePolicy-scoped-training-data-compliant.json', 'role ml-training-role: inline policy TrainingDataAccess grants no admin, service-wide or escalation permission at or above high'],
      ['iam/PutUserPolicy-deny-all-compliant-panther.json', 'user test-user: inline policy TestUserDenyAll grants no admin, service-wide or escalation permission at or above high'],
      ['iam/PutGroupPolicy-read-only-describe-compliant.json', 'group observers: inline policy ReadOnlyObserve grants no admin, service-wide or escalation permission at or above high'],
      [
        'iam/PutRolePolicy-s3-wildcard-vpce-condition-compliant.json',
        'role etl-role: inline policy S3ViaEndpoint grants no admin, service-wide or escalation permission at or above high; below the high threshold: service-wildcard (medium) in Statement 0 ("S3ThroughEndpointOnly")',
      ],
    ])('finds %s compliant', (name, summary) => {
      expect(evaluate(iamInlinePolicyAdmin, loadEvent(name))).toStrictEqual({ kind: 'compliant', summary, resources: [summary.split(':')[0]] });
    });

    it('acts on findings a condition lowered when minSeverity is lowered', () => {
      const verdict = evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-s3-wildcard-vpce-condition-compliant.json'), {
        config: { rules: { 'iam-inline-policy-admin': { minSeverity: 'medium' } } },
      });
      const { findings } = violation(verdict);
      expect(findings[0]?.message).toContain('Lowered from high to medium because the grant only applies when the condition on aws:SourceVpce (StringEquals) holds.');
    });

    it('analyses a URL-encoded document and puts it back decoded, as IAM accepts it', () => {
      const plain = request(loadEvent('iam/PutRolePolicy-admin-star.json'), 'policyDocument');
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: encodeURIComponent(plain) });
      const { plan } = violation(evaluate(iamInlinePolicyAdmin, event));
      expect(plan[0]?.undo?.input).toStrictEqual({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: plain });
    });

    it('still deletes when GetRolePolicy returns the same document with other whitespace', () => {
      const facts = { role: role('ml-training-role'), rolePolicy: ok({ document: ADMIN_DOCUMENT.replace('{"Effect"', '{ "Sid": "AdminAll", "Effect"') }) };
      expect(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json'), { facts }).kind).toBe('violation');
    });

    it('leaves a policy that was changed again since the event alone', () => {
      const facts = { rolePolicy: ok({ document: SCOPED_DOCUMENT }) };
      expect(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json'), { facts })).toStrictEqual({
        kind: 'skipped',
        reason: 'inline policy AllowEverything on role ml-training-role has been changed since this event; its newer document is judged by its own event',
        resources: ['role ml-training-role'],
      });
    });

    it('skips a policy that is already gone', () => {
      expect(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json'), { facts: { rolePolicy: gone } })).toStrictEqual({
        kind: 'skipped',
        reason: 'inline policy AllowEverything no longer exists on role ml-training-role: nothing to remove',
        resources: ['role ml-training-role'],
      });
    });

    it('exempts a role carrying the exemption tag, and a user too', () => {
      const facts = { role: role('ml-training-role', { tags: { 'remediation:exempt': 'break-glass, SEC-42' } }) };
      expect(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json'), { facts })).toStrictEqual({
        kind: 'exempt',
        reason: 'role ml-training-role is tagged remediation:exempt: break-glass, SEC-42',
        resources: ['role ml-training-role'],
      });
      const user = { user: ok({ arn: `arn:aws:iam::${ACCOUNT}:user/ci-deployer`, tags: { 'remediation:exempt': '' } }) };
      expect(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutUserPolicy-notaction-allow.json'), { facts: user }).kind).toBe('exempt');
    });

    it('never exempts a group: groups have no tags', () => {
      expect(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutGroupPolicy-s3-wildcard-all-resources.json'), { facts: { role: role('x', { tags: { 'remediation:exempt': 'no' } }) } }).kind).toBe('violation');
    });

    it.each([
      ['larger than IAM allows for a user', 'x'.repeat(3_000), 'too large'],
      ['nested deeper than any policy', `{"Statement":${'['.repeat(100)}${']'.repeat(100)}}`, 'nested more than 64 levels'],
      ['not JSON', 'Allow everything please', 'not valid JSON'],
      ['missing Resource', '{"Statement":{"Effect":"Allow","Action":"*"}}', 'neither Resource nor NotResource'],
    ])('skips a document %s with the analyzer reason, without throwing', (_, policyDocument, reason) => {
      const policy = policyDocument.startsWith('x') ? `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${policyDocument}"}]}` : policyDocument;
      const verdict = evaluate(iamInlinePolicyAdmin, withRequest('iam/PutUserPolicy-notaction-allow.json', { policyDocument: policy }));
      expect(verdict.kind).toBe('skipped');
      expect(verdict.kind === 'skipped' && verdict.reason).toContain(reason);
      expect(verdict.kind === 'skipped' && verdict.reason.length).toBeLessThan(700);
    });

    it('skips an event without a document or names', () => {
      expect(evaluate(iamInlinePolicyAdmin, withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: undefined })).kind).toBe('skipped');
      expect(evaluate(iamInlinePolicyAdmin, withRequest('iam/PutRolePolicy-admin-star.json', { roleName: undefined }))).toStrictEqual({
        kind: 'skipped',
        reason: 'the event names no role, user or group, or no policy name',
      });
    });

    it('never throws and never plans on compliant verdicts, whatever the document', () => {
      const documents = fc.oneof(
        fc.string(),
        fc.json(),
        fc.record({
          Statement: fc.array(
            fc.record({
              Effect: fc.constantFrom('Allow', 'Deny'),
              Action: fc.oneof(fc.constantFrom('*', 's3:*', 'iam:PassRole', 'ec2:Describe*'), fc.array(fc.string(), { maxLength: 3 })),
              Resource: fc.oneof(fc.constantFrom('*', 'arn:aws:s3:::b/*'), fc.string()),
            }),
            { maxLength: 4 },
          ),
        }).map((document) => JSON.stringify(document)),
      );
      fc.assert(
        fc.property(documents, (policyDocument) => {
          const verdict = evaluate(iamInlinePolicyAdmin, withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument }));
          expect(['violation', 'compliant', 'skipped']).toContain(verdict.kind);
          if (verdict.kind === 'violation') expect(verdict.plan[0]?.undo?.input['PolicyDocument']).toBe(policyDocument);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe("the bot's own role", () => {
    const bot = role('remediation-bot-prod-us-east-1-iam', { path: '/remediation-bot/' });
    const botEvent = () => withRequest('iam/PutRolePolicy-admin-star.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });

    it('never suffers a remediation: a person is alerted instead (exempt)', () => {
      expect(evaluate(iamInlinePolicyAdmin, botEvent(), { facts: { role: bot } })).toStrictEqual({
        kind: 'exempt',
        reason:
          "arn:aws:iam::111122223333:role/remediation-bot/remediation-bot-prod-us-east-1-iam is the bot's own role (matches arn:aws:iam::*:role/remediation-bot/*): the bot never remediates itself, so a person must review this change; inline policy AllowEverything has full-admin (critical) in Statement 0 (\"AdminAll\")",
        resources: ['role remediation-bot-prod-us-east-1-iam'],
      });
    });

    it('is recognised by the BOT_PRINCIPALS the deployment sets', () => {
      const facts = { role: role('security-bot', { path: '/ops/' }) };
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { roleName: 'security-bot' });
      expect(evaluate(iamInlinePolicyAdmin, event, { facts, botPrincipals: ['arn:aws:iam::111122223333:role/ops/security-bot'] }).kind).toBe('exempt');
      expect(evaluate(iamInlinePolicyAdmin, event, { facts }).kind).toBe('violation');
    });

    it('does not protect another role of the same name outside the bot path', () => {
      const facts = { role: role('remediation-bot-prod-us-east-1-iam', { path: '/' }) };
      expect(evaluate(iamInlinePolicyAdmin, botEvent(), { facts }).kind).toBe('violation');
    });

    it('never triggers the bot: its own calls are skipped before any lookup', async () => {
      const event = loadEvent('iam/PutRolePolicy-by-bot-itself-skipped.json');
      const config = parseConfig({}, iamRules);
      const lookups: string[] = [];
      const decision = await decide(event, iamInlinePolicyAdmin, {
        config,
        env: {},
        now: NOW,
        facts: { fetch: async (lookup) => (lookups.push(lookup.name), { status: 'unavailable', reason: 'test' }) },
      });
      expect(decision.verdict).toStrictEqual({
        kind: 'skipped',
        reason: 'the call was made by the bot itself (arn:aws:iam::111122223333:role/remediation-bot/remediation-bot-prod-us-east-1-iam)',
      });
      expect(lookups).toStrictEqual([]);
    });
  });
});

describe('iam-attached-admin-policy', () => {
  describe('evaluate', () => {
    it('detaches AdministratorAccess from a role (genuine Stratus record)', () => {
      expect(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'role stratus-red-team-malicious-iam-role: attached AWS managed policy AdministratorAccess, which allows every action on every resource: full administrator access',
        resources: ['role stratus-red-team-malicious-iam-role'],
        findings: [
          {
            code: 'admin-managed-policy',
            severity: 'critical',
            message: 'AWS managed policy AdministratorAccess allows every action on every resource: full administrator access.',
            subject: 'arn:aws:iam::aws:policy/AdministratorAccess',
          },
        ],
        plan: [
          {
            service: 'iam',
            operation: 'DetachRolePolicy',
            input: { RoleName: 'stratus-red-team-malicious-iam-role', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
            reason:
              'Detach AdministratorAccess from role stratus-red-team-malicious-iam-role: it allows every action on every resource: full administrator access. The policy itself is not changed.',
            undo: {
              service: 'iam',
              operation: 'AttachRolePolicy',
              input: { RoleName: 'stratus-red-team-malicious-iam-role', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
              reason: 'Attach AdministratorAccess to role stratus-red-team-malicious-iam-role again.',
            },
            alreadyDoneCodes: NO_SUCH_ENTITY,
          },
        ],
      });
    });

    it.each([
      ['iam/AttachUserPolicy-IAMFullAccess.json', 'DetachUserPolicy', 'AttachUserPolicy', { UserName: 'ci-deployer', PolicyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }],
      ['iam/AttachGroupPolicy-PowerUserAccess.json', 'DetachGroupPolicy', 'AttachGroupPolicy', { GroupName: 'developers', PolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' }],
    ])('detaches the admin-equivalent policy of %s', (name, operation, undoOperation, input) => {
      const { plan } = violation(evaluate(iamAttachedAdminPolicy, loadEvent(name)));
      expect(plan.map((step) => [step.operation, step.input, step.undo?.operation, step.undo?.input])).toStrictEqual([[operation, input, undoOperation, input]]);
    });

    it.each([
      ['iam/AttachRolePolicy-ReadOnlyAccess-compliant.json', 'role auditor: AWS managed policy ReadOnlyAccess is not in the admin-equivalent list (AdministratorAccess, IAMFullAccess, PowerUserAccess)'],
      ['iam/AttachUserPolicy-AmazonS3ReadOnlyAccess-compliant.json', 'user analyst: AWS managed policy AmazonS3ReadOnlyAccess is not in the admin-equivalent list (AdministratorAccess, IAMFullAccess, PowerUserAccess)'],
      ['iam/AttachGroupPolicy-job-function-ViewOnlyAccess-compliant.json', 'group observers: AWS managed policy job-function/ViewOnlyAccess is not in the admin-equivalent list (AdministratorAccess, IAMFullAccess, PowerUserAccess)'],
    ])('finds %s compliant', (name, summary) => {
      expect(evaluate(iamAttachedAdminPolicy, loadEvent(name))).toStrictEqual({ kind: 'compliant', summary, resources: [summary.split(':')[0]] });
    });

    it('takes the admin list from the settings, path included and case-insensitively', () => {
      const config = { rules: { 'iam-attached-admin-policy': { adminPolicyNames: ['JOB-FUNCTION/viewonlyaccess'] } } };
      const verdict = violation(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachGroupPolicy-job-function-ViewOnlyAccess-compliant.json'), { config }));
      expect(verdict.findings[0]?.message).toBe('AWS managed policy job-function/ViewOnlyAccess is listed as admin-equivalent in the rule settings (adminPolicyNames).');
      expect(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'), { config }).kind).toBe('compliant');
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
        const verdict = violation(evaluate(iamAttachedAdminPolicy, event(), { facts: facts(ADMIN_DOCUMENT) }));
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
          },
        ]);
      });

      it('is compliant when its default version is scoped', () => {
        expect(evaluate(iamAttachedAdminPolicy, event(), { facts: facts(SCOPED_DOCUMENT) }).kind).toBe('compliant');
      });

      it('is skipped, saying why, when the default version cannot be read (offline)', () => {
        expect(evaluate(iamAttachedAdminPolicy, event(), { facts: { managedPolicy: { status: 'unavailable', reason: 'offline replay has no AWS access' } } })).toStrictEqual({
          kind: 'skipped',
          reason: 'the default version of customer-managed policy DataSciencePowerTools could not be read (offline replay has no AWS access), so what it grants is unknown',
          resources: ['role ml-training-role'],
        });
        expect(evaluate(iamAttachedAdminPolicy, event(), { facts: { managedPolicy: gone } }).kind).toBe('skipped');
      });

      it('chains its lookups: GetPolicy gives the version GetPolicyVersion reads', () => {
        expect(managedPolicyLookup.input(event())).toStrictEqual({ PolicyArn: arn });
        const input = managedPolicyDefaultVersionLookup.input as (e: CloudTrailEvent, f?: Facts) => unknown;
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

    it('skips a role that no longer exists, and exempts a tagged user', () => {
      expect(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'), { facts: { role: gone } }).kind).toBe('skipped');
      const facts = { user: ok({ arn: `arn:aws:iam::${ACCOUNT}:user/ci-deployer`, tags: { 'remediation:exempt': 'bootstrap user' } }) };
      expect(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachUserPolicy-IAMFullAccess.json'), { facts })).toStrictEqual({
        kind: 'exempt',
        reason: 'user ci-deployer is tagged remediation:exempt: bootstrap user',
        resources: ['user ci-deployer'],
      });
    });

    it("never detaches from the bot's own role, and does from any other", () => {
      const event = withRequest('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });
      const facts = (path: string) => ({ role: ok({ arn: `arn:aws:iam::609418236337:role${path}remediation-bot-prod-us-east-1-iam`, path, tags: {} }) });
      expect(evaluate(iamAttachedAdminPolicy, event, { facts: facts('/remediation-bot/') }).kind).toBe('exempt');
      expect(evaluate(iamAttachedAdminPolicy, event, { facts: facts('/') }).kind).toBe('violation');
    });
  });
});

describe('iam-policy-version-admin', () => {
  const created = () => loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json');
  const versions = (...list: [string, string, boolean?][]) =>
    ok({ versions: list.map(([versionId, createDate, isDefault]) => ({ versionId, isDefault: isDefault === true, createDate })) });
  const undoToV3 = { service: 'iam', operation: 'SetDefaultPolicyVersion', input: { PolicyArn: POLICY, VersionId: 'v3' }, reason: 'Make v3 the default version of DevTeamPolicy again.' };

  describe('earlierVersions', () => {
    const list = [
      { versionId: 'v1', isDefault: false, createDate: '2025-01-01T00:00:00.000Z' },
      { versionId: 'v2', isDefault: false, createDate: '2025-02-01T00:00:00.000Z' },
      { versionId: 'v3', isDefault: true, createDate: '2025-03-10T11:00:00.000Z' },
      { versionId: 'v4', isDefault: false, createDate: '2025-03-11T00:00:00.000Z' },
    ];

    it('for CreatePolicyVersion: versions created before the new one, newest first', () => {
      expect(earlierVersions(list, 'v3', 'CreatePolicyVersion', '2025-03-10T11:00:00Z').map((v) => v.versionId)).toStrictEqual(['v2', 'v1']);
    });

    it('for SetDefaultPolicyVersion: every other version that existed at the call', () => {
      expect(earlierVersions(list, 'v1', 'SetDefaultPolicyVersion', '2025-03-10T12:00:00Z').map((v) => v.versionId)).toStrictEqual(['v3', 'v2']);
    });

    it('orders by version number when IAM gives no dates', () => {
      const undated = [{ versionId: 'v9', isDefault: false }, { versionId: 'v10', isDefault: true }, { versionId: 'v11', isDefault: false }];
      expect(earlierVersions(undated, 'v11', 'CreatePolicyVersion', '2025-03-10T11:00:00Z').map((v) => v.versionId)).toStrictEqual(['v10', 'v9']);
    });
  });

  describe('evaluate', () => {
    it('rolls back to the only earlier version, which was therefore the default', () => {
      const facts = { managedPolicy: ok({ defaultVersionId: 'v3', tags: {} }), policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]) };
      expect(evaluate(iamPolicyVersionAdmin, created(), { facts })).toStrictEqual({
        kind: 'violation',
        summary: 'policy DevTeamPolicy v3 became the default and grants full-admin (critical) in Statement 0 ("AdminAll"); plan: roll back to v1, the default before it',
        resources: [POLICY],
        findings: [
          {
            code: 'full-admin',
            severity: 'critical',
            message:
              'Statement 0 ("AdminAll") allows every action (*) on all resources: full administrator access. Offending statement: {"Sid":"AdminAll","Effect":"Allow","Action":"*","Resource":"*"}',
            subject: 'policy DevTeamPolicy v3, Statement 0 ("AdminAll")',
          },
        ],
        plan: [
          {
            service: 'iam',
            operation: 'SetDefaultPolicyVersion',
            input: { PolicyArn: POLICY, VersionId: 'v1' },
            reason: 'Make v1 the default version of DevTeamPolicy again: it is the only version that existed before v3 became the default, so it was the default then. Version v3 is kept, not deleted.',
            undo: undoToV3,
          },
        ],
      });
    });

    it('only proposes the most recent earlier version when several exist', () => {
      const facts = { policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v2', '2025-02-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]) };
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts }));
      const step = {
        service: 'iam',
        operation: 'SetDefaultPolicyVersion',
        input: { PolicyArn: POLICY, VersionId: 'v2' },
        reason:
          'Make v2 the default version of DevTeamPolicy again: v2 is the most recently created of the versions that existed before (v2, v1); IAM does not record which of them was the default. Version v3 is kept, not deleted.',
        undo: undoToV3,
      };
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal).toStrictEqual([step]);
      expect(verdict.summary).toContain('proposal: roll back to v2, the most recent of 2 earlier versions (not applied: IAM does not record which was the default)');

      const applied = violation(evaluate(iamPolicyVersionAdmin, created(), { facts, config: { rules: { 'iam-policy-version-admin': { rollbackWhenAmbiguous: true } } } }));
      expect(applied.plan).toStrictEqual([step]);
      expect(applied.proposal).toBeUndefined();
    });

    it('proposes a rollback with a placeholder when the versions cannot be listed (offline)', () => {
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts: { policyVersions: { status: 'unavailable', reason: 'offline replay has no AWS access' } } }));
      expect(verdict.summary).toBe(
        'policy DevTeamPolicy v3 became the default and grants full-admin (critical) in Statement 0 ("AdminAll"); the previous default version is unknown because its versions could not be listed (offline replay has no AWS access), so no rollback can be planned; a person must pick the version',
      );
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal).toStrictEqual([
        {
          service: 'iam',
          operation: 'SetDefaultPolicyVersion',
          input: { PolicyArn: POLICY, VersionId: { $unknown: `the version of DevTeamPolicy that was the default before v3 (aws iam list-policy-versions --policy-arn ${POLICY})` } },
          reason: 'Make the previous default version of DevTeamPolicy the default again. Version v3 is kept, not deleted.',
          undo: undoToV3,
        },
      ]);
    });

    it('has nothing to roll back to when the violating version is the only one', () => {
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts: { policyVersions: versions(['v3', '2025-03-10T11:00:00.000Z', true]) } }));
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal).toBeUndefined();
      expect(verdict.summary).toContain('no earlier version exists to roll back to, so a person must create a compliant version or detach the policy');
    });

    it('leaves the policy alone when its default changed again since the event', () => {
      const facts = { policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z'], ['v4', '2025-03-10T11:30:00.000Z', true]) };
      expect(evaluate(iamPolicyVersionAdmin, created(), { facts })).toStrictEqual({
        kind: 'skipped',
        reason: 'v3 is no longer the default version of DevTeamPolicy (v4 is): nothing to roll back',
        resources: [POLICY],
      });
    });

    it('is compliant for a version not set as default, or a scoped one', () => {
      expect(evaluate(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-admin-not-default-compliant.json')).kind).toBe('compliant');
      expect(evaluate(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-scoped-default-compliant.json')).kind).toBe('compliant');
      expect(evaluate(iamPolicyVersionAdmin, withRequest('iam/CreatePolicyVersion-admin-not-default-compliant.json', { setAsDefault: 'true' })).kind).toBe('violation');
    });

    it('exempts a policy carrying the exemption tag', () => {
      const facts = { managedPolicy: ok({ defaultVersionId: 'v3', tags: { 'remediation:exempt': 'platform admin policy' } }) };
      expect(evaluate(iamPolicyVersionAdmin, created(), { facts })).toStrictEqual({
        kind: 'exempt',
        reason: 'policy DevTeamPolicy is tagged remediation:exempt: platform admin policy',
        resources: [POLICY],
      });
    });

    describe('SetDefaultPolicyVersion', () => {
      const event = () => loadEvent('iam/SetDefaultPolicyVersion-needs-lookup.json');

      it('reads the new default through GetPolicyVersion and rolls back to the only other version that existed at the call', () => {
        expect(newDefaultVersionLookup.input(event())).toStrictEqual({ PolicyArn: POLICY, VersionId: 'v2' });
        const facts = {
          newDefaultVersion: ok({ versionId: 'v2', document: ADMIN_DOCUMENT }),
          // v5 was created after the call: it cannot have been the default before it.
          policyVersions: versions(['v2', '2025-01-01T00:00:00.000Z', true], ['v4', '2025-03-01T00:00:00.000Z'], ['v5', '2025-03-10T12:00:00.000Z']),
        };
        const verdict = violation(evaluate(iamPolicyVersionAdmin, event(), { facts }));
        expect(verdict.plan).toStrictEqual([
          {
            service: 'iam',
            operation: 'SetDefaultPolicyVersion',
            input: { PolicyArn: POLICY, VersionId: 'v4' },
            reason: 'Make v4 the default version of DevTeamPolicy again: it is the only version that existed before v2 became the default, so it was the default then. Version v2 is kept, not deleted.',
            undo: { service: 'iam', operation: 'SetDefaultPolicyVersion', input: { PolicyArn: POLICY, VersionId: 'v2' }, reason: 'Make v2 the default version of DevTeamPolicy again.' },
          },
        ]);
      });

      it('is skipped, saying why, when the version cannot be read', () => {
        expect(evaluate(iamPolicyVersionAdmin, event())).toStrictEqual({
          kind: 'skipped',
          reason: 'version v2 of DevTeamPolicy could not be read (GetPolicyVersion was not looked up), so what it grants is unknown',
          resources: [POLICY],
        });
      });
    });

    it('lists versions with ISO dates from the SDK Date objects', () => {
      const output = { Versions: [{ VersionId: 'v1', IsDefaultVersion: true, CreateDate: new Date('2025-01-01T00:00:00Z') }, { VersionId: 'v2', IsDefaultVersion: false }] };
      expect(policyVersionsLookup.select(output)).toStrictEqual({
        versions: [
          { versionId: 'v1', isDefault: true, createDate: '2025-01-01T00:00:00.000Z' },
          { versionId: 'v2', isDefault: false },
        ],
      });
    });
  });
});

describe('iam-trust-policy-open', () => {
  const denyAll = (roleName: string, partition = 'aws') => {
    const input = { RoleName: roleName, PolicyArn: `arn:${partition}:iam::aws:policy/AWSDenyAll` };
    return {
      service: 'iam',
      operation: 'AttachRolePolicy',
      input,
      reason: `Attach AWSDenyAll to role ${roleName}, so whoever assumes it through the open trust policy can do nothing; the trust policy itself is left for a person (see the proposal). If IAM answers LimitExceeded, the role already has as many managed policies as its quota allows: detach one or apply the proposed trust policy by hand.`,
      undo: { service: 'iam', operation: 'DetachRolePolicy', input, reason: `Detach AWSDenyAll from role ${roleName} once its trust policy is fixed.` },
    };
  };

  describe('evaluate', () => {
    it('contains a role trusting Principal "*" and has no statement left to propose', () => {
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'role data-export-role: the trust policy has public-trust (critical) in Statement 0; plan: contain the role with AWSDenyAll; every statement offends, so a person must write a restricted trust policy',
        resources: ['role data-export-role'],
        findings: [
          {
            code: 'public-trust',
            severity: 'critical',
            message: 'Statement 0 lets any AWS principal in any account assume the role. Offending statement: {"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}',
            subject: 'trust policy, Statement 0',
          },
        ],
        plan: [denyAll('data-export-role')],
      });
    });

    it('proposes the trust policy without the public statement, keeping the service statement', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-public-aws-star-beside-service.json');
      const verdict = violation(evaluate(iamTrustPolicyOpen, event));
      expect(verdict.plan).toStrictEqual([denyAll('report-builder')]);
      expect(verdict.proposal).toStrictEqual([
        {
          service: 'iam',
          operation: 'UpdateAssumeRolePolicy',
          input: {
            RoleName: 'report-builder',
            PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Sid":"LambdaService","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
          },
          reason: 'PROPOSAL, not applied: replace the trust policy of role report-builder with the same document minus statement 1. Review it, then detach AWSDenyAll.',
          undo: {
            service: 'iam',
            operation: 'UpdateAssumeRolePolicy',
            input: { RoleName: 'report-builder', PolicyDocument: request(event, 'policyDocument') },
            reason: 'Restore the trust policy of role report-builder as the event set it.',
          },
        },
      ]);
    });

    it('flags a backdoor account without an external id (genuine Stratus record), unless the account is trusted', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-external-account-stratus-genuine.json');
      const verdict = violation(evaluate(iamTrustPolicyOpen, event));
      expect(verdict.findings.map((f) => [f.code, f.severity, f.subject])).toStrictEqual([['untrusted-account', 'high', 'trust policy, Statement 1']]);
      expect(verdict.proposal?.[0]?.input).toStrictEqual({
        RoleName: 'stratus-red-team-backdoor-r-role',
        PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
      });
      expect(evaluate(iamTrustPolicyOpen, event, { config: { trustedAccounts: ['193672423079'] } }).kind).toBe('compliant');
    });

    it('reads CreateRole from the URL-encoded response when the request lacks the document', () => {
      const event = loadEvent('iam/CreateRole-external-account-stratus-genuine-urlencoded.json');
      const fromRequest = violation(evaluate(iamTrustPolicyOpen, event));
      const responseOnly = withRequest('iam/CreateRole-external-account-stratus-genuine-urlencoded.json', { assumeRolePolicyDocument: undefined });
      const fromResponse = violation(evaluate(iamTrustPolicyOpen, responseOnly));
      expect(fromResponse.findings).toStrictEqual(fromRequest.findings);
      expect(fromResponse.plan).toStrictEqual([denyAll('stratus-red-team-malicious-iam-role')]);
    });

    it.each([
      ['iam/UpdateAssumeRolePolicy-external-account-externalid-compliant.json'],
      ['iam/UpdateAssumeRolePolicy-github-oidc-repo-sub-compliant.json'],
      ['iam/UpdateAssumeRolePolicy-statement-object-service-compliant.json'],
      ['iam/CreateRole-lambda-service-compliant.json'],
    ])('finds %s compliant', (name) => {
      expect(evaluate(iamTrustPolicyOpen, loadEvent(name)).kind).toBe('compliant');
    });

    it('flags GitHub Actions OIDC without a sub condition as critical', () => {
      const verdict = violation(evaluate(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-github-oidc-no-sub.json')));
      expect(verdict.findings.map((f) => [f.code, f.severity])).toStrictEqual([['web-identity-no-sub', 'critical']]);
      expect(verdict.findings[0]?.message).toContain('a workflow in any GitHub repository can assume the role');
    });

    it('exempts by the tags CreateRole carries, even offline, and by GetRole tags', () => {
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/CreateRole-github-oidc-no-sub-exempt-tag.json'))).toStrictEqual({
        kind: 'exempt',
        reason: 'role sandbox-github-experiments is tagged remediation:exempt: sandbox account experiment, ticket SEC-1234',
        resources: ['role sandbox-github-experiments'],
      });
      const facts = { role: role('github-deploy', { tags: { 'remediation:exempt': 'migration' } }) };
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-github-oidc-no-sub.json'), { facts }).kind).toBe('exempt');
    });

    it('trusts the current tags over the creation request: a removed exemption tag no longer exempts', () => {
      const facts = { role: role('sandbox-github-experiments', { tags: {} }) };
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/CreateRole-github-oidc-no-sub-exempt-tag.json'), { facts }).kind).toBe('violation');
    });

    it('leaves a trust policy that changed again since the event alone, and ignores encoding differences', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
      const changed = { role: role('data-export-role', { trustPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}' }) };
      expect(evaluate(iamTrustPolicyOpen, event, { facts: changed }).kind).toBe('skipped');
      const selected = roleLookup.select({ Role: { RoleName: 'data-export-role', Arn: `arn:aws:iam::${ACCOUNT}:role/data-export-role`, Path: '/', AssumeRolePolicyDocument: encodeURIComponent(request(event, 'policyDocument')) } });
      expect(evaluate(iamTrustPolicyOpen, event, { facts: { role: ok(selected) } }).kind).toBe('violation');
    });

    it('uses the partition of the event for AWSDenyAll', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
      event.detail.userIdentity = { type: 'IAMUser', arn: 'arn:aws-cn:iam::111122223333:user/alice', accountId: ACCOUNT };
      expect(violation(evaluate(iamTrustPolicyOpen, event)).plan).toStrictEqual([denyAll('data-export-role', 'aws-cn')]);
    });

    it('skips a trust policy larger than IAM accepts, without throwing', () => {
      const huge = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: Array.from({ length: 200 }, (_, i) => `arn:aws:iam::${String(i).padStart(12, '0')}:root`) }, Action: 'sts:AssumeRole' }] });
      const verdict = evaluate(iamTrustPolicyOpen, withRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json', { policyDocument: huge }));
      expect(verdict.kind).toBe('skipped');
      expect(verdict.kind === 'skipped' && verdict.reason).toContain('too large');
    });
  });

  describe("the bot's own role", () => {
    it('is exempt when created at the bot path with an open trust policy (path from the CreateRole response)', () => {
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/CreateRole-bot-own-role-public-trust-exempt.json'))).toStrictEqual({
        kind: 'exempt',
        reason:
          "arn:aws:iam::111122223333:role/remediation-bot/remediation-bot-prod-us-east-1-iam is the bot's own role (matches arn:aws:iam::*:role/remediation-bot/*): the bot never remediates itself, so a person must review this change; its trust policy has public-trust (critical) in Statement 0",
        resources: ['role remediation-bot-prod-us-east-1-iam'],
      });
    });

    it('is recognised through GetRole for UpdateAssumeRolePolicy, and only at the bot path', () => {
      const event = withRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });
      expect(evaluate(iamTrustPolicyOpen, event, { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/remediation-bot/' }) } }).kind).toBe('exempt');
      expect(evaluate(iamTrustPolicyOpen, event, { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/' }) } }).kind).toBe('violation');
      // Without GetRole the path is unknown; the role is then judged as any other.
      expect(evaluate(iamTrustPolicyOpen, event, { facts: { role: throttled } }).kind).toBe('violation');
    });
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

  it('reads role policy lookups for the right identity kind only', () => {
    expect(rolePolicyLookup.input(loadEvent('iam/PutRolePolicy-admin-star.json'))).toStrictEqual({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything' });
    expect(rolePolicyLookup.input(loadEvent('iam/PutUserPolicy-notaction-allow.json'))).toBeUndefined();
  });
});
