/**
 * `remediate history`: what the bot decided and did, from the history table
 * the Lambdas write (`engine/history-store.ts`): one row per decision that
 * alerted, newest first, with the undo command of what was applied.
 *
 * The range is read one UTC day at a time, newest first, one Query per rule
 * family and day (never a Scan), and rows are printed as they arrive: memory
 * stays bounded whatever the range holds. Every argument is checked before
 * any AWS call; a bad one is one line and exit 1.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { errorCode, errorMessage } from '../engine/aws.js';
import type { Env } from '../engine/decide.js';
import { dynamoDbHistoryStore, type HistoryQuery, type HistoryReader, type HistoryRecord } from '../engine/history-store.js';
import { HISTORY_OUTCOMES, isHistoryOutcome, type HistoryOutcome } from '../engine/types.js';
import { shellWord } from '../engine/step-text.js';
import { allRules, findRule, rulesByFamily } from '../remediations/registry.js';
import { EXIT } from './exit-codes.js';
import type { Io } from './format.js';
import { shortArn } from './format-table.js';
import { timeOf } from './time.js';
import { md } from './format-markdown.js';
import { didYouMean } from './suggest.js';
import { checkArgs, COMMAND_HELP, HISTORY_OPTIONS, UsageError, usageErrorLine } from './usage.js';
import { displayWidth, padTo, terminalText } from './terminal.js';

export const HISTORY_FORMATS = ['table', 'jsonl', 'markdown'] as const;
type HistoryFormat = (typeof HISTORY_FORMATS)[number];

/** The longest range one command reads: a year of day partitions (the history keeps 90 days by default). */
const MAX_RANGE_DAYS = 366;
const DAY_MS = 86_400_000;

class BadInput extends UsageError {
  constructor(message: string) {
    super(message, 'history');
  }
}

export interface HistoryDeps {
  /** Default: the DynamoDB table named by `--table`, `HISTORY_TABLE` or `IDEMPOTENCY_TABLE`. */
  readonly reader?: HistoryReader;
  readonly now?: () => Date;
}

/** `--since`: `<n>d`, `<n>h` before now, or an ISO 8601 time with a zone. */
function parseTime(option: string, value: string, now: Date, relative: boolean): Date {
  const time = timeOf(value, now.getTime(), relative);
  if (time === undefined) {
    throw new BadInput(`${option} must be ${relative ? 'a duration like 7d or 12h, or ' : ''}an ISO 8601 date or date-time with a zone (2025-03-01, 2025-03-01T12:00:00Z), got "${terminalText(value)}"`);
  }
  return new Date(time);
}

interface Request {
  readonly query: HistoryQuery;
  readonly format: HistoryFormat;
  readonly table?: string;
  readonly region?: string;
}

