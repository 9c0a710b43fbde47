/**
 * The `remediate` CLI's help texts and its argument checks: every usage error
 * is one line: `remediate: <what is wrong> (see "remediate <command> --help")`.
 */
import { EXIT } from './exit-codes.js';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ConfigFault } from '../engine/errors.js';
import { HISTORY_OUTCOMES, SEVERITIES } from '../engine/types.js';
import packageJson from '../package.json' with { type: 'json' };
import { FORMATS } from './format.js';
import { didYouMean } from './suggest.js';
import { terminalText } from './terminal.js';

/** The version of the package, carried into the bundle by the JSON import. */
export const VERSION: string = packageJson.version;

export const COMMANDS = ['replay', 'invoke', 'undo', 'history', 'proposals', 'approve', 'dismiss', 'redrive', 'member-template', 'rules'] as const;
export type Command = (typeof COMMANDS)[number];

/** A usage error; `command` names the help to point at (`remediate <command> --help`). */
export class UsageError extends ConfigFault {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
  }
}

/** The one line a usage error prints. */
export function usageErrorLine(error: UsageError): string {
  return `remediate: ${terminalText(error.message)} (see "remediate ${error.command ? `${error.command} ` : ''}--help")`;
}

/**
 * Runs a command built apart from the CLI's entry (it carries the real SDK,
 * `dist/aws/`): the entry cannot tell that bundle's `UsageError` class from
 * its own, so a usage error is turned into its one line and exit 1 here.
 */
export async function usageChecked(io: { err(text: string): void }, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(usageErrorLine(error));
    return EXIT.usage;
  }
}

export const FAIL_ON_LEVELS = ['violation', ...SEVERITIES] as const;
export type FailOn = (typeof FAIL_ON_LEVELS)[number];

const EXIT_CODES = `Exit codes:
  0  success (with --fail-on: the gate passed)
  1  usage or config error; undo: not confirmed, or no terminal and no --yes
  2  an input could not be read (the rest was replayed); invoke: an invalid event;
     undo: no record, or the record was refused; history: the table could not be
     read, or held an item that is not a history record
  3  --fail-on: a violation at or above the --fail-on level was found
  4  invoke: a remediation failed or AWS answered with an unexpected fault;
     undo: an undo step failed, or the undo could not start or be recorded
  5  --fail-on: no record was read (empty input), and no --allow-empty
  6  --fail-on: a record was invalid, and no --allow-invalid
  With --fail-on, the first that applies of 2, 6, 5, 3 is the exit code.`;

export const OVERVIEW_HELP = `remediate: event-driven AWS remediation bot (version ${VERSION})

Usage:
  remediate replay <file|dir|->... [options]
      Dry run of recorded CloudTrail, offline: prints the exact API calls the
      bot would make. Nothing is executed; no AWS access is needed.
  remediate invoke <event.json> [options]
      Runs one event through the full Lambda path against AWS, in the
      configured mode.
  remediate undo <event-id> [options]
      Reverses what the bot applied for one CloudTrail event.
  remediate history [options]
      What the deployed bot decided and did, newest first, from its history
      table: what it applied, proposed, could not inspect.
  remediate proposals [options]
      The open proposals (with approvals on): rule, resource, account, age.
  remediate approve <proposal-id> [options]
      Has the family's function run the stored plan, re-checked against the
      present; remediate dismiss <proposal-id> closes it unapplied.
  remediate redrive [options]
      Lists what waits in the stack's dead-letter and failure queues, and
      sends it through its function again.
  remediate member-template --hub-account ID [options]
      The CloudFormation template that enrols an organisation's accounts
      (a StackSet): forwarding rules and the roles the hub assumes.
  remediate rules [options]
      Lists the rules, with the mode and settings each runs with.
  remediate <command> --help     that command's options
  remediate --version

${EXIT_CODES}`;

