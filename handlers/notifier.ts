/**
 * Lambda entry point of the notifier: alert topic (SNS protocol lambda) → Slack.
 * Metrics go to the `RemediationBot` namespace with dimension `family=notifier`:
 * `SlackDelivered`, `SlackRateLimited`, `SlackDeliveryFailed`, `AlertMessageInvalid`, `AlertUnverified`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { createAwsGateway } from '../engine/aws.js';
import { createMetrics } from '../engine/metrics.js';
import { createAlertVerifier, SIGNING_KEY_ENV } from '../notify/alert-signature.js';
import { createNotifier, notifierCommands } from '../notify/notifier.js';
import { createWebhookUrlReader, webhookSecretRegion } from '../notify/webhook-secret.js';

const logger = new Logger({ serviceName: 'remediation-bot' });
const metrics = createMetrics('notifier', process.env);
const reference = process.env['SLACK_WEBHOOK_SECRET'];
const secretRegion = webhookSecretRegion(reference, process.env['AWS_REGION']);
const clientConfig = secretRegion ? { region: secretRegion } : {};

const webhookUrl = createWebhookUrlReader(reference, {
  secretsManager: () => new SecretsManagerClient(clientConfig),
  ssm: () => new SSMClient(clientConfig),
});
// The key comes from the stack, never from a message: a forger cannot name a key of their own.
const verifyAlert = createAlertVerifier(process.env[SIGNING_KEY_ENV], createAwsGateway(notifierCommands));

export const handler = middy(createNotifier({ logger, metrics, webhookUrl, invalidateWebhookUrl: webhookUrl.invalidate, verifyAlert }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
