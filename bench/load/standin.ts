/**
 * A local AWS stand-in for the load harness, on 127.0.0.1: the EC2 security
 * group APIs the `sg-open-ingress` rule reads and writes, and SNS `Publish`
 * for the alerts, over the real query protocol, so the SDK serializes each
 * call and parses each answer and error exactly as it does against AWS.
 *
 * Every API action has a token bucket with AWS's documented size and refill
 * rate (`apiBucket` in `engine/pacing.ts`, the bot's own table), on the
 * simulated clock; an empty bucket answers as EC2 does (`RequestLimitExceeded`,
 * HTTP 503) or as SNS does (`Throttling`). Another workload can share the
 * buckets: it starts them empty and keeps taking part of every refill.
 *
 * It keeps score: each accepted write by its effect (a rule revoked twice is
 * a duplicate write), the throttles it answered, and, per bucket, whether the
 * bot ever took more than its share (a shadow bucket of `share` × the size).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiBucket, TokenBucket, type BucketSpec, type Clock } from '../../engine/pacing.js';

export interface StandInRule {
  readonly ruleId: string;
  readonly groupId: string;
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  readonly cidr: string;
}

export interface OtherWorkload {
  /** The share of each EC2 bucket's refill the other workload takes (its buckets start empty). */
  readonly share: number;
}

export interface StandInOptions {
  readonly clock: Clock;
  /** The share of each bucket the bot may use: calls beyond it are counted in `overShare`. */
  readonly botShare: number;
  readonly other?: OtherWorkload;
  /** AWS's buckets at this fraction of their documented size and refill (default 1): a tighter account than the bot assumes. */
  readonly scale?: number;
}

export interface StandInScore {
  /** Accepted write calls, by action. */
  readonly writes: Record<string, number>;
  /** Writes whose effect had already been made by an earlier accepted write. */
  duplicateWrites: number;
  /** Calls answered with a throttling error, by action. */
  readonly throttled: Record<string, number>;
  /** Calls that took a token beyond the bot's share of their bucket, by action. */
  readonly overShare: Record<string, number>;
  /** Alerts published. */
  published: number;
  /** Fewest tokens left in any EC2 bucket the bot used, as a share of its capacity: what stayed for everyone else. */
  lowestLevel: number;
}

const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function listParam(params: URLSearchParams, prefix: string): string[] {
  const values: string[] = [];
  for (let i = 1; params.has(`${prefix}.${i}`); i += 1) values.push(params.get(`${prefix}.${i}`) ?? '');
  return values;
}

class Fault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export class AwsStandIn {
  readonly rules = new Map<string, StandInRule>();
  readonly groups = new Map<string, { readonly tags: Readonly<Record<string, string>> }>();
  readonly score: StandInScore = { writes: {}, duplicateWrites: 0, throttled: {}, overShare: {}, published: 0, lowestLevel: 1 };
  private readonly revoked = new Set<string>();
  private readonly buckets = new Map<string, { readonly aws: TokenBucket; readonly share: TokenBucket; readonly other?: { readonly rate: number; taken: number; readonly since: number } }>();
  private server: Server | undefined;

