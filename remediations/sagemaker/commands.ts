/**
 * The SDK commands and waiters the sagemaker function may use: its rules'
 * plan steps (the job stops), lookups and probes (the reads before and after
 * each write), SNS for alerts, and the commands and waiter of the proposals
 * (notebook stop/update/start, a new endpoint configuration), so that an
 * approved proposal runs through the same table. The function's IAM role
 * grants only the automatic plans, the lookups and the probes; running a
 * proposal needs a principal that holds its permissions.
 */
import {
  CreateEndpointConfigCommand,
  DeleteEndpointConfigCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeHyperParameterTuningJobCommand,
  DescribeNotebookInstanceCommand,
  DescribeProcessingJobCommand,
  DescribeTrainingJobCommand,
  ListTagsCommand,
  SageMakerClient,
  StartNotebookInstanceCommand,
  StopHyperParameterTuningJobCommand,
  StopNotebookInstanceCommand,
  StopProcessingJobCommand,
  StopTrainingJobCommand,
  UpdateEndpointCommand,
  UpdateNotebookInstanceCommand,
  waitUntilNotebookInstanceStopped,
} from '@aws-sdk/client-sagemaker';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const sagemakerCommands = {
  clients: { ...snsCommands.clients, sagemaker: SageMakerClient },
  commands: {
    ...snsCommands.commands,
    'sagemaker:ListTags': ListTagsCommand,
    'sagemaker:DescribeNotebookInstance': DescribeNotebookInstanceCommand,
    'sagemaker:DescribeTrainingJob': DescribeTrainingJobCommand,
    'sagemaker:DescribeProcessingJob': DescribeProcessingJobCommand,
    'sagemaker:DescribeHyperParameterTuningJob': DescribeHyperParameterTuningJobCommand,
    'sagemaker:DescribeEndpointConfig': DescribeEndpointConfigCommand,
    'sagemaker:DescribeEndpoint': DescribeEndpointCommand,
    'sagemaker:StopTrainingJob': StopTrainingJobCommand,
    'sagemaker:StopProcessingJob': StopProcessingJobCommand,
    'sagemaker:StopHyperParameterTuningJob': StopHyperParameterTuningJobCommand,
    'sagemaker:StopNotebookInstance': StopNotebookInstanceCommand,
    'sagemaker:StartNotebookInstance': StartNotebookInstanceCommand,
    'sagemaker:UpdateNotebookInstance': UpdateNotebookInstanceCommand,
    'sagemaker:CreateEndpointConfig': CreateEndpointConfigCommand,
    'sagemaker:DeleteEndpointConfig': DeleteEndpointConfigCommand,
    'sagemaker:UpdateEndpoint': UpdateEndpointCommand,
  },
  waiters: {
    'sagemaker:waitUntilNotebookInstanceStopped': waitUntilNotebookInstanceStopped,
  },
} as const satisfies CommandTable;
