/**
 * sagemaker-job-insecure: a SageMaker training, processing or hyperparameter
 * tuning job that is not isolated and encrypted. `notify` by default.
 *
 * Triggers: `CreateTrainingJob`, `CreateProcessingJob` and
 * `CreateHyperParameterTuningJob` (every training job definition of a tuning
 * job, `TrainingJobDefinition` and `TrainingJobDefinitions[]`, is checked).
 * Violations, one finding each:
 * - more than one instance (`ResourceConfig.InstanceCount` or its
 *   `InstanceGroups`, processing `ProcessingResources.ClusterConfig.InstanceCount`,
 *   tuning `HyperParameterTuningResourceConfig`) without
 *   `EnableInterContainerTrafficEncryption`;
 * - no `VpcConfig` (processing: `NetworkConfig.VpcConfig`);
 * - no `OutputDataConfig.KmsKeyId` (processing: `ProcessingOutputConfig.KmsKeyId`,
 *   when the job writes outputs at all);
 * - `EnableNetworkIsolation` not true, when the `requireNetworkIsolation`
 *   setting says it is required (default: not required).
 *
 * Modes: `notify` (the default) alerts with the findings and no plan (the
 * engine strips it); `propose` alerts with the stop and what the job's status
 * reads now; `remediate` runs it.
 * Changes (in `remediate` mode only): `StopTrainingJob`, `StopProcessingJob`
 * or `StopHyperParameterTuningJob` with the job's name, only when
 * `DescribeTrainingJob` / `DescribeProcessingJob` / `DescribeHyperParameterTuningJob`
 * shows it `InProgress` just before (`Stopped`, `Completed` or `Failed` is
 * already done); the same read afterwards must show it `Stopping` or later.
 * A stop cannot be undone (a stopped job cannot be resumed): the step says to
 * re-run the job with the settings fixed. Stopping deletes no customer data: a
 * training job gets SIGTERM and 120 seconds to save its model artefacts, and
 * artefacts and output already written stay in S3 (a tuning job stops its
 * running training jobs the same way).
 * Never touches: the job's input and output data, models, other jobs, jobs
 * carrying the exemption tag in their `Tags`.
 * Permissions: `sagemaker:StopTrainingJob`, `sagemaker:StopProcessingJob`,
 * `sagemaker:StopHyperParameterTuningJob`, and the matching `Describe…Job`
 * reads, each on its own job ARNs.
 */
import {
  DescribeHyperParameterTuningJobCommand,
  DescribeProcessingJobCommand,
  DescribeTrainingJobCommand,
  StopHyperParameterTuningJobCommand,
  StopProcessingJobCommand,
  StopTrainingJobCommand,
} from '@aws-sdk/client-sagemaker';
import * as z from 'zod/mini';
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason } from '../../engine/exemption.js';
import { checkedBothWays, type Facts, type Finding, type Plan, type PlanStep, type RuleContext, type StateCheck, type Verdict } from '../../engine/types.js';
import { sagemaker } from '../../rulekit/aws/sagemaker.js';
import { defineAction, defineProbe, defineRule, type CommandClass, type KitProbe, type StepOptions } from '../../rulekit/index.js';
import { count, isTrue, objects, param, requestTags, responseArn, stringParam } from './common.js';

export const SagemakerJobInsecureSettingsSchema = z.strictObject({
  /** Also require `EnableNetworkIsolation` (containers without any network access). Off by default: many jobs download packages or call AWS APIs. */
  requireNetworkIsolation: z._default(z.boolean(), false),
});
type SagemakerJobInsecureSettings = z.infer<typeof SagemakerJobInsecureSettingsSchema>;

/** Statuses in which a job runs nothing any more: stopping it is already done. */
const FINISHED = new Set(['Stopping', 'Stopped', 'Completed', 'Failed', 'Deleting', 'DeleteFailed']);

/**
 * A job's status as its `Describe…Job` answers now: `InProgress` needs the
 * stop; `Stopping`, `Stopped`, `Completed` and `Failed` (and a tuning job
 * being deleted) are done; a job that no longer exists (`ResourceNotFound`,
 * the error these APIs document for it) is done.
 */
