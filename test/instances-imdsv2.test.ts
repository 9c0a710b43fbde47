import { DescribeInstancesCommand, EC2Client, EC2ServiceException, ModifyInstanceMetadataOptionsCommand, type Instance } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { executePlan } from '../engine/executor.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import type { Facts, PlanStep, Verdict } from '../engine/types.js';
import { undoEntryFor } from '../engine/undo-store.js';
import { instanceMetadataProbe, planRequireTokens } from '../remediations/instances/ec2-imdsv1-allowed.js';
import { instanceRules } from '../remediations/instances/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { instancesFamily } from '../remediations/instances/index.js';
import { lookupOf, registeredRule } from './helpers/registered.js';

const instanceCommands = runtimeCommands(instancesFamily);
const ec2Imdsv1Allowed = registeredRule('ec2-imdsv1-allowed');

const NOW = new Date('2025-03-10T00:00:00Z');
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';

function evaluate(event: CloudTrailEvent, facts: Facts = {}, rawConfig: unknown = {}): Verdict {
  const config = parseConfig(rawConfig, instanceRules);
  return ec2Imdsv1Allowed.evaluate(event, facts, { config, settings: undefined, now: NOW });
}

const describeLookup = lookupOf(ec2Imdsv1Allowed);

/** A `DescribeInstances` answer, reduced by the rule's own `select`. */
function described(instances: readonly Instance[]): Facts {
  return { instances: { status: 'ok', value: describeLookup.select({ Reservations: [{ Instances: instances }] }) } };
}

