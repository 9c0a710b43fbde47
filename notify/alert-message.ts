/**
 * The SNS JSON contract: what `renderJson` publishes under the `lambda`, `sqs`
 * and `email-json` keys, and what the notifier Lambda reads back. The types are
 * structural and readonly so that an engine `Decision` fits them as it is; the
 * zod schema checks a received message against the same shape and ignores
 * fields it does not know, so a publisher may add fields without breaking an
 * older notifier.
 */
import * as z from 'zod/mini';
import { ACCESS_PORTAL_URL, PERMISSION_SET_NAME } from '../engine/accounts.js';
import { formatIssues } from '../engine/issues.js';
import { PROPOSAL_ID } from '../engine/proposal-id.js';
import { MODES, OUTCOMES, SEVERITIES, type Decision, type Outcome, type Severity } from '../engine/types.js';

export interface MessageUndoStep {
  readonly service: string;
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly reason: string;
}

/** A read the bot makes before or after a write, as people read it. */
export interface MessageStateCheck {
  readonly service: string;
  readonly operation: string;
  readonly description: string;
}

export interface MessagePlanStep extends MessageUndoStep {
  /** Names the step, so that a later step's `<fill in: the X that step <id> returns>` can be followed. */
  readonly id?: string;
  /** `wait`: an SDK waiter between writes, which changes nothing. */
  readonly kind?: 'call' | 'wait';
  readonly undo?: MessageUndoStep;
  readonly precondition?: MessageStateCheck;
  readonly verification?: MessageStateCheck;
}

interface MessageFinding {
  readonly severity: Severity;
  readonly message: string;
}

/** What a read found: the probe's verdict, or `unreadable`. */
export interface MessageCheckResult {
  readonly state: 'needed' | 'done' | 'changed' | 'unreadable';
  readonly evidence: string;
}

export type MessageVerdict =
  | {
      readonly kind: 'violation';
      readonly summary: string;
      readonly resources: readonly string[];
      readonly findings: readonly MessageFinding[];
      readonly plan: readonly MessagePlanStep[];
      readonly proposal?: readonly MessagePlanStep[];
      readonly withheld?: string;
    }
  | { readonly kind: 'compliant'; readonly summary: string; readonly resources: readonly string[] }
  | { readonly kind: 'exempt'; readonly reason: string; readonly resources: readonly string[]; readonly findings?: readonly MessageFinding[] }
  | { readonly kind: 'skipped'; readonly reason: string; readonly resources?: readonly string[]; readonly cause?: string; readonly severity?: Severity };

/** A decision as the alert JSON carries it: the engine's `Decision`, with the verdict in its wire form. */
export type MessageDecision = Omit<Decision, 'verdict'> & { readonly verdict: MessageVerdict };

export const STEP_STATUSES = ['applied', 'already-done', 'stale', 'failed', 'not-run'] as const;
export const EXECUTION_STATUSES = ['applied', 'unverified', 'already-fixed', 'stale', 'failed'] as const;

export interface MessageStepResult {
  readonly index: number;
  readonly status: (typeof STEP_STATUSES)[number];
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly hint?: string;
  readonly precondition?: MessageCheckResult;
  readonly verification?: MessageCheckResult;
}

/** The published alert, as `renderJson` writes it. */
export interface AlertMessage {
  readonly schemaVersion: string;
  readonly outcome: Outcome;
  readonly rationale: string;
  readonly note?: string;
  /** A stored proposal a person can approve: its id and expiry (the Slack message gets Approve and Dismiss buttons). */
  readonly proposal?: { readonly id: string; readonly expiresAt: string };
  readonly decision: MessageDecision;
  /** Undo steps that apply to what was done, in the order to run them. */
  readonly undo: readonly MessageUndoStep[];
  readonly execution?: { readonly status: (typeof EXECUTION_STATUSES)[number]; readonly steps: readonly MessageStepResult[] };
  /** For a proposal: what a read of each write step's precondition showed when the alert was sent (in plan order of the write steps). */
  readonly preflight?: { readonly status: 'open' | 'already-fixed' | 'stale'; readonly checks: readonly (MessageCheckResult | null)[] };
}

const InputSchema = z.record(z.string(), z.unknown());

const UndoStepSchema = z.object({
  service: z.string(),
  operation: z.string(),
  input: InputSchema,
  reason: z.string(),
});

const StateCheckSchema = z.object({ service: z.string(), operation: z.string(), description: z.string() });

const PlanStepSchema = z.object({
  service: z.string(),
  operation: z.string(),
  id: z.optional(z.string()),
  kind: z.optional(z.enum(['call', 'wait'])),
  input: InputSchema,
  reason: z.string(),
  undo: z.optional(UndoStepSchema),
  precondition: z.optional(StateCheckSchema),
  verification: z.optional(StateCheckSchema),
});

