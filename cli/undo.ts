/**
 * `remediate undo <event-id>`: reads the undo records the Lambdas stored for an
 * event, one per rule family (see `engine/undo-store.ts`), and replays their
 * undo steps against the account, newest applied plan first. `--dry-run`
 * prints them and changes nothing.
 *
 * A record is data a function wrote, and the steps run with a person's
 * credentials, so nothing in it runs unless the fixed inverse table
 * (`engine/undo-inverses.ts`) allows it: each undo step must reverse a step
 * the same entry says the bot applied, on the same resource, and the entry
 * must be its family's. One step that does not pass refuses everything, before
 * any AWS call. This file holds the SDK commands of the table's undo
 * operations and of no other.
 *
 * On a terminal the steps are shown and run only once confirmed (`--yes`
 * skips the question; without a terminal `--yes` is required). The caller's
 * identity (STS GetCallerIdentity), the time and the steps are written back to
 * the record. The executor stops at the first failing step and says which
 * steps ran; a step whose work is already in place (`InvalidPermission.Duplicate`,
 * …) counts as done, so running `undo` twice is harmless.
 */
import { EXIT } from './exit-codes.js';
import { iamActionFor } from '../engine/iam-actions.js';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CloudTrailClient, DeleteTrailCommand, PutEventSelectorsCommand, StopLoggingCommand, UpdateTrailCommand } from '@aws-sdk/client-cloudtrail';
import { ConfigServiceClient, StopConfigurationRecorderCommand } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  AssociateIamInstanceProfileCommand,
  AttachVolumeCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkAclEntryCommand,
  DeleteTagsCommand,
  DetachVolumeCommand,
  DisableEbsEncryptionByDefaultCommand,
  EC2Client,
  ModifyEbsDefaultKmsKeyIdCommand,
  ModifyImageAttributeCommand,
  ModifyInstanceMetadataOptionsCommand,
  ModifySnapshotAttributeCommand,
  ResetEbsDefaultKmsKeyIdCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GuardDutyClient, UpdateDetectorCommand } from '@aws-sdk/client-guardduty';
