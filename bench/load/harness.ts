/**
 * The load harness behind `npm run load` (and the small run in
 * `test/load.test.ts`): N recorded events pushed through the real
 * security-groups family handler, in-process, at a concurrency that stands
 * for the function's reserved concurrency, against the AWS stand-in
 * (`standin.ts`) with AWS's token buckets and DynamoDB through dynalite.
 *
 * Lambda's part is simulated as documented for asynchronous invocation: each
 * instance takes the next event from the queue; an invocation has the
 * function's timeout (its remaining time is what the context says); an
 * invocation that fails is retried twice, one minute and then two minutes
 * later, and after that, or once the event is 6 hours old, it goes to the
 * failure destination. Time is
 * simulated (`sim-clock.ts`): a call costs `latencyMs`, a wait costs its length.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAwsGateway, type AwsGateway } from '../../engine/aws.js';
import { parseConfig } from '../../engine/config.js';
import type { EngineLogger, InvocationResult } from '../../engine/lambda.js';
import type { EngineMetrics, MetricName } from '../../engine/metrics.js';
import { createPacer, type PacingStats } from '../../engine/pacing.js';
import { remediationHandler, runtimeCommands } from '../../handlers/runtime.js';
import { securityGroupsFamily } from '../../remediations/security-groups/index.js';
import { SimClock } from './sim-clock.js';
import { AwsStandIn, type OtherWorkload, type StandInScore } from './standin.js';

const EVENTS = join(import.meta.dirname, '..', '..', 'events', 'ec2');
const VIOLATING = 'AuthorizeSecurityGroupIngress-world-ssh-and-rdp-ruleids.json';
const COMPLIANT = 'AuthorizeSecurityGroupIngress-private-postgres-compliant.json';
/** Lambda's default maximum age of an asynchronous event. */
const MAX_EVENT_AGE_MS = 6 * 3_600_000;
/** The simulated epoch: the events' own day. */
const EPOCH = Date.parse('2025-03-05T08:41:12Z');

export interface LoadOptions {
  readonly events: number;
  /** Instances at once: the function's reserved concurrency. */
  readonly concurrency: number;
  /** The `apiShare` of the config: the bot's share of each bucket. */
  readonly share: number;
  /** Share of events that open SSH and RDP to the world (two rules to revoke each); the rest are compliant. */
  readonly violating?: number;
  /** Security groups the events fall on (many events per group). */
  readonly groups?: number;
  /** Share of events EventBridge delivers twice. */
  readonly duplicates?: number;
  /** The function's timeout. */
  readonly timeoutMs?: number;
  /** Simulated latency of each AWS call. */
  readonly latencyMs?: number;
  readonly other?: OtherWorkload;
  /** AWS's buckets at this fraction of their documented size (default 1): the bot's pacing then assumes too much. */
  readonly scale?: number;
  /** Lambda's retries of a failed asynchronous invocation (2 by default, as Lambda's). */
  readonly retries?: number;
  /** DynamoDB: dynalite's endpoint and the stack table in it. */
  readonly dynamo: { readonly endpoint: string; readonly table: string; readonly client: DynamoDBClient };
  /** Called every 500 finished invocations. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface LoadReport {
  readonly events: number;
  readonly deliveries: number;
  /** Events whose invocation returned (decided, acted on, alerted). */
  readonly decided: number;
  readonly outcomes: Record<string, number>;
  readonly invocations: number;
  /** Invocations that ran out of time with work left (resumed by the retry). */
  readonly interrupted: number;
  /** Other failed invocations, by error name. */
  readonly failures: Record<string, number>;
  /** Events that failed every attempt: they would be in the failure queue. */
  readonly givenUp: readonly { readonly eventId: string; readonly reason: string }[];
  /** Invocations that ran past the function's timeout: Lambda would have killed them. */
  readonly overran: number;
  readonly stand: StandInScore;
  readonly pacing: PacingStats;
  /** Simulated seconds from an event's arrival to its decision. */
  readonly decisionSeconds: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Rule ids revoked in the stand-in, and those that undo records list as applied. */
  readonly revoked: ReadonlySet<string>;
  readonly undoListed: ReadonlySet<string>;
  /** Violating rules still open at the end. */
  readonly stillOpen: number;
  readonly metrics: Record<string, number>;
}

