/**
 * The engine's ports: what it needs from the world besides the AWS gateway
 * (`aws.ts`), as interfaces. The runtime wiring (`handlers/runtime.ts`)
 * implements them with SNS, KMS and DynamoDB; the CLI and tests with their
 * own. The engine imports nothing from `notify/`, `cli/` or `deploy/`.
 */
import type { ExecutionReport, PreflightReport } from './executor.js';
import type { Decision, Outcome } from './types.js';

/** What the engine tells people about one decision: what happened, why it matters, what was done, how to undo it. */
export interface Alert {
  readonly decision: Decision;
  readonly outcome: Outcome;
  readonly rationale: string;
  readonly execution?: ExecutionReport;
  /** For a proposal or notice: what a read of the plan's preconditions showed before the alert was sent. */
  readonly preflight?: PreflightReport;
  /** Why the outcome differs from what the mode asked for (for example the blast-radius cap). */
  readonly note?: string;
  /** A stored proposal a person can approve (approvals on): its id and when it expires. Never a plan to execute. */
  readonly proposal?: { readonly id: string; readonly expiresAt: string };
}

/**
 * How an alert went out. A signing failure does not hold the alert back: it is
 * published unsigned (shown as unverified), and the engine logs and counts it.
 */
export type AlertDelivery =
  | { readonly signature: 'signed' }
  | { readonly signature: 'unsigned' }
  | { readonly signature: 'signing-failed'; readonly errorCode: string; readonly errorMessage: string };

/** Where alerts go. Throws when the alert could not be delivered at all: the engine then fails the event so that Lambda retries it. */
export interface AlertSink {
  publish(alert: Alert): Promise<AlertDelivery>;
}
