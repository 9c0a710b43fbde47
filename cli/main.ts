/**
 * The `remediate` CLI. `main` returns the exit code and writes only through
 * `io`; the bin file is the only place that touches `process`.
 */
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ConfigError, modeFor, parseConfig, settingsFor } from '../engine/config.js';
import type { Env } from '../engine/decide.js';
import { patternForRule } from '../engine/patterns.js';
import { SEVERITIES, type Rule } from '../engine/types.js';
import { allRules } from '../remediations/registry.js';
import { loadConfigFile } from './config-file.js';
import { FORMATS, formatterFor, outputOptions, summarise, summaryHead, type Format, type Io, type ReplaySummary } from './format.js';
import { eventNameGate } from './gate.js';
import { listInputs } from './inputs.js';
import { EXIT } from './exit-codes.js';
import { createProgressBar } from './progress.js';
import { defaultJobs, runReplay, type ProgressState } from './replay-pool.js';
import type { TimeWindow } from './replay.js';
import { didYouMean } from './suggest.js';
import { timeOf } from './time.js';
import { checkArgs, COMMAND_HELP, COMMANDS, FAIL_ON_LEVELS, OVERVIEW_HELP, UNDO_OPTIONS, UsageError, usageErrorLine, VERSION, type Command, type FailOn } from './usage.js';


/** `--since`/`--until`: a duration before now or an ISO 8601 time, as epoch milliseconds. */
export function parseTimestamp(option: string, value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const time = timeOf(value, now);
  if (time === undefined) throw new UsageError(`${option} must be a duration before now (7d, 12h) or an ISO 8601 date or date-time with a zone (2025-03-01, 2025-03-01T12:00:00Z), got "${value}"`, 'replay');
  return time;
}

/** An AWS Region name (`us-east-1`, `us-gov-west-1`). */
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** Where `--from` reads the history from, instead of files. */
const HISTORY_SOURCES = ['cloudtrail', 'athena', 'lake'] as const;

function selectRules(ids: readonly string[] | undefined): readonly Rule[] {
  if (!ids || ids.length === 0) return allRules;
  const known = allRules.map((rule) => rule.id);
  const unknown = ids.find((id) => !known.includes(id));
  if (unknown !== undefined) {
    const hint = didYouMean(unknown, known);
    throw new UsageError(`unknown rule "${unknown}"${hint || '; "remediate rules" lists them'}`, 'replay');
  }
  return allRules.filter((rule) => ids.includes(rule.id));
}

function parseJobs(value: string | undefined): number {
  if (value === undefined) return defaultJobs();
  const jobs = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256) throw new UsageError(`--jobs must be a whole number from 1 to 256, got "${value}"`, 'replay');
  return jobs;
}

/** The bundled worker sits beside the bundled CLI; from the TypeScript sources it does not exist and the replay stays on the main thread. */
const WORKER_URL = new URL('./replay-worker.mjs', import.meta.url);

/** How many violations `--fail-on` counts: all, or those of at least its severity (an unknown severity counts, so the gate fails closed). */
function violationsFound(summary: ReplaySummary, failOn: FailOn): number {
  const floor = failOn === 'violation' ? 0 : SEVERITIES.indexOf(failOn);
  let found = 0;
  for (const [severity, count] of Object.entries(summary.violationsBySeverity)) {
    const rank = SEVERITIES.indexOf(severity as (typeof SEVERITIES)[number]);
    if (rank === -1 || rank >= floor) found += count;
  }
  return found;
}

/**
 * The `--fail-on` gate: why it fails and its exit code, or `undefined` when it
 * passes. A replay that could not read everything, met invalid records or read
 * nothing proves nothing, so it fails unless told to accept that.
 */
