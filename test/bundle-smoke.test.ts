/**
 * The artifact itself: the packaged security-groups bundle (from
 * `.serverless/`, built by the global setup) is extracted and run in a fresh
 * node process on a recorded violation, against a local HTTP stand-in for EC2
 * and SNS reached through AWS_ENDPOINT_URL (and dynalite for the idempotency
 * table). This catches what unit tests of the sources cannot: ESM bundling, the
 * embedded config, SDK serialisation, and the build's stand-in for Powertools'
 * JMESPath (deploy/esbuild-plugins.cjs).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, type LocalDynamo } from './helpers/dynalite.js';
import { EVENTS_DIR } from './helpers/fixtures.js';
import { describePackaged } from './helpers/packaged.js';

const ROOT = join(import.meta.dirname, '..');

const RESPONSES: Record<string, string> = {
  DescribeSecurityGroups:
    '<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><securityGroupInfo><item><groupId>sg-0a1b2c3d4e5f67890</groupId><groupName>web</groupName><tagSet/></item></securityGroupInfo></DescribeSecurityGroupsResponse>',
  DescribeSecurityGroupRules:
    '<DescribeSecurityGroupRulesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><securityGroupRuleSet><item><securityGroupRuleId>sgr-0f1e2d3c4b5a69788</securityGroupRuleId><groupId>sg-0a1b2c3d4e5f67890</groupId><isEgress>false</isEgress><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><cidrIpv4>0.0.0.0/0</cidrIpv4></item></securityGroupRuleSet></DescribeSecurityGroupRulesResponse>',
  Publish:
    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>',
};

describePackaged('packaged bundle', () => {
  const actions: URLSearchParams[] = [];
  let server: Server;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    execFileSync('python3', ['-m', 'zipfile', '-e', join(ROOT, '.serverless', 'securityGroups.zip'), dir]);
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const params = new URLSearchParams(body);
        actions.push(params);
        const reply = RESPONSES[params.get('Action') ?? ''];
        response.writeHead(reply ? 200 : 400, { 'content-type': 'text/xml' });
        response.end(reply ?? '<Response><Errors><Error><Code>UnexpectedCall</Code><Message>not in the stand-in</Message></Error></Errors></Response>');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the bundle's handler on the event in a fresh node process, as a cold Lambda would; returns its result. */
  async function invokeBundle(event: string, extraEnv: Record<string, string> = {}): Promise<unknown> {
    const script = `const { handler } = await import(${JSON.stringify(join(dir, 'handlers', 'security-groups.mjs'))});
const result = await handler(JSON.parse(process.env.EVENT), { functionName: 'smoke', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30000 });
process.stdout.write('RESULT ' + JSON.stringify(result) + '\\n');`;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...standInEnv(), EVENT: event, ...extraEnv },
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(stdout));
    });
    const result = output.split('\n').find((line) => line.startsWith('RESULT '));
    return JSON.parse(result?.slice('RESULT '.length) ?? 'null');
  }

  /** A function's environment with every AWS call sent to the local stand-in. */
  function standInEnv(): Record<string, string> {
    return {
      PATH: process.env['PATH'] ?? '',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'not-a-secret',
      AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:remediation-bot-smoke-alerts',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      NODE_NO_WARNINGS: '1',
    };
  }

  it('makes no network call at module scope: every packaged function imports, deployed environment set, without a request', async () => {
    const zips = readdirSync(join(ROOT, '.serverless')).filter((name) => name.endsWith('.zip'));
    expect(zips.length).toBeGreaterThanOrEqual(9);
    actions.length = 0;
    for (const zip of zips) {
      const unpacked = mkdtempSync(join(tmpdir(), 'bundle-import-'));
      execFileSync('python3', ['-m', 'zipfile', '-e', join(ROOT, '.serverless', zip), unpacked]);
      const [entry] = readdirSync(join(unpacked, 'handlers')).filter((name) => name.endsWith('.mjs'));
      // Import, then give any stray promise a moment to reach the network.
      const script = `await import(${JSON.stringify(join(unpacked, 'handlers', entry ?? 'missing.mjs'))}); await new Promise((r) => setTimeout(r, 200)); process.stdout.write('IMPORTED');`;
      const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: {
          ...standInEnv(),
          IDEMPOTENCY_TABLE: 'smoke-idempotency',
          SLACK_WEBHOOK_SECRET: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf',
        },
      }).toString();
      rmSync(unpacked, { recursive: true, force: true });
      expect(output, zip).toBe('IMPORTED');
    }
    expect(actions).toStrictEqual([]);
  });

  const violation = () => readFileSync(join(EVENTS_DIR, 'ec2', 'AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), 'utf8');

  it('runs a recorded violation end to end: looks up the group, proposes (the shipped default), and alerts over SNS', async () => {
    actions.length = 0;
    expect(await invokeBundle(violation())).toMatchObject({
      status: 'processed',
      decisions: [{ rule: 'sg-open-ingress', verdict: 'violation', outcome: 'proposed' }],
    });
    // The group's tags, then the proposal's check of the present (is the rule still open?), then the alert.
    expect(actions.map((params) => params.get('Action'))).toStrictEqual(['DescribeSecurityGroups', 'DescribeSecurityGroupRules', 'Publish']);
    expect(actions[0]?.get('GroupId.1')).toBe('sg-0a1b2c3d4e5f67890');
    expect(actions[1]?.get('SecurityGroupRuleId.1')).toBe('sgr-0f1e2d3c4b5a69788');
    expect(actions[2]?.get('Subject')).toBe('[HIGH] PROPOSED: Security group open to the internet - sg-0a1b2c3d4e5f67890');
    expect(actions[2]?.get('MessageAttributes.entry.1.Name')).toBeDefined();
    expect(decodeURIComponent(actions[2]?.get('Message') ?? '')).toContain('checked now: still needed - sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22');
  });

  describe('with the idempotency table (as deployed)', () => {
    let dynamo: LocalDynamo;
    beforeAll(async () => {
      dynamo = await startDynalite();
      await dynamo.createTable('smoke-idempotency');
    });
    afterAll(() => dynamo.close());

    it('acts on the first delivery of an event and answers a redelivery from the table, with no AWS call', async () => {
      const env = { IDEMPOTENCY_TABLE: 'smoke-idempotency', AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_LAMBDA_FUNCTION_NAME: 'smoke' };
      actions.length = 0;
      const first = await invokeBundle(violation(), env);
      expect(first).toMatchObject({ status: 'processed', decisions: [{ rule: 'sg-open-ingress', outcome: 'proposed' }] });
      expect(actions.map((params) => params.get('Action'))).toStrictEqual(['DescribeSecurityGroups', 'DescribeSecurityGroupRules', 'Publish']);
      actions.length = 0;
      const again = await invokeBundle(violation(), env);
      expect(again).toStrictEqual(first);
      expect(actions).toStrictEqual([]);
    });
  });
});
