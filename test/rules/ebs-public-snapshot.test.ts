import { DescribeSnapshotAttributeCommand, EC2Client, ModifySnapshotAttributeCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadEvent } from '../helpers/fixtures.js';
import { lookupOf } from '../helpers/registered.js';
import { sharingHarness } from '../helpers/ebs-sharing.js';

const ec2 = mockClient(EC2Client);
const { rule, evaluate, planOf, sharingChecks, notFound, snapshotPermissions, run, inputs, calls } = sharingHarness('ebs-public-snapshot', 'snapshot', ec2);

const SNAPSHOT = 'snap-0a1b2c3d4e5f60001';

describe('ebs-public-snapshot', () => {
  describe('evaluate', () => {
    it('removes the createVolumePermission of group all and nothing else, reading it before and after', () => {
      // Arrange
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      // Act
      const verdict = evaluate(event);
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
            ...sharingChecks(SNAPSHOT, { group: 'all' }),
          },
        ],
      });
    });

    it('keeps the account shared in the same call: only group all is removed', () => {
      const [step] = planOf(loadEvent('ec2/ModifySnapshotAttribute-public-and-one-account.json'));
      expect(step?.input).toStrictEqual({ SnapshotId: 'snap-0a1b2c3d4e5f60003', CreateVolumePermission: { Remove: [{ Group: 'all' }] } });
      expect(step?.reason).toBe(
        'Make snap-0a1b2c3d4e5f60003 private again: remove only the public createVolumePermission (group all). The accounts it was shared with individually (444455556666) keep their access.',
      );
    });

    it('is compliant for a share with one account and for a removal', () => {
      expect(evaluate(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'))).toStrictEqual({
        kind: 'compliant',
        summary: 'snap-0a1b2c3d4e5f60002: shared with account 444455556666; not made public',
        resources: ['snap-0a1b2c3d4e5f60002'],
      });
      expect(evaluate(loadEvent('ec2/ModifySnapshotAttribute-remove-public-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `${SNAPSHOT}: no permission added; not made public`,
        resources: [SNAPSHOT],
      });
    });

    it('looks up the tags only for a public share', () => {
      expect(rule.lookups.map((l) => l.name)).toStrictEqual(['snapshot']);
      expect(lookupOf(rule).input(loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json'))).toStrictEqual({ SnapshotIds: [SNAPSHOT] });
      expect(lookupOf(rule).input(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'))).toBeUndefined();
    });

    it('gives an exempt verdict that shows what the exemption let through', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      const tagged = lookupOf(rule).select({ Snapshots: [{ SnapshotId: SNAPSHOT, Tags: [{ Key: 'remediation:exempt', Value: 'public dataset' }] }] });
      expect(evaluate(event, { facts: { snapshot: { status: 'ok', value: tagged } } })).toStrictEqual({
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
      const verdict = evaluate(event, { facts: { snapshot: { status: 'ok', value: null } } });
      expect(verdict.kind).toBe('violation');
      expect(verdict.kind === 'violation' && verdict.summary).toBe(
        `snapshot ${SNAPSHOT} made public (createVolumePermission group all); DescribeSnapshots shows it no longer exists`,
      );
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual(planOf(event));
    });

    it('treats an add and remove of group all in one call as not public', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      event.detail.requestParameters = {
        snapshotId: SNAPSHOT,
        createVolumePermission: { add: { items: [{ group: 'all' }] }, remove: { items: [{ group: 'all' }] } },
      };
      expect(evaluate(event).kind).toBe('compliant');
    });

    it('cannot inspect an event that names no snapshot, and says so', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      delete (event.detail.requestParameters as Record<string, unknown>)['snapshotId'];
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no snapshot' });
    });
  });

  describe('execute', () => {
    beforeEach(() => ec2.reset());
    const plan = () => planOf(loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json'));
    const read = { SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission' };

    it('removes group all when the read before still lists it, and is applied because the read after no longer does', async () => {
      // Arrange
      snapshotPermissions(SNAPSHOT, [{ Group: 'all' }, { UserId: '444455556666' }]);
      // Act
      const report = await run(plan());
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
      const first = await run(plan());
      const second = await run(plan());
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
      const report = await run(plan());
      expect(report.status).toBe('unverified');
      expect(inputs(ModifySnapshotAttributeCommand)).toHaveLength(1);
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: `${SNAPSHOT} is still shared with group all (createVolumePermission)` });
    });

    it('is "already fixed" with the evidence when the snapshot was deleted since the event, and writes nothing', async () => {
      snapshotPermissions(SNAPSHOT, [], { exists: false });
      const report = await run(plan());
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
      const report = await run(plan());
      expect(report.status).toBe('already-fixed');
      expect(report.steps[0]).toMatchObject({ status: 'already-done', errorCode: 'InvalidSnapshot.NotFound', verification: { state: 'done' } });
      expect(inputs(DescribeSnapshotAttributeCommand)).toStrictEqual([read, read]);
    });
  });
});