const sdkInstance = (id: string, tokens: 'optional' | 'required', tags: { Key: string; Value: string }[] = [], extra: Partial<Instance> = {}): Instance => ({
  InstanceId: id,
  State: { Code: 16, Name: 'running' },
  MetadataOptions: { State: 'applied', HttpTokens: tokens, HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
  Tags: tags,
  ...extra,
});

function requireStep(instanceId: string): PlanStep {
  const check = {
    service: 'ec2',
    operation: 'DescribeInstances',
    input: { InstanceIds: [instanceId] },
    probe: 'instanceMetadata',
    expect: { instanceId },
    description: `${instanceId} still allows IMDSv1 (HttpTokens optional, metadata endpoint enabled)`,
  } as const;
  return {
    service: 'ec2',
    operation: 'ModifyInstanceMetadataOptions',
    input: { InstanceId: instanceId, HttpTokens: 'required', HttpEndpoint: 'enabled' },
    reason: `Require IMDSv2 session tokens on ${instanceId}, so its role credentials are no longer served to tokenless (IMDSv1) requests. Software that only speaks IMDSv1 (old SDKs and agents) loses metadata access until it is updated.`,
    undo: {
      service: 'ec2',
      operation: 'ModifyInstanceMetadataOptions',
      input: { InstanceId: instanceId, HttpTokens: 'optional', HttpEndpoint: 'enabled' },
      reason: `Allow IMDSv1 on ${instanceId} again.`,
    },
    alreadyDoneCodes: ['InvalidInstanceID.NotFound'],
    precondition: check,
    verification: check,
  };
}

/** A `DescribeInstances` answer holding these instances. */
const answer = (...instances: Instance[]) => ({ Reservations: [{ Instances: instances }] });

describe('ec2-imdsv1-allowed', () => {
  describe('evaluate', () => {
    it('flags an instance launched with HttpTokens optional and requires IMDSv2 on it', () => {
      // Arrange
      const event = loadEvent('ec2/RunInstances-imdsv1-optional.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'i-0a1b2c3d4e5f60011 launched with IMDSv1 allowed (HttpTokens optional)',
        resources: ['i-0a1b2c3d4e5f60011'],
        findings: [
          {
            code: 'imdsv1-allowed',
            severity: 'high',
            message:
              'i-0a1b2c3d4e5f60011 answers tokenless IMDSv1 requests (HttpTokens optional): a server-side request forgery on it can read its role credentials.',
            subject: 'i-0a1b2c3d4e5f60011',
          },
        ],
        plan: [requireStep('i-0a1b2c3d4e5f60011')],
      });
    });

    it('flags ModifyInstanceMetadataOptions that sets HttpTokens optional, from the wrapped request and response', () => {
      const verdict = evaluate(loadEvent('ec2/ModifyInstanceMetadataOptions-tokens-optional.json'));
      expect(verdict.kind === 'violation' && verdict.summary).toBe('i-0a1b2c3d4e5f60015 set with IMDSv1 allowed (HttpTokens optional)');
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([requireStep('i-0a1b2c3d4e5f60015')]);
    });

    it('reads the capitalised request alone when the response is missing', () => {
      const event = loadEvent('ec2/ModifyInstanceMetadataOptions-tokens-optional.json');
      event.detail.responseElements = null;
      expect(evaluate(event).kind).toBe('violation');
    });

    it.each([
      ['ec2/RunInstances-imdsv2-required-compliant.json', 'i-0a1b2c3d4e5f60012', 'IMDSv2 is required'],
      ['ec2/ModifyInstanceMetadataOptions-tokens-required-compliant.json', 'i-0a1b2c3d4e5f60015', 'IMDSv2 is required'],
      ['ec2/ModifyInstanceMetadataOptions-endpoint-disabled-compliant.json', 'i-0a1b2c3d4e5f60016', 'the metadata endpoint is disabled'],
      ['ec2/RunInstances-volumes-not-in-event.json', 'i-0a1b2c3d4e5f60002', 'IMDSv2 is required'],
    ])('passes %s', (fixture, instanceId, why) => {
      expect(evaluate(loadEvent(fixture))).toStrictEqual({ kind: 'compliant', summary: `${instanceId}: ${why}`, resources: [instanceId] });
    });

    it('exempts instances tagged in the RunInstances request when no lookup is available, and says what the exemption let through', () => {
      const verdict = evaluate(loadEvent('ec2/RunInstances-imdsv1-optional-two-instances-exempt-tag.json'));
      const finding = (id: string) => ({
        code: 'imdsv1-allowed',
        severity: 'high',
        message: `${id} answers tokenless IMDSv1 requests (HttpTokens optional): a server-side request forgery on it can read its role credentials.`,
        subject: id,
      });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason:
          'i-0a1b2c3d4e5f60013 is exempt (tagged remediation:exempt: vendor agent needs IMDSv1 until SEC-77); i-0a1b2c3d4e5f60014 is exempt (tagged remediation:exempt: vendor agent needs IMDSv1 until SEC-77)',
        resources: ['i-0a1b2c3d4e5f60013', 'i-0a1b2c3d4e5f60014'],
        findings: [finding('i-0a1b2c3d4e5f60013'), finding('i-0a1b2c3d4e5f60014')],
      });
    });

    it('prefers the tags DescribeInstances reports now: one instance lost its exemption tag', () => {
      const facts = described([
        sdkInstance('i-0a1b2c3d4e5f60013', 'optional', [{ Key: 'remediation:exempt', Value: 'SEC-77' }]),
        sdkInstance('i-0a1b2c3d4e5f60014', 'optional', [{ Key: 'Name', Value: 'legacy-etl' }]),
      ]);
      const verdict = evaluate(loadEvent('ec2/RunInstances-imdsv1-optional-two-instances-exempt-tag.json'), facts);
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([requireStep('i-0a1b2c3d4e5f60014')]);
      expect(verdict.kind === 'violation' && verdict.summary).toBe(
        'i-0a1b2c3d4e5f60014 launched with IMDSv1 allowed (HttpTokens optional); i-0a1b2c3d4e5f60013 is exempt (tagged remediation:exempt: SEC-77)',
      );
    });

    it.each([
      ['IMDSv2 is required since the event', described([sdkInstance('i-0a1b2c3d4e5f60011', 'required')]), 'i-0a1b2c3d4e5f60011 requires IMDSv2 now'],
      [
        'the endpoint is disabled since the event',
        described([sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [], { MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'disabled' } })]),
        'i-0a1b2c3d4e5f60011 has its metadata endpoint disabled now',
      ],
      ['DescribeInstances returns nothing for the id', { instances: { status: 'ok', value: null } } as Facts, 'i-0a1b2c3d4e5f60011 no longer exists'],
      [
        'the instance is terminated',
        described([sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [], { State: { Code: 48, Name: 'terminated' } })]),
        'i-0a1b2c3d4e5f60011 is terminated now',
      ],
    ])('still reports what the event did when %s, and leaves the present to the step\'s own read', (_, facts, note) => {
      const verdict = evaluate(loadEvent('ec2/RunInstances-imdsv1-optional.json'), facts);
      expect(verdict.kind === 'violation' && verdict.summary).toBe(`i-0a1b2c3d4e5f60011 launched with IMDSv1 allowed (HttpTokens optional); ${note}`);
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([requireStep('i-0a1b2c3d4e5f60011')]);
    });

    it('passes a pre-2019 record of an instance that no longer exists: nothing is exposed, and nothing can be judged', () => {
      const event = loadEvent('ec2/RunInstances-imdsv1-optional.json');
      const response = event.detail.responseElements as { instancesSet: { items: Record<string, unknown>[] } };
      for (const item of response.instancesSet.items) delete item['metadataOptions'];
      expect(evaluate(event, { instances: { status: 'ok', value: null } })).toStrictEqual({
        kind: 'compliant',
        summary: 'i-0a1b2c3d4e5f60011: it no longer exists, so it serves no metadata (the event does not state its metadata options)',
        resources: ['i-0a1b2c3d4e5f60011'],
      });
    });

    it('neither assumes nor rules out IMDSv1 for a pre-2019 record without metadata options when the lookup is unavailable', () => {
      const event = loadEvent('ec2/RunInstances-imdsv1-optional.json');
      const response = event.detail.responseElements as { instancesSet: { items: Record<string, unknown>[] } };
      for (const item of response.instancesSet.items) delete item['metadataOptions'];
      const verdict = evaluate(event, { instances: { status: 'unavailable', reason: 'offline replay has no AWS access' } });
      expect(verdict).toStrictEqual({
        kind: 'skipped',
        reason:
          'the metadata options of i-0a1b2c3d4e5f60011 are not in the event and DescribeInstances is unavailable (offline replay has no AWS access); IMDSv1 is neither assumed nor ruled out',
        resources: ['i-0a1b2c3d4e5f60011'],
      });
      const withLookup = evaluate(event, described([sdkInstance('i-0a1b2c3d4e5f60011', 'optional')]));
      expect(withLookup.kind === 'violation' && withLookup.plan).toStrictEqual([requireStep('i-0a1b2c3d4e5f60011')]);
    });

    it('skips an event that names no instance', () => {
      const event = loadEvent('ec2/ModifyInstanceMetadataOptions-tokens-optional.json');
      event.detail.requestParameters = {};
      event.detail.responseElements = {};
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no instance' });
    });

    it('looks up only the instances that may allow IMDSv1', () => {
      expect(describeLookup.input(loadEvent('ec2/RunInstances-imdsv1-optional-two-instances-exempt-tag.json'))).toStrictEqual({
        InstanceIds: ['i-0a1b2c3d4e5f60013', 'i-0a1b2c3d4e5f60014'],
      });
      expect(describeLookup.input(loadEvent('ec2/RunInstances-imdsv2-required-compliant.json'))).toBeUndefined();
    });

    it('leaves the failed genuine call to the engine, which skips it', async () => {
      const config = parseConfig({}, instanceRules);
      const decision = await decide(loadEvent('ec2/ModifyInstanceMetadataOptions-failed-invalid-parameter-flatiron-genuine.json'), ec2Imdsv1Allowed, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (Client.InvalidParameterValue), so it changed nothing', cause: 'failed-call' });
    });

    it('plans one step per instance, read before and after with the same DescribeInstances check', () => {
      expect(planRequireTokens('i-1')).toStrictEqual(requireStep('i-1'));
      expect(ec2Imdsv1Allowed.probes).toStrictEqual([instanceMetadataProbe]);
    });
  });

  describe('instanceMetadataProbe', () => {
    const judge = (output: unknown) => instanceMetadataProbe.judge(output, { instanceId: 'i-0a1b2c3d4e5f60011' });

    it('needs the change while HttpTokens is optional and the endpoint enabled', () => {
      expect(judge(answer(sdkInstance('i-0a1b2c3d4e5f60011', 'optional')))).toStrictEqual({
        state: 'needed',
        evidence: 'i-0a1b2c3d4e5f60011 still answers IMDSv1 (HttpTokens optional, metadata endpoint enabled)',
      });
    });

    it('counts HttpTokens required as done, and says so when EC2 is still applying it (State pending)', () => {
      expect(judge(answer(sdkInstance('i-0a1b2c3d4e5f60011', 'required')))).toStrictEqual({ state: 'done', evidence: 'i-0a1b2c3d4e5f60011 requires IMDSv2 (HttpTokens required)' });
      const pending = sdkInstance('i-0a1b2c3d4e5f60011', 'required', [], { MetadataOptions: { State: 'pending', HttpTokens: 'required', HttpEndpoint: 'enabled' } });
      expect(judge(answer(pending))).toStrictEqual({
        state: 'done',
        evidence: 'i-0a1b2c3d4e5f60011 requires IMDSv2 (HttpTokens required; State pending: EC2 is still applying it)',
      });
    });

    it.each([
      ['not found (InvalidInstanceID.NotFound)', null, 'i-0a1b2c3d4e5f60011 no longer exists'],
      ['absent from the answer', answer(), 'i-0a1b2c3d4e5f60011 no longer exists'],
      ['terminated', answer(sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [], { State: { Code: 48, Name: 'terminated' } })), 'i-0a1b2c3d4e5f60011 is terminated: it serves no instance metadata'],
      ['shutting down', answer(sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [], { State: { Code: 32, Name: 'shutting-down' } })), 'i-0a1b2c3d4e5f60011 is shutting-down: it serves no instance metadata'],
    ])('counts an instance %s as done', (_, output, evidence) => {
      expect(judge(output)).toStrictEqual({ state: 'done', evidence });
    });

    it('calls a metadata endpoint disabled since the event a change: sending HttpEndpoint enabled would turn it back on', () => {
      const disabled = sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [], { MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'disabled' } });
      expect(judge(answer(disabled))).toStrictEqual({
        state: 'changed',
        evidence:
          'i-0a1b2c3d4e5f60011 now has its metadata endpoint disabled (HttpTokens optional), not enabled as the event left it: nothing changed, because requiring IMDSv2 means sending HttpEndpoint enabled, which would turn the endpoint back on',
      });
    });

    it('refuses to judge an answer that states no HttpTokens', () => {
      expect(() => judge(answer({ InstanceId: 'i-0a1b2c3d4e5f60011', State: { Code: 16, Name: 'running' } }))).toThrow('DescribeInstances states no HttpTokens for i-0a1b2c3d4e5f60011');
    });
  });

  describe('handler', () => {
    const ec2 = mockClient(EC2Client);
    const sns = mockClient(SNSClient);
    const ID = 'i-0a1b2c3d4e5f60011';
    const optional = answer(sdkInstance(ID, 'optional', [{ Key: 'Name', Value: 'label-studio' }]));
    const requiredPending = answer(sdkInstance(ID, 'required', [], { MetadataOptions: { State: 'pending', HttpTokens: 'required', HttpEndpoint: 'enabled' } }));
    const modifyInput = { InstanceId: ID, HttpTokens: 'required', HttpEndpoint: 'enabled' };
    const describeInput = { InstanceIds: [ID] };

    function handlerFor(mode: 'remediate' | 'propose' | 'notify') {
      const logger = recordingLogger();
      const config = parseConfig({ rules: { 'ec2-imdsv1-allowed': { mode } } }, instanceRules);
      const handler = remediationHandler({
        rules: instanceRules,
        commands: instanceCommands,
        logger,
        config,
        env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-instances' },
        gateway: createAwsGateway(instanceCommands, { region: 'us-east-1', maxAttempts: 1 }),
      });
      return { handler, logger };
    }

    const ec2Error = (name: string, message: string) => new EC2ServiceException({ name, $fault: 'client', $metadata: {}, message });
    const describeInputs = () => ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
    const modifyInputs = () => ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input);
    const decisionLine = (logger: ReturnType<typeof recordingLogger>) => logger.lines.find((l) => l.message === 'decision')?.extra;

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
      const lines = logger.lines.filter((l) => l.message === 'decision');
      expect(lines[1]?.extra['execution']).toStrictEqual([
        { index: 0, status: 'already-done', precondition: { state: 'done', evidence: `${ID} requires IMDSv2 (HttpTokens required; State pending: EC2 is still applying it)` } },
      ]);
    });

    it('records no undo for an instance that already required IMDSv2: the bot changed nothing', async () => {
      ec2.on(DescribeInstancesCommand).resolves(answer(sdkInstance(ID, 'required')));
      const report = await executePlan([planRequireTokens(ID)], createAwsGateway(instanceCommands, { region: 'us-east-1', maxAttempts: 1 }), {
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
});
