/**
 * The optional Security Hub channel: a second subscriber of the alert topic
 * (SNS protocol `lambda`) that turns each verified alert into an AWS Security
 * Finding Format (ASFF) finding of the account's default product
 * (`product/<account>/default`), one finding per rule and resource, updated
 * in place as the bot decides again.
 *
 * - `findingFromAlert` maps one alert to its finding (pure).
 * - `deliverFindings` imports findings with `BatchImportFindings` (at most 100
 *   and 6 MB a call, throttling and server faults retried with backoff, and the
 *   `FailedFindings` of a partial success retried), then sets each finding's
 *   workflow status with `BatchUpdateFindings`: `BatchImportFindings` sets
 *   `Workflow` and `Note` only when it creates a finding and ignores them on an
 *   update (Security Hub User Guide, "BatchImportFindings for finding providers").
 * - `createSecurityHubSubscriber` is the Lambda's logic: verify, skip, map,
 *   deliver. `securityHubLambda` wires it to Powertools, KMS and Security Hub.
 *
 * Only a message whose signature KMS verifies (`alert-signature.ts`) becomes
 * a finding: anything else on the topic (a CloudWatch alarm, a forged alert)
 * is counted (`AlertUnverified`), logged and never imported. A delivery that
 * still fails after the retries throws, so that Lambda retries the SNS event
 * and then keeps it in the function's failure destination. This runs in its
 * own function: a Security Hub outage never delays or fails a remediation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import {
  BatchImportFindingsCommand,
  BatchUpdateFindingsCommand,
  SecurityHubClient,
  type AwsSecurityFinding,
  type AwsSecurityFindingIdentifier,
  type ComplianceStatus,
  type Resource,
  type WorkflowStatus,
} from '@aws-sdk/client-securityhub';
import middy from '@middy/core';
import { createHash } from 'node:crypto';
import { createAwsGateway, errorCode, errorMessage, type CommandTable } from '../engine/aws.js';
import { ConfigFault, DeliveryFault, ParseFault } from '../engine/errors.js';
import { classifyFault } from '../engine/faults.js';
import { formatIssues } from '../engine/issues.js';
import { createMetrics } from '../engine/metrics.js';
import type { Outcome } from '../engine/types.js';
import { partitionOfRegion } from '../rulekit/cloudtrail.js';
import { AlertDeliverySchema, parseAlertBody, type AlertMessage, type MessagePlanStep, type MessageUndoStep } from './alert-message.js';
import { createAlertVerifier, SIGNING_KEY_ENV, type AlertVerifier } from './alert-signature.js';
import { alertView, cliLines } from './alert-view.js';
import type { MetricsSink, NotifierLogger } from './notifier.js';
import { clip, clipLine, TRUNCATION_MARKER } from './slack.js';

/** What the subscriber sends to AWS through the gateway: `VerifyMac`, for `createAlertVerifier`. Security Hub calls go through the client given to `deliverFindings`. */
export const securityHubVerifyCommands = {
  clients: { kms: KMSClient },
  commands: { 'kms:VerifyMac': VerifyMacCommand },
} as const satisfies CommandTable;

/** ASFF limits (API reference, `AwsSecurityFinding` and its types; BatchImportFindings guidelines). */
export const ASFF_LIMITS = {
  id: 512,
  title: 256,
  description: 1024,
  recommendationText: 512,
  noteText: 512,
  productFieldValue: 2048,
  resources: 32,
  apiCallName: 128,
  findingsPerBatch: 100,
  findingsPerUpdate: 100,
  /** 6 MB a request; the margin leaves room for the request's own JSON. */
  batchBytes: 6 * 1024 * 1024 - 64 * 1024,
  findingBytes: 240 * 1024,
} as const;

export const SECURITY_HUB_METRICS = {
  imported: 'SecurityHubImported',
  workflowUpdated: 'SecurityHubWorkflowUpdated',
  throttled: 'SecurityHubThrottled',
  failed: 'SecurityHubFailed',
  skipped: 'SecurityHubSkipped',
  invalidMessage: 'AlertMessageInvalid',
  unverified: 'AlertUnverified',
} as const;

const PRODUCT_FIELD_PREFIX = 'RemediationBot/';
const NOTE_AUTHOR = 'remediation-bot';
const FINDING_TYPE = 'Software and Configuration Checks/AWS Security Best Practices';