const REPLAY_HELP = `Usage: remediate replay <file|dir|->... [options]
       remediate replay --from cloudtrail [--region R]... [options]
       remediate replay --from athena --database D --table T [options]
       remediate replay --from lake --event-data-store ARN [options]

Dry run: replays recorded CloudTrail through the same EventBridge patterns,
rules and plans as the Lambdas, offline, and prints the exact API calls that
would be made. Nothing is executed; no AWS access is needed (--from reads the
history from the account, and only reads).

Inputs (format detected per file; gzip detected by content):
  EventBridge events: one JSON object, a JSON array, or JSON Lines
  CloudTrail log files as S3 delivers them ({"Records":[...]}, .json.gz),
    e.g. a whole AWSLogs/<account>/CloudTrail/ tree
  aws cloudtrail lookup-events output ({"Events":[...]})
  CloudTrail Lake or Athena exports: JSON Lines of raw records
  - reads stdin

Options:
  --format ${FORMATS.join('|')}
                    default: table on a terminal, jsonl otherwise
  --config FILE     config file (default: ./remediation.config.yml when present)
  --rule ID         only this rule (repeatable; "remediate rules" lists them)
  --from cloudtrail read the account's event history (LookupEvents, the last
                    90 days of management events) instead of files; needs
                    AWS credentials with cloudtrail:LookupEvents only
  --region R        with --from cloudtrail: a Region to read (repeatable;
                    default: AWS_REGION); with --from athena or lake: only
                    events of that Region
  --from athena --database D --table T
                    query the CloudTrail table in Amazon Athena for exactly
                    the events a rule can act on (default --since: 7d).
                    Also: --workgroup W, --output-location s3://..., --account
                    ID (repeatable), --projection (a table partitioned by
                    timestamp yyyy/MM/dd), --print-sql (print the query, call
                    nothing)
  --from lake --event-data-store ARN
                    the same query in a CloudTrail Lake event data store (ARN
                    or id; default --since: 7d). Also: --account ID
                    (repeatable), --print-sql
  --account ID      only that account's events (repeatable): an organisation
                    trail (AWSLogs/o-.../<account>/...) holds every account's;
                    other accounts' folders are not read. The summary counts
                    verdicts per account
  --since TIME      only events at or after TIME: 7d or 12h before now, or
                    ISO 8601 (2025-03-01, 2025-03-01T12:00:00Z)
  --until TIME      only events before TIME. In CloudTrail's S3 layout
                    (.../CloudTrail/<region>/YYYY/MM/DD) the date folders
                    outside the range are not read
  --fail-on LEVEL   CI gate. LEVEL is violation (any violation) or
                    ${SEVERITIES.join('|')} (a violation of at least that
                    severity): exit 3 when one is found. The gate also fails
                    when an input is unreadable (exit 2), a record is invalid
                    (exit 6) or no record was read (exit 5).
  --allow-empty     with --fail-on: pass when no record was read
  --allow-invalid   with --fail-on: pass despite invalid records and
                    unreadable inputs
  --only violations
                    table, markdown and html: list only the violations (the
                    others still count in the totals)
  --width N         table width in columns (default: the terminal's, else 100)
  --color auto|always|never
                    table colours (auto: on a terminal; NO_COLOR turns them off)
  --jobs N          worker threads (default: one per core, at most 4, with more than two cores; else 1)
  -h, --help        this help

The summary counts the records read, those filtered out by --since/--until,
those that reached a rule and the invalid ones. With --fail-on, one line on
stderr says whether the gate passed and why.

${EXIT_CODES}`;

const INVOKE_HELP = `Usage: remediate invoke <event.json|-> [options]

Runs one event through the full Lambda path against the AWS endpoint of the
environment (AWS_ENDPOINT_URL, AWS_REGION, the credentials chain), in the
configured mode: only rules in "remediate" mode change anything, and
DRY_RUN=true caps every rule at "propose".

Options:
  --config FILE        config file (default: ./remediation.config.yml when present)
  --format text|json   default: text
  --hub-account ID     act as an Organization hub deployed in this account: an
                       event in another account is read and acted on as that
                       account's member role for each family (sts:AssumeRole),
                       as the hub's functions would
  -h, --help           this help

Exit codes: 0 done, 1 usage or config error, 2 an invalid event,
4 a remediation failed or AWS answered with an unexpected fault.`;

