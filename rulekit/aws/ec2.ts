/** The ec2 service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { awsService } from '../sdk.js';

export const ec2 = awsService('ec2', EC2Client);
