/** The sagemaker family (notebooks, training/processing/tuning jobs, endpoint configurations): one Lambda function holds these rules and only their permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { sagemakerEndpointUnencrypted } from './sagemaker-endpoint-unencrypted.js';
import { sagemakerJobInsecure } from './sagemaker-job-insecure.js';
import { sagemakerNotebookInsecure } from './sagemaker-notebook-insecure.js';

export const sagemakerFamily = defineFamily({ name: 'sagemaker', rules: [sagemakerNotebookInsecure, sagemakerJobInsecure, sagemakerEndpointUnencrypted] });

/** The family's rules, as the registry and the deployment see them. */
export const sagemakerRules = sagemakerFamily.rules;
