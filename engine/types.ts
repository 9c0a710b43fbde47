/**
 * The engine's vocabulary: rules, verdicts, plans and decisions.
 *
 * Data flows one way: event → parse → match → lookups (facts) → evaluate →
 * verdict → plan → execute or print → notify. Everything here is plain data
 * so that the Lambda path and the dry-run path print and run the very same thing.
 */
import type { CloudTrailEvent, DetailType } from './event.js';
import type { Config } from './config.js';
import type { CommandTable } from './aws.js';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * The one severity scale: `low` 1 up to `critical` 4. Alerts publish it as the
 * SNS `severityRank` attribute and subscription filter policies compare it
 * (`deploy/notification-filters.ts`), so its values must not change.
 */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity) + 1;
}

/** `severity`, raised to `floor` when lower. */
export function atLeast(severity: Severity, floor: Severity): Severity {
  return severityRank(severity) >= severityRank(floor) ? severity : floor;
}

/** `off` ignores the rule; `notify` alerts only; `propose` alerts with the plan; `remediate` applies the plan. */
export const MODES = ['off', 'notify', 'propose', 'remediate'] as const;
export type Mode = (typeof MODES)[number];

/**
 * Deployment unit: one Lambda function per family, holding only its rules'
 * permissions and only the SDK commands they send. Built by the rule kit's
 * `defineFamily` (`rulekit/define.ts`); the registry lists the families.
 */
export interface Family<Name extends string = string> {
  readonly name: Name;
  /** IAM's API events reach EventBridge in us-east-1 only: a global family is deployed there and nowhere else. */
  readonly global: boolean;
  readonly rules: readonly Rule[];
  readonly commands: CommandTable;
}

/** Services the executor can call. Keys are the SDK v3 client package suffixes. */
export type Service = 'ec2' | 'iam' | 'sns' | 'cloudtrail' | 'sagemaker' | 's3' | 's3control' | 'kms' | 'guardduty' | 'configservice';

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
   * Read just before the write: does the exposure this step closes still exist
   * as the event showed it? The probe's answer decides: `needed` runs the step,
   * `done` reports it `already-done` with the evidence, `changed` runs nothing
   * and makes the decision `stale`. A read that fails runs nothing.
   */
  readonly precondition?: StateCheck;
  /**
   * Read just after the write (and after an "already gone" error code): the
   * step counts as verified only when the probe answers `done`. Its input may
   * hold `$ref`s to this step's own output (the id of what it created).
   */
  readonly verification?: StateCheck;
  /**
   * Output fields that, when they hold a non-empty list, mean the call succeeded
   * but changed nothing: EC2 answers a default-VPC revoke that matches no rule
   * with `UnknownIpPermissions` instead of an error.
   */
  readonly noChangeWhen?: readonly string[];
  /**
   * @deprecated Being replaced by `precondition`: decide-time evidence that the
   * step's effect is in place. The executor trusts it only for steps without a
   * precondition; with one, it reads the present state instead.
   */
  readonly alreadyDone?: string;
}

/**
 * What a probe found when it read the present state for a write step:
 * - `needed`: the exposure the step closes is there, as the plan assumes;
 * - `done`: the step's effect is already in place (nothing to do, or verified);
 * - `changed`: neither; the resource changed since the event in a way that
 *   makes the step wrong (a rule set back to a private range, a new document).
 */
export type ProbeVerdict =
  | { readonly state: 'needed'; readonly evidence: string }
  | { readonly state: 'done'; readonly evidence: string }
  | { readonly state: 'changed'; readonly evidence: string };

/**
 * A read-only call the executor makes around a write step, and the name of the
 * rule's probe that judges its answer. Plain data: it is printed in dry runs,
 * stored with proposals and re-run when a proposal is approved.
 */
export interface StateCheck {
  readonly service: Service;
  /** A read-only API, for example `DescribeSecurityGroupRules`; it must be the probe's own. */
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
  /** The name of the probe, among the rule's `probes`, that judges the answer. */
  readonly probe: string;
  /** Plain data the probe judges against: the CIDR and ports that should be gone, the document the event set… */
  readonly expect: Readonly<Record<string, unknown>>;
  /** What is checked, as a person reads it: `sgr-0abc still allows 0.0.0.0/0 on tcp/3389`. */
  readonly description: string;
}

/**
 * A read-only call a rule's plan steps use as precondition and verification,
 * with the pure judgement of its answer. Its IAM permission is derived like a
 * lookup's, from `service`, `operation` and `resource`.
 */