const UNDO_HELP = `Usage: remediate undo <event-id> [options]

Reverses what the bot applied for one CloudTrail event: reads the undo
records of every rule family from the bot's table, checks that each undo
step is the inverse of a step the bot applied, on the same resource (a fixed
table; anything else refuses the whole record before any AWS call), shows the
steps and, once you confirm, replays them with your credentials, the last
applied change first. Who undid what, and when, is written back to the record.

Options:
  --dry-run        only print the steps
  --yes            run without asking; required when stdin is not a terminal
  --table NAME     the bot's idempotency table (default: $IDEMPOTENCY_TABLE)
  --region REGION  the table's region (default: $AWS_REGION); each undo step
                   runs in the region of its event, in the event's account
  --rule ID        undo only what this rule applied
  --force          replay again a record that was already undone
  --role NAME      in an Organization hub: the role to assume in a member
                   account for its steps (default remediation-bot-undo, the
                   member template's --undo-principals role); your own
                   account's steps run with your credentials
  -h, --help       this help

Exit codes: 0 done (or dry run, or already undone), 1 usage error, not
confirmed, or no terminal and no --yes, 2 no undo record, the table cannot be
read, or the record was refused, 4 an undo step failed, or the undo could not
start (credentials, another account) or be recorded.`;

const HISTORY_HELP = `Usage: remediate history [options]

What the bot decided and did: one row per decision that alerted (applied,
proposed, exempt, failed, ...), newest first, from the history table the
functions write. Compliant decisions and expected skips are not recorded.

Options:
  --since TIME     start of the range, inclusive: 7d or 12h before now, or an
                   ISO 8601 date or date-time with a zone (default: 7d)
  --until TIME     end of the range, exclusive (ISO 8601; default: now)
  --account ID     only this AWS account (12 digits)
  --rule ID        only this rule ("remediate rules" lists them)
  --outcome LIST   only these outcomes, comma-separated or repeated:
                   ${HISTORY_OUTCOMES.join('|')}
  --format FORMAT  table (default), jsonl (one JSON record per line) or
                   markdown (a table to paste into a ticket)
  --table NAME     the history table (default: $HISTORY_TABLE, else
                   $IDEMPOTENCY_TABLE with -idempotency replaced by -history)
  --region REGION  the table's region (default: $AWS_REGION)
  -h, --help       this help

Exit codes: 0 done (also when nothing matched), 1 bad input (no AWS call),
2 the table could not be read, or an item in it is not a history record.`;

