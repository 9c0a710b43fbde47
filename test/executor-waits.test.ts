/**
 * The executor's wait steps and `$ref` placeholders, run with the real SDK v3
 * waiters against aws-sdk-client-mock. Time-outs use fake timers so no test
 * waits for real; no assertion depends on timing.
 */
import {
  AttachVolumeCommand,
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  EC2Client,
  EC2ServiceException,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAwsGateway, type AwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { describeStep, executePlan, renderInput } from '../engine/executor.js';
import type { Facts, Plan } from '../engine/types.js';
import { ebsCommands } from '../remediations/ebs/commands.js';
import { ebsUnencryptedVolume } from '../remediations/ebs/ebs-unencrypted-volume.js';
import { securityGroupCommands } from '../remediations/security-groups/commands.js';
import { loadEvent } from './helpers/fixtures.js';

const ec2 = mockClient(EC2Client);

const VOLUME = 'vol-0a1b2c3d4e5f60001';
const INSTANCE = 'i-0a1b2c3d4e5f60001';
const SOURCE_SNAPSHOT = 'snap-0aaaaaaaaaaaaaaa1';
const ENCRYPTED_SNAPSHOT = 'snap-0eeeeeeeeeeeeeee1';
const NEW_VOLUME = 'vol-0eeeeeeeeeeeeeee1';
const PLENTY = () => 600_000;

function ec2Error(name: string, message = `${name} message`): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

/** The migration the ebs-unencrypted-volume rule proposes, so the executor runs the very plan a person approves. */
function migration(facts: Facts = {}): Plan {
  const config = parseConfig({ rules: { 'ebs-unencrypted-volume': { kmsKeyId: 'alias/ebs-data' } } }, [ebsUnencryptedVolume]);
  const verdict = ebsUnencryptedVolume.evaluate(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), facts, {
    config,
    settings: config.rules['ebs-unencrypted-volume']?.settings,
    now: new Date('2025-03-10T00:00:00Z'),
  });
  if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error('expected a proposal');
  return verdict.proposal;
}

function attachedFacts(): Facts {
  const select = ebsUnencryptedVolume.lookups.find((l) => l.name === 'volume')?.select;
  const volume = {
    VolumeId: VOLUME,
    AvailabilityZone: 'us-east-1a',
    Encrypted: false,
    VolumeType: 'gp3',
    Size: 100,
    Iops: 3000,
    Throughput: 125,
    Tags: [{ Key: 'team', Value: 'ml' }],
    Attachments: [{ InstanceId: INSTANCE, Device: '/dev/sdf', State: 'attached' }],
  };
  return { volume: { status: 'ok', value: select?.({ Volumes: [volume] }) } };
}

function mockHappyPath(): void {
  ec2.on(CreateSnapshotCommand).resolves({ SnapshotId: SOURCE_SNAPSHOT, State: 'pending' });
  ec2.on(CopySnapshotCommand).resolves({ SnapshotId: ENCRYPTED_SNAPSHOT });
  ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SOURCE_SNAPSHOT, State: 'completed' }] });
  ec2.on(CreateVolumeCommand).resolves({ VolumeId: NEW_VOLUME, State: 'creating' });
  ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: NEW_VOLUME, State: 'available' }] });
  ec2.on(CreateTagsCommand).resolves({});
  ec2.on(StopInstancesCommand).resolves({});
  ec2.on(StartInstancesCommand).resolves({});
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'stopped', Code: 80 } }] }] });
  ec2.on(DetachVolumeCommand).resolves({ State: 'detaching' });
  ec2.on(AttachVolumeCommand).resolves({ State: 'attaching' });
}

const gateway = () => createAwsGateway(ebsCommands, { region: 'us-east-1' });
const inputs = (command: Parameters<typeof ec2.commandCalls>[0]) => ec2.commandCalls(command).map((call) => call.args[0].input);