export interface Probe {
  /** Unique within the rule. */
  readonly name: string;
  readonly service: Service;
  readonly operation: string;
  /** Resource ARN pattern the read is granted on (as `Lookup.resource`); absent means `*`. */
  readonly resource?: string;
  /** Error codes that mean "not there": `judge` then receives `null`, and the code. */
  readonly notFoundCodes?: readonly string[];
  /**
   * Pure: the SDK output judged against the step's `expect`. For a "not found"
   * answer, `output` is `null` and `notFound` says which of `notFoundCodes` it
   * was (`NoSuchBucket` is not `NoSuchPublicAccessBlockConfiguration`).
   */
  judge(output: unknown, expect: Readonly<Record<string, unknown>>, notFound?: string): ProbeVerdict;
}

/** A check that `probe` makes with `input`, judging against `expect`. Service and operation come from the probe, so they are declared once. */
export function stateCheck(probe: Probe, input: Readonly<Record<string, unknown>>, expect: Readonly<Record<string, unknown>>, description: string): StateCheck {
  return { service: probe.service, operation: probe.operation, input, probe: probe.name, expect, description };
}

/** The same read before and after: the usual shape of a write step's checks. */
export function checkedBothWays(check: StateCheck): Pick<PlanStep, 'precondition' | 'verification'> {
  return { precondition: check, verification: check };
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

/**
 * Why the engine skipped an event it was expected to skip: nothing to judge,
 * and nobody needs telling. Any other `skipped` verdict means the bot could
 * not inspect what the event did, and that is an alert ("silence is never an outcome").
 */
export const QUIET_SKIP_CAUSES = ['failed-call', 'own-call', 'ignored-principal', 'rule-off'] as const;
/**
 * Causes of a skip the engine itself decides: the quiet ones; a rule that
 * threw; an event from an account or Region this deployment does not serve.
 */
export type SkipCause = (typeof QUIET_SKIP_CAUSES)[number] | 'rule-failed' | 'foreign-scope';

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
      /** Set when the engine withheld the rule's plans (unsafe input): why nothing can be run. */
      readonly withheld?: string;
    }
  | { readonly kind: 'compliant'; readonly summary: string; readonly resources: readonly string[] }
  | {
      readonly kind: 'exempt';
      readonly reason: string;
      readonly resources: readonly string[];
      /** What the exemption let through: the findings the rule would otherwise have acted on. */
      readonly findings?: readonly Finding[];
    }
  | {
      readonly kind: 'skipped';
      readonly reason: string;
      readonly resources?: readonly string[];
      /** Set by the engine only. Without it, the rule could not inspect the event: an alert. */
      readonly cause?: SkipCause;
      /** How grave the blind spot is, where the rule knows (an omitted policy document is `high`). */
      readonly severity?: Severity;
    };

/** Whether a skip is one of the engine's expected ones, which need no alert. */
export function isQuietSkip(verdict: Verdict): boolean {
  return verdict.kind === 'skipped' && verdict.cause !== undefined && (QUIET_SKIP_CAUSES as readonly string[]).includes(verdict.cause);
}


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
  /**
   * A read-only management event (STS `AssumeRole`, say): EventBridge delivers
   * it only to a rule in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`,
   * which the deployment then sets on the family's rule.
   */
  readonly readOnly?: true;
  /**
   * Narrows a high-volume trigger inside EventBridge: only events whose
   * `requestParameters.<field>` matches the wildcard (`*`: any run of characters)
   * reach the function, for example roles on the bot's own path.
   */
  readonly requestMatch?: { readonly field: string; readonly wildcard: string };
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
  /**
   * The name of a rule setting without which no plan uses this permission (a
   * KMS key to set as the default, say): the deployment grants it only when
   * that setting is set and not empty.
   */
  readonly requiresSetting?: string;
}

/**
 * A condition for permissions on ARNs that name no account (S3 buckets, EC2
 * snapshots and images): only resources the deploying account owns.
 * `aws:ResourceAccount` is a global condition key, in the request context of
 * these actions.
 */
export const OWN_ACCOUNT_ONLY = { StringEquals: { 'aws:ResourceAccount': '${AWS::AccountId}' } } as const;

export interface RuleContext<S = unknown> {
  readonly config: Config;
  /** Settings of this rule, already validated and defaulted. */
  readonly settings: S;
  /** Evaluation time, so that plans (tag values) stay deterministic under test. */
  readonly now: Date;
  /**
   * The exact ARNs of the bot's own roles (`BOT_PRINCIPALS`, see `botIdentity`
   * in `decide.ts`), so a rule can refuse to remediate the bot's own roles.
   * Absent when a context is built outside `decide`: then no role is the bot's.
   */
  readonly botRoles?: readonly string[];
}