function jobStatusProbe<C extends CommandClass>(Command: C, name: string, statusMember: string, label: string): KitProbe<C> {
  const probe: KitProbe<C> = defineProbe(sagemaker, Command, {
    name,
    notFoundCodes: ['ResourceNotFound'],
    judge(output, expected) {
      const job = `${label} ${String(expected['job'])}`;
      if (output === null) return { state: 'done', evidence: `${job} no longer exists` };
      const status = stringParam(output, statusMember);
      if (status === 'InProgress') return { state: 'needed', evidence: `${job} is still InProgress` };
      if (status !== undefined && FINISHED.has(status)) {
        const reason = stringParam(output, 'FailureReason');
        return { state: 'done', evidence: `${job} is ${status}: it runs nothing${reason ? ` (${reason})` : ''}` };
      }
      throw new Error(`${probe.operation} states ${status === undefined ? `no ${statusMember}` : `an unknown ${statusMember} ${status}`} for ${job}`);
    },
  });
  return probe;
}

export const trainingJobProbe = jobStatusProbe(DescribeTrainingJobCommand, 'trainingJob', 'TrainingJobStatus', 'training job');
export const processingJobProbe = jobStatusProbe(DescribeProcessingJobCommand, 'processingJob', 'ProcessingJobStatus', 'processing job');
export const tuningJobProbe = jobStatusProbe(DescribeHyperParameterTuningJobCommand, 'tuningJob', 'HyperParameterTuningJobStatus', 'hyperparameter tuning job');

const stopTrainingJob = defineAction(sagemaker, StopTrainingJobCommand);
const stopProcessingJob = defineAction(sagemaker, StopProcessingJobCommand);
const stopTuningJob = defineAction(sagemaker, StopHyperParameterTuningJobCommand);

interface JobType {
  readonly label: string;
  readonly nameMember: string;
  readonly arnMember: string;
  /** What stopping keeps, for the step's reason. */
  readonly keeps: string;
  /** The stop of the job with this name. */
  stop(name: string, options: StepOptions): PlanStep;
  /** The read that shows whether the job with this name still runs. */
  stillRuns(name: string, description: string): StateCheck;
}

const JOB_TYPES: Readonly<Record<string, JobType>> = {
  CreateTrainingJob: {
    label: 'training job',
    nameMember: 'TrainingJobName',
    arnMember: 'TrainingJobArn',
    keeps: 'the algorithm gets SIGTERM and 120 seconds to save its model artefacts, and what is already in S3 stays there',
    stop: (name, options) => stopTrainingJob.step({ TrainingJobName: name }, options),
    stillRuns: (name, description) => trainingJobProbe.check({ TrainingJobName: name }, { job: name }, description),
  },
  CreateProcessingJob: {
    label: 'processing job',
    nameMember: 'ProcessingJobName',
    arnMember: 'ProcessingJobArn',
    keeps: 'inputs and any output already uploaded to S3 stay there',
    stop: (name, options) => stopProcessingJob.step({ ProcessingJobName: name }, options),
    stillRuns: (name, description) => processingJobProbe.check({ ProcessingJobName: name }, { job: name }, description),
  },
  CreateHyperParameterTuningJob: {
    label: 'hyperparameter tuning job',
    nameMember: 'HyperParameterTuningJobName',
    arnMember: 'HyperParameterTuningJobArn',
    keeps: 'its running training jobs are stopped too, and the model artefacts of every training job stay in S3',
    stop: (name, options) => stopTuningJob.step({ HyperParameterTuningJobName: name }, options),
    stillRuns: (name, description) => tuningJobProbe.check({ HyperParameterTuningJobName: name }, { job: name }, description),
  },
};

/** The security-relevant settings of one job, or of one training job definition of a tuning job. */
interface JobSecurity {
  /** Names a tuning job's training job definition. */
  readonly definition?: string;
  readonly instanceCount?: number;
  readonly interContainerEncryption: boolean;
  readonly vpc: boolean;
  /** `undefined` when the job writes no outputs (processing jobs without `ProcessingOutputConfig`). */
  readonly outputKmsKey?: boolean;
  readonly outputMember: string;
  readonly networkIsolation: boolean;
}

function sum(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? known.reduce((a, b) => a + b, 0) : undefined;
}

