/** The kms service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { KMSClient } from '@aws-sdk/client-kms';
import { awsService } from '../sdk.js';

export const kms = awsService('kms', KMSClient);