export function gateFailure(summary: ReplaySummary, failOn: FailOn, allow: { readonly empty: boolean; readonly invalid: boolean }): { readonly code: number; readonly reason: string } | undefined {
  if (!allow.invalid && summary.unreadable > 0) return { code: EXIT.unreadable, reason: `${summary.unreadable} input(s) could not be read (--allow-invalid accepts this)` };
  if (!allow.invalid && summary.invalid > 0) return { code: EXIT.invalidRecords, reason: `${summary.invalid} invalid record(s) (--allow-invalid accepts this)` };
  if (!allow.empty && summary.recordsRead === 0) return { code: EXIT.noRecords, reason: 'no record was read (--allow-empty accepts this)' };
  const found = violationsFound(summary, failOn);
  if (found > 0) return { code: EXIT.failOn, reason: `${found} violation(s)${failOn === 'violation' ? '' : ` of severity ${failOn} or higher`}` };
  return undefined;
}

function parseFailOn(value: string | undefined): FailOn | undefined {
  if (value === undefined) return undefined;
  const level = FAIL_ON_LEVELS.find((known) => known === value);
  if (level === undefined) throw new UsageError(`--fail-on takes ${FAIL_ON_LEVELS.join(', ')}, got "${value}"${didYouMean(value, FAIL_ON_LEVELS)}`, 'replay');
  return level;
}

