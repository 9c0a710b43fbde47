/**
 * What the four sharing rules' tests share (ebs-public-snapshot,
 * ebs-snapshot-shared-untrusted-account, ami-public,
 * ami-shared-untrusted-account): the rule evaluated as the engine does, the
 * reads before and after each removal as the plan carries them, and a
 * snapshot's or an AMI's permission list as EC2 keeps it, behind the caller's
 * EC2 mock.
 */
import {
  DescribeImageAttributeCommand,
  type DescribeImageAttributeCommandInput,
  DescribeSnapshotAttributeCommand,
  type DescribeSnapshotAttributeCommandInput,
  EC2ServiceException,
  ModifyImageAttributeCommand,
  type ModifyImageAttributeCommandInput,
  ModifySnapshotAttributeCommand,
  type ModifySnapshotAttributeCommandInput,
} from '@aws-sdk/client-ec2';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { createAwsGateway } from '../../engine/aws.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { executePlan } from '../../engine/executor.js';
import type { Plan } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { ebsFamily } from '../../remediations/ebs/index.js';
import { registeredRule } from './registered.js';
import { ruleEvaluator, TEST_REGION, type EvaluateOptions } from './rule-harness.js';

type Permission = { Group?: 'all'; UserId?: string };
type Grant = { group: string } | { userId: string };

const notFound = (name: string, message: string) => new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });

const KINDS = {
  snapshot: { operation: 'DescribeSnapshotAttribute', idField: 'SnapshotId', attribute: 'createVolumePermission', probe: 'snapshotSharing' },
  image: { operation: 'DescribeImageAttribute', idField: 'ImageId', attribute: 'launchPermission', probe: 'imageSharing' },
} as const;

export function sharingHarness(ruleId: string, kind: keyof typeof KINDS, ec2: AwsClientStub<EC2Client>) {
  const rule = registeredRule(ruleId);
  const evaluate = ruleEvaluator(ruleId);
  const shape = KINDS[kind];
  const commands = runtimeCommands(ebsFamily);

  /** The plan of the verdict, which the test expects to be a violation. */
  function planOf(event: CloudTrailEvent, options?: EvaluateOptions): Plan {
    const verdict = evaluate(event, options);
    if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}`);
    return verdict.plan;
  }

  /** The precondition and verification of one removal, as the plan carries them. */
  function sharingChecks(id: string, grant: Grant) {
    const label = 'group' in grant ? `group ${grant.group}` : `account ${grant.userId}`;
    const read = {
      service: 'ec2',
      operation: shape.operation,
      input: { [shape.idField]: id, Attribute: shape.attribute },
      probe: shape.probe,
      expect: { id, ...grant },
    };
    return {
      precondition: { ...read, description: `shows ${id} still shared with ${label}` },
      verification: { ...read, description: `shows ${id} no longer shared with ${label}` },
    };
  }

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

  return {
    rule,
    evaluate,
    planOf,
    sharingChecks,
    notFound,
    snapshotPermissions,
    imagePermissions,
    run: (plan: Plan) => executePlan(plan, createAwsGateway(commands, { region: TEST_REGION }), { probes: rule.probes }),
    inputs: (command: Parameters<typeof ec2.commandCalls>[0]) => ec2.commandCalls(command).map((call) => call.args[0].input),
    calls: () => ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name),
  };
}
