import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import type { CloudTrailEvent } from '../engine/event.js';
import type { Facts, Lookup, Rule, Verdict } from '../engine/types.js';
import { amiPublic } from '../remediations/ebs/ami-public.js';
import { amiSharedUntrustedAccount } from '../remediations/ebs/ami-shared-untrusted-account.js';
import { ebsPublicSnapshot } from '../remediations/ebs/ebs-public-snapshot.js';
import { ebsSnapshotSharedUntrustedAccount } from '../remediations/ebs/ebs-snapshot-shared-untrusted-account.js';
import { loadEvent } from './helpers/fixtures.js';

const NOW = new Date('2025-03-10T00:00:00Z');
const rules: Rule[] = [ebsPublicSnapshot, ebsSnapshotSharedUntrustedAccount, amiPublic, amiSharedUntrustedAccount];

function evaluate(rule: Rule, event: CloudTrailEvent, facts: Facts = {}, rawConfig: unknown = {}): Verdict {
  const config = parseConfig(rawConfig, rules);
  return rule.evaluate(event, facts, { config, settings: {}, now: NOW });
}

function lookup(rule: Rule, name: string): Lookup {
  const found = rule.lookups?.find((l) => l.name === name);
  if (!found) throw new Error(name);
  return found;
}

const SNAPSHOT = 'snap-0a1b2c3d4e5f60001';
const IMAGE = 'ami-0a1b2c3d4e5f60001';

describe('ebs-public-snapshot', () => {
  describe('evaluate', () => {
    it('removes the createVolumePermission of group all and nothing else', () => {
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
          },
        ],
      });
    });

    it('keeps the account shared in the same call: only group all is removed', () => {
      const verdict = evaluate(ebsPublicSnapshot, loadEvent('ec2/ModifySnapshotAttribute-public-and-one-account.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        SnapshotId: 'snap-0a1b2c3d4e5f60003',
        CreateVolumePermission: { Remove: [{ Group: 'all' }] },
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.reason).toBe(
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

    it('looks up tags and current permissions only for a public share', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      expect(lookup(ebsPublicSnapshot, 'snapshot').input(event)).toStrictEqual({ SnapshotIds: [SNAPSHOT] });
      expect(lookup(ebsPublicSnapshot, 'snapshotPermissions').input(event)).toStrictEqual({ SnapshotId: SNAPSHOT, Attribute: 'createVolumePermission' });
      expect(lookup(ebsPublicSnapshot, 'snapshot').input(loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'))).toBeUndefined();
    });

    it('reports the removal already done when DescribeSnapshotAttribute no longer lists group all', () => {
      const current = lookup(ebsPublicSnapshot, 'snapshotPermissions').select({ CreateVolumePermissions: [{ UserId: '444455556666' }] });
      const verdict = evaluate(ebsPublicSnapshot, loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json'), {
        snapshotPermissions: { status: 'ok', value: current },
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.alreadyDone).toBe(`DescribeSnapshotAttribute shows ${SNAPSHOT} is no longer shared with group all`);
      const stillPublic = lookup(ebsPublicSnapshot, 'snapshotPermissions').select({ CreateVolumePermissions: [{ Group: 'all' }] });
      const again = evaluate(ebsPublicSnapshot, loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json'), {
        snapshotPermissions: { status: 'ok', value: stillPublic },
      });
      expect(again.kind === 'violation' && again.plan[0]?.alreadyDone).toBeUndefined();
    });

    it('gives an exempt verdict for a snapshot carrying the exemption tag, and skips a deleted one', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      const tagged = lookup(ebsPublicSnapshot, 'snapshot').select({ Snapshots: [{ SnapshotId: SNAPSHOT, Tags: [{ Key: 'remediation:exempt', Value: 'public dataset' }] }] });
      expect(evaluate(ebsPublicSnapshot, event, { snapshot: { status: 'ok', value: tagged } })).toStrictEqual({
        kind: 'exempt',
        reason: `${SNAPSHOT} is tagged remediation:exempt: public dataset`,
        resources: [SNAPSHOT],
      });
      expect(evaluate(ebsPublicSnapshot, event, { snapshot: { status: 'ok', value: null } })).toStrictEqual({
        kind: 'skipped',
        reason: `snapshot ${SNAPSHOT} no longer exists`,
        resources: [SNAPSHOT],
      });
    });

    it('treats an add and remove of group all in one call as not public', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      event.detail.requestParameters = {
        snapshotId: SNAPSHOT,
        createVolumePermission: { add: { items: [{ group: 'all' }] }, remove: { items: [{ group: 'all' }] } },
      };
      expect(evaluate(ebsPublicSnapshot, event).kind).toBe('compliant');
    });

    it('skips an event that names no snapshot', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-group-all.json');
      delete (event.detail.requestParameters as Record<string, unknown>)['snapshotId'];
      expect(evaluate(ebsPublicSnapshot, event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no snapshot' });
    });
  });
});