async function replay(args: string[], io: Io, env: Env): Promise<number> {
  const options = {
    format: { type: 'string' },
    config: { type: 'string' },
    rule: { type: 'string', multiple: true },
    since: { type: 'string' },
    until: { type: 'string' },
    'fail-on': { type: 'string' },
    'allow-empty': { type: 'boolean' },
    'allow-invalid': { type: 'boolean' },
    jobs: { type: 'string' },
    only: { type: 'string' },
    width: { type: 'string' },
    color: { type: 'string' },
    from: { type: 'string' },
    region: { type: 'string', multiple: true },
    database: { type: 'string' },
    table: { type: 'string' },
    workgroup: { type: 'string' },
    'output-location': { type: 'string' },
    account: { type: 'string', multiple: true },
    projection: { type: 'boolean' },
    'print-sql': { type: 'boolean' },
    'event-data-store': { type: 'string' },
  } as const;
  if (checkArgs('replay', args, options) === 'help') {
    io.out(COMMAND_HELP.replay);
    return EXIT.ok;
  }
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
  const from = values.from;
  if (from !== undefined && !(HISTORY_SOURCES as readonly string[]).includes(from)) throw new UsageError(`--from must be ${HISTORY_SOURCES.join(', ')}, got "${from}"${didYouMean(from, HISTORY_SOURCES)}`, 'replay');
  if (from !== undefined && positionals.length > 0) throw new UsageError('--from reads the history from AWS: name no file or directory with it', 'replay');
  if (from === undefined && values.region !== undefined) throw new UsageError('--region only applies with --from cloudtrail, athena or lake', 'replay');
  for (const flag of ['database', 'table', 'workgroup', 'output-location', 'projection'] as const) {
    if (values[flag] !== undefined && from !== 'athena') throw new UsageError(`--${flag} only applies with --from athena`, 'replay');
  }
  if (values['event-data-store'] !== undefined && from !== 'lake') throw new UsageError('--event-data-store only applies with --from lake', 'replay');
  if (values['print-sql'] !== undefined && from !== 'athena' && from !== 'lake') throw new UsageError('--print-sql only applies with --from athena or lake', 'replay');
  if (values.account !== undefined && from === 'cloudtrail') throw new UsageError('--account does not apply with --from cloudtrail: LookupEvents reads the account of your credentials', 'replay');
  const badAccount = values.account?.find((account) => !/^\d{12}$/.test(account));
  if (badAccount !== undefined) throw new UsageError(`--account must be a 12-digit account id, got "${badAccount}"`, 'replay');
  if (from === undefined && positionals.length === 0) throw new UsageError('replay: name at least one file or directory, or - for stdin, or use --from cloudtrail', 'replay');
  const format = (values.format ?? (io.stdoutIsTTY ? 'table' : 'jsonl')) as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"${didYouMean(format, FORMATS)}`, 'replay');
  const failOn = parseFailOn(values['fail-on']);
  for (const flag of ['allow-empty', 'allow-invalid'] as const) {
    if (values[flag] && failOn === undefined) throw new UsageError(`--${flag} only applies with --fail-on`, 'replay');
  }
  const since = parseTimestamp('--since', values.since);
  const until = parseTimestamp('--until', values.until);
  if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since must be earlier than --until', 'replay');
  const rules = selectRules(values.rule);
  const jobs = parseJobs(values.jobs);
  const config = loadConfigFile(values.config, allRules);
  for (const warning of config.warnings) io.err(`warning: config ${warning}`);
  const window: TimeWindow = { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), ...(from === undefined && values.account ? { accounts: values.account } : {}) };
  const gate = eventNameGate(rules);

  if (values['print-sql']) {
    io.out(from === 'lake' ? (await lakeQuery(rules, window, values)).sql : (await athenaQuery(rules, window, values)).sql);
    return EXIT.ok;
  }
  const history =
    from === 'cloudtrail'
      ? await cloudTrailHistory(rules, window, values.region ?? [], env, io)
      : from === 'athena'
        ? await athenaHistory(await athenaQuery(rules, window, values), env, io)
        : from === 'lake'
          ? await lakeHistory(await lakeQuery(rules, window, values), env, io)
          : undefined;
  const inputs = history ? [history.input] : await listInputs(positionals, window);
  const output = outputOptions({ only: values.only, width: values.width, color: values.color }, io, env['NO_COLOR']);
  if (typeof output === 'string') throw new UsageError(output, 'replay');
  const formatter = formatterFor(format, io, output);
  const summary = summarise();
  const bar = io.stderrIsTTY && io.progress ? createProgressBar({ write: io.progress, ...(io.stderrColumns ? { columns: io.stderrColumns } : {}) }) : undefined;
  // One copy for the main thread and the workers: each read of process.env is a call into the runtime, and the rules read it for every event.
  const plainEnv = { ...env };
  const totals = await runReplay({
    inputs,
    engine: { rules, config, env: plainEnv, window, ...(gate ? { gate } : {}) },
    setup: { ruleIds: rules.map((rule) => rule.id), configPath: values.config, env: plainEnv, window, useGate: gate !== undefined },
    jobs,
    jobsExplicit: values.jobs !== undefined,
    workerUrl: WORKER_URL,
    // process.stdin is only touched when an input is `-`; --from reads its history as a stream in its place.
    ...(history ? { stdin: history.stream } : positionals.includes('-') && io.stdin ? { stdin: io.stdin } : {}),
    onLines: (lines) => {
      summary.add(lines);
      // Only a terminal shared with stdout needs the bar out of the way.
      if (io.stdoutIsTTY) bar?.clear();
      formatter.lines(lines);
    },
    ...(bar ? { onProgress: (state: ProgressState) => bar.update(state) } : {}),
  });
  bar?.clear();
  summary.totals(totals);
  const result = summary.result();
  formatter.end(result);
  if (failOn === undefined) return result.unreadable > 0 ? EXIT.unreadable : EXIT.ok;
  const failure = gateFailure(result, failOn, { empty: values['allow-empty'] === true, invalid: values['allow-invalid'] === true });
  io.err(`remediate: --fail-on ${failOn}: ${failure ? `failed, ${failure.reason}` : 'passed'}; ${summaryHead(result)}`);
  return failure?.code ?? EXIT.ok;
}

/**
 * `--from cloudtrail`: the event history of each Region (`--region`, else the
 * SDK's Region), from `--since` (default: the 90 days LookupEvents keeps) to
 * `--until` (default: now), as one stream for the replay.
 */
