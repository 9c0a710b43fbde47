/**
 * The sagemaker family's function, with SageMaker and SNS mocked, and its
 * proposals run by a person through the family's command table.
 */
import {
  CreateEndpointConfigCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeHyperParameterTuningJobCommand,
  DescribeNotebookInstanceCommand,
  DescribeProcessingJobCommand,
  DescribeTrainingJobCommand,
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
  type EndpointStatus,
  type NotebookInstanceStatus,
  type RootAccess,
  type TrainingJobStatus,
} from '@aws-sdk/client-sagemaker';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import { executePlan } from '../../engine/executor.js';
import { isUnknownValue, type Mode, type Plan } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { sagemakerFamily } from '../../remediations/sagemaker/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import type { RecordingLogger } from '../helpers/logger.js';
import { registeredRule } from '../helpers/registered.js';
import { evaluateRule, familyHandler, TEST_REGION } from '../helpers/rule-harness.js';

const sagemakerCommands = runtimeCommands(sagemakerFamily);
const sagemakerEndpointUnencrypted = registeredRule('sagemaker-endpoint-unencrypted');
const sagemakerNotebookInsecure = registeredRule('sagemaker-notebook-insecure');

const sagemaker = mockClient(SageMakerClient);
const sns = mockClient(SNSClient);
const NOTEBOOK_ARN = 'arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/fraud-features';
const TRAINING_JOB = 'churn-xgb-2025-03-13-14-03-36';

/** The sagemaker function as deployed, with these modes and this environment. */
function handlerFor(modes: Readonly<Record<string, Mode>> = {}, env: Record<string, string> = {}) {
  return familyHandler(sagemakerFamily, { modes, env });
}

function serviceError(name: string, message: string): SageMakerServiceException {
  return new SageMakerServiceException({ name, $fault: 'client', $metadata: {}, message });
}

const READS = [ListTagsCommand, DescribeNotebookInstanceCommand, DescribeTrainingJobCommand, DescribeProcessingJobCommand, DescribeHyperParameterTuningJobCommand, DescribeEndpointConfigCommand, DescribeEndpointCommand];

/** Every SageMaker call that is not a read (lookup or probe). */
function writeCalls() {
  return sagemaker.calls().filter((call) => !READS.some((read) => call.args[0] instanceof read));
}

/** Each SageMaker call as [command, input], in order. */
function callLog() {
  return sagemaker.calls().map((call) => [(call.args[0] as object).constructor.name.replace(/Command$/, ''), (call.args[0] as { input: unknown }).input]);
}

function decisionsOf(result: Awaited<ReturnType<ReturnType<typeof handlerFor>['handler']>>) {
  if (result.status !== 'processed') throw new Error(`expected a processed event, got ${JSON.stringify(result)}`);
  return result.decisions;
}

