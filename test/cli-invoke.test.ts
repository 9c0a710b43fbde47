/**
 * `remediate invoke` (the real binary) against a local stand-in for the EC2
 * endpoint: the full Lambda path, the configured mode, and the exit codes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadEvent } from './helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'remediate.mjs');
const EVENT = join(ROOT, 'events', 'ec2', 'AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');

const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
let requests: string[] = [];
/** The access key each request was signed with, and its session token. */
let signers: string[] = [];
let revokeFails = false;
/** Whether the ssh rule the event opened is still there: the revoke removes it. */
let ruleOpen = true;
let server: Server;
let endpoint = '';
const temp = mkdtempSync(join(tmpdir(), 'cli-invoke-'));

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      requests.push(body);
      const key = /Credential=([A-Z0-9]+)\//.exec(request.headers.authorization ?? '')?.[1] ?? 'unsigned';
      signers.push(`${key}${request.headers['x-amz-security-token'] ? ` ${String(request.headers['x-amz-security-token'])}` : ''}`);
      const action = new URLSearchParams(body).get('Action');
      if (action === 'AssumeRole') {
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(
          '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAMEMBEREXAMPLE</AccessKeyId>' +
            '<SecretAccessKey>member-secret</SecretAccessKey><SessionToken>member-session</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>' +
            '<AssumedRoleUser><Arn>arn:aws:sts::444455556666:assumed-role/remediation-bot-member-security-groups/s</Arn><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser>' +
            '</AssumeRoleResult><ResponseMetadata><RequestId>r0</RequestId></ResponseMetadata></AssumeRoleResponse>',
        );
      } else if (action === 'DescribeSecurityGroups') {
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(`<DescribeSecurityGroupsResponse xmlns="${EC2_XMLNS}"><requestId>r1</requestId><securityGroupInfo><item><groupId>sg-0a1b2c3d4e5f67890</groupId><groupName>web</groupName><tagSet/></item></securityGroupInfo></DescribeSecurityGroupsResponse>`);
      } else if (action === 'DescribeSecurityGroupRules' && ruleOpen) {
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(
          `<DescribeSecurityGroupRulesResponse xmlns="${EC2_XMLNS}"><requestId>r4</requestId><securityGroupRuleSet><item><securityGroupRuleId>sgr-0f1e2d3c4b5a69788</securityGroupRuleId><groupId>sg-0a1b2c3d4e5f67890</groupId><isEgress>false</isEgress><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><cidrIpv4>0.0.0.0/0</cidrIpv4></item></securityGroupRuleSet></DescribeSecurityGroupRulesResponse>`,
        );
      } else if (action === 'DescribeSecurityGroupRules') {
        response.writeHead(400, { 'content-type': 'text/xml' });
        response.end("<Response><Errors><Error><Code>InvalidSecurityGroupRuleId.NotFound</Code><Message>The security group rule ID 'sgr-0f1e2d3c4b5a69788' does not exist</Message></Error></Errors><RequestID>r5</RequestID></Response>");
      } else if (action === 'RevokeSecurityGroupIngress' && !revokeFails) {
        ruleOpen = false;
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(`<RevokeSecurityGroupIngressResponse xmlns="${EC2_XMLNS}"><requestId>r2</requestId><return>true</return></RevokeSecurityGroupIngressResponse>`);
      } else {
        response.writeHead(403, { 'content-type': 'text/xml' });
        response.end('<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r3</RequestID></Response>');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(join(temp, 'remediate.yml'), 'rules:\n  sg-open-ingress:\n    mode: remediate\n');
});

afterAll(() => {
  server.close();
  rmSync(temp, { recursive: true, force: true });
});

beforeEach(() => {
  requests = [];
  signers = [];
  revokeFails = false;
  ruleOpen = true;
});

