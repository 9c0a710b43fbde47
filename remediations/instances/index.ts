/** The instances family (EC2 instance hardening: IMDSv2): one Lambda function holds these rules and only their permissions. */
import { ec2Imdsv1Allowed } from './ec2-imdsv1-allowed.js';

export const instanceRules = [ec2Imdsv1Allowed] as const;