interface Job {
  readonly eventId: string;
  readonly event: unknown;
  readonly arrivedAt: number;
  readyAt: number;
  attempts: number;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function eventIdOf(i: number): string {
  return `${hex(i, 8)}-0000-4000-8000-${hex(i, 12)}`;
}

/** The recorded events, made many: each its own event id, rule ids and group among `groups`. */
function makeEvents(options: LoadOptions, stand: AwsStandIn): { eventId: string; event: unknown }[] {
  const violating = JSON.parse(readFileSync(join(EVENTS, VIOLATING), 'utf8')) as Record<string, any>;
  const compliant = JSON.parse(readFileSync(join(EVENTS, COMPLIANT), 'utf8')) as Record<string, any>;
  const groups = Math.max(1, options.groups ?? Math.ceil(options.events / 20));
  const every = Math.max(1, Math.round(1 / Math.max(0.0001, options.violating ?? 0.3)));
  const out: { eventId: string; event: unknown }[] = [];
  for (let i = 0; i < options.events; i += 1) {
    const eventId = eventIdOf(i);
    const groupId = `sg-${hex(i % groups, 17)}`;
    const bad = i % every === 0;
    const event = structuredClone(bad ? violating : compliant);
    event['id'] = `${hex(i, 8)}-1111-4111-8111-${hex(i, 12)}`;
    event['detail']['eventID'] = eventId;
    event['detail']['requestParameters']['groupId'] = groupId;
    for (const [n, item] of (event['detail']['responseElements']['securityGroupRuleSet']['items'] as Record<string, any>[]).entries()) {
      item['groupId'] = groupId;
      item['securityGroupRuleId'] = `sgr-${hex(i * 4 + n, 17)}`;
      stand.grant({ ruleId: item['securityGroupRuleId'], groupId, protocol: item['ipProtocol'], from: item['fromPort'], to: item['toPort'], cidr: item['cidrIpv4'] });
    }
    out.push({ eventId, event });
  }
  return out;
}

/** A gateway whose every call first spends the simulated network's latency. */
function withLatency(gateway: AwsGateway, clock: SimClock, latencyMs: number): AwsGateway {
  if (latencyMs <= 0) return gateway;
  return {
    async call(service, operation, input) {
      await clock.sleep(latencyMs);
      return gateway.call(service, operation, input);
    },
  };
}

const silent: EngineLogger = { info: () => undefined, warn: () => undefined, error: () => undefined, appendKeys: () => undefined, removeKeys: () => undefined };

/** A deterministic generator of uniform numbers in [0, 1) (mulberry32): runs repeat exactly. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Rule ids that the table's undo records list as revoked by the bot. */
async function undoListedRules(client: DynamoDBClient, table: string): Promise<Set<string>> {
  const listed = new Set<string>();
  let start: Record<string, any> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }));
    for (const item of page.Items ?? []) {
      if (!item['id']?.S?.startsWith('undo#')) continue;
      for (const entry of item['entries']?.L ?? []) {
        const parsed = JSON.parse(entry.S ?? '{}') as { applied?: { input?: { SecurityGroupRuleIds?: string[] } }[] };
        for (const step of parsed.applied ?? []) for (const id of step.input?.SecurityGroupRuleIds ?? []) listed.add(id);
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return listed;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const clock = new SimClock();
  const stand = new AwsStandIn({ clock, botShare: options.share, ...(options.other ? { other: options.other } : {}), ...(options.scale !== undefined ? { scale: options.scale } : {}) });
  const endpoint = await stand.start();
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EC2: endpoint,
    AWS_ENDPOINT_URL_SNS: endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: options.dynamo.endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'not-a-secret',
    AWS_REGION: 'us-east-1',
  });
  try {
    return await simulate(options, clock, stand);
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await stand.stop();
  }
}

