/**
 * Lambda entry point of the Security Hub subscriber: alert topic (SNS protocol
 * lambda) → AWS Security Hub findings (`notify/securityhub.ts`). Metrics go to
 * the `RemediationBot` namespace with dimension `family=securityhub`.
 */
import { securityHubLambda } from '../notify/securityhub.js';

export const handler = securityHubLambda(process.env);