describe('executePlan with waits and $ref placeholders', () => {
  beforeEach(() => ec2.reset());
  afterEach(() => {
    ec2.reset();
    vi.useRealTimers();
  });

  it('runs the proposed migration of an unattached volume, filling each $ref from the earlier output', async () => {
    // Arrange
    mockHappyPath();
    // Act
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY });
    // Assert
    expect(report.status).toBe('applied');
    expect(report.steps.map((s) => s.status)).toStrictEqual(Array(7).fill('applied'));
    expect(inputs(CreateSnapshotCommand)).toStrictEqual([
      {
        VolumeId: VOLUME,
        Description: `Unencrypted source of the encrypted copy of ${VOLUME}`,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'remediation:source-volume', Value: VOLUME }] }],
      },
    ]);
    expect(inputs(DescribeSnapshotsCommand)).toStrictEqual([{ SnapshotIds: [SOURCE_SNAPSHOT] }, { SnapshotIds: [ENCRYPTED_SNAPSHOT] }]);
    expect(inputs(CopySnapshotCommand)).toStrictEqual([
      {
        SourceRegion: 'us-east-1',
        SourceSnapshotId: SOURCE_SNAPSHOT,
        Encrypted: true,
        KmsKeyId: 'alias/ebs-data',
        Description: `Encrypted copy of ${VOLUME}`,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'remediation:source-volume', Value: VOLUME }] }],
      },
    ]);
    expect(inputs(CreateVolumeCommand)).toStrictEqual([
      {
        AvailabilityZone: 'us-east-1a',
        SnapshotId: ENCRYPTED_SNAPSHOT,
        VolumeType: 'gp3',
        Size: 100,
        Iops: 3000,
        Throughput: 125,
        Encrypted: true,
        TagSpecifications: [
          {
            ResourceType: 'volume',
            Tags: [
              { Key: 'Name', Value: 'training-data' },
              { Key: 'team', Value: 'ml' },
              { Key: 'remediation:replaces', Value: VOLUME },
            ],
          },
        ],
      },
    ]);
    expect(inputs(DescribeVolumesCommand)).toStrictEqual([{ VolumeIds: [NEW_VOLUME] }]);
    expect(inputs(CreateTagsCommand)).toStrictEqual([{ Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: NEW_VOLUME }] }]);
    expect(ec2.calls()).toHaveLength(7);
    // The report shows the steps as they ran, undo included, so an alert can say exactly how to reverse them.
    expect(report.steps[6]?.step.undo?.input).toStrictEqual({ Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: NEW_VOLUME }] });
    expect(report.resume).toBeUndefined();
  });

  it('runs the attached-volume migration: stop, wait stopped, …, detach, wait, attach at the same device, start', async () => {
    mockHappyPath();
    ec2
      .on(DescribeVolumesCommand)
      .resolvesOnce({ Volumes: [{ VolumeId: NEW_VOLUME, State: 'available' }] })
      .resolves({ Volumes: [{ VolumeId: VOLUME, State: 'available' }] });
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY });
    expect(report.status).toBe('applied');
    expect(ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name)).toStrictEqual([
      'StopInstancesCommand',
      'DescribeInstancesCommand',
      'CreateSnapshotCommand',
      'DescribeSnapshotsCommand',
      'CopySnapshotCommand',
      'DescribeSnapshotsCommand',
      'CreateVolumeCommand',
      'DescribeVolumesCommand',
      'DetachVolumeCommand',
      'DescribeVolumesCommand',
      'AttachVolumeCommand',
      'StartInstancesCommand',
      'CreateTagsCommand',
    ]);
    expect(inputs(StopInstancesCommand)).toStrictEqual([{ InstanceIds: [INSTANCE] }]);
    expect(inputs(DescribeInstancesCommand)).toStrictEqual([{ InstanceIds: [INSTANCE] }]);
    expect(inputs(DetachVolumeCommand)).toStrictEqual([{ VolumeId: VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' }]);
    expect(inputs(DescribeVolumesCommand)).toStrictEqual([{ VolumeIds: [NEW_VOLUME] }, { VolumeIds: [VOLUME] }]);
    expect(inputs(AttachVolumeCommand)).toStrictEqual([{ VolumeId: NEW_VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' }]);
    expect(inputs(StartInstancesCommand)).toStrictEqual([{ InstanceIds: [INSTANCE] }]);
    const attach = report.steps.find((s) => s.step.operation === 'AttachVolume');
    expect(attach?.step.undo).toStrictEqual({
      service: 'ec2',
      operation: 'DetachVolume',
      input: { VolumeId: NEW_VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' },
      reason: 'Detach the encrypted volume again.',
    });
  });

  it('fails a wait that cannot start in the time left, says where to resume, and resumes without repeating a step', async () => {
    mockHappyPath();
    const plan = migration();
    // 1.5 s left after the 10 s safety margin: too little for any waiter.
    const first = await executePlan(plan, gateway(), { remainingTimeMs: () => 11_500 });
    expect(first.status).toBe('failed');
    expect(first.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([
      ['applied', undefined],
      ['failed', 'WaitTimedOut'],
      ['not-run', undefined],
      ['not-run', undefined],
      ['not-run', undefined],
      ['not-run', undefined],
      ['not-run', undefined],
    ]);
    expect(first.steps[1]?.errorMessage).toBe(
      "not started: 1500 ms left before this invocation's safety margin; resume the plan at step 2 (waitUntilSnapshotCompleted)",
    );
    expect(first.resume).toStrictEqual({
      fromIndex: 1,
      operation: 'waitUntilSnapshotCompleted',
      outputs: { [`snapshot-${VOLUME}`]: { SnapshotId: SOURCE_SNAPSHOT, State: 'pending' } },
    });
    expect(first.unexpectedError).toBeUndefined();
    expect(inputs(DescribeSnapshotsCommand)).toStrictEqual([]);

    const second = await executePlan(plan, gateway(), { remainingTimeMs: PLENTY, ...(first.resume ? { resume: first.resume } : {}) });
    expect(second.status).toBe('applied');
    expect(second.steps.map((s) => s.status)).toStrictEqual(['already-done', 'applied', 'applied', 'applied', 'applied', 'applied', 'applied']);
    expect(ec2.commandCalls(CreateSnapshotCommand)).toHaveLength(1);
    expect(inputs(CopySnapshotCommand)[0]?.SourceSnapshotId).toBe(SOURCE_SNAPSHOT);
  });

  it('fails with WaitTimedOut when the snapshot is still pending as the time runs out, and does not rethrow', async () => {
    vi.useFakeTimers();
    mockHappyPath();
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SOURCE_SNAPSHOT, State: 'pending', Progress: '40%' }] });
    const running = executePlan(migration(), gateway(), { remainingTimeMs: () => 40_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    const report = await running;
    expect(report.status).toBe('failed');
    expect(report.steps[1]).toMatchObject({ status: 'failed', errorCode: 'WaitTimedOut' });
    expect(report.steps[1]?.errorMessage).toContain('waitUntilSnapshotCompleted did not finish within the 30 s this invocation had left; resume the plan at step 2');
    expect(report.resume?.fromIndex).toBe(1);
    expect(report.unexpectedError).toBeUndefined();
    for (const input of inputs(DescribeSnapshotsCommand)) expect(input).toStrictEqual({ SnapshotIds: [SOURCE_SNAPSHOT] });
    expect(ec2.commandCalls(CopySnapshotCommand)).toHaveLength(0);
  });

  it('keeps polling through InvalidSnapshot.NotFound (eventual consistency) and names it when time runs out', async () => {
    vi.useFakeTimers();
    mockHappyPath();
    ec2.on(DescribeSnapshotsCommand).rejects(ec2Error('InvalidSnapshot.NotFound', `The snapshot '${SOURCE_SNAPSHOT}' does not exist.`));
    const running = executePlan(migration(), gateway(), { remainingTimeMs: () => 40_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    const report = await running;
    expect(report.steps[1]).toMatchObject({ status: 'failed', errorCode: 'WaitTimedOut' });
    expect(report.steps[1]?.errorMessage).toContain(`The snapshot '${SOURCE_SNAPSHOT}' does not exist.`);
    expect(ec2.commandCalls(DescribeSnapshotsCommand).length).toBeGreaterThan(1);
  });

  it('fails with WaitFailed, not a retry, when the snapshot ends in state error', async () => {
    mockHappyPath();
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SOURCE_SNAPSHOT, State: 'error' }] });
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY });
    expect(report.steps[1]).toMatchObject({ status: 'failed', errorCode: 'WaitFailed' });
    expect(report.steps[1]?.errorMessage).toMatch(/^waitUntilSnapshotCompleted failed: /);
    expect(report.unexpectedError).toBeUndefined();
    expect(report.resume?.fromIndex).toBe(1);
  });

  it('stops at InvalidSnapshot.NotFound from CopySnapshot, with everything after it not run', async () => {
    mockHappyPath();
    ec2.on(CopySnapshotCommand).rejects(ec2Error('InvalidSnapshot.NotFound', `The snapshot '${SOURCE_SNAPSHOT}' does not exist.`));
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY });
    expect(report.steps.map((s) => [s.step.operation, s.status, s.errorCode])).toStrictEqual([
      ['CreateSnapshot', 'applied', undefined],
      ['waitUntilSnapshotCompleted', 'applied', undefined],
      ['CopySnapshot', 'failed', 'InvalidSnapshot.NotFound'],
      ['waitUntilSnapshotCompleted', 'not-run', undefined],
      ['CreateVolume', 'not-run', undefined],
      ['waitUntilVolumeAvailable', 'not-run', undefined],
      ['CreateTags', 'not-run', undefined],
    ]);
    expect(report.steps[2]?.step.input['SourceSnapshotId']).toBe(SOURCE_SNAPSHOT);
    expect(report.resume).toMatchObject({ fromIndex: 2, stepId: `encrypted-snapshot-${VOLUME}`, operation: 'CopySnapshot' });
    expect(report.unexpectedError).toBeUndefined();
    expect(ec2.commandCalls(CreateVolumeCommand)).toHaveLength(0);
  });

  it('stops at InvalidVolume.NotFound when the original volume is gone before the superseded tag', async () => {
    mockHappyPath();
    ec2.on(CreateTagsCommand).rejects(ec2Error('InvalidVolume.NotFound', `The volume '${VOLUME}' does not exist.`));
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY });
    expect(report.status).toBe('failed');
    expect(report.steps[6]).toMatchObject({ status: 'failed', errorCode: 'InvalidVolume.NotFound' });
    expect(inputs(CreateTagsCommand)).toStrictEqual([{ Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: NEW_VOLUME }] }]);
  });

  it('counts IncorrectState on DetachVolume as already done (the original was already detached) and carries on', async () => {
    mockHappyPath();
    ec2.on(DetachVolumeCommand).rejects(ec2Error('IncorrectState', `Volume '${VOLUME}' is in the 'available' state.`));
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: NEW_VOLUME, State: 'available' }] });
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY });
    expect(report.status).toBe('applied');
    expect(report.steps.find((s) => s.step.operation === 'DetachVolume')).toMatchObject({ status: 'already-done', errorCode: 'IncorrectState' });
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(1);
  });

  it('fails IncorrectState where it is not "already done" (attaching to an instance in the wrong state)', async () => {
    mockHappyPath();
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: NEW_VOLUME, State: 'available' }] });
    ec2.on(AttachVolumeCommand).rejects(ec2Error('IncorrectState', `Instance '${INSTANCE}' is not 'running' or 'stopped'.`));
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY });
    expect(report.status).toBe('failed');
    expect(report.steps.find((s) => s.step.operation === 'AttachVolume')).toMatchObject({ status: 'failed', errorCode: 'IncorrectState' });
    expect(ec2.commandCalls(StartInstancesCommand)).toHaveLength(0);
  });

  it('refuses to send a step that still holds an $unknown placeholder', async () => {
    const plan: Plan = [
      { service: 'ec2', operation: 'CreateSnapshot', input: { VolumeId: { $unknown: 'VolumeId of /dev/sdf on i-1' } }, reason: 'snapshot' },
    ];
    const report = await executePlan(plan, gateway());
    expect(report.steps[0]).toMatchObject({
      status: 'failed',
      errorCode: 'UnknownValue',
      errorMessage: 'a value the bot did not know must be filled in first: VolumeId of /dev/sdf on i-1',
    });
    expect(report.unexpectedError).toBeUndefined();
    expect(ec2.calls()).toHaveLength(0);
  });

  it('refuses a $ref to a step that did not run or returned no such field', async () => {
    ec2.on(CreateSnapshotCommand).resolves({});
    const plan: Plan = [
      { service: 'ec2', operation: 'CreateSnapshot', id: 'snap', input: { VolumeId: VOLUME }, reason: 'snapshot' },
      { service: 'ec2', operation: 'CopySnapshot', input: { SourceRegion: 'us-east-1', SourceSnapshotId: { $ref: 'snap.SnapshotId' } }, reason: 'copy' },
    ];
    const report = await executePlan(plan, gateway());
    expect(report.steps[1]).toMatchObject({ status: 'failed', errorCode: 'UnresolvedReference' });
    expect(ec2.commandCalls(CopySnapshotCommand)).toHaveLength(0);
  });

  it('reports a step a lookup found in place as already done without calling AWS; all of them is "already fixed"', async () => {
    const plan: Plan = [
      { service: 'ec2', operation: 'EnableEbsEncryptionByDefault', input: {}, reason: 'on', alreadyDone: 'GetEbsEncryptionByDefault says on' },
      { service: 'ec2', operation: 'CreateTags', input: { Resources: [VOLUME], Tags: [] }, reason: 'tag', alreadyDone: 'tag present' },
    ];
    const report = await executePlan(plan, gateway());
    expect(report.status).toBe('already-fixed');
    expect(report.steps.map((s) => s.status)).toStrictEqual(['already-done', 'already-done']);
    expect(ec2.calls()).toHaveLength(0);
  });

  it('fails a wait step cleanly when the function table has no such waiter, and marks it unexpected', async () => {
    const plan: Plan = [{ service: 'ec2', operation: 'waitUntilSnapshotCompleted', kind: 'wait', input: { SnapshotIds: ['snap-1'] }, reason: 'wait' }];
    const report = await executePlan(plan, createAwsGateway(securityGroupCommands), { remainingTimeMs: PLENTY });
    expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'UnsupportedOperationError' });
    expect(report.unexpectedError).toBeDefined();
    const withoutWait: AwsGateway = { call: async () => ({}) };
    const again = await executePlan(plan, withoutWait, { remainingTimeMs: PLENTY });
    expect(again.steps[0]).toMatchObject({ status: 'failed', errorCode: 'UnsupportedOperationError' });
  });

  it('gives the waiter the time left minus the safety margin, in seconds', async () => {
    const waits: unknown[] = [];
    const recording: AwsGateway = {
      call: async () => ({}),
      wait: async (service, waiter, input, options) => {
        waits.push({ service, waiter, input, options });
      },
    };
    const plan: Plan = [{ service: 'ec2', operation: 'waitUntilVolumeAvailable', kind: 'wait', input: { VolumeIds: [VOLUME] }, reason: 'wait' }];
    await executePlan(plan, recording, { remainingTimeMs: () => 70_400, safetyMarginMs: 5_000 });
    await executePlan(plan, recording, { remainingTimeMs: () => 17_000 });
    expect(waits).toStrictEqual([
      { service: 'ec2', waiter: 'waitUntilVolumeAvailable', input: { VolumeIds: [VOLUME] }, options: { maxWaitSeconds: 65, minDelaySeconds: 15, maxDelaySeconds: 60 } },
      { service: 'ec2', waiter: 'waitUntilVolumeAvailable', input: { VolumeIds: [VOLUME] }, options: { maxWaitSeconds: 7, minDelaySeconds: 6, maxDelaySeconds: 60 } },
    ]);
  });
});