async function cloudTrailHistory(rules: readonly Rule[], window: TimeWindow, regionFlags: readonly string[], env: Env, io: Io) {
  const { lookupEventStream, LOOKUP_WINDOW_DAYS } = await import('./lookup-events.js');
  const defaultRegion = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const regions = regionFlags.length > 0 ? [...new Set(regionFlags)] : defaultRegion ? [defaultRegion] : [];
  if (regions.length === 0) throw new UsageError('--from cloudtrail needs a Region: --region R (repeatable), or AWS_REGION', 'replay');
  const bad = regions.find((region) => !AWS_REGION.test(region));
  if (bad !== undefined) throw new UsageError(`--region must name an AWS Region such as us-east-1, got "${bad}"`, 'replay');
  const until = new Date(window.until ?? Date.now());
  const since = new Date(window.since ?? until.getTime() - LOOKUP_WINDOW_DAYS * 86_400_000);
  const triggers = rules.flatMap((rule) => rule.triggers);
  const stream = lookupEventStream({
    regions,
    eventSources: [...new Set(triggers.map((trigger) => trigger.eventSource))].sort(),
    eventNames: new Set(triggers.flatMap((trigger) => trigger.eventNames)),
    since,
    until,
    ...(io.stderrIsTTY && io.progress
      ? { onPage: ({ region, eventSource, pages, events }: { region: string; eventSource: string; pages: number; events: number }) => io.progress?.(`\rLookupEvents ${region} ${eventSource}: ${pages} page(s), ${events} event(s) kept\x1b[K`) }
      : {}),
  });
  return { input: { kind: 'stdin' as const, name: 'cloudtrail:LookupEvents' }, stream };
}

interface AthenaFlags {
  readonly database?: string;
  readonly table?: string;
  readonly workgroup?: string;
  readonly 'output-location'?: string;
  readonly account?: string[];
  readonly region?: string[];
  readonly projection?: boolean;
}

/** `--from athena`: the query the flags describe, checked before anything runs. */
async function athenaQuery(rules: readonly Rule[], window: TimeWindow, flags: AthenaFlags) {
  const { athenaSql, ATHENA_NAME } = await import('./athena.js');
  for (const flag of ['database', 'table'] as const) {
    const value = flags[flag];
    if (value === undefined) throw new UsageError(`--from athena needs --${flag}`, 'replay');
    if (!ATHENA_NAME.test(value)) throw new UsageError(`--${flag} must be letters, digits and underscores, got "${value}"`, 'replay');
  }
  if (flags.workgroup !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(flags.workgroup)) throw new UsageError(`--workgroup must be letters, digits, ".", "_" and "-", got "${flags.workgroup}"`, 'replay');
  if (flags['output-location'] !== undefined && !/^s3:\/\/[a-z0-9.-]{3,63}(\/\S*)?$/.test(flags['output-location'])) throw new UsageError(`--output-location must be an s3:// location, got "${flags['output-location']}"`, 'replay');
  const database = flags.database ?? '';
  const sql = athenaSql({ database, table: flags.table ?? '', rules, ...queryScope(window, flags), ...(flags.projection ? { projection: true } : {}) });
  return { sql, database, ...(flags.workgroup ? { workgroup: flags.workgroup } : {}), ...(flags['output-location'] ? { outputLocation: flags['output-location'] } : {}) };
}

/** The scope of an Athena or Lake query: `--since` (default: 7 days before `--until`) to `--until` (default: now), and the `--account` and `--region` filters, checked. */
function queryScope(window: TimeWindow, flags: { readonly account?: string[]; readonly region?: string[] }) {
  const badAccount = flags.account?.find((account) => !/^\d{12}$/.test(account));
  if (badAccount !== undefined) throw new UsageError(`--account must be a 12-digit account id, got "${badAccount}"`, 'replay');
  const badRegion = flags.region?.find((region) => !AWS_REGION.test(region));
  if (badRegion !== undefined) throw new UsageError(`--region must name an AWS Region such as us-east-1, got "${badRegion}"`, 'replay');
  const until = new Date(window.until ?? Date.now());
  const since = new Date(window.since ?? until.getTime() - 7 * 86_400_000);
  return { since, until, ...(flags.account ? { accounts: flags.account } : {}), ...(flags.region ? { regions: flags.region } : {}) };
}