function parseRequest(args: readonly string[], now: Date): Request | 'help' {
  if (checkArgs('history', args, HISTORY_OPTIONS, { positionals: false }) === 'help') return 'help';
  const { values } = parseArgs({ args: [...args], options: HISTORY_OPTIONS, strict: true, allowPositionals: false });
  const text = (value: string | boolean | (string | boolean)[] | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

  const format = text(values.format) ?? 'table';
  if (!(HISTORY_FORMATS as readonly string[]).includes(format)) {
    throw new BadInput(`--format must be ${HISTORY_FORMATS.join(', ')}, got "${terminalText(format)}"${didYouMean(format, HISTORY_FORMATS)}`);
  }
  const until = text(values.until) === undefined ? now : parseTime('--until', text(values.until) ?? '', now, false);
  const since = parseTime('--since', text(values.since) ?? '7d', now, true);
  if (since.getTime() >= until.getTime()) throw new BadInput(`--since (${since.toISOString()}) must be earlier than --until (${until.toISOString()})`);
  if (until.getTime() - since.getTime() > MAX_RANGE_DAYS * DAY_MS) throw new BadInput(`the range from --since to --until is longer than ${MAX_RANGE_DAYS} days; ask for a shorter one`);

  const account = text(values.account);
  if (account !== undefined && !/^\d{12}$/.test(account)) throw new BadInput(`--account must be a 12-digit AWS account id, got "${terminalText(account)}"`);

  const ruleId = text(values.rule);
  const rule = ruleId === undefined ? undefined : findRule(ruleId);
  if (ruleId !== undefined && rule === undefined) {
    const hint = didYouMean(ruleId, allRules.map((known) => known.id));
    throw new BadInput(`unknown rule "${terminalText(ruleId)}"${hint || '; "remediate rules" lists them'}`);
  }

  const outcomeArgs = Array.isArray(values.outcome) ? values.outcome.filter((value): value is string => typeof value === 'string') : [];
  const outcomes: HistoryOutcome[] = [];
  for (const outcome of outcomeArgs.flatMap((value) => value.split(',')).map((value) => value.trim())) {
    if (!isHistoryOutcome(outcome)) throw new BadInput(`--outcome must be one of ${HISTORY_OUTCOMES.join(', ')}, got "${terminalText(outcome)}"${didYouMean(outcome, HISTORY_OUTCOMES)}`);
    if (!outcomes.includes(outcome)) outcomes.push(outcome);
  }

  const table = text(values.table);
  const region = text(values.region);
  return {
    format: format as HistoryFormat,
    ...(table !== undefined ? { table } : {}),
    ...(region !== undefined ? { region } : {}),
    query: {
      since,
      until,
      families: rule ? [rule.family] : Object.keys(rulesByFamily),
      ...(account !== undefined ? { account } : {}),
      ...(rule ? { rule: rule.id } : {}),
      ...(outcomes.length > 0 ? { outcomes } : {}),
    },
  };
}

/** The table, as `remediate undo` finds its own: the flag, the variable, else the stack's idempotency table's sibling. */
function tableName(flag: string | undefined, env: Env): string | undefined {
  const idempotency = env['IDEMPOTENCY_TABLE'];
  return flag ?? (env['HISTORY_TABLE'] || (idempotency?.endsWith('-idempotency') ? `${idempotency.slice(0, -'-idempotency'.length)}-history` : undefined));
}

export function undoCommandOf(record: HistoryRecord): string | undefined {
  return record.undo.length > 0 || (record.undoOmitted ?? 0) > 0 ? `remediate undo ${shellWord(record.eventId)}` : undefined;
}

/** `text` in `width` columns: padded, or its end kept after an ellipsis (the end of an ARN is what tells resources apart). */
function fit(text: string, width: number): string {
  if (displayWidth(text) <= width) return padTo(text, width);
  const chars = [...text];
  let tail = '';
  while (chars.length > 0 && displayWidth(`…${chars.at(-1) ?? ''}${tail}`) <= width) tail = `${chars.pop() ?? ''}${tail}`;
  return padTo(`…${tail}`, width);
}

/** How many resources beyond the first the record names. */
function moreResources(record: HistoryRecord): number {
  return Math.max(0, record.resources.length - 1) + (record.resourcesOmitted ?? 0);
}

const COLUMNS = ['TIME', 'RULE', 'SEVERITY', 'RESOURCE', 'ACCOUNT', 'PRINCIPAL', 'OUTCOME', 'APPROVER', 'UNDO'] as const;

/** Column widths: fixed, so that rows print as they arrive; the undo command, last, is never cut. */
function tableWidths(): number[] {
  // Room for rule ids to come: a longer one widens the column rather than being cut.
  const rule = Math.max(38, ...allRules.map((rule) => rule.id.length));
  const outcome = Math.max(...HISTORY_OUTCOMES.map((outcome) => outcome.length));
  return ['2025-03-01T12:00:00.000Z'.length, rule, 'SEVERITY'.length, 32, 12, 32, outcome, 12];
}

function tableRow(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, index) => {
      const width = widths[index];
      return width === undefined ? cell : fit(cell, width);
    })
    .join('  ')
    .trimEnd();
}

function tableCells(record: HistoryRecord, resourceWidth: number): string[] {
  const safe = (text: string) => terminalText(text);
  const more = moreResources(record);
  const first = record.resources[0];
  const resource = first === undefined ? '-' : safe(shortArn(first, record.account, record.region));
  const resourceCell = more > 0 ? `${fit(resource, resourceWidth - ` (+${more})`.length).trimEnd()} (+${more})` : resource;
  return [
    record.time,
    safe(record.rule),
    record.severity,
    resourceCell,
    safe(record.account),
    safe(shortArn(record.principal, record.account, record.region)),
    record.outcome,
    record.approver === undefined ? '-' : safe(record.approver),
    safe(undoCommandOf(record) ?? '-'),
  ];
}