import {
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DetachRolePolicyCommand,
  IAMClient,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  SetDefaultPolicyVersionCommand,
  UpdateAccessKeyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { DisableKeyCommand, DisableKeyRotationCommand, KMSClient, PutKeyPolicyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { DeleteBucketPolicyCommand, DeletePublicAccessBlockCommand, PutBucketAclCommand, PutBucketEncryptionCommand, PutBucketPolicyCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DeletePublicAccessBlockCommand as DeleteAccountPublicAccessBlockCommand,
  PutPublicAccessBlockCommand as PutAccountPublicAccessBlockCommand,
  S3ControlClient,
} from '@aws-sdk/client-s3-control';
import { DeleteEndpointConfigCommand, SageMakerClient, StartNotebookInstanceCommand, StopNotebookInstanceCommand, UpdateEndpointCommand, UpdateNotebookInstanceCommand } from '@aws-sdk/client-sagemaker';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { createAwsGateway, errorCode, errorMessage, UnsupportedOperationError, type AwsGateway, type CommandTable, type SdkClientConstructor, type SdkCommandConstructor } from '../engine/aws.js';
import type { Env } from '../engine/decide.js';
import { executePlan, type ExecutionReport } from '../engine/executor.js';
import { describeStep } from '../engine/step-text.js';
import { isStepOutputRef, isUnknownValue, type PlanStep, type Rule, type UndoStep } from '../engine/types.js';
import { isUndoOperation, undoEntryProblem, type UndoOperation, type UndoService } from '../engine/undo-inverses.js';
import { dynamoDbUndoStore, type UndoEntry, type UndoRecord, type UndoStore } from '../engine/undo-store.js';
import { rulesByFamily } from '../remediations/registry.js';
import type { Io } from './format.js';
import { sessionCredentials } from '../handlers/member-access.js';
import { COMMAND_HELP, UNDO_OPTIONS } from './usage.js';
import { partitionOf, sessionName, UNDO_ROLE_NAME } from '../engine/accounts.js';

/** Codes that mean an undo step's work is already in place: the reversal was done before. */
const UNDO_ALREADY_DONE_CODES = ['InvalidPermission.Duplicate', 'EntityAlreadyExists', 'EntityAlreadyExistsException'] as const;

/**
 * The SDK commands `remediate undo` can send: exactly the undo operations of
 * the inverse table (the type requires each one, and no other).
 */
export const UNDO_COMMANDS = {
  clients: {
    ec2: EC2Client,
    iam: IAMClient,
    cloudtrail: CloudTrailClient,
    kms: KMSClient,
    s3: S3Client,
    s3control: S3ControlClient,
    sagemaker: SageMakerClient,
    guardduty: GuardDutyClient,
    configservice: ConfigServiceClient,
  } satisfies Record<UndoService, SdkClientConstructor>,
  commands: {
    'ec2:AuthorizeSecurityGroupIngress': AuthorizeSecurityGroupIngressCommand,
    'ec2:AssociateIamInstanceProfile': AssociateIamInstanceProfileCommand,
    'ec2:CreateNetworkAclEntry': CreateNetworkAclEntryCommand,
    'ec2:DisableEbsEncryptionByDefault': DisableEbsEncryptionByDefaultCommand,
    'ec2:ModifyEbsDefaultKmsKeyId': ModifyEbsDefaultKmsKeyIdCommand,
    'ec2:ResetEbsDefaultKmsKeyId': ResetEbsDefaultKmsKeyIdCommand,
    'ec2:DeleteTags': DeleteTagsCommand,
    'ec2:StartInstances': StartInstancesCommand,
    'ec2:StopInstances': StopInstancesCommand,
    'ec2:AttachVolume': AttachVolumeCommand,
    'ec2:DetachVolume': DetachVolumeCommand,
    'ec2:ModifySnapshotAttribute': ModifySnapshotAttributeCommand,
    'ec2:ModifyImageAttribute': ModifyImageAttributeCommand,
    'ec2:ModifyInstanceMetadataOptions': ModifyInstanceMetadataOptionsCommand,
    'iam:AttachRolePolicy': AttachRolePolicyCommand,
    'iam:AttachUserPolicy': AttachUserPolicyCommand,
    'iam:AttachGroupPolicy': AttachGroupPolicyCommand,
    'iam:DetachRolePolicy': DetachRolePolicyCommand,
    'iam:PutRolePolicy': PutRolePolicyCommand,
    'iam:PutUserPolicy': PutUserPolicyCommand,
    'iam:PutGroupPolicy': PutGroupPolicyCommand,
    'iam:SetDefaultPolicyVersion': SetDefaultPolicyVersionCommand,
    'iam:UpdateAssumeRolePolicy': UpdateAssumeRolePolicyCommand,
    'iam:UpdateAccessKey': UpdateAccessKeyCommand,
    'cloudtrail:StopLogging': StopLoggingCommand,
    'cloudtrail:UpdateTrail': UpdateTrailCommand,
    'cloudtrail:PutEventSelectors': PutEventSelectorsCommand,
    'cloudtrail:DeleteTrail': DeleteTrailCommand,
    'kms:ScheduleKeyDeletion': ScheduleKeyDeletionCommand,
    'kms:DisableKey': DisableKeyCommand,
    'kms:DisableKeyRotation': DisableKeyRotationCommand,
    'kms:PutKeyPolicy': PutKeyPolicyCommand,
    's3:PutBucketAcl': PutBucketAclCommand,
    's3:PutPublicAccessBlock': PutPublicAccessBlockCommand,
    's3:DeletePublicAccessBlock': DeletePublicAccessBlockCommand,
    's3:PutBucketPolicy': PutBucketPolicyCommand,
    's3:DeleteBucketPolicy': DeleteBucketPolicyCommand,
    's3:PutBucketEncryption': PutBucketEncryptionCommand,
    's3control:PutPublicAccessBlock': PutAccountPublicAccessBlockCommand,
    's3control:DeletePublicAccessBlock': DeleteAccountPublicAccessBlockCommand,
    'sagemaker:DeleteEndpointConfig': DeleteEndpointConfigCommand,
    'sagemaker:UpdateEndpoint': UpdateEndpointCommand,
    'sagemaker:StartNotebookInstance': StartNotebookInstanceCommand,
    'sagemaker:StopNotebookInstance': StopNotebookInstanceCommand,
    'sagemaker:UpdateNotebookInstance': UpdateNotebookInstanceCommand,
    'guardduty:UpdateDetector': UpdateDetectorCommand,
    'configservice:StopConfigurationRecorder': StopConfigurationRecorderCommand,
  } satisfies Record<UndoOperation, SdkCommandConstructor>,
} as const satisfies CommandTable;

/** The commands these undo steps need; a step outside the inverse table has none. */
export function undoCommandTable(steps: readonly UndoStep[]): CommandTable {
  for (const step of steps) {
    const key = `${step.service}:${step.operation}`;
    if (!isUndoOperation(key)) throw new UnsupportedOperationError(key);
  }
  return UNDO_COMMANDS;
}

/** Who runs the undo, as STS says. */
interface CallerIdentity {
  readonly arn: string;
  readonly account: string;
}

async function callerIdentity(region: string): Promise<CallerIdentity> {
  const sts = new STSClient({ region });
  try {
    const { Arn: arn, Account: account } = await sts.send(new GetCallerIdentityCommand({}));
    if (!arn || !account) throw new Error('GetCallerIdentity named no ARN or account');
    return { arn, account };
  } finally {
    sts.destroy();
  }
}

/** A role in another account that the caller assumes to undo there. */
interface RoleRequest {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly region: string;
  /** The IAM actions of this record's undo steps there: the session may do these and nothing else the role may. */
  readonly actions: readonly string[];
}

/** A role's name, with its path if any, as `--role` takes it. */
const ROLE_NAME = /^([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

async function assumeRole({ roleArn, sessionName: session, region, actions }: RoleRequest): Promise<AwsCredentialIdentity> {
  const sts = new STSClient({ region });
  // A session policy: the role is the ceiling, this undo's own operations the session's limit.
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] });
  try {
    const { Credentials: answer } = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: session, DurationSeconds: 3600, Policy: policy }));
    return sessionCredentials(answer, new Date(Date.now() + 3_600_000));
  } finally {
    sts.destroy();
  }
}

