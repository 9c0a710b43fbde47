/**
 * The function behind the Approve and Dismiss buttons: Slack posts each click
 * (an interaction payload) to its Lambda function URL. The URL takes no AWS
 * signature (Slack cannot make one), so the function authenticates every
 * request itself, as Slack documents ("Verifying requests from Slack"):
 *
 * - `X-Slack-Signature` must be `v0=` + HMAC-SHA256 of `v0:<timestamp>:<raw body>`
 *   with the app's signing secret (read from Secrets Manager or SSM, never
 *   from the environment), compared in constant time;
 * - `X-Slack-Request-Timestamp` must be within 5 minutes of now;
 * - a signature is accepted once (a replayed request is refused).
 *
 * Then the clicking user must be on the config's allow-list
 * (`approvals.slackUsers`); anyone else is told "not allowed" and nothing
 * happens. An allowed click is handed to the family's function
 * asynchronously, with only the proposal id, the action, the user and
 * Slack's `response_url` (so the function can update the message), and Slack
 * gets its answer at once, well inside its 3-second limit. The family
 * function does every other check and the work (`runApproval`).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ConditionalCheckFailedException, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod/mini';
import { RESPONSE_URL, SLACK_USER_ID } from '../engine/approval.js';
import { PROPOSAL_ID } from '../engine/proposal-id.js';
import { APPROVAL_ACTIONS } from './slack.js';

/** The part of a Lambda function URL request (payload format 2.0) this function reads. */
export interface FunctionUrlRequest {
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly http?: { readonly method?: string } };
}

export interface FunctionUrlResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Slack's own limit: a request older (or newer) than this is refused. */
export const MAX_SKEW_SECONDS = 5 * 60;
/** Interaction payloads are small; anything larger is not one. */
const MAX_BODY_BYTES = 64 * 1024;


const InteractionSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().check(z.regex(SLACK_USER_ID)), username: z.optional(z.string()), name: z.optional(z.string()) }),
  response_url: z.string().check(z.regex(RESPONSE_URL)),
  actions: z.array(z.object({ action_id: z.string(), value: z.optional(z.string()) })).check(z.minLength(1)),
});

export interface SlackApprovalDeps {
  /** The app's signing secret (cached by the caller). */
  readonly signingSecret: () => Promise<string>;
  /** Records a signature as used; `false` when it was already (a replay). */
  readonly claimSignature: (signature: string, expiresAtSeconds: number) => Promise<boolean>;
  /** Invokes a family's function asynchronously with `payload`. */
  readonly invoke: (functionName: string, payload: unknown) => Promise<void>;
  /** Posts to an interaction's `response_url`. */
  readonly respond: (responseUrl: string, body: unknown) => Promise<void>;
  /** The family function that acts on a family's proposals, or `undefined` for a family not deployed here. */
  readonly functionFor: (family: string) => string | undefined;
  /** Slack user ids allowed to approve or dismiss. */
  readonly allowed: readonly string[];
  readonly now?: () => number;
  readonly log?: (message: string, extra?: Record<string, unknown>) => void;
}

function answer(statusCode: number, text: string): FunctionUrlResponse {
  return { statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
}

function header(request: FunctionUrlRequest, name: string): string | undefined {
  const headers = request.headers ?? {};
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** Whether `signature` is Slack's for `body` at `timestamp` with `secret` (constant time). */
export function slackSignatureMatches(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Text Slack shows the user: printable, short. */
function approverOf(user: z.infer<typeof InteractionSchema>['user']): string {
  const name = (user.username ?? user.name ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 80);
  return `slack:${user.id}${name ? ` (${name})` : ''}`;
}

export function createSlackApprovalHandler(deps: SlackApprovalDeps): (request: FunctionUrlRequest) => Promise<FunctionUrlResponse> {
  const log = deps.log ?? (() => undefined);
  return async (request) => {
    if ((request.requestContext?.http?.method ?? 'POST').toUpperCase() !== 'POST') return answer(405, 'POST only');
    const raw = request.isBase64Encoded ? Buffer.from(request.body ?? '', 'base64').toString('utf8') : (request.body ?? '');
    if (Buffer.byteLength(raw) > MAX_BODY_BYTES) return answer(413, 'too large');
    const timestamp = header(request, 'x-slack-request-timestamp');
    const signature = header(request, 'x-slack-signature');
    if (!timestamp || !signature) return answer(401, 'not signed by Slack');
    const now = Math.floor((deps.now?.() ?? Date.now()) / 1000);
    if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now - Number(timestamp)) > MAX_SKEW_SECONDS) return answer(401, 'request too old or from the future');
    if (!slackSignatureMatches(await deps.signingSecret(), timestamp, raw, signature)) {
      log('refused: signature does not match');
      return answer(401, 'signature does not match');
    }
    if (!(await deps.claimSignature(signature, Number(timestamp) + 2 * MAX_SKEW_SECONDS))) {
      log('refused: a replayed request');
      return answer(401, 'already received');
    }
    let payload: unknown;
    try {
      payload = JSON.parse(new URLSearchParams(raw).get('payload') ?? '');
    } catch {
      return answer(400, 'not an interaction payload');
    }
    const parsed = InteractionSchema.safeParse(payload);
    if (!parsed.success) return answer(400, 'not a block action');
    const interaction = parsed.data;
    const click = interaction.actions[0];
    const action = click?.action_id === APPROVAL_ACTIONS.approve ? 'approve' : click?.action_id === APPROVAL_ACTIONS.dismiss ? 'dismiss' : undefined;
    const proposalId = click?.value ?? '';
    const family = PROPOSAL_ID.exec(proposalId)?.[1];
    const functionName = family === undefined ? undefined : deps.functionFor(family);
    if (action === undefined || functionName === undefined) return answer(400, 'not an approval button of this bot');
    if (!deps.allowed.includes(interaction.user.id)) {
      log('refused: user not allowed', { user: interaction.user.id, proposalId, action });
      await deps.respond(interaction.response_url, {
        response_type: 'ephemeral',
        replace_original: false,
        text: `You are not on this bot's approval list (approvals.slackUsers in its config), so nothing was done. Ask a person on it, or use npx remediate ${action} ${proposalId}.`,
      });
      return answer(200, '');
    }
    const approver = approverOf(interaction.user);
    await deps.invoke(functionName, { approval: { proposalId, action, approver, responseUrl: interaction.response_url } });
    log('handed to the family function', { proposalId, action, approver, functionName });
    return answer(200, '');
  };
}

/** Accepted signatures, in the stack's table (`slack#<sha256 of the signature>`, removed by TTL): a second use is a replay. */
export function dynamoDbSignatureLedger(tableName: string, client: Pick<DynamoDBClient, 'send'>): SlackApprovalDeps['claimSignature'] {
  return async (signature, expiresAtSeconds) => {
    try {
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { id: { S: `slack#${createHash('sha256').update(signature).digest('hex')}` }, expiration: { N: String(expiresAtSeconds) } },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  };
}

/** An asynchronous invocation (`Event`): Lambda queues it and answers at once, so Slack gets its answer in time. */
export function lambdaInvoker(client: Pick<LambdaClient, 'send'>): SlackApprovalDeps['invoke'] {
  return async (functionName, payload) => {
    await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
  };
}
