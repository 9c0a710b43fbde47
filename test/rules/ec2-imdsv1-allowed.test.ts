import type { Instance } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { Facts, PlanStep } from '../../engine/types.js';
import { instanceMetadataProbe, planRequireTokens } from '../../remediations/instances/ec2-imdsv1-allowed.js';
import { instanceRules } from '../../remediations/instances/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { lookupOf, registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const ec2Imdsv1Allowed = registeredRule('ec2-imdsv1-allowed');
const evaluate = ruleEvaluator('ec2-imdsv1-allowed');

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
      const verdict = evaluate(loadEvent('ec2/RunInstances-imdsv1-optional-two-instances-exempt-tag.json'), { facts });
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
      const verdict = evaluate(loadEvent('ec2/RunInstances-imdsv1-optional.json'), { facts });
      expect(verdict.kind === 'violation' && verdict.summary).toBe(`i-0a1b2c3d4e5f60011 launched with IMDSv1 allowed (HttpTokens optional); ${note}`);
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([requireStep('i-0a1b2c3d4e5f60011')]);
    });

    it('passes a pre-2019 record of an instance that no longer exists: nothing is exposed, and nothing can be judged', () => {
      const event = loadEvent('ec2/RunInstances-imdsv1-optional.json');
      const response = event.detail.responseElements as { instancesSet: { items: Record<string, unknown>[] } };
      for (const item of response.instancesSet.items) delete item['metadataOptions'];
      expect(evaluate(event, { facts: { instances: { status: 'ok', value: null } } })).toStrictEqual({
        kind: 'compliant',
        summary: 'i-0a1b2c3d4e5f60011: it no longer exists, so it serves no metadata (the event does not state its metadata options)',
        resources: ['i-0a1b2c3d4e5f60011'],
      });
    });

    it('neither assumes nor rules out IMDSv1 for a pre-2019 record without metadata options when the lookup is unavailable', () => {
      const event = loadEvent('ec2/RunInstances-imdsv1-optional.json');
      const response = event.detail.responseElements as { instancesSet: { items: Record<string, unknown>[] } };
      for (const item of response.instancesSet.items) delete item['metadataOptions'];
      const verdict = evaluate(event, { facts: { instances: { status: 'unavailable', reason: 'offline replay has no AWS access' } } });
      expect(verdict).toStrictEqual({
        kind: 'skipped',
        reason:
          'the metadata options of i-0a1b2c3d4e5f60011 are not in the event and DescribeInstances is unavailable (offline replay has no AWS access); IMDSv1 is neither assumed nor ruled out',
        resources: ['i-0a1b2c3d4e5f60011'],
      });
      const withLookup = evaluate(event, { facts: described([sdkInstance('i-0a1b2c3d4e5f60011', 'optional')]) });
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
});
