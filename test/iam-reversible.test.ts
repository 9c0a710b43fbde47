/**
 * Every plan of the IAM rules can be undone from the plan alone: each step,
 * applied or proposed, carries an undo whose input is complete, and the undo
 * is the exact inverse of the step (a deleted inline policy comes back with
 * the very document the event put, without its padding). Every step also
 * reads the present before and after it, through a probe of its own rule.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decide, type FactSource } from '../engine/decide.js';
import { parseEvent, stringField, type CloudTrailEvent } from '../engine/event.js';
import { iamActionFor } from '../engine/iam-actions.js';
import { isUnknownValue, type Decision, type Fact, type PlanStep, type Rule } from '../engine/types.js';
import { compactDocument, sameDocument } from '../remediations/iam/common.js';
import { trustDocumentOf } from '../remediations/iam/iam-trust-policy-open.js';
import { iamRules } from '../remediations/iam/index.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { iamFamily } from '../remediations/iam/index.js';

const iamCommands = runtimeCommands(iamFamily);

const ADMIN_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}';
const SCOPED_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';

/** The members each IAM API requires (IAM API reference). */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  PutRolePolicy: ['RoleName', 'PolicyName', 'PolicyDocument'],
  PutUserPolicy: ['UserName', 'PolicyName', 'PolicyDocument'],
  PutGroupPolicy: ['GroupName', 'PolicyName', 'PolicyDocument'],
  DeleteRolePolicy: ['RoleName', 'PolicyName'],
  DeleteUserPolicy: ['UserName', 'PolicyName'],
  DeleteGroupPolicy: ['GroupName', 'PolicyName'],
  AttachRolePolicy: ['RoleName', 'PolicyArn'],
  AttachUserPolicy: ['UserName', 'PolicyArn'],
  AttachGroupPolicy: ['GroupName', 'PolicyArn'],
  DetachRolePolicy: ['RoleName', 'PolicyArn'],
  DetachUserPolicy: ['UserName', 'PolicyArn'],
  DetachGroupPolicy: ['GroupName', 'PolicyArn'],
  SetDefaultPolicyVersion: ['PolicyArn', 'VersionId'],
  UpdateAssumeRolePolicy: ['RoleName', 'PolicyDocument'],
};

function violatingVersion(event: CloudTrailEvent): string {
  return stringField(event.detail.responseElements, 'policyVersion', 'versionId') ?? stringField(event.detail.requestParameters, 'versionId') ?? 'v9';
}

/** Lookup answers shaped like the SDK's output, consistent with the event (nothing has changed since it). */
function sdkOutput(operation: string, input: Readonly<Record<string, unknown>>, event: CloudTrailEvent): unknown {
  const params = event.detail.requestParameters;
  const document = stringField(params, 'policyDocument');
  switch (operation) {
    case 'GetRole': {
      const trust = trustDocumentOf(event);
      return { Role: { RoleName: input['RoleName'], Path: '/', Arn: `arn:aws:iam::${event.account}:role/${String(input['RoleName'])}`, Tags: [], ...(trust && { AssumeRolePolicyDocument: encodeURIComponent(trust) }) } };
    }
    case 'GetUser':
      return { User: { UserName: input['UserName'], Path: '/', Arn: `arn:aws:iam::${event.account}:user/${String(input['UserName'])}`, Tags: [] } };
    case 'GetRolePolicy':
    case 'GetUserPolicy':
    case 'GetGroupPolicy':
      return { PolicyName: input['PolicyName'], PolicyDocument: encodeURIComponent(document ?? '') };
    case 'GetPolicy':
      return { Policy: { Arn: input['PolicyArn'], DefaultVersionId: event.detail.eventName === 'SetDefaultPolicyVersion' ? violatingVersion(event) : 'v7', Tags: [] } };
    case 'GetPolicyVersion': {
      // v1, the version ListPolicyVersions lists before the violating one, grants little; any default grants admin.
      const earlier = input['VersionId'] === 'v1';
      return { PolicyVersion: { VersionId: input['VersionId'], IsDefaultVersion: !earlier, Document: encodeURIComponent(earlier ? SCOPED_DOCUMENT : ADMIN_DOCUMENT) } };
    }
    case 'ListEntitiesForPolicy':
      return { PolicyRoles: [{ RoleName: 'app-role', RoleId: 'AROAEXAMPLE1' }], PolicyUsers: [], PolicyGroups: [], IsTruncated: false };
    case 'ListPolicyVersions':
      return {
        Versions: [
          { VersionId: 'v1', IsDefaultVersion: false, CreateDate: new Date('2020-01-01T00:00:00Z') },
          { VersionId: violatingVersion(event), IsDefaultVersion: true, CreateDate: new Date(event.detail.eventTime) },
        ],
      };
    default:
      throw new Error(`unexpected lookup ${operation}`);
  }
}