/** The session's name in the member account's CloudTrail: who undid, from the caller's ARN (`…/alice`). */
function undoSessionName(callerArn: string): string {
  return sessionName('remediate-undo-', callerArn.split('/').at(-1) ?? 'operator');
}

interface UndoDeps {
  /** Default: the DynamoDB table named by `--table` or `IDEMPOTENCY_TABLE`. */
  readonly store?: UndoStore;
  /** Default: STS GetCallerIdentity in `region`. */
  readonly whoAmI?: (region: string) => Promise<CallerIdentity>;
  readonly now?: () => Date;
}

/** One entry of one family's record, as it will be shown and run. */
interface Planned {
  readonly record: UndoRecord;
  readonly entry: UndoEntry;
}

// C0 and C1 controls, and the bidirectional overrides: a record must not be able to redraw the terminal it is shown on.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Record text as it is safe to show: control characters escaped. */
function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function entryHeading(entry: UndoEntry, index: number): string {
  return printable(
    `${index + 1}. ${entry.rule} (${entry.family}) ${entry.outcome === 'applied' ? 'applied its plan' : 'applied part of its plan'} at ${entry.appliedAt}, account ${entry.account}, region ${entry.region}`,
  );
}

function printEntry(io: Io, entry: UndoEntry, index: number): void {
  io.out(entryHeading(entry, index));
  io.out('   changed:');
  for (const step of entry.applied) io.out(`     - ${printable(describeStep(step))}`);
  if (entry.undo.length > 0) {
    io.out('   undo steps, in order:');
    entry.undo.forEach((step, i) => io.out(`     ${i + 1}. ${printable(describeStep(step))}\n        why: ${printable(step.reason)}`));
  }
  for (const step of entry.irreversible) io.out(`   cannot be undone automatically: ${printable(describeStep(step))} (${printable(step.reason)})`);
}

