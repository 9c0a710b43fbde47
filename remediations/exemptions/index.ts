/**
 * The exemptions family: one Lambda function, deployed in every Region (EC2,
 * S3, KMS, SageMaker and CloudTrail tag their resources in the resource's
 * Region; IAM tagging reaches EventBridge only in us-east-1). It alerts when
 * someone adds the exemption tag, and holds no permission but SNS.
 */
import { exemptionTagAdded } from './exemption-tag-added.js';

export const exemptionRules = [exemptionTagAdded] as const;