const FindingSchema = z.object({ severity: z.enum(SEVERITIES), message: z.string() });
const CheckResultSchema = z.object({ state: z.enum(['needed', 'done', 'changed', 'unreadable']), evidence: z.string() });
const ResourcesSchema = z.array(z.string());

const VerdictSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('violation'),
    summary: z.string(),
    resources: ResourcesSchema,
    findings: z.array(FindingSchema),
    plan: z.array(PlanStepSchema),
    proposal: z.optional(z.array(PlanStepSchema)),
    withheld: z.optional(z.string()),
  }),
  z.object({ kind: z.literal('compliant'), summary: z.string(), resources: ResourcesSchema }),
  z.object({ kind: z.literal('exempt'), reason: z.string(), resources: ResourcesSchema, findings: z.optional(z.array(FindingSchema)) }),
  z.object({
    kind: z.literal('skipped'),
    reason: z.string(),
    resources: z.optional(ResourcesSchema),
    cause: z.optional(z.string()),
    severity: z.optional(z.enum(SEVERITIES)),
  }),
]);

export const AlertMessageSchema = z.object({
  schemaVersion: z.string(),
  outcome: z.enum(OUTCOMES),
  rationale: z.string(),
  note: z.optional(z.string()),
  proposal: z.optional(z.object({ id: z.string().check(z.regex(PROPOSAL_ID)), expiresAt: z.string() })),
  decision: z.object({
    eventId: z.string(),
    eventName: z.string(),
    eventSource: z.string(),
    eventTime: z.string(),
    account: z.string(),
    accountName: z.optional(z.string().check(z.maxLength(64))),
    consoleSignIn: z.optional(z.strictObject({ portalUrl: z.string().check(z.regex(ACCESS_PORTAL_URL)), roleName: z.string().check(z.regex(PERMISSION_SET_NAME)) })),
    region: z.string(),
    principal: z.string(),
    sourceIp: z.optional(z.string()),
    rule: z.string(),
    ruleTitle: z.string(),
    severity: z.enum(SEVERITIES),
    mode: z.enum(MODES),
    verdict: VerdictSchema,
    unavailableFacts: z.array(z.string()),
  }),
  undo: z.array(UndoStepSchema),
  execution: z.optional(
    z.object({
      status: z.enum(EXECUTION_STATUSES),
      steps: z.array(
        z.object({
          index: z.number().check(z.int(), z.minimum(0)),
          status: z.enum(STEP_STATUSES),
          errorCode: z.optional(z.string()),
          errorMessage: z.optional(z.string()),
          hint: z.optional(z.string()),
          precondition: z.optional(CheckResultSchema),
          verification: z.optional(CheckResultSchema),
        }),
      ),
    }),
  ),
  preflight: z.optional(z.object({ status: z.enum(['open', 'already-fixed', 'stale']), checks: z.array(z.nullable(CheckResultSchema)) })),
});

/** Keeps the schema and the hand-written readonly type in step: a parsed message is an `AlertMessage`. */
export const asAlertMessage = (parsed: z.infer<typeof AlertMessageSchema>): AlertMessage => parsed;

/**
 * The SNS event a subscriber Lambda of the alert topic (protocol `lambda`)
 * receives: each record's body and attributes. Attributes are read leniently:
 * an odd one makes a message unverified, never the whole event unreadable.
 */
export const AlertDeliverySchema = z.object({
  Records: z
    .array(
      z.object({
        EventSource: z.optional(z.string()),
        Sns: z.object({
          MessageId: z.string(),
          Message: z.string(),
          Subject: z.optional(z.nullable(z.string())),
          TopicArn: z.optional(z.string()),
          MessageAttributes: z.optional(z.record(z.string(), z.unknown())),
        }),
      }),
    )
    .check(z.minLength(1)),
});

/** A verified body: an alert of this schema, or (from a newer publisher) something this version cannot read, with the reasons. */
export type ParsedAlertBody = { readonly kind: 'alert'; readonly message: AlertMessage } | { readonly kind: 'unknown'; readonly problems: readonly string[] };

/** Reads an SNS message body as an alert. Check its signature first (`alert-signature.ts`): this says what it is, not who sent it. */
export function parseAlertBody(raw: string): ParsedAlertBody {
  let json: unknown;
  try {
    json = JSON.parse(raw) as unknown;
  } catch {
    return { kind: 'unknown', problems: ['the SNS message is not JSON'] };
  }
  const alert = AlertMessageSchema.safeParse(json);
  if (alert.success) return { kind: 'alert', message: asAlertMessage(alert.data) };
  return { kind: 'unknown', problems: formatIssues(alert.error.issues) };
}
