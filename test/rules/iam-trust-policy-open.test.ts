import { describe, expect, it } from 'vitest';
import type { StateCheck } from '../../engine/types.js';
import { roleLookup } from '../../remediations/iam/lookups.js';
import { ATTACHMENT_PROBES, trustPolicyProbe } from '../../remediations/iam/probes.js';
import { loadEvent } from '../helpers/fixtures.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';
import { ACCOUNT, NO_SUCH_ENTITY, SCOPED_DOCUMENT, BOT_ROLE, ok, gone, throttled, role, request, compact, withRequest, omittedRequest, violation, attachmentCheck } from '../helpers/iam-rules.js';

const evaluate = ruleEvaluator('iam-trust-policy-open');


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
      expect(evaluate(loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json'))).toStrictEqual({
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
      const verdict = violation(evaluate(event));
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
      const verdict = violation(evaluate(event));
      expect(verdict.findings.map((f) => [f.code, f.severity, f.subject])).toStrictEqual([['untrusted-account', 'high', 'trust policy, Statement 1']]);
      expect(verdict.proposal?.[0]?.input).toStrictEqual({
        RoleName: 'stratus-red-team-backdoor-r-role',
        PolicyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
      });
      expect(evaluate(event, { config: { trustedAccounts: ['193672423079'] } }).kind).toBe('compliant');
    });

    it('reads CreateRole from the URL-encoded response when the request lacks the document', () => {
      const event = loadEvent('iam/CreateRole-external-account-stratus-genuine-urlencoded.json');
      const fromRequest = violation(evaluate(event));
      const responseOnly = withRequest('iam/CreateRole-external-account-stratus-genuine-urlencoded.json', { assumeRolePolicyDocument: undefined });
      const fromResponse = violation(evaluate(responseOnly));
      expect(fromResponse.findings).toStrictEqual(fromRequest.findings);
      expect(fromResponse.plan).toStrictEqual([denyAll('stratus-red-team-malicious-iam-role')]);
      expect(fromResponse.proposal).toStrictEqual(fromRequest.proposal);
    });

    it('reads a trust policy an export delivers as an object', () => {
      const plain = request(loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json'), 'policyDocument');
      const event = withRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json', { policyDocument: JSON.parse(plain) as unknown });
      expect(violation(evaluate(event)).findings.map((f) => f.code)).toStrictEqual(['public-trust']);
    });

    it.each([
      ['iam/UpdateAssumeRolePolicy-external-account-externalid-compliant.json'],
      ['iam/UpdateAssumeRolePolicy-github-oidc-repo-sub-compliant.json'],
      ['iam/UpdateAssumeRolePolicy-statement-object-service-compliant.json'],
      ['iam/CreateRole-lambda-service-compliant.json'],
    ])('finds %s compliant', (name) => {
      expect(evaluate(loadEvent(name)).kind).toBe('compliant');
    });

    it('flags GitHub Actions OIDC without a sub condition as critical', () => {
      const verdict = violation(evaluate(loadEvent('iam/UpdateAssumeRolePolicy-github-oidc-no-sub.json')));
      expect(verdict.findings.map((f) => [f.code, f.severity])).toStrictEqual([['web-identity-no-sub', 'critical']]);
      expect(verdict.findings[0]?.message).toContain('a workflow in any GitHub repository can assume the role');
    });

    it('exempts by the tags CreateRole carries, even offline, and by GetRole tags, saying what it let through', () => {
      const verdict = evaluate(loadEvent('iam/CreateRole-github-oidc-no-sub-exempt-tag.json'));
      expect(verdict).toMatchObject({
        kind: 'exempt',
        reason: 'role sandbox-github-experiments is tagged remediation:exempt: sandbox account experiment, ticket SEC-1234',
        resources: ['role sandbox-github-experiments'],
        findings: [{ code: 'web-identity-no-sub', severity: 'critical' }],
      });
      const facts = { role: role('github-deploy', { tags: { 'remediation:exempt': 'migration' } }) };
      expect(evaluate(loadEvent('iam/UpdateAssumeRolePolicy-github-oidc-no-sub.json'), { facts }).kind).toBe('exempt');
    });

    it('trusts the current tags over the creation request: a removed exemption tag no longer exempts', () => {
      const facts = { role: role('sandbox-github-experiments', { tags: {} }) };
      expect(evaluate(loadEvent('iam/CreateRole-github-oidc-no-sub-exempt-tag.json'), { facts }).kind).toBe('violation');
    });

    it('reads the trust policy again before attaching when GetRole showed it changed since the event, and ignores encoding differences', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
      const document = compact(request(event, 'policyDocument'));
      const changed = { role: role('data-export-role', { trustPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}' }) };
      const verdict = violation(evaluate(event, { facts: changed }));
      expect(verdict.plan).toStrictEqual([denyAll('data-export-role', 'aws', trustCheck('data-export-role', document))]);
      expect(verdict.summary).toContain('GetRole showed another trust policy since, so it is read again before anything is attached');
      const selected = roleLookup.select({ Role: { RoleName: 'data-export-role', Arn: `arn:aws:iam::${ACCOUNT}:role/data-export-role`, Path: '/', AssumeRolePolicyDocument: encodeURIComponent(request(event, 'policyDocument')) } });
      expect(violation(evaluate(event, { facts: { role: ok(selected) } })).plan).toStrictEqual([denyAll('data-export-role')]);
    });

    it('plans the containment even when GetRole found no role: the read before the attach speaks of the present', () => {
      expect(violation(evaluate(loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json'), { facts: { role: gone } })).plan).toStrictEqual([denyAll('data-export-role')]);
    });

    it('uses the partition of the event for AWSDenyAll', () => {
      const event = loadEvent('iam/UpdateAssumeRolePolicy-public-principal-star.json');
      event.detail.userIdentity = { type: 'IAMUser', arn: 'arn:aws-cn:iam::111122223333:user/alice', accountId: ACCOUNT };
      expect(violation(evaluate(event)).plan).toStrictEqual([denyAll('data-export-role', 'aws-cn')]);
    });

    it('skips a trust policy larger than IAM accepts, without throwing', () => {
      const huge = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: Array.from({ length: 200 }, (_, i) => `arn:aws:iam::${String(i).padStart(12, '0')}:root`) }, Action: 'sts:AssumeRole' }] });
      const verdict = evaluate(withRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json', { policyDocument: huge }));
      expect(verdict.kind).toBe('skipped');
      expect(verdict.kind === 'skipped' && verdict.reason).toContain('too large');
    });

    it('cannot inspect a trust policy CloudTrail omitted: high severity, naming the role when the response does', () => {
      expect(evaluate(omittedRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json'))).toMatchObject({
        kind: 'skipped',
        severity: 'high',
        reason: expect.stringContaining('the trust policy this UpdateAssumeRolePolicy call set could not be inspected: CloudTrail omitted it (requestParameters too large, originally 131,059 characters)'),
      });
      const created = omittedRequest('iam/CreateRole-external-account-stratus-genuine-urlencoded.json');
      created.detail.responseElements = { ...created.detail.responseElements, role: { roleName: 'stratus-red-team-malicious-iam-role', assumeRolePolicyDocument: { omitted: true } } };
      expect(evaluate(created)).toMatchObject({ kind: 'skipped', severity: 'high', resources: ['role stratus-red-team-malicious-iam-role'] });
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
      expect(evaluate(loadEvent('iam/CreateRole-bot-own-role-public-trust-exempt.json'), { botRoles: [BOT_ROLE] })).toMatchObject({
        kind: 'exempt',
        reason: `${BOT_ROLE} is one of the bot's own roles: the bot never remediates itself, so a person must review this change; its trust policy has public-trust (critical) in Statement 0`,
        resources: ['role remediation-bot-prod-us-east-1-iam'],
        findings: [{ code: 'public-trust', severity: 'critical' }],
      });
    });

    it('is recognised through GetRole for UpdateAssumeRolePolicy, by its exact ARN only', () => {
      const event = withRequest('iam/UpdateAssumeRolePolicy-public-principal-star.json', { roleName: 'remediation-bot-prod-us-east-1-iam' });
      expect(evaluate(event, { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/remediation-bot/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('exempt');
      expect(evaluate(event, { facts: { role: role('remediation-bot-prod-us-east-1-iam', { path: '/' }) }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
      // Without GetRole the path is unknown; the role is then judged as any other.
      expect(evaluate(event, { facts: { role: throttled }, botRoles: [BOT_ROLE] }).kind).toBe('violation');
    });
  });
});
