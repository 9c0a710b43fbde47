/**
 * The engine's vocabulary: rules, verdicts, plans and decisions.
 *
 * Data flows one way: event → parse → match → lookups (facts) → evaluate →
 * verdict → plan → execute or print → notify. Everything here is plain data
 * so that the Lambda path and the dry-run path print and run the very same thing.
 */
import type { CloudTrailEvent, DetailType } from './event.js';
import type { Config } from './config.js';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** `off` ignores the rule; `notify` alerts only; `propose` alerts with the plan; `remediate` applies the plan. */
export const MODES = ['off', 'notify', 'propose', 'remediate'] as const;
export type Mode = (typeof MODES)[number];

/** Deployment unit: one Lambda function per family, holding only its rules' permissions. */
export const FAMILIES = ['security-groups', 'ebs', 'instances', 'iam', 'cloudtrail', 'sagemaker', 's3', 'kms', 'credentials'] as const;
export type Family = (typeof FAMILIES)[number];

/** Services the executor can call. Keys are the SDK v3 client package suffixes. */
export type Service = 'ec2' | 'iam' | 'sns' | 'cloudtrail' | 'sagemaker' | 's3' | 's3control' | 'kms';

/** The step that reverses a plan step. It is itself a plain API call. */
export interface UndoStep {
  readonly service: Service;
  /** The AWS API name, for example `AuthorizeSecurityGroupIngress`. */
  readonly operation: string;
  /** The AWS SDK v3 command input. */
  readonly input: Readonly<Record<string, unknown>>;
  readonly reason: string;
}

/**
 * One AWS API call of a plan. `operation` is the API name; `input` is exactly
 * the SDK v3 command input that will be sent.
 */
export interface PlanStep extends UndoStep {
  /** How to reverse this step, where a reverse exists. */
  readonly undo?: UndoStep;
  /**
   * Error codes that mean "already done" for this step (idempotence under
   * at-least-once delivery), for example `InvalidPermission.NotFound` on a revoke.
   */
  readonly alreadyDoneCodes?: readonly string[];
  /**
   * Names the step so that later steps can use its output: a `{ $ref: '<id>.<OutputField>' }`
   * value anywhere in a later step's input (or undo input) is replaced at execution
   * by that field of this step's SDK output, for example `snapshot-vol-1.SnapshotId`.
   * Ids are unique within a plan and contain no `.`.
   */
  readonly id?: string;
  /**
   * `wait` polls with the SDK v3 waiter named by `operation` (`waitUntilSnapshotCompleted`,
   * `waitUntilVolumeAvailable`, …) within the invocation's remaining time; it changes
   * nothing. `call` (the default) sends one API call.
   */
  readonly kind?: 'call' | 'wait';
  /**
   * Evidence, from a read-only lookup, that this step's effect is already in place
   * (for example "GetEbsEncryptionByDefault: already enabled"). The executor then
   * reports the step `already-done` without calling AWS, so a second delivery of
   * an event reports "already fixed" even for APIs that succeed silently.
   */
  readonly alreadyDone?: string;
}

/** A value in a step's input that the executor fills from an earlier step's output: `{ $ref: 'snapshot-vol-1.SnapshotId' }`. */
export interface StepOutputRef {
  readonly $ref: string;
}

/**
 * A value in a proposed step's input that the bot could not know (offline
 * replay, lookup denied): it says what belongs there. The executor refuses
 * to run a step that still holds one.
 */
export interface UnknownValue {
  readonly $unknown: string;
}

/** `{ $ref: '<stepId>.<OutputField>' }`: the output field of an earlier step with that id. */
export function stepOutput(stepId: string, outputField: string): StepOutputRef {
  return { $ref: `${stepId}.${outputField}` };
}

/** A placeholder for a value the bot does not know; `description` tells a person what to put there. */
export function unknownValue(description: string): UnknownValue {
  return { $unknown: description };
}

export function isStepOutputRef(value: unknown): value is StepOutputRef {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { $ref?: unknown }).$ref === 'string';
}

export function isUnknownValue(value: unknown): value is UnknownValue {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { $unknown?: unknown }).$unknown === 'string';
}

/** Whether the step waits (SDK waiter) rather than calls an API. */
export function isWaitStep(step: PlanStep): boolean {
  return step.kind === 'wait';
}

export type Plan = readonly PlanStep[];

export interface Finding {
  /** Stable machine code, for example `open-port`. */
  readonly code: string;
  readonly severity: Severity;
  /** One sentence a person understands. */
  readonly message: string;
  /** What the finding is about: a rule id, a statement Sid, a CIDR and port. */
  readonly subject?: string;
}

/** The outcome of evaluating one event against one rule. */
export type Verdict =
  | {
      readonly kind: 'violation';
      readonly summary: string;
      readonly resources: readonly string[];
      readonly findings: readonly Finding[];
      /** Applied automatically in `remediate` mode. */
      readonly plan: Plan;
      /** Steps a person should review and run; never applied automatically. */
      readonly proposal?: Plan;
    }
  | { readonly kind: 'compliant'; readonly summary: string; readonly resources: readonly string[] }
  | { readonly kind: 'exempt'; readonly reason: string; readonly resources: readonly string[] }
  | { readonly kind: 'skipped'; readonly reason: string; readonly resources?: readonly string[] };

