/** The s3 service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { S3Client } from '@aws-sdk/client-s3';
import { awsService } from '../sdk.js';

export const s3 = awsService('s3', S3Client);
