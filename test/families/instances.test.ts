/**
 * The instances family's function, with EC2 and SNS mocked: the reads before
 * and after each write, and the outcome they prove.
 */
import { DescribeInstancesCommand, EC2Client, EC2ServiceException, ModifyInstanceMetadataOptionsCommand, type Instance } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import { executePlan } from '../../engine/executor.js';
import { undoEntryFor } from '../../engine/undo-store.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { planRequireTokens } from '../../remediations/instances/ec2-imdsv1-allowed.js';
import { instanceRules, instancesFamily } from '../../remediations/instances/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import type { RecordingLogger } from '../helpers/logger.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler, NOW, TEST_REGION } from '../helpers/rule-harness.js';

const ec2Imdsv1Allowed = registeredRule('ec2-imdsv1-allowed');

/** An instance as `DescribeInstances` answers it. */
const sdkInstance = (id: string, tokens: 'optional' | 'required', tags: { Key: string; Value: string }[] = [], extra: Partial<Instance> = {}): Instance => ({
  InstanceId: id,
  State: { Code: 16, Name: 'running' },
  MetadataOptions: { State: 'applied', HttpTokens: tokens, HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
  Tags: tags,
  ...extra,
});

/** A `DescribeInstances` answer holding these instances. */
const answer = (...instances: Instance[]) => ({ Reservations: [{ Instances: instances }] });

describe('instances function (ec2-imdsv1-allowed)', () => {
  const ec2 = mockClient(EC2Client);
  const sns = mockClient(SNSClient);
  const ID = 'i-0a1b2c3d4e5f60011';
  const optional = answer(sdkInstance(ID, 'optional', [{ Key: 'Name', Value: 'label-studio' }]));
  const requiredPending = answer(sdkInstance(ID, 'required', [], { MetadataOptions: { State: 'pending', HttpTokens: 'required', HttpEndpoint: 'enabled' } }));
  const modifyInput = { InstanceId: ID, HttpTokens: 'required', HttpEndpoint: 'enabled' };
  const describeInput = { InstanceIds: [ID] };

  function handlerFor(mode: 'remediate' | 'propose' | 'notify') {
    return familyHandler('instances', { modes: { 'ec2-imdsv1-allowed': mode } });
  }

  const ec2Error = (name: string, message: string) => new EC2ServiceException({ name, $fault: 'client', $metadata: {}, message });
  const describeInputs = () => ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
  const modifyInputs = () => ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input);
  const decisionLine = (logger: RecordingLogger) => logger.lines.find((l) => l.message === 'decision')?.extra;

  beforeEach(() => {
    ec2.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    ec2.on(ModifyInstanceMetadataOptionsCommand).resolves({ InstanceId: ID, InstanceMetadataOptions: { HttpTokens: 'required', State: 'pending' } });
  });

  it('reads, requires IMDSv2 with exactly the planned input, reads again, and reports applied and verified', async () => {
    // Arrange: the lookup and the precondition see HttpTokens optional; after the call EC2 is applying required.
    ec2.on(DescribeInstancesCommand).resolvesOnce(optional).resolvesOnce(optional).resolves(requiredPending);
    const { handler, logger } = handlerFor('remediate');
    // Act
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    // Assert: lookup, precondition, write, verification, in that order.
    expect(describeInputs()).toStrictEqual([describeInput, describeInput, describeInput]);
    expect(modifyInputs()).toStrictEqual([modifyInput]);
    expect(ec2.calls().map((c) => (c.args[0] as object).constructor.name)).toStrictEqual([
      'DescribeInstancesCommand',
      'DescribeInstancesCommand',
      'ModifyInstanceMetadataOptionsCommand',
      'DescribeInstancesCommand',
    ]);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'applied', execution: 'applied' });
    expect(decisionLine(logger)?.['execution']).toStrictEqual([
      {
        index: 0,
        status: 'applied',
        precondition: { state: 'needed', evidence: `${ID} still answers IMDSv1 (HttpTokens optional, metadata endpoint enabled)` },
        verification: { state: 'done', evidence: `${ID} requires IMDSv2 (HttpTokens required; State pending: EC2 is still applying it)` },
      },
    ]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('is already fixed on a re-run: the read before the call shows HttpTokens required, and nothing is written', async () => {
    ec2.on(DescribeInstancesCommand).resolvesOnce(optional).resolvesOnce(optional).resolves(requiredPending);
    const { handler, logger } = handlerFor('remediate');
    const event = loadEvent('ec2/RunInstances-imdsv1-optional.json');
    await handler(event);
    const second = await handler(structuredClone(event));
    expect(modifyInputs()).toStrictEqual([modifyInput]);
    // First delivery: lookup, before, after; second: lookup, before.
    expect(describeInputs()).toHaveLength(5);
    expect(second.status === 'processed' && second.decisions[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
    const lines = logger.lines.filter((l) => l.message === 'decision' && l.extra['rule'] === 'ec2-imdsv1-allowed');
    expect(lines[1]?.extra['execution']).toStrictEqual([
      { index: 0, status: 'already-done', precondition: { state: 'done', evidence: `${ID} requires IMDSv2 (HttpTokens required; State pending: EC2 is still applying it)` } },
    ]);
  });

  it('records no undo for an instance that already required IMDSv2: the bot changed nothing', async () => {
    ec2.on(DescribeInstancesCommand).resolves(answer(sdkInstance(ID, 'required')));
    const report = await executePlan([planRequireTokens(ID)], createAwsGateway(runtimeCommands(instancesFamily), { region: TEST_REGION, maxAttempts: 1 }), {
      probes: ec2Imdsv1Allowed.probes,
    });
    expect(report.status).toBe('already-fixed');
    expect(report.steps.map((step) => step.status)).toStrictEqual(['already-done']);
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
    const decision = await decide(loadEvent('ec2/RunInstances-imdsv1-optional.json'), ec2Imdsv1Allowed, {
      config: parseConfig({}, instanceRules),
      env: {},
      facts: offlineFacts,
      now: NOW,
    });
    expect(undoEntryFor(decision, report, 'instances', NOW)).toBeUndefined();
  });

  it('reports an instance terminated before the call as already fixed, with that evidence', async () => {
    const evidence = `${ID} is terminated: it serves no instance metadata`;
    ec2.on(DescribeInstancesCommand).resolvesOnce(optional).resolves(answer(sdkInstance(ID, 'optional', [], { State: { Code: 48, Name: 'terminated' } })));
    const { handler, logger } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(modifyInputs()).toStrictEqual([]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('already-fixed');
    expect(decisionLine(logger)?.['execution']).toStrictEqual([{ index: 0, status: 'already-done', precondition: { state: 'done', evidence } }]);
  });

  it('reads InvalidInstanceID.NotFound before the call as "no longer exists": already fixed, no write', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(optional)
      .rejects(ec2Error('InvalidInstanceID.NotFound', `The instance ID '${ID}' does not exist`));
    const { handler, logger } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(modifyInputs()).toStrictEqual([]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('already-fixed');
    expect(decisionLine(logger)?.['execution']).toStrictEqual([{ index: 0, status: 'already-done', precondition: { state: 'done', evidence: `${ID} no longer exists` } }]);
  });

  it('believes InvalidInstanceID.NotFound from the call itself only once a read shows the instance gone', async () => {
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(optional)
      .resolvesOnce(optional)
      .rejects(ec2Error('InvalidInstanceID.NotFound', `The instance ID '${ID}' does not exist`));
    ec2.on(ModifyInstanceMetadataOptionsCommand).rejects(ec2Error('InvalidInstanceID.NotFound', `The instance ID '${ID}' does not exist`));
    const { handler, logger } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(describeInputs()).toStrictEqual([describeInput, describeInput, describeInput]);
    expect(modifyInputs()).toStrictEqual([modifyInput]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('already-fixed');
    expect(decisionLine(logger)?.['execution']).toStrictEqual([
      {
        index: 0,
        status: 'already-done',
        errorCode: 'InvalidInstanceID.NotFound',
        precondition: { state: 'needed', evidence: `${ID} still answers IMDSv1 (HttpTokens optional, metadata endpoint enabled)` },
        verification: { state: 'done', evidence: `${ID} no longer exists` },
      },
    ]);
  });

  it('is stale, and sends nothing, when the metadata endpoint was disabled since the event', async () => {
    const disabled = answer(sdkInstance(ID, 'optional', [], { MetadataOptions: { State: 'applied', HttpTokens: 'optional', HttpEndpoint: 'disabled' } }));
    ec2.on(DescribeInstancesCommand).resolvesOnce(optional).resolves(disabled);
    const { handler, logger } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(describeInputs()).toStrictEqual([describeInput, describeInput]);
    expect(modifyInputs()).toStrictEqual([]);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'stale', execution: 'stale' });
    const [step] = decisionLine(logger)?.['execution'] as { status: string; precondition: { state: string; evidence: string } }[];
    expect(step?.status).toBe('stale');
    expect(step?.precondition.state).toBe('changed');
    expect(step?.precondition.evidence).toContain('now has its metadata endpoint disabled');
  });

  it('reports unverified when the read after the call still shows HttpTokens optional', async () => {
    ec2.on(DescribeInstancesCommand).resolves(optional);
    const { handler, logger } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(describeInputs()).toStrictEqual([describeInput, describeInput, describeInput]);
    expect(modifyInputs()).toStrictEqual([modifyInput]);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'unverified', execution: 'unverified' });
    expect((decisionLine(logger)?.['execution'] as { verification: unknown }[])[0]?.verification).toStrictEqual({
      state: 'needed',
      evidence: `${ID} still answers IMDSv1 (HttpTokens optional, metadata endpoint enabled)`,
    });
  });

  it('sends nothing when the read before the call fails, and fails with the reason', async () => {
    ec2.on(DescribeInstancesCommand).resolvesOnce(optional).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const { handler, logger } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(modifyInputs()).toStrictEqual([]);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
    expect(decisionLine(logger)?.['execution']).toStrictEqual([
      { index: 0, status: 'failed', errorCode: 'UnauthorizedOperation', precondition: { state: 'unreadable', evidence: 'DescribeInstances failed: UnauthorizedOperation' } },
    ]);
  });

  it('reports a permission error on the call as failed', async () => {
    ec2.on(DescribeInstancesCommand).resolves(optional);
    ec2.on(ModifyInstanceMetadataOptionsCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const { handler } = handlerFor('remediate');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
  });

  it('makes no write call in propose mode, and reads the present: still open is proposed, already required is already fixed', async () => {
    const optional15 = answer(sdkInstance('i-0a1b2c3d4e5f60015', 'optional'));
    ec2.on(DescribeInstancesCommand).resolves(optional15);
    const { handler } = handlerFor('propose');
    const open = await handler(loadEvent('ec2/ModifyInstanceMetadataOptions-tokens-optional.json'));
    expect(open.status === 'processed' && open.decisions[0]?.outcome).toBe('proposed');
    ec2.on(DescribeInstancesCommand).resolves(answer(sdkInstance('i-0a1b2c3d4e5f60015', 'required')));
    const fixed = await handler(loadEvent('ec2/ModifyInstanceMetadataOptions-tokens-optional.json'));
    expect(fixed.status === 'processed' && fixed.decisions[0]?.outcome).toBe('already-fixed');
    expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
    // Each delivery: the lookup, then the precondition read.
    expect(describeInputs()).toStrictEqual(Array.from({ length: 4 }, () => ({ InstanceIds: ['i-0a1b2c3d4e5f60015'] })));
  });

  it('shows no plan and reads nothing beyond the lookup in notify mode', async () => {
    ec2.on(DescribeInstancesCommand).resolves(optional);
    const { handler, logger } = handlerFor('notify');
    const result = await handler(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('notified');
    expect(describeInputs()).toStrictEqual([describeInput]);
    expect(modifyInputs()).toStrictEqual([]);
    expect(decisionLine(logger)?.['plan']).toStrictEqual([]);
  });
});