function markdownCells(record: HistoryRecord): string[] {
  const more = record.resourcesOmitted ?? 0;
  const resources = record.resources.length === 0 ? '-' : `${record.resources.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  return [record.time, record.rule, record.severity, resources, record.account, record.principal, record.outcome, record.approver ?? '-', undoCommandOf(record) ?? '-'].map(md);
}

/** What the empty result says: the range and the filters. */
function emptyLine(query: HistoryQuery): string {
  const filters = [
    ...(query.rule !== undefined ? [`rule ${query.rule}`] : []),
    ...(query.account !== undefined ? [`account ${query.account}`] : []),
    ...(query.outcomes !== undefined ? [`outcome ${query.outcomes.join(' or ')}`] : []),
  ];
  return `No decision recorded from ${query.since.toISOString()} to ${query.until.toISOString()}${filters.length > 0 ? ` for ${filters.join(', ')}` : ''}.`;
}

/** Prints rows as they come; the header only before the first one, so that an empty result is one line. */
function printer(io: Io, format: HistoryFormat, query: HistoryQuery): { row(record: HistoryRecord): void; end(rows: number): void } {
  let started = false;
  const widths = tableWidths();
  const header = (): void => {
    if (started) return;
    started = true;
    if (format === 'table') io.out(tableRow(COLUMNS, widths));
    if (format === 'markdown') {
      io.out(`| ${['Time', 'Rule', 'Severity', 'Resource', 'Account', 'Principal', 'Outcome', 'Approver', 'Undo'].join(' | ')} |`);
      io.out(`|${' --- |'.repeat(COLUMNS.length)}`);
    }
  };
  return {
    row(record) {
      header();
      switch (format) {
        case 'table':
          io.out(tableRow(tableCells(record, widths[COLUMNS.indexOf('RESOURCE')] ?? 32), widths));
          break;
        case 'markdown':
          io.out(`| ${markdownCells(record).join(' | ')} |`);
          break;
        case 'jsonl': {
          const undoCommand = undoCommandOf(record);
          io.out(JSON.stringify({ ...record, ...(undoCommand ? { undoCommand } : {}) }));
          break;
        }
      }
    },
    end(rows) {
      if (rows > 0) return;
      // JSON Lines readers get no prose on stdout.
      if (format === 'jsonl') io.err(emptyLine(query));
      else io.out(emptyLine(query));
    },
  };
}

export async function historyCommand(args: string[], io: Io, env: Env, deps: HistoryDeps = {}): Promise<number> {
  const now = deps.now?.() ?? new Date();
  let request: Request | 'help';
  let table: string | undefined;
  let reader = deps.reader;
  try {
    request = parseRequest(args, now);
    if (request === 'help') {
      io.out(COMMAND_HELP.history);
      return EXIT.ok;
    }
    table = tableName(request.table, env);
    if (!reader) {
      if (!table) throw new BadInput('name the history table with --table or HISTORY_TABLE (the stack output HistoryTableName)');
      const region = request.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
      reader = dynamoDbHistoryStore({ tableName: table, client: new DynamoDBClient(region ? { region } : {}) });
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(usageErrorLine(error));
    return EXIT.usage;
  }

  const { query, format } = request;
  const out = printer(io, format, query);
  let rows = 0;
  let invalid = 0;
  try {
    for await (const row of reader.query(query)) {
      if (row.kind === 'invalid') {
        invalid += 1;
        io.err(`remediate history: skipped item ${terminalText(row.key)}: not a history record (${terminalText(row.problem)})`);
        continue;
      }
      rows += 1;
      out.row(row.record);
    }
  } catch (error) {
    io.err(`remediate history: cannot read the history${table ? ` from table ${terminalText(table)}` : ''}: ${errorCode(error)}: ${terminalText(errorMessage(error))}`);
    return EXIT.unreadable;
  }
  out.end(rows);
  return invalid > 0 ? EXIT.unreadable : EXIT.ok;
}
