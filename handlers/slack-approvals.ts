/**
 * Lambda entry point of the Slack approval function (deploy parameters
 * `approvals=true` and `slackSigningSecret`), behind its function URL: see
 * `notify/slack-approvals.ts`. It reads its signing secret from Secrets
 * Manager or SSM, records each accepted signature in the stack's table (a
 * replay is refused), and invokes the family functions asynchronously.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import { anySlackApprover, type ApprovalsConfig } from '../engine/config.js';
import { createSlackApprovalHandler, dynamoDbSignatureLedger, lambdaInvoker } from '../notify/slack-approvals.js';
import { postToResponseUrl } from '../notify/slack-delivery.js';
import { createSigningSecretReader, webhookSecretRegion } from '../notify/webhook-secret.js';

const logger = new Logger({ serviceName: 'remediation-bot' });
const env = process.env;
const secretRegion = webhookSecretRegion(env['SLACK_SIGNING_SECRET'], env['AWS_REGION']);
const clientConfig = secretRegion ? { region: secretRegion } : {};
const signingSecret = createSigningSecretReader(env['SLACK_SIGNING_SECRET'], { secretsManager: () => new SecretsManagerClient(clientConfig), ssm: () => new SSMClient(clientConfig) });
declare const __REMEDIATION_CONFIG__: unknown;

/**
 * Every Slack user on some approval list of the config embedded at package
 * time (validated there), read without the rules' code: the family function
 * then applies the list of the proposal's own rule (`slackApprovers`).
 */
function allowedSlackUsers(): string[] {
  const config = typeof __REMEDIATION_CONFIG__ === 'undefined' ? undefined : (__REMEDIATION_CONFIG__ as { approvals?: ApprovalsConfig });
  return config?.approvals ? anySlackApprover({ slackUsers: config.approvals.slackUsers ?? [], rules: config.approvals.rules ?? {}, severities: config.approvals.severities ?? {} }) : [];
}

/** `{"security-groups": "remediation-bot-prod-security-groups", …}`: the family functions of this stack. */
const functions = JSON.parse(env['FAMILY_FUNCTIONS'] ?? '{}') as Record<string, string>;

const approve = createSlackApprovalHandler({
  signingSecret,
  allowed: allowedSlackUsers(),
  functionFor: (family) => (Object.hasOwn(functions, family) ? functions[family] : undefined),
  claimSignature: dynamoDbSignatureLedger(env['IDEMPOTENCY_TABLE'] ?? '', new DynamoDBClient({})),
  invoke: lambdaInvoker(new LambdaClient({})),
  async respond(responseUrl, body) {
    await postToResponseUrl(responseUrl, body, 2000);
  },
  log: (message, extra) => logger.info(message, extra ?? {}),
});

export const handler = middy(approve).use(injectLambdaContext(logger, { resetKeys: true }));
