import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Verdict } from '../../engine/types.js';
import { sagemakerRules } from '../../remediations/sagemaker/index.js';
import { SagemakerJobInsecureSettingsSchema, processingJobProbe, trainingJobProbe, tuningJobProbe } from '../../remediations/sagemaker/sagemaker-job-insecure.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';

const sagemakerJobInsecure = registeredRule('sagemaker-job-insecure');
const evaluate = ruleEvaluator('sagemaker-job-insecure');
const NOW = new Date('2025-03-13T16:00:00Z');
const ACCOUNT = '111122223333';

function violation(event: CloudTrailEvent, config: unknown = {}): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event, { config });
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

const PROBES: Readonly<Record<string, string>> = {
  DescribeTrainingJob: 'trainingJob',
  DescribeProcessingJob: 'processingJob',
  DescribeHyperParameterTuningJob: 'tuningJob',
};

/** The read before and after a stop: the job's status. */
function jobCheck(operation: string, member: string, name: string, label: string) {
  const read = { service: 'sagemaker', operation, input: { [member]: name }, probe: PROBES[operation], expect: { job: name }, description: `the ${label} ${name} is still InProgress` };
  return { precondition: read, verification: read };
}

const codes = (verdict: Extract<Verdict, { kind: 'violation' }>) => verdict.findings.map((f) => f.code);
const request = (event: CloudTrailEvent) => event.detail.requestParameters as Record<string, unknown>;

