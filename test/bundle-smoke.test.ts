/**
 * The artifact itself: the packaged security-groups bundle (from
 * `.serverless/`, built by the global setup) is extracted and run in a fresh
 * node process on a recorded violation, against a local HTTP stand-in for EC2
 * and SNS reached through AWS_ENDPOINT_URL. This catches what unit tests of the
 * sources cannot: ESM bundling, the embedded config, SDK serialisation.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_DIR } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');

const RESPONSES: Record<string, string> = {
  DescribeSecurityGroups:
    '<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><securityGroupInfo><item><groupId>sg-0a1b2c3d4e5f67890</groupId><groupName>web</groupName><tagSet/></item></securityGroupInfo></DescribeSecurityGroupsResponse>',
  Publish:
    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>',
};

describe('packaged bundle', () => {
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

  it('runs a recorded violation end to end: looks up the group, proposes (the shipped default), and alerts over SNS', async () => {
    const event = readFileSync(join(EVENTS_DIR, 'ec2', 'AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), 'utf8');
    const script = `const { handler } = await import(${JSON.stringify(join(dir, 'handlers', 'security-groups.mjs'))});
const result = await handler(JSON.parse(process.env.EVENT), { functionName: 'smoke', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30000 });
process.stdout.write('RESULT ' + JSON.stringify(result) + '\\n');`;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: {
          PATH: process.env['PATH'] ?? '',
          EVENT: event,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'not-a-secret',
          AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:remediation-bot-smoke-alerts',
          AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1',
          NODE_NO_WARNINGS: '1',
        },
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(stdout));
    });
    const result = output.split('\n').find((line) => line.startsWith('RESULT '));
    expect(JSON.parse(result?.slice('RESULT '.length) ?? 'null')).toMatchObject({
      status: 'processed',
      decisions: [{ rule: 'sg-open-ingress', verdict: 'violation', outcome: 'proposed' }],
    });
    expect(actions.map((params) => params.get('Action'))).toStrictEqual(['DescribeSecurityGroups', 'Publish']);
    expect(actions[0]?.get('GroupId.1')).toBe('sg-0a1b2c3d4e5f67890');
    expect(actions[1]?.get('Subject')).toBe('[HIGH] PROPOSED: Security group open to the internet - sg-0a1b2c3d4e5f67890');
    expect(actions[1]?.get('MessageAttributes.entry.1.Name')).toBeDefined();
  });
});
