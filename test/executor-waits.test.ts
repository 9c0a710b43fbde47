/**
 * The executor's wait steps and `$ref` placeholders, run with the real SDK v3
 * waiters against aws-sdk-client-mock, over a small model of EC2 whose reads
 * answer what the writes did: the reads before and after each step are the
 * rule's own probes. Time-outs use fake timers so no test waits for real; no
 * assertion depends on timing.
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
import { executePlan } from '../engine/executor.js';
import { describeStep, renderInput } from '../engine/step-text.js';
import type { Facts, Plan } from '../engine/types.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { ebsFamily } from '../remediations/ebs/index.js';
import { registeredRule } from './helpers/registered.js';

const ebsCommands = runtimeCommands(ebsFamily);
const ebsUnencryptedVolume = registeredRule('ebs-unencrypted-volume');

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

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

interface WorldVolume {
  encrypted: boolean;
  zone: string;
  state: 'creating' | 'available' | 'in-use';
  attachments: { instanceId: string; device: string; state: 'attaching' | 'attached' | 'detaching' }[];
  tags: { Key: string; Value: string }[];
}

interface WorldSnapshot {
  volumeId: string;
  encrypted: boolean;
  state: 'pending' | 'completed' | 'error';
}

/**
 * EC2 as the migration sees it: every write changes the world, every read
 * answers from it, and a transitional state (pending, stopping, detaching,
 * attaching, creating) is seen once by the read right after the write and
 * has settled by the next read, as a waiter's first poll would find it.
 */