describe('sagemaker-job-insecure', () => {
  describe('settings', () => {
    it('accepts {} and defaults requireNetworkIsolation to false', () => {
      expect(SagemakerJobInsecureSettingsSchema.parse({})).toStrictEqual({ requireNetworkIsolation: false });
    });

    it('rejects an unknown setting, naming it', () => {
      expect(() => parseConfig({ rules: { 'sagemaker-job-insecure': { requireVpc: true } } }, sagemakerRules)).toThrow(ConfigError);
    });
  });

  describe('evaluate CreateTrainingJob', () => {
    it('flags two instances without inter-container encryption, no VPC and no output key, and stops the job (no undo exists)', () => {
      // Arrange
      const event = loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json');
      // Act
      const verdict = violation(event);
      // Assert
      expect(verdict.summary).toBe(
        'training job churn-xgb-2025-03-13-14-03-36: several instances without inter-container traffic encryption, not in a VPC, output without a KMS key',
      );
      expect(verdict.resources).toStrictEqual([`arn:aws:sagemaker:us-east-1:${ACCOUNT}:training-job/churn-xgb-2025-03-13-14-03-36`]);
      expect(verdict.findings).toStrictEqual([
        {
          code: 'inter-container-traffic-unencrypted',
          severity: 'medium',
          message: '2 instances exchange data and model parameters in the clear: EnableInterContainerTrafficEncryption is not true.',
          subject: 'EnableInterContainerTrafficEncryption',
        },
        {
          code: 'no-vpc',
          severity: 'medium',
          message: 'No VpcConfig: the containers run outside your VPC, so its security groups, VPC endpoints and flow logs do not apply.',
          subject: 'VpcConfig',
        },
        {
          code: 'output-not-kms-encrypted',
          severity: 'medium',
          message: 'No OutputDataConfig.KmsKeyId: the output is written to S3 without a customer managed KMS key.',
          subject: 'OutputDataConfig.KmsKeyId',
        },
      ]);
      expect(verdict.plan).toStrictEqual([
        {
          service: 'sagemaker',
          operation: 'StopTrainingJob',
          input: { TrainingJobName: 'churn-xgb-2025-03-13-14-03-36' },
          reason:
            'Stop the training job churn-xgb-2025-03-13-14-03-36. This cannot be undone: a stopped job cannot be resumed, so re-run it with the settings fixed. Stopping deletes nothing: the algorithm gets SIGTERM and 120 seconds to save its model artefacts, and what is already in S3 stays there.',
          alreadyDoneCodes: ['ResourceNotFound'],
          ...jobCheck('DescribeTrainingJob', 'TrainingJobName', 'churn-xgb-2025-03-13-14-03-36', 'training job'),
        },
      ]);
      expect(verdict.plan[0]?.undo).toBeUndefined();
      expect(verdict.proposal).toBeUndefined();
    });

    it('passes a distributed job in a VPC with encrypted inter-container traffic and an output key', () => {
      expect(evaluate(loadEvent('sagemaker/CreateTrainingJob-vpc-kms-encrypted-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary:
          'training job fraud-xgb-2025-03-13-15-41-11: in a VPC, output with a KMS key (or none), inter-container traffic encrypted wherever several instances run',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:training-job/fraud-xgb-2025-03-13-15-41-11`],
      });
    });

    it('does not ask a single-instance job for inter-container encryption', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json');
      request(event)['resourceConfig'] = { instanceType: 'ml.m5.2xlarge', instanceCount: 1, volumeSizeInGB: 30 };
      expect(codes(violation(event))).toStrictEqual(['no-vpc', 'output-not-kms-encrypted']);
    });

    it('counts the instances of heterogeneous InstanceGroups', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-vpc-kms-encrypted-compliant.json');
      request(event)['enableInterContainerTrafficEncryption'] = false;
      request(event)['resourceConfig'] = {
        instanceGroups: [
          { instanceGroupName: 'data', instanceType: 'ml.c5.xlarge', instanceCount: 1 },
          { instanceGroupName: 'gpu', instanceType: 'ml.p3.2xlarge', instanceCount: 1 },
        ],
        volumeSizeInGB: 30,
      };
      expect(codes(violation(event))).toStrictEqual(['inter-container-traffic-unencrypted']);
    });

    it('reads instance counts given as strings', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-vpc-kms-encrypted-compliant.json');
      request(event)['enableInterContainerTrafficEncryption'] = 'false';
      request(event)['resourceConfig'] = { instanceType: 'ml.m5.2xlarge', instanceCount: '3' };
      expect(violation(event).findings[0]?.message).toBe(
        '3 instances exchange data and model parameters in the clear: EnableInterContainerTrafficEncryption is not true.',
      );
    });

    it('requires network isolation only when configured to', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-vpc-kms-encrypted-compliant.json');
      request(event)['enableNetworkIsolation'] = false;
      expect(evaluate(event).kind).toBe('compliant');
      const verdict = violation(event, { rules: { 'sagemaker-job-insecure': { requireNetworkIsolation: true } } });
      expect(verdict.findings).toStrictEqual([
        {
          code: 'network-isolation-off',
          severity: 'medium',
          message: 'EnableNetworkIsolation is not true, and requireNetworkIsolation says the containers must have no network access.',
          subject: 'EnableNetworkIsolation',
        },
      ]);
    });

    it('reads the API spelling of the request too', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json');
      event.detail.requestParameters = {
        TrainingJobName: 'api-shaped',
        ResourceConfig: { InstanceCount: 2 },
        EnableInterContainerTrafficEncryption: true,
        VpcConfig: { Subnets: ['subnet-0a1b2c3d4e5f67890'], SecurityGroupIds: ['sg-0f1e2d3c4b5a69788'] },
        OutputDataConfig: { S3OutputPath: 's3://amzn-s3-demo-bucket/out/', KmsKeyId: 'alias/ml' },
      };
      expect(evaluate(event).kind).toBe('compliant');
    });

    it('counts a VpcConfig with no subnets as no VPC', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-vpc-kms-encrypted-compliant.json');
      request(event)['vpcConfig'] = { securityGroupIds: ['sg-0f1e2d3c4b5a69788'], subnets: [] };
      expect(codes(violation(event))).toStrictEqual(['no-vpc']);
    });

    it('exempts a job whose Tags carry the exemption tag', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json');
      request(event)['tags'] = [{ key: 'remediation:exempt', value: 'benchmark on public data' }];
      const verdict = evaluate(event);
      expect(verdict).toMatchObject({
        kind: 'exempt',
        reason: 'training job churn-xgb-2025-03-13-14-03-36 is tagged remediation:exempt: benchmark on public data',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:training-job/churn-xgb-2025-03-13-14-03-36`],
      });
      // What the exemption let through, each finding with its own severity.
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity])).toStrictEqual([
        ['inter-container-traffic-unencrypted', 'medium'],
        ['no-vpc', 'medium'],
        ['output-not-kms-encrypted', 'medium'],
      ]);
    });

    it('skips an event that names no job', () => {
      const event = loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json');
      event.detail.requestParameters = null;
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no SageMaker job' });
    });
  });

  describe('evaluate CreateProcessingJob', () => {
    it('reads NetworkConfig and ProcessingOutputConfig, and stops the processing job', () => {
      const verdict = violation(loadEvent('sagemaker/CreateProcessingJob-cluster-no-network-config.json'));
      expect(verdict.findings.map((f) => f.subject)).toStrictEqual([
        'NetworkConfig.EnableInterContainerTrafficEncryption',
        'NetworkConfig.VpcConfig',
        'ProcessingOutputConfig.KmsKeyId',
      ]);
      expect(verdict.plan).toStrictEqual([
        {
          service: 'sagemaker',
          operation: 'StopProcessingJob',
          input: { ProcessingJobName: 'churn-preprocess-2025-03-13-12-30-04' },
          reason:
            'Stop the processing job churn-preprocess-2025-03-13-12-30-04. This cannot be undone: a stopped job cannot be resumed, so re-run it with the settings fixed. Stopping deletes nothing: inputs and any output already uploaded to S3 stay there.',
          alreadyDoneCodes: ['ResourceNotFound'],
          ...jobCheck('DescribeProcessingJob', 'ProcessingJobName', 'churn-preprocess-2025-03-13-12-30-04', 'processing job'),
        },
      ]);
    });

    it('asks no output key of a processing job that writes no outputs', () => {
      const event = loadEvent('sagemaker/CreateProcessingJob-cluster-no-network-config.json');
      delete request(event)['processingOutputConfig'];
      expect(codes(violation(event))).toStrictEqual(['inter-container-traffic-unencrypted', 'no-vpc']);
    });

    it('passes a single-instance processing job in a VPC with an output key', () => {
      expect(evaluate(loadEvent('sagemaker/CreateProcessingJob-vpc-kms-compliant.json')).kind).toBe('compliant');
    });
  });

  describe('evaluate CreateHyperParameterTuningJob', () => {
    it('checks the training job definition and stops the tuning job', () => {
      const verdict = violation(loadEvent('sagemaker/CreateHyperParameterTuningJob-definition-no-kms.json'));
      expect(verdict.summary).toBe('hyperparameter tuning job churn-xgb-hpo-250314-0812: output without a KMS key');
      expect(verdict.findings.map((f) => f.subject)).toStrictEqual(['OutputDataConfig.KmsKeyId']);
      expect(verdict.plan).toStrictEqual([
        {
          service: 'sagemaker',
          operation: 'StopHyperParameterTuningJob',
          input: { HyperParameterTuningJobName: 'churn-xgb-hpo-250314-0812' },
          reason:
            'Stop the hyperparameter tuning job churn-xgb-hpo-250314-0812. This cannot be undone: a stopped job cannot be resumed, so re-run it with the settings fixed. Stopping deletes nothing: its running training jobs are stopped too, and the model artefacts of every training job stay in S3.',
          alreadyDoneCodes: ['ResourceNotFound'],
          ...jobCheck('DescribeHyperParameterTuningJob', 'HyperParameterTuningJobName', 'churn-xgb-hpo-250314-0812', 'hyperparameter tuning job'),
        },
      ]);
    });

    it('checks every one of several definitions and names the one at fault', () => {
      const event = loadEvent('sagemaker/CreateHyperParameterTuningJob-vpc-kms-compliant.json');
      expect(evaluate(event).kind).toBe('compliant');
      const [distributed] = request(event)['trainingJobDefinitions'] as Record<string, unknown>[];
      if (!distributed) throw new Error('fixture has no definitions');
      distributed['enableInterContainerTrafficEncryption'] = false;
      const verdict = violation(event);
      expect(verdict.findings.map((f) => f.subject)).toStrictEqual(['xgb-distributed: EnableInterContainerTrafficEncryption']);
      expect(verdict.findings[0]?.message).toBe(
        'xgb-distributed: 2 instances exchange data and model parameters in the clear: EnableInterContainerTrafficEncryption is not true.',
      );
    });

    it('counts HyperParameterTuningResourceConfig instances', () => {
      const event = loadEvent('sagemaker/CreateHyperParameterTuningJob-definition-no-kms.json');
      const definition = request(event)['trainingJobDefinition'] as Record<string, unknown>;
      delete definition['resourceConfig'];
      definition['hyperParameterTuningResourceConfig'] = { instanceCount: 2, instanceType: 'ml.m5.xlarge', volumeSizeInGB: 30 };
      expect(codes(violation(event))).toStrictEqual(['inter-container-traffic-unencrypted', 'output-not-kms-encrypted']);
    });

    it('skips a tuning job request without any training job definition', () => {
      const event = loadEvent('sagemaker/CreateHyperParameterTuningJob-definition-no-kms.json');
      delete request(event)['trainingJobDefinition'];
      expect(evaluate(event)).toStrictEqual({
        kind: 'skipped',
        reason: 'the event holds no training job definition for churn-xgb-hpo-250314-0812',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:hyper-parameter-tuning-job/churn-xgb-hpo-250314-0812`],
      });
    });
  });

  describe('job status probes', () => {
    it.each([
      [trainingJobProbe, 'DescribeTrainingJob', 'TrainingJobStatus', 'training-job'],
      [processingJobProbe, 'DescribeProcessingJob', 'ProcessingJobStatus', 'processing-job'],
      [tuningJobProbe, 'DescribeHyperParameterTuningJob', 'HyperParameterTuningJobStatus', 'hyper-parameter-tuning-job'],
    ])('%#: %s reads %s, granted on its own jobs, and ResourceNotFound means gone', (probe, operation, _, resourceType) => {
      expect(probe.operation).toBe(operation);
      expect(probe.resource).toBe(`arn:\${AWS::Partition}:sagemaker:\${AWS::Region}:\${AWS::AccountId}:${resourceType}/*`);
      expect(probe.notFoundCodes).toStrictEqual(['ResourceNotFound']);
    });

    it.each([
      ['InProgress', 'needed', 'training job j is still InProgress'],
      ['Stopping', 'done', 'training job j is Stopping: it runs nothing'],
      ['Stopped', 'done', 'training job j is Stopped: it runs nothing'],
      ['Completed', 'done', 'training job j is Completed: it runs nothing'],
    ])('a training job %s is %s', (status, state, evidence) => {
      expect(trainingJobProbe.judge({ TrainingJobName: 'j', TrainingJobStatus: status }, { job: 'j' })).toStrictEqual({ state, evidence });
    });

    it('gives the failure reason of a failed job, and counts a job that no longer exists as done', () => {
      expect(processingJobProbe.judge({ ProcessingJobStatus: 'Failed', FailureReason: 'ClientError: no space left' }, { job: 'p' })).toStrictEqual({
        state: 'done',
        evidence: 'processing job p is Failed: it runs nothing (ClientError: no space left)',
      });
      expect(tuningJobProbe.judge(null, { job: 't' })).toStrictEqual({ state: 'done', evidence: 'hyperparameter tuning job t no longer exists' });
    });

    it('refuses to judge a status it does not know', () => {
      expect(() => trainingJobProbe.judge({ TrainingJobStatus: 'Paused' }, { job: 'j' })).toThrow('DescribeTrainingJob states an unknown TrainingJobStatus Paused for training job j');
    });

    it('is declared on the rule', () => {
      expect(sagemakerJobInsecure.probes).toStrictEqual([trainingJobProbe, processingJobProbe, tuningJobProbe]);
    });
  });

  describe('through the engine', () => {
    it('notifies by default, and a notify decision shows no stop (issue 13)', async () => {
      const config = parseConfig({}, sagemakerRules);
      const decision = await decide(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'), sagemakerJobInsecure, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.mode).toBe('notify');
      expect(decision.unavailableFacts).toStrictEqual([]);
      expect(decision.verdict.kind === 'violation' && decision.verdict.plan).toStrictEqual([]);
      expect(decision.verdict.kind === 'violation' && decision.verdict.proposal).toBeUndefined();
    });

    it('shows the stop, with its reads, in propose mode', async () => {
      const config = parseConfig({ rules: { 'sagemaker-job-insecure': { mode: 'propose' } } }, sagemakerRules);
      const decision = await decide(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'), sagemakerJobInsecure, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict.kind === 'violation' && decision.verdict.plan.map((step) => [step.operation, step.precondition?.operation])).toStrictEqual([
        ['StopTrainingJob', 'DescribeTrainingJob'],
      ]);
    });

    it('skips a failed call before the rule runs', async () => {
      const config = parseConfig({}, sagemakerRules);
      const decision = await decide(loadEvent('sagemaker/CreateTrainingJob-failed-access-denied.json'), sagemakerJobInsecure, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDeniedException), so it changed nothing', cause: 'failed-call' });
    });
  });
});
