import {
  DescribeImageAttributeCommand,
  type DescribeImageAttributeCommandInput,
  EC2Client,
  EC2ServiceException,
  ModifyImageAttributeCommand,
  type ModifyImageAttributeCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { executePlan } from '../../engine/executor.js';
import type { Plan } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { ebsFamily } from '../../remediations/ebs/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { lookupOf, registeredRule } from '../helpers/registered.js';
import { ruleEvaluator, TEST_REGION, type EvaluateOptions } from '../helpers/rule-harness.js';

const ebsCommands = runtimeCommands(ebsFamily);
const rule = registeredRule('ami-public');
const evaluate = ruleEvaluator('ami-public');
const ec2 = mockClient(EC2Client);

const IMAGE = 'ami-0a1b2c3d4e5f60001';

/** The plan of the verdict, which the test expects to be a violation. */
function planOf(event: CloudTrailEvent, options?: EvaluateOptions): Plan {
  const verdict = evaluate(event, options);
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}`);
  return verdict.plan;
}

/** The precondition and verification of one removal, as the plan carries them. */
function sharingChecks(id: string, grant: { group: string } | { userId: string }) {
  const label = 'group' in grant ? `group ${grant.group}` : `account ${grant.userId}`;
  const read = {
    service: 'ec2',
    operation: 'DescribeImageAttribute',
    input: { ImageId: id, Attribute: 'launchPermission' },
    probe: 'imageSharing',
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
 * An AMI's launchPermission as EC2 keeps it: DescribeImageAttribute answers
 * the present list, ModifyImageAttribute removes entries (removing an entry
 * that is not there succeeds silently, as it does in EC2). `sticks: false`
 * models a change that does not hold.
 */
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

const gateway = () => createAwsGateway(ebsCommands, { region: TEST_REGION });
const run = (plan: Plan) => executePlan(plan, gateway(), { probes: rule.probes });
const inputs = (command: Parameters<typeof ec2.commandCalls>[0]) => ec2.commandCalls(command).map((call) => call.args[0].input);
const calls = () => ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);
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