/** `--from lake`: the query the flags describe, checked before anything runs. */
async function lakeQuery(rules: readonly Rule[], window: TimeWindow, flags: { readonly 'event-data-store'?: string; readonly account?: string[]; readonly region?: string[] }) {
  const { lakeSql, parseEventDataStore } = await import('./lake.js');
  const value = flags['event-data-store'];
  if (value === undefined) throw new UsageError('--from lake needs --event-data-store ARN', 'replay');
  const store = parseEventDataStore(value);
  if (store === undefined) throw new UsageError(`--event-data-store must be an event data store ARN (arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>) or its id, got "${value}"`, 'replay');
  return { sql: lakeSql({ store, rules, ...queryScope(window, flags) }), ...(store.region ? { region: store.region } : {}) };
}

async function lakeHistory(query: Awaited<ReturnType<typeof lakeQuery>>, env: Env, io: Io) {
  const { lakeRecordLines } = await import('./lake.js');
  // The query runs in the store's Region: the one in its ARN, else the SDK's.
  const region = query.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const onState = io.stderrIsTTY && io.progress ? (state: string) => io.progress?.(`\rCloudTrail Lake query: ${state}\x1b[K`) : undefined;
  const stream = Readable.from(lakeRecordLines({ sql: query.sql, ...(region ? { region } : {}), ...(onState ? { onState } : {}) }), { objectMode: false });
  return { input: { kind: 'stdin' as const, name: 'lake' }, stream };
}

async function athenaHistory(query: Awaited<ReturnType<typeof athenaQuery>>, env: Env, io: Io) {
  const { athenaRecordLines } = await import('./athena.js');
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const onState = io.stderrIsTTY && io.progress ? (state: string) => io.progress?.(`\rAthena query: ${state}\x1b[K`) : undefined;
  const stream = Readable.from(athenaRecordLines({ ...query, ...(region ? { region } : {}), ...(onState ? { onState } : {}) }), { objectMode: false });
  return { input: { kind: 'stdin' as const, name: 'athena' }, stream };
}

async function invokeCommand(args: string[], io: Io, env: Env): Promise<number> {
  const options = { config: { type: 'string' }, format: { type: 'string' }, 'hub-account': { type: 'string' } } as const;
  if (checkArgs('invoke', args, options) === 'help') {
    io.out(COMMAND_HELP.invoke);
    return EXIT.ok;
  }
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
  if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError('invoke: name exactly one event file (or - for stdin)', 'invoke');
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, got "${format}"`, 'invoke');
  const hubAccount = values['hub-account'];
  if (hubAccount !== undefined && !/^\d{12}$/.test(hubAccount)) throw new UsageError("--hub-account must be the hub account's 12-digit id", 'invoke');
  const config = loadConfigFile(values.config, allRules);
  for (const warning of config.warnings) io.err(`warning: config ${warning}`);
  // The SDK clients load only for this command, so replay starts fast.
  const { invoke } = await import('./invoke.js');
  return invoke({ file: positionals[0], format, rules: allRules, config, env, ...(hubAccount ? { hubAccount } : {}) }, io);
}

async function undo(args: string[], io: Io, env: Env): Promise<number> {
  if (checkArgs('undo', args, UNDO_OPTIONS) === 'help') {
    io.out(COMMAND_HELP.undo);
    return EXIT.ok;
  }
  const { positionals } = parseArgs({ args, allowPositionals: true, options: UNDO_OPTIONS });
  if (positionals.length !== 1 || positionals[0] === '') throw new UsageError('undo: name exactly one event id (the CloudTrail eventID shown in the alert)', 'undo');
  // Loaded on demand, like invoke: its SDK clients stay out of the replay's start-up.
  const { undoCommand } = await import('./undo.js');
  return await undoCommand(args, io, env);
}

/** The mode of a rule that declares none and is not configured: the engine's own default. */
const ENGINE_DEFAULT_MODE = parseConfig({}, []).defaultMode;

function listRules(args: string[], io: Io, env: Env): number {
  const options = { format: { type: 'string' }, config: { type: 'string' } } as const;
  if (checkArgs('rules', args, options, { positionals: false }) === 'help') {
    io.out(COMMAND_HELP.rules);
    return EXIT.ok;
  }
  const { values } = parseArgs({ args, options });
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, got "${format}"${didYouMean(format, ['text', 'json'])}`, 'rules');
  const config = loadConfigFile(values.config, allRules);
  for (const warning of config.warnings) io.err(`warning: config ${warning}`);
  const rules = allRules.map((rule) => ({
    id: rule.id,
    title: rule.title,
    severity: rule.severity,
    family: rule.family,
    defaultMode: rule.defaultMode ?? ENGINE_DEFAULT_MODE,
    mode: modeFor(rule, config, env),
    settings: settingsFor<unknown>(rule, config),
    triggers: rule.triggers,
    pattern: patternForRule(rule),
  }));
  if (format === 'json') {
    io.out(JSON.stringify(rules, null, 2));
    return EXIT.ok;
  }
  for (const rule of rules) {
    const triggers = rule.triggers.map((t) => `${t.eventSource}: ${t.eventNames.join(', ')}`).join('; ');
    io.out(
      [
        `${rule.id} [${rule.severity}, mode ${rule.mode}, default ${rule.defaultMode}] ${rule.title}`,
        `    triggers: ${triggers}`,
        `    settings: ${JSON.stringify(rule.settings)}`,
      ].join('\n'),
    );
  }
  return EXIT.ok;
}

