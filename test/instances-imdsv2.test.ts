import { DescribeInstancesCommand, EC2Client, EC2ServiceException, ModifyInstanceMetadataOptionsCommand, type Instance } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { createRemediationHandler } from '../engine/lambda.js';
import type { Facts, PlanStep, Verdict } from '../engine/types.js';
import { instanceCommands } from '../remediations/instances/commands.js';
import { ec2Imdsv1Allowed, planRequireTokens } from '../remediations/instances/ec2-imdsv1-allowed.js';
import { instanceRules } from '../remediations/instances/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const NOW = new Date('2025-03-10T00:00:00Z');
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';

function evaluate(event: CloudTrailEvent, facts: Facts = {}, rawConfig: unknown = {}): Verdict {
  const config = parseConfig(rawConfig, instanceRules);
  return ec2Imdsv1Allowed.evaluate(event, facts, { config, settings: undefined, now: NOW });
}

const [describeLookup] = ec2Imdsv1Allowed.lookups;

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

function requireStep(instanceId: string, alreadyDone?: string): PlanStep {
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
    ...(alreadyDone ? { alreadyDone } : {}),
  };
}

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

    it('exempts instances tagged in the RunInstances request when no lookup is available', () => {
      const verdict = evaluate(loadEvent('ec2/RunInstances-imdsv1-optional-two-instances-exempt-tag.json'));
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason:
          'i-0a1b2c3d4e5f60013 is exempt (tagged remediation:exempt: vendor agent needs IMDSv1 until SEC-77); i-0a1b2c3d4e5f60014 is exempt (tagged remediation:exempt: vendor agent needs IMDSv1 until SEC-77)',
        resources: ['i-0a1b2c3d4e5f60013', 'i-0a1b2c3d4e5f60014'],
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

    it('marks the step already done when DescribeInstances shows IMDSv2 required since the event', () => {
      const verdict = evaluate(loadEvent('ec2/RunInstances-imdsv1-optional.json'), described([sdkInstance('i-0a1b2c3d4e5f60011', 'required')]));
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        requireStep('i-0a1b2c3d4e5f60011', 'DescribeInstances says HttpTokens is already required'),
      ]);
    });

    it('never re-enables an endpoint that was disabled since the event', () => {
      const facts = described([sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [], { MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'disabled' } })]);
      expect(evaluate(loadEvent('ec2/RunInstances-imdsv1-optional.json'), facts)).toStrictEqual({
        kind: 'compliant',
        summary: 'i-0a1b2c3d4e5f60011: the metadata endpoint is disabled now',
        resources: ['i-0a1b2c3d4e5f60011'],
      });
    });

    it.each([
      ['DescribeInstances returns nothing for the id', { instances: { status: 'ok', value: null } } as Facts],
      ['the instance is terminated', described([sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [], { State: { Code: 48, Name: 'terminated' } })])],
    ])('skips an instance that is gone: %s', (_, facts) => {
      expect(evaluate(loadEvent('ec2/RunInstances-imdsv1-optional.json'), facts)).toStrictEqual({
        kind: 'skipped',
        reason: 'i-0a1b2c3d4e5f60011 no longer exists',
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
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (Client.InvalidParameterValue), so it changed nothing' });
    });

    it('plans one idempotent step per instance', () => {
      expect(planRequireTokens('i-1')).toStrictEqual(requireStep('i-1'));
    });
  });

  describe('handler', () => {
    const ec2 = mockClient(EC2Client);
    const sns = mockClient(SNSClient);

    function handlerFor(mode: 'remediate' | 'propose') {
      const config = parseConfig({ rules: { 'ec2-imdsv1-allowed': { mode } } }, instanceRules);
      return createRemediationHandler({
        rules: instanceRules,
        commands: instanceCommands,
        logger: recordingLogger(),
        config,
        env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-instances' },
        gateway: createAwsGateway(instanceCommands, { region: 'us-east-1', maxAttempts: 1 }),
      });
    }

    beforeEach(() => {
      ec2.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [sdkInstance('i-0a1b2c3d4e5f60011', 'optional', [{ Key: 'Name', Value: 'label-studio' }])] }] });
      ec2.on(ModifyInstanceMetadataOptionsCommand).resolves({ InstanceId: 'i-0a1b2c3d4e5f60011', InstanceMetadataOptions: { HttpTokens: 'required', State: 'pending' } });
    });

    it('requires IMDSv2 in remediate mode with exactly the planned input, after a DescribeInstances lookup', async () => {
      const result = await handlerFor('remediate')(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
      expect(ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input)).toStrictEqual([{ InstanceIds: ['i-0a1b2c3d4e5f60011'] }]);
      expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand).map((c) => c.args[0].input)).toStrictEqual([
        { InstanceId: 'i-0a1b2c3d4e5f60011', HttpTokens: 'required', HttpEndpoint: 'enabled' },
      ]);
      expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('applied');
      expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    });

    it('is harmless on a second delivery: the lookup shows IMDSv2 required and no write is sent', async () => {
      const handler = handlerFor('remediate');
      const event = loadEvent('ec2/RunInstances-imdsv1-optional.json');
      await handler(event);
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [sdkInstance('i-0a1b2c3d4e5f60011', 'required')] }] });
      const second = await handler(structuredClone(event));
      expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(1);
      expect(second.status === 'processed' && second.decisions[0]?.outcome).toBe('already-fixed');
    });

    it('counts an instance terminated before the call as done (InvalidInstanceID.NotFound)', async () => {
      ec2
        .on(ModifyInstanceMetadataOptionsCommand)
        .rejects(new EC2ServiceException({ name: 'InvalidInstanceID.NotFound', $fault: 'client', $metadata: {}, message: "The instance ID 'i-0a1b2c3d4e5f60011' does not exist" }));
      const result = await handlerFor('remediate')(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
      expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('already-fixed');
    });

    it('reports a permission error as failed, naming the missing action', async () => {
      ec2
        .on(ModifyInstanceMetadataOptionsCommand)
        .rejects(new EC2ServiceException({ name: 'UnauthorizedOperation', $fault: 'client', $metadata: {}, message: 'You are not authorized to perform this operation.' }));
      const result = await handlerFor('remediate')(loadEvent('ec2/RunInstances-imdsv1-optional.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
    });

    it('makes no write call in propose mode', async () => {
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [sdkInstance('i-0a1b2c3d4e5f60015', 'optional')] }] });
      const result = await handlerFor('propose')(loadEvent('ec2/ModifyInstanceMetadataOptions-tokens-optional.json'));
      expect(ec2.commandCalls(ModifyInstanceMetadataOptionsCommand)).toHaveLength(0);
      expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('proposed');
    });
  });
});
