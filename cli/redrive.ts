/**
 * `remediate redrive`: what waits in the stack's two queues, and sending it
 * through again.
 *
 * - The events dead-letter queue (`EventsDeadLetterQueueUrl`) holds events
 *   EventBridge could not deliver to a family function; each message is the
 *   event, with EventBridge's `ERROR_CODE`, `ERROR_MESSAGE` and `TARGET_ARN`
 *   attributes.
 * - The failure queue (`FailureQueueUrl`) holds what a function failed on
 *   after Lambda's retries: an on-failure destination record, with the event
 *   in `requestPayload` and the error in `responsePayload`.
 *
 * A redrive invokes the function that should have handled each event, with
 * the event as it was, and deletes the message only once the function has
 * answered without an error. The functions are idempotent per CloudTrail
 * event id, so an event processed meanwhile is answered with its first
 * result and nothing is done twice. `--dry-run` only lists.
 */
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Env } from '../engine/decide.js';
import { EXIT } from './exit-codes.js';
import type { Io } from './format.js';
import { terminalText } from './terminal.js';
import { timeOf } from './time.js';
import { checkArgs, COMMAND_HELP, REDRIVE_OPTIONS, UsageError, usageChecked } from './usage.js';

export interface RedriveDeps {
  readonly sqs?: Pick<SQSClient, 'send'>;
  readonly lambda?: Pick<LambdaClient, 'send'>;
  readonly now?: () => number;
}

/** One message, as a person needs to see it before sending it again. */
export interface Waiting {
  readonly queue: 'events' | 'failures';
  readonly message: Message;
  /** The function that should handle the event (name or ARN), when the message says. */
  readonly target?: string;
  readonly event?: unknown;
  readonly eventId?: string;
  readonly eventName?: string;
  readonly reason: string;
  readonly sentAt?: number;
}

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$/;

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** What a message of `queue` holds: the event, the function it was for, and why it is here. */
export function describeMessage(queue: Waiting['queue'], message: Message): Waiting {
  const sent = Number(message.Attributes?.['SentTimestamp']);
  const base = { queue, message, ...(Number.isFinite(sent) ? { sentAt: sent } : {}) };
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    return { ...base, reason: 'the message is not JSON: it is not an event of this bot' };
  }
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  let event: unknown;
  let target: string | undefined;
  let reason: string;
  if (queue === 'events') {
    event = body;
    target = attribute('TARGET_ARN');
    reason = `EventBridge could not deliver it: ${[attribute('ERROR_CODE'), attribute('ERROR_MESSAGE')].filter(Boolean).join(': ') || 'no reason given'}`;
  } else {
    const destination = record(body);
    event = destination?.['requestPayload'];
    target = String(record(destination?.['requestContext'])?.['functionArn'] ?? '') || undefined;
    const response = record(destination?.['responsePayload']);
    const condition = String(record(destination?.['requestContext'])?.['condition'] ?? 'an error');
    reason = `the function failed (${condition}) after ${String(record(destination?.['requestContext'])?.['approximateInvokeCount'] ?? '?')} attempt(s): ${[response?.['errorType'], response?.['errorMessage']].filter(Boolean).join(': ') || 'no error given'}`;
  }
  const detail = record(record(event)?.['detail']);
  const eventId = typeof detail?.['eventID'] === 'string' ? detail['eventID'] : undefined;
  const eventName = typeof detail?.['eventName'] === 'string' ? detail['eventName'] : undefined;
  // Only a function ARN is a target: anything else (a malformed record) is listed, never invoked.
  const safeTarget = target !== undefined && LAMBDA_ARN.test(target) ? target : undefined;
  return { ...base, reason, ...(event !== undefined ? { event } : {}), ...(safeTarget ? { target: safeTarget } : {}), ...(eventId ? { eventId } : {}), ...(eventName ? { eventName } : {}) };
}

/** Every message of a queue, each once (they come back after their visibility timeout; a redrive deletes what it handled). */
async function receiveAll(sqs: Pick<SQSClient, 'send'>, queueUrl: string, queue: Waiting['queue'], max: number, visibilitySeconds: number): Promise<Waiting[]> {
  const seen = new Set<string>();
  const found: Waiting[] = [];
  while (found.length < max) {
    const page = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, max - found.length), VisibilityTimeout: visibilitySeconds, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['SentTimestamp'], MessageAttributeNames: ['All'] }),
    );
    const fresh = (page.Messages ?? []).filter((message) => message.MessageId !== undefined && !seen.has(message.MessageId));
    if (fresh.length === 0) break;
    for (const message of fresh) {
      seen.add(message.MessageId ?? '');
      found.push(describeMessage(queue, message));
    }
  }
  return found;
}