function isCommand(name: string): name is Command {
  return (COMMANDS as readonly string[]).includes(name);
}

function unknownCommand(name: string): UsageError {
  if (name.startsWith('-')) return new UsageError(`unknown option ${name}${didYouMean(name.replace(/^-+/, ''), ['help', 'version'], (option) => `--${option}`)}`);
  return new UsageError(`unknown command "${name}"${didYouMean(name, [...COMMANDS, 'help', 'version'])}`);
}

export async function main(argv: readonly string[], io: Io, env: Env = {}): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.out(OVERVIEW_HELP);
        return EXIT.usage;
      case '--help':
      case '-h':
      case 'help': {
        const topic = rest[0];
        if (topic === undefined) io.out(OVERVIEW_HELP);
        else if (isCommand(topic)) io.out(COMMAND_HELP[topic]);
        else throw unknownCommand(topic);
        return EXIT.ok;
      }
      case '--version':
      case '-V':
      case 'version':
        io.out(VERSION);
        return EXIT.ok;
      case 'replay':
        return await replay(rest, io, env);
      case 'invoke':
        return await invokeCommand(rest, io, env);
      case 'undo':
        return await undo(rest, io, env);
      case 'history': {
        // Loaded on demand, like undo: the DynamoDB client stays out of the replay's start-up.
        const { historyCommand } = await import('./history.js');
        return await historyCommand(rest, io, env);
      }
      case 'approve':
      case 'dismiss':
      case 'proposals': {
        // Loaded on demand: the Lambda, STS and DynamoDB clients stay out of the replay's start-up.
        const { approveCommand, proposalsCommand } = await import('./approve.js');
        return command === 'proposals' ? await proposalsCommand(rest, io, env) : await approveCommand(command, rest, io, env);
      }
      case 'redrive': {
        const { redriveCommand } = await import('./redrive.js');
        return await redriveCommand(rest, io, env);
      }
      case 'member-template': {
        // Loaded on demand: the deployment generator stays out of the replay's start-up.
        const { memberTemplateCommand } = await import('./member-template.js');
        return await memberTemplateCommand(rest, io);
      }
      case 'rules':
        return listRules(rest, io, env);
      default:
        throw unknownCommand(command);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(usageErrorLine(error));
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.err(`remediate: ${error.message}`);
      return EXIT.usage;
    }
    // checkArgs answers first; this is a safety net, still one line of ours.
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(usageErrorLine(new UsageError(error.message.split('\n')[0] ?? 'invalid arguments', command !== undefined && isCommand(command) ? command : undefined)));
      return EXIT.usage;
    }
    throw error;
  }
}