const liveLikeFacts: FactSource = {
  async fetch(lookup, input, event): Promise<Fact> {
    return { status: 'ok', value: lookup.select(sdkOutput(lookup.operation, input, event)) };
  },
};
const offline: FactSource = { fetch: async () => ({ status: 'unavailable', reason: 'offline replay has no AWS access' }) };

async function iamDecisions(facts: FactSource): Promise<{ name: string; event: CloudTrailEvent; decision: Decision }[]> {
  const config = parseConfig({}, iamRules);
  const results: { name: string; event: CloudTrailEvent; decision: Decision }[] = [];
  for (const name of allFixtureNames().filter((n) => n.startsWith('iam/'))) {
    const parsed = parseEvent(loadEvent(name));
    if (!parsed.success) throw parsed.error;
    for (const rule of iamRules) {
      if (!(rule.triggers as readonly { eventNames: readonly string[] }[]).some((t) => t.eventNames.includes(parsed.event.detail.eventName))) continue;
      results.push({ name, event: parsed.event, decision: await decide(parsed.event, rule, { config, env: {}, facts, now: new Date('2025-03-10T14:00:00Z') }) });
    }
  }
  return results;
}

function containsUnknown(value: unknown): boolean {
  if (isUnknownValue(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).some(containsUnknown);
}

/** The step the undo must be: the inverse operation on the same target. */
function expectInverse(step: PlanStep, event: CloudTrailEvent): void {
  const { undo } = step;
  if (!undo) throw new Error(`${step.operation} has no undo`);
  const input = step.input;
  switch (step.operation) {
    case 'DeleteRolePolicy':
    case 'DeleteUserPolicy':
    case 'DeleteGroupPolicy': {
      expect(undo.operation).toBe(step.operation.replace('Delete', 'Put'));
      const document = stringField(event.detail.requestParameters, 'policyDocument') ?? '';
      expect(undo.input).toStrictEqual({ ...input, PolicyDocument: compactDocument(document) });
      expect(() => JSON.parse(String(undo.input['PolicyDocument']))).not.toThrow();
      break;
    }
    case 'DetachRolePolicy':
    case 'DetachUserPolicy':
    case 'DetachGroupPolicy':
      expect(undo.operation).toBe(step.operation.replace('Detach', 'Attach'));
      expect(undo.input).toStrictEqual(input);
      break;
    case 'AttachRolePolicy':
      expect(undo.operation).toBe('DetachRolePolicy');
      expect(undo.input).toStrictEqual(input);
      break;
    case 'SetDefaultPolicyVersion':
      expect(undo.operation).toBe('SetDefaultPolicyVersion');
      expect(undo.input).toStrictEqual({ PolicyArn: input['PolicyArn'], VersionId: violatingVersion(event) });
      break;
    case 'UpdateAssumeRolePolicy':
      expect(undo.operation).toBe('UpdateAssumeRolePolicy');
      expect(undo.input['RoleName']).toBe(input['RoleName']);
      expect(sameDocument(String(undo.input['PolicyDocument']), trustDocumentOf(event) ?? '')).toBe(true);
      break;
    default:
      throw new Error(`unexpected IAM plan step ${step.operation}`);
  }
}

describe('IAM plans are reversible from the plan itself', () => {
  it.each([
    ['with live lookups', liveLikeFacts],
    ['offline', offline],
  ])('%s: every applied and proposed step carries a complete, exact inverse', async (_, facts) => {
    const operations = new Set<string>();
    for (const { name, event, decision } of await iamDecisions(facts)) {
      const { verdict } = decision;
      if (verdict.kind !== 'violation') continue;
      for (const step of [...verdict.plan, ...(verdict.proposal ?? [])]) {
        operations.add(step.operation);
        const undo = step.undo;
        expect(undo, `${name}: ${step.operation} has no undo`).toBeDefined();
        if (!undo) continue;
        expect(undo.service).toBe('iam');
        const required = REQUIRED[undo.operation];
        expect(required, `${name}: unknown undo ${undo.operation}`).toBeDefined();
        for (const key of required ?? []) {
          const value = undo.input[key];
          expect(typeof value === 'string' && value.length > 0, `${name}: ${undo.operation}.${key}`).toBe(true);
        }
        expect(Object.keys(undo.input).sort()).toStrictEqual([...(required ?? [])].sort());
        expect(containsUnknown(undo.input), `${name}: undo holds a placeholder`).toBe(false);
        expect(undo.reason.length).toBeGreaterThan(10);
        expectInverse(step, event);
      }
      for (const step of verdict.plan) expect(containsUnknown(step.input), `${name}: an applied step holds a placeholder`).toBe(false);
    }
    if (facts === liveLikeFacts) {
      expect([...operations].sort()).toStrictEqual(
        [
          'AttachRolePolicy',
          'DeleteGroupPolicy',
          'DeleteRolePolicy',
          'DeleteUserPolicy',
          'DetachGroupPolicy',
          'DetachRolePolicy',
          'DetachUserPolicy',
          'SetDefaultPolicyVersion',
          'UpdateAssumeRolePolicy',
        ].sort(),
      );
    }
  });
});

describe('IAM plans read the present before and after each write', () => {
  it.each([
    ['with live lookups', liveLikeFacts],
    ['offline', offline],
  ])('%s: every applied and proposed step names a precondition and a verification its own rule can judge', async (_, facts) => {
    let steps = 0;
    for (const { name, decision } of await iamDecisions(facts)) {
      const { verdict } = decision;
      if (verdict.kind !== 'violation') continue;
      const rule = iamRules.find((candidate) => candidate.id === decision.rule) as Rule | undefined;
      for (const step of [...verdict.plan, ...(verdict.proposal ?? [])]) {
        steps += 1;
        expect(step.alreadyDone, `${name}: ${step.operation} uses the deprecated alreadyDone`).toBeUndefined();
        for (const check of [step.precondition, step.verification]) {
          expect(check, `${name}: ${step.operation} has no check`).toBeDefined();
          const probe = rule?.probes?.find((candidate) => candidate.name === check?.probe);
          expect(probe, `${name}: ${step.operation} names probe ${check?.probe}, which ${decision.rule} lacks`).toBeDefined();
          expect([check?.service, check?.operation]).toStrictEqual([probe?.service, probe?.operation]);
          expect(check?.operation).toMatch(/^(Get|List)/);
        }
      }
    }
    expect(steps).toBeGreaterThan(10);
  });
});

describe('the IAM function can never grant access', () => {
  it('holds every plan, lookup and probe operation, and no operation that grants or changes a trust policy', () => {
    const commands = Object.keys(iamCommands.commands).filter((key) => key.startsWith('iam:'));
    const planned = iamRules.flatMap((rule) => rule.permissions.map((p) => p.action));
    const looked = iamRules.flatMap((rule) => (rule.lookups ?? []).map((l) => l.permission));
    const probed = iamRules.flatMap((rule) => (rule.probes ?? []).map((p) => iamActionFor(p.service, p.operation)));
    expect([...new Set([...planned, ...looked, ...probed])].sort()).toStrictEqual([...commands].sort());
    for (const key of commands) expect(key).not.toMatch(/^iam:(Put|Create|Update|Add|Tag|Upload)/);
    expect(commands.filter((key) => key.startsWith('iam:Attach'))).toStrictEqual(['iam:AttachRolePolicy']);
  });

  it('scopes every write permission to the account, never iam:* or Resource *', () => {
    for (const rule of iamRules) {
      for (const permission of rule.permissions) {
        expect(permission.action).not.toContain('*');
        expect(permission.resource).toMatch(/^arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:(role|user|group|policy)\/\*$/);
      }
    }
  });
});
