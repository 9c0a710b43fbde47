import {
  DescribeImageAttributeCommand,
  type DescribeImageAttributeCommandInput,
  DescribeSnapshotAttributeCommand,
  type DescribeSnapshotAttributeCommandInput,
  EC2Client,
  EC2ServiceException,
  ModifyImageAttributeCommand,
  type ModifyImageAttributeCommandInput,
  ModifySnapshotAttributeCommand,
  type ModifySnapshotAttributeCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { executePlan } from '../engine/executor.js';
import type { Facts, Lookup, Plan, Rule, Verdict } from '../engine/types.js';
import { loadEvent } from './helpers/fixtures.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { ebsFamily } from '../remediations/ebs/index.js';
import { registeredRule } from './helpers/registered.js';

const ebsCommands = runtimeCommands(ebsFamily);
const amiPublic = registeredRule('ami-public');
const amiSharedUntrustedAccount = registeredRule('ami-shared-untrusted-account');
const ebsPublicSnapshot = registeredRule('ebs-public-snapshot');
const ebsSnapshotSharedUntrustedAccount = registeredRule('ebs-snapshot-shared-untrusted-account');

const NOW = new Date('2025-03-10T00:00:00Z');
const rules: Rule[] = [ebsPublicSnapshot, ebsSnapshotSharedUntrustedAccount, amiPublic, amiSharedUntrustedAccount];
const ec2 = mockClient(EC2Client);

function evaluate(rule: Rule, event: CloudTrailEvent, facts: Facts = {}, rawConfig: unknown = {}): Verdict {
  const config = parseConfig(rawConfig, rules);
  return rule.evaluate(event, facts, { config, settings: {}, now: NOW });
}

function planOf(rule: Rule, event: CloudTrailEvent, facts: Facts = {}, rawConfig: unknown = {}): Plan {
  const verdict = evaluate(rule, event, facts, rawConfig);
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}`);
  return verdict.plan;
}

function lookup(rule: Rule, name: string): Lookup {
  const found = rule.lookups?.find((l) => l.name === name);
  if (!found) throw new Error(name);
  return found;
}

const SNAPSHOT = 'snap-0a1b2c3d4e5f60001';
const SHARED_SNAPSHOT = 'snap-0a1b2c3d4e5f60002';
const IMAGE = 'ami-0a1b2c3d4e5f60001';
const SHARED_IMAGE = 'ami-0a1b2c3d4e5f60002';

/** The precondition and verification of one removal, as the plan carries them. */
function sharingChecks(kind: 'snapshot' | 'image', id: string, grant: { group: string } | { userId: string }) {
  const snapshot = kind === 'snapshot';
  const label = 'group' in grant ? `group ${grant.group}` : `account ${grant.userId}`;
  const read = {
    service: 'ec2',
    operation: snapshot ? 'DescribeSnapshotAttribute' : 'DescribeImageAttribute',
    input: snapshot ? { SnapshotId: id, Attribute: 'createVolumePermission' } : { ImageId: id, Attribute: 'launchPermission' },
    probe: snapshot ? 'snapshotSharing' : 'imageSharing',
    expect: { id, ...grant },
  };
  return {
    precondition: { ...read, description: `shows ${id} still shared with ${label}` },
    verification: { ...read, description: `shows ${id} no longer shared with ${label}` },
  };
}

const notFound = (name: string, message: string) => new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });

type Permission = { Group?: 'all'; UserId?: string };

/**
 * A snapshot's createVolumePermission as EC2 keeps it: DescribeSnapshotAttribute
 * answers the present list, ModifySnapshotAttribute removes and adds entries
 * (removing an entry that is not there succeeds silently, as it does in EC2).
 * `sticks: false` models a change that does not hold.
 */
function snapshotPermissions(id: string, initial: Permission[], options: { exists?: boolean; sticks?: boolean } = {}) {
  let permissions = [...initial];
  const exists = () => options.exists !== false;
  ec2.on(DescribeSnapshotAttributeCommand).callsFake((input: DescribeSnapshotAttributeCommandInput) => {
    if (!exists() || input.SnapshotId !== id) throw notFound('InvalidSnapshot.NotFound', `The snapshot '${String(input.SnapshotId)}' does not exist.`);
    return { SnapshotId: id, CreateVolumePermissions: permissions };
  });
  ec2.on(ModifySnapshotAttributeCommand).callsFake((input: ModifySnapshotAttributeCommandInput) => {
    if (!exists() || input.SnapshotId !== id) throw notFound('InvalidSnapshot.NotFound', `The snapshot '${String(input.SnapshotId)}' does not exist.`);
    if (options.sticks === false) return {};
    const removed = input.CreateVolumePermission?.Remove ?? [];
    permissions = permissions.filter((p) => !removed.some((r) => r.Group === p.Group && r.UserId === p.UserId));
    return {};
  });
}

/** The same for an AMI's launchPermission. */
function imagePermissions(id: string, initial: Permission[], options: { exists?: boolean; sticks?: boolean } = {}) {
  let permissions = [...initial];
  ec2.on(DescribeImageAttributeCommand).callsFake((input: DescribeImageAttributeCommandInput) => {
    if (options.exists === false || input.ImageId !== id) throw notFound('InvalidAMIID.Unavailable', `The image id '[${String(input.ImageId)}]' is no longer available`);
    return { ImageId: id, LaunchPermissions: permissions };
  });
  ec2.on(ModifyImageAttributeCommand).callsFake((input: ModifyImageAttributeCommandInput) => {
    if (options.sticks === false) return {};
    const removed = input.LaunchPermission?.Remove ?? [];
    permissions = permissions.filter((p) => !removed.some((r) => r.Group === p.Group && r.UserId === p.UserId));
    return {};
  });
}

const gateway = () => createAwsGateway(ebsCommands, { region: 'us-east-1' });
const run = (rule: Rule, plan: Plan) => executePlan(plan, gateway(), { probes: rule.probes ?? [] });
const inputs = (command: Parameters<typeof ec2.commandCalls>[0]) => ec2.commandCalls(command).map((call) => call.args[0].input);
const calls = () => ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);

describe('ebs-public-snapshot', () => {
  describe('evaluate', () => {
    it('removes the createVolumePermission of group all and nothing else, reading it before and after', () => {
      // Arrange
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      // Act
      const verdict = evaluate(ebsPublicSnapshot, event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `snapshot ${SNAPSHOT} made public (createVolumePermission group all)`,
        resources: [SNAPSHOT],
        findings: [
          {
            code: 'public-snapshot',
            severity: 'critical',
            message: `Snapshot ${SNAPSHOT} was made public: any AWS account can create a volume from it and read its data.`,
            subject: 'createVolumePermission group all',
          },
        ],
        plan: [
          {
            service: 'ec2',
            operation: 'ModifySnapshotAttribute',
            input: { SnapshotId: SNAPSHOT, CreateVolumePermission: { Remove: [{ Group: 'all' }] } },
            reason: `Make ${SNAPSHOT} private again: remove only the public createVolumePermission (group all). Account-specific shares stay.`,
            undo: {
              service: 'ec2',
              operation: 'ModifySnapshotAttribute',
              input: { SnapshotId: SNAPSHOT, CreateVolumePermission: { Add: [{ Group: 'all' }] } },
              reason: `Make ${SNAPSHOT} public again.`,
            },
            alreadyDoneCodes: ['InvalidSnapshot.NotFound'],
            ...sharingChecks('snapshot', SNAPSHOT, { group: 'all' }),
          },
        ],
      });
    });

    it('keeps the account shared in the same call: only group all is removed', () => {
      const [step] = planOf(ebsPublicSnapshot, loadEvent('ec2/ModifySnapshotAttribute-public-and-one-account.json'));
      expect(step?.input).toStrictEqual({ SnapshotId: 'snap-0a1b2c3d4e5f60003', CreateVolumePermission: { Remove: [{ Group: 'all' }] } });
      expect(step?.reason).toBe(
        'Make snap-0a1b2c3d4e5f60003 private again: remove only the public createVolumePermission (group all). The accounts it was shared with individually (444455556666) keep their access.',
      );
    });

    it('is compliant for a share with one account and for a removal', () => {
      expect(evaluate(ebsPublicSnapshot, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'))).toStrictEqual({
        kind: 'compliant',
        summary: 'snap-0a1b2c3d4e5f60002: shared with account 444455556666; not made public',
        resources: ['snap-0a1b2c3d4e5f60002'],
      });
      expect(evaluate(ebsPublicSnapshot, loadEvent('ec2/ModifySnapshotAttribute-remove-public-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `${SNAPSHOT}: no permission added; not made public`,
        resources: [SNAPSHOT],
      });
    });

    it('looks up the tags only for a public share', () => {
      expect(ebsPublicSnapshot.lookups.map((l) => l.name)).toStrictEqual(['snapshot']);
      expect(lookup(ebsPublicSnapshot, 'snapshot').input(loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json'))).toStrictEqual({ SnapshotIds: [SNAPSHOT] });
      expect(lookup(ebsPublicSnapshot, 'snapshot').input(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'))).toBeUndefined();
    });

    it('gives an exempt verdict that shows what the exemption let through', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      const tagged = lookup(ebsPublicSnapshot, 'snapshot').select({ Snapshots: [{ SnapshotId: SNAPSHOT, Tags: [{ Key: 'remediation:exempt', Value: 'public dataset' }] }] });
      expect(evaluate(ebsPublicSnapshot, event, { snapshot: { status: 'ok', value: tagged } })).toStrictEqual({
        kind: 'exempt',
        reason: `${SNAPSHOT} is tagged remediation:exempt: public dataset`,
        resources: [SNAPSHOT],
        findings: [
          {
            code: 'public-snapshot',
            severity: 'critical',
            message: `Snapshot ${SNAPSHOT} was made public: any AWS account can create a volume from it and read its data.`,
            subject: 'createVolumePermission group all',
          },
        ],
      });
    });

    it('still reports a snapshot deleted since the event, with the plan whose read will find it gone (no silent skip)', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      const verdict = evaluate(ebsPublicSnapshot, event, { snapshot: { status: 'ok', value: null } });
      expect(verdict.kind).toBe('violation');
      expect(verdict.kind === 'violation' && verdict.summary).toBe(
        `snapshot ${SNAPSHOT} made public (createVolumePermission group all); DescribeSnapshots shows it no longer exists`,
      );
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual(planOf(ebsPublicSnapshot, event));
    });

    it('treats an add and remove of group all in one call as not public', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      event.detail.requestParameters = {
        snapshotId: SNAPSHOT,
        createVolumePermission: { add: { items: [{ group: 'all' }] }, remove: { items: [{ group: 'all' }] } },
      };
      expect(evaluate(ebsPublicSnapshot, event).kind).toBe('compliant');
    });

    it('cannot inspect an event that names no snapshot, and says so', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      delete (event.detail.requestParameters as Record<string, unknown>)['snapshotId'];
      expect(evaluate(ebsPublicSnapshot, event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no snapshot' });
    });
  });

  describe('execute', () => {
    beforeEach(() => ec2.reset());
    const plan = () => planOf(ebsPublicSnapshot, loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json'));
    const read = { SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission' };

    it('removes group all when the read before still lists it, and is applied because the read after no longer does', async () => {
      // Arrange
      snapshotPermissions(SNAPSHOT, [{ Group: 'all' }, { UserId: '444455556666' }]);
      // Act
      const report = await run(ebsPublicSnapshot, plan());
      // Assert
      expect(report.status).toBe('applied');
      expect(calls()).toStrictEqual(['DescribeSnapshotAttributeCommand', 'ModifySnapshotAttributeCommand', 'DescribeSnapshotAttributeCommand']);
      expect(inputs(DescribeSnapshotAttributeCommand)).toStrictEqual([read, read]);
      expect(inputs(ModifySnapshotAttributeCommand)).toStrictEqual([{ SnapshotId: SNAPSHOT, CreateVolumePermission: { Remove: [{ Group: 'all' }] } }]);
      expect(report.steps[0]).toMatchObject({
        status: 'applied',
        precondition: { state: 'needed', evidence: `${SNAPSHOT} is still shared with group all (createVolumePermission)` },
        verification: { state: 'done', evidence: `${SNAPSHOT} is no longer shared with group all (createVolumePermission now shared with account 444455556666)` },
      });
    });

    it('is "already fixed", never "applied", on a re-run, and writes once', async () => {
      snapshotPermissions(SNAPSHOT, [{ Group: 'all' }]);
      const first = await run(ebsPublicSnapshot, plan());
      const second = await run(ebsPublicSnapshot, plan());
      expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
      expect(inputs(ModifySnapshotAttributeCommand)).toHaveLength(1);
      expect(inputs(DescribeSnapshotAttributeCommand)).toStrictEqual([read, read, read]);
      expect(second.steps[0]).toMatchObject({
        status: 'already-done',
        precondition: { state: 'done', evidence: `${SNAPSHOT} is no longer shared with group all (createVolumePermission now shared with no one)` },
      });
    });

    it('is "unverified" when the read after still lists group all', async () => {
      snapshotPermissions(SNAPSHOT, [{ Group: 'all' }], { sticks: false });
      const report = await run(ebsPublicSnapshot, plan());
      expect(report.status).toBe('unverified');
      expect(inputs(ModifySnapshotAttributeCommand)).toHaveLength(1);
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: `${SNAPSHOT} is still shared with group all (createVolumePermission)` });
    });

    it('is "already fixed" with the evidence when the snapshot was deleted since the event, and writes nothing', async () => {
      snapshotPermissions(SNAPSHOT, [], { exists: false });
      const report = await run(ebsPublicSnapshot, plan());
      expect(report.status).toBe('already-fixed');
      expect(report.steps[0]?.precondition).toStrictEqual({ state: 'done', evidence: `snapshot ${SNAPSHOT} no longer exists` });
      expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(0);
    });

    it('believes InvalidSnapshot.NotFound from the write only after a read agrees (deleted between the read and the write)', async () => {
      let deleted = false;
      ec2.on(DescribeSnapshotAttributeCommand).callsFake(() => {
        if (deleted) throw notFound('InvalidSnapshot.NotFound', `The snapshot '${SNAPSHOT}' does not exist.`);
        return { SnapshotId: SNAPSHOT, CreateVolumePermissions: [{ Group: 'all' }] };
      });
      ec2.on(ModifySnapshotAttributeCommand).callsFake(() => {
        deleted = true;
        throw notFound('InvalidSnapshot.NotFound', `The snapshot '${SNAPSHOT}' does not exist.`);
      });
      const report = await run(ebsPublicSnapshot, plan());
      expect(report.status).toBe('already-fixed');
      expect(report.steps[0]).toMatchObject({ status: 'already-done', errorCode: 'InvalidSnapshot.NotFound', verification: { state: 'done' } });
      expect(inputs(DescribeSnapshotAttributeCommand)).toStrictEqual([read, read]);
    });
  });
});

describe('ebs-snapshot-shared-untrusted-account', () => {
  describe('evaluate', () => {
    it('notifies by default and would remove exactly the untrusted account, reading it before and after', () => {
      const config = parseConfig({}, rules);
      expect(config.rules['ebs-snapshot-shared-untrusted-account']?.mode).toBe('notify');
      const verdict = evaluate(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `snapshot ${SHARED_SNAPSHOT} shared with untrusted account 444455556666`,
        resources: [SHARED_SNAPSHOT],
        findings: [
          {
            code: 'snapshot-shared-untrusted-account',
            severity: 'medium',
            message: `Snapshot ${SHARED_SNAPSHOT} was shared with account 444455556666, which is not in trustedAccounts.`,
            subject: 'createVolumePermission account 444455556666',
          },
        ],
        plan: [
          {
            service: 'ec2',
            operation: 'ModifySnapshotAttribute',
            input: { SnapshotId: SHARED_SNAPSHOT, CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] } },
            reason: `Stop sharing ${SHARED_SNAPSHOT} with 444455556666: remove only that account from createVolumePermission. Trusted accounts stay.`,
            undo: {
              service: 'ec2',
              operation: 'ModifySnapshotAttribute',
              input: { SnapshotId: SHARED_SNAPSHOT, CreateVolumePermission: { Add: [{ UserId: '444455556666' }] } },
              reason: `Share ${SHARED_SNAPSHOT} with 444455556666 again.`,
            },
            alreadyDoneCodes: ['InvalidSnapshot.NotFound'],
            ...sharingChecks('snapshot', SHARED_SNAPSHOT, { userId: '444455556666' }),
          },
        ],
      });
    });

    it('is compliant when the account is in trustedAccounts', () => {
      const verdict = evaluate(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'), {}, { trustedAccounts: ['444455556666'] });
      expect(verdict).toStrictEqual({
        kind: 'compliant',
        summary: `${SHARED_SNAPSHOT}: shared only with trusted accounts (444455556666)`,
        resources: [SHARED_SNAPSHOT],
      });
    });

    it('leaves trusted accounts and the public group to their own handling in a mixed call', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-and-one-account.json');
      const request = event.detail.requestParameters as { createVolumePermission: { add: { items: unknown[] } } };
      request.createVolumePermission.add.items.push({ userId: '777788889999' });
      const [step, ...rest] = planOf(ebsSnapshotSharedUntrustedAccount, event, {}, { trustedAccounts: ['777788889999'] });
      expect(rest).toStrictEqual([]);
      expect(step?.input).toStrictEqual({ SnapshotId: 'snap-0a1b2c3d4e5f60003', CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] } });
      expect(step?.reason).toBe(
        'Stop sharing snap-0a1b2c3d4e5f60003 with 444455556666: remove only that account from createVolumePermission. Trusted accounts and the public group (its own rule) stay.',
      );
    });

    it('removes several untrusted accounts one step each, so each read and each answer is about one grant', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json');
      event.detail.requestParameters = {
        snapshotId: SHARED_SNAPSHOT,
        createVolumePermission: { add: { items: [{ userId: '444455556666' }, { userId: '999988887777' }] } },
      };
      const plan = planOf(ebsSnapshotSharedUntrustedAccount, event);
      expect(plan.map((step) => step.input)).toStrictEqual([
        { SnapshotId: SHARED_SNAPSHOT, CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] } },
        { SnapshotId: SHARED_SNAPSHOT, CreateVolumePermission: { Remove: [{ UserId: '999988887777' }] } },
      ]);
      expect(plan.map((step) => step.precondition?.expect)).toStrictEqual([
        { id: SHARED_SNAPSHOT, userId: '444455556666' },
        { id: SHARED_SNAPSHOT, userId: '999988887777' },
      ]);
    });

    it('reads the genuine Stratus Red Team detonation record', () => {
      const [step] = planOf(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-stratus-genuine-share-one-account.json'));
      expect(step?.input).toStrictEqual({ SnapshotId: 'snap-041993b54a9b3af6f', CreateVolumePermission: { Remove: [{ UserId: '098797384747' }] } });
    });

    it('never flags sharing with its own account', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json');
      event.detail.requestParameters = { snapshotId: SHARED_SNAPSHOT, createVolumePermission: { add: { items: [{ userId: '111122223333' }] } } };
      expect(evaluate(ebsSnapshotSharedUntrustedAccount, event).kind).toBe('compliant');
      expect(lookup(ebsSnapshotSharedUntrustedAccount, 'snapshot').input(event)).toBeUndefined();
    });
  });

  describe('execute', () => {
    beforeEach(() => ec2.reset());

    it('removes the untrusted account, is applied only once the read shows it gone, and is "already fixed" on a re-run', async () => {
      snapshotPermissions(SHARED_SNAPSHOT, [{ UserId: '444455556666' }, { UserId: '777788889999' }]);
      const plan = planOf(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      const first = await run(ebsSnapshotSharedUntrustedAccount, plan);
      const second = await run(ebsSnapshotSharedUntrustedAccount, plan);
      expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
      expect(inputs(ModifySnapshotAttributeCommand)).toStrictEqual([
        { SnapshotId: SHARED_SNAPSHOT, CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] } },
      ]);
      expect(first.steps[0]?.verification?.evidence).toBe(
        `${SHARED_SNAPSHOT} is no longer shared with account 444455556666 (createVolumePermission now shared with account 777788889999)`,
      );
    });

    it('finds the step done, not stale, when the sharing was changed to another account since the event: that share is its own event', async () => {
      // A grant cannot turn into another one: 444455556666 is gone (nothing left to remove), and the new share with 999988887777 raised its own ModifySnapshotAttribute event.
      snapshotPermissions(SHARED_SNAPSHOT, [{ UserId: '999988887777' }]);
      const plan = planOf(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      const report = await run(ebsSnapshotSharedUntrustedAccount, plan);
      expect(report.status).toBe('already-fixed');
      expect(report.steps[0]?.precondition).toStrictEqual({
        state: 'done',
        evidence: `${SHARED_SNAPSHOT} is no longer shared with account 444455556666 (createVolumePermission now shared with account 999988887777)`,
      });
      expect(ec2.commandCalls(ModifySnapshotAttributeCommand)).toHaveLength(0);
    });

    it('runs only the step still needed when one of two accounts was already removed', async () => {
      snapshotPermissions(SHARED_SNAPSHOT, [{ UserId: '999988887777' }]);
      const event = loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json');
      event.detail.requestParameters = {
        snapshotId: SHARED_SNAPSHOT,
        createVolumePermission: { add: { items: [{ userId: '444455556666' }, { userId: '999988887777' }] } },
      };
      const report = await run(ebsSnapshotSharedUntrustedAccount, planOf(ebsSnapshotSharedUntrustedAccount, event));
      expect(report.status).toBe('applied');
      expect(report.steps.map((s) => s.status)).toStrictEqual(['already-done', 'applied']);
      expect(inputs(ModifySnapshotAttributeCommand)).toStrictEqual([
        { SnapshotId: SHARED_SNAPSHOT, CreateVolumePermission: { Remove: [{ UserId: '999988887777' }] } },
      ]);
    });
  });
});

describe('ami-public', () => {
  describe('evaluate', () => {
    it('removes the launchPermission of group all and nothing else, reading it before and after', () => {
      const verdict = evaluate(amiPublic, loadEvent('ec2/ModifyImageAttribute-public-group-all.json'));
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `AMI ${IMAGE} made public (launchPermission group all)`,
        resources: [IMAGE],
        findings: [
          {
            code: 'public-ami',
            severity: 'high',
            message: `AMI ${IMAGE} was made public: any AWS account can launch it and read its volumes.`,
            subject: 'launchPermission group all',
          },
        ],
        plan: [
          {
            service: 'ec2',
            operation: 'ModifyImageAttribute',
            input: { ImageId: IMAGE, LaunchPermission: { Remove: [{ Group: 'all' }] } },
            reason: `Make ${IMAGE} private again: remove only the public launchPermission (group all). Account-specific shares stay.`,
            undo: {
              service: 'ec2',
              operation: 'ModifyImageAttribute',
              input: { ImageId: IMAGE, LaunchPermission: { Add: [{ Group: 'all' }] } },
              reason: `Make ${IMAGE} public again.`,
            },
            alreadyDoneCodes: ['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'],
            ...sharingChecks('image', IMAGE, { group: 'all' }),
          },
        ],
      });
    });

    it('is compliant for removals, account shares and other attributes', () => {
      for (const name of ['ModifyImageAttribute-remove-public-compliant', 'ModifyImageAttribute-shared-one-account', 'ModifyImageAttribute-description-compliant']) {
        expect(evaluate(amiPublic, loadEvent(`ec2/${name}.json`)).kind, name).toBe('compliant');
      }
    });

    it('honours the exemption tag and shows what it let through; reports a deregistered AMI with its plan', () => {
      const event = loadEvent('ec2/ModifyImageAttribute-public-group-all.json');
      const image = lookup(amiPublic, 'image').select({ Images: [{ ImageId: IMAGE, Public: true, Tags: [{ Key: 'remediation:exempt', Value: 'public base image' }] }] });
      const exempt = evaluate(amiPublic, event, { image: { status: 'ok', value: image } });
      expect(exempt.kind === 'exempt' && [exempt.reason, exempt.findings?.map((f) => [f.code, f.severity])]).toStrictEqual([
        `${IMAGE} is tagged remediation:exempt: public base image`,
        [['public-ami', 'high']],
      ]);
      const gone = evaluate(amiPublic, event, { image: { status: 'ok', value: lookup(amiPublic, 'image').select({ Images: [] }) } });
      expect(gone.kind === 'violation' && gone.summary).toBe(`AMI ${IMAGE} made public (launchPermission group all); DescribeImages shows it no longer exists`);
    });
  });

  describe('execute', () => {
    beforeEach(() => ec2.reset());
    const plan = () => planOf(amiPublic, loadEvent('ec2/ModifyImageAttribute-public-group-all.json'));
    const read = { ImageId: IMAGE, Attribute: 'launchPermission' };

    it('removes group all, is applied once DescribeImageAttribute shows it gone, and "already fixed" on a re-run', async () => {
      imagePermissions(IMAGE, [{ Group: 'all' }]);
      const first = await run(amiPublic, plan());
      const second = await run(amiPublic, plan());
      expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
      expect(calls()).toStrictEqual([
        'DescribeImageAttributeCommand',
        'ModifyImageAttributeCommand',
        'DescribeImageAttributeCommand',
        'DescribeImageAttributeCommand',
      ]);
      expect(inputs(DescribeImageAttributeCommand)).toStrictEqual([read, read, read]);
      expect(inputs(ModifyImageAttributeCommand)).toStrictEqual([{ ImageId: IMAGE, LaunchPermission: { Remove: [{ Group: 'all' }] } }]);
      expect(second.steps[0]?.precondition).toStrictEqual({ state: 'done', evidence: `${IMAGE} is no longer shared with group all (launchPermission now shared with no one)` });
    });

    it('is "unverified" when the read after still lists group all', async () => {
      imagePermissions(IMAGE, [{ Group: 'all' }], { sticks: false });
      const report = await run(amiPublic, plan());
      expect(report.status).toBe('unverified');
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: `${IMAGE} is still shared with group all (launchPermission)` });
    });

    it('is "already fixed" for an AMI deregistered since the event (InvalidAMIID.Unavailable), with no write', async () => {
      imagePermissions(IMAGE, [], { exists: false });
      const report = await run(amiPublic, plan());
      expect(report.status).toBe('already-fixed');
      expect(report.steps[0]?.precondition).toStrictEqual({ state: 'done', evidence: `AMI ${IMAGE} no longer exists` });
      expect(ec2.commandCalls(ModifyImageAttributeCommand)).toHaveLength(0);
    });

    it('fails without writing when the answer is about another AMI', async () => {
      ec2.on(DescribeImageAttributeCommand).resolves({ ImageId: 'ami-0ffffffffffffffff', LaunchPermissions: [] });
      const report = await run(amiPublic, plan());
      expect(report.status).toBe('failed');
      expect(report.steps[0]?.precondition?.state).toBe('unreadable');
      expect(ec2.commandCalls(ModifyImageAttributeCommand)).toHaveLength(0);
    });
  });
});

describe('ami-shared-untrusted-account', () => {
  it('notifies by default and would remove exactly the untrusted account of the genuine Stratus record', () => {
    expect(parseConfig({}, rules).rules['ami-shared-untrusted-account']?.mode).toBe('notify');
    const plan = planOf(amiSharedUntrustedAccount, loadEvent('ec2/ModifyImageAttribute-stratus-genuine-share-one-account.json'));
    expect(plan).toStrictEqual([
      {
        service: 'ec2',
        operation: 'ModifyImageAttribute',
        input: { ImageId: 'ami-de1fbCab6ccB03e6D', LaunchPermission: { Remove: [{ UserId: '846424999548' }] } },
        reason: 'Stop sharing ami-de1fbCab6ccB03e6D with 846424999548: remove only that account from launchPermission. Trusted accounts stay.',
        undo: {
          service: 'ec2',
          operation: 'ModifyImageAttribute',
          input: { ImageId: 'ami-de1fbCab6ccB03e6D', LaunchPermission: { Add: [{ UserId: '846424999548' }] } },
          reason: 'Share ami-de1fbCab6ccB03e6D with 846424999548 again.',
        },
        alreadyDoneCodes: ['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'],
        ...sharingChecks('image', 'ami-de1fbCab6ccB03e6D', { userId: '846424999548' }),
      },
    ]);
  });

  it('does not flag organization shares or trusted accounts', () => {
    const event = loadEvent('ec2/ModifyImageAttribute-shared-one-account.json');
    expect(evaluate(amiSharedUntrustedAccount, event, {}, { trustedAccounts: ['444455556666'] }).kind).toBe('compliant');
    event.detail.requestParameters = {
      imageId: SHARED_IMAGE,
      attributeType: 'launchPermission',
      launchPermission: { add: { items: [{ organizationArn: 'arn:aws:organizations::111122223333:organization/o-exampleorgid' }] } },
    };
    expect(evaluate(amiSharedUntrustedAccount, event).kind).toBe('compliant');
  });

  it('removes the account once and reads DescribeImageAttribute before and after; a re-run is "already fixed"', async () => {
    ec2.reset();
    imagePermissions(SHARED_IMAGE, [{ UserId: '444455556666' }]);
    const plan = planOf(amiSharedUntrustedAccount, loadEvent('ec2/ModifyImageAttribute-shared-one-account.json'));
    const first = await run(amiSharedUntrustedAccount, plan);
    const second = await run(amiSharedUntrustedAccount, plan);
    expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
    expect(inputs(ModifyImageAttributeCommand)).toStrictEqual([{ ImageId: SHARED_IMAGE, LaunchPermission: { Remove: [{ UserId: '444455556666' }] } }]);
    expect(inputs(DescribeImageAttributeCommand)).toHaveLength(3);
  });
});
