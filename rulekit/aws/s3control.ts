/** The s3control service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { S3ControlClient } from '@aws-sdk/client-s3-control';
import { awsService } from '../sdk.js';

export const s3control = awsService('s3control', S3ControlClient);