interface FindingStatus {
  readonly workflow: WorkflowStatus;
  readonly compliance: ComplianceStatus;
}

/**
 * Outcome → workflow and compliance. `proposed` and `notified` alerts asked a
 * person to act, so they are `NOTIFIED`; the bot's own troubles (`failed`,
 * `unverified`, `stale`, `uninspected`) are `NEW`, for the security team to
 * triage. `uninspected` is `WARNING`: the bot could not tell whether the
 * resource passes or fails.
 */
const STATUS_OF: Readonly<Record<Exclude<Outcome, 'none'>, FindingStatus>> = {
  applied: { workflow: 'RESOLVED', compliance: 'PASSED' },
  'already-fixed': { workflow: 'RESOLVED', compliance: 'PASSED' },
  proposed: { workflow: 'NOTIFIED', compliance: 'FAILED' },
  notified: { workflow: 'NOTIFIED', compliance: 'FAILED' },
  unverified: { workflow: 'NEW', compliance: 'FAILED' },
  failed: { workflow: 'NEW', compliance: 'FAILED' },
  stale: { workflow: 'NEW', compliance: 'FAILED' },
  uninspected: { workflow: 'NEW', compliance: 'WARNING' },
  exempt: { workflow: 'SUPPRESSED', compliance: 'FAILED' },
};

/** ASFF's `Resource.Partition` names the ISO partitions its own way. */
const ASFF_PARTITIONS: Readonly<Record<string, string>> = { 'aws-iso': 'aws-us-iso', 'aws-iso-b': 'aws-us-iso-b' };

function asffPartition(partition: string): string {
  return ASFF_PARTITIONS[partition] ?? partition;
}

const ARN = /^arn:([a-z-]+):([a-z0-9-]*):([a-z0-9-]*):(\d*):(.+)$/;

/** ASFF resource types by ARN service and resource prefix; anything else is `Other`. */
const ARN_TYPES: readonly { readonly service: string; readonly prefix: string; readonly type: string }[] = [
  { service: 'ec2', prefix: 'security-group/', type: 'AwsEc2SecurityGroup' },
  { service: 'ec2', prefix: 'instance/', type: 'AwsEc2Instance' },
  { service: 'ec2', prefix: 'volume/', type: 'AwsEc2Volume' },
  { service: 'iam', prefix: 'role/', type: 'AwsIamRole' },
  { service: 'iam', prefix: 'policy/', type: 'AwsIamPolicy' },
  { service: 'iam', prefix: 'user/', type: 'AwsIamUser' },
  { service: 'kms', prefix: 'key/', type: 'AwsKmsKey' },
  { service: 'cloudtrail', prefix: 'trail/', type: 'AwsCloudTrailTrail' },
  { service: 'sagemaker', prefix: 'notebook-instance/', type: 'AwsSageMakerNotebookInstance' },
  { service: 'guardduty', prefix: 'detector/', type: 'AwsGuardDutyDetector' },
  { service: 'ec2', prefix: 'network-acl/', type: 'AwsEc2NetworkAcl' },
];

/** EC2 ids as the rules name them, and the ARN resource of each. */
const EC2_IDS: readonly { readonly pattern: RegExp; readonly arnResource: string; readonly type: string }[] = [
  { pattern: /^sg-[0-9a-f]+$/, arnResource: 'security-group', type: 'AwsEc2SecurityGroup' },
  { pattern: /^i-[0-9a-f]+$/, arnResource: 'instance', type: 'AwsEc2Instance' },
  { pattern: /^vol-[0-9a-f]+$/, arnResource: 'volume', type: 'AwsEc2Volume' },
  { pattern: /^acl-[0-9a-f]+$/, arnResource: 'network-acl', type: 'AwsEc2NetworkAcl' },
];

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

interface Where {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly eventSource: string;
}

/**
 * One of a decision's resources (as the rule names it: an ARN, an EC2 id,
 * `bucket <name>`, `role <name>`, …) as an ASFF resource: the ARN as its id
 * where the name gives it exactly; an IAM role or user named without its path
 * keeps its name, since a guessed ARN would be wrong for a role on a path.
 */