export interface Rule {
  /** kebab-case, stable: it names the rule in config, alerts and metrics. */
  readonly id: string;
  readonly title: string;
  /** At most: the highest severity its findings can carry. A decision carries its own findings' severity. */
  readonly severity: Severity;
  /** Why this matters, in a sentence or two. */
  readonly rationale: string;
  /** The family (Lambda function) the rule runs in: set by `defineFamily`. */
  readonly family: string;
  readonly triggers: readonly Trigger[];
  readonly permissions: readonly Permission[];
  readonly lookups?: readonly Lookup[];
  /** The reads that the plan steps' preconditions and verifications name (`StateCheck.probe`). */
  readonly probes?: readonly Probe[];
  readonly defaultMode?: Mode;
  /** zod schema of the rule's settings in the config file (must accept `{}` and fill defaults). */
  readonly settings?: { parse(input: unknown): unknown; safeParse(input: unknown): { success: boolean; error?: unknown; data?: unknown } };
  evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict;
}

/**
 * What the bot did or would do with a decision:
 * - `applied`: the plan ran and a read afterwards showed the exposure closed;
 * - `unverified`: the plan ran, but the read afterwards did not show it closed (or failed);
 * - `already-fixed`: a read showed every step's effect already in place; nothing was written;
 * - `stale`: the resource changed since the event so that the plan would be wrong; nothing was written;
 * - `proposed`, `notified`: the mode asked for no change;
 * - `failed`: a step (or the read before it) failed;
 * - `exempt`: the resource is exempt;
 * - `uninspected`: the bot could not inspect what the event did;
 * - `none`: nothing to tell (compliant, or skipped as expected).
 */
export const OUTCOMES = ['applied', 'unverified', 'already-fixed', 'stale', 'proposed', 'notified', 'failed', 'exempt', 'uninspected', 'none'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Every outcome but `none`: those of a decision that alerted, and so is in the history. */
export const HISTORY_OUTCOMES = OUTCOMES.filter((outcome): outcome is Exclude<Outcome, 'none'> => outcome !== 'none');
export type HistoryOutcome = (typeof HISTORY_OUTCOMES)[number];

export function isHistoryOutcome(outcome: string): outcome is HistoryOutcome {
  return (HISTORY_OUTCOMES as readonly string[]).includes(outcome);
}

/** One (event, rule) decision: the unit the CLI prints and the notifier sends. */
export interface Decision {
  readonly eventId: string;
  readonly eventName: string;
  readonly eventSource: string;
  readonly eventTime: string;
  readonly account: string;
  /** The account's name in the config (`accounts.<id>.name`), for alerts. */
  readonly accountName?: string;
  /** How the alert's console links sign in to the account (`consoleSignIn` in the config). */
  readonly consoleSignIn?: { readonly portalUrl: string; readonly roleName: string };
  readonly region: string;
  readonly principal: string;
  readonly sourceIp?: string;
  readonly rule: string;
  readonly ruleTitle: string;
  /** The decision's own severity (`decisionSeverity`): the highest of its findings, never simply the rule's. */
  readonly severity: Severity;
  readonly mode: Mode;
  readonly verdict: Verdict;
  /** Facts the rule wanted but could not have (offline replay, lookup denied). */
  readonly unavailableFacts: readonly string[];
}

function highest(severities: readonly Severity[]): Severity | undefined {
  let best: Severity | undefined;
  for (const severity of severities) if (best === undefined || severityRank(severity) > severityRank(best)) best = severity;
  return best;
}

/** How grave a blind spot is, unless the rule itself is less grave. */
const UNINSPECTED_SEVERITY: Severity = 'high';

/** A verdict in one line: its summary, or the reason it was skipped or exempt. The Lambda's result and the replay print this. */
export function verdictSummary(verdict: Verdict): string {
  return verdict.kind === 'violation' || verdict.kind === 'compliant' ? verdict.summary : verdict.reason;
}

/**
 * The severity of a decision: the highest severity among its findings (a
 * medium TLS finding is medium even in a critical rule). A skip that hid an
 * event from the bot carries the severity the rule gave it, else `high`
 * capped at the rule's; compliant decisions and quiet skips are `low`.
 */
export function decisionSeverity(rule: Pick<Rule, 'severity'>, verdict: Verdict): Severity {
  switch (verdict.kind) {
    case 'violation':
    case 'exempt':
      return highest((verdict.findings ?? []).map((finding) => finding.severity)) ?? rule.severity;
    case 'skipped':
      if (isQuietSkip(verdict)) return 'low';
      if (verdict.severity !== undefined) return verdict.severity;
      return severityRank(rule.severity) < severityRank(UNINSPECTED_SEVERITY) ? rule.severity : UNINSPECTED_SEVERITY;
    case 'compliant':
      return 'low';
  }
}