function ageText(sentAt: number | undefined, now: number): string {
  if (sentAt === undefined) return '?';
  const minutes = Math.max(0, Math.floor((now - sentAt) / 60_000));
  return minutes < 120 ? `${minutes}m` : minutes < 2880 ? `${Math.floor(minutes / 60)}h` : `${Math.floor(minutes / 1440)}d`;
}

export function redriveCommand(args: string[], io: Io, env: Env, deps: RedriveDeps = {}): Promise<number> {
  return usageChecked(io, () => redrive(args, io, env, deps));
}

async function redrive(args: string[], io: Io, env: Env, deps: RedriveDeps): Promise<number> {
  if (checkArgs('redrive', args, REDRIVE_OPTIONS, { positionals: false }) === 'help') {
    io.out(COMMAND_HELP.redrive);
    return EXIT.ok;
  }
  const { values } = parseArgs({ args, options: REDRIVE_OPTIONS, allowPositionals: false });
  const queues: [Waiting['queue'], string][] = [];
  const eventsUrl = values['events-queue'] ?? env['EVENTS_DLQ_URL'];
  const failuresUrl = values['failure-queue'] ?? env['FAILURE_QUEUE_URL'];
  for (const [name, url] of [['events', eventsUrl], ['failures', failuresUrl]] as const) {
    if (url === undefined || url === '') continue;
    if (!/^https:\/\/sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/\d{12}\/[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(url) && !/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) {
      throw new UsageError(`--${name === 'events' ? 'events-queue' : 'failure-queue'} must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>), got "${terminalText(url)}"`, 'redrive');
    }
    queues.push([name, url]);
  }
  if (queues.length === 0) throw new UsageError('name the queues: --events-queue URL and/or --failure-queue URL (the stack outputs EventsDeadLetterQueueUrl and FailureQueueUrl)', 'redrive');
  const dryRun = values['dry-run'] === true;
  const now = deps.now?.() ?? Date.now();
  let olderThan: number | undefined;
  if (values['older-than'] !== undefined) {
    olderThan = timeOf(values['older-than'], now);
    if (olderThan === undefined || !/^\d{1,5}[dh]$/.test(values['older-than'])) throw new UsageError(`--older-than must be a duration such as 1h or 2d, got "${terminalText(values['older-than'])}"`, 'redrive');
  }
  if (!dryRun && values.all !== true && olderThan === undefined) throw new UsageError('choose what to send again: --all, or --older-than 1h (or list first with --dry-run)', 'redrive');
  if (values.all === true && olderThan !== undefined) throw new UsageError('give --all or --older-than, not both', 'redrive');
  const max = values.max === undefined ? 100 : Number(values.max);
  if (!Number.isInteger(max) || max < 1 || max > 10_000) throw new UsageError(`--max must be a whole number from 1 to 10000, got "${terminalText(values.max ?? '')}"`, 'redrive');
  const region = values.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const sqs = deps.sqs ?? new SQSClient(region ? { region } : {});
  const lambda = deps.lambda ?? new LambdaClient(region ? { region } : {});

  let failed = 0;
  let sent = 0;
  let listed = 0;
  for (const [queue, url] of queues) {
    // A listing hides each message for 30 s; a redrive for 5 minutes, time enough to invoke and delete it.
    const waiting = await receiveAll(sqs, url, queue, max, dryRun ? 30 : 300);
    for (const item of waiting) {
      const chosen = olderThan === undefined || (item.sentAt !== undefined && item.sentAt <= olderThan);
      const head = `${queue}  ${ageText(item.sentAt, now)}  ${item.eventName ?? '?'}  ${item.eventId ?? '?'}  ${item.target ? item.target.split(':').slice(6).join(':') : '?'}`;
      if (dryRun || !chosen) {
        // Not chosen only under --older-than: --all chooses every message.
        io.out(`${head}  ${terminalText(item.reason)}${dryRun ? '' : '  (left: newer than --older-than)'}`);
        listed += 1;
        continue;
      }
      if (item.target === undefined || item.event === undefined) {
        io.out(`${head}  left in the queue: the message names no function or holds no event (${terminalText(item.reason)})`);
        failed += 1;
        continue;
      }
      try {
        const response = await lambda.send(new InvokeCommand({ FunctionName: item.target, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(item.event)) }));
        if (response.FunctionError) throw new Error(`${response.FunctionError}: ${new TextDecoder().decode(response.Payload ?? new Uint8Array()).slice(0, 300)}`);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: item.message.ReceiptHandle }));
        io.out(`${head}  sent again and removed: ${terminalText(new TextDecoder().decode(response.Payload ?? new Uint8Array()).slice(0, 200))}`);
        sent += 1;
      } catch (error) {
        io.out(`${head}  left in the queue: ${terminalText(error instanceof Error ? error.message : String(error))}`);
        failed += 1;
      }
    }
  }
  io.out(dryRun ? `${listed} message(s) waiting; nothing was sent (--dry-run)` : `${sent} sent again and removed, ${failed} left in the queue after an error, ${listed} not chosen`);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
