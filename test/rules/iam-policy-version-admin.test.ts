import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import type { StateCheck } from '../../engine/types.js';
import { earlierVersions } from '../../remediations/iam/iam-policy-version-admin.js';
import { iamRules } from '../../remediations/iam/index.js';
import { newDefaultVersionLookup, policyVersionsLookup } from '../../remediations/iam/lookups.js';
import { policyDefaultProbe } from '../../remediations/iam/probes.js';
import { loadEvent } from '../helpers/fixtures.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';
import { registeredRule } from '../helpers/registered.js';
import { ACCOUNT, NO_SUCH_ENTITY, ADMIN_DOCUMENT, SCOPED_DOCUMENT, BOT_ROLE, ok, gone, throttled, withRequest, omittedRequest, violation, attachmentCheck } from '../helpers/iam-rules.js';

const iamPolicyVersionAdmin = registeredRule('iam-policy-version-admin');
const evaluate = ruleEvaluator('iam-policy-version-admin');

const POLICY = `arn:aws:iam::${ACCOUNT}:policy/DevTeamPolicy`;


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
      expect(evaluate(created(), { facts })).toStrictEqual({
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
      const verdict = violation(evaluate(created(), { facts }));
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
      const verdict = violation(evaluate(created(), { facts, botRoles: [BOT_ROLE] }));
      expect(verdict.plan.map((step) => [step.operation, step.input])).toStrictEqual([['DetachRolePolicy', { RoleName: 'app-role', PolicyArn: POLICY }]]);
      expect(verdict.summary).toContain(
        "no earlier version exists to roll back to, so it is not rolled back; plan: detach DevTeamPolicy from 1 identity (role app-role) (never detached from the bot's own role REMEDIATION-BOT-PROD-US-EAST-1-IAM: a person must; ListEntitiesForPolicy has more than 1,000 identities to list: those beyond are not detached)",
      );
      const elsewhere = violation(evaluate(created(), { facts, botRoles: ['arn:aws:iam::444455556666:role/remediation-bot/remediation-bot-prod-us-east-1-iam'] }));
      expect(elsewhere.plan).toHaveLength(2);
    });

    it('says so when containment is needed but the identities cannot be listed, or none holds the policy', () => {
      const base = { policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]), earlierVersion1: document('v1', ADMIN_DOCUMENT) };
      const unlisted = violation(evaluate(created(), { facts: { ...base, policyEntities: throttled } }));
      expect(unlisted.plan).toStrictEqual([]);
      expect(unlisted.summary).toContain('and the identities it is attached to could not be listed (GetRole failed: Throttling): a person must detach it or make a compliant version the default');
      const unheld = violation(evaluate(created(), { facts: { ...base, policyEntities: ok({ roles: [], users: [], groups: [], truncated: false }) } }));
      expect(unheld.plan).toStrictEqual([]);
      expect(unheld.summary).toContain('no role, user or group the bot may detach it from holds it now: a person must make a compliant version the default');
    });

    it('only proposes the most recent clean earlier version when several exist, passing over newer ones that grant admin', () => {
      const facts = {
        policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v2', '2025-02-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z', true]),
        earlierVersion1: document('v2', ADMIN_DOCUMENT),
        earlierVersion2: document('v1', SCOPED_DOCUMENT),
      };
      const verdict = violation(evaluate(created(), { facts }));
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

      const applied = violation(evaluate(created(), { facts, config: { rules: { 'iam-policy-version-admin': { rollbackWhenAmbiguous: true } } } }));
      expect(applied.plan).toStrictEqual([step]);
      expect(applied.proposal).toBeUndefined();
    });

    it('proposes a rollback with a placeholder when the versions cannot be listed (offline)', () => {
      const verdict = violation(evaluate(created(), { facts: { policyVersions: { status: 'unavailable', reason: 'offline replay has no AWS access' } } }));
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
      const verdict = violation(evaluate(created(), { facts }));
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal?.map((step) => step.operation)).toStrictEqual(['SetDefaultPolicyVersion']);
      expect(verdict.summary).toContain('no rollback can be planned because no earlier version could be shown to grant less (v1 could not be read (GetRole failed: Throttling))');
    });

    it('still plans the rollback when the default changed again since the event: the read before it finds the change at run time', () => {
      const facts = {
        policyVersions: versions(['v1', '2025-01-01T00:00:00.000Z'], ['v3', '2025-03-10T11:00:00.000Z'], ['v4', '2025-03-10T11:30:00.000Z', true]),
        earlierVersion1: document('v1', SCOPED_DOCUMENT),
      };
      const verdict = violation(evaluate(created(), { facts }));
      expect(verdict.plan.map((step) => [step.input, step.precondition])).toStrictEqual([[{ PolicyArn: POLICY, VersionId: 'v1' }, defaultCheck('v3', 'v1')]]);
    });

    it('says there is nothing to roll back when the policy itself is gone', () => {
      const verdict = violation(evaluate(created(), { facts: { managedPolicy: gone, policyVersions: gone } }));
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.summary).toContain('policy DevTeamPolicy no longer exists (NoSuchEntity), so no identity holds this version now: nothing to roll back');
    });

    it('is compliant for a version not set as default, or a scoped one', () => {
      expect(evaluate(loadEvent('iam/CreatePolicyVersion-admin-not-default-compliant.json')).kind).toBe('compliant');
      expect(evaluate(loadEvent('iam/CreatePolicyVersion-scoped-default-compliant.json')).kind).toBe('compliant');
      expect(evaluate(withRequest('iam/CreatePolicyVersion-admin-not-default-compliant.json', { setAsDefault: 'true' })).kind).toBe('violation');
    });

    it('reads a document an export delivers as an object', () => {
      const event = withRequest('iam/CreatePolicyVersion-admin-set-as-default.json', { policyDocument: JSON.parse(ADMIN_DOCUMENT) as unknown });
      expect(violation(evaluate(event)).findings.map((f) => f.code)).toStrictEqual(['full-admin']);
    });

    it('exempts a policy carrying the exemption tag, with what it let through', () => {
      const facts = { managedPolicy: ok({ defaultVersionId: 'v3', tags: { 'remediation:exempt': 'platform admin policy' } }) };
      expect(evaluate(created(), { facts })).toStrictEqual({
        kind: 'exempt',
        reason: 'policy DevTeamPolicy is tagged remediation:exempt: platform admin policy',
        resources: [POLICY],
        findings: violation(evaluate(created())).findings,
      });
    });

    it('cannot inspect a version whose request parameters CloudTrail omitted: high severity', () => {
      expect(evaluate(omittedRequest('iam/CreatePolicyVersion-admin-set-as-default.json'))).toMatchObject({
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
        const verdict = violation(evaluate(event(), { facts }));
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
        expect(evaluate(event())).toStrictEqual({
          kind: 'skipped',
          reason: 'version v2 of DevTeamPolicy could not be read (GetPolicyVersion was not looked up), so what it grants is unknown',
          resources: [POLICY],
        });
      });

      it('is a low-severity "could not inspect" when the version is gone: IAM never deletes the default version', () => {
        expect(evaluate(event(), { facts: { newDefaultVersion: gone } })).toMatchObject({ kind: 'skipped', severity: 'low' });
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
