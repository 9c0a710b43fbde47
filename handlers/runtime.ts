/**
 * The runtime wiring of a family's Lambda function: the engine's ports
 * implemented with AWS. The AWS gateway gets the family's SDK commands and
 * SNS/KMS for alerts; alerts go to SNS (`ALERT_TOPIC_ARN`), signed with the
 * stack's HMAC key (`ALERT_SIGNING_KEY_ID`); idempotency, undo records and the
 * write budget live in the stack's DynamoDB table (`IDEMPOTENCY_TABLE`); the
 * history of every decision that alerted in its own table (`HISTORY_TABLE`).
 * Every family handler is one call to `familyHandler`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAwsGateway, mergeCommandTables, type AwsGateway, type CommandTable } from '../engine/aws.js';
import type { Config } from '../engine/config.js';
import type { Env } from '../engine/decide.js';
import { lambdaHandler } from '../engine/handler.js';
import { dynamoDbIdempotency, type EventIdempotency } from '../engine/idempotency.js';
import { createRemediationHandler, embeddedConfig, type HandlerOptions } from '../engine/lambda.js';
import type { AlertSink } from '../engine/ports.js';
import { dynamoDbHistoryStore, HISTORY_RETENTION_DAYS, type HistoryStore } from '../engine/history-store.js';
import type { Family } from '../engine/types.js';
import { dynamoDbUndoStore, type UndoStore } from '../engine/undo-store.js';
import { dynamoDbProposalStore, type ProposalStore } from '../engine/proposal-store.js';
import { dynamoDbWriteBudget, type WriteBudget } from '../engine/write-budget.js';
import { dynamoDbProgressStore, type ProgressStore } from '../engine/progress-store.js';
import { createPacer } from '../engine/pacing.js';
import { memberAccessFromEnv } from './member-access.js';
import { snsCommands } from '../notify/sns-commands.js';
import { snsAlertSink } from '../notify/sns.js';
import { signAlertBody, SIGNING_KEY_ENV } from '../notify/alert-signature.js';
import { postToResponseUrl } from '../notify/slack-delivery.js';

/** The commands a family's function sends: its rules' and the alerts'. */
export function runtimeCommands(family: Family): CommandTable {
  return mergeCommandTables([family.commands, snsCommands]);
}

/** SNS when the function has a topic; none otherwise (the engine then logs that the alert was not sent). */
export function alertSinkFromEnv(env: Env, gateway: AwsGateway): AlertSink | undefined {
  const topicArn = env['ALERT_TOPIC_ARN'];
  if (!topicArn) return undefined;
  const signingKeyId = env['ALERT_SIGNING_KEY_ID'];
  return snsAlertSink(gateway, topicArn, signingKeyId ? { signingKeyId } : {});
}

/** The idempotency, undo-record and write-budget stores of the deployment, when `IDEMPOTENCY_TABLE` names its table. */
export function tableStores(env: Env, family: string, config: Config): { idempotency?: EventIdempotency; undoStore?: UndoStore; writeBudget?: WriteBudget; proposals?: ProposalStore; progress?: ProgressStore } {
  const tableName = env['IDEMPOTENCY_TABLE'];
  if (!tableName) return {};
  // The table may live in another region than the function (the IAM function runs in us-east-1).
  const region = env['IDEMPOTENCY_TABLE_REGION'] || env['AWS_REGION'];
  const client = new DynamoDBClient({ retryMode: 'adaptive', maxAttempts: 5, ...(region ? { region } : {}) });
  return {
    idempotency: dynamoDbIdempotency({ tableName, client, keyPrefix: env['AWS_LAMBDA_FUNCTION_NAME'] || `remediation-bot-${family}` }),
    undoStore: dynamoDbUndoStore({ tableName, client }),
    writeBudget: dynamoDbWriteBudget({ tableName, client, settings: config.writeBudget }),
    progress: dynamoDbProgressStore({ tableName, client }),
    // With approvals on (deploy parameter approvals=true), proposals are stored for `remediate approve`.
    ...(env['APPROVALS'] === 'true' ? { proposals: dynamoDbProposalStore({ tableName, client }) } : {}),
  };
}

/** `PROPOSAL_DAYS` (1 to 30): how long a stored proposal stays open; else the default 7. */
export function proposalDaysFromEnv(env: Env): number | undefined {
  const days = Number(env['PROPOSAL_DAYS']);
  return Number.isInteger(days) && days >= 1 && days <= 30 ? days : undefined;
}

/**
 * The history store, when `HISTORY_TABLE` names the table. Its client tries a
 * write twice at most, and the store abandons it after 2 s: the history is
 * best-effort and must not hold up the invocation (`engine/lambda.ts`).
 * `HISTORY_RETENTION_DAYS` (a positive whole number) overrides the 90 days.
 */
