import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { securityGroupsFamily } from '../remediations/security-groups/index.js';

const securityGroupCommands = runtimeCommands(securityGroupsFamily);

describe('createAwsGateway endpoints', () => {
  const requests: string[] = [];
  let server: Server;
  const saved = { ...process.env };

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        requests.push(body);
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end('<RevokeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><return>true</return></RevokeSecurityGroupIngressResponse>');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_EC2: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'not-a-secret',
    });
  });

  afterAll(() => {
    server.close();
    for (const key of ['AWS_ENDPOINT_URL_EC2', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('sends to AWS_ENDPOINT_URL_<SERVICE>, so the bot runs unchanged against a local emulator', async () => {
    const gateway = createAwsGateway(securityGroupCommands, { region: 'us-east-1' });
    await gateway.call('ec2', 'RevokeSecurityGroupIngress', { GroupId: 'sg-0a1b2c3d4e5f67890', SecurityGroupRuleIds: ['sgr-01111111111111111'] });
    expect(requests).toStrictEqual([
      'Action=RevokeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0a1b2c3d4e5f67890&SecurityGroupRuleId.1=sgr-01111111111111111',
    ]);
  });
});
