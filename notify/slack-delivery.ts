/**
 * Posts a message to a Slack incoming webhook: one JSON POST with Node's
 * `fetch`, redirects not followed (a webhook that redirects is not Slack's), and a
 * per-request timeout. This module owns the retries: 429 waits for
 * `Retry-After`, 5xx and network errors back off exponentially, and other 4xx
 * answers stop at once. Retries are bounded in number and by the Lambda's
 * remaining time; when they run out the error is thrown, so that Lambda's async
 * retries and then the function's DLQ keep the alert. Nothing is dropped
 * silently.
 */
import { DeliveryFault } from '../engine/errors.js';
import type { SlackMessage } from './slack.js';

export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

export interface DeliveryOptions {
  /** Retries after the first attempt, for 429, 5xx and network errors. */
  readonly maxRetries?: number;
  /** Per-request timeout. */
  readonly requestTimeoutMs?: number;
  /** Milliseconds left in the invocation; a wait that would not leave room for one more request is not started. */
  readonly remainingTimeMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly fetch?: FetchFunction;
  /** Called for every failed attempt; `waitMs` is set when another attempt follows. */
  readonly onFailedAttempt?: (attempt: FailedAttempt) => void;
}

export interface FailedAttempt {
  readonly attempt: number;
  readonly reason: string;
  readonly status?: number;
  readonly waitMs?: number;
}

interface DeliveryResult {
  readonly attempts: number;
  readonly rateLimited: number;
}

/** The message was not delivered. Its text never contains the webhook URL (callers redact it again before logging). */
export class SlackDeliveryError extends DeliveryFault {
  override readonly name = 'SlackDeliveryError';
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

const DEFAULTS = { maxRetries: 3, requestTimeoutMs: 10_000 } as const;
/** When Retry-After is absent or unreadable. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 1_000;
const SAFETY_MARGIN_MS = 500;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` is delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null, now: Date = new Date()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP-date names a weekday and a month; anything else (a negative number, a word) is unreadable.
  const date = /^[A-Za-z]{3},? /.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
}

interface Failure {
  readonly retryable: boolean;
  readonly reason: string;
  readonly status?: number;
  readonly waitMs?: number;
}

/** Slack answered with an error status. */
class HttpFailure extends DeliveryFault {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly retryAfter: string | null,
  ) {
    super(`HTTP ${status}`);
  }
}

/** No answer: a refused connection, a reset, a timeout. `fetch failed` alone says little, so the cause's code is added. */
function describeRequestError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  return `${error.name}: ${error.message}${code}`;
}

function classify(error: unknown, attempt: number): Failure {
  const backoff = 1000 * 2 ** (attempt - 1);
  if (error instanceof HttpFailure) {
    const body = error.body.trim().slice(0, 200);
    const reason = `HTTP ${error.status}${body ? ` ${body}` : ''}`;
    if (error.status === 429) return { retryable: true, reason, status: 429, waitMs: retryAfterMs(error.retryAfter) ?? DEFAULT_RATE_LIMIT_WAIT_MS };
    if (error.status >= 500) return { retryable: true, reason, status: error.status, waitMs: backoff };
    // Slack's other 4xx answers (invalid_blocks, no_service, channel_is_archived…) will not change on retry.
    return { retryable: false, reason, status: error.status };
  }
  return { retryable: true, reason: describeRequestError(error), waitMs: backoff };
}

async function post(fetchFn: FetchFunction, url: string, body: string, timeoutMs: number): Promise<void> {
  const response = await fetchFn(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'aws-remediation-bot' },
    body,
    // Not followed: a redirect is answered as an HTTP error that a retry cannot fix.
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw new HttpFailure(response.status, text, response.headers.get('retry-after'));
}

export async function postToSlack(url: string, message: SlackMessage, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  const maxRetries = options.maxRetries ?? DEFAULTS.maxRetries;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
  const remaining = options.remainingTimeMs ?? (() => Number.POSITIVE_INFINITY);
  const sleep = options.sleep ?? defaultSleep;
  const fetchFn: FetchFunction = options.fetch ?? globalThis.fetch;
  const body = JSON.stringify({ text: message.text, blocks: message.blocks });
  let rateLimited = 0;

  for (let attempt = 1; ; attempt += 1) {
    try {
      await post(fetchFn, url, body, Math.max(1, Math.min(requestTimeoutMs, remaining() - SAFETY_MARGIN_MS)));
      return { attempts: attempt, rateLimited };
    } catch (error) {
      const failure = classify(error, attempt);
      const status = failure.status !== undefined ? { status: failure.status } : {};
      if (failure.status === 429) rateLimited += 1;
      let stop: string | undefined;
      const waitMs = failure.waitMs ?? 0;
      if (!failure.retryable) stop = `Slack rejected the message: ${failure.reason}`;
      else if (attempt > maxRetries) stop = `Slack delivery failed after ${attempt} attempts: ${failure.reason}`;
      else if (remaining() - waitMs < requestTimeoutMs + SAFETY_MARGIN_MS) {
        stop = `Slack delivery failed after ${attempt} attempt(s): ${failure.reason}; waiting ${waitMs} ms more would leave no time to retry in this invocation`;
      }
      options.onFailedAttempt?.({ attempt, reason: failure.reason, ...status, ...(stop === undefined ? { waitMs } : {}) });
      if (stop !== undefined) throw new SlackDeliveryError(stop, attempt, failure.status);
      await sleep(waitMs);
    }
  }
}

/** POSTs JSON to a Slack `response_url` (the schemas let only https://hooks.slack.com/ through), giving up after `timeoutMs`. */
export function postToResponseUrl(responseUrl: string, body: unknown, timeoutMs: number): Promise<Response> {
  return fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
}