export type VerdictKind = Verdict['kind'];

/** A read-only fact the engine fetched for a rule. Offline, every fact is unavailable. */
export type Fact<T = unknown> =
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'unavailable'; readonly reason: string };

export type Facts = Readonly<Record<string, Fact>>;

/**
 * A read-only AWS call a rule needs before it can decide, such as a security
 * group's tags. The engine performs it; `evaluate` only sees the result.
 */
export interface Lookup {
  readonly name: string;
  readonly service: Service;
  readonly operation: string;
  /** IAM action the lookup needs, e.g. `ec2:DescribeSecurityGroups`. */
  readonly permission: string;
  /**
   * Resource ARN pattern the permission is granted on, with the same
   * CloudFormation placeholders as `Permission.resource`, e.g.
   * `arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*`. Absent means `*`,
   * which is only right where the action supports no resource-level
   * permission (no resource type in the Service Authorization Reference).
   */
  readonly resource?: string;
  /**
   * Builds the input from the event and the facts of the lookups declared
   * before this one (lookups run in order, so one can chain on another);
   * `undefined` means "nothing to look up". With the rule's context (config
   * and settings) a lookup that only matters for a violation, such as an
   * exemption tag, can skip an event the rule will find compliant anyway.
   */
  readonly input: (event: CloudTrailEvent, earlier?: Facts, context?: RuleContext) => Readonly<Record<string, unknown>> | undefined;
  /** Reduces the SDK output to the fact value. */
  readonly select: (output: unknown) => unknown;
  /** Error codes that mean "the resource is gone": the fact becomes `unavailable`, not an error. */
  readonly notFoundCodes?: readonly string[];
}

export interface Trigger {
  /** CloudTrail `eventSource`, e.g. `ec2.amazonaws.com`. */
  readonly eventSource: string;
  readonly eventNames: readonly string[];
  /**
   * The EventBridge `detail-type` these events arrive with; `AWS API Call via
   * CloudTrail` when absent. Console sign-ins (`ConsoleLogin`) arrive as
   * `AWS Console Sign In via CloudTrail`.
   */
  readonly detailType?: DetailType;
}

/** An IAM permission the bot needs to run a rule's plans. */
export interface Permission {
  readonly action: string;
  /**
   * Resource ARN pattern, with `${AWS::Partition}`, `${AWS::Region}` and
   * `${AWS::AccountId}` placeholders resolved by CloudFormation. `*` only where
   * the action supports no resource-level permission.
   */
  readonly resource: string;
  /** An IAM condition that narrows the grant further, e.g. which managed policy may be attached. */
  readonly condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface RuleContext {
  readonly config: Config;
  /** Settings of this rule, already validated and defaulted. */
  readonly settings: unknown;
  /** Evaluation time, so that plans (tag values) stay deterministic under test. */
  readonly now: Date;
  /**
   * ARN globs of the bot's own principals (`BOT_PRINCIPALS`, see `botPrincipals`
   * in `decide.ts`), so a rule can refuse to remediate the bot's own roles.
   * Absent when a context is built outside `decide`; rules then use the default.
   */
  readonly botPrincipals?: readonly string[];
}

/** Documentation that the README's rule reference is checked against. */
export interface RuleDocs {
  readonly changes: string;
  readonly proposes?: string;
  readonly neverTouches: string;
}

export interface Rule {
  /** kebab-case, stable: it names the rule in config, alerts and metrics. */
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  /** Why this matters, in a sentence or two. */
  readonly rationale: string;
  readonly family: Family;
  readonly triggers: readonly Trigger[];
  readonly permissions: readonly Permission[];
  readonly lookups?: readonly Lookup[];
  readonly defaultMode?: Mode;
  /** zod schema of the rule's settings in the config file (must accept `{}` and fill defaults). */
  readonly settings?: { parse(input: unknown): unknown; safeParse(input: unknown): { success: boolean; error?: unknown; data?: unknown } };
  readonly docs: RuleDocs;
  evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict;
}

/** What the bot did or would do with a violation. */
export const OUTCOMES = ['applied', 'proposed', 'notified', 'failed', 'exempt', 'already-fixed', 'none'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One (event, rule) decision: the unit the CLI prints and the notifier sends. */
export interface Decision {
  readonly eventId: string;
  readonly eventName: string;
  readonly eventSource: string;
  readonly eventTime: string;
  readonly account: string;
  readonly region: string;
  readonly principal: string;
  readonly sourceIp?: string;
  readonly rule: string;
  readonly ruleTitle: string;
  readonly severity: Severity;
  readonly mode: Mode;
  readonly verdict: Verdict;
  /** Facts the rule wanted but could not have (offline replay, lookup denied). */
  readonly unavailableFacts: readonly string[];
}