function mockWorld(options: { attached?: boolean; instanceState?: string } = {}) {
  const instances: Record<string, string> = { [INSTANCE]: options.instanceState ?? 'running' };
  const volumes: Record<string, WorldVolume> = {
    [VOLUME]: {
      encrypted: false,
      zone: 'us-east-1a',
      state: options.attached ? 'in-use' : 'available',
      attachments: options.attached ? [{ instanceId: INSTANCE, device: '/dev/sdf', state: 'attached' }] : [],
      tags: [{ Key: 'team', Value: 'ml' }],
    },
  };
  const snapshots: Record<string, WorldSnapshot> = {};
  const settle = {
    instance(id: string) {
      if (instances[id] === 'stopping') instances[id] = 'stopped';
      if (instances[id] === 'pending') instances[id] = 'running';
    },
    volume(volume: WorldVolume) {
      if (volume.state === 'creating') volume.state = 'available';
      volume.attachments = volume.attachments.filter((a) => a.state !== 'detaching').map((a) => ({ ...a, state: 'attached' as const }));
      volume.state = volume.attachments.length > 0 ? 'in-use' : 'available';
    },
  };
  const missing = (name: string, id: string) => ec2Error(name, `The ${name.startsWith('InvalidVolume') ? 'volume' : name.startsWith('InvalidSnapshot') ? 'snapshot' : 'instance ID'} '${id}' does not exist.`);
  ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
    const ids = input.InstanceIds ?? [];
    const missingId = ids.find((id) => instances[id] === undefined);
    if (missingId) throw missing('InvalidInstanceID.NotFound', missingId);
    const answer = { Reservations: [{ Instances: ids.map((id) => ({ InstanceId: id, State: { Name: instances[id] } })) }] };
    for (const id of ids) settle.instance(id);
    return answer;
  });
  ec2.on(StopInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
    for (const id of input.InstanceIds ?? []) instances[id] = 'stopping';
    return { StoppingInstances: (input.InstanceIds ?? []).map((id) => ({ InstanceId: id, CurrentState: { Name: 'stopping' } })) };
  });
  ec2.on(StartInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
    for (const id of input.InstanceIds ?? []) instances[id] = 'pending';
    return { StartingInstances: (input.InstanceIds ?? []).map((id) => ({ InstanceId: id, CurrentState: { Name: 'pending' } })) };
  });
  ec2.on(DescribeVolumesCommand).callsFake((input: { VolumeIds?: string[]; Filters?: { Name: string; Values: string[] }[] }) => {
    const ids = input.VolumeIds ?? [];
    const missingId = ids.find((id) => volumes[id] === undefined);
    if (missingId) throw missing('InvalidVolume.NotFound', missingId);
    const matches = (volume: WorldVolume) =>
      (input.Filters ?? []).every((filter) => {
        const key = filter.Name.replace(/^tag:/, '');
        return volume.tags.some((tag) => tag.Key === key && filter.Values.includes(tag.Value));
      });
    const answer = {
      Volumes: ids.flatMap((id) => {
        const volume = volumes[id];
        if (!volume || !matches(volume)) return [];
        return [
          {
            VolumeId: id,
            Encrypted: volume.encrypted,
            AvailabilityZone: volume.zone,
            State: volume.state,
            Attachments: volume.attachments.map((a) => ({ VolumeId: id, InstanceId: a.instanceId, Device: a.device, State: a.state })),
            Tags: volume.tags,
          },
        ];
      }),
    };
    for (const id of ids) {
      const volume = volumes[id];
      if (volume) settle.volume(volume);
    }
    return answer;
  });
  ec2.on(DescribeSnapshotsCommand).callsFake((input: { SnapshotIds?: string[] }) => {
    const ids = input.SnapshotIds ?? [];
    const missingId = ids.find((id) => snapshots[id] === undefined);
    if (missingId) throw missing('InvalidSnapshot.NotFound', missingId);
    const answer = {
      Snapshots: ids.map((id) => {
        const snapshot = snapshots[id] as WorldSnapshot;
        return { SnapshotId: id, VolumeId: snapshot.volumeId, Encrypted: snapshot.encrypted, State: snapshot.state, Progress: snapshot.state === 'completed' ? '100%' : '0%' };
      }),
    };
    for (const id of ids) {
      const snapshot = snapshots[id];
      if (snapshot?.state === 'pending') snapshot.state = 'completed';
    }
    return answer;
  });
  ec2.on(CreateSnapshotCommand).callsFake((input: { VolumeId?: string }) => {
    const volume = volumes[input.VolumeId ?? ''];
    if (!volume) throw missing('InvalidVolume.NotFound', String(input.VolumeId));
    snapshots[SOURCE_SNAPSHOT] = { volumeId: String(input.VolumeId), encrypted: volume.encrypted, state: 'pending' };
    return { SnapshotId: SOURCE_SNAPSHOT, State: 'pending' };
  });
  ec2.on(CopySnapshotCommand).callsFake((input: { SourceSnapshotId?: string; Encrypted?: boolean }) => {
    if (!snapshots[input.SourceSnapshotId ?? '']) throw missing('InvalidSnapshot.NotFound', String(input.SourceSnapshotId));
    // A copy's VolumeId is arbitrary (vol-ffffffff), as EC2 documents.
    snapshots[ENCRYPTED_SNAPSHOT] = { volumeId: 'vol-ffffffff', encrypted: input.Encrypted === true, state: 'pending' };
    return { SnapshotId: ENCRYPTED_SNAPSHOT };
  });
  ec2.on(CreateVolumeCommand).callsFake((input: { SnapshotId?: string; AvailabilityZone?: string; TagSpecifications?: { Tags?: { Key: string; Value: string }[] }[] }) => {
    const snapshot = snapshots[input.SnapshotId ?? ''];
    if (!snapshot) throw missing('InvalidSnapshot.NotFound', String(input.SnapshotId));
    volumes[NEW_VOLUME] = { encrypted: snapshot.encrypted, zone: String(input.AvailabilityZone), state: 'creating', attachments: [], tags: input.TagSpecifications?.[0]?.Tags ?? [] };
    return { VolumeId: NEW_VOLUME, State: 'creating' };
  });
  ec2.on(DetachVolumeCommand).callsFake((input: { VolumeId?: string; InstanceId?: string }) => {
    const volume = volumes[input.VolumeId ?? ''];
    if (!volume) throw missing('InvalidVolume.NotFound', String(input.VolumeId));
    const attachment = volume.attachments.find((a) => a.instanceId === input.InstanceId);
    if (!attachment) throw ec2Error('IncorrectState', `Volume '${String(input.VolumeId)}' is in the 'available' state.`);
    attachment.state = 'detaching';
    return { VolumeId: input.VolumeId, InstanceId: input.InstanceId, State: 'detaching' };
  });
  ec2.on(AttachVolumeCommand).callsFake((input: { VolumeId?: string; InstanceId?: string; Device?: string }) => {
    const volume = volumes[input.VolumeId ?? ''];
    if (!volume) throw missing('InvalidVolume.NotFound', String(input.VolumeId));
    volume.attachments.push({ instanceId: String(input.InstanceId), device: String(input.Device), state: 'attaching' });
    volume.state = 'in-use';
    return { VolumeId: input.VolumeId, InstanceId: input.InstanceId, Device: input.Device, State: 'attaching' };
  });
  ec2.on(CreateTagsCommand).callsFake((input: { Resources?: string[]; Tags?: { Key?: string; Value?: string }[] }) => {
    for (const id of input.Resources ?? []) {
      const volume = volumes[id];
      if (!volume) throw missing('InvalidVolume.NotFound', id);
      volume.tags.push(...(input.Tags ?? []).map((t) => ({ Key: String(t.Key), Value: String(t.Value) })));
    }
    return {};
  });
  return { instances, volumes, snapshots };
}