function asffResource(label: string, where: Where): Resource {
  const place = (partition: string, region: string) => ({ Partition: asffPartition(partition) as Resource['Partition'], Region: region || where.region });
  const arn = ARN.exec(label);
  if (arn) {
    const [, partition = where.partition, service, region = '', account, rest = ''] = arn;
    const known = ARN_TYPES.find((entry) => entry.service === service && rest.startsWith(entry.prefix));
    const bucket = service === 's3' && region === '' && account === '' && !rest.includes('/');
    return { Type: known?.type ?? (bucket ? 'AwsS3Bucket' : 'Other'), Id: label, ...place(partition, region) };
  }
  const ec2 = EC2_IDS.find((entry) => entry.pattern.test(label));
  if (ec2) return { Type: ec2.type, Id: `arn:${where.partition}:ec2:${where.region}:${where.account}:${ec2.arnResource}/${label}`, ...place(where.partition, where.region) };
  const [kind, name] = label.split(/ (.*)/s);
  if (kind === 'bucket' && name) return { Type: 'AwsS3Bucket', Id: `arn:${where.partition}:s3:::${name}`, ...place(where.partition, where.region) };
  if (kind === 'role' && name) return { Type: 'AwsIamRole', Id: name, ...place(where.partition, where.region) };
  if (kind === 'user' && name) return { Type: 'AwsIamUser', Id: name, ...place(where.partition, where.region) };
  if (where.eventSource === 's3.amazonaws.com' && BUCKET_NAME.test(label)) return { Type: 'AwsS3Bucket', Id: `arn:${where.partition}:s3:::${label}`, ...place(where.partition, where.region) };
  return { Type: 'Other', Id: label, ...place(where.partition, where.region) };
}

/** ASFF allows 1 to 32 resources: duplicates are dropped, an alert naming none is about its account. */
function asffResources(labels: readonly string[], where: Where): Resource[] {
  const resources = new Map<string, Resource>();
  for (const label of labels.length > 0 ? labels : [`account ${where.account}`]) {
    const resource = asffResource(label, where);
    if (!resources.has(resource.Id ?? '')) resources.set(resource.Id ?? '', resource);
  }
  return [...resources.values()].slice(0, ASFF_LIMITS.resources);
}

/**
 * Stable per rule and resource, so a later alert for the same resource
 * updates the same finding: `remediation-bot/<rule>/<account>/<region>/<resources>`,
 * the resources hashed when the id would pass ASFF's 512 characters.
 */
export function findingId(message: AlertMessage): string {
  const { decision } = message;
  const resources = [...(decision.verdict.resources ?? [])].sort().join(',') || 'account';
  const id = `remediation-bot/${decision.rule}/${decision.account}/${decision.region}/${resources}`;
  if (id.length <= ASFF_LIMITS.id) return id;
  return `remediation-bot/${decision.rule}/${decision.account}/${decision.region}/sha256:${createHash('sha256').update(resources, 'utf8').digest('hex')}`;
}

/**
 * Whole lines within `max` characters, then a comment saying how many were cut
 * and where they are; a section heading is never left without its commands,
 * and a single line too long is cut (a cut command commented out).
 */
function fitLines(lines: readonly string[], max: number, rest: string): string {
  const marker = (shown: number) => `# ${TRUNCATION_MARKER} ${lines.length - shown} more line(s) ${rest}`;
  const fits = (kept: readonly string[]) => kept.join('\n').length <= max;
  if (fits(lines)) return lines.join('\n');
  const kept = [...lines];
  while (kept.length > 0 && (!fits([...kept, marker(kept.length)]) || isHeading(kept.at(-1) ?? ''))) kept.pop();
  if (kept.length === 0) return [clipLine(lines[0] ?? '', max - marker(1).length - 1), marker(1)].join('\n');
  return [...kept, marker(kept.length)].join('\n');
}

function isHeading(line: string): boolean {
  return line.startsWith('# ') && line.endsWith(':');
}

function commandLines(steps: readonly (MessagePlanStep | MessageUndoStep)[], region: string): string[] {
  return steps.flatMap((step) => cliLines(step, region));
}

