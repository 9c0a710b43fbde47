import {
  CreateEndpointConfigCommand,
  DescribeNotebookInstanceCommand,
  ListTagsCommand,
  SageMakerClient,
  SageMakerServiceException,
  StartNotebookInstanceCommand,
  StopHyperParameterTuningJobCommand,
  StopNotebookInstanceCommand,
  StopProcessingJobCommand,
  StopTrainingJobCommand,
  UpdateEndpointCommand,
  UpdateNotebookInstanceCommand,
} from '@aws-sdk/client-sagemaker';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { executePlan } from '../engine/executor.js';
import { createRemediationHandler } from '../engine/lambda.js';
import type { Plan } from '../engine/types.js';
import { sagemakerCommands } from '../remediations/sagemaker/commands.js';
import { sagemakerRules } from '../remediations/sagemaker/index.js';
import { sagemakerNotebookInsecure } from '../remediations/sagemaker/sagemaker-notebook-insecure.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const sagemaker = mockClient(SageMakerClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const NOTEBOOK_ARN = 'arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/fraud-features';
const TRAINING_JOB = 'churn-xgb-2025-03-13-14-03-36';

type Mode = 'off' | 'notify' | 'propose' | 'remediate';

function handlerFor(modes: Partial<Record<string, Mode>> = {}, env: Record<string, string> = {}) {
  const logger = recordingLogger();
  const rules = Object.fromEntries(Object.entries(modes).map(([id, mode]) => [id, { mode }]));
  const config = parseConfig({ rules }, sagemakerRules);
  const handler = createRemediationHandler({
    rules: sagemakerRules,
    commands: sagemakerCommands,
    logger,
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-sagemaker', ...env },
    gateway: createAwsGateway(sagemakerCommands, { region: 'us-east-1' }),
  });
  return { handler, logger };
}

function serviceError(name: string, message: string): SageMakerServiceException {
  return new SageMakerServiceException({ name, $fault: 'client', $metadata: {}, message });
}

/** Every SageMaker call other than the read-only lookup. */
function writeCalls() {
  return sagemaker.calls().filter((call) => !(call.args[0] instanceof ListTagsCommand));
}

function decisionsOf(result: Awaited<ReturnType<ReturnType<typeof handlerFor>['handler']>>) {
  if (result.status !== 'processed') throw new Error(`expected a processed event, got ${JSON.stringify(result)}`);
  return result.decisions;
}