async function simulate(options: LoadOptions, clock: SimClock, stand: AwsStandIn): Promise<LoadReport> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const retries = options.retries ?? 2;
  const latencyMs = options.latencyMs ?? 0;
  const family = securityGroupsFamily;
  const config = parseConfig(
    { apiShare: options.share, rules: { 'sg-open-ingress': { mode: 'remediate' } }, writeBudget: { maxWrites: 100_000, windowMinutes: 60 } },
    family.rules,
  );
  const env = {
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-load-security-groups',
    IDEMPOTENCY_TABLE: options.dynamo.table,
    ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:remediation-bot-load-alerts',
    BOT_ACCOUNT: '111122223333',
    RESERVED_CONCURRENCY: String(options.concurrency),
  };
  const counters: Record<string, number> = {};
  const metrics: EngineMetrics = {
    count(name: MetricName, rule?: string) {
      const key = rule === undefined ? name : `${name}:${rule}`;
      counters[key] = (counters[key] ?? 0) + 1;
    },
  };
  const pacing: PacingStats = { calls: 0, throttled: 0, retries: 0, outOfTime: 0, waitedMs: 0 };
  const pacers: { stats: Readonly<PacingStats> }[] = [];
  const instance = (n: number) => {
    const commands = runtimeCommands(family);
    const pacer = createPacer({ share: config.apiShare, instances: options.concurrency, clock, random: seeded(n + 1) });
    pacers.push(pacer);
    return remediationHandler({
      rules: family.rules,
      commands,
      gateway: withLatency(createAwsGateway(commands, { region: 'us-east-1', maxAttempts: 1 }), clock, latencyMs),
      pacer,
      logger: silent,
      metrics,
      env,
      config,
      now: () => new Date(EPOCH + clock.now()),
    });
  };

  const events = makeEvents(options, stand);
  const violatingRules = new Set([...stand.rules.values()].filter((rule) => rule.cidr === '0.0.0.0/0').map((rule) => rule.ruleId));
  const dupEvery = options.duplicates && options.duplicates > 0 ? Math.round(1 / options.duplicates) : 0;
  const queue: Job[] = [];
  for (const [i, { eventId, event }] of events.entries()) {
    queue.push({ eventId, event, arrivedAt: 0, readyAt: 0, attempts: 0 });
    if (dupEvery > 0 && i % dupEvery === 1) queue.push({ eventId, event, arrivedAt: 0, readyAt: 0, attempts: 0 });
  }
  const deliveries = queue.length;
  const decidedAt = new Map<string, number>();
  const outcomes: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const givenUp: { eventId: string; reason: string }[] = [];
  let invocations = 0;
  let interrupted = 0;
  let overran = 0;
  let inFlight = 0;
  let finished = 0;

  const nextJob = (): Job | undefined => {
    const now = clock.now();
    let best = -1;
    for (let i = 0; i < queue.length; i += 1) {
      const job = queue[i];
      if (job && job.readyAt <= now && (best < 0 || job.readyAt < (queue[best]?.readyAt ?? Infinity))) {
        best = i;
        if (job.readyAt === 0) break;
      }
    }
    return best < 0 ? undefined : queue.splice(best, 1)[0];
  };

  const worker = async (n: number): Promise<void> => {
    const handler = instance(n);
    for (;;) {
      const job = nextJob();
      if (!job) {
        if (queue.length === 0 && inFlight === 0) return;
        const soonest = queue.reduce((min, j) => Math.min(min, j.readyAt), Infinity);
        await clock.sleep(Number.isFinite(soonest) ? Math.max(1, soonest - clock.now()) : 1_000);
        continue;
      }
      if (clock.now() - job.arrivedAt > MAX_EVENT_AGE_MS) {
        // Lambda keeps an asynchronous event 6 hours at most, waiting or between retries; then it goes to the failure destination.
        givenUp.push({ eventId: job.eventId, reason: `MaximumEventAge: not invoked within 6 hours of its arrival (attempts: ${job.attempts})` });
        continue;
      }
      inFlight += 1;
      invocations += 1;
      const deadline = clock.now() + timeoutMs;
      try {
        const result = (await handler(job.event, { getRemainingTimeInMillis: () => deadline - clock.now() })) as InvocationResult;
        if (!decidedAt.has(job.eventId)) {
          decidedAt.set(job.eventId, clock.now() - job.arrivedAt);
          if (result.status === 'processed') for (const d of result.decisions) outcomes[d.outcome] = (outcomes[d.outcome] ?? 0) + 1;
          else outcomes[result.status] = (outcomes[result.status] ?? 0) + 1;
        }
      } catch (error) {
        const name = error instanceof Error ? error.name : 'Error';
        if (name === 'Interrupted') interrupted += 1;
        else failures[name] = (failures[name] ?? 0) + 1;
        job.attempts += 1;
        if (job.attempts <= retries) {
          job.readyAt = clock.now() + job.attempts * 60_000;
          queue.push(job);
        } else {
          givenUp.push({ eventId: job.eventId, reason: `${name}: ${error instanceof Error ? error.message : String(error)}` });
        }
      }
      if (clock.now() > deadline) overran += 1;
      inFlight -= 1;
      finished += 1;
      if (options.onProgress && finished % 500 === 0) options.onProgress(finished, deliveries);
    }
  };

  await Promise.all(Array.from({ length: options.concurrency }, (_, n) => clock.run(() => worker(n))));

  for (const p of pacers) for (const key of Object.keys(pacing) as (keyof PacingStats)[]) pacing[key] += p.stats[key];
  const times = [...decidedAt.values()].sort((a, b) => a - b);
  const revoked = new Set([...violatingRules].filter((id) => !stand.rules.has(id)));
  return {
    events: events.length,
    deliveries,
    decided: decidedAt.size,
    outcomes,
    invocations,
    interrupted,
    failures,
    // A duplicate delivery may have failed every attempt while the other one decided the event.
    givenUp: givenUp.filter((entry, i) => !decidedAt.has(entry.eventId) && givenUp.findIndex((other) => other.eventId === entry.eventId) === i),
    overran,
    stand: stand.score,
    pacing,
    decisionSeconds: { p50: percentile(times, 50) / 1000, p99: percentile(times, 99) / 1000, max: (times.at(-1) ?? 0) / 1000 },
    revoked,
    undoListed: await undoListedRules(options.dynamo.client, options.dynamo.table),
    stillOpen: violatingRules.size - revoked.size,
    metrics: counters,
  };
}
