/**
 * The exemptions family: one Lambda function, deployed in every Region (EC2,
 * S3, KMS, SageMaker and CloudTrail tag their resources in the resource's
 * Region; IAM tagging reaches EventBridge only in us-east-1). It alerts when
 * someone adds the exemption tag, and holds no permission but SNS.
 */
import { legacyFamily } from '../../rulekit/define.js';
import { exemptionCommands } from './commands.js';
import { exemptionTagAdded } from './exemption-tag-added.js';

export const exemptionsFamily = legacyFamily({ name: 'exemptions', rules: [exemptionTagAdded], commands: exemptionCommands });

/** The family's rules, as the registry and the deployment see them. */
export const exemptionRules = exemptionsFamily.rules;
