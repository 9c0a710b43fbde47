/**
 * `remediate undo <event-id>`: reads the undo record the Lambda stored for an
 * event (see `engine/undo-store.ts`) and replays its undo steps against the
 * account, newest applied plan first. `--dry-run` prints them and changes nothing.
 *
 * The undo steps run with the caller's credentials, through the same executor
 * as the Lambdas: it stops at the first failing step and says which steps ran.
 * A step whose work is already in place (`InvalidPermission.Duplicate`, …)
 * counts as done, so running `undo` twice is harmless.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createAwsGateway, errorCode, errorMessage, UnsupportedOperationError, type CommandTable, type SdkClientConstructor, type SdkCommandConstructor } from '../engine/aws.js';
import type { Env } from '../engine/decide.js';
import { describeStep, executePlan, type ExecutionReport } from '../engine/executor.js';
import type { PlanStep, Service, UndoStep } from '../engine/types.js';
import { dynamoDbUndoStore, type UndoEntry, type UndoStore } from '../engine/undo-store.js';
import { commandsByFamily } from '../remediations/commands.js';
import type { Io } from './format.js';

export const UNDO_USAGE = `remediate undo <event-id> [--dry-run] [--table NAME] [--region REGION] [--rule ID] [--force]
      Reverses what the bot applied for one CloudTrail event: reads the undo
      record from the bot's table and replays its undo steps with your
      credentials, the last applied change first. --dry-run only prints them.

Options:
  --table    the bot's idempotency table (default: $IDEMPOTENCY_TABLE)
  --region   the table's region (default: $AWS_REGION); each undo step runs in
             the region of its event
  --rule     undo only what this rule applied
  --force    replay again a record that was already undone

Exit codes: 0 done (or dry run), 1 usage error, 2 no undo record (or the table cannot be read), 4 an undo step failed.`;

/** The CLI's "a remediation failed" exit code (see `EXIT` in `main.ts`). */
export const EXIT_UNDO_FAILED = 4;

/** Codes that mean an undo step's work is already in place: the reversal was done before. */
export const UNDO_ALREADY_DONE_CODES = ['InvalidPermission.Duplicate', 'EntityAlreadyExists', 'EntityAlreadyExistsException'] as const;

/** The SDK v3 package and client class of each service, for undo operations a family's Lambda never sends. */
const SDK_PACKAGES: Readonly<Record<Service, { readonly pkg: string; readonly client: string }>> = {
  ec2: { pkg: '@aws-sdk/client-ec2', client: 'EC2Client' },
  iam: { pkg: '@aws-sdk/client-iam', client: 'IAMClient' },
  sns: { pkg: '@aws-sdk/client-sns', client: 'SNSClient' },
  cloudtrail: { pkg: '@aws-sdk/client-cloudtrail', client: 'CloudTrailClient' },
  sagemaker: { pkg: '@aws-sdk/client-sagemaker', client: 'SageMakerClient' },
  s3: { pkg: '@aws-sdk/client-s3', client: 'S3Client' },
  s3control: { pkg: '@aws-sdk/client-s3-control', client: 'S3ControlClient' },
  kms: { pkg: '@aws-sdk/client-kms', client: 'KMSClient' },
};

export type SdkModuleLoader = (packageName: string) => Promise<Readonly<Record<string, unknown>>>;

const importSdkModule: SdkModuleLoader = (packageName) => import(packageName) as Promise<Readonly<Record<string, unknown>>>;

/**
 * The commands the undo steps need: the family's own table, plus the reverse
 * operations (an `Authorize…` for a `Revoke…`) loaded from the service's SDK
 * package. The family's Lambda never holds those, on purpose.
 */
export async function undoCommandTable(family: string, steps: readonly UndoStep[], load: SdkModuleLoader = importSdkModule): Promise<CommandTable> {
  const base = (commandsByFamily as Readonly<Record<string, CommandTable | undefined>>)[family];
  const clients: Partial<Record<Service, SdkClientConstructor>> = { ...base?.clients };
  const commands: Record<string, SdkCommandConstructor> = { ...base?.commands };
  for (const step of steps) {
    const key = `${step.service}:${step.operation}`;
    if (commands[key] && clients[step.service]) continue;
    const sdk = (SDK_PACKAGES as Partial<Record<string, { readonly pkg: string; readonly client: string }>>)[step.service];
    if (!sdk) throw new UnsupportedOperationError(key);
    let module: Readonly<Record<string, unknown>>;
    try {
      module = await load(sdk.pkg);
    } catch {
      throw new UnsupportedOperationError(`${key} (install ${sdk.pkg})`);
    }
    const Command = module[`${step.operation}Command`];
    const Client = module[sdk.client];
    if (typeof Command !== 'function' || typeof Client !== 'function') throw new UnsupportedOperationError(key);
    commands[key] ??= Command as SdkCommandConstructor;
    clients[step.service] ??= Client as SdkClientConstructor;
  }
  return { clients, commands };
}

