/**
 * What kind of fault an error from an AWS call is, once the SDK's own retries
 * (adaptive mode, a bounded number of attempts, see `aws.ts`) are spent.
 *
 * - `throttled` and `server`: AWS was busy or broken for longer than the retry
 *   budget. The plan fails and the handler rethrows, so Lambda's own retries
 *   (and then the failure destination) try again later.
 * - `client`: AWS understood the call and refused it (not found, invalid
 *   state, missing permission). Trying again changes nothing: the plan fails
 *   and the alert says why.
 * - `unexpected`: not an AWS answer at all (a bug, a network failure the SDK
 *   gave up on). Rethrown like the transient faults.
 */
import { errorCode } from './aws.js';

type FaultKind = 'throttled' | 'server' | 'client' | 'unexpected';

/**
 * Throttling codes across AWS services, the list the SDK's own retry
 * classification uses. They arrive as client faults (HTTP 400 or 503), so the
 * `$fault` field alone would call them "understood".
 */
const THROTTLING_ERROR_CODES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** Timeouts the SDK reports as errors of their own, and the network's (Node's `code`), which the pacer retries like the SDK would. */
const TRANSIENT_ERROR_CODES: ReadonlySet<string> = new Set(['RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

interface SdkErrorShape {
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

export function classifyFault(error: unknown): FaultKind {
  const code = errorCode(error);
  if (THROTTLING_ERROR_CODES.has(code)) return 'throttled';
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) {
    return TRANSIENT_ERROR_CODES.has(code) ? 'server' : 'unexpected';
  }
  const { $fault, $metadata } = error as SdkErrorShape;
  const status = typeof $metadata?.httpStatusCode === 'number' ? $metadata.httpStatusCode : undefined;
  if (status === 429) return 'throttled';
  if ($fault === 'server' || (status !== undefined && status >= 500) || TRANSIENT_ERROR_CODES.has(code)) return 'server';
  return $fault === 'client' ? 'client' : 'unexpected';
}

/** Whether the handler must rethrow (after alerting) so that Lambda retries the event later. */
export function isUnexpectedFault(error: unknown): boolean {
  return classifyFault(error) !== 'client';
}