const gateway = () => createAwsGateway(ebsCommands, { region: 'us-east-1' });
const probes = ebsUnencryptedVolume.probes;
const callNames = () => ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
const inputs = (command: Parameters<typeof ec2.commandCalls>[0]) => ec2.commandCalls(command).map((call) => call.args[0].input);

describe('executePlan with waits and $ref placeholders', () => {
  beforeEach(() => ec2.reset());
  afterEach(() => {
    ec2.reset();
    vi.useRealTimers();
  });

  it('runs the proposed migration of an unattached volume, reading before and after each call and filling each $ref from the earlier output', async () => {
    // Arrange
    const world = mockWorld();
    // Act
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY, probes });
    // Assert
    expect(report.status).toBe('applied');
    expect(report.steps.map((s) => s.status)).toStrictEqual(Array(7).fill('applied'));
    expect(callNames()).toStrictEqual([
      'DescribeVolumes', // the volume still unencrypted and unattached
      'CreateSnapshot',
      'DescribeSnapshots', // the new snapshot, by its id
      'DescribeSnapshots', // wait
      'DescribeSnapshots', // the source snapshot completed
      'CopySnapshot',
      'DescribeSnapshots', // the encrypted copy, by its id
      'DescribeSnapshots', // wait
      'DescribeSnapshots', // the copy completed
      'CreateVolume',
      'DescribeVolumes', // the new volume, by its id
      'DescribeVolumes', // wait
      'DescribeVolumes', // the superseded tag not there yet
      'CreateTags',
      'DescribeVolumes', // the superseded tag there
    ]);
    expect(inputs(CreateSnapshotCommand)).toStrictEqual([
      {
        VolumeId: VOLUME,
        Description: `Unencrypted source of the encrypted copy of ${VOLUME}`,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'remediation:source-volume', Value: VOLUME }] }],
      },
    ]);
    expect(inputs(DescribeSnapshotsCommand)).toStrictEqual([
      { SnapshotIds: [SOURCE_SNAPSHOT] },
      { SnapshotIds: [SOURCE_SNAPSHOT] },
      { SnapshotIds: [SOURCE_SNAPSHOT] },
      { SnapshotIds: [ENCRYPTED_SNAPSHOT] },
      { SnapshotIds: [ENCRYPTED_SNAPSHOT] },
      { SnapshotIds: [ENCRYPTED_SNAPSHOT] },
    ]);
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
    const supersededRead = { VolumeIds: [VOLUME], Filters: [{ Name: 'tag:remediation:superseded-by', Values: [NEW_VOLUME] }] };
    expect(inputs(DescribeVolumesCommand)).toStrictEqual([{ VolumeIds: [VOLUME] }, { VolumeIds: [NEW_VOLUME] }, { VolumeIds: [NEW_VOLUME] }, supersededRead, supersededRead]);
    expect(inputs(CreateTagsCommand)).toStrictEqual([{ Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: NEW_VOLUME }] }]);
    expect(report.steps.filter((s) => s.step.kind !== 'wait').map((s) => s.verification?.evidence)).toStrictEqual([
      `${SOURCE_SNAPSHOT} (pending, 0%, unencrypted) exists`,
      `${ENCRYPTED_SNAPSHOT} (pending, 0%, encrypted) exists`,
      `${NEW_VOLUME} exists (creating), encrypted, in us-east-1a`,
      `${VOLUME} carries remediation:superseded-by=${NEW_VOLUME}`,
    ]);
    expect(world.volumes[NEW_VOLUME]?.encrypted).toBe(true);
    // The report shows the steps as they ran, undo included, so an alert can say exactly how to reverse them.
    expect(report.steps[6]?.step.undo?.input).toStrictEqual({ Resources: [VOLUME], Tags: [{ Key: 'remediation:superseded-by', Value: NEW_VOLUME }] });
    expect(report.resume).toBeUndefined();
  });

  it('runs the attached-volume migration: stop, wait stopped, …, detach, wait, attach at the same device, start, each call read before and after', async () => {
    const world = mockWorld({ attached: true });
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('applied');
    expect(callNames()).toStrictEqual([
      'DescribeInstances',
      'StopInstances',
      'DescribeInstances',
      'DescribeInstances', // wait
      'DescribeVolumes',
      'CreateSnapshot',
      'DescribeSnapshots',
      'DescribeSnapshots', // wait
      'DescribeSnapshots',
      'CopySnapshot',
      'DescribeSnapshots',
      'DescribeSnapshots', // wait
      'DescribeSnapshots',
      'CreateVolume',
      'DescribeVolumes',
      'DescribeVolumes', // wait
      'DescribeVolumes', // the original still attached
      'DetachVolume',
      'DescribeVolumes', // detaching
      'DescribeVolumes', // wait
      'DescribeVolumes', // the new volume available
      'AttachVolume',
      'DescribeVolumes', // attaching
      'DescribeInstances', // still stopped
      'StartInstances',
      'DescribeInstances', // pending
      'DescribeVolumes',
      'CreateTags',
      'DescribeVolumes',
    ]);
    expect(inputs(StopInstancesCommand)).toStrictEqual([{ InstanceIds: [INSTANCE] }]);
    expect(inputs(DescribeInstancesCommand)).toStrictEqual(Array(5).fill({ InstanceIds: [INSTANCE] }));
    expect(inputs(DetachVolumeCommand)).toStrictEqual([{ VolumeId: VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' }]);
    expect(inputs(AttachVolumeCommand)).toStrictEqual([{ VolumeId: NEW_VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' }]);
    expect(inputs(StartInstancesCommand)).toStrictEqual([{ InstanceIds: [INSTANCE] }]);
    const byOperation = (operation: string) => report.steps.find((s) => s.step.operation === operation);
    expect(byOperation('StopInstances')).toMatchObject({ precondition: { state: 'needed', evidence: `${INSTANCE} is running` }, verification: { state: 'done', evidence: `${INSTANCE} is stopping` } });
    expect(byOperation('DetachVolume')).toMatchObject({
      precondition: { state: 'needed', evidence: `${VOLUME} is still attached to ${INSTANCE} as /dev/sdf` },
      verification: { state: 'done', evidence: `${VOLUME} is detaching from ${INSTANCE} as /dev/sdf` },
    });
    expect(byOperation('AttachVolume')).toMatchObject({
      precondition: { state: 'needed', evidence: `${NEW_VOLUME} is available, not attached to ${INSTANCE} as /dev/sdf yet` },
      verification: { state: 'done', evidence: `${NEW_VOLUME} is attaching to ${INSTANCE} as /dev/sdf` },
    });
    expect(byOperation('StartInstances')).toMatchObject({ precondition: { state: 'needed', evidence: `${INSTANCE} is stopped` }, verification: { state: 'done', evidence: `${INSTANCE} is pending` } });
    expect(byOperation('AttachVolume')?.step.undo).toStrictEqual({
      service: 'ec2',
      operation: 'DetachVolume',
      input: { VolumeId: NEW_VOLUME, InstanceId: INSTANCE, Device: '/dev/sdf' },
      reason: 'Detach the encrypted volume again.',
    });
    expect(world.volumes[NEW_VOLUME]?.attachments).toStrictEqual([{ instanceId: INSTANCE, device: '/dev/sdf', state: 'attached' }]);
    expect(world.instances[INSTANCE]).toBe('running');
  });

  it('reports StopInstances already done, with no undo to record, for an instance stopped before the migration', async () => {
    mockWorld({ attached: true, instanceState: 'stopped' });
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('applied');
    expect(report.steps[0]).toMatchObject({ status: 'already-done', precondition: { state: 'done', evidence: `${INSTANCE} is stopped` } });
    expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(0);
  });

  it('is stale, and writes nothing, when the volume was attached to an instance since the plan was made (a snapshot of a volume in use would be torn)', async () => {
    const world = mockWorld();
    (world.volumes[VOLUME] as WorldVolume).attachments = [{ instanceId: 'i-0ffffffffffffffff', device: '/dev/sdg', state: 'attached' }];
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('stale');
    expect(report.steps[0]).toMatchObject({
      status: 'stale',
      precondition: { state: 'changed', evidence: `${VOLUME} is now attached to i-0ffffffffffffffff as /dev/sdg, not unattached as the migration was planned` },
    });
    expect(report.steps.slice(1).map((s) => s.status)).toStrictEqual(Array(6).fill('not-run'));
    expect(callNames()).toStrictEqual(['DescribeVolumes']);
    expect(report.resume).toBeUndefined();
  });

  it('is stale, and stops nothing, when the instance was terminated since the plan was made', async () => {
    mockWorld({ attached: true, instanceState: 'terminated' });
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('stale');
    expect(report.steps[0]?.precondition).toStrictEqual({ state: 'changed', evidence: `${INSTANCE} is terminated: there is nothing to stop and migrate` });
    expect(callNames()).toStrictEqual(['DescribeInstances']);
  });

  it('is stale, with nothing more written, when the completed snapshot was deleted before the encrypted copy', async () => {
    const world = mockWorld();
    ec2.on(CreateSnapshotCommand).callsFake(() => {
      world.snapshots[SOURCE_SNAPSHOT] = { volumeId: VOLUME, encrypted: false, state: 'completed' };
      return { SnapshotId: SOURCE_SNAPSHOT, State: 'pending' };
    });
    const wait = vi.fn(async () => {
      delete world.snapshots[SOURCE_SNAPSHOT];
    });
    const recording: AwsGateway = { call: gateway().call, wait };
    const report = await executePlan(migration(), recording, { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('stale');
    expect(report.steps.map((s) => s.status)).toStrictEqual(['applied', 'applied', 'stale', 'not-run', 'not-run', 'not-run', 'not-run']);
    expect(report.steps[2]?.precondition).toStrictEqual({ state: 'changed', evidence: `the snapshot of ${VOLUME} no longer exists` });
    expect(ec2.commandCalls(CopySnapshotCommand)).toHaveLength(0);
  });

  it('fails a wait that cannot start in the time left, says where to resume, and resumes without repeating a step', async () => {
    mockWorld();
    const plan = migration();
    // 1.5 s left after the 10 s safety margin: too little for any waiter.
    const first = await executePlan(plan, gateway(), { remainingTimeMs: () => 11_500, probes });
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
      // What the first invocation found for the step it completed: the resumed report shows it as it ran.
      steps: [first.steps[0]],
    });
    expect(first.unexpectedError).toBeUndefined();
    // Only the read after CreateSnapshot: the wait did not poll.
    expect(inputs(DescribeSnapshotsCommand)).toStrictEqual([{ SnapshotIds: [SOURCE_SNAPSHOT] }]);

    const second = await executePlan(plan, gateway(), { remainingTimeMs: PLENTY, probes, ...(first.resume ? { resume: first.resume } : {}) });
    expect(second.status).toBe('applied');
    expect(second.steps.map((s) => [s.status, s.resumed])).toStrictEqual([
      ['applied', true],
      ['applied', undefined],
      ['applied', undefined],
      ['applied', undefined],
      ['applied', undefined],
      ['applied', undefined],
      ['applied', undefined],
    ]);
    expect(second.steps[0]?.verification).toStrictEqual(first.steps[0]?.verification);
    expect(ec2.commandCalls(CreateSnapshotCommand)).toHaveLength(1);
    expect(inputs(CopySnapshotCommand)[0]?.SourceSnapshotId).toBe(SOURCE_SNAPSHOT);
  });

  it('fails with WaitTimedOut when the snapshot is still pending as the time runs out, and does not rethrow', async () => {
    vi.useFakeTimers();
    mockWorld();
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SOURCE_SNAPSHOT, VolumeId: VOLUME, Encrypted: false, State: 'pending', Progress: '40%' }] });
    const running = executePlan(migration(), gateway(), { remainingTimeMs: () => 40_000, probes });
    await vi.advanceTimersByTimeAsync(60_000);
    const report = await running;
    expect(report.status).toBe('failed');
    expect(report.steps[0]).toMatchObject({ status: 'applied', verification: { state: 'done', evidence: `${SOURCE_SNAPSHOT} (pending, 40%, unencrypted) exists` } });
    expect(report.steps[1]).toMatchObject({ status: 'failed', errorCode: 'WaitTimedOut' });
    expect(report.steps[1]?.errorMessage).toContain('waitUntilSnapshotCompleted did not finish within the 30 s this invocation had left; resume the plan at step 2');
    expect(report.resume?.fromIndex).toBe(1);
    expect(report.unexpectedError).toBeUndefined();
    for (const input of inputs(DescribeSnapshotsCommand)) expect(input).toStrictEqual({ SnapshotIds: [SOURCE_SNAPSHOT] });
    expect(ec2.commandCalls(CopySnapshotCommand)).toHaveLength(0);
  });

  it('keeps polling through InvalidSnapshot.NotFound (eventual consistency), says the snapshot was not verified, and names it when time runs out', async () => {
    vi.useFakeTimers();
    mockWorld();
    ec2.on(DescribeSnapshotsCommand).rejects(ec2Error('InvalidSnapshot.NotFound', `The snapshot '${SOURCE_SNAPSHOT}' does not exist.`));
    const running = executePlan(migration(), gateway(), { remainingTimeMs: () => 40_000, probes });
    await vi.advanceTimersByTimeAsync(60_000);
    const report = await running;
    expect(report.steps[0]).toMatchObject({ status: 'applied', verification: { state: 'needed', evidence: `the new snapshot of ${VOLUME} is not visible (yet)` } });
    expect(report.steps[1]).toMatchObject({ status: 'failed', errorCode: 'WaitTimedOut' });
    expect(report.steps[1]?.errorMessage).toContain(`The snapshot '${SOURCE_SNAPSHOT}' does not exist.`);
    expect(ec2.commandCalls(DescribeSnapshotsCommand).length).toBeGreaterThan(2);
  });

  it('fails with WaitFailed, not a retry, when the snapshot ends in state error', async () => {
    mockWorld();
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: SOURCE_SNAPSHOT, VolumeId: VOLUME, Encrypted: false, State: 'error' }] });
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.steps[0]?.verification).toStrictEqual({ state: 'changed', evidence: `${SOURCE_SNAPSHOT} (error, unencrypted) failed` });
    expect(report.steps[1]).toMatchObject({ status: 'failed', errorCode: 'WaitFailed' });
    expect(report.steps[1]?.errorMessage).toMatch(/^waitUntilSnapshotCompleted failed: /);
    expect(report.unexpectedError).toBeUndefined();
    expect(report.resume?.fromIndex).toBe(1);
  });

  it('stops at InvalidSnapshot.NotFound from CopySnapshot, with everything after it not run', async () => {
    mockWorld();
    ec2.on(CopySnapshotCommand).rejects(ec2Error('InvalidSnapshot.NotFound', `The snapshot '${SOURCE_SNAPSHOT}' does not exist.`));
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY, probes });
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

  it('is stale, and tags nothing, when the original volume was deleted before the superseded tag', async () => {
    const world = mockWorld();
    ec2.on(CreateVolumeCommand).callsFake(() => {
      world.volumes[NEW_VOLUME] = { encrypted: true, zone: 'us-east-1a', state: 'creating', attachments: [], tags: [] };
      delete world.volumes[VOLUME];
      return { VolumeId: NEW_VOLUME, State: 'creating' };
    });
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('stale');
    expect(report.steps[6]).toMatchObject({ status: 'stale', precondition: { state: 'changed', evidence: `${VOLUME} no longer exists` } });
    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
  });

  it('is unverified when the read after the superseded tag does not show it', async () => {
    mockWorld();
    ec2.on(CreateTagsCommand).resolves({});
    const report = await executePlan(migration(), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('unverified');
    expect(report.steps[6]).toMatchObject({
      status: 'applied',
      verification: { state: 'needed', evidence: `${VOLUME} does not carry remediation:superseded-by with the encrypted volume's id` },
    });
  });

  it('reports DetachVolume already done, without calling it, when the read before shows the original already detached', async () => {
    const world = mockWorld({ attached: true });
    ec2.on(CreateVolumeCommand).callsFake(() => {
      world.volumes[NEW_VOLUME] = { encrypted: true, zone: 'us-east-1a', state: 'creating', attachments: [], tags: [] };
      Object.assign(world.volumes[VOLUME] ?? {}, { attachments: [], state: 'available' });
      return { VolumeId: NEW_VOLUME, State: 'creating' };
    });
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('applied');
    expect(report.steps.find((s) => s.step.operation === 'DetachVolume')).toMatchObject({
      status: 'already-done',
      precondition: { state: 'done', evidence: `${VOLUME} is not attached to ${INSTANCE} (available)` },
    });
    expect(ec2.commandCalls(DetachVolumeCommand)).toHaveLength(0);
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(1);
  });

  it('believes IncorrectState on DetachVolume (detached between the read and the call) only after the read after shows it detached', async () => {
    const world = mockWorld({ attached: true });
    ec2.on(DetachVolumeCommand).callsFake(() => {
      (world.volumes[VOLUME] as WorldVolume).attachments = [];
      throw ec2Error('IncorrectState', `Volume '${VOLUME}' is in the 'available' state.`);
    });
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY, probes });
    expect(report.status).toBe('applied');
    expect(report.steps.find((s) => s.step.operation === 'DetachVolume')).toMatchObject({
      status: 'already-done',
      errorCode: 'IncorrectState',
      verification: { state: 'done' },
    });
    expect(ec2.commandCalls(AttachVolumeCommand)).toHaveLength(1);
  });

  it('fails IncorrectState where it is not "already done" (attaching to an instance in the wrong state)', async () => {
    mockWorld({ attached: true });
    ec2.on(AttachVolumeCommand).rejects(ec2Error('IncorrectState', `Instance '${INSTANCE}' is not 'running' or 'stopped'.`));
    const report = await executePlan(migration(attachedFacts()), gateway(), { remainingTimeMs: PLENTY, probes });
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
    expect(describeStep(plan[2] ?? { service: 'ec2', operation: '', input: {} })).toBe(
      `ec2:CopySnapshot [encrypted-snapshot-${VOLUME}] {"SourceRegion":"us-east-1","SourceSnapshotId":"<snapshot-${VOLUME}.SnapshotId>","Encrypted":true,"KmsKeyId":"alias/ebs-data","Description":"Encrypted copy of ${VOLUME}","TagSpecifications":[{"ResourceType":"snapshot","Tags":[{"Key":"remediation:source-volume","Value":"${VOLUME}"}]}]}`,
    );
    expect(describeStep(plan[1] ?? { service: 'ec2', operation: '', input: {} })).toBe(
      `wait ec2:waitUntilSnapshotCompleted {"SnapshotIds":["<snapshot-${VOLUME}.SnapshotId>"]}`,
    );
    expect(renderInput({ VolumeId: { $unknown: 'VolumeId of /dev/sdf on i-1' } })).toStrictEqual({ VolumeId: '<unknown: VolumeId of /dev/sdf on i-1>' });
    expect(renderInput(plan[2]?.verification?.input)).toStrictEqual({ SnapshotIds: [`<encrypted-snapshot-${VOLUME}.SnapshotId>`] });
  });
});
