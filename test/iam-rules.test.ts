import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import type { Fact, Facts, Rule, StateCheck, Verdict } from '../engine/types.js';
import { sameDocument } from '../remediations/iam/common.js';
import { earlierVersions } from '../remediations/iam/iam-policy-version-admin.js';
import { iamRules } from '../remediations/iam/index.js';
import { managedPolicyDefaultVersionLookup, managedPolicyLookup, newDefaultVersionLookup, policyVersionsLookup, roleLookup } from '../remediations/iam/lookups.js';
import { ATTACHMENT_PROBES, INLINE_POLICY_PROBES, policyDefaultProbe, trustPolicyProbe } from '../remediations/iam/probes.js';
import { loadEvent } from './helpers/fixtures.js';
import { registeredRule } from './helpers/registered.js';

const iamAttachedAdminPolicy = registeredRule('iam-attached-admin-policy');
const iamInlinePolicyAdmin = registeredRule('iam-inline-policy-admin');
const iamPolicyVersionAdmin = registeredRule('iam-policy-version-admin');
const iamTrustPolicyOpen = registeredRule('iam-trust-policy-open');

const ACCOUNT = '111122223333';
const NOW = new Date('2025-03-10T14:00:00Z');
const NO_SUCH_ENTITY = ['NoSuchEntity', 'NoSuchEntityException'];
const POLICY = `arn:aws:iam::${ACCOUNT}:policy/DevTeamPolicy`;
const ADMIN_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}';
const SCOPED_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';
const BOT_ROLE = `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-iam`;

interface EvaluateOptions {
  readonly facts?: Facts;
  readonly config?: unknown;
  readonly botRoles?: readonly string[];
}

