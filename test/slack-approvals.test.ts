/**
 * The Slack approval function, over real HTTP on 127.0.0.1: a server hands
 * each request to the handler in Lambda's function-URL event shape (body raw
 * or base64), as the function URL would. Signatures are made as Slack
 * documents them; replays are refused through the stack's table (dynalite).
 * An accepted click invokes the family's function asynchronously; here that
 * invocation runs the real family handler, which applies the stored plan and
 * answers on Slack's response_url.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamoDbProposalStore, proposalIdFor } from '../engine/proposal-store.js';
import { createSlackApprovalHandler, dynamoDbSignatureLedger, lambdaInvoker, type FunctionUrlRequest } from '../notify/slack-approvals.js';
import { APPROVAL_ACTIONS } from '../notify/slack.js';
import { useDynalite } from './helpers/dynalite.js';
import { fakeSecurityGroups, ingressRule } from './helpers/ec2-security-groups.js';
import { loadEvent } from './helpers/fixtures.js';
import { familyHandler } from './helpers/rule-harness.js';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const ALLOWED = 'U024BE7LH';
const GROUP = 'sg-0a1b2c3d4e5f67890';
const SSH = 'sgr-0f1e2d3c4b5a69788';
const FUNCTION = 'remediation-bot-prod-security-groups';
const RESPONSE_URL = 'https://hooks.slack.com/actions/T0001/123456/abcdef';
const lambda = mockClient(LambdaClient);
const sns = mockClient(SNSClient);
const dynamo = useDynalite();
let table = '';
let tables = 0;
let base = '';
let server: Server;
let base64 = false;
const responses: { url: string; body: unknown }[] = [];
const replies: { url: string; body: unknown }[] = [];

const event = () => loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
const proposalId = () => proposalIdFor('security-groups', event().detail.eventID, 'sg-open-ingress');
const family = () =>
  familyHandler('security-groups', {
    modes: { 'sg-open-ingress': 'propose' },
    config: { approvals: { slackUsers: [ALLOWED] } },
    proposals: dynamoDbProposalStore({ tableName: table, client: dynamo.client }),
    replyToApprover: async (url, body) => void replies.push({ url, body }),
  }).handler;

beforeAll(async () => {
  // The function URL: the request as Lambda passes it (payload format 2.0), the handler's answer as the HTTP response.
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const handler = createSlackApprovalHandler({
        signingSecret: async () => SECRET,
        allowed: [ALLOWED],
        functionFor: (name) => (name === 'security-groups' ? FUNCTION : undefined),
        claimSignature: dynamoDbSignatureLedger(table, dynamo.client),
        invoke: lambdaInvoker(new LambdaClient({ region: 'us-east-1' })),
        respond: async (url, payload) => void responses.push({ url, body: payload }),
      });
      const shaped: FunctionUrlRequest = {
        headers: Object.fromEntries(Object.entries(request.headers).map(([key, value]) => [key.toLowerCase(), Array.isArray(value) ? value.join(',') : value])),
        body: base64 ? body.toString('base64') : body.toString('utf8'),
        isBase64Encoded: base64,
        requestContext: { http: { method: request.method ?? 'GET' } },
      };
      void handler(shaped).then((answer) => {
        response.writeHead(answer.statusCode, answer.headers);
        response.end(answer.body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(async () => {
  lambda.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  // Lambda queues the event for the family function; here it runs it at once.
  lambda.on(InvokeCommand).callsFake(async (input: { Payload?: Uint8Array }) => {
    await family()(JSON.parse(new TextDecoder().decode(input.Payload)) as unknown);
    return { StatusCode: 202 };
  });
  responses.length = 0;
  replies.length = 0;
  base64 = false;
  tables += 1;
  table = await dynamo.createTable(`slack-approvals-${tables}`);
});

/** A click as Slack sends it: form-encoded `payload`, signed with `secret` at `timestamp`. */
function click(options: { action?: 'approve' | 'dismiss'; user?: string; secret?: string; timestamp?: number; id?: string } = {}) {
  const payload = {
    type: 'block_actions',
    user: { id: options.user ?? ALLOWED, username: 'alice' },
    response_url: RESPONSE_URL,
    actions: [{ action_id: APPROVAL_ACTIONS[options.action ?? 'approve'], value: options.id ?? proposalId(), type: 'button' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', options.secret ?? SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature } as Record<string, string> };
}

async function post(request: { body: string; headers: Record<string, string> }) {
  const response = await fetch(base, { method: 'POST', headers: request.headers, body: request.body });
  return { status: response.status, text: await response.text() };
}

async function proposed() {
  const { ec2, groups } = fakeSecurityGroups([{ groupId: GROUP, groupName: 'web', rules: new Map([[SSH, ingressRule(GROUP, SSH, 'tcp', 22, 22, '0.0.0.0/0')]]) }]);
  await family()(event());
  return { ec2, groups };
}

describe('a click signed as Slack signs it', () => {
  it.each([false, true])('is handed to the family function, which applies the stored plan and updates the message (body base64: %s)', async (encoded) => {
    const { ec2, groups } = await proposed();
    base64 = encoded;
    expect(await post(click())).toStrictEqual({ status: 200, text: '' });
    const invoked = lambda.commandCalls(InvokeCommand).map((call) => call.args[0].input);
    expect(invoked.map(({ Payload: _payload, ...rest }) => rest)).toStrictEqual([{ FunctionName: FUNCTION, InvocationType: 'Event' }]);
    expect(JSON.parse(new TextDecoder().decode(invoked[0]?.Payload as Uint8Array))).toStrictEqual({
      approval: { proposalId: proposalId(), action: 'approve', approver: `slack:${ALLOWED} (alice)`, responseUrl: RESPONSE_URL },
    });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(groups[0]?.rules.size).toBe(0);
    expect(replies).toStrictEqual([
      { url: RESPONSE_URL, body: { replace_original: true, text: `sg-open-ingress: applied by the bot after approval by slack:${ALLOWED} (alice) (proposal ${proposalId()}). The alert has each step with its reads before and after.` } },
    ]);
  });
});

describe('a request that is not an authentic, fresh click changes nothing', () => {
  const cases: [string, () => { body: string; headers: Record<string, string> }, string][] = [
    ['signed with another secret', () => click({ secret: 'not-the-signing-secret-0000000000' }), 'signature does not match'],
    ['a body byte changed', () => ({ ...click(), body: click().body.replace('approve', 'approvf') }), 'signature does not match'],
    ['without a signature header', () => { const request = click(); delete request.headers['x-slack-signature']; return request; }, 'not signed by Slack'],
    ['6 minutes old', () => click({ timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }), 'request too old or from the future'],
  ];
  it.each(cases)('%s: 401', async (_, make, reason) => {
    const { ec2 } = await proposed();
    expect(await post(make())).toStrictEqual({ status: 401, text: reason });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
  });

  it('a replay of a request already received: 401, and the family function is asked once', async () => {
    await proposed();
    const request = click({ action: 'dismiss' });
    expect((await post(request)).status).toBe(200);
    expect(await post(request)).toStrictEqual({ status: 401, text: 'already received' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it('a user not on the allow-list is told "not allowed", and nothing is invoked', async () => {
    const { ec2 } = await proposed();
    expect(await post(click({ user: 'U0NOTALLOWED' }))).toStrictEqual({ status: 200, text: '' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(responses).toHaveLength(1);
    expect(responses[0]?.url).toBe(RESPONSE_URL);
    expect(responses[0]?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(JSON.stringify(responses[0]?.body)).toContain("You are not on this bot's approval list");
  });

  it('a click on a proposal of a family not deployed here: 400', async () => {
    await proposed();
    expect(await post(click({ id: proposalIdFor('iam', 'e', 'r') }))).toStrictEqual({ status: 400, text: 'not an approval button of this bot' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('a GET: 405', async () => {
    const response = await fetch(base);
    expect(response.status).toBe(405);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});
