/** The iam service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { IAMClient } from '@aws-sdk/client-iam';
import { awsService } from '../sdk.js';

export const iam = awsService('iam', IAMClient);