function evaluate(rule: Rule, event: CloudTrailEvent, options: EvaluateOptions = {}): Verdict {
  const config = parseConfig(options.config ?? {}, iamRules);
  return rule.evaluate(event, options.facts ?? {}, {
    config,
    settings: config.rules[rule.id]?.settings,
    now: NOW,
    ...(options.botRoles && { botRoles: options.botRoles }),
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

/** The document as JSON text without the whitespace between tokens, computed independently of the rules. */
function compact(text: string): string {
  return JSON.stringify(JSON.parse(text));
}

function withRequest(name: string, changes: Record<string, unknown>): CloudTrailEvent {
  const event = loadEvent(name);
  event.detail.requestParameters = { ...event.detail.requestParameters, ...changes };
  return event;
}

/** The request parameters as CloudTrail records them when they exceed its field size (Permiso; Elastic rule "AWS CloudTrail Log Evasion"). */
function omittedRequest(name: string): CloudTrailEvent {
  const event = loadEvent(name);
  event.detail.requestParameters = { reason: 'requestParameters too large', omitted: true, originalSize: 131059 };
  return event;
}

function violation(verdict: Verdict) {
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${verdict.kind === 'compliant' ? verdict.summary : verdict.reason}`);
  return verdict;
}

function inlineCheck(kind: 'Role' | 'User' | 'Group', name: string, policyName: string, document: string): StateCheck {
  return {
    service: 'iam',
    operation: `Get${kind}Policy`,
    input: { [`${kind}Name`]: name, PolicyName: policyName },
    probe: `${kind.toLowerCase()}InlinePolicy`,
    expect: { identity: `${kind.toLowerCase()} ${name}`, policyName, document },
    description: `inline policy ${policyName} of ${kind.toLowerCase()} ${name} still holds the document the event put`,
  };
}

function attachmentCheck(kind: 'Role' | 'User' | 'Group', name: string, policyArn: string, goal: 'attached' | 'detached'): StateCheck {
  const policy = policyArn.split(':policy/')[1];
  const who = `${kind.toLowerCase()} ${name}`;
  return {
    service: 'iam',
    operation: `ListAttached${kind}Policies`,
    input: { [`${kind}Name`]: name, MaxItems: 100 },
    probe: `${kind.toLowerCase()}Attachments`,
    expect: { identity: who, policyArn, goal },
    description: goal === 'detached' ? `${policy} is still attached to ${who}` : `${policy} is attached to ${who}`,
  };
}

describe('iam-inline-policy-admin', () => {
  describe('evaluate', () => {
    it('deletes an Allow * on * role policy while it still holds the event\'s document, and keeps it, compact, in the undo', () => {
      // Arrange
      const event = loadEvent('iam/PutRolePolicy-admin-star.json');
      const document = '{"Version":"2012-10-17","Statement":[{"Sid":"AdminAll","Effect":"Allow","Action":"*","Resource":"*"}]}';
      const check = inlineCheck('Role', 'ml-training-role', 'AllowEverything', document);
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
            precondition: check,
            verification: check,
          },
        ],
      });
      expect(sameDocument(document, request(event, 'policyDocument'))).toBe(true);
    });

    it('deletes a user policy that allows everything but IAM through NotAction', () => {
      const event = loadEvent('iam/PutUserPolicy-notaction-allow.json');
      const verdict = violation(evaluate(iamInlinePolicyAdmin, event));
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
      const verdict = violation(evaluate(iamInlinePolicyAdmin, event));
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
      expect(findings[0]?.severity).toBe('medium');
    });

    it('analyses a URL-encoded document and puts it back decoded and compact, as IAM accepts it', () => {
      const plain = request(loadEvent('iam/PutRolePolicy-admin-star.json'), 'policyDocument');
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: encodeURIComponent(plain) });
      const { plan } = violation(evaluate(iamInlinePolicyAdmin, event));
      expect(plan[0]?.undo?.input).toStrictEqual({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: compact(plain) });
    });

    it('analyses a document an export delivers as a JSON object, and puts it back as JSON text', () => {
      const plain = request(loadEvent('iam/PutRolePolicy-admin-star.json'), 'policyDocument');
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: JSON.parse(plain) as unknown });
      const verdict = violation(evaluate(iamInlinePolicyAdmin, event));
      expect(verdict.findings.map((f) => f.code)).toStrictEqual(['full-admin']);
      expect(verdict.plan[0]?.undo?.input['PolicyDocument']).toBe(compact(plain));
    });

    it('plans the delete whatever a lookup said of the policy: whether it is still there is read just before the delete', () => {
      const facts = { role: role('ml-training-role') };
      const verdict = violation(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json'), { facts }));
      expect(verdict.plan.map((step) => [step.operation, step.precondition?.operation, step.verification?.operation])).toStrictEqual([['DeleteRolePolicy', 'GetRolePolicy', 'GetRolePolicy']]);
      expect(iamInlinePolicyAdmin.lookups.map((lookup) => lookup.operation)).toStrictEqual(['GetRole', 'GetUser']);
    });

    it('exempts a role carrying the exemption tag, and a user too, and says what the exemption let through', () => {
      const facts = { role: role('ml-training-role', { tags: { 'remediation:exempt': 'break-glass, SEC-42' } }) };
      const verdict = evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json'), { facts });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: 'role ml-training-role is tagged remediation:exempt: break-glass, SEC-42',
        resources: ['role ml-training-role'],
        findings: violation(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-admin-star.json'))).findings,
      });
      const user = { user: ok({ arn: `arn:aws:iam::${ACCOUNT}:user/ci-deployer`, tags: { 'remediation:exempt': '' } }) };
      const exempt = evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutUserPolicy-notaction-allow.json'), { facts: user });
      expect(exempt.kind === 'exempt' && exempt.findings?.map((f) => f.code)).toStrictEqual(['not-action-allow']);
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

    it('counts a document padded with whitespace by IAM\'s quota, which ignores whitespace: still a violation, with a compact undo', () => {
      const plain = request(loadEvent('iam/PutUserPolicy-notaction-allow.json'), 'policyDocument');
      // A user's inline quota is 2,048 characters; the padding alone is 100,000.
      const padded = plain.replace('"Sid"', `${' \n\t'.repeat(33_334)}"Sid"`);
      const verdict = violation(evaluate(iamInlinePolicyAdmin, withRequest('iam/PutUserPolicy-notaction-allow.json', { policyDocument: padded })));
      expect(padded.length).toBeGreaterThan(100_000);
      expect(verdict.findings.map((f) => f.code)).toStrictEqual(['not-action-allow']);
      expect(verdict.plan[0]?.undo?.input['PolicyDocument']).toBe(compact(plain));
    });

    it('cannot inspect an event without a document or names, and says so; a missing document is grave', () => {
      expect(evaluate(iamInlinePolicyAdmin, withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: undefined }))).toMatchObject({ kind: 'skipped', severity: 'high' });
      expect(evaluate(iamInlinePolicyAdmin, withRequest('iam/PutRolePolicy-admin-star.json', { roleName: undefined }))).toStrictEqual({
        kind: 'skipped',
        reason: 'the event names no role, user or group, or no policy name',
      });
    });

    it('cannot inspect a policy whose request parameters CloudTrail omitted: a high-severity skip that says why', () => {
      expect(evaluate(iamInlinePolicyAdmin, loadEvent('iam/PutRolePolicy-request-parameters-omitted.json'))).toStrictEqual({
        kind: 'skipped',
        severity: 'high',
        reason:
          "the inline policy this PutRolePolicy call put could not be inspected: CloudTrail omitted it (requestParameters too large, originally 131,059 characters), so neither the document nor the identity it went to is in the record. What it grants is unknown: a person must read it in IAM (a document padded past CloudTrail's size limit is a known way to hide a change)",
      });
      const cutField = withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument: { omitted: true } });
      expect(evaluate(iamInlinePolicyAdmin, cutField)).toMatchObject({ kind: 'skipped', severity: 'high', resources: ['role ml-training-role'] });
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
          const verdict = evaluate(iamInlinePolicyAdmin, withRequest('iam/PutRolePolicy-admin-star.json', { policyDocument }));
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
      const verdict = evaluate(iamInlinePolicyAdmin, botEvent(), { facts: { role: bot }, botRoles: [BOT_ROLE] });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: `${BOT_ROLE} is one of the bot's own roles: the bot never remediates itself, so a person must review this change; inline policy AllowEverything has full-admin (critical) in Statement 0 ("AdminAll")`,
        resources: ['role remediation-bot-prod-us-east-1-iam'],
        findings: violation(evaluate(iamInlinePolicyAdmin, botEvent(), { facts: { role: bot } })).findings,
      });
    });

    it('is recognised by the exact ARNs the deployment sets, whatever the path', () => {
      const facts = { role: role('security-bot', { path: '/ops/' }) };
      const event = withRequest('iam/PutRolePolicy-admin-star.json', { roleName: 'security-bot' });
      expect(evaluate(iamInlinePolicyAdmin, event, { facts, botRoles: ['arn:aws:iam::111122223333:role/ops/security-bot'] }).kind).toBe('exempt');
      expect(evaluate(iamInlinePolicyAdmin, event, { facts }).kind).toBe('violation');
    });

    it('does not protect another role of the same name on another path, nor a role on the bot path that is not one of its roles', () => {
      expect(evaluate(iamInlinePolicyAdmin, botEvent(), { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
      const shadow = withRequest('iam/PutRolePolicy-admin-star.json', { roleName: 'shadow' });
      expect(evaluate(iamInlinePolicyAdmin, shadow, { facts: { role: role('shadow', { path: '/remediation-bot/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
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

describe('iam-attached-admin-policy', () => {
  const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

  describe('evaluate', () => {
    it('detaches AdministratorAccess from a role (genuine Stratus record) while it is attached, and reads the attachments again afterwards', () => {
      const check = attachmentCheck('Role', 'stratus-red-team-malicious-iam-role', ADMIN, 'detached');
      expect(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'))).toStrictEqual({
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
      const verdict = violation(evaluate(iamAttachedAdminPolicy, loadEvent(name)));
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
      expect(evaluate(iamAttachedAdminPolicy, loadEvent(name))).toStrictEqual({ kind: 'compliant', summary, resources: [summary.split(':')[0]] });
    });

    it('takes the admin list from the settings, path included and case-insensitively', () => {
      const config = { rules: { 'iam-attached-admin-policy': { adminPolicyNames: ['JOB-FUNCTION/viewonlyaccess'] } } };
      const verdict = violation(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachGroupPolicy-job-function-ViewOnlyAccess-compliant.json'), { config }));
      expect(verdict.findings[0]?.message).toBe('AWS managed policy job-function/ViewOnlyAccess is listed as admin-equivalent in the rule settings (adminPolicyNames).');
      expect(verdict.findings[0]?.severity).toBe('critical');
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
        expect(evaluate(iamAttachedAdminPolicy, event(), { facts: facts(SCOPED_DOCUMENT) }).kind).toBe('compliant');
      });

      it('cannot be inspected when the default version cannot be read (offline): an alert that says why', () => {
        expect(evaluate(iamAttachedAdminPolicy, event(), { facts: { managedPolicy: { status: 'unavailable', reason: 'offline replay has no AWS access' } } })).toStrictEqual({
          kind: 'skipped',
          reason: 'the default version of customer-managed policy DataSciencePowerTools could not be read (offline replay has no AWS access), so what it grants is unknown',
          resources: ['role ml-training-role'],
        });
      });

      it('is a low-severity "could not inspect" when the policy is gone: IAM deletes only a policy attached to no one', () => {
        expect(evaluate(iamAttachedAdminPolicy, event(), { facts: { managedPolicy: gone } })).toStrictEqual({
          kind: 'skipped',
          severity: 'low',
          reason: `policy ${arn} no longer exists, so what it granted cannot be read; a deleted policy is attached to no one`,
          resources: ['role ml-training-role'],
        });
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

    it('plans the detach even when GetRole found no role (the read before the detach speaks of the present), and exempts a tagged user with its findings', () => {
      expect(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json'), { facts: { role: gone } }).kind).toBe('violation');
      const facts = { user: ok({ arn: `arn:aws:iam::${ACCOUNT}:user/ci-deployer`, tags: { 'remediation:exempt': 'bootstrap user' } }) };
      expect(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachUserPolicy-IAMFullAccess.json'), { facts })).toStrictEqual({
        kind: 'exempt',
        reason: 'user ci-deployer is tagged remediation:exempt: bootstrap user',
        resources: ['user ci-deployer'],
        findings: violation(evaluate(iamAttachedAdminPolicy, loadEvent('iam/AttachUserPolicy-IAMFullAccess.json'))).findings,
      });
    });

    it("never detaches from the bot's own role, and does from any other", () => {
      const event = withRequest('iam/AttachRolePolicy-AdministratorAccess-stratus-genuine.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });
      const facts = (path: string) => ({ role: ok({ arn: `arn:aws:iam::${ACCOUNT}:role${path}remediation-bot-prod-us-east-1-iam`, path, tags: {} }) });
      expect(evaluate(iamAttachedAdminPolicy, event, { facts: facts('/remediation-bot/'), botRoles: [BOT_ROLE] })).toMatchObject({ kind: 'exempt', findings: [{ code: 'admin-managed-policy' }] });
      expect(evaluate(iamAttachedAdminPolicy, event, { facts: facts('/'), botRoles: [BOT_ROLE] }).kind).toBe('violation');
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

describe('iam-policy-version-admin', () => {
  const created = () => loadEvent('iam/CreatePolicyVersion-admin-set-as-default.json');
  const versions = (...list: [string, string, boolean?][]) =>
    ok({ versions: list.map(([versionId, createDate, isDefault]) => ({ versionId, isDefault: isDefault === true, createDate })) });
  const document = (versionId: string, text: string) => ok({ versionId, document: text });
  const undoToV3 = { service: 'iam', operation: 'SetDefaultPolicyVersion', input: { PolicyArn: POLICY, VersionId: 'v3' }, reason: 'Make v3 the default version of DevTeamPolicy again.' };
  const defaultCheck = (violating: string, target?: string): StateCheck => ({
    service: 'iam',
    operation: 'GetPolicy',
    input: { PolicyArn: POLICY },
    probe: 'policyDefaultVersion',
    expect: { policy: 'DevTeamPolicy', violating, ...(target !== undefined && { target }) },
    description: `${violating} is still the default version of DevTeamPolicy`,
  });
  const lookup = (name: string) => {
    const found = iamPolicyVersionAdmin.lookups.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no lookup ${name}`);
    return found;
  };
  const context = () => {
    const config = parseConfig({}, iamRules);
    return { config, settings: config.rules['iam-policy-version-admin']?.settings, now: NOW };
  };

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
    it('rolls back to the only earlier version once the analyzer finds it clean, only while the violating version is still the default', () => {
      const facts = {
        managedPolicy: ok({ defaultVersionId: 'v3', tags: {} }),
        policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]),
        earlierVersion1: document('v1', SCOPED_DOCUMENT),
      };
      expect(evaluate(iamPolicyVersionAdmin, created(), { facts })).toStrictEqual({
        kind: 'violation',
        summary: 'policy DevTeamPolicy v3 became the default and grants full-admin (critical) in Statement 0 ("AdminAll"); plan: roll back to v1, the default before it, which grants no admin',
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
            reason:
              'Make v1 the default version of DevTeamPolicy again: it is the only version that existed before v3 became the default, so it was the default then, and it grants nothing at or above high. Version v3 is kept, not deleted.',
            undo: undoToV3,
            precondition: defaultCheck('v3', 'v1'),
            verification: defaultCheck('v3', 'v1'),
          },
        ],
      });
    });

    it('never rolls back to an earlier version that also grants admin: it detaches the policy from every identity instead, and says why (issue 13)', () => {
      const facts = {
        managedPolicy: ok({ defaultVersionId: 'v3', tags: {} }),
        policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]),
        earlierVersion1: document('v1', ADMIN_DOCUMENT),
        policyEntities: ok({ roles: ['app-role'], users: ['alice'], groups: ['developers'], truncated: false }),
      };
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts }));
      const why = 'v3 of DevTeamPolicy is the default and grants admin, and every earlier version also grants admin: v1 full-admin (critical) in Statement 0';
      expect(verdict.summary).toBe(
        'policy DevTeamPolicy v3 became the default and grants full-admin (critical) in Statement 0 ("AdminAll"); every earlier version also grants admin: v1 full-admin (critical) in Statement 0, so it is not rolled back; plan: detach DevTeamPolicy from 3 identities (role app-role, user alice, group developers)',
      );
      expect(verdict.plan.map((step) => step.operation)).not.toContain('SetDefaultPolicyVersion');
      expect(verdict.plan).toStrictEqual(
        ([['Role', 'app-role'], ['User', 'alice'], ['Group', 'developers']] as const).map(([kind, name]) => ({
          service: 'iam',
          operation: `Detach${kind}Policy`,
          input: { [`${kind}Name`]: name, PolicyArn: POLICY },
          reason: `Detach DevTeamPolicy from ${kind.toLowerCase()} ${name}: ${why}. The policy and its versions are not changed.`,
          undo: { service: 'iam', operation: `Attach${kind}Policy`, input: { [`${kind}Name`]: name, PolicyArn: POLICY }, reason: `Attach DevTeamPolicy to ${kind.toLowerCase()} ${name} again.` },
          alreadyDoneCodes: NO_SUCH_ENTITY,
          precondition: defaultCheck('v3'),
          verification: attachmentCheck(kind, name, POLICY, 'detached'),
        })),
      );
    });

    it("contains when no earlier version exists, and never detaches from the bot's own role (matched by account and name)", () => {
      const facts = {
        policyVersions: versions(['v3', '2025-03-10T11:00:00.000Z', true]),
        policyEntities: ok({ roles: ['REMEDIATION-BOT-PROD-US-EAST-1-IAM', 'app-role'], users: [], groups: [], truncated: true }),
      };
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts, botRoles: [BOT_ROLE] }));
      expect(verdict.plan.map((step) => [step.operation, step.input])).toStrictEqual([['DetachRolePolicy', { RoleName: 'app-role', PolicyArn: POLICY }]]);
      expect(verdict.summary).toContain(
        "no earlier version exists to roll back to, so it is not rolled back; plan: detach DevTeamPolicy from 1 identity (role app-role) (never detached from the bot's own role REMEDIATION-BOT-PROD-US-EAST-1-IAM: a person must; ListEntitiesForPolicy has more than 1,000 identities to list: those beyond are not detached)",
      );
      const elsewhere = violation(evaluate(iamPolicyVersionAdmin, created(), { facts, botRoles: ['arn:aws:iam::444455556666:role/remediation-bot/remediation-bot-prod-us-east-1-iam'] }));
      expect(elsewhere.plan).toHaveLength(2);
    });

    it('says so when containment is needed but the identities cannot be listed, or none holds the policy', () => {
      const base = { policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]), earlierVersion1: document('v1', ADMIN_DOCUMENT) };
      const unlisted = violation(evaluate(iamPolicyVersionAdmin, created(), { facts: { ...base, policyEntities: throttled } }));
      expect(unlisted.plan).toStrictEqual([]);
      expect(unlisted.summary).toContain('and the identities it is attached to could not be listed (GetRole failed: Throttling): a person must detach it or make a compliant version the default');
      const unheld = violation(evaluate(iamPolicyVersionAdmin, created(), { facts: { ...base, policyEntities: ok({ roles: [], users: [], groups: [], truncated: false }) } }));
      expect(unheld.plan).toStrictEqual([]);
      expect(unheld.summary).toContain('no role, user or group the bot may detach it from holds it now: a person must make a compliant version the default');
    });

    it('only proposes the most recent clean earlier version when several exist, passing over newer ones that grant admin', () => {
      const facts = {
        policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v2', '2025-02-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]),
        earlierVersion1: document('v2', ADMIN_DOCUMENT),
        earlierVersion2: document('v1', SCOPED_DOCUMENT),
      };
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts }));
      const step = {
        service: 'iam',
        operation: 'SetDefaultPolicyVersion',
        input: { PolicyArn: POLICY, VersionId: 'v1' },
        reason:
          'Make v1 the default version of DevTeamPolicy again: v1 is the most recently created of the versions that existed before (v2, v1) that grants nothing at or above high (newer: v2 full-admin (critical) in Statement 0); IAM does not record which of them was the default. Version v3 is kept, not deleted.',
        undo: undoToV3,
        precondition: defaultCheck('v3', 'v1'),
        verification: defaultCheck('v3', 'v1'),
      };
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal).toStrictEqual([step]);
      expect(verdict.summary).toContain('proposal: roll back to v1, the most recent clean one of 2 earlier versions (not applied: IAM does not record which was the default)');

      const applied = violation(evaluate(iamPolicyVersionAdmin, created(), { facts, config: { rules: { 'iam-policy-version-admin': { rollbackWhenAmbiguous: true } } } }));
      expect(applied.plan).toStrictEqual([step]);
      expect(applied.proposal).toBeUndefined();
    });

    it('proposes a rollback with a placeholder when the versions cannot be listed (offline)', () => {
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts: { policyVersions: { status: 'unavailable', reason: 'offline replay has no AWS access' } } }));
      expect(verdict.summary).toBe(
        'policy DevTeamPolicy v3 became the default and grants full-admin (critical) in Statement 0 ("AdminAll"); no rollback can be planned because its versions could not be listed (offline replay has no AWS access); a person must pick the version',
      );
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal).toStrictEqual([
        {
          service: 'iam',
          operation: 'SetDefaultPolicyVersion',
          input: {
            PolicyArn: POLICY,
            VersionId: { $unknown: `the version of DevTeamPolicy that was the default before v3, once checked to grant no admin (aws iam list-policy-versions --policy-arn ${POLICY})` },
          },
          reason: 'Make the previous default version of DevTeamPolicy the default again. Version v3 is kept, not deleted.',
          undo: undoToV3,
          precondition: defaultCheck('v3'),
          verification: { ...defaultCheck('v3'), expect: { policy: 'DevTeamPolicy', violating: 'v3', anyOther: true } },
        },
      ]);
    });

    it('proposes a placeholder, not a containment, when an earlier version could not be read', () => {
      const facts = { policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]), earlierVersion1: throttled };
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts }));
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal?.map((step) => step.operation)).toStrictEqual(['SetDefaultPolicyVersion']);
      expect(verdict.summary).toContain('no rollback can be planned because no earlier version could be shown to grant less (v1 could not be read (GetRole failed: Throttling))');
    });

    it('still plans the rollback when the default changed again since the event: the read before it finds the change at run time', () => {
      const facts = {
        policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z'], ['v4', '2025-03-10T11:30:00.000Z', true]),
        earlierVersion1: document('v1', SCOPED_DOCUMENT),
      };
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts }));
      expect(verdict.plan.map((step) => [step.input, step.precondition])).toStrictEqual([[{ PolicyArn: POLICY, VersionId: 'v1' }, defaultCheck('v3', 'v1')]]);
    });

    it('says there is nothing to roll back when the policy itself is gone', () => {
      const verdict = violation(evaluate(iamPolicyVersionAdmin, created(), { facts: { managedPolicy: gone, policyVersions: gone } }));
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.summary).toContain('policy DevTeamPolicy no longer exists (NoSuchEntity), so no identity holds this version now: nothing to roll back');
    });

    it('is compliant for a version not set as default, or a scoped one', () => {
      expect(evaluate(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-admin-not-default-compliant.json')).kind).toBe('compliant');
      expect(evaluate(iamPolicyVersionAdmin, loadEvent('iam/CreatePolicyVersion-scoped-default-compliant.json')).kind).toBe('compliant');
      expect(evaluate(iamPolicyVersionAdmin, withRequest('iam/CreatePolicyVersion-admin-not-default-compliant.json', { setAsDefault: 'true' })).kind).toBe('violation');
    });

    it('reads a document an export delivers as an object', () => {
      const event = withRequest('iam/CreatePolicyVersion-admin-set-as-default.json', { policyDocument: JSON.parse(ADMIN_DOCUMENT) as unknown });
      expect(violation(evaluate(iamPolicyVersionAdmin, event)).findings.map((f) => f.code)).toStrictEqual(['full-admin']);
    });

    it('exempts a policy carrying the exemption tag, with what it let through', () => {
      const facts = { managedPolicy: ok({ defaultVersionId: 'v3', tags: { 'remediation:exempt': 'platform admin policy' } }) };
      expect(evaluate(iamPolicyVersionAdmin, created(), { facts })).toStrictEqual({
        kind: 'exempt',
        reason: 'policy DevTeamPolicy is tagged remediation:exempt: platform admin policy',
        resources: [POLICY],
        findings: violation(evaluate(iamPolicyVersionAdmin, created())).findings,
      });
    });

    it('cannot inspect a version whose request parameters CloudTrail omitted: high severity', () => {
      expect(evaluate(iamPolicyVersionAdmin, omittedRequest('iam/CreatePolicyVersion-admin-set-as-default.json'))).toMatchObject({
        kind: 'skipped',
        severity: 'high',
        reason: expect.stringContaining('the policy version this CreatePolicyVersion call made the default could not be inspected: CloudTrail omitted it (requestParameters too large'),
      });
    });

    describe('SetDefaultPolicyVersion', () => {
      const event = () => loadEvent('iam/SetDefaultPolicyVersion-needs-lookup.json');

      it('reads the new default through GetPolicyVersion and rolls back to the only other version that existed at the call, once it reads clean', () => {
        expect(newDefaultVersionLookup.input(event())).toStrictEqual({ PolicyArn: POLICY, VersionId: 'v2' });
        const facts = {
          newDefaultVersion: document('v2', ADMIN_DOCUMENT),
          // v5 was created after the call: it cannot have been the default before it.
          policyVersions: versions(['v2', '2025-01-01T00:00:00.000Z', true], ['v4', '2025-03-01T00:00:00.000Z'], ['v5', '2025-03-10T12:00:00.000Z']),
          earlierVersion1: document('v4', SCOPED_DOCUMENT),
        };
        const verdict = violation(evaluate(iamPolicyVersionAdmin, event(), { facts }));
        const check = { ...defaultCheck('v2', 'v4'), description: 'v2 is still the default version of DevTeamPolicy' };
        expect(verdict.plan).toStrictEqual([
          {
            service: 'iam',
            operation: 'SetDefaultPolicyVersion',
            input: { PolicyArn: POLICY, VersionId: 'v4' },
            reason:
              'Make v4 the default version of DevTeamPolicy again: it is the only version that existed before v2 became the default, so it was the default then, and it grants nothing at or above high. Version v2 is kept, not deleted.',
            undo: { service: 'iam', operation: 'SetDefaultPolicyVersion', input: { PolicyArn: POLICY, VersionId: 'v2' }, reason: 'Make v2 the default version of DevTeamPolicy again.' },
            precondition: check,
            verification: check,
          },
        ]);
      });

      it('cannot inspect a version it cannot read, and says why', () => {
        expect(evaluate(iamPolicyVersionAdmin, event())).toStrictEqual({
          kind: 'skipped',
          reason: 'version v2 of DevTeamPolicy could not be read (GetPolicyVersion was not looked up), so what it grants is unknown',
          resources: [POLICY],
        });
      });

      it('is a low-severity "could not inspect" when the version is gone: IAM never deletes the default version', () => {
        expect(evaluate(iamPolicyVersionAdmin, event(), { facts: { newDefaultVersion: gone } })).toMatchObject({ kind: 'skipped', severity: 'low' });
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

  describe('lookups that chain on the versions', () => {
    const listed = versions(['v1', '2025-01-01T00:00:00.000Z'], ['v2', '2025-02-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]);

    it('reads earlier versions newest first, and stops at the first clean one', () => {
      expect(lookup('earlierVersion1').input(created(), { policyVersions: listed }, context())).toStrictEqual({ PolicyArn: POLICY, VersionId: 'v2' });
      expect(lookup('earlierVersion2').input(created(), { policyVersions: listed, earlierVersion1: document('v2', ADMIN_DOCUMENT) }, context())).toStrictEqual({ PolicyArn: POLICY, VersionId: 'v1' });
      expect(lookup('earlierVersion2').input(created(), { policyVersions: listed, earlierVersion1: document('v2', SCOPED_DOCUMENT) }, context())).toBeUndefined();
      expect(lookup('earlierVersion3').input(created(), { policyVersions: listed, earlierVersion1: document('v2', ADMIN_DOCUMENT) }, context())).toBeUndefined();
    });

    it('reads nothing for a compliant version or an exempt policy, and lists identities only when the plan contains', () => {
      expect(lookup('earlierVersion1').input(loadEvent('iam/CreatePolicyVersion-scoped-default-compliant.json'), { policyVersions: listed }, context())).toBeUndefined();
      const exempt = ok({ defaultVersionId: 'v3', tags: { 'remediation:exempt': 'platform admin policy' } });
      expect(lookup('earlierVersion1').input(created(), { managedPolicy: exempt, policyVersions: listed }, context())).toBeUndefined();
      expect(lookup('policyEntities').input(created(), { policyVersions: listed, earlierVersion1: document('v2', SCOPED_DOCUMENT) }, context())).toBeUndefined();
      const allAdmin = { policyVersions: listed, earlierVersion1: document('v2', ADMIN_DOCUMENT), earlierVersion2: document('v1', ADMIN_DOCUMENT) };
      expect(lookup('policyEntities').input(created(), allAdmin, context())).toStrictEqual({ PolicyArn: POLICY, MaxItems: 1000 });
      expect(lookup('policyEntities').select({ PolicyRoles: [{ RoleName: 'app-role', RoleId: 'AROA1' }], PolicyUsers: [], PolicyGroups: [{ GroupName: 'devs', GroupId: 'AGPA1' }], IsTruncated: false })).toStrictEqual({
        roles: ['app-role'],
        users: [],
        groups: ['devs'],
        truncated: false,
      });
    });
  });

  describe('the read before and after the rollback (probe)', () => {
    const expectation = { policy: 'DevTeamPolicy', violating: 'v3', target: 'v1' };
    const answer = (defaultVersionId: string) => ({ Policy: { PolicyName: 'DevTeamPolicy', Arn: POLICY, DefaultVersionId: defaultVersionId } });

    it('finds the rollback needed while the violating version is the default, done once the target is, changed for any other', () => {
      expect(policyDefaultProbe.judge(answer('v3'), expectation)).toStrictEqual({ state: 'needed', evidence: 'v3 is still the default version of DevTeamPolicy' });
      expect(policyDefaultProbe.judge(answer('v1'), expectation)).toStrictEqual({ state: 'done', evidence: 'v1 is the default version of DevTeamPolicy, not v3' });
      expect(policyDefaultProbe.judge(answer('v4'), expectation)).toStrictEqual({
        state: 'changed',
        evidence: 'v4 is now the default version of DevTeamPolicy (set after this event), not v3 as the event left it',
      });
      expect(policyDefaultProbe.judge(null, expectation)).toStrictEqual({ state: 'done', evidence: 'policy DevTeamPolicy no longer exists' });
    });
  });
});

describe('iam-trust-policy-open', () => {
  const denyAll = (roleName: string, partition = 'aws', precondition?: StateCheck) => {
    const input = { RoleName: roleName, PolicyArn: `arn:${partition}:iam::aws:policy/AWSDenyAll` };
    const attached = attachmentCheck('Role', roleName, input.PolicyArn, 'attached');
    return {
      service: 'iam',
      operation: 'AttachRolePolicy',
      input,
      reason: `Attach AWSDenyAll to role ${roleName}, so whoever assumes it through the open trust policy can do nothing; the trust policy itself is left for a person (see the proposal). If IAM answers LimitExceeded, the role already has as many managed policies as its quota allows: detach one or apply the proposed trust policy by hand.`,
      undo: { service: 'iam', operation: 'DetachRolePolicy', input, reason: `Detach AWSDenyAll from role ${roleName} once its trust policy is fixed.` },
      alreadyDoneCodes: NO_SUCH_ENTITY,
      precondition: precondition ?? attached,
      verification: attached,
    };
  };
  const trustCheck = (roleName: string, document: string, proposed?: string): StateCheck => ({
    service: 'iam',
    operation: 'GetRole',
    input: { RoleName: roleName },
    probe: 'roleTrustPolicy',
    expect: { role: roleName, document, ...(proposed !== undefined && { proposed }) },
    description:
      proposed === undefined
        ? `the trust policy of role ${roleName} is still the one the event set`
        : `the trust policy of role ${roleName} is still the one the event set, not yet the proposed one`,
  });

  describe('evaluate', () => {
    it('contains a role trusting Principal "*" unless AWSDenyAll is already attached, and has no statement left to propose', () => {
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

    it('proposes the trust policy without the public statement, keeping the service statement, checked before and after', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-public-aws-star-beside-service.json');
      const verdict = violation(evaluate(iamTrustPolicyOpen, event));
      const fixed = '{"Version":"2012-10-17","Statement":[{"Sid":"LambdaService","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}';
      const original = compact(request(event, 'policyDocument'));
      expect(verdict.plan).toStrictEqual([denyAll('report-builder')]);
      expect(verdict.proposal).toStrictEqual([
        {
          service: 'iam',
          operation: 'UpdateAssumeRolePolicy',
          input: { RoleName: 'report-builder', PolicyDocument: fixed },
          reason: 'PROPOSAL, not applied: replace the trust policy of role report-builder with the same document minus statement 1. Review it, then detach AWSDenyAll.',
          undo: {
            service: 'iam',
            operation: 'UpdateAssumeRolePolicy',
            input: { RoleName: 'report-builder', PolicyDocument: original },
            reason: 'Restore the trust policy of role report-builder as the event set it.',
          },
          precondition: trustCheck('report-builder', original, fixed),
          verification: trustCheck('report-builder', original, fixed),
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
      expect(fromResponse.proposal).toStrictEqual(fromRequest.proposal);
    });

    it('reads a trust policy an export delivers as an object', () => {
      const plain = request(loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json'), 'policyDocument');
      const event = withRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json', { policyDocument: JSON.parse(plain) as unknown });
      expect(violation(evaluate(iamTrustPolicyOpen, event)).findings.map((f) => f.code)).toStrictEqual(['public-trust']);
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

    it('exempts by the tags CreateRole carries, even offline, and by GetRole tags, saying what it let through', () => {
      const verdict = evaluate(iamTrustPolicyOpen, loadEvent('iam/CreateRole-github-oidc-no-sub-exempt-tag.json'));
      expect(verdict).toMatchObject({
        kind: 'exempt',
        reason: 'role sandbox-github-experiments is tagged remediation:exempt: sandbox account experiment, ticket SEC-1234',
        resources: ['role sandbox-github-experiments'],
        findings: [{ code: 'web-identity-no-sub', severity: 'critical' }],
      });
      const facts = { role: role('github-deploy', { tags: { 'remediation:exempt': 'migration' } }) };
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-github-oidc-no-sub.json'), { facts }).kind).toBe('exempt');
    });

    it('trusts the current tags over the creation request: a removed exemption tag no longer exempts', () => {
      const facts = { role: role('sandbox-github-experiments', { tags: {} }) };
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/CreateRole-github-oidc-no-sub-exempt-tag.json'), { facts }).kind).toBe('violation');
    });

    it('reads the trust policy again before attaching when GetRole showed it changed since the event, and ignores encoding differences', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
      const document = compact(request(event, 'policyDocument'));
      const changed = { role: role('data-export-role', { trustPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}' }) };
      const verdict = violation(evaluate(iamTrustPolicyOpen, event, { facts: changed }));
      expect(verdict.plan).toStrictEqual([denyAll('data-export-role', 'aws', trustCheck('data-export-role', document))]);
      expect(verdict.summary).toContain('GetRole showed another trust policy since, so it is read again before anything is attached');
      const selected = roleLookup.select({ Role: { RoleName: 'data-export-role', Arn: `arn:aws:iam::${ACCOUNT}:role/data-export-role`, Path: '/', AssumeRolePolicyDocument: encodeURIComponent(request(event, 'policyDocument')) } });
      expect(violation(evaluate(iamTrustPolicyOpen, event, { facts: { role: ok(selected) } })).plan).toStrictEqual([denyAll('data-export-role')]);
    });

    it('plans the containment even when GetRole found no role: the read before the attach speaks of the present', () => {
      expect(violation(evaluate(iamTrustPolicyOpen, loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json'), { facts: { role: gone } })).plan).toStrictEqual([denyAll('data-export-role')]);
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

    it('cannot inspect a trust policy CloudTrail omitted: high severity, naming the role when the response does', () => {
      expect(evaluate(iamTrustPolicyOpen, omittedRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json'))).toMatchObject({
        kind: 'skipped',
        severity: 'high',
        reason: expect.stringContaining('the trust policy this UpdateAssumeRolePolicy call set could not be inspected: CloudTrail omitted it (requestParameters too large, originally 131,059 characters)'),
      });
      const created = omittedRequest('iam/CreateRole-external-account-stratus-genuine-urlencoded.json');
      created.detail.responseElements = { ...created.detail.responseElements, role: { roleName: 'stratus-red-team-malicious-iam-role', assumeRolePolicyDocument: { omitted: true } } };
      expect(evaluate(iamTrustPolicyOpen, created)).toMatchObject({ kind: 'skipped', severity: 'high', resources: ['role stratus-red-team-malicious-iam-role'] });
    });
  });

  describe('the reads around the containment and the proposal (probes)', () => {
    const denyAllArn = 'arn:aws:iam::aws:policy/AWSDenyAll';
    const attached = { identity: 'role data-export-role', policyArn: denyAllArn, goal: 'attached' };

    it('finds AWSDenyAll already attached done: nothing to attach, nothing to undo', () => {
      expect(ATTACHMENT_PROBES.role.judge({ AttachedPolicies: [{ PolicyName: 'AWSDenyAll', PolicyArn: denyAllArn }], IsTruncated: false }, attached)).toStrictEqual({
        state: 'done',
        evidence: 'AWSDenyAll is attached to role data-export-role',
      });
      expect(ATTACHMENT_PROBES.role.judge({ AttachedPolicies: [], IsTruncated: false }, attached)).toStrictEqual({ state: 'needed', evidence: 'AWSDenyAll is not attached to role data-export-role' });
    });

    it('judges the trust policy: the event\'s (needed), the proposed one or a deleted role (done), another (changed)', () => {
      const event = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}';
      const proposed = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}';
      const answer = (document: string) => ({ Role: { RoleName: 'r', AssumeRolePolicyDocument: encodeURIComponent(document) } });
      const expectation = { role: 'r', document: event, proposed };
      expect(trustPolicyProbe.judge(answer(event), expectation).state).toBe('needed');
      expect(trustPolicyProbe.judge(answer(proposed), expectation).state).toBe('done');
      expect(trustPolicyProbe.judge(null, expectation)).toStrictEqual({ state: 'done', evidence: 'role r no longer exists' });
      expect(trustPolicyProbe.judge(answer(SCOPED_DOCUMENT), expectation)).toStrictEqual({ state: 'changed', evidence: 'the trust policy of role r now holds another document (set after this event)' });
    });
  });

  describe("the bot's own role", () => {
    it('is exempt when created as one of the bot roles with an open trust policy (ARN from the CreateRole response)', () => {
      expect(evaluate(iamTrustPolicyOpen, loadEvent('iam/CreateRole-bot-own-role-public-trust-exempt.json'), { botRoles: [BOT_ROLE] })).toMatchObject({
        kind: 'exempt',
        reason: `${BOT_ROLE} is one of the bot's own roles: the bot never remediates itself, so a person must review this change; its trust policy has public-trust (critical) in Statement 0`,
        resources: ['role remediation-bot-prod-us-east-1-iam'],
        findings: [{ code: 'public-trust', severity: 'critical' }],
      });
    });

    it('is recognised through GetRole for UpdateAssumeRolePolicy, by its exact ARN only', () => {
      const event = withRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });
      expect(evaluate(iamTrustPolicyOpen, event, { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/remediation-bot/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('exempt');
      expect(evaluate(iamTrustPolicyOpen, event, { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
      // Without GetRole the path is unknown; the role is then judged as any other.
      expect(evaluate(iamTrustPolicyOpen, event, { facts: { role: throttled }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
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

  it('reads identity lookups for the right identity kind only', () => {
    expect(roleLookup.input(loadEvent('iam/PutRolePolicy-admin-star.json'))).toStrictEqual({ RoleName: 'ml-training-role' });
    expect(roleLookup.input(loadEvent('iam/PutUserPolicy-notaction-allow.json'))).toBeUndefined();
  });
});
