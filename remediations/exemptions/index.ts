/**
 * The exemptions family: one Lambda function, deployed in every Region (EC2,
 * S3, KMS, SageMaker and CloudTrail tag their resources in the resource's
 * Region; IAM tagging reaches EventBridge only in us-east-1). It alerts when
 * someone adds the exemption tag: its rule reads only the event, makes no
 * lookup and changes nothing, so it sends nothing but its alerts.
 */
import { defineFamily } from '../../rulekit/define.js';
import { exemptionTagAdded } from './exemption-tag-added.js';

export const exemptionsFamily = defineFamily({ name: 'exemptions', rules: [exemptionTagAdded] });

/** The family's rules, as the registry and the deployment see them. */
export const exemptionRules = exemptionsFamily.rules;
