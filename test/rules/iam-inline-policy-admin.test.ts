import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide } from '../../engine/decide.js';
import { sameDocument } from '../../remediations/iam/common.js';
import { iamRules } from '../../remediations/iam/index.js';
import { INLINE_POLICY_PROBES } from '../../remediations/iam/probes.js';
import { loadEvent } from '../helpers/fixtures.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';
import { registeredRule } from '../helpers/registered.js';
import { ACCOUNT, NO_SUCH_ENTITY, ADMIN_DOCUMENT, SCOPED_DOCUMENT, BOT_ROLE, ok, role, request, compact, withRequest, violation, inlineCheck } from '../helpers/iam-rules.js';

const iamInlinePolicyAdmin = registeredRule('iam-inline-policy-admin');
const evaluate = ruleEvaluator('iam-inline-policy-admin');


describe('iam-inline-policy-admin', () => {
  describe('evaluate', () => {
    it('deletes an Allow * on * role policy while it still holds the event\'s document, and keeps it, compact, in the undo', () => {
      // Arrange
      const event = loadEvent('iam/PutRolePolicy-admin-star.json');
      const document = '{"Version":"2012-10-17","Statement":[{"Sid":"AdminAll","Effect":"Allow","Action":"*","Resource":"*"}]}';
      const check = inlineCheck('Role', 'ml-training-role', 'AllowEverything', document);
      // Act
      const verdict = evaluate(event);
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
            precondition: check,
            verification: check,
          },
        ],
      });
      expect(sameDocument(document, request(event, 'policyDocument'))).toBe(true);
    });

    it('deletes a user policy that allows everything but IAM through NotAction', () => {
      const event = loadEvent('iam/PutUserPolicy-notaction-allow.json');
      const verdict = violation(evaluate(event));
      const document = compact(request(event, 'policyDocument'));
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
            input: { UserName: 'ci-deployer', PolicyName: 'DeployAnything', PolicyDocument: document },
            reason: 'Put inline policy DeployAnything back on user ci-deployer exactly as it was.',
          },
          alreadyDoneCodes: NO_SUCH_ENTITY,
          precondition: inlineCheck('User', 'ci-deployer', 'DeployAnything', document),
          verification: inlineCheck('User', 'ci-deployer', 'DeployAnything', document),
        },
      ]);
    });

    it('deletes a group policy granting s3:* on every resource, a high finding in a critical rule', () => {
      const event = loadEvent('iam/PutGroupPolicy-s3-wildcard-all-resources.json');
      const verdict = violation(evaluate(event));
      const document = compact(request(event, 'policyDocument'));
      expect(verdict.findings.map((f) => f.severity)).toStrictEqual(['high']);
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
            input: { GroupName: 'data-scientists', PolicyName: 'S3Everything', PolicyDocument: document },
            reason: 'Put inline policy S3Everything back on group data-scientists exactly as it was.',
          },
          alreadyDoneCodes: NO_SUCH_ENTITY,
          precondition: inlineCheck('Group', 'data-scientists', 'S3Everything', document),
          verification: inlineCheck('Group', 'data-scientists', 'S3Everything', document),
        },
      ]);
    });

    it('reads a Statement object and reports PassRole on * and its RunInstances combination', () => {
      const verdict = violation(evaluate(loadEvent('iam/PutRolePolicy-statement-object-passrole-runinstances.json')));
      expect(verdict.findings.map((f) => [f.code, f.severity, f.subject])).toStrictEqual([
        ['passrole-wildcard', 'high', 'inline policy LaunchInstances, Statement 0 ("LaunchWithAnyRole")'],
        ['passrole-escalation', 'high', 'inline policy LaunchInstances, Statement 0 ("LaunchWithAnyRole")'],
      ]);
    });

    it('matches mixed-case actions and wildcards inside action names', () => {
      const verdict = violation(evaluate(loadEvent('iam/PutUserPolicy-mixed-case-wildcard-escalation.json')));
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
      expect(evaluate(loadEvent(name))).toStrictEqual({ kind: 'compliant', summary, resources: [summary.split(':')[0]] });
    });

    it('acts on findings a condition lowered when minSeverity is lowered', () => {
      const verdict = evaluate(loadEvent('iam/PutRolePolicy-s3-wildcard-vpce-condition-compliant.json'), {
        config: { rules: { 'iam-inline-policy-admin': { minSeverity: 'medium' } } },
      });
      const { findings } = violation(verdict);
      expect(findings[0]?.message).toContain('Lowered from high to medium because the grant only applies when the condition on aws:SourceVpce (StringEquals) holds.');
      expect(findings[0]?.severity).toBe('medium');
    });

    it('analyses a URL-encoded document and puts it back decoded and compact, as IAM accepts it', () => {
      const plain = request(loadEvent('iam/PutRolePolicy-admin-star.json'), 'policyDocument');
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: encodeURIComponent(plain) });
      const { plan } = violation(evaluate(event));
      expect(plan[0]?.undo?.input).toStrictEqual({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: compact(plain) });
    });

    it('analyses a document an export delivers as a JSON object, and puts it back as JSON text', () => {
      const plain = request(loadEvent('iam/PutRolePolicy-admin-star.json'), 'policyDocument');
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: JSON.parse(plain) as unknown });
      const verdict = violation(evaluate(event));
      expect(verdict.findings.map((f) => f.code)).toStrictEqual(['full-admin']);
      expect(verdict.plan[0]?.undo?.input['PolicyDocument']).toBe(compact(plain));
    });

    it('plans the delete whatever a lookup said of the policy: whether it is still there is read just before the delete', () => {
      const facts = { role: role('ml-training-role') };
      const verdict = violation(evaluate(loadEvent('iam/PutRolePolicy-admin-star.json'), { facts }));
      expect(verdict.plan.map((step) => [step.operation, step.precondition?.operation, step.verification?.operation])).toStrictEqual([['DeleteRolePolicy', 'GetRolePolicy', 'GetRolePolicy']]);
      expect(iamInlinePolicyAdmin.lookups.map((lookup) => lookup.operation)).toStrictEqual(['GetRole', 'GetUser']);
    });

    it('exempts a role carrying the exemption tag, and a user too, and says what the exemption let through', () => {
      const facts = { role: role('ml-training-role', { tags: { 'remediation:exempt': 'break-glass, SEC-42' } }) };
      const verdict = evaluate(loadEvent('iam/PutRolePolicy-admin-star.json'), { facts });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: 'role ml-training-role is tagged remediation:exempt: break-glass, SEC-42',
        resources: ['role ml-training-role'],
        findings: violation(evaluate(loadEvent('iam/PutRolePolicy-admin-star.json'))).findings,
      });
      const user = { user: ok({ arn: `arn:aws:iam::${ACCOUNT}:user/ci-deployer`, tags: { 'remediation:exempt': '' } }) };
      const exempt = evaluate(loadEvent('iam/PutUserPolicy-notaction-allow.json'), { facts: user });
      expect(exempt.kind === 'exempt' && exempt.findings?.map((f) => f.code)).toStrictEqual(['not-action-allow']);
    });

    it('never exempts a group: groups have no tags', () => {
      expect(evaluate(loadEvent('iam/PutGroupPolicy-s3-wildcard-all-resources.json'), { facts: { role: role('x', { tags: { 'remediation:exempt': 'no' } }) } }).kind).toBe('violation');
    });

    it.each([
      ['larger than IAM allows for a user', 'x'.repeat(3_000), 'too large'],
      ['nested deeper than any policy', `{"Statement":${'['.repeat(100)}${']'.repeat(100)}}`, 'nested more than 64 levels'],
      ['not JSON', 'Allow everything please', 'not valid JSON'],
      ['missing Resource', '{"Statement":{"Effect":"Allow","Action":"*"}}', 'neither Resource nor NotResource'],
    ])('skips a document %s with the analyzer reason, without throwing', (_, policyDocument, reason) => {
      const policy = policyDocument.startsWith('x') ? `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${policyDocument}"}]}` : policyDocument;
      const verdict = evaluate(withRequest('iam/PutUserPolicy-notaction-allow.json', { policyDocument: policy }));
      expect(verdict.kind).toBe('skipped');
      expect(verdict.kind === 'skipped' && verdict.reason).toContain(reason);
      expect(verdict.kind === 'skipped' && verdict.reason.length).toBeLessThan(700);
    });

    it('counts a document padded with whitespace by IAM\'s quota, which ignores whitespace: still a violation, with a compact undo', () => {
      const plain = request(loadEvent('iam/PutUserPolicy-notaction-allow.json'), 'policyDocument');
      // A user's inline quota is 2,048 characters; the padding alone is 100,000.
      const padded = plain.replace('"Sid"', `${' \n\t'.repeat(33_334)}"Sid"`);
      const verdict = violation(evaluate(withRequest('iam/PutUserPolicy-notaction-allow.json', { policyDocument: padded })));
      expect(padded.length).toBeGreaterThan(100_000);
      expect(verdict.findings.map((f) => f.code)).toStrictEqual(['not-action-allow']);
      expect(verdict.plan[0]?.undo?.input['PolicyDocument']).toBe(compact(plain));
    });

    it('cannot inspect an event without a document or names, and says so; a missing document is grave', () => {
      expect(evaluate(withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: undefined }))).toMatchObject({ kind: 'skipped', severity: 'high' });
      expect(evaluate(withRequest('iam/PutRolePolicy-admin-star.json', { roleName: undefined }))).toStrictEqual({
        kind: 'skipped',
        reason: 'the event names no role, user or group, or no policy name',
      });
    });

    it('cannot inspect a policy whose request parameters CloudTrail omitted: a high-severity skip that says why', () => {
      expect(evaluate(loadEvent('iam/PutRolePolicy-request-parameters-omitted.json'))).toStrictEqual({
        kind: 'skipped',
        severity: 'high',
        reason:
          "the inline policy this PutRolePolicy call put could not be inspected: CloudTrail omitted it (requestParameters too large, originally 131,059 characters), so neither the document nor the identity it went to is in the record. What it grants is unknown: a person must read it in IAM (a document padded past CloudTrail's size limit is a known way to hide a change)",
      });
      const cutField = withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: { omitted: true } });
      expect(evaluate(cutField)).toMatchObject({ kind: 'skipped', severity: 'high', resources: ['role ml-training-role'] });
    });

    it('never throws and never plans on compliant verdicts, whatever the document; an undo holds the same document without padding', () => {
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
        }).map((document) => JSON.stringify(document, null, 2)),
      );
      fc.assert(
        fc.property(documents, (policyDocument) => {
          const verdict = evaluate(withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument }));
          expect(['violation', 'compliant', 'skipped']).toContain(verdict.kind);
          if (verdict.kind === 'violation') {
            const restored = String(verdict.plan[0]?.undo?.input['PolicyDocument']);
            expect(sameDocument(restored, policyDocument)).toBe(true);
            expect(restored).toBe(JSON.stringify(JSON.parse(restored)));
          }
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('the read before and after the delete (probe)', () => {
    const probe = INLINE_POLICY_PROBES.role;
    const expectation = { identity: 'role ml-training-role', policyName: 'AllowEverything', document: ADMIN_DOCUMENT };

    it('finds the delete needed while the policy holds the event\'s document, whatever its whitespace or encoding', () => {
      const spaced = ADMIN_DOCUMENT.replace('{"Effect"', '{ "Effect"').replace(',"Statement"', ',\n  "Statement"');
      expect(probe.judge({ PolicyDocument: encodeURIComponent(spaced) }, expectation)).toStrictEqual({
        state: 'needed',
        evidence: 'inline policy AllowEverything of role ml-training-role still holds the document the event put',
      });
    });

    it('finds it done when IAM answers NoSuchEntity (the policy or the role is gone)', () => {
      expect(probe.judge(null, expectation)).toStrictEqual({
        state: 'done',
        evidence: 'inline policy AllowEverything of role ml-training-role no longer exists (NoSuchEntity: the policy or the role is gone)',
      });
    });

    it('finds it changed when the policy holds another document: set after this event, so nothing is deleted', () => {
      expect(probe.judge({ PolicyDocument: encodeURIComponent(SCOPED_DOCUMENT) }, expectation)).toStrictEqual({
        state: 'changed',
        evidence: 'inline policy AllowEverything of role ml-training-role now holds another document (set after this event): nothing deleted',
      });
    });
  });

  describe("the bot's own role", () => {
    const bot = role('remediation-bot-prod-us-east-1-iam', { path: '/remediation-bot/' });
    const botEvent = () => withRequest('iam/PutRolePolicy-admin-star.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });

    it('never suffers a remediation: a person is alerted instead (exempt), with what was opened', () => {
      const verdict = evaluate(botEvent(), { facts: { role: bot }, botRoles: [BOT_ROLE] });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: `${BOT_ROLE} is one of the bot's own roles: the bot never remediates itself, so a person must review this change; inline policy AllowEverything has full-admin (critical) in Statement 0 ("AdminAll")`,
        resources: ['role remediation-bot-prod-us-east-1-iam'],
        findings: violation(evaluate(botEvent(), { facts: { role: bot } })).findings,
      });
    });

    it('is recognised by the exact ARNs the deployment sets, whatever the path', () => {
      const facts = { role: role('security-bot', { path: '/ops/' }) };
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { roleName: 'security-bot' });
      expect(evaluate(event, { facts, botRoles: ['arn:aws:iam::111122223333:role/ops/security-bot'] }).kind).toBe('exempt');
      expect(evaluate(event, { facts }).kind).toBe('violation');
    });

    it('does not protect another role of the same name on another path, nor a role on the bot path that is not one of its roles', () => {
      expect(evaluate(botEvent(), { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
      const shadow = withRequest('iam/PutRolePolicy-admin-star.json', { roleName: 'shadow' });
      expect(evaluate(shadow, { facts: { role: role('shadow', { path: '/remediation-bot/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
    });

    it('never triggers the bot: its own calls are skipped before any lookup', async () => {
      const event = loadEvent('iam/PutRolePolicy-by-bot-itself-skipped.json');
      const config = parseConfig({}, iamRules);
      const lookups: string[] = [];
      const decision = await decide(event, iamInlinePolicyAdmin, {
        config,
        env: { BOT_PRINCIPALS: BOT_ROLE, BOT_SESSION_NAMES: 'remediation-bot-prod-iam' },
        now: NOW,
        facts: { fetch: async (lookup) => (lookups.push(lookup.name), { status: 'unavailable', reason: 'test' }) },
      });
      expect(decision.verdict).toStrictEqual({
        kind: 'skipped',
        reason: `the call was made by the bot itself (arn:aws:sts::111122223333:assumed-role/remediation-bot-prod-us-east-1-iam/remediation-bot-prod-iam)`,
        cause: 'own-call',
      });
      expect(lookups).toStrictEqual([]);
    });
  });
});