  constructor(private readonly options: StandInOptions) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    // Every simulated Lambda instance keeps its connections open.
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The bucket of a call, created full (or, with another workload, empty) on first use. */
  private take(service: 'ec2' | 'sns', action: string, input: Record<string, unknown>): boolean {
    const documented = apiBucket(service, action, input);
    const scale = this.options.scale ?? 1;
    const spec: BucketSpec = { name: documented.name, capacity: Math.max(1, Math.floor(documented.capacity * scale)), refillPerSecond: documented.refillPerSecond * scale };
    const key = `${spec.name}/${documented.capacity}`;
    let entry = this.buckets.get(key);
    if (!entry) {
      const aws = new TokenBucket(spec, this.options.clock);
      const share: BucketSpec = { name: spec.name, capacity: spec.capacity * this.options.botShare, refillPerSecond: spec.refillPerSecond * this.options.botShare };
      const other = service === 'ec2' && this.options.other ? { rate: spec.refillPerSecond * this.options.other.share, taken: 0, since: this.options.clock.now() } : undefined;
      if (other) for (let i = 0; i < spec.capacity; i += 1) aws.tryTake();
      entry = { aws, share: new TokenBucket(share, this.options.clock), ...(other ? { other } : {}) };
      this.buckets.set(key, entry);
    }
    if (entry.other) {
      // The other workload has sent its part of every refill since it started; a request that found no token was throttled.
      const due = Math.floor(((this.options.clock.now() - entry.other.since) / 1000) * entry.other.rate);
      for (; entry.other.taken < due; entry.other.taken += 1) entry.aws.tryTake();
    }
    if (!entry.aws.tryTake()) {
      this.score.throttled[action] = (this.score.throttled[action] ?? 0) + 1;
      return false;
    }
    if (!entry.share.tryTake()) this.score.overShare[action] = (this.score.overShare[action] ?? 0) + 1;
    if (service === 'ec2' && !entry.other) this.score.lowestLevel = Math.min(this.score.lowestLevel, entry.aws.tokens() / spec.capacity);
    return true;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const action = params.get('Action') ?? '';
    const sns = params.get('Version') === '2010-03-31';
    try {
      const body = sns ? this.sns(action, params) : this.ec2(action, params);
      response.writeHead(200, { 'content-type': 'text/xml' }).end(body);
    } catch (error) {
      const fault = error instanceof Fault ? error : new Fault('InternalError', String(error), 500);
      const body = sns
        ? `<ErrorResponse><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${xmlEscape(fault.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
        : `<Response><Errors><Error><Code>${fault.code}</Code><Message>${xmlEscape(fault.message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
      response.writeHead(fault.status, { 'content-type': 'text/xml' }).end(body);
    }
  }

  private sns(action: string, params: URLSearchParams): string {
    if (action !== 'Publish') throw new Fault('InvalidAction', `${action} is not served here`);
    if (!this.take('sns', action, {})) throw new Fault('Throttling', 'Rate exceeded');
    if (!params.get('TopicArn') || !params.get('Message')) throw new Fault('InvalidParameter', 'TopicArn and Message are required');
    this.score.published += 1;
    return `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult></PublishResponse>`;
  }

  private ec2(action: string, params: URLSearchParams): string {
    const input: Record<string, unknown> = {};
    if (params.has('Filter.1.Name')) input['Filters'] = true;
    if (params.has('MaxResults')) input['MaxResults'] = true;
    if (!this.take('ec2', action, input)) throw new Fault('RequestLimitExceeded', 'Request limit exceeded.', 503);
    const reply = (inner: string) => `<${action}Response xmlns="${EC2_NS}"><requestId>${randomUUID()}</requestId>${inner}</${action}Response>`;
    switch (action) {
      case 'DescribeSecurityGroupRules': {
        const ids = listParam(params, 'SecurityGroupRuleId');
        const missing = ids.find((id) => !this.rules.has(id));
        if (missing !== undefined) throw new Fault('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${missing}' does not exist`);
        return reply(`<securityGroupRuleSet>${ids.map((id) => this.ruleXml(this.rules.get(id))).join('')}</securityGroupRuleSet>`);
      }
      case 'DescribeSecurityGroups': {
        const ids = listParam(params, 'GroupId');
        const missing = ids.find((id) => !this.groups.has(id));
        if (missing !== undefined) throw new Fault('InvalidGroup.NotFound', `The security group '${missing}' does not exist`);
        return reply(`<securityGroupInfo>${ids.map((id) => this.groupXml(id)).join('')}</securityGroupInfo>`);
      }
      case 'RevokeSecurityGroupIngress': {
        const groupId = params.get('GroupId') ?? '';
        const ids = listParam(params, 'SecurityGroupRuleId');
        if (ids.length === 0) throw new Fault('InvalidParameterValue', 'this stand-in revokes by SecurityGroupRuleId only');
        const missing = ids.find((id) => this.rules.get(id)?.groupId !== groupId);
        if (missing !== undefined) throw new Fault('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${missing}' does not exist`);
        this.score.writes[action] = (this.score.writes[action] ?? 0) + 1;
        for (const id of ids) {
          if (this.revoked.has(id)) this.score.duplicateWrites += 1;
          this.revoked.add(id);
          this.rules.delete(id);
        }
        return reply('<return>true</return>');
      }
      default:
        throw new Fault('InvalidAction', `${action} is not served here`);
    }
  }

  /** A rule revoked, then granted again with the same id, as a person might: revoking it again is no duplicate. */
  grant(rule: StandInRule): void {
    this.revoked.delete(rule.ruleId);
    this.rules.set(rule.ruleId, rule);
    if (!this.groups.has(rule.groupId)) this.groups.set(rule.groupId, { tags: {} });
  }

  private ruleXml(rule: StandInRule | undefined): string {
    if (!rule) return '';
    return `<item><securityGroupRuleId>${rule.ruleId}</securityGroupRuleId><groupId>${rule.groupId}</groupId><groupOwnerId>111122223333</groupOwnerId><isEgress>false</isEgress><ipProtocol>${rule.protocol}</ipProtocol><fromPort>${rule.from}</fromPort><toPort>${rule.to}</toPort><cidrIpv4>${rule.cidr}</cidrIpv4><tagSet/></item>`;
  }

  private groupXml(groupId: string): string {
    const tags = Object.entries(this.groups.get(groupId)?.tags ?? {})
      .map(([key, value]) => `<item><key>${xmlEscape(key)}</key><value>${xmlEscape(value)}</value></item>`)
      .join('');
    return `<item><ownerId>111122223333</ownerId><groupId>${groupId}</groupId><groupName>${groupId}-name</groupName><groupDescription>load</groupDescription><vpcId>vpc-0123456789abcdef0</vpcId><ipPermissions/><ipPermissionsEgress/><tagSet>${tags}</tagSet></item>`;
  }
}