const decisionLine = (logger: RecordingLogger) => logger.lines.find((l) => l.message === 'decision')?.extra;
const training = (status: TrainingJobStatus) => ({ TrainingJobName: TRAINING_JOB, TrainingJobStatus: status });
const TRAINING_INPUT = { TrainingJobName: TRAINING_JOB };

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
    it('only notifies by default: no call, one alert, and no stop in the alert or the log (issue 13)', async () => {
      const { handler, logger } = handlerFor();
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
      expect(decisionLine(logger)?.['plan']).toStrictEqual([]);
      const published = sns.commandCalls(PublishCommand);
      expect(published).toHaveLength(1);
      expect(String(published[0]?.args[0].input.Message)).not.toContain('StopTrainingJob');
    });

    it('stops exactly the training job in remediate mode, between a read that shows it InProgress and one that shows it Stopping', async () => {
      sagemaker.on(DescribeTrainingJobCommand).resolvesOnce(training('InProgress')).resolves(training('Stopping'));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(callLog()).toStrictEqual([
        ['DescribeTrainingJob', TRAINING_INPUT],
        ['StopTrainingJob', TRAINING_INPUT],
        ['DescribeTrainingJob', TRAINING_INPUT],
      ]);
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'applied', execution: 'applied' });
      expect(decisionLine(logger)?.['execution']).toStrictEqual([
        {
          index: 0,
          status: 'applied',
          precondition: { state: 'needed', evidence: `training job ${TRAINING_JOB} is still InProgress` },
          verification: { state: 'done', evidence: `training job ${TRAINING_JOB} is Stopping: it runs nothing` },
        },
      ]);
      const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
      expect(input?.MessageAttributes?.['outcome']).toStrictEqual({ DataType: 'String', StringValue: 'applied' });
    });

    it('stops a processing job with StopProcessingJob, read with DescribeProcessingJob', async () => {
      const name = { ProcessingJobName: 'churn-preprocess-2025-03-13-12-30-04' };
      sagemaker.on(DescribeProcessingJobCommand).resolvesOnce({ ...name, ProcessingJobStatus: 'InProgress' }).resolves({ ...name, ProcessingJobStatus: 'Stopping' });
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateProcessingJob-cluster-no-network-config.json'));
      expect(callLog()).toStrictEqual([
        ['DescribeProcessingJob', name],
        ['StopProcessingJob', name],
        ['DescribeProcessingJob', name],
      ]);
      expect(decisionsOf(result)[0]?.outcome).toBe('applied');
    });

    it('stops a tuning job with StopHyperParameterTuningJob, read with DescribeHyperParameterTuningJob', async () => {
      const name = { HyperParameterTuningJobName: 'churn-xgb-hpo-250314-0812' };
      sagemaker
        .on(DescribeHyperParameterTuningJobCommand)
        .resolvesOnce({ ...name, HyperParameterTuningJobStatus: 'InProgress' })
        .resolves({ ...name, HyperParameterTuningJobStatus: 'Stopping' });
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateHyperParameterTuningJob-definition-no-kms.json'));
      expect(callLog()).toStrictEqual([
        ['DescribeHyperParameterTuningJob', name],
        ['StopHyperParameterTuningJob', name],
        ['DescribeHyperParameterTuningJob', name],
      ]);
      expect(decisionsOf(result)[0]?.outcome).toBe('applied');
    });

    it('is already fixed on a second delivery: the read shows the job Stopped, and no second stop is sent', async () => {
      sagemaker.on(DescribeTrainingJobCommand).resolvesOnce(training('InProgress')).resolves(training('Stopped'));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const event = loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(sagemaker.commandCalls(StopTrainingJobCommand).map((call) => call.args[0].input)).toStrictEqual([TRAINING_INPUT]);
      expect(sagemaker.commandCalls(DescribeTrainingJobCommand)).toHaveLength(3);
      expect(decisionsOf(first)[0]?.outcome).toBe('applied');
      expect(decisionsOf(second)[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
      expect(logger.lines.filter((l) => l.message === 'decision')[1]?.extra['execution']).toStrictEqual([
        { index: 0, status: 'already-done', precondition: { state: 'done', evidence: `training job ${TRAINING_JOB} is Stopped: it runs nothing` } },
      ]);
    });

    it.each([
      ['Completed', `training job ${TRAINING_JOB} is Completed: it runs nothing`],
      ['Failed', `training job ${TRAINING_JOB} is Failed: it runs nothing`],
    ] as const)('sends no stop to a job already %s, and says so', async (status, evidence) => {
      sagemaker.on(DescribeTrainingJobCommand).resolves(training(status));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(callLog()).toStrictEqual([['DescribeTrainingJob', TRAINING_INPUT]]);
      expect(decisionsOf(result)[0]?.outcome).toBe('already-fixed');
      expect(decisionLine(logger)?.['execution']).toStrictEqual([{ index: 0, status: 'already-done', precondition: { state: 'done', evidence } }]);
    });

    it('believes ResourceNotFound from the stop only once the read afterwards finds no job either', async () => {
      sagemaker
        .on(DescribeTrainingJobCommand)
        .resolvesOnce(training('InProgress'))
        .rejects(serviceError('ResourceNotFound', `Requested resource not found: training job ${TRAINING_JOB}`));
      sagemaker.on(StopTrainingJobCommand).rejects(serviceError('ResourceNotFound', `Requested resource not found: training job ${TRAINING_JOB}`));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
      expect(decisionLine(logger)?.['execution']).toMatchObject([
        { status: 'already-done', errorCode: 'ResourceNotFound', verification: { state: 'done', evidence: `training job ${TRAINING_JOB} no longer exists` } },
      ]);
    });

    it('no longer reads ValidationException from the stop as "already stopped": it names no cause, so the step fails', async () => {
      sagemaker.on(DescribeTrainingJobCommand).resolves(training('InProgress'));
      sagemaker.on(StopTrainingJobCommand).rejects(serviceError('ValidationException', 'The request was rejected because the training job is in status Stopped.'));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
      expect(decisionLine(logger)?.['execution']).toMatchObject([{ index: 0, status: 'failed', errorCode: 'ValidationException' }]);
    });

    it('reports unverified when the job still reads InProgress after the stop', async () => {
      sagemaker.on(DescribeTrainingJobCommand).resolves(training('InProgress'));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(callLog()).toStrictEqual([
        ['DescribeTrainingJob', TRAINING_INPUT],
        ['StopTrainingJob', TRAINING_INPUT],
        ['DescribeTrainingJob', TRAINING_INPUT],
      ]);
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'unverified', execution: 'unverified' });
      expect((decisionLine(logger)?.['execution'] as { verification: unknown }[])[0]?.verification).toStrictEqual({
        state: 'needed',
        evidence: `training job ${TRAINING_JOB} is still InProgress`,
      });
    });

    it('sends no stop when the read before it is denied, and fails naming the read', async () => {
      sagemaker.on(DescribeTrainingJobCommand).rejects(serviceError('AccessDeniedException', 'User is not authorized to perform: sagemaker:DescribeTrainingJob'));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(sagemaker.commandCalls(StopTrainingJobCommand)).toHaveLength(0);
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
      expect(decisionLine(logger)?.['execution']).toStrictEqual([
        { index: 0, status: 'failed', errorCode: 'AccessDeniedException', precondition: { state: 'unreadable', evidence: 'DescribeTrainingJob failed: AccessDeniedException' } },
      ]);
    });

    it('reports a denied stop as failed, with the permission to grant, without throwing', async () => {
      sagemaker.on(DescribeTrainingJobCommand).resolves(training('InProgress'));
      sagemaker.on(StopTrainingJobCommand).rejects(serviceError('AccessDeniedException', 'User is not authorized to perform: sagemaker:StopTrainingJob'));
      const { handler, logger } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(decisionsOf(result)[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
      expect(decisionLine(logger)?.['execution']).toStrictEqual([
        { index: 0, status: 'failed', errorCode: 'AccessDeniedException', precondition: { state: 'needed', evidence: `training job ${TRAINING_JOB} is still InProgress` } },
      ]);
    });

    it('never applies when DRY_RUN=true, even in remediate mode: it only reads the job, and proposes', async () => {
      sagemaker.on(DescribeTrainingJobCommand).resolves(training('InProgress'));
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' }, { DRY_RUN: 'true' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(callLog()).toStrictEqual([['DescribeTrainingJob', TRAINING_INPUT]]);
      expect(decisionsOf(result)[0]?.outcome).toBe('proposed');
    });

    it('in propose mode, says already fixed when the job has finished by the time the alert is written', async () => {
      sagemaker.on(DescribeTrainingJobCommand).resolves(training('Completed'));
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'propose' });
      const result = await handler(loadEvent('sagemaker/CreateTrainingJob-distributed-no-vpc-no-kms.json'));
      expect(writeCalls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.outcome).toBe('already-fixed');
    });

    it('leaves a compliant job alone, with no call and no alert', async () => {
      const { handler } = handlerFor({ 'sagemaker-job-insecure': 'remediate' });
      await handler(loadEvent('sagemaker/CreateTrainingJob-vpc-kms-encrypted-compliant.json'));
      expect(sagemaker.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('sagemaker-notebook-insecure', () => {
    const FRAUD = { NotebookInstanceName: 'fraud-features' };
    const notebook = (status: NotebookInstanceStatus, rootAccess: RootAccess) => ({ ...FRAUD, NotebookInstanceStatus: status, RootAccess: rootAccess });

    it('reads the exemption with ListTags on its ARN and the proposal\'s preconditions, and changes nothing even in remediate mode', async () => {
      sagemaker.on(DescribeNotebookInstanceCommand).resolves(notebook('InService', 'Enabled'));
      const { handler } = handlerFor({ 'sagemaker-notebook-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      // The lookup, then the reads before the stop, the update and the start.
      expect(callLog()).toStrictEqual([
        ['ListTags', { ResourceArn: NOTEBOOK_ARN }],
        ['DescribeNotebookInstance', FRAUD],
        ['DescribeNotebookInstance', FRAUD],
        ['DescribeNotebookInstance', FRAUD],
      ]);
      expect(writeCalls()).toHaveLength(0);
      expect(decisionsOf(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'proposed' });
    });

    it('proposes by default and puts the proposal, with what its reads found, in the alert', async () => {
      sagemaker.on(DescribeNotebookInstanceCommand).resolves(notebook('InService', 'Enabled'));
      const { handler, logger } = handlerFor();
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(writeCalls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.outcome).toBe('proposed');
      const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
      expect(message['email']).toContain('sagemaker:UpdateNotebookInstance {"NotebookInstanceName":"fraud-features","RootAccess":"Disabled"}');
      expect(decisionLine(logger)?.['preflight']).toStrictEqual({
        status: 'open',
        checks: [
          { state: 'needed', evidence: 'fraud-features is InService, root access Enabled: still running' },
          { state: 'needed', evidence: 'fraud-features is InService, root access Enabled: root access is still on' },
          { state: 'done', evidence: 'fraud-features is InService, root access Enabled: running' },
        ],
      });
    });

    it('is stale, and proposes nothing to run, when root access is off again before anyone acted', async () => {
      sagemaker.on(DescribeNotebookInstanceCommand).resolves(notebook('InService', 'Disabled'));
      const { handler } = handlerFor();
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(writeCalls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.outcome).toBe('stale');
    });

    it('is already fixed when a notebook created open is stopped and its root access off', async () => {
      sagemaker.on(DescribeNotebookInstanceCommand).resolves({ NotebookInstanceName: 'Churn-Exploration', NotebookInstanceStatus: 'Stopped', RootAccess: 'Disabled' });
      const { handler } = handlerFor();
      const result = await handler(loadEvent('sagemaker/CreateNotebookInstance-defaults-internet-root-no-vpc-no-kms.json'));
      expect(callLog()).toStrictEqual([
        ['DescribeNotebookInstance', { NotebookInstanceName: 'Churn-Exploration' }],
        ['DescribeNotebookInstance', { NotebookInstanceName: 'Churn-Exploration' }],
      ]);
      expect(decisionsOf(result)[0]?.outcome).toBe('already-fixed');
    });

    it('shows the findings only in notify mode: no proposal, no read', async () => {
      const { handler, logger } = handlerFor({ 'sagemaker-notebook-insecure': 'notify' });
      const result = await handler(loadEvent('sagemaker/CreateNotebookInstance-defaults-internet-root-no-vpc-no-kms.json'));
      expect(sagemaker.calls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.outcome).toBe('notified');
      expect(decisionLine(logger)?.['plan']).toStrictEqual([]);
      expect(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)).not.toContain('StopNotebookInstance');
    });

    it('leaves an exempt notebook alone, says why, and alerts with what the exemption let through', async () => {
      sagemaker.on(ListTagsCommand).resolves({ Tags: [{ Key: 'remediation:exempt', Value: 'admin workstation SEC-77' }] });
      const { handler } = handlerFor({ 'sagemaker-notebook-insecure': 'remediate' });
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(decisionsOf(result)[0]).toStrictEqual({
        rule: 'sagemaker-notebook-insecure',
        verdict: 'exempt',
        outcome: 'exempt',
        summary: 'fraud-features is tagged remediation:exempt: admin workstation SEC-77',
      });
      expect(writeCalls()).toHaveLength(0);
      expect(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)).toContain('Root access is enabled for notebook users');
    });

    it('still alerts on a notebook that ListTags no longer finds; the read of a missing notebook fails (ValidationException) and nothing is guessed', async () => {
      sagemaker.on(ListTagsCommand).rejects(serviceError('ResourceNotFound', 'Resource not found'));
      sagemaker.on(DescribeNotebookInstanceCommand).rejects(serviceError('ValidationException', 'RecordNotFound'));
      const { handler } = handlerFor();
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(decisionsOf(result)[0]).toMatchObject({
        verdict: 'violation',
        outcome: 'proposed',
        summary: 'fraud-features updated with root access; proposed: stop it and turn root access off (ListTags: the notebook no longer exists)',
      });
      expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    });

    it('still alerts when ListTags is denied, naming the unchecked exemption', async () => {
      sagemaker.on(ListTagsCommand).rejects(serviceError('AccessDeniedException', 'not authorized to perform: sagemaker:ListTags'));
      sagemaker.on(DescribeNotebookInstanceCommand).resolves(notebook('InService', 'Enabled'));
      const { handler, logger } = handlerFor();
      const result = await handler(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'));
      expect(decisionsOf(result)[0]?.summary).toBe(
        'fraud-features updated with root access; proposed: stop it and turn root access off (exemption tag not checked: ListTags failed: AccessDeniedException)',
      );
      expect(decisionLine(logger)?.['unavailableFacts']).toStrictEqual(['notebookTags']);
    });

    it('needs no lookup for a create: the request carries the tags', async () => {
      const { handler } = handlerFor();
      await handler(loadEvent('sagemaker/CreateNotebookInstance-internet-exempt-tag.json'));
      expect(sagemaker.calls()).toHaveLength(0);
    });
  });

  describe('sagemaker-endpoint-unencrypted', () => {
    it('notifies by default: no call, no proposal', async () => {
      const { handler, logger } = handlerFor();
      const result = await handler(loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json'));
      expect(sagemaker.calls()).toHaveLength(0);
      expect(decisionsOf(result)[0]?.outcome).toBe('notified');
      expect(decisionLine(logger)?.['plan']).toStrictEqual([]);
    });

    it('writes nothing in remediate mode; it reads whether the encrypted copy exists yet', async () => {
      sagemaker.on(DescribeEndpointConfigCommand).rejects(serviceError('ValidationException', 'Could not find endpoint configuration "churn-xgb-config-2025-03-15-kms".'));
      const { handler, logger } = handlerFor({ 'sagemaker-endpoint-unencrypted': 'remediate' });
      const result = await handler(loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json'));
      // The move's read names an endpoint only a person can fill in: it is not made.
      expect(callLog()).toStrictEqual([['DescribeEndpointConfig', { EndpointConfigName: 'churn-xgb-config-2025-03-15-kms' }]]);
      expect(decisionsOf(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'proposed' });
      expect((decisionLine(logger)?.['preflight'] as { checks: unknown[] }).checks[0]).toStrictEqual({
        state: 'needed',
        evidence: 'churn-xgb-config-2025-03-15-kms does not exist yet',
      });
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
  const gateway = createAwsGateway(sagemakerCommands, { region: TEST_REGION });
  const LAB = { NotebookInstanceName: 'forecasting-lab' };
  const lab = (status: NotebookInstanceStatus, rootAccess: RootAccess) => ({ ...LAB, NotebookInstanceStatus: status, RootAccess: rootAccess });

  function proposalFor(fixture: string): Plan {
    const verdict = evaluateRule(sagemakerNotebookInsecure, loadEvent(fixture));
    if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error('expected a proposal');
    return verdict.proposal;
  }
  const rootOnly = () => proposalFor('sagemaker/CreateNotebookInstance-vpc-kms-root-enabled.json');
  const run = (plan: Plan, probes = sagemakerNotebookInsecure.probes) => executePlan(plan, gateway, { remainingTimeMs: () => 600_000, probes });

  beforeEach(() => {
    sagemaker.reset();
    sagemaker.on(StopNotebookInstanceCommand).resolves({});
    sagemaker.on(UpdateNotebookInstanceCommand).resolves({});
    sagemaker.on(StartNotebookInstanceCommand).resolves({});
  });

  it('reads before and after each write: stop, wait, turn root access off, wait, start, and reports applied and verified', async () => {
    sagemaker
      .on(DescribeNotebookInstanceCommand)
      .resolvesOnce(lab('InService', 'Enabled')) // before the stop
      .resolvesOnce(lab('Stopping', 'Enabled')) // after the stop
      .resolvesOnce(lab('Stopped', 'Enabled')) // the wait
      .resolvesOnce(lab('Stopped', 'Enabled')) // before the update
      .resolvesOnce(lab('Updating', 'Disabled')) // after the update
      .resolvesOnce(lab('Stopped', 'Disabled')) // the wait
      .resolvesOnce(lab('Stopped', 'Disabled')) // before the start
      .resolves(lab('Pending', 'Disabled')); // after the start
    const report = await run(rootOnly());
    expect(report.status).toBe('applied');
    expect(callLog()).toStrictEqual([
      ['DescribeNotebookInstance', LAB],
      ['StopNotebookInstance', LAB],
      ['DescribeNotebookInstance', LAB],
      ['DescribeNotebookInstance', LAB],
      ['DescribeNotebookInstance', LAB],
      ['UpdateNotebookInstance', { ...LAB, RootAccess: 'Disabled' }],
      ['DescribeNotebookInstance', LAB],
      ['DescribeNotebookInstance', LAB],
      ['DescribeNotebookInstance', LAB],
      ['StartNotebookInstance', LAB],
      ['DescribeNotebookInstance', LAB],
    ]);
    expect(report.steps.map((s) => [s.status, s.verification?.state])).toStrictEqual([
      ['applied', 'done'],
      ['applied', undefined],
      ['applied', 'done'],
      ['applied', undefined],
      ['applied', 'done'],
    ]);
  });

  it('is already fixed on a re-run of a notebook that must stay stopped: it is stopped and root access is off, and nothing is written', async () => {
    sagemaker.on(DescribeNotebookInstanceCommand).resolves({ NotebookInstanceName: 'Churn-Exploration', NotebookInstanceStatus: 'Stopped', RootAccess: 'Disabled' });
    const report = await run(proposalFor('sagemaker/CreateNotebookInstance-defaults-internet-root-no-vpc-no-kms.json'));
    expect(report.status).toBe('already-fixed');
    expect(report.steps.map((s) => s.status)).toStrictEqual(['already-done', 'applied', 'already-done']);
    expect(writeCalls()).toHaveLength(0);
  });

  it('continues from a notebook someone already stopped: the stop is already done, the update runs', async () => {
    sagemaker
      .on(DescribeNotebookInstanceCommand)
      .resolvesOnce(lab('Stopped', 'Enabled')) // before the stop
      .resolvesOnce(lab('Stopped', 'Enabled')) // the wait
      .resolvesOnce(lab('Stopped', 'Enabled')) // before the update
      .resolvesOnce(lab('Stopped', 'Disabled')) // after the update
      .resolvesOnce(lab('Stopped', 'Disabled')) // the wait
      .resolvesOnce(lab('Stopped', 'Disabled')) // before the start
      .resolves(lab('Pending', 'Disabled'));
    const report = await run(rootOnly());
    expect(report.status).toBe('applied');
    expect(report.steps.map((s) => s.status)).toStrictEqual(['already-done', 'applied', 'applied', 'applied', 'applied']);
    expect(sagemaker.commandCalls(StopNotebookInstanceCommand)).toHaveLength(0);
    expect(sagemaker.commandCalls(UpdateNotebookInstanceCommand).map((c) => c.args[0].input)).toStrictEqual([{ ...LAB, RootAccess: 'Disabled' }]);
  });

  it('is stale, and stops nothing, when root access is off again before the proposal runs', async () => {
    sagemaker.on(DescribeNotebookInstanceCommand).resolves(lab('InService', 'Disabled'));
    const report = await run(rootOnly());
    expect(report.status).toBe('stale');
    expect(report.steps.map((s) => s.status)).toStrictEqual(['stale', 'not-run', 'not-run', 'not-run', 'not-run']);
    expect(callLog()).toStrictEqual([['DescribeNotebookInstance', LAB]]);
  });

  it('never starts a notebook whose root access still reads on after the update: the update is unverified, the start stale', async () => {
    sagemaker
      .on(DescribeNotebookInstanceCommand)
      .resolvesOnce(lab('InService', 'Enabled'))
      .resolvesOnce(lab('Stopping', 'Enabled'))
      .resolvesOnce(lab('Stopped', 'Enabled'))
      .resolvesOnce(lab('Stopped', 'Enabled'))
      .resolvesOnce(lab('Stopped', 'Enabled')) // after the update: still on
      .resolvesOnce(lab('Stopped', 'Enabled')) // the wait
      .resolves(lab('Stopped', 'Enabled')); // before the start: root access on, so it is not started
    const report = await run(rootOnly());
    expect(report.steps.map((s) => [s.status, s.verification?.state])).toStrictEqual([
      ['applied', 'done'],
      ['applied', undefined],
      ['applied', 'needed'],
      ['applied', undefined],
      ['stale', undefined],
    ]);
    expect(report.status).toBe('stale');
    expect(sagemaker.commandCalls(StartNotebookInstanceCommand)).toHaveLength(0);
  });

  it('reports unverified when the notebook still reads InService after the stop', async () => {
    sagemaker.on(DescribeNotebookInstanceCommand).resolves({ NotebookInstanceName: 'fraud-features', NotebookInstanceStatus: 'InService', RootAccess: 'Disabled' });
    const event = loadEvent('sagemaker/CreateNotebookInstance-private-vpc-kms-compliant.json');
    event.detail.requestParameters = { ...event.detail.requestParameters, directInternetAccess: 'Enabled' };
    const verdict = evaluateRule(sagemakerNotebookInsecure, event);
    if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error('expected a proposal');
    const report = await run(verdict.proposal);
    expect(report.status).toBe('unverified');
    expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: 'fraud-features is InService, root access Disabled: still running' });
  });

  describe('the endpoint proposal', () => {
    const ORIGINAL = 'churn-xgb-config-2025-03-15';
    const COPY = 'churn-xgb-config-2025-03-15-kms';
    const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const notFound = () => serviceError('ValidationException', `Could not find endpoint configuration "${COPY}".`);
    const copy = { EndpointConfigName: COPY, KmsKeyId: KEY, DataCaptureConfig: { EnableCapture: true, KmsKeyId: KEY, InitialSamplingPercentage: 100, DestinationS3Uri: 's3://amzn-s3-demo-bucket/churn/capture/', CaptureOptions: [{ CaptureMode: 'Input' as const }, { CaptureMode: 'Output' as const }] } };
    const endpoint = (configName: string, status: EndpointStatus = 'InService', pending?: string) => ({
      EndpointName: 'churn-xgb',
      EndpointConfigName: configName,
      EndpointStatus: status,
      ...(pending ? { PendingDeploymentSummary: { EndpointConfigName: pending } } : {}),
    });

    function proposal(): Plan {
      const verdict = evaluateRule(sagemakerEndpointUnencrypted, loadEvent('sagemaker/CreateEndpointConfig-no-kms-data-capture.json'));
      if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error('expected a proposal');
      return verdict.proposal;
    }

    /** What a person does before running it: every placeholder filled in. */
    function filled(value: unknown): unknown {
      if (isUnknownValue(value)) return value.$unknown.startsWith('an endpoint') ? 'churn-xgb' : KEY;
      if (Array.isArray(value)) return value.map(filled);
      if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, filled(v)]));
      return value;
    }

    const runEndpoint = (plan: Plan) => executePlan(plan, gateway, { probes: sagemakerEndpointUnencrypted.probes });

    it('refuses to run until a person fills in the key and the endpoint, before any call', async () => {
      const report = await runEndpoint(proposal());
      expect(report.steps.map((s) => [s.status, s.errorCode])).toStrictEqual([
        ['failed', 'UnknownValue'],
        ['not-run', undefined],
      ]);
      expect(sagemaker.calls()).toHaveLength(0);
    });

    it('creates the copy and moves the endpoint, each read before and after, and reports applied and verified', async () => {
      sagemaker.on(DescribeEndpointConfigCommand).rejectsOnce(notFound()).resolves(copy);
      sagemaker.on(CreateEndpointConfigCommand).resolves({ EndpointConfigArn: `arn:aws:sagemaker:us-east-1:111122223333:endpoint-config/${COPY}` });
      sagemaker.on(DescribeEndpointCommand).resolvesOnce(endpoint(ORIGINAL)).resolves(endpoint(ORIGINAL, 'Updating', COPY));
      sagemaker.on(UpdateEndpointCommand).resolves({ EndpointArn: 'arn:aws:sagemaker:us-east-1:111122223333:endpoint/churn-xgb' });
      const plan = filled(proposal()) as Plan;
      const report = await runEndpoint(plan);
      expect(report.status).toBe('applied');
      expect(callLog().map(([name]) => name)).toStrictEqual([
        'DescribeEndpointConfig',
        'CreateEndpointConfig',
        'DescribeEndpointConfig',
        'DescribeEndpoint',
        'UpdateEndpoint',
        'DescribeEndpoint',
      ]);
      expect(sagemaker.commandCalls(CreateEndpointConfigCommand)[0]?.args[0].input).toStrictEqual(plan[0]?.input);
      expect(sagemaker.commandCalls(UpdateEndpointCommand)[0]?.args[0].input).toStrictEqual({ EndpointName: 'churn-xgb', EndpointConfigName: COPY });
      expect(sagemaker.commandCalls(DescribeEndpointCommand).map((c) => c.args[0].input)).toStrictEqual([{ EndpointName: 'churn-xgb' }, { EndpointName: 'churn-xgb' }]);
      expect(report.steps.map((s) => s.verification)).toStrictEqual([
        { state: 'done', evidence: `${COPY} exists with its KMS keys` },
        { state: 'done', evidence: `churn-xgb is moving to ${COPY} (Updating; SageMaker retires the instances of ${ORIGINAL} once the new ones serve)` },
      ]);
    });

    it('is already fixed on a re-run: the copy exists with its keys and the endpoint uses it', async () => {
      sagemaker.on(DescribeEndpointConfigCommand).resolves(copy);
      sagemaker.on(DescribeEndpointCommand).resolves(endpoint(COPY));
      const report = await runEndpoint(filled(proposal()) as Plan);
      expect(report.status).toBe('already-fixed');
      expect(writeCalls()).toHaveLength(0);
    });

    it('is stale, and moves nothing, when the endpoint uses another configuration now', async () => {
      sagemaker.on(DescribeEndpointConfigCommand).resolves(copy);
      sagemaker.on(DescribeEndpointCommand).resolves(endpoint('churn-xgb-config-2025-04-01'));
      const report = await runEndpoint(filled(proposal()) as Plan);
      expect(report.status).toBe('stale');
      expect(report.steps[1]?.precondition).toStrictEqual({ state: 'changed', evidence: `churn-xgb uses churn-xgb-config-2025-04-01 now, not ${ORIGINAL}: it is not moved` });
      expect(writeCalls()).toHaveLength(0);
    });

    it('is stale when a configuration of the copy\'s name exists without the keys', async () => {
      sagemaker.on(DescribeEndpointConfigCommand).resolves({ EndpointConfigName: COPY });
      const report = await runEndpoint(filled(proposal()) as Plan);
      expect(report.status).toBe('stale');
      expect(sagemaker.commandCalls(CreateEndpointConfigCommand)).toHaveLength(0);
    });

    it('reports unverified when the copy reads without its keys after the create', async () => {
      sagemaker.on(DescribeEndpointConfigCommand).rejects(notFound());
      sagemaker.on(CreateEndpointConfigCommand).resolves({ EndpointConfigArn: `arn:aws:sagemaker:us-east-1:111122223333:endpoint-config/${COPY}` });
      sagemaker.on(DescribeEndpointCommand).resolvesOnce(endpoint(ORIGINAL)).resolves(endpoint(COPY));
      sagemaker.on(UpdateEndpointCommand).resolves({});
      const report = await runEndpoint(filled(proposal()) as Plan);
      expect(report.status).toBe('unverified');
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: `${COPY} does not exist yet` });
    });
  });
});
