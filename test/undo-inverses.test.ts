/**
 * The fixed inverse table (`engine/undo-inverses.ts`): every rule's own undo
 * steps pass it, over every recorded event, so a rule cannot ship an undo that
 * `remediate undo` would refuse; and what is not an inverse on the same
 * resource is refused, with a reason.
 */
import { describe, expect, it } from 'vitest';
import { liveFacts } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decideAll, offlineFacts, type FactSource } from '../engine/decide.js';
import { parseEvent } from '../engine/event.js';
import { isWaitStep, type Plan, type PlanStep, type Rule, type UndoStep } from '../engine/types.js';
import { inverseProblem, undoEntryProblem, undoStepsProblem, UNDO_INVERSES, UNDO_OPERATIONS } from '../engine/undo-inverses.js';
import { allRules, rulesByFamily } from '../remediations/registry.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { recordingGateway } from './helpers/recording-gateway.js';

interface Decided {
  readonly label: string;
  readonly rule: Rule;
  readonly plan: Plan;
  readonly proposal: Plan;
}

/** Settings that make rules plan more steps than their defaults do. */
const SETTINGS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  'ebs-unencrypted-volume': { kmsKeyId: 'alias/remediation-ebs' },
};

/** Reads that show an instance profile whose role has AdministratorAccess attached, so that the disassociation is planned. */
const ADMIN_PROFILE_ANSWERS: Readonly<Record<string, unknown>> = {
  GetInstanceProfile: { InstanceProfile: { Arn: 'arn:aws:iam::111122223333:instance-profile/ml-notebook-admin', Roles: [{ RoleName: 'ml-notebook-admin' }], Tags: [] } },
  ListAttachedRolePolicies: { AttachedPolicies: [{ PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }], IsTruncated: false },
  ListRolePolicies: { PolicyNames: [], IsTruncated: false },
  DescribeIamInstanceProfileAssociations: {
    IamInstanceProfileAssociations: [{ AssociationId: 'iip-assoc-0f1e2d3c4b5a69788', InstanceId: 'i-0a1b2c3d4e5f60301', State: 'associated' }],
  },
};

/**
 * Every violation of every rule on every fixture, each rule forced to
 * `remediate` (with and without the settings above): offline, with lookups
 * that answer empty, and with lookups that find a previous value to restore.
 */