/** The pasteable commands of an alert, as bash: the fix still to run, the proposal, and the undo. */
function remediationCommands(message: AlertMessage): { readonly fix: readonly string[]; readonly undo: readonly string[] } {
  const { verdict, region } = message.decision;
  if (verdict.kind !== 'violation') return { fix: [], undo: [] };
  const done = message.outcome === 'applied' || message.outcome === 'already-fixed';
  const fix = [
    ...(!done && verdict.plan.length > 0 ? ['# Fix:', ...commandLines(verdict.plan, region)] : []),
    ...(verdict.proposal && verdict.proposal.length > 0 ? ['# Proposed (review, then run):', ...commandLines(verdict.proposal, region)] : []),
  ];
  const undo = message.undo.length > 0 ? [done ? '# Undo what the bot did:' : '# Undo, after running the fix:', ...commandLines(message.undo, region)] : [];
  return { fix, undo };
}

function recommendation(message: AlertMessage, status: string): string {
  const { fix, undo } = remediationCommands(message);
  const lines = [...fix, ...undo];
  return lines.length > 0 ? fitLines(lines, ASFF_LIMITS.recommendationText, `in ProductFields ${PRODUCT_FIELD_PREFIX}FixCommands and ${PRODUCT_FIELD_PREFIX}UndoCommands`) : clip(`# ${status.replace(/[\r\n]+/g, ' ')}`, ASFF_LIMITS.recommendationText);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i;

/** The CloudTrail call as ASFF's `AwsApiCallAction`: an IPv4 caller as `remoteip`, an AWS service as `domain`; an IPv6 caller has no place there (it stays in `ProductFields`). */
function apiCallAction(message: AlertMessage): AwsSecurityFinding['Action'] {
  const { eventName, eventSource, eventTime, sourceIp } = message.decision;
  const caller =
    sourceIp && IPV4.test(sourceIp)
      ? { CallerType: 'remoteip', RemoteIpDetails: { IpAddressV4: sourceIp } }
      : sourceIp && DOMAIN.test(sourceIp)
        ? { CallerType: 'domain', DomainDetails: { Domain: clip(sourceIp, ASFF_LIMITS.apiCallName) } }
        : {};
  return {
    ActionType: 'AWS_API_CALL',
    AwsApiCallAction: { Api: clip(eventName, ASFF_LIMITS.apiCallName), ServiceName: clip(eventSource, ASFF_LIMITS.apiCallName), ...caller, FirstSeen: eventTime, LastSeen: eventTime },
  };
}

function productFields(message: AlertMessage): Record<string, string> {
  const { decision } = message;
  const { fix, undo } = remediationCommands(message);
  const fields: Record<string, string | undefined> = {
    Rule: decision.rule,
    Outcome: message.outcome,
    Mode: decision.mode,
    EventId: decision.eventId,
    EventName: decision.eventName,
    EventSource: decision.eventSource,
    EventTime: decision.eventTime,
    Principal: decision.principal,
    SourceIp: decision.sourceIp,
    Resources: (decision.verdict.resources ?? []).join('\n'),
    FixCommands: fix.length > 0 ? fitLines(fix, ASFF_LIMITS.productFieldValue, 'in the alert') : undefined,
    UndoCommands: undo.length > 0 ? fitLines(undo, ASFF_LIMITS.productFieldValue, 'in the alert') : undefined,
    Execution: message.execution?.status,
    Note: message.note,
    UnavailableFacts: decision.unavailableFacts.join(', '),
  };
  return Object.fromEntries(
    Object.entries(fields).flatMap(([key, value]) => (value === undefined || value === '' ? [] : [[`${PRODUCT_FIELD_PREFIX}${key}`, clip(value, ASFF_LIMITS.productFieldValue)]])),
  );
}

export interface FindingContext {
  /** The Region the finding is imported in (the function's `AWS_REGION`). */
  readonly region: string;
  /** The account that imports it: its default product ARN. */
  readonly account: string;
  /** When the finding record is written: its `UpdatedAt`, which must pass the stored finding's for an update to apply. */
  readonly now: Date;
}

/**
 * The ASFF finding of one alert, or `undefined` for an alert that tells of no
 * action (`none`). Severity and types go both at the top level (required on
 * creation) and in `FindingProviderFields`, where a finding provider updates
 * them; `Workflow` and `Note` are honoured on creation only, so
 * `deliverFindings` sets them again with `BatchUpdateFindings`.
 */
export function findingFromAlert(message: AlertMessage, context: FindingContext): AwsSecurityFinding | undefined {
  if (message.outcome === 'none') return undefined;
  const { decision } = message;
  const status = STATUS_OF[message.outcome];
  const partition = partitionOfRegion(context.region);
  const view = alertView(message);
  const severity = { Label: decision.severity.toUpperCase() as Uppercase<typeof decision.severity>, Original: decision.severity };
  const updatedAt = context.now.toISOString();
  const where: Where = { partition: partitionOfRegion(decision.region), region: decision.region, account: decision.account, eventSource: decision.eventSource };
  return {
    SchemaVersion: '2018-10-08',
    Id: findingId(message),
    ProductArn: `arn:${partition}:securityhub:${context.region}:${context.account}:product/${context.account}/default`,
    GeneratorId: decision.rule,
    AwsAccountId: decision.account,
    Types: [FINDING_TYPE],
    CreatedAt: decision.eventTime,
    UpdatedAt: updatedAt,
    FirstObservedAt: decision.eventTime,
    LastObservedAt: decision.eventTime,
    Severity: severity,
    Title: clip(decision.ruleTitle, ASFF_LIMITS.title),
    Description: clip([view.summary, view.status, ...view.findings].join('\n'), ASFF_LIMITS.description),
    Remediation: { Recommendation: { Text: recommendation(message, view.status) } },
    ProductFields: productFields(message),
    Resources: asffResources(decision.verdict.resources ?? [], where),
    Action: apiCallAction(message),
    Compliance: { Status: status.compliance },
    Workflow: { Status: status.workflow },
    RecordState: 'ACTIVE',
    ...(decision.verdict.kind === 'exempt' ? { Note: { Text: clip(`Exempt: ${decision.verdict.reason}`, ASFF_LIMITS.noteText), UpdatedBy: NOTE_AUTHOR, UpdatedAt: updatedAt } } : {}),
    FindingProviderFields: { Severity: severity, Types: [FINDING_TYPE] },
  };
}

/** A finding that could not be imported or given its workflow status after the retries. */
export interface FailedFinding {
  readonly id: string;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export class SecurityHubDeliveryError extends DeliveryFault {
  override readonly name = 'SecurityHubDeliveryError';
  constructor(readonly failed: readonly FailedFinding[]) {
    super(`${failed.length} finding(s) not delivered to Security Hub: ${failed.map((f) => `${f.id} (${f.errorCode})`).join(', ')}`);
  }
}

export interface DeliverOptions {
  /** Calls per batch, the first included; each failed call or partial failure waits before the next. */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** 0 ≤ x < 1, for the jitter of the backoff. */
  readonly random?: () => number;
  readonly metrics?: MetricsSink;
  readonly logger?: NotifierLogger;
}

export interface DeliveryResult {
  readonly imported: number;
  readonly workflowUpdated: number;
}

const DELIVERY_DEFAULTS = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 } as const;

/** Codes in `FailedFindings` and `UnprocessedFindings` that another try cannot fix. */
const PERMANENT_FINDING_ERRORS: ReadonlySet<string> = new Set(['InvalidAccess', 'InvalidAccessException', 'InvalidInput', 'InvalidInputException', 'FindingSizeExceeded', 'DuplicatedFindingIdentifier']);

/** `BatchUpdateFindings` right after an import may not see a finding that import just created: it was created with this workflow status already. */
const JUST_CREATED = 'FindingNotFound';

type SecurityHubSender = Pick<SecurityHubClient, 'send'>;

interface Settings {
  readonly maxAttempts: number;
  readonly backoff: (attempt: number) => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly count: (name: string, value: number) => void;
  readonly logger?: NotifierLogger;
}

function settingsOf(options: DeliverOptions): Settings {
  const { maxAttempts, baseDelayMs, maxDelayMs } = { ...DELIVERY_DEFAULTS, ...options };
  const random = options.random ?? Math.random;
  return {
    maxAttempts: Math.max(1, maxAttempts),
    // Equal jitter: half the exponential delay, plus up to as much again at random.
    backoff: (attempt) => {
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      return Math.round(ceiling / 2 + (ceiling / 2) * random());
    },
    sleep: options.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms))),
    count: (name, value) => {
      if (value > 0) options.metrics?.addMetric(name, 'Count', value);
    },
    ...(options.logger ? { logger: options.logger } : {}),
  };
}