describe('ebs-snapshot-shared-untrusted-account', () => {
  describe('evaluate', () => {
    it('notifies by default and would remove exactly the untrusted account', () => {
      const config = parseConfig({}, rules);
      expect(config.rules['ebs-snapshot-shared-untrusted-account']?.mode).toBe('notify');
      const verdict = evaluate(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'));
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'snapshot snap-0a1b2c3d4e5f60002 shared with untrusted account 444455556666',
        resources: ['snap-0a1b2c3d4e5f60002'],
        findings: [
          {
            code: 'snapshot-shared-untrusted-account',
            severity: 'medium',
            message: 'Snapshot snap-0a1b2c3d4e5f60002 was shared with account 444455556666, which is not in trustedAccounts.',
            subject: 'createVolumePermission account 444455556666',
          },
        ],
        plan: [
          {
            service: 'ec2',
            operation: 'ModifySnapshotAttribute',
            input: { SnapshotId: 'snap-0a1b2c3d4e5f60002', CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] } },
            reason: 'Stop sharing snap-0a1b2c3d4e5f60002 with 444455556666: remove only that account from createVolumePermission. Trusted accounts stay.',
            undo: {
              service: 'ec2',
              operation: 'ModifySnapshotAttribute',
              input: { SnapshotId: 'snap-0a1b2c3d4e5f60002', CreateVolumePermission: { Add: [{ UserId: '444455556666' }] } },
              reason: 'Share snap-0a1b2c3d4e5f60002 with 444455556666 again.',
            },
          },
        ],
      });
    });

    it('is compliant when the account is in trustedAccounts', () => {
      const verdict = evaluate(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'), {}, { trustedAccounts: ['444455556666'] });
      expect(verdict).toStrictEqual({
        kind: 'compliant',
        summary: 'snap-0a1b2c3d4e5f60002: shared only with trusted accounts (444455556666)',
        resources: ['snap-0a1b2c3d4e5f60002'],
      });
    });

    it('leaves trusted accounts and the public group to their own handling in a mixed call', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-public-and-one-account.json');
      const request = event.detail.requestParameters as { createVolumePermission: { add: { items: unknown[] } } };
      request.createVolumePermission.add.items.push({ userId: '777788889999' });
      const verdict = evaluate(ebsSnapshotSharedUntrustedAccount, event, {}, { trustedAccounts: ['777788889999'] });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        SnapshotId: 'snap-0a1b2c3d4e5f60003',
        CreateVolumePermission: { Remove: [{ UserId: '444455556666' }] },
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.reason).toBe(
        'Stop sharing snap-0a1b2c3d4e5f60003 with 444455556666: remove only that account from createVolumePermission. Trusted accounts and the public group (its own rule) stay.',
      );
    });

    it('reads the genuine Stratus Red Team detonation record', () => {
      const verdict = evaluate(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-stratus-genuine-share-one-account.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        SnapshotId: 'snap-041993b54a9b3af6f',
        CreateVolumePermission: { Remove: [{ UserId: '098797384747' }] },
      });
    });

    it('never flags sharing with its own account', () => {
      const event = loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json');
      event.detail.requestParameters = { snapshotId: 'snap-0a1b2c3d4e5f60002', createVolumePermission: { add: { items: [{ userId: '111122223333' }] } } };
      expect(evaluate(ebsSnapshotSharedUntrustedAccount, event).kind).toBe('compliant');
      expect(lookup(ebsSnapshotSharedUntrustedAccount, 'snapshot').input(event)).toBeUndefined();
    });

    it('reports already done when DescribeSnapshotAttribute no longer lists the account', () => {
      const current = lookup(ebsSnapshotSharedUntrustedAccount, 'snapshotPermissions').select({ CreateVolumePermissions: [] });
      const verdict = evaluate(ebsSnapshotSharedUntrustedAccount, loadEvent('ec2/ModifySnapshotAttribute-shared-one-account.json'), {
        snapshotPermissions: { status: 'ok', value: current },
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.alreadyDone).toBe(
        'DescribeSnapshotAttribute shows snap-0a1b2c3d4e5f60002 is no longer shared with 444455556666',
      );
    });
  });
});