function invoke(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...extraEnv,
    PATH: process.env['PATH'] ?? '',
    HOME: temp,
    AWS_ENDPOINT_URL: endpoint,
    // Another Region than the event's: invoke must act in the event's Region (us-east-1), as the Lambda there would.
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'not-a-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  return new Promise((resolve) => {
    const child = spawn('node', [BIN, 'invoke', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const DESCRIBE = 'Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1=sg-0a1b2c3d4e5f67890';
const READ_RULE = 'Action=DescribeSecurityGroupRules&Version=2016-11-15&SecurityGroupRuleId.1=sgr-0f1e2d3c4b5a69788';
const REVOKE = 'Action=RevokeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0a1b2c3d4e5f67890&SecurityGroupRuleId.1=sgr-0f1e2d3c4b5a69788';

describe('remediate invoke (the real binary)', () => {
  it('applies the plan against AWS_ENDPOINT_URL when the rule is in remediate mode, and exits 0', async () => {
    const run = await invoke([EVENT, '--config', join(temp, 'remediate.yml')]);

    expect(run.code).toBe(0);
    expect(requests).toStrictEqual([DESCRIBE, READ_RULE, REVOKE, READ_RULE]);
    expect(run.stdout).toContain('sg-open-ingress: violation -> applied (mode remediate)');
    expect(run.stdout).toContain('in us-east-1, the event\'s Region');
    expect(run.stdout).toContain('1. ec2:RevokeSecurityGroupIngress {"GroupId":"sg-0a1b2c3d4e5f67890","SecurityGroupRuleIds":["sgr-0f1e2d3c4b5a69788"]}  [applied]');
    expect(run.stderr).toContain('ALERT_TOPIC_ARN is not set');
  });

  it('exits 4 when the remediation fails, with the AWS error code', async () => {
    revokeFails = true;

    const run = await invoke([EVENT, '--config', join(temp, 'remediate.yml')]);

    expect(run.code).toBe(4);
    expect(requests).toStrictEqual([DESCRIBE, READ_RULE, REVOKE]);
    expect(run.stdout).toContain('[failed: UnauthorizedOperation]');
  });

  it('only looks up facts in propose mode (the default), takes a raw CloudTrail record, and changes nothing', async () => {
    const raw = join(temp, 'raw-record.json');
    writeFileSync(raw, JSON.stringify(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json').detail));

    const run = await invoke([raw, '--format', 'json']);
    const output = JSON.parse(run.stdout) as { result: { status: string; decisions: { rule: string; outcome: string }[] } };

    expect(run.code).toBe(0);
    // The tags, then the proposal's precondition: what is proposed is checked against the present.
    expect(requests).toStrictEqual([DESCRIBE, READ_RULE]);
    expect(output.result.status).toBe('processed');
    expect(output.result.decisions).toMatchObject([{ rule: 'sg-open-ingress', outcome: 'proposed' }]);
  });

  it('as a hub (--hub-account), assumes the member role of the event\'s account for the family, and applies the plan there with its credentials', async () => {
    const member = join(temp, 'member-event.json');
    const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json') as { detail: { eventID: string } };
    writeFileSync(member, JSON.stringify(event).replaceAll('111122223333', '444455556666'));

    const run = await invoke([member, '--config', join(temp, 'remediate.yml'), '--hub-account', '999988887777']);

    expect(run.code).toBe(0);
    const [assume, ...rest] = requests;
    expect(Object.fromEntries(new URLSearchParams(assume))).toStrictEqual({
      Action: 'AssumeRole',
      Version: '2011-06-15',
      RoleArn: 'arn:aws:iam::444455556666:role/remediation-bot/remediation-bot-member-security-groups',
      RoleSessionName: `remediation-bot-${event.detail.eventID}`,
      DurationSeconds: '900',
    });
    expect(rest).toStrictEqual([DESCRIBE, READ_RULE, REVOKE, READ_RULE]);
    // STS with the invoker's credentials; every read and write in the member account with the member role's session.
    expect(signers).toStrictEqual(['AKIDEXAMPLE', ...rest.map(() => 'ASIAMEMBEREXAMPLE member-session')]);
    expect(run.stdout).toContain("account 444455556666 is not the hub's (999988887777): each family acts there as its member role, role/remediation-bot/remediation-bot-member-<family>");
    expect(run.stdout).toContain('sg-open-ingress: violation -> applied (mode remediate)');
  });

  it('as a hub that enrols other accounts (BOT_MEMBER_ACCOUNTS), does not enter the event\'s, and says so', async () => {
    const member = join(temp, 'unenrolled-event.json');
    writeFileSync(member, JSON.stringify(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json')).replaceAll('111122223333', '444455556666'));
    const run = await invoke([member, '--config', join(temp, 'remediate.yml'), '--hub-account', '999988887777'], { BOT_MEMBER_ACCOUNTS: '777788889999' });
    expect(requests).toStrictEqual([]);
    expect(run.stdout).toContain('the event is for account 444455556666, which this deployment does not serve (999988887777, 777788889999): not acted on');
  });

  it('as a hub, acts in its own account with the invoker\'s credentials, assuming nothing', async () => {
    const run = await invoke([EVENT, '--config', join(temp, 'remediate.yml'), '--hub-account', '111122223333']);
    expect(run.code).toBe(0);
    expect(requests).toStrictEqual([DESCRIBE, READ_RULE, REVOKE, READ_RULE]);
    expect(new Set(signers)).toStrictEqual(new Set(['AKIDEXAMPLE']));
  });

  it('exits 2 on an event that is not one, without any AWS call', async () => {
    const bad = join(temp, 'not-an-event.json');
    writeFileSync(bad, '{"hello": "world"}');

    const run = await invoke([bad]);

    expect(run.code).toBe(2);
    expect(requests).toStrictEqual([]);
    expect(run.stderr).toContain('neither an EventBridge event');
  });
});