/** `InstanceCount`, or the sum over heterogeneous `InstanceGroups` / `InstanceConfigs`. */
function instanceCount(resources: unknown): number | undefined {
  return (
    count(param(resources, 'InstanceCount')) ??
    sum([...objects(param(resources, 'InstanceGroups')), ...objects(param(resources, 'InstanceConfigs'))].map((group) => count(param(group, 'InstanceCount'))))
  );
}

function hasVpc(vpcConfig: unknown): boolean {
  const subnets = param(vpcConfig, 'Subnets');
  return Array.isArray(subnets) ? subnets.length > 0 : typeof vpcConfig === 'object' && vpcConfig !== null;
}

/** A training job request, or one training job definition of a tuning job: the same members. */
function trainingSecurity(definition: unknown, name?: string): JobSecurity {
  const resources = param(definition, 'ResourceConfig') ?? param(definition, 'HyperParameterTuningResourceConfig');
  const n = instanceCount(resources);
  return {
    ...(name !== undefined ? { definition: name } : {}),
    ...(n !== undefined ? { instanceCount: n } : {}),
    interContainerEncryption: isTrue(param(definition, 'EnableInterContainerTrafficEncryption')),
    vpc: hasVpc(param(definition, 'VpcConfig')),
    outputKmsKey: stringParam(definition, 'OutputDataConfig', 'KmsKeyId') !== undefined,
    outputMember: 'OutputDataConfig.KmsKeyId',
    networkIsolation: isTrue(param(definition, 'EnableNetworkIsolation')),
  };
}

function processingSecurity(request: unknown): JobSecurity {
  const network = param(request, 'NetworkConfig');
  const n = instanceCount(param(request, 'ProcessingResources', 'ClusterConfig'));
  const output = param(request, 'ProcessingOutputConfig');
  return {
    ...(n !== undefined ? { instanceCount: n } : {}),
    interContainerEncryption: isTrue(param(network, 'EnableInterContainerTrafficEncryption')),
    vpc: hasVpc(param(network, 'VpcConfig')),
    ...(output !== undefined && output !== null ? { outputKmsKey: stringParam(output, 'KmsKeyId') !== undefined } : {}),
    outputMember: 'ProcessingOutputConfig.KmsKeyId',
    networkIsolation: isTrue(param(network, 'EnableNetworkIsolation')),
  };
}

/** Every job (or tuning job definition) the event created, with its settings. */
function jobSecurity(event: CloudTrailEvent): JobSecurity[] {
  const request = event.detail.requestParameters;
  switch (event.detail.eventName) {
    case 'CreateProcessingJob':
      return [processingSecurity(request)];
    case 'CreateHyperParameterTuningJob': {
      const single = param(request, 'TrainingJobDefinition');
      const many = objects(param(request, 'TrainingJobDefinitions'));
      return [
        ...(typeof single === 'object' && single !== null ? [trainingSecurity(single, 'TrainingJobDefinition')] : []),
        ...many.map((definition, index) => trainingSecurity(definition, stringParam(definition, 'DefinitionName') ?? `TrainingJobDefinitions[${index}]`)),
      ];
    }
    default:
      return [trainingSecurity(request)];
  }
}

function jobFindings(jobs: readonly JobSecurity[], settings: SagemakerJobInsecureSettings, processing: boolean): Finding[] {
  const vpcMember = processing ? 'NetworkConfig.VpcConfig' : 'VpcConfig';
  const flag = (name: string) => (processing ? `NetworkConfig.${name}` : name);
  return jobs.flatMap((job) => {
    const prefix = job.definition !== undefined && jobs.length > 1 ? `${job.definition}: ` : '';
    const findings: Finding[] = [];
    if (job.instanceCount !== undefined && job.instanceCount > 1 && !job.interContainerEncryption) {
      findings.push({
        code: 'inter-container-traffic-unencrypted',
        severity: 'medium',
        message: `${prefix}${job.instanceCount} instances exchange data and model parameters in the clear: ${flag('EnableInterContainerTrafficEncryption')} is not true.`,
        subject: `${prefix}${flag('EnableInterContainerTrafficEncryption')}`,
      });
    }
    if (!job.vpc) {
      findings.push({
        code: 'no-vpc',
        severity: 'medium',
        message: `${prefix}No ${vpcMember}: the containers run outside your VPC, so its security groups, VPC endpoints and flow logs do not apply.`,
        subject: `${prefix}${vpcMember}`,
      });
    }
    if (job.outputKmsKey === false) {
      findings.push({
        code: 'output-not-kms-encrypted',
        severity: 'medium',
        message: `${prefix}No ${job.outputMember}: the output is written to S3 without a customer managed KMS key.`,
        subject: `${prefix}${job.outputMember}`,
      });
    }
    if (settings.requireNetworkIsolation && !job.networkIsolation) {
      findings.push({
        code: 'network-isolation-off',
        severity: 'medium',
        message: `${prefix}${flag('EnableNetworkIsolation')} is not true, and requireNetworkIsolation says the containers must have no network access.`,
        subject: `${prefix}${flag('EnableNetworkIsolation')}`,
      });
    }
    return findings;
  });
}

