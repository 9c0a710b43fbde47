import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Verdict } from '../../engine/types.js';
import {
  DEFAULT_LOCAL_STORAGE_FAMILIES,
  SagemakerEndpointUnencryptedSettingsSchema,
  endpointConfigProbe,
  endpointProbe,
  hasLocalStorage,
  proposedConfigName,
} from '../../remediations/sagemaker/sagemaker-endpoint-unencrypted.js';
import { sagemakerRules } from '../../remediations/sagemaker/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';

const sagemakerEndpointUnencrypted = registeredRule('sagemaker-endpoint-unencrypted');
const evaluate = ruleEvaluator('sagemaker-endpoint-unencrypted');
const NOW = new Date('2025-03-15T12:00:00Z');
const ACCOUNT = '111122223333';
const defaults = SagemakerEndpointUnencryptedSettingsSchema.parse({});

function violation(event: CloudTrailEvent): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event);
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

const request = (event: CloudTrailEvent) => event.detail.requestParameters as Record<string, unknown>;
const withVariants = (event: CloudTrailEvent, variants: Record<string, unknown>[]) => {
  request(event)['productionVariants'] = variants;
  return event;
};

describe('sagemaker-endpoint-unencrypted', () => {
  describe('settings', () => {
    it('accepts {} and lists the instance-storage families without a d in their name', () => {
      expect(defaults).toStrictEqual({ localStorageInstanceFamilies: [...DEFAULT_LOCAL_STORAGE_FAMILIES] });
    });

    it('rejects a family that is not an ml.* family', () => {
      expect(SagemakerEndpointUnencryptedSettingsSchema.safeParse({ localStorageInstanceFamilies: ['g5'] }).success).toBe(false);
    });
  });

  describe('hasLocalStorage', () => {
    it.each([
      ['ml.m5d.large', true],
      ['ml.c6id.xlarge', true],
      ['ml.g4dn.xlarge', true],
      ['ml.p4d.24xlarge', true],
      ['ml.p4de.24xlarge', true],
      ['ml.g5.2xlarge', true],
      ['ml.p5.48xlarge', true],
      ['ml.trn1.32xlarge', true],
      ['ml.m5.large', false],
      ['ml.c5.xlarge', false],
      ['ml.inf2.xlarge', false],
      ['ml.g4ad.xlarge', true],
      ['ml.t2.medium', false],
    ])('%s: %s', (type, expected) => {
      expect(hasLocalStorage(type, defaults)).toBe(expected);
    });
  });

  describe('evaluate', () => {
    it('flags a volume without a KMS key and data capture without a KMS key, applies nothing, and proposes an encrypted copy', () => {
      // Arrange
      const event = loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json');
      // Act
      const verdict = violation(event);
      // Assert
      expect(verdict.summary).toBe(
        'endpoint configuration churn-xgb-config-2025-03-15: storage volume without a KMS key, data capture without a KMS key; proposed: a copy with KMS keys, then move its endpoints',
      );
      expect(verdict.resources).toStrictEqual([`arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint-config/churn-xgb-config-2025-03-15`]);
      expect(verdict.findings).toStrictEqual([
        {
          code: 'volume-not-kms-encrypted',
          severity: 'medium',
          message: 'No KmsKeyId: the ML storage volume of ml.m5.large holds the model and is not encrypted with a customer managed KMS key.',
          subject: 'KmsKeyId',
        },
        {
          code: 'data-capture-not-kms-encrypted',
          severity: 'medium',
          message:
            'Data capture is on without DataCaptureConfig.KmsKeyId: every captured request and response written to s3://amzn-s3-demo-bucket/churn/capture/ is stored without a customer managed KMS key.',
          subject: 'DataCaptureConfig.KmsKeyId',
        },
      ]);
      expect(verdict.plan).toStrictEqual([]);
      const endpoint = { $unknown: 'an endpoint that uses churn-xgb-config-2025-03-15 (aws sagemaker list-endpoints, then describe-endpoint); one step per endpoint' };
      const copyCheck = {
        service: 'sagemaker',
        operation: 'DescribeEndpointConfig',
        input: { EndpointConfigName: 'churn-xgb-config-2025-03-15-kms' },
        probe: 'endpointConfig',
        expect: { config: 'churn-xgb-config-2025-03-15-kms', volumeKey: true, captureKey: true },
        description: 'churn-xgb-config-2025-03-15-kms does not exist yet',
      };
      const endpointCheck = {
        service: 'sagemaker',
        operation: 'DescribeEndpoint',
        input: { EndpointName: endpoint },
        probe: 'endpoint',
        expect: { from: 'churn-xgb-config-2025-03-15', to: 'churn-xgb-config-2025-03-15-kms' },
        description: 'the endpoint still uses churn-xgb-config-2025-03-15',
      };
      expect(verdict.proposal).toStrictEqual([
        {
          service: 'sagemaker',
          operation: 'CreateEndpointConfig',
          input: {
            EndpointConfigName: 'churn-xgb-config-2025-03-15-kms',
            ProductionVariants: [
              { VariantName: 'AllTraffic', ModelName: 'churn-xgb-2025-03-13-14-03-36', InitialInstanceCount: 2, InstanceType: 'ml.m5.large', InitialVariantWeight: 1 },
            ],
            DataCaptureConfig: {
              EnableCapture: true,
              InitialSamplingPercentage: 100,
              DestinationS3Uri: 's3://amzn-s3-demo-bucket/churn/capture/',
              CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
              CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'] },
              KmsKeyId: { $unknown: 'the ARN of the KMS key for captured data' },
            },
            Tags: [{ Key: 'team', Value: 'growth-analytics' }],
            KmsKeyId: { $unknown: 'the ARN of the KMS key for the ML storage volume' },
          },
          reason:
            'Create churn-xgb-config-2025-03-15-kms, a copy of churn-xgb-config-2025-03-15 with KMS encryption: an endpoint configuration cannot be changed. churn-xgb-config-2025-03-15 itself stays.',
          undo: {
            service: 'sagemaker',
            operation: 'DeleteEndpointConfig',
            input: { EndpointConfigName: 'churn-xgb-config-2025-03-15-kms' },
            reason: 'Delete churn-xgb-config-2025-03-15-kms, the copy this proposal created (only once no endpoint uses it); churn-xgb-config-2025-03-15 was never touched.',
          },
          precondition: copyCheck,
          verification: copyCheck,
        },
        {
          service: 'sagemaker',
          operation: 'UpdateEndpoint',
          input: { EndpointName: endpoint, EndpointConfigName: 'churn-xgb-config-2025-03-15-kms' },
          reason:
            'Move each endpoint that uses churn-xgb-config-2025-03-15 to churn-xgb-config-2025-03-15-kms: SageMaker starts new instances with the new configuration before it retires the old ones. If no endpoint uses churn-xgb-config-2025-03-15 yet, create endpoints with churn-xgb-config-2025-03-15-kms instead.',
          undo: {
            service: 'sagemaker',
            operation: 'UpdateEndpoint',
            input: { EndpointName: endpoint, EndpointConfigName: 'churn-xgb-config-2025-03-15' },
            reason: 'Move the endpoint back to churn-xgb-config-2025-03-15.',
          },
          precondition: endpointCheck,
          verification: endpointCheck,
        },
      ]);
    });

    it('never deletes the original configuration, not even in an undo', () => {
      const verdict = violation(loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json'));
      const deletes = (verdict.proposal ?? []).flatMap((s) => [s, ...(s.undo ? [s.undo] : [])]).filter((s) => s.operation.startsWith('Delete'));
      expect(deletes.map((s) => s.input)).toStrictEqual([{ EndpointConfigName: 'churn-xgb-config-2025-03-15-kms' }]);
    });

    it('keeps a key the request already had and asks only for the missing one', () => {
      const event = loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json');
      request(event)['kmsKeyId'] = 'alias/endpoints';
      const verdict = violation(event);
      expect(verdict.findings.map((f) => f.code)).toStrictEqual(['data-capture-not-kms-encrypted']);
      expect(verdict.proposal?.[0]?.input['KmsKeyId']).toBe('alias/endpoints');
    });

    it('passes a configuration with both keys', () => {
      expect(evaluate(loadEvent('sagemaker/CreateEndpointConfig-kms-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: 'endpoint configuration fraud-xgb-config-2025-03-15: storage volume encrypted with a KMS key; captured data has a KMS key or capture is off',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint-config/fraud-xgb-config-2025-03-15`],
      });
    });

    it('asks no volume key of an instance type with local NVMe storage', () => {
      expect(evaluate(loadEvent('sagemaker/CreateEndpointConfig-g5-local-storage-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: "endpoint configuration support-llm-config: ml.g5.2xlarge has local NVMe storage, encrypted by the instance's hardware (a KmsKeyId is not accepted for it)",
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint-config/support-llm-config`],
      });
    });

    it('asks no volume key when any variant has local storage, since the API then refuses one', () => {
      const event = withVariants(loadEvent('sagemaker/CreateEndpointConfig-g5-local-storage-compliant.json'), [
        { variantName: 'a', modelName: 'm', instanceType: 'ml.m5.large', initialInstanceCount: 1 },
        { variantName: 'b', modelName: 'm', instanceType: 'ml.g4dn.xlarge', initialInstanceCount: 1 },
      ]);
      expect(evaluate(event).kind).toBe('compliant');
    });

    it('uses a configured list of local-storage families', () => {
      const event = loadEvent('sagemaker/CreateEndpointConfig-g5-local-storage-compliant.json');
      expect(evaluate(event, { config: { rules: { 'sagemaker-endpoint-unencrypted': { localStorageInstanceFamilies: [] } } } }).kind).toBe('violation');
    });

    it('asks no volume key of a serverless endpoint, which has no storage volume', () => {
      const event = withVariants(loadEvent('sagemaker/CreateEndpointConfig-g5-local-storage-compliant.json'), [
        { variantName: 'AllTraffic', modelName: 'm', serverlessConfig: { memorySizeInMB: 2048, maxConcurrency: 5 } },
      ]);
      expect(evaluate(event)).toMatchObject({ kind: 'compliant', summary: 'endpoint configuration support-llm-config: no instance-based variant, so no ML storage volume' });
    });

    it('checks shadow variants too', () => {
      const event = loadEvent('sagemaker/CreateEndpointConfig-g5-local-storage-compliant.json');
      withVariants(event, [{ variantName: 'AllTraffic', modelName: 'm', serverlessConfig: { memorySizeInMB: 2048, maxConcurrency: 5 } }]);
      request(event)['shadowProductionVariants'] = [{ variantName: 'shadow', modelName: 'm2', instanceType: 'ml.c5.large', initialInstanceCount: 1 }];
      expect(violation(event).findings.map((f) => f.code)).toStrictEqual(['volume-not-kms-encrypted']);
    });

    it('does not flag data capture that is turned off', () => {
      const event = loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json');
      request(event)['kmsKeyId'] = 'alias/endpoints';
      (request(event)['dataCaptureConfig'] as Record<string, unknown>)['enableCapture'] = false;
      expect(evaluate(event).kind).toBe('compliant');
    });

    it('treats a DataCaptureConfig without EnableCapture as on: the API default', () => {
      const event = loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json');
      request(event)['kmsKeyId'] = 'alias/endpoints';
      delete (request(event)['dataCaptureConfig'] as Record<string, unknown>)['enableCapture'];
      expect(violation(event).findings.map((f) => f.code)).toStrictEqual(['data-capture-not-kms-encrypted']);
    });

    it('exempts a configuration whose Tags carry the exemption tag', () => {
      const event = loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json');
      request(event)['tags'] = [{ key: 'remediation:exempt', value: 'load test' }];
      const verdict = evaluate(event);
      expect(verdict).toMatchObject({
        kind: 'exempt',
        reason: 'endpoint configuration churn-xgb-config-2025-03-15 is tagged remediation:exempt: load test',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint-config/churn-xgb-config-2025-03-15`],
      });
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity])).toStrictEqual([
        ['volume-not-kms-encrypted', 'medium'],
        ['data-capture-not-kms-encrypted', 'medium'],
      ]);
    });

    it('skips an event that names no configuration', () => {
      const event = loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json');
      event.detail.requestParameters = {};
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no endpoint configuration' });
    });
  });

  describe('probes', () => {
    const expectBoth = { config: 'c-kms', volumeKey: true, captureKey: true };

    it('needs the copy while DescribeEndpointConfig finds none (ValidationException, read as absent), and counts it done once it has its keys', () => {
      expect(endpointConfigProbe.notFoundCodes).toStrictEqual(['ValidationException']);
      expect(endpointConfigProbe.judge(null, expectBoth)).toStrictEqual({ state: 'needed', evidence: 'c-kms does not exist yet' });
      expect(endpointConfigProbe.judge({ EndpointConfigName: 'c-kms', KmsKeyId: 'k', DataCaptureConfig: { KmsKeyId: 'k2' } }, expectBoth)).toStrictEqual({
        state: 'done',
        evidence: 'c-kms exists with its KMS keys',
      });
    });

    it('leaves alone a configuration of that name without the keys: it is not the copy', () => {
      expect(endpointConfigProbe.judge({ EndpointConfigName: 'c-kms', KmsKeyId: 'k' }, expectBoth)).toStrictEqual({
        state: 'changed',
        evidence: 'c-kms already exists without a DataCaptureConfig.KmsKeyId: it is not the encrypted copy, and nothing is created (choose another name)',
      });
    });

    it.each([
      [{ EndpointName: 'e', EndpointStatus: 'InService', EndpointConfigName: 'c' }, 'needed', 'e still uses c (InService)'],
      [{ EndpointName: 'e', EndpointStatus: 'InService', EndpointConfigName: 'c-kms' }, 'done', 'e uses c-kms (InService)'],
      [
        { EndpointName: 'e', EndpointStatus: 'Updating', EndpointConfigName: 'c', PendingDeploymentSummary: { EndpointConfigName: 'c-kms' } },
        'done',
        'e is moving to c-kms (Updating; SageMaker retires the instances of c once the new ones serve)',
      ],
      [{ EndpointName: 'e', EndpointStatus: 'InService', EndpointConfigName: 'other' }, 'changed', 'e uses other now, not c: it is not moved'],
    ])('judges the endpoint %j as %s', (output, state, evidence) => {
      expect(endpointProbe.judge(output, { from: 'c', to: 'c-kms' })).toStrictEqual({ state, evidence });
    });

    it('never reads a missing endpoint as done', () => {
      expect(endpointProbe.notFoundCodes).toBeUndefined();
      expect(sagemakerEndpointUnencrypted.probes).toStrictEqual([endpointConfigProbe, endpointProbe]);
    });
  });

  describe('proposedConfigName', () => {
    it('keeps within the 63-character limit', () => {
      const name = proposedConfigName(`${'a'.repeat(60)}-b`);
      expect(name).toBe(`${'a'.repeat(59)}-kms`);
      expect(name.length).toBe(63);
    });
  });

  describe('through the engine', () => {
    const config = parseConfig({}, sagemakerRules);

    it('notifies by default and needs no lookup', async () => {
      const decision = await decide(loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json'), sagemakerEndpointUnencrypted, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.mode).toBe('notify');
      expect(decision.unavailableFacts).toStrictEqual([]);
      // Notify mode shows no proposal: nothing will be run or proposed.
      expect(decision.verdict.kind === 'violation' && decision.verdict.proposal).toBeUndefined();
    });

    it('skips a failed call before the rule runs', async () => {
      const decision = await decide(loadEvent('sagemaker/CreateEndpointConfig-failed-validation.json'), sagemakerEndpointUnencrypted, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (ValidationException), so it changed nothing', cause: 'failed-call' });
    });
  });
});
