import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { sagemakerRules } from '../../remediations/sagemaker/index.js';
import { SagemakerModelNotIsolatedSettingsSchema } from '../../remediations/sagemaker/sagemaker-model-not-isolated.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler, ruleEvaluator } from '../helpers/rule-harness.js';

const sagemakerModelNotIsolated = registeredRule('sagemaker-model-not-isolated');
const evaluate = ruleEvaluator('sagemaker-model-not-isolated');
const NOW = new Date('2025-03-15T12:00:00Z');
const ACCOUNT = '111122223333';
const CHURN = 'churn-xgb-2025-03-13-15-44-01';
const CHURN_ARN = `arn:aws:sagemaker:us-east-1:${ACCOUNT}:model/${CHURN}`;
const required = { rules: { 'sagemaker-model-not-isolated': { requireNetworkIsolation: true } } };

const request = (event: CloudTrailEvent) => event.detail.requestParameters as Record<string, unknown>;

const finding = (how: string, where: string) => ({
  code: 'network-isolation-off',
  severity: 'medium',
  message: `EnableNetworkIsolation is ${how}: the model's containers can make network calls${where}, and requireNetworkIsolation says they must make none. A model cannot be changed: create a new model with EnableNetworkIsolation true, then move the endpoint configurations and transform jobs that use ${CHURN} to it.`,
  subject: 'EnableNetworkIsolation',
});

describe('sagemaker-model-not-isolated', () => {
  describe('settings', () => {
    it('accepts {} and leaves network isolation not required', () => {
      expect(SagemakerModelNotIsolatedSettingsSchema.parse({})).toStrictEqual({ requireNetworkIsolation: false });
    });

    it('rejects an unknown setting', () => {
      expect(() => parseConfig({ rules: { 'sagemaker-model-not-isolated': { requireVpc: true } } }, sagemakerRules)).toThrow(ConfigError);
    });
  });

  describe('evaluate, by default (requireNetworkIsolation false)', () => {
    it('passes a model without network isolation, saying it is not required', () => {
      expect(evaluate(loadEvent('sagemaker/CreateModel-no-network-isolation.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `model ${CHURN}: network isolation off, and not required (requireNetworkIsolation is false)`,
        resources: [CHURN_ARN],
      });
    });
  });

  describe('evaluate, with requireNetworkIsolation true', () => {
    it('flags a model whose request omits EnableNetworkIsolation, and plans nothing', () => {
      // Arrange
      const event = loadEvent('sagemaker/CreateModel-no-network-isolation.json');
      // Act
      const verdict = evaluate(event, { config: required });
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `model ${CHURN}: no network isolation`,
        resources: [CHURN_ARN],
        findings: [finding('omitted (not isolated)', ', the internet included (no VpcConfig)')],
        plan: [],
      });
    });

    it('flags an explicit false in a VPC, saying the VPC bounds the calls', () => {
      const event = loadEvent('sagemaker/CreateModel-no-network-isolation.json');
      request(event)['enableNetworkIsolation'] = false;
      request(event)['vpcConfig'] = { securityGroupIds: ['sg-0123456789abcdef0'], subnets: ['subnet-0a1b2c3d4e5f60718'] };
      const verdict = evaluate(event, { config: required });
      expect(verdict.kind === 'violation' && verdict.findings).toStrictEqual([finding('false', ' wherever its VPC lets them')]);
    });

    it('passes a model with network isolation on', () => {
      expect(evaluate(loadEvent('sagemaker/CreateModel-network-isolation-vpc-compliant.json'), { config: required })).toStrictEqual({
        kind: 'compliant',
        summary: 'model fraud-xgb-2025-03-15-10-18-25: network isolation on',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:model/fraud-xgb-2025-03-15-10-18-25`],
      });
    });

    it('exempts a model whose request Tags carry the exemption tag, keeping the finding', () => {
      const event = loadEvent('sagemaker/CreateModel-no-network-isolation.json');
      request(event)['tags'] = [{ key: 'remediation:exempt', value: 'calls the feature store API' }];
      const verdict = evaluate(event, { config: required });
      expect(verdict).toMatchObject({ kind: 'exempt', reason: `model ${CHURN} is tagged remediation:exempt: calls the feature store API`, resources: [CHURN_ARN] });
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => f.code)).toStrictEqual(['network-isolation-off']);
    });

    it('builds the ARN from the lowercased name when the response has none', () => {
      const event = loadEvent('sagemaker/CreateModel-no-network-isolation.json');
      request(event)['modelName'] = 'Churn-XGB';
      event.detail.responseElements = null;
      expect(evaluate(event, { config: required }).resources).toStrictEqual([`arn:aws:sagemaker:us-east-1:${ACCOUNT}:model/churn-xgb`]);
    });

    it('skips an event that names no model', () => {
      const event = loadEvent('sagemaker/CreateModel-no-network-isolation.json');
      event.detail.requestParameters = {};
      expect(evaluate(event, { config: required })).toStrictEqual({ kind: 'skipped', reason: 'the event names no model' });
    });
  });

  describe('through the engine', () => {
    it('notifies by default and makes no lookup', async () => {
      const config = parseConfig(required, sagemakerRules);
      const decision = await decide(loadEvent('sagemaker/CreateModel-no-network-isolation.json'), sagemakerModelNotIsolated, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.mode).toBe('notify');
      expect(decision.verdict.kind).toBe('violation');
      expect(decision.unavailableFacts).toStrictEqual([]);
      expect(sagemakerModelNotIsolated.permissions).toStrictEqual([]);
    });

    it('skips a failed call before the rule runs', async () => {
      const config = parseConfig(required, sagemakerRules);
      const decision = await decide(loadEvent('sagemaker/CreateModel-failed-validation.json'), sagemakerModelNotIsolated, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (ValidationException), so it changed nothing', cause: 'failed-call' });
    });
  });

  describe('through the Lambda path', () => {
    const sagemaker = mockClient(SageMakerClient);
    const sns = mockClient(SNSClient);

    beforeEach(() => {
      sagemaker.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    });

    it('stays quiet by default', async () => {
      const { handler } = familyHandler('sagemaker');

      const result = await handler(loadEvent('sagemaker/CreateModel-no-network-isolation.json'));

      expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([['sagemaker-model-not-isolated', 'compliant', 'none']]);
      expect(sns.calls()).toHaveLength(0);
    });

    it('publishes one medium alert once the setting requires isolation, and calls SageMaker not at all', async () => {
      const { handler } = familyHandler('sagemaker', { settings: { 'sagemaker-model-not-isolated': { requireNetworkIsolation: true } } });

      const result = await handler(loadEvent('sagemaker/CreateModel-no-network-isolation.json'));

      expect(result.status === 'processed' && result.decisions).toStrictEqual([
        { rule: 'sagemaker-model-not-isolated', verdict: 'violation', outcome: 'notified', summary: `model ${CHURN}: no network isolation` },
      ]);
      expect(sagemaker.calls()).toHaveLength(0);
      const published = sns.commandCalls(PublishCommand);
      expect(published).toHaveLength(1);
      expect(published[0]?.args[0].input.MessageAttributes?.['severity']?.StringValue).toBe('medium');
    });
  });
});