export interface UndoDeps {
  /** Default: the DynamoDB table named by `--table` or `IDEMPOTENCY_TABLE`. */
  readonly store?: UndoStore;
  readonly load?: SdkModuleLoader;
  readonly now?: () => Date;
}

function entryHeading(entry: UndoEntry, index: number): string {
  return `${index + 1}. ${entry.rule} (${entry.family}) ${entry.outcome === 'failed' ? 'applied part of its plan' : 'applied its plan'} at ${entry.appliedAt}, account ${entry.account}, region ${entry.region}`;
}

function printEntry(io: Io, entry: UndoEntry, index: number): void {
  io.out(entryHeading(entry, index));
  io.out('   changed:');
  for (const step of entry.applied) io.out(`     - ${describeStep(step)}`);
  if (entry.undo.length > 0) {
    io.out('   undo steps, in order:');
    entry.undo.forEach((step, i) => io.out(`     ${i + 1}. ${describeStep(step)}\n        why: ${step.reason}`));
  }
  for (const step of entry.irreversible) io.out(`   cannot be undone automatically: ${describeStep(step)} (${step.reason})`);
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
        io.err(`   FAILED: ${what}: ${result.errorCode ?? 'error'}: ${result.errorMessage ?? ''}${result.hint ? ` (your credentials need ${what === `s3control:${result.step.operation}` ? `s3:${result.step.operation}` : what})` : ''}`);
        break;
      case 'not-run':
        io.err(`   not run: ${what}`);
        break;
    }
  }
}

export async function undoCommand(args: readonly string[], io: Io, env: Env, deps: UndoDeps = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false },
      table: { type: 'string' },
      region: { type: 'string' },
      rule: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const [eventId, ...extra] = positionals;
  if (eventId === undefined || eventId.length === 0 || extra.length > 0) {
    io.err('undo: name exactly one event id (the CloudTrail eventID shown in the alert)\n');
    io.err(UNDO_USAGE);
    return 1;
  }
  const tableName = values.table ?? env['IDEMPOTENCY_TABLE'];
  let store = deps.store;
  if (!store) {
    if (!tableName) {
      io.err('undo: name the bot\'s table with --table or IDEMPOTENCY_TABLE (the stack output of the deployment)');
      return 1;
    }
    const region = values.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
    store = dynamoDbUndoStore({ tableName, client: new DynamoDBClient(region ? { region } : {}) });
  }

  let record: Awaited<ReturnType<UndoStore['read']>>;
  try {
    record = await store.read(eventId);
  } catch (error) {
    io.err(`undo: cannot read the undo record${tableName ? ` from table ${tableName}` : ''}: ${errorCode(error)}: ${errorMessage(error)}`);
    return 2;
  }
  const entries = [...(record?.entries ?? [])].reverse().filter((entry) => values.rule === undefined || entry.rule === values.rule);
  if (!record || entries.length === 0) {
    io.err(
      `undo: no undo record for event ${eventId}${values.rule ? ` and rule ${values.rule}` : ''}${tableName ? ` in table ${tableName}` : ''}: ` +
        'the bot applied nothing for it, or the record expired (they are kept 90 days)',
    );
    return 2;
  }

  io.out(`Undo record of event ${eventId}: ${entries.length} applied plan(s), newest first`);
  entries.forEach((entry, index) => printEntry(io, entry, index));
  const steps = entries.reduce((total, entry) => total + entry.undo.length, 0);
  if (record.undoneAt && !values.force) {
    io.out(`Already undone at ${record.undoneAt}: nothing to do (pass --force to replay the undo steps again).`);
    return 0;
  }
  if (values['dry-run']) {
    io.out(`Dry run: nothing was changed. Without --dry-run, ${steps} undo step(s) run in the order shown.`);
    return 0;
  }

  for (const [index, entry] of entries.entries()) {
    if (entry.undo.length === 0) continue;
    io.out(`Undoing ${index + 1}. ${entry.rule}:`);
    const plan: PlanStep[] = entry.undo.map((step) => ({ ...step, alreadyDoneCodes: UNDO_ALREADY_DONE_CODES }));
    let report: ExecutionReport;
    try {
      const table = await undoCommandTable(entry.family, plan, deps.load);
      report = await executePlan(plan, createAwsGateway(table, { region: entry.region }));
    } catch (error) {
      io.err(`undo: ${error instanceof Error ? error.message : String(error)}`);
      return EXIT_UNDO_FAILED;
    }
    printReport(io, report);
    if (report.status === 'failed') {
      io.err(`undo: stopped at the first failing step; the steps marked done were applied. Fix the cause and run undo again (steps already in place count as done).`);
      return EXIT_UNDO_FAILED;
    }
  }
  // A partial undo (--rule) leaves the record open for the rest.
  if (entries.length === record.entries.length) await store.markUndone(eventId, deps.now?.() ?? new Date());
  io.out(`Undone: ${steps} step(s) replayed for event ${eventId}.`);
  return 0;
}