interface Attempted<T> {
  readonly done: readonly T[];
  /** Items to send again, with the reason they failed. */
  readonly retry: ReadonlyMap<T, FailedFinding>;
  readonly failed: readonly FailedFinding[];
}

/**
 * Sends `items` until each is done or failed: a call that fails for a reason
 * another try may fix (throttling, a server fault, no answer) is sent again
 * whole, the items a partial success names as retryable alone, each time after
 * the backoff, at most `maxAttempts` calls.
 */
async function withRetries<T>(operation: string, items: readonly T[], settings: Settings, idOf: (item: T) => string, send: (items: readonly T[]) => Promise<Attempted<T>>): Promise<{ done: T[]; failed: FailedFinding[] }> {
  const done: T[] = [];
  const failed: FailedFinding[] = [];
  let pending = items;
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    let retry: ReadonlyMap<T, FailedFinding>;
    try {
      const result = await send(pending);
      done.push(...result.done);
      failed.push(...result.failed);
      retry = result.retry;
    } catch (error) {
      const code = errorCode(error);
      const fault = classifyFault(error);
      if (fault === 'throttled') settings.count(SECURITY_HUB_METRICS.throttled, 1);
      const reason = { errorCode: code, errorMessage: errorMessage(error) };
      if (fault === 'client') {
        failed.push(...pending.map((item) => ({ id: idOf(item), ...reason })));
        break;
      }
      retry = new Map(pending.map((item) => [item, { id: idOf(item), ...reason }]));
    }
    if (retry.size === 0) break;
    if (attempt >= settings.maxAttempts) {
      failed.push(...retry.values());
      break;
    }
    const waitMs = settings.backoff(attempt);
    settings.logger?.warn(`Security Hub ${operation}: retrying`, { attempt, waitMs, findings: retry.size, errorCodes: [...new Set([...retry.values()].map((f) => f.errorCode))] });
    await settings.sleep(waitMs);
    pending = [...retry.keys()];
  }
  return { done, failed };
}

