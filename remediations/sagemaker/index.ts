/** The sagemaker family (notebooks, Studio domains, training/processing/tuning jobs, models, endpoint configurations): one Lambda function holds these rules and only their permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { sagemakerDomainInternet } from './sagemaker-domain-internet.js';
import { sagemakerEndpointUnencrypted } from './sagemaker-endpoint-unencrypted.js';
import { sagemakerJobInsecure } from './sagemaker-job-insecure.js';
import { sagemakerModelNotIsolated } from './sagemaker-model-not-isolated.js';
import { sagemakerNotebookInsecure } from './sagemaker-notebook-insecure.js';

export const sagemakerFamily = defineFamily({ name: 'sagemaker', rules: [sagemakerNotebookInsecure, sagemakerJobInsecure, sagemakerEndpointUnencrypted, sagemakerDomainInternet, sagemakerModelNotIsolated] });

/** The family's rules, as the registry and the deployment see them. */
export const sagemakerRules = sagemakerFamily.rules;
