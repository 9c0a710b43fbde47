import { DescribeImageAttributeCommand, EC2Client, ModifyImageAttributeCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadEvent } from '../helpers/fixtures.js';
import { lookupOf } from '../helpers/registered.js';
import { sharingHarness } from '../helpers/ebs-sharing.js';

const ec2 = mockClient(EC2Client);
const { rule, evaluate, planOf, sharingChecks, imagePermissions, run, inputs, calls } = sharingHarness('ami-public', 'image', ec2);

const IMAGE = 'ami-0a1b2c3d4e5f60001';

describe('ami-public', () => {
  describe('evaluate', () => {
    it('removes the launchPermission of group all and nothing else, reading it before and after', () => {
      const verdict = evaluate(loadEvent('ec2/ModifyImageAttribute-public-group-all.json'));
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
            ...sharingChecks(IMAGE, { group: 'all' }),
          },
        ],
      });
    });

    it('is compliant for removals, account shares and other attributes', () => {
      for (const name of ['ModifyImageAttribute-remove-public-compliant', 'ModifyImageAttribute-shared-one-account', 'ModifyImageAttribute-description-compliant']) {
        expect(evaluate(loadEvent(`ec2/${name}.json`)).kind, name).toBe('compliant');
      }
    });

    it('honours the exemption tag and shows what it let through; reports a deregistered AMI with its plan', () => {
      const event = loadEvent('ec2/ModifyImageAttribute-public-group-all.json');
      const image = lookupOf(rule).select({ Images: [{ ImageId: IMAGE, Public: true, Tags: [{ Key: 'remediation:exempt', Value: 'public base image' }] }] });
      const exempt = evaluate(event, { facts: { image: { status: 'ok', value: image } } });
      expect(exempt.kind === 'exempt' && [exempt.reason, exempt.findings?.map((f) => [f.code, f.severity])]).toStrictEqual([
        `${IMAGE} is tagged remediation:exempt: public base image`,
        [['public-ami', 'high']],
      ]);
      const gone = evaluate(event, { facts: { image: { status: 'ok', value: lookupOf(rule).select({ Images: [] }) } } });
      expect(gone.kind === 'violation' && gone.summary).toBe(`AMI ${IMAGE} made public (launchPermission group all); DescribeImages shows it no longer exists`);
    });
  });

  describe('execute', () => {
    beforeEach(() => ec2.reset());
    const plan = () => planOf(loadEvent('ec2/ModifyImageAttribute-public-group-all.json'));
    const read = { ImageId: IMAGE, Attribute: 'launchPermission' };

    it('removes group all, is applied once DescribeImageAttribute shows it gone, and "already fixed" on a re-run', async () => {
      imagePermissions(IMAGE, [{ Group: 'all' }]);
      const first = await run(plan());
      const second = await run(plan());
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
      const report = await run(plan());
      expect(report.status).toBe('unverified');
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: `${IMAGE} is still shared with group all (launchPermission)` });
    });

    it('is "already fixed" for an AMI deregistered since the event (InvalidAMIID.Unavailable), with no write', async () => {
      imagePermissions(IMAGE, [], { exists: false });
      const report = await run(plan());
      expect(report.status).toBe('already-fixed');
      expect(report.steps[0]?.precondition).toStrictEqual({ state: 'done', evidence: `AMI ${IMAGE} no longer exists` });
      expect(ec2.commandCalls(ModifyImageAttributeCommand)).toHaveLength(0);
    });

    it('fails without writing when the answer is about another AMI', async () => {
      ec2.on(DescribeImageAttributeCommand).resolves({ ImageId: 'ami-0ffffffffffffffff', LaunchPermissions: [] });
      const report = await run(plan());
      expect(report.status).toBe('failed');
      expect(report.steps[0]?.precondition?.state).toBe('unreadable');
      expect(ec2.commandCalls(ModifyImageAttributeCommand)).toHaveLength(0);
    });
  });
});