const LABELS: Readonly<Record<string, string>> = {
  'inter-container-traffic-unencrypted': 'several instances without inter-container traffic encryption',
  'no-vpc': 'not in a VPC',
  'output-not-kms-encrypted': 'output without a KMS key',
  'network-isolation-off': 'no network isolation',
};

/**
 * One stop; there is no undo, because a stopped job cannot be resumed. The
 * job's status is read before (only an `InProgress` job is stopped) and after
 * (`Stopping` or later).
 */
function planStop(type: JobType, name: string): Plan {
  return [
    type.stop(name, {
      reason: `Stop the ${type.label} ${name}. This cannot be undone: a stopped job cannot be resumed, so re-run it with the settings fixed. Stopping deletes nothing: ${type.keeps}.`,
      // Documented for a job that does not exist; the read afterwards confirms it. A job that is no longer running answers ValidationException, which names no cause: the read before the stop decides that case instead.
      alreadyDoneCodes: ['ResourceNotFound'],
      ...checkedBothWays(type.stillRuns(name, `the ${type.label} ${name} is still InProgress`)),
    }),
  ];
}

function evaluate(event: CloudTrailEvent, _facts: Facts, context: RuleContext<SagemakerJobInsecureSettings>): Verdict {
  const { settings } = context;
  const type = JOB_TYPES[event.detail.eventName];
  const request = event.detail.requestParameters;
  const name = type ? stringParam(request, type.nameMember) : undefined;
  if (!type || !name) return { kind: 'skipped', reason: 'the event names no SageMaker job' };
  const resources = [responseArn(event, type.arnMember) ?? name];

  const jobs = jobSecurity(event);
  if (jobs.length === 0) return { kind: 'skipped', reason: `the event holds no training job definition for ${name}`, resources };
  const findings = jobFindings(jobs, settings, event.detail.eventName === 'CreateProcessingJob');
  if (findings.length === 0) {
    const checks = `in a VPC, output with a KMS key (or none), inter-container traffic encrypted wherever several instances run${settings.requireNetworkIsolation ? ', network isolation on' : ''}`;
    return { kind: 'compliant', summary: `${type.label} ${name}: ${checks}`, resources };
  }

  const exempt = exemptionReason(requestTags(request), context.config);
  if (exempt) return { kind: 'exempt', reason: `${type.label} ${name} is ${exempt}`, resources, findings };

  return {
    kind: 'violation',
    summary: `${type.label} ${name}: ${[...new Set(findings.map((f) => LABELS[f.code] ?? f.code))].join(', ')}`,
    resources,
    findings,
    plan: planStop(type, name),
  };
}

export const sagemakerJobInsecure = defineRule<SagemakerJobInsecureSettings>({
  id: 'sagemaker-job-insecure',
  title: 'SageMaker job not isolated and encrypted',
  severity: 'medium',
  rationale:
    'Training and processing jobs read the most sensitive data an ML team has. Outside a VPC, with model artefacts written without a customer managed key, or with several instances talking in the clear, that data and the models trained on it leave the controls the rest of the account relies on.',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'sagemaker.amazonaws.com', eventNames: ['CreateTrainingJob', 'CreateProcessingJob', 'CreateHyperParameterTuningJob'] }],
  actions: [stopTrainingJob, stopProcessingJob, stopTuningJob],
  probes: [trainingJobProbe, processingJobProbe, tuningJobProbe],
  settings: SagemakerJobInsecureSettingsSchema,
  evaluate,
});