/** `history`'s options, checked here before `cli/history.ts` (loaded on demand) parses them. */
export const HISTORY_OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  account: { type: 'string' },
  rule: { type: 'string' },
  outcome: { type: 'string', multiple: true },
  format: { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

const RULES_HELP = `Usage: remediate rules [options]

Lists the rules: id, severity, title, triggers, default mode (the rule's own,
else the engine's "propose"), and the mode and settings each runs with under
the config (DRY_RUN=true caps "remediate" at "propose", as in the Lambdas).

Options:
  --config FILE        config file (default: ./remediation.config.yml when present)
  --format text|json   default: text; json adds each rule's EventBridge pattern
  -h, --help           this help

Exit codes: 0 done, 1 usage or config error.`;

const APPROVE_HELP = `Usage: remediate approve <proposal-id> (--function NAME | --stage STAGE) [options]
       remediate approve <event-id> --rule ID (--function NAME | --stage STAGE) [options]
       remediate dismiss <proposal-id | event-id --rule ID> (--function NAME | --stage STAGE) [options]

With approvals on (deploy parameter approvals=true), a proposal's alert gives
its id and this command. approve asks the family's function to run exactly the
plan it stored, once: the function checks that the proposal is unaltered,
unexpired and still open, reads the present before each write (a finding
closed meanwhile ends "already-fixed", one that changed "stale", and nothing
runs) and after it. dismiss closes the proposal; nothing changes. Nothing runs
from this machine: your credentials need lambda:InvokeFunction on the function
and sts:GetCallerIdentity, which names you in the undo record and the alert.

Options:
  --rule ID         with a CloudTrail event id: the rule whose proposal it is
  --function NAME   the family's function (the alert names it)
  --stage STAGE     instead: the stage deployed, for remediation-bot-STAGE-<family>
  --region REGION   the function's Region (default: $AWS_REGION)
  -h, --help        this help

Exit codes: 0 applied, already fixed, or dismissed; 1 usage error (no AWS
call); 2 refused (unknown, expired, already approved or dismissed, altered,
or approvals off: the reason is printed); 4 the plan ran but the finding is
not closed (stale, failed, not verified), or the function could not be asked.`;

const PROPOSALS_HELP = `Usage: remediate proposals [options]

The open proposals of the deployment (approvals on): id, rule, severity,
account, age, time left before it expires, resource. Read from the bot's table.

Options:
  --table NAME     the bot's table (default: $IDEMPOTENCY_TABLE; the stack
                   output IdempotencyTableName)
  --region REGION  the table's Region (default: $AWS_REGION)
  --format FORMAT  table (default) or jsonl
  -h, --help       this help

Exit codes: 0 done (also when none is open), 1 usage error, 2 the table could
not be read.`;

const REDRIVE_HELP = `Usage: remediate redrive (--events-queue URL | --failure-queue URL)... (--dry-run | --all | --older-than DURATION) [options]

What waits in the stack's queues: events EventBridge could not deliver
(EventsDeadLetterQueueUrl) and events a function failed on after Lambda's
retries (FailureQueueUrl), each with its age, event, function and why. Without
--dry-run, each chosen message's event is sent to its function again, and the
message is deleted only after the function answered without an error. The
functions act once per CloudTrail event: one processed meanwhile answers with
its first result, and nothing is done twice.

Options:
  --events-queue URL    the EventBridge dead-letter queue (default: $EVENTS_DLQ_URL)
  --failure-queue URL   the functions' failure queue (default: $FAILURE_QUEUE_URL)
  --dry-run             list only (each message stays hidden for 30 s)
  --all                 send every message again
  --older-than D        only messages older than D (1h, 2d)
  --max N               at most N messages per queue (default 100)
  --region REGION       the queues' Region (default: $AWS_REGION)
  -h, --help            this help

Permissions: sqs:ReceiveMessage and sqs:DeleteMessage on the queues, kms:Decrypt
with the stack's key, lambda:InvokeFunction on the family functions.

Exit codes: 0 done (also when the queues are empty), 1 usage error, 4 a
message could not be sent again (it stays in its queue).`;

const MEMBER_TEMPLATE_HELP = `Usage: remediate member-template --hub-account ID [options] > member.json

The CloudFormation template (JSON) that a StackSet deploys to the
organisation's accounts and Regions, generated from the rule registry and the
hub's config: in each Region, rules on the default bus that forward exactly the
events the bot's functions take to the hub's bus in that Region (with a retry
policy and a dead-letter queue); and, in us-east-1 only (IAM roles are global),
one role per family, /remediation-bot/remediation-bot-member-<family>, holding
exactly the hub role's statements for that family and trusting only it. No
credentials needed, no AWS call.

Options:
  --hub-account ID      the hub (security or tooling) account
  --hub-regions R,...   the Regions the hub is deployed in (default us-east-1)
  --stage STAGE         the hub's stage (default dev)
  --service NAME        the hub's service name (default remediation-bot)
  --config FILE         the hub's config file (default remediation.config.yml)
  --modes LIST          the hub's modes parameter (sg-open-ingress=remediate,…)
  --approvals           the hub was deployed with approvals=true
  --undo-principals ARN,...
                        who may run remediate undo in the member accounts
                        (IAM role or user ARNs): adds the role
                        remediation-bot-undo, trusting exactly them, that can
                        reverse exactly what the bot may apply there
  -h, --help            this help

Deploy the hub first (the member roles' trust names its roles). Exit codes: 0
done, 1 usage or config error.`;

export const COMMAND_HELP: Readonly<Record<Command, string>> = {
  redrive: REDRIVE_HELP,
  'member-template': MEMBER_TEMPLATE_HELP,
  replay: REPLAY_HELP,
  invoke: INVOKE_HELP,
  undo: UNDO_HELP,
  history: HISTORY_HELP,
  proposals: PROPOSALS_HELP,
  approve: APPROVE_HELP,
  dismiss: APPROVE_HELP,
  rules: RULES_HELP,
};

/** `approve`'s and `dismiss`'s options. */
export const APPROVE_OPTIONS = {
  rule: { type: 'string' },
  function: { type: 'string' },
  stage: { type: 'string' },
  region: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** `member-template`'s options. */
export const MEMBER_TEMPLATE_OPTIONS = {
  'hub-account': { type: 'string' },
  'hub-regions': { type: 'string' },
  stage: { type: 'string' },
  service: { type: 'string' },
  config: { type: 'string' },
  modes: { type: 'string' },
  approvals: { type: 'boolean' },
  'undo-principals': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** `redrive`'s options. */
export const REDRIVE_OPTIONS = {
  'events-queue': { type: 'string' },
  'failure-queue': { type: 'string' },
  'dry-run': { type: 'boolean' },
  all: { type: 'boolean' },
  'older-than': { type: 'string' },
  max: { type: 'string' },
  region: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** `proposals`' options. */
export const PROPOSALS_OPTIONS = {
  table: { type: 'string' },
  region: { type: 'string' },
  format: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** `undo`'s options, checked here before `cli/undo.ts` (loaded on demand) parses them. */
export const UNDO_OPTIONS = {
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  table: { type: 'string' },
  region: { type: 'string' },
  rule: { type: 'string' },
  force: { type: 'boolean' },
  role: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

function optionName(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/**
 * Checks a command's arguments against its options before node's `parseArgs`
 * sees them, so that every problem is one line of ours: `help` when `--help`
 * or `-h` is among them (whatever else is wrong), else `run`; throws
 * `UsageError` for an unknown option (with the closest known one), a missing
 * value, a value given to a flag, or an argument to a command that takes none.
 */
export function checkArgs(command: Command, args: readonly string[], options: ParseArgsOptionsConfig, { positionals = true } = {}): 'help' | 'run' {
  const known: ParseArgsOptionsConfig = { ...options, help: { type: 'boolean', short: 'h' } };
  const { tokens } = parseArgs({ args: [...args], options: known, strict: false, allowPositionals: true, tokens: true });
  const end = tokens.findIndex((token) => token.kind === 'option-terminator');
  const before = end === -1 ? tokens : tokens.slice(0, end);
  if (before.some((token) => token.kind === 'option' && token.name === 'help')) return 'help';
  const names = Object.keys(known);
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!positionals) throw new UsageError(`${command} takes no argument, got "${token.value}"`, command);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = known[token.name];
    if (!spec) throw new UsageError(`unknown option ${token.rawName}${didYouMean(token.name, names, optionName)}`, command);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`option ${token.rawName} takes no value, got "${token.value}"`, command);
      continue;
    }
    // Non-strict parsing takes the next argument as the value even when it is an option: `--format --rule x`.
    if (token.value === undefined || (!token.inlineValue && token.value.length > 1 && token.value.startsWith('-'))) {
      throw new UsageError(`option ${token.rawName} needs a value`, command);
    }
  }
  return 'run';
}
