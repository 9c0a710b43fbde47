import {
  DescribeImageAttributeCommand,
  type DescribeImageAttributeCommandInput,
  EC2Client,
  EC2ServiceException,
  ModifyImageAttributeCommand,
  type ModifyImageAttributeCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import { parseConfig } from '../../engine/config.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { executePlan } from '../../engine/executor.js';
import type { Plan } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { ebsFamily } from '../../remediations/ebs/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { ruleEvaluator, TEST_REGION, type EvaluateOptions } from '../helpers/rule-harness.js';

const ebsCommands = runtimeCommands(ebsFamily);
const rule = registeredRule('ami-shared-untrusted-account');
const evaluate = ruleEvaluator('ami-shared-untrusted-account');
const ec2 = mockClient(EC2Client);

const SHARED_IMAGE = 'ami-0a1b2c3d4e5f60002';

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
describe('ami-shared-untrusted-account', () => {
  it('notifies by default and would remove exactly the untrusted account of the genuine Stratus record', () => {
    expect(parseConfig({}, [rule]).rules['ami-shared-untrusted-account']?.mode).toBe('notify');
    const plan = planOf(loadEvent('ec2/ModifyImageAttribute-stratus-genuine-share-one-account.json'));
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
        ...sharingChecks('ami-de1fbCab6ccB03e6D', { userId: '846424999548' }),
      },
    ]);
  });

  it('does not flag organization shares or trusted accounts', () => {
    const event = loadEvent('ec2/ModifyImageAttribute-shared-one-account.json');
    expect(evaluate(event, { config: { trustedAccounts: ['444455556666'] } }).kind).toBe('compliant');
    event.detail.requestParameters = {
      imageId: SHARED_IMAGE,
      attributeType: 'launchPermission',
      launchPermission: { add: { items: [{ organizationArn: 'arn:aws:organizations::111122223333:organization/o-exampleorgid' }] } },
    };
    expect(evaluate(event).kind).toBe('compliant');
  });

  it('removes the account once and reads DescribeImageAttribute before and after; a re-run is "already fixed"', async () => {
    ec2.reset();
    imagePermissions(SHARED_IMAGE, [{ UserId: '444455556666' }]);
    const plan = planOf(loadEvent('ec2/ModifyImageAttribute-shared-one-account.json'));
    const first = await run(plan);
    const second = await run(plan);
    expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
    expect(inputs(ModifyImageAttributeCommand)).toStrictEqual([{ ImageId: SHARED_IMAGE, LaunchPermission: { Remove: [{ UserId: '444455556666' }] } }]);
    expect(inputs(DescribeImageAttributeCommand)).toHaveLength(3);
  });
});