describe('ami-public', () => {
  describe('evaluate', () => {
    it('removes the launchPermission of group all and nothing else', () => {
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
          },
        ],
      });
    });

    it('is compliant for removals, account shares and other attributes', () => {
      for (const name of ['ModifyImageAttribute-remove-public-compliant', 'ModifyImageAttribute-shared-one-account', 'ModifyImageAttribute-description-compliant']) {
        expect(evaluate(amiPublic, loadEvent(`ec2/${name}.json`)).kind, name).toBe('compliant');
      }
    });

    it('reports already done when DescribeImages says the AMI is no longer public, and honours the exemption tag', () => {
      const event = loadEvent('ec2/ModifyImageAttribute-public-group-all.json');
      const image = (tags: unknown[], isPublic: boolean) => lookup(amiPublic, 'image').select({ Images: [{ ImageId: IMAGE, Public: isPublic, Tags: tags }] });
      const done = evaluate(amiPublic, event, { image: { status: 'ok', value: image([], false) } });
      expect(done.kind === 'violation' && done.plan[0]?.alreadyDone).toBe(`DescribeImages shows ${IMAGE} is no longer public`);
      const stillPublic = evaluate(amiPublic, event, { image: { status: 'ok', value: image([], true) } });
      expect(stillPublic.kind === 'violation' && stillPublic.plan[0]?.alreadyDone).toBeUndefined();
      expect(evaluate(amiPublic, event, { image: { status: 'ok', value: image([{ Key: 'remediation:exempt', Value: 'public base image' }], true) } })).toStrictEqual({
        kind: 'exempt',
        reason: `${IMAGE} is tagged remediation:exempt: public base image`,
        resources: [IMAGE],
      });
    });

    it('skips a deregistered AMI', () => {
      const verdict = evaluate(amiPublic, loadEvent('ec2/ModifyImageAttribute-public-group-all.json'), {
        image: { status: 'ok', value: lookup(amiPublic, 'image').select({ Images: [] }) },
      });
      expect(verdict).toStrictEqual({ kind: 'skipped', reason: `AMI ${IMAGE} no longer exists`, resources: [IMAGE] });
    });
  });
});

describe('ami-shared-untrusted-account', () => {
  it('notifies by default and would remove exactly the untrusted account of the genuine Stratus record', () => {
    expect(parseConfig({}, rules).rules['ami-shared-untrusted-account']?.mode).toBe('notify');
    const verdict = evaluate(amiSharedUntrustedAccount, loadEvent('ec2/ModifyImageAttribute-stratus-genuine-share-one-account.json'));
    expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
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
      },
    ]);
  });

  it('does not flag organization shares or trusted accounts', () => {
    const event = loadEvent('ec2/ModifyImageAttribute-shared-one-account.json');
    expect(evaluate(amiSharedUntrustedAccount, event, {}, { trustedAccounts: ['444455556666'] }).kind).toBe('compliant');
    event.detail.requestParameters = {
      imageId: 'ami-0a1b2c3d4e5f60002',
      attributeType: 'launchPermission',
      launchPermission: { add: { items: [{ organizationArn: 'arn:aws:organizations::111122223333:organization/o-exampleorgid' }] } },
    };
    expect(evaluate(amiSharedUntrustedAccount, event).kind).toBe('compliant');
  });

  it('looks up the current launch permissions and reports already done when the account is gone', () => {
    const event = loadEvent('ec2/ModifyImageAttribute-shared-one-account.json');
    expect(lookup(amiSharedUntrustedAccount, 'imagePermissions').input(event)).toStrictEqual({ ImageId: 'ami-0a1b2c3d4e5f60002', Attribute: 'launchPermission' });
    const current = lookup(amiSharedUntrustedAccount, 'imagePermissions').select({ LaunchPermissions: [{ UserId: '999999999999' }] });
    const verdict = evaluate(amiSharedUntrustedAccount, event, { imagePermissions: { status: 'ok', value: current } });
    expect(verdict.kind === 'violation' && verdict.plan[0]?.alreadyDone).toBe('DescribeImageAttribute shows ami-0a1b2c3d4e5f60002 is no longer shared with 444455556666');
  });
});
