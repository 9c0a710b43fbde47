/** The sagemaker service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { awsService } from '../sdk.js';

export const sagemaker = awsService('sagemaker', SageMakerClient);