async function everyPlan(): Promise<Decided[]> {
  const remediate = (settings: typeof SETTINGS) =>
    parseConfig({ rules: Object.fromEntries(allRules.map((rule) => [rule.id, { mode: 'remediate', ...settings[rule.id] }])) }, allRules);
  const configs = [
    ['defaults', remediate({})],
    ['settings', remediate(SETTINGS)],
  ] as const;
  const sources: [string, FactSource][] = [
    ['offline', offlineFacts],
    ['live', liveFacts(recordingGateway())],
    ['live, a previous default EBS key', liveFacts(recordingGateway((call) => (call.operation === 'GetEbsDefaultKmsKeyId' ? { KmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/previous' } : {})))],
    ['live, an instance profile whose role is admin', liveFacts(recordingGateway((call) => ADMIN_PROFILE_ANSWERS[call.operation] ?? {}))],
  ];
  const found: Decided[] = [];
  for (const name of allFixtureNames()) {
    const parsed = parseEvent(loadEvent(name));
    if (!parsed.success) continue;
    for (const [configLabel, config] of configs) {
      for (const [facts, source] of sources) {
        for (const decision of await decideAll(parsed.event, allRules, { config, env: {}, facts: source, now: new Date('2025-01-01T00:00:00Z') })) {
          if (decision.verdict.kind !== 'violation') continue;
          const rule = allRules.find((candidate) => candidate.id === decision.rule);
          if (!rule) continue;
          found.push({ label: `${rule.id} on ${name} (${facts}, ${configLabel})`, rule, plan: decision.verdict.plan, proposal: decision.verdict.proposal ?? [] });
        }
      }
    }
  }
  return found;
}

const decided = await everyPlan();
const calls = (plan: Plan): PlanStep[] => plan.filter((step) => !isWaitStep(step));
const key = (step: Pick<UndoStep, 'service' | 'operation'>) => `${step.service}:${step.operation}`;
const undoSteps = (plan: Plan): UndoStep[] =>
  calls(plan)
    .flatMap((step) => (step.undo ? [step.undo] : []))
    .reverse();

const step = (service: UndoStep['service'], operation: string, input: Record<string, unknown>): UndoStep => ({ service, operation, input, reason: 'test' });

describe('undo inverse table', () => {
  describe("the rules' own undo steps", () => {
    it('finds plans with undo steps to check (the fixtures reach the rules)', () => {
      const checked = decided.flatMap(({ plan, proposal }) => [...calls(plan), ...calls(proposal)]).filter((planStep) => planStep.undo);
      expect(checked.length).toBeGreaterThan(20);
    });

    it('every undo step of every plan and proposal is an inverse the table allows, on the same resource', () => {
      const problems = decided.flatMap(({ label, plan, proposal }) =>
        [...calls(plan), ...calls(proposal)].flatMap((planStep) => {
          if (!planStep.undo) return [];
          const problem = inverseProblem(planStep, planStep.undo);
          return problem ? [`${label}: ${problem}`] : [];
        }),
      );
      expect(problems).toStrictEqual([]);
    });

    it('the undo entry of every fully applied plan passes the whole check: its family, its rule, granted steps, the reverse order', () => {
      const problems = decided.flatMap(({ label, rule, plan }) => {
        const applied = calls(plan);
        if (applied.length === 0) return [];
        const family = rule.family ?? '';
        const problem = undoEntryProblem({ rule: rule.id, family, applied, undo: undoSteps(plan) }, family, rulesByFamily[family as keyof typeof rulesByFamily]);
        return problem ? [`${label}: ${problem}`] : [];
      });
      expect(problems).toStrictEqual([]);
    });

    it('every applied operation of the table is reached by some plan or proposal, so each entry is checked here', () => {
      const reached = new Set(decided.flatMap(({ plan, proposal }) => [...calls(plan), ...calls(proposal)].filter((planStep) => planStep.undo).map(key)));
      expect(Object.keys(UNDO_INVERSES).filter((applied) => !reached.has(applied))).toStrictEqual([]);
    });

    it('every undo operation a rule emits is in the table (and so in the CLI command table)', () => {
      const emitted = new Set(decided.flatMap(({ plan, proposal }) => [...calls(plan), ...calls(proposal)].flatMap((planStep) => (planStep.undo ? [key(planStep.undo)] : []))));
      expect([...emitted].filter((operation) => !(UNDO_OPERATIONS as readonly string[]).includes(operation))).toStrictEqual([]);
    });
  });

  describe('inverseProblem', () => {
    const detach = step('iam', 'DetachRolePolicy', { RoleName: 'app', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' });

    it('allows the exact inverse on the same resource', () => {
      expect(inverseProblem(detach, step('iam', 'AttachRolePolicy', { RoleName: 'app', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }))).toBeUndefined();
    });

    it('refuses another operation as the undo (AttachUserPolicy for a DetachRolePolicy)', () => {
      expect(inverseProblem(detach, step('iam', 'AttachUserPolicy', { UserName: 'mallory', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }))).toBe(
        'iam:AttachUserPolicy is not an undo of iam:DetachRolePolicy (allowed: iam:AttachRolePolicy)',
      );
    });

    it('refuses the inverse on another resource', () => {
      expect(inverseProblem(detach, step('iam', 'AttachRolePolicy', { RoleName: 'mallory', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }))).toBe(
        'iam:AttachRolePolicy names another resource than iam:DetachRolePolicy (RoleName differ)',
      );
      expect(inverseProblem(detach, step('iam', 'AttachRolePolicy', { RoleName: 'app', PolicyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }))).toContain('(PolicyArn differ)');
    });

    it('refuses an applied operation outside the table', () => {
      expect(inverseProblem(step('iam', 'CreateUser', { UserName: 'x' }), step('iam', 'DeleteUser', { UserName: 'x' }))).toBe('iam:CreateUser is not an operation the bot applies with an undo');
    });

    it('refuses input the undo never needs', () => {
      const revoke = step('ec2', 'RevokeSecurityGroupIngress', { GroupId: 'sg-1', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] });
      const authorize = step('ec2', 'AuthorizeSecurityGroupIngress', {
        GroupId: 'sg-1',
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
        TagSpecifications: [],
      });
      expect(inverseProblem(revoke, authorize)).toBe('ec2:AuthorizeSecurityGroupIngress carries input the undo never needs (TagSpecifications)');
    });

    it('refuses an authorize that opens more than the revoke closed', () => {
      const ssh = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] };
      const everything = { IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] };
      expect(inverseProblem(step('ec2', 'RevokeSecurityGroupIngress', { GroupId: 'sg-1', IpPermissions: [ssh] }), step('ec2', 'AuthorizeSecurityGroupIngress', { GroupId: 'sg-1', IpPermissions: [everything] }))).toContain(
        'opens other IpPermissions',
      );
      expect(
        inverseProblem(step('ec2', 'RevokeSecurityGroupIngress', { GroupId: 'sg-1', SecurityGroupRuleIds: ['sgr-1'] }), step('ec2', 'AuthorizeSecurityGroupIngress', { GroupId: 'sg-1', IpPermissions: [ssh, everything] })),
      ).toContain('opens 2 range(s) for 1 revoked rule(s)');
    });

    it('refuses a share that adds back other accounts than were removed', () => {
      const remove = step('ec2', 'ModifySnapshotAttribute', { SnapshotId: 'snap-1', CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] } });
      expect(inverseProblem(remove, step('ec2', 'ModifySnapshotAttribute', { SnapshotId: 'snap-1', CreateVolumePermission: { Add: [{ UserId: '444455556666' }] } }))).toBeUndefined();
      expect(inverseProblem(remove, step('ec2', 'ModifySnapshotAttribute', { SnapshotId: 'snap-1', CreateVolumePermission: { Add: [{ Group: 'all' }] } }))).toContain('adds other CreateVolumePermission entries');
    });

    it('refuses an AttachRolePolicy the bot never makes (anything but AWSDenyAll) as an applied step', () => {
      const input = { RoleName: 'app', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' };
      expect(inverseProblem(step('iam', 'AttachRolePolicy', input), step('iam', 'DetachRolePolicy', input))).toContain('the bot attaches no managed policy but AWSDenyAll');
    });

    it('refuses an UpdateTrail undo that changes anything but the settings the fix turned on', () => {
      const applied = step('cloudtrail', 'UpdateTrail', { Name: 'main', EnableLogFileValidation: true });
      expect(inverseProblem(applied, step('cloudtrail', 'UpdateTrail', { Name: 'main', EnableLogFileValidation: false }))).toBeUndefined();
      expect(inverseProblem(applied, step('cloudtrail', 'UpdateTrail', { Name: 'main', S3BucketName: 'attacker' }))).toContain('carries input the undo never needs (S3BucketName)');
      expect(inverseProblem(applied, step('cloudtrail', 'UpdateTrail', { Name: 'main', IsMultiRegionTrail: false }))).toContain('not IsMultiRegionTrail');
    });

    it('refuses a DeleteTags of tags that are not the bot markers', () => {
      const input = { Resources: ['vol-1'], Tags: [{ Key: 'team', Value: 'web' }] };
      expect(inverseProblem(step('ec2', 'CreateTags', input), step('ec2', 'DeleteTags', input))).toContain('the bot only writes tags under remediation:');
    });
  });

  describe('undoStepsProblem', () => {
    const revoke = (group: string) => step('ec2', 'RevokeSecurityGroupIngress', { GroupId: group, SecurityGroupRuleIds: ['sgr-1'] });
    const reopen = (group: string) => step('ec2', 'AuthorizeSecurityGroupIngress', { GroupId: group, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] });

    it('accepts the undo steps of the applied ones, last first, and fewer undo steps than applied ones', () => {
      expect(undoStepsProblem([revoke('sg-1'), revoke('sg-2')], [reopen('sg-2'), reopen('sg-1')])).toBeUndefined();
      expect(undoStepsProblem([revoke('sg-1'), revoke('sg-2')], [reopen('sg-1')])).toBeUndefined();
    });

    it('refuses two undo steps for one applied step, and the wrong order', () => {
      expect(undoStepsProblem([revoke('sg-1')], [reopen('sg-1'), reopen('sg-1')])).toBe(
        'undo step 2 (ec2:AuthorizeSecurityGroupIngress) is not the inverse of a step the bot applied: no applied step is left for it to reverse',
      );
      expect(undoStepsProblem([revoke('sg-1'), revoke('sg-2')], [reopen('sg-1'), reopen('sg-2')])).toContain('undo step 2');
    });

    it('refuses an undo with nothing applied', () => {
      expect(undoStepsProblem([], [reopen('sg-1')])).toContain('undo step 1 (ec2:AuthorizeSecurityGroupIngress) is not the inverse of a step the bot applied');
    });
  });

  describe('undoEntryProblem', () => {
    const detach = step('iam', 'DetachRolePolicy', { RoleName: 'app', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' });
    const attach = step('iam', 'AttachRolePolicy', { RoleName: 'app', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' });

    it("accepts an entry of the record's family, by one of its rules", () => {
      expect(undoEntryProblem({ rule: 'iam-attached-admin-policy', family: 'iam', applied: [detach], undo: [attach] }, 'iam', rulesByFamily.iam)).toBeUndefined();
    });

    it('refuses an entry in the record of another family, or naming a rule of another family', () => {
      expect(undoEntryProblem({ rule: 'iam-attached-admin-policy', family: 'iam', applied: [detach], undo: [attach] }, 's3', rulesByFamily.s3)).toBe(
        'it says family iam, but it is in the record of family s3',
      );
      expect(undoEntryProblem({ rule: 'iam-attached-admin-policy', family: 's3', applied: [detach], undo: [attach] }, 's3', rulesByFamily.s3)).toBe(
        'rule iam-attached-admin-policy is not a rule of family s3',
      );
    });

    it('refuses an applied step the rule is never granted', () => {
      const kmsStep = step('kms', 'EnableKey', { KeyId: 'k' });
      expect(undoEntryProblem({ rule: 'iam-attached-admin-policy', family: 'iam', applied: [kmsStep], undo: [step('kms', 'DisableKey', { KeyId: 'k' })] }, 'iam', rulesByFamily.iam)).toBe(
        'rule iam-attached-admin-policy never applies kms:EnableKey',
      );
    });
  });

  it('every inverse names the fields it compares and allows, and no undo operation is a read', () => {
    for (const [applied, inverses] of Object.entries(UNDO_INVERSES)) {
      for (const inverse of inverses) {
        expect(inverse.undo, applied).toMatch(/^[a-z0-9]+:[A-Z][A-Za-z]+$/);
        expect(inverse.undo, applied).not.toMatch(/:(Get|Describe|List|Lookup)/);
      }
    }
  });
});