describe('sagemaker handler', () => {
  beforeEach(() => {
    sagemaker.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    sagemaker.on(ListTagsCommand).resolves({ Tags: [{ Key: 'team', Value: 'fraud' }] });
    sagemaker.on(StopTrainingJobCommand).resolves({});
    sagemaker.on(StopProcessingJobCommand).resolves({});
    sagemaker.on(StopHyperParameterTuningJobCommand).resolves({});
  });

  describe('sagemaker-job-insecure', () => {
    it('only notifies by default: no stop, one alert', async () => {
      const { handler } = handlerFor();
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(sagemaker.calls()).toHaveLength(0);
      expect(decisionsOf(result)).toStrictEqual([
        {
          rule: 'sagemaker-job-insecure',
          verdict: 'violation',
          outcome: 'notified',
          summary: `training job ${TRAINING_JOB}: several instances without inter-container traffic encryption, not in a VPC, output without a KMS key`,
        },
      ]);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    });

    it('stops exactly the training job in remediate mode', async () => {
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      const stops = sagemaker.commandCalls(StopTrainingJobCommand);
      expect(stops).toHaveLength(1);
      expect(stops[0]?.args[0].input).toStrictEqual({ TrainingJobName: TRAINING_JOB });
      expect(sagemaker.calls()).toHaveLength(1);
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'applied', execution: 'applied' });
      const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
      expect(input?.MessageAttributes?.['outcome']).toStrictEqual({ DataType: 'String', StringValue: 'applied' });
    });

    it('stops a processing job with StopProcessingJob', async () => {
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      await handler(loadEvent('sagemaker/CreateProcessingJob-cluster-no-network-config.json'));
      const calls = sagemaker.commandCalls(StopProcessingJobCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.args[0].input).toStrictEqual({ ProcessingJobName: 'churn-preprocess-2025-03-13-12-30-04' });
      expect(sagemaker.calls()).toHaveLength(1);
    });

    it('stops a tuning job with StopHyperParameterTuningJob', async () => {
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      await handler(loadEvent('sagemaker/CreateHyperParameterTuningJob-definition-no-kms.json'));
      const calls = sagemaker.commandCalls(StopHyperParameterTuningJobCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.args[0].input).toStrictEqual({ HyperParameterTuningJobName: 'churn-xgb-hpo-250314-0812' });
      expect(sagemaker.calls()).toHaveLength(1);
    });

    it('is harmless when the same event arrives twice: the second stop finds the job stopped', async () => {
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const event = loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json');
      sagemaker
        .on(StopTrainingJobCommand)
        .resolvesOnce({})
        .rejects(serviceError('ValidationException', 'The request was rejected because the training job is in status Stopped.'));
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(sagemaker.commandCalls(StopTrainingJobCommand).map((call) => call.args[0].input)).toStrictEqual([
        { TrainingJobName: TRAINING_JOB },
        { TrainingJobName: TRAINING_JOB },
      ]);
      expect(decisionsOf(first)[0]?.outcome).toBe('applied');
      expect(decisionsOf(second)[0]?.outcome).toBe('already-fixed');
    });

    it('counts a job that no longer exists as already stopped', async () => {
      sagemaker.on(StopTrainingJobCommand).rejects(serviceError('ResourceNotFound', `Requested resource not found: training job ${TRAINING_JOB}`));
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
    });

    it('reports a denied stop as failed, with the permission to grant, without throwing', async () => {
      sagemaker
        .on(StopTrainingJobCommand)
        .rejects(serviceError('AccessDeniedException', 'User is not authorized to perform: sagemaker:StopTrainingJob'));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
      const line = logger.lines.find((l) => l.message === 'decision');
      expect(line?.extra['execution']).toStrictEqual([{ index: 0, status: 'failed', errorCode: 'AccessDeniedException' }]);
    });

    it('never applies when DRY_RUN=true, even in remediate mode', async () => {
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' }, { DRY_RUN: 'true' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(sagemaker.calls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.outcome).toBe('proposed');
    });

    it('leaves a compliant job alone, with no call and no alert', async () => {
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      await handler(loadEvent('sagemaker/CreateTrainingJob-vpc-kms-encrypted-compliant.json'));
      expect(sagemaker.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('sagemaker-notebook-insecure', () => {
    it('reads the exemption of an updated notebook with ListTags on its ARN, and changes nothing even in remediate mode', async () => {
      const { handler } = handlerFor({ 'sagemaker-notebook-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      const lookups = sagemaker.commandCalls(ListTagsCommand);
      expect(lookups).toHaveLength(1);
      expect(lookups[0]?.args[0].input).toStrictEqual({ ResourceArn: NOTEBOOK_ARN });
      expect(writeCalls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.verdict).toBe('violation');
    });

    it('proposes by default and puts the proposal in the alert', async () => {
      const { handler } = handlerFor();
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(writeCalls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.outcome).toBe('proposed');
      const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
      expect(message['email']).toContain('sagemaker:UpdateNotebookInstance {"NotebookInstanceName":"fraud-features","RootAccess":"Disabled"}');
    });

    it('leaves an exempt notebook alone and says why', async () => {
      sagemaker.on(ListTagsCommand).resolves({ Tags: [{ Key: 'remediation:exempt', Value: 'admin workstation SEC-77' }] });
      const { handler } = handlerFor({ 'sagemaker-notebook-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(decisionsOf(result)[0]).toStrictEqual({
        rule: 'sagemaker-notebook-insecure',
        verdict: 'exempt',
        outcome: 'exempt',
        summary: 'fraud-features is tagged remediation:exempt: admin workstation SEC-77',
      });
    });

    it('skips a notebook that ListTags no longer finds', async () => {
      sagemaker.on(ListTagsCommand).rejects(serviceError('ResourceNotFound', 'Resource not found'));
      const { handler } = handlerFor();
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(decisionsOf(result)[0]).toMatchObject({ verdict: 'skipped', summary: 'notebook instance fraud-features no longer exists' });
      expect(sns.calls()).toHaveLength(0);
    });

    it('still alerts when ListTags is denied, naming the unchecked exemption', async () => {
      sagemaker.on(ListTagsCommand).rejects(serviceError('AccessDeniedException', 'not authorized to perform: sagemaker:ListTags'));
      const { handler, logger } = handlerFor();
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(decisionsOf(result)[0]?.summary).toBe(
        'fraud-features updated with root access; proposed: stop it and turn root access off (exemption tag not checked: ListTags failed: AccessDeniedException)',
      );
      expect(logger.lines.find((l) => l.message === 'decision')?.extra['unavailableFacts']).toStrictEqual(['notebookTags']);
    });

    it('needs no lookup for a create: the request carries the tags', async () => {
      const { handler } = handlerFor();
      await handler(loadEvent('sagemaker/CreateNotebookInstance-internet-exempt-tag.json'));
      expect(sagemaker.calls()).toHaveLength(0);
    });
  });

  describe('sagemaker-endpoint-unencrypted', () => {
    it('makes no SageMaker call in any mode', async () => {
      const { handler } = handlerFor({ 'sagemaker-endpoint-unencrypted': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json'));
      expect(sagemaker.calls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.verdict).toBe('violation');
    });
  });

  it.each([
    ['CreateNotebookInstance-failed-access-denied.json'],
    ['UpdateNotebookInstance-failed-not-stopped.json'],
    ['CreateTrainingJob-failed-access-denied.json'],
    ['CreateEndpointConfig-failed-validation.json'],
  ])('skips the failed call %s with no AWS call and no alert', async (fixture) => {
    const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate', 'sagemaker-notebook-insecure': 'remediate' });
    const result = await handler(loadEvent(`sagemaker/${fixture}`));
    expect(sagemaker.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
    expect(decisionsOf(result).map((d) => d.verdict)).toStrictEqual(['skipped']);
  });
});

describe('the proposals, run by a person through the same command table', () => {
  const gateway = createAwsGateway(sagemakerCommands, { region: 'us-east-1' });

  function notebookProposal(): Plan {
    const event = loadEvent('sagemaker/CreateNotebookInstance-vpc-kms-root-enabled.json');
    const config = parseConfig({}, sagemakerRules);
    const verdict = sagemakerNotebookInsecure.evaluate(event, {}, { config, settings: undefined, now: new Date(0) });
    if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error('expected a proposal');
    return verdict.proposal;
  }

  beforeEach(() => {
    sagemaker.reset();
    sagemaker.on(StopNotebookInstanceCommand).resolves({});
    sagemaker.on(DescribeNotebookInstanceCommand).resolves({ NotebookInstanceName: 'forecasting-lab', NotebookInstanceStatus: 'Stopped' });
    sagemaker.on(UpdateNotebookInstanceCommand).resolves({});
    sagemaker.on(StartNotebookInstanceCommand).resolves({});
  });

  it('stops the notebook, waits for Stopped, turns root access off and starts it again, in that order', async () => {
    const report = await executePlan(notebookProposal(), gateway, { remainingTimeMs: () => 600_000 });
    expect(report.status).toBe('applied');
    expect(sagemaker.calls().map((call) => [(call.args[0] as object).constructor.name, (call.args[0] as { input: unknown }).input])).toStrictEqual([
      ['StopNotebookInstanceCommand', { NotebookInstanceName: 'forecasting-lab' }],
      ['DescribeNotebookInstanceCommand', { NotebookInstanceName: 'forecasting-lab' }],
      ['UpdateNotebookInstanceCommand', { NotebookInstanceName: 'forecasting-lab', RootAccess: 'Disabled' }],
      ['StartNotebookInstanceCommand', { NotebookInstanceName: 'forecasting-lab' }],
    ]);
  });

  it('runs again harmlessly: a notebook already stopped, or already started, is "already done"', async () => {
    sagemaker
      .on(StopNotebookInstanceCommand)
      .rejects(
        serviceError(
          'ValidationException',
          'Status (Stopped) not in ([InService]). Unable to transition to (Stopping) for Notebook Instance (arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/forecasting-lab).',
        ),
      );
    sagemaker.on(StartNotebookInstanceCommand).rejects(serviceError('ValidationException', 'Status (InService) not in ([Stopped, Failed]).'));
    const report = await executePlan(notebookProposal(), gateway, { remainingTimeMs: () => 600_000 });
    expect(report.steps.map((s) => s.status)).toStrictEqual(['already-done', 'applied', 'applied', 'already-done']);
    expect(report.status).toBe('applied');
  });

  it('refuses to run the endpoint proposal until a person fills in the key and the endpoint', async () => {
    const config = parseConfig({}, sagemakerRules);
    const { sagemakerEndpointUnencrypted } = await import('../remediations/sagemaker/sagemaker-endpoint-unencrypted.js');
    const verdict = sagemakerEndpointUnencrypted.evaluate(loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json'), {}, {
      config,
      settings: config.rules['sagemaker-endpoint-unencrypted']?.settings,
      now: new Date(0),
    });
    if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error('expected a proposal');
    const report = await executePlan(verdict.proposal, gateway);
    expect(report.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([
      ['failed', 'UnknownValue'],
      ['not-run', undefined],
    ]);
    expect(sagemaker.commandCalls(CreateEndpointConfigCommand)).toHaveLength(0);
    expect(sagemaker.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
  });
});
