/** The sagemaker family (notebooks, training/processing/tuning jobs, endpoint configurations): one Lambda function holds these rules and only their permissions. */
import { sagemakerEndpointUnencrypted } from './sagemaker-endpoint-unencrypted.js';
import { sagemakerJobInsecure } from './sagemaker-job-insecure.js';
import { sagemakerNotebookInsecure } from './sagemaker-notebook-insecure.js';

export const sagemakerRules = [sagemakerNotebookInsecure, sagemakerJobInsecure, sagemakerEndpointUnencrypted] as const;
