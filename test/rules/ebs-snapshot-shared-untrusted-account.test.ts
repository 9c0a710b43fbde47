import { EC2Client, ModifySnapshotAttributeCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { loadEvent } from '../helpers/fixtures.js';
import { lookupOf } from '../helpers/registered.js';
import { sharingHarness } from '../helpers/ebs-sharing.js';

const ec2 = mockClient(EC2Client);
const { rule, evaluate, planOf, sharingChecks, snapshotPermissions, run, inputs } = sharingHarness('ebs-snapshot-shared-untrusted-account', 'snapshot', ec2);

const SHARED_SNAPSHOT = 'snap-0a1b2c3d4e5f60002';

describe('ebs-snapshot-shared-untrusted-account', () => {
  describe('evaluate', () => {
    it('notifies by default and would remove exactly the untrusted account, reading it before and after', () => {
      const config = parseConfig({}, [rule]);
      expect(config.rules['ebs-snapshot-shared-untrusted-account']?.mode).toBe('notify');
      const verdict = evaluate(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
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
            ...sharingChecks(SHARED_SNAPSHOT, { userId: '444455556666' }),
          },
        ],
      });
    });

    it('is compliant when the account is in trustedAccounts', () => {
      const verdict = evaluate(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'), { config: { trustedAccounts: ['444455556666'] } });
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
      const [step, ...rest] = planOf(event, { config: { trustedAccounts: ['777788889999'] } });
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
      const plan = planOf(event);
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
      const [step] = planOf(loadEvent('ec2/ModifySnapshotAttribute-stratus-genuine-share-one-account.json'));
      expect(step?.input).toStrictEqual({ SnapshotId: 'snap-041993b54a9b3af6f', CreateVolumePermission: { Remove: [{ UserId: '098797384747' }] } });
    });

    it('never flags sharing with its own account', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json');
      event.detail.requestParameters = { snapshotId: SHARED_SNAPSHOT, createVolumePermission: { add: { items: [{ userId: '111122223333' }] } } };
      expect(evaluate(event).kind).toBe('compliant');
      expect(lookupOf(rule).input(event)).toBeUndefined();
    });
  });

  describe('execute', () => {
    beforeEach(() => ec2.reset());

    it('removes the untrusted account, is applied only once the read shows it gone, and is "already fixed" on a re-run', async () => {
      snapshotPermissions(SHARED_SNAPSHOT, [{ UserId: '444455556666' }, { UserId: '777788889999' }]);
      const plan = planOf(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      const first = await run(plan);
      const second = await run(plan);
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
      const plan = planOf(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      const report = await run(plan);
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
      const report = await run(planOf(event));
      expect(report.status).toBe('applied');
      expect(report.steps.map((s) => s.status)).toStrictEqual(['already-done', 'applied']);
      expect(inputs(ModifySnapshotAttributeCommand)).toStrictEqual([
        { SnapshotId: SHARED_SNAPSHOT, CreateVolumePermission: { Remove: [{ UserId: '999988887777' }] } },
      ]);
    });
  });
});
