/** The cloudtrail service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { awsService } from '../sdk.js';

export const cloudtrail = awsService('cloudtrail', CloudTrailClient);
