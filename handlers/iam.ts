/** Lambda entry point for the IAM family (deployed in us-east-1, where IAM's CloudTrail events reach EventBridge). */
import { iamFamily } from '../remediations/iam/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(iamFamily);