function findingBytes(finding: AwsSecurityFinding): number {
  return Buffer.byteLength(JSON.stringify(finding), 'utf8');
}

/** Batches of at most 100 findings and 6 MB, in order. */
function batchesOf(findings: readonly AwsSecurityFinding[]): AwsSecurityFinding[][] {
  const batches: AwsSecurityFinding[][] = [];
  let current: AwsSecurityFinding[] = [];
  let bytes = 0;
  for (const finding of findings) {
    const size = findingBytes(finding) + 1;
    if (current.length > 0 && (current.length >= ASFF_LIMITS.findingsPerBatch || bytes + size > ASFF_LIMITS.batchBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(finding);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Per-item answers of a batch call: done, failed for good, or worth another try. */
function sortAnswers<T>(pending: readonly T[], idOf: (item: T) => string, failureOf: (item: T) => { ErrorCode?: string; ErrorMessage?: string } | undefined): Attempted<T> {
  const done: T[] = [];
  const retry = new Map<T, FailedFinding>();
  const failed: FailedFinding[] = [];
  for (const item of pending) {
    const failure = failureOf(item);
    if (!failure) {
      done.push(item);
      continue;
    }
    const reason = { id: idOf(item), errorCode: failure.ErrorCode ?? 'UnknownError', errorMessage: failure.ErrorMessage ?? '' };
    if (PERMANENT_FINDING_ERRORS.has(reason.errorCode)) failed.push(reason);
    else retry.set(item, reason);
  }
  return { done, retry, failed };
}

const findingIdOf = (finding: AwsSecurityFinding | AwsSecurityFindingIdentifier) => finding.Id ?? '';

function importBatch(client: SecurityHubSender, settings: Settings, batch: readonly AwsSecurityFinding[]) {
  return withRetries('BatchImportFindings', batch, settings, findingIdOf, async (pending) => {
    const output = await client.send(new BatchImportFindingsCommand({ Findings: [...pending] }));
    const failures = new Map((output.FailedFindings ?? []).map((failure) => [failure.Id, failure]));
    return sortAnswers(pending, findingIdOf, (finding) => failures.get(finding.Id));
  });
}

/** One `BatchUpdateFindings` request's worth: the same workflow status and note for up to 100 findings. */
interface WorkflowUpdate {
  readonly status: WorkflowStatus;
  readonly note?: string;
  readonly identifiers: AwsSecurityFindingIdentifier[];
}

function workflowUpdates(findings: readonly AwsSecurityFinding[]): WorkflowUpdate[] {
  const groups = new Map<string, WorkflowUpdate>();
  for (const finding of findings) {
    const status = finding.Workflow?.Status;
    if (!status) continue;
    const note = finding.Note?.Text;
    const key = JSON.stringify([status, note ?? null]);
    const group = groups.get(key) ?? { status, ...(note ? { note } : {}), identifiers: [] };
    group.identifiers.push({ Id: finding.Id, ProductArn: finding.ProductArn });
    groups.set(key, group);
  }
  return [...groups.values()].flatMap((group) => {
    const chunks: WorkflowUpdate[] = [];
    for (let start = 0; start < group.identifiers.length; start += ASFF_LIMITS.findingsPerUpdate) {
      chunks.push({ ...group, identifiers: group.identifiers.slice(start, start + ASFF_LIMITS.findingsPerUpdate) });
    }
    return chunks;
  });
}

function updateWorkflow(client: SecurityHubSender, settings: Settings, update: WorkflowUpdate) {
  return withRetries('BatchUpdateFindings', update.identifiers, settings, findingIdOf, async (pending) => {
    const output = await client.send(
      new BatchUpdateFindingsCommand({
        FindingIdentifiers: [...pending],
        Workflow: { Status: update.status },
        ...(update.note ? { Note: { Text: update.note, UpdatedBy: NOTE_AUTHOR } } : {}),
      }),
    );
    const unprocessed = new Map((output.UnprocessedFindings ?? []).filter((entry) => entry.ErrorCode !== JUST_CREATED).map((entry) => [entry.FindingIdentifier?.Id, entry]));
    return sortAnswers(pending, findingIdOf, (identifier) => unprocessed.get(identifier.Id));
  });
}

/**
 * Imports the findings (`BatchImportFindings`, in batches of at most 100
 * findings and 6 MB), then sets the workflow status (and, for an exemption,
 * the note) of each imported finding with `BatchUpdateFindings`. Throttling
 * (`TooManyRequestsException`, `ThrottlingException`, `LimitExceededException`),
 * server faults and retryable per-finding failures are retried with
 * exponential backoff, at most `maxAttempts` calls per batch. Counts
 * `SecurityHubImported`, `SecurityHubWorkflowUpdated`, `SecurityHubThrottled`
 * and `SecurityHubFailed`; throws `SecurityHubDeliveryError` when any finding
 * still failed, after delivering all the others.
 */
export async function deliverFindings(findings: readonly AwsSecurityFinding[], client: SecurityHubSender, options: DeliverOptions = {}): Promise<DeliveryResult> {
  const settings = settingsOf(options);
  const imported: AwsSecurityFinding[] = [];
  const failed: FailedFinding[] = [];
  const oversized = findings.filter((finding) => findingBytes(finding) > ASFF_LIMITS.findingBytes);
  failed.push(...oversized.map((finding) => ({ id: finding.Id ?? '', errorCode: 'FindingSizeExceeded', errorMessage: `larger than ${ASFF_LIMITS.findingBytes} bytes: not sent` })));
  for (const batch of batchesOf(findings.filter((finding) => !oversized.includes(finding)))) {
    const result = await importBatch(client, settings, batch);
    imported.push(...result.done);
    failed.push(...result.failed);
  }
  settings.count(SECURITY_HUB_METRICS.imported, imported.length);
  let workflowUpdated = 0;
  for (const update of workflowUpdates(imported)) {
    const result = await updateWorkflow(client, settings, update);
    workflowUpdated += result.done.length;
    failed.push(...result.failed);
  }
  settings.count(SECURITY_HUB_METRICS.workflowUpdated, workflowUpdated);
  settings.count(SECURITY_HUB_METRICS.failed, failed.length);
  if (failed.length > 0) throw new SecurityHubDeliveryError(failed);
  return { imported: imported.length, workflowUpdated };
}

export class SecurityHubEventError extends ParseFault {
  override readonly name = 'SecurityHubEventError';
}

export interface SecurityHubSubscriberDeps {
  readonly logger: NotifierLogger;
  readonly metrics: MetricsSink;
  /** Checks each message's signature (`createAlertVerifier` with the key of this function's own environment). */
  readonly verifyAlert: AlertVerifier;
  readonly client: SecurityHubSender;
  /** The Region findings are imported in: the function's own. */
  readonly region: string;
  readonly now?: () => Date;
  readonly delivery?: Omit<DeliverOptions, 'metrics' | 'logger'>;
}

export interface SecurityHubResult extends DeliveryResult {
  /** Messages not imported: unverified, unreadable, or telling of no action. */
  readonly skipped: number;
}

/** The subscriber's logic: SNS event → verified alerts → findings → Security Hub. */
export function createSecurityHubSubscriber(deps: SecurityHubSubscriberDeps): (event: unknown) => Promise<SecurityHubResult> {
  const { logger, metrics } = deps;
  const now = deps.now ?? (() => new Date());
  return async (event) => {
    const parsed = AlertDeliverySchema.safeParse(event);
    if (!parsed.success) {
      const problems = formatIssues(parsed.error.issues);
      logger.error('not an SNS event: nothing imported', { problems });
      metrics.addMetric(SECURITY_HUB_METRICS.invalidMessage, 'Count', 1);
      throw new SecurityHubEventError(`not an SNS event: ${problems.join('; ')}`);
    }
    const findings: AwsSecurityFinding[] = [];
    let skipped = 0;
    for (const record of parsed.data.Records) {
      const { MessageId: messageId, Message: raw, MessageAttributes: attributes } = record.Sns;
      const verification = await deps.verifyAlert(raw, attributes);
      if (verification.status !== 'verified') {
        skipped += 1;
        metrics.addMetric(SECURITY_HUB_METRICS.unverified, 'Count', 1);
        const detail = verification.status === 'failed' ? { errorCode: verification.errorCode, error: verification.errorMessage } : { reason: verification.reason };
        logger.warn('message not signed by the bot (an alarm, or a forged alert): not imported', { messageId, verification: verification.status, ...detail });
        continue;
      }
      const body = parseAlertBody(raw);
      if (body.kind === 'unknown') {
        skipped += 1;
        metrics.addMetric(SECURITY_HUB_METRICS.invalidMessage, 'Count', 1);
        logger.warn('signed message not in the alert format: not imported', { messageId, problems: body.problems });
        continue;
      }
      const message = body.message;
      const finding = findingFromAlert(message, { region: deps.region, account: message.decision.account, now: now() });
      if (!finding) {
        skipped += 1;
        metrics.addMetric(SECURITY_HUB_METRICS.skipped, 'Count', 1);
        logger.info('alert tells of no action: not imported', { messageId, rule: message.decision.rule, outcome: message.outcome });
        continue;
      }
      findings.push(finding);
    }
    if (findings.length === 0) return { imported: 0, workflowUpdated: 0, skipped };
    try {
      const result = await deliverFindings(findings, deps.client, { ...deps.delivery, metrics, logger });
      logger.info('findings imported into Security Hub', { ids: findings.map((finding) => finding.Id), ...result });
      return { ...result, skipped };
    } catch (error) {
      logger.error('Security Hub delivery failed: Lambda will retry, then keep the event in the failure destination', {
        error: errorMessage(error),
        ...(error instanceof SecurityHubDeliveryError ? { failed: error.failed } : {}),
      });
      throw error;
    }
  };
}

export class SecurityHubConfigError extends ConfigFault {
  override readonly name = 'SecurityHubConfigError';
}

/**
 * The Lambda handler, wired as `handlers/notifier.ts` wires the notifier:
 * Powertools logger and metrics (namespace `RemediationBot`, dimension
 * `family=securityhub`), the alert key from `ALERT_SIGNING_KEY_ID`, and a
 * Security Hub client in `AWS_REGION` whose own retries are off, so that
 * `deliverFindings` is the one retry policy.
 */
export function securityHubLambda(env: Readonly<Record<string, string | undefined>>) {
  const region = env['AWS_REGION'];
  if (!region) throw new SecurityHubConfigError('AWS_REGION is not set: the Region to import findings in is unknown');
  const logger = new Logger({ serviceName: 'remediation-bot' });
  const metrics = createMetrics('securityhub', env);
  // The key comes from the stack, never from a message: a forger cannot name a key of their own.
  const verifyAlert = createAlertVerifier(env[SIGNING_KEY_ENV], createAwsGateway(securityHubVerifyCommands, { region }));
  const client = new SecurityHubClient({ region, maxAttempts: 1 });
  return middy(createSecurityHubSubscriber({ logger, metrics, verifyAlert, client, region }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}