function printReport(io: Io, report: ExecutionReport): void {
  for (const result of report.steps) {
    const what = `${result.step.service}:${result.step.operation}`;
    switch (result.status) {
      case 'applied':
        io.out(`   done: ${what}`);
        break;
      case 'already-done':
        io.out(`   already in place: ${what}${result.errorCode ? ` (${result.errorCode})` : ''}`);
        break;
      case 'failed':
        // The executor's hint names a Lambda role; here the caller's own credentials run the step.
        io.err(`   FAILED: ${what}: ${result.errorCode ?? 'error'}: ${result.errorMessage ?? ''}${result.hint ? ` (your credentials need ${iamActionFor(result.step.service, result.step.operation)})` : ''}`);
        break;
      case 'not-run':
        io.err(`   not run: ${what}`);
        break;
    }
  }
}

function holdsPlaceholder(value: unknown): boolean {
  if (isStepOutputRef(value) || isUnknownValue(value)) return true;
  if (Array.isArray(value)) return value.some(holdsPlaceholder);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(holdsPlaceholder);
  return false;
}

/** Why the records must not run, in one line, or `undefined`: every entry of every record passes the inverse table. */
function refusal(records: readonly UndoRecord[]): string | undefined {
  for (const record of records) {
    const rules = (rulesByFamily as Readonly<Record<string, readonly Rule[] | undefined>>)[record.family] ?? [];
    for (const [index, entry] of record.entries.entries()) {
      const problem = undoEntryProblem(entry, record.family, rules);
      if (problem) return `the undo record of family ${record.family}, entry ${index + 1} (${entry.rule}): ${problem}`;
    }
  }
  return undefined;
}

/** A terminal on both ends: someone is there to answer. */
function isInteractive(io: Io): boolean {
  return io.stdoutIsTTY && (io.stdin as { readonly isTTY?: boolean } | undefined)?.isTTY === true;
}

async function confirm(io: Io, question: string): Promise<boolean> {
  const input = io.stdin;
  if (!input) return false;
  io.out(question);
  const lines = createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) return /^\s*y(es)?\s*$/i.test(line);
    return false;
  } finally {
    lines.close();
  }
}

function undoneNote(record: UndoRecord): string {
  return `${record.undoneAt ?? ''}${record.undoneBy ? ` by ${printable(record.undoneBy)}` : ''}`;
}