export function historyStoreFromEnv(env: Env): HistoryStore | undefined {
  const tableName = env['HISTORY_TABLE'];
  if (!tableName) return undefined;
  const region = env['HISTORY_TABLE_REGION'] || env['IDEMPOTENCY_TABLE_REGION'] || env['AWS_REGION'];
  const client = new DynamoDBClient({ maxAttempts: 2, ...(region ? { region } : {}) });
  const days = Number(env['HISTORY_RETENTION_DAYS']);
  return dynamoDbHistoryStore({ tableName, client, retentionDays: Number.isInteger(days) && days > 0 ? days : HISTORY_RETENTION_DAYS });
}

export interface RuntimeOptions extends Omit<HandlerOptions, 'gateway'> {
  /** The SDK commands the gateway may send; ignored when `gateway` is given. */
  readonly commands: CommandTable;
  readonly gateway?: AwsGateway;
}

/**
 * The engine's handler with every port the deployment has: built from the
 * environment unless the caller passes its own (tests pass mocks and stores).
 * Module scope work is limited to parsing the embedded config and constructing
 * (not connecting) SDK clients.
 */
export function remediationHandler(options: RuntimeOptions): ReturnType<typeof createRemediationHandler> {
  const env = options.env ?? process.env;
  const config = options.config ?? embeddedConfig(options.rules);
  const region = env['AWS_REGION'] ? { region: env['AWS_REGION'] } : {};
  // Alerts and seals (SNS, KMS) and the waiters' polls keep the SDK's own retries: they run in the time the pacer keeps back, or within their own bound.
  const notifyGateway = options.gateway ?? createAwsGateway(options.commands, region);
  // The rules' calls are paced and retried within the invocation's deadline (`engine/pacing.ts`), so the SDK sends each once.
  const gateway = options.gateway ?? { call: createAwsGateway(options.commands, { ...region, maxAttempts: 1 }).call, wait: notifyGateway.wait };
  const pacer = options.pacer ?? (options.gateway ? undefined : createPacer({ share: config.apiShare, instances: instancesFromEnv(env) }));
  const family = options.rules[0]?.family ?? 'unknown';
  const stores = tableStores(env, family, config);
  // An Organization hub reads and acts in member accounts as their member role (tests pass their own gateway, and members).
  const members = options.members ?? (options.gateway ? undefined : memberAccessFromEnv({ family, commands: options.commands, env, ...(pacer ? { pacer } : {}) }));
  const alerts = options.alerts ?? alertSinkFromEnv(env, notifyGateway);
  const idempotency = options.idempotency ?? stores.idempotency;
  const undoStore = options.undoStore ?? stores.undoStore;
  const writeBudget = options.writeBudget ?? stores.writeBudget;
  const history = options.history ?? historyStoreFromEnv(env);
  const proposals = options.proposals ?? stores.proposals;
  const proposalDays = options.proposalDays ?? proposalDaysFromEnv(env);
  const replyToApprover = options.replyToApprover ?? (proposals ? postToSlack : undefined);
  // Proposals are sealed with the key that signs alerts: only the bot's roles may make its MACs.
  const signingKeyId = env[SIGNING_KEY_ENV];
  const progress = options.progress ?? stores.progress;
  const seal = options.seal ?? ((proposals || progress) && signingKeyId ? async (text: string) => (await signAlertBody(notifyGateway, signingKeyId, text)).signature : undefined);
  return createRemediationHandler({
    ...options,
    env,
    config,
    gateway,
    ...(alerts ? { alerts } : {}),
    ...(idempotency ? { idempotency } : {}),
    ...(undoStore ? { undoStore } : {}),
    ...(history ? { history } : {}),
    ...(writeBudget ? { writeBudget } : {}),
    ...(proposals ? { proposals } : {}),
    ...(proposalDays !== undefined ? { proposalDays } : {}),
    ...(replyToApprover ? { replyToApprover } : {}),
    ...(seal ? { seal } : {}),
    ...(progress ? { progress } : {}),
    ...(pacer ? { pacer } : {}),
    ...(members ? { members } : {}),
  });
}

/** `RESERVED_CONCURRENCY`: how many instances share the API rate the pacer allows (1 when unset). */
export function instancesFromEnv(env: Env): number {
  const instances = Number(env['RESERVED_CONCURRENCY']);
  return Number.isInteger(instances) && instances >= 1 ? instances : 1;
}

/** Answers an approval on its Slack `response_url`, giving up after 3 s. */
async function postToSlack(responseUrl: string, body: unknown): Promise<void> {
  const response = await postToResponseUrl(responseUrl, body, 3000);
  if (!response.ok) throw new Error(`Slack answered ${response.status}`);
}

export function familyHandler(family: Family) {
  return lambdaHandler(family.rules, (logger, metrics) => remediationHandler({ rules: family.rules, commands: runtimeCommands(family), logger, metrics }));
}
