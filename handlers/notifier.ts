/**
 * Lambda entry point of the notifier: alert topic (SNS protocol lambda) → Slack.
 * Metrics go to the `RemediationBot` namespace with dimension `family=notifier`:
 * `SlackDelivered`, `SlackRateLimited`, `SlackDeliveryFailed`, `AlertMessageInvalid`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { createMetrics } from '../engine/metrics.js';
import { createNotifier } from '../notify/notifier.js';
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

export const handler = middy(createNotifier({ logger, metrics, webhookUrl, invalidateWebhookUrl: webhookUrl.invalidate }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