describe('printing plans with placeholders', () => {
  it('shows $ref as <step.Field>, unknowns as <unknown: …>, and marks waits and step ids', () => {
    const plan = migration();
    expect(describeStep(plan[2] ?? { service: 'ec2', operation: '', input: {}, reason: '' })).toBe(
      `ec2:CopySnapshot [encrypted-snapshot-${VOLUME}] {"SourceRegion":"us-east-1","SourceSnapshotId":"<snapshot-${VOLUME}.SnapshotId>","Encrypted":true,"KmsKeyId":"alias/ebs-data","Description":"Encrypted copy of ${VOLUME}","TagSpecifications":[{"ResourceType":"snapshot","Tags":[{"Key":"remediation:source-volume","Value":"${VOLUME}"}]}]}`,
    );
    expect(describeStep(plan[1] ?? { service: 'ec2', operation: '', input: {}, reason: '' })).toBe(
      `wait ec2:waitUntilSnapshotCompleted {"SnapshotIds":["<snapshot-${VOLUME}.SnapshotId>"]}`,
    );
    expect(renderInput({ VolumeId: { $unknown: 'VolumeId of /dev/sdf on i-1' } })).toStrictEqual({ VolumeId: '<unknown: VolumeId of /dev/sdf on i-1>' });
    expect(describeStep({ service: 'ec2', operation: 'EnableEbsEncryptionByDefault', input: {}, reason: 'on', alreadyDone: 'it is on' })).toBe(
      'ec2:EnableEbsEncryptionByDefault {} (already done: it is on)',
    );
  });
});