export async function undoCommand(args: readonly string[], io: Io, env: Env, deps: UndoDeps = {}): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: UNDO_OPTIONS });
  if (values.role !== undefined && !ROLE_NAME.test(values.role)) {
    io.err(`undo: --role must be a role's name (with its path, if any), such as ${UNDO_ROLE_NAME}`);
    return EXIT.usage;
  }
  const [eventId, ...extra] = positionals;
  if (eventId === undefined || eventId.length === 0 || extra.length > 0) {
    io.err('undo: name exactly one event id (the CloudTrail eventID shown in the alert)\n');
    io.err(COMMAND_HELP.undo);
    return EXIT.usage;
  }
  const tableName = values.table ?? env['IDEMPOTENCY_TABLE'];
  let store = deps.store;
  if (!store) {
    if (!tableName) {
      io.err('undo: name the bot\'s table with --table or IDEMPOTENCY_TABLE (the stack output of the deployment)');
      return EXIT.usage;
    }
    const region = values.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
    store = dynamoDbUndoStore({ tableName, client: new DynamoDBClient(region ? { region } : {}) });
  }

  let records: readonly UndoRecord[];
  try {
    records = await store.read(eventId, Object.keys(rulesByFamily));
  } catch (error) {
    io.err(`undo: cannot read the undo records${tableName ? ` from table ${tableName}` : ''}: ${errorCode(error)}: ${errorMessage(error)}`);
    return EXIT.unreadable;
  }
  // Every record of the event is checked, also those --rule leaves out: a planted one means none can be trusted.
  const refused = refusal(records);
  if (refused) {
    io.err(`undo: refused, nothing was run: ${printable(refused)}. Only the inverse of a step the bot applied, on the same resource, can be undone (engine/undo-inverses.ts); do not trust this record.`);
    return EXIT.unreadable;
  }
  const planned: Planned[] = records
    .flatMap((record) => [...record.entries].reverse().map((entry) => ({ record, entry })))
    .filter(({ entry }) => values.rule === undefined || entry.rule === values.rule)
    .sort((a, b) => b.entry.appliedAt.localeCompare(a.entry.appliedAt));
  if (planned.length === 0) {
    io.err(
      `undo: no undo record for event ${printable(eventId)}${values.rule ? ` and rule ${printable(values.rule)}` : ''}${tableName ? ` in table ${tableName}` : ''}: ` +
        'the bot applied nothing for it, or the record expired (they are kept 90 days)',
    );
    return EXIT.unreadable;
  }

  io.out(`Undo record of event ${printable(eventId)}: ${planned.length} applied plan(s), newest first`);
  planned.forEach(({ entry }, index) => printEntry(io, entry, index));
  const toRun = planned.filter(({ record }) => values.force || record.undoneAt === undefined);
  const steps = toRun.reduce((total, { entry }) => total + entry.undo.length, 0);
  if (toRun.length === 0) {
    const undone = [...new Set(planned.map(({ record }) => record))];
    io.out(`Already undone at ${undone.map(undoneNote).join('; ')}: nothing to do (pass --force to replay the undo steps again).`);
    return EXIT.ok;
  }
  for (const record of new Set(planned.filter((item) => !toRun.includes(item)).map(({ record }) => record))) {
    io.out(`The ${record.family} record was already undone at ${undoneNote(record)}: its steps are skipped (pass --force to replay them again).`);
  }
  // The undo's calls are new events to the bot: a rule in `remediate` would fix them again.
  io.out('Note: the bot sees these calls as new events; a rule in remediate mode fixes them again unless the resource is exempted first (docs/configuration.md#exemptions).');
  if (values['dry-run']) {
    io.out(`Dry run: nothing was changed. Without --dry-run, ${steps} undo step(s) run in the order shown.`);
    return EXIT.ok;
  }
  const unknown = toRun.flatMap(({ entry }) => entry.undo.filter((step) => holdsPlaceholder(step.input)).map((step) => `${entry.rule}: ${step.service}:${step.operation}`));
  if (unknown.length > 0) {
    io.err(`undo: nothing was run: ${unknown.map(printable).join(', ')} holds a value the bot did not know; run the step(s) by hand with the value filled in (see the alert), or undo the other rules with --rule.`);
    return EXIT.unreadable;
  }
  if (!values.yes && !isInteractive(io)) {
    io.err(`undo: nothing was run: stdin is not a terminal, so nobody can confirm ${steps} undo step(s). Review them with --dry-run, then pass --yes to run them.`);
    return EXIT.usage;
  }

  const firstRegion = toRun[0]?.entry.region ?? values.region ?? env['AWS_REGION'] ?? 'us-east-1';
  let caller: CallerIdentity;
  try {
    caller = await (deps.whoAmI ?? callerIdentity)(firstRegion);
  } catch (error) {
    io.err(`undo: nothing was run: your identity could not be established (sts:GetCallerIdentity): ${errorCode(error)}: ${errorMessage(error)}`);
    return EXIT.failed;
  }
  // Steps in another account (an Organization hub's record) run as a role there: assumed before anything runs.
  const partition = partitionOf(caller.arn);
  const roles = new Map<string, { readonly arn: string; readonly credentials: AwsCredentialIdentity }>();
  for (const account of new Set(toRun.filter(({ entry }) => entry.account !== caller.account && entry.undo.length > 0).map(({ entry }) => entry.account))) {
    const roleArn = `arn:${partition}:iam::${account}:role/${values.role ?? UNDO_ROLE_NAME}`;
    const actions = [...new Set(toRun.filter(({ entry }) => entry.account === account).flatMap(({ entry }) => entry.undo.map((step) => iamActionFor(step.service, step.operation))))].sort();
    try {
      roles.set(account, { arn: roleArn, credentials: await assumeRole({ roleArn, sessionName: undoSessionName(caller.arn), region: firstRegion, actions }) });
    } catch (error) {
      io.err(
        `undo: nothing was run: event ${printable(eventId)} was remediated in account ${account}, and ${roleArn} could not be assumed as ${printable(caller.arn)}: ${errorCode(error)}: ${errorMessage(error)}. ` +
          `Enrol who may undo with the member template's --undo-principals (docs/organizations.md), name another role you may assume there with --role, or run undo with credentials of account ${account}.`,
      );
      return EXIT.failed;
    }
  }
  if (!values.yes) {
    const where = [...new Set(toRun.map(({ entry }) => entry.account))].map((account) => `in account ${account} as ${roles.get(account)?.arn ?? printable(caller.arn)}`);
    const accepted = await confirm(io, `Run these ${steps} undo step(s) ${where.join('; ')}? Type "yes" to continue:`);
    if (!accepted) {
      io.err('undo: not confirmed; nothing was run.');
      return EXIT.usage;
    }
  }

  const gateways = new Map<string, AwsGateway>();
  const ran = new Map<UndoRecord, UndoStep[]>();
  let failed = false;
  for (const [index, { record, entry }] of toRun.entries()) {
    ran.set(record, ran.get(record) ?? []);
    if (entry.undo.length === 0) continue;
    io.out(`Undoing ${index + 1}. ${printable(entry.rule)}:`);
    const plan: PlanStep[] = entry.undo.map((step) => ({ ...step, alreadyDoneCodes: UNDO_ALREADY_DONE_CODES }));
    let report: ExecutionReport;
    try {
      const role = roles.get(entry.account);
      let gateway = gateways.get(`${entry.account}#${entry.region}`);
      if (!gateway) {
        gateway = createAwsGateway(undoCommandTable(plan), { region: entry.region, ...(role ? { credentials: role.credentials } : {}) });
        gateways.set(`${entry.account}#${entry.region}`, gateway);
      }
      report = await executePlan(plan, gateway);
    } catch (error) {
      io.err(`undo: ${error instanceof Error ? error.message : String(error)}`);
      failed = true;
      break;
    }
    printReport(io, report);
    const done = report.steps.filter((result) => result.status === 'applied' || result.status === 'already-done').map((result) => entry.undo[result.index] ?? result.step);
    ran.set(record, [...(ran.get(record) ?? []), ...done]);
    if (report.status === 'failed') {
      io.err(`undo: stopped at the first failing step; the steps marked done were applied. Fix the cause and run undo again (steps already in place count as done).`);
      failed = true;
      break;
    }
  }

  const at = deps.now?.() ?? new Date();
  try {
    for (const record of ran.keys()) {
      // A partial undo (--rule, or a failure) is logged but leaves the record open for the rest.
      const complete = !failed && record.entries.every((entry) => toRun.some((item) => item.entry === entry));
      // An Organization hub's record tells which role the caller undid as, in the member account.
      const as = [...new Set(record.entries.map((entry) => roles.get(entry.account)?.arn).filter((arn) => arn !== undefined))];
      await store.markUndone(eventId, record.family, { by: `${caller.arn}${as.length > 0 ? ` as ${as.join(', ')}` : ''}`, at, steps: ran.get(record) ?? [], complete });
    }
  } catch (error) {
    io.err(`undo: the undo steps ran, but who undid them could not be written to the record: ${errorCode(error)}: ${errorMessage(error)}`);
    return EXIT.failed;
  }
  if (failed) return EXIT.failed;
  io.out(`Undone: ${steps} step(s) replayed for event ${printable(eventId)} by ${printable(caller.arn)} at ${at.toISOString()}.`);
  return EXIT.ok;
}
