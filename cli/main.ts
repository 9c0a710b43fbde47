/**
 * The `remediate` CLI. `main` returns the exit code and writes only through
 * `io`; the bin file is the only place that touches `process`.
 */
import { ConfigFault } from '../engine/errors.js';
import { parseArgs } from 'node:util';
import { ConfigError } from '../engine/config.js';
import type { Env } from '../engine/decide.js';
import { patternForRule } from '../engine/patterns.js';
import type { Rule } from '../engine/types.js';
import { allRules } from '../remediations/registry.js';
import { loadConfigFile } from './config-file.js';
import { FORMATS, formatterFor, summarise, type Format, type Io } from './format.js';
import { eventNameGate } from './gate.js';
import { listInputs } from './inputs.js';
import { EXIT } from './exit-codes.js';
import { createProgressBar } from './progress.js';
import { defaultJobs, runReplay, type ProgressState } from './replay-pool.js';
import type { TimeWindow } from './replay.js';


export const USAGE = `remediate: event-driven AWS remediation bot

Usage:
  remediate replay <file|dir|->... [options]
      Dry run: replays recorded CloudTrail through the same EventBridge patterns,
      rules and plans as the Lambdas, offline, and prints the exact API calls
      that would be made. Nothing is executed; no AWS access is needed.
      Inputs (format detected per file; gzip detected by content):
        EventBridge events: one JSON object, a JSON array, or JSON Lines
        CloudTrail log files as S3 delivers them ({"Records":[...]}, .json.gz),
          e.g. a whole AWSLogs/<account>/CloudTrail/ tree
        aws cloudtrail lookup-events output ({"Events":[...]})
        CloudTrail Lake or Athena exports: JSON Lines of raw records
      Options:
        --format table|jsonl|json|markdown
                        default: table on a terminal, jsonl otherwise
        --config FILE   config file (default: ./remediation.config.yml when present)
        --rule ID       only this rule (repeatable)
        --since TIME    only events at or after TIME (ISO 8601, e.g. 2025-03-01
                        or 2025-03-01T12:00:00Z)
        --until TIME    only events before TIME
        --fail-on violation
                        exit 3 when any violation is found (CI gating)
        --jobs N        worker threads (default: one per core, at most 4)
  remediate invoke <event.json> [--config FILE] [--format text|json]
      Runs one event through the full Lambda path against the AWS endpoint of
      the environment (AWS_ENDPOINT_URL, AWS_REGION, the credentials chain),
      in the configured mode: only rules in "remediate" mode change anything.
  remediate undo <event-id> [--dry-run] [--yes] [--table NAME] [--region REGION] [--rule ID] [--force]
      Reverses what the bot applied for one CloudTrail event, from the undo
      record the Lambda stored (remediate undo without arguments: details).
  remediate rules [--format text|json]
      Lists the rules with their triggers, default mode and severity.
  remediate --help

Exit codes:
  0  success
  1  usage or config error
  2  an input could not be read (the rest was replayed), or invoke got an invalid event,
     or undo found no record or refused one
  3  --fail-on violation and a violation was found
  4  invoke: a remediation failed or AWS answered with an unexpected fault;
     undo: an undo step failed, or the undo could not start or be recorded`;

class UsageError extends ConfigFault {
  override readonly name = 'UsageError';
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** An ISO 8601 date, or date and time with a zone, as epoch milliseconds. */
export function parseTimestamp(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw new UsageError(`${option} must be an ISO 8601 date or date-time with a zone (2025-03-01, 2025-03-01T12:00:00Z), got "${value}"`);
  return time;
}

function selectRules(ids: readonly string[] | undefined): readonly Rule[] {
  if (!ids || ids.length === 0) return allRules;
  const unknown = ids.filter((id) => !allRules.some((rule) => rule.id === id));
  if (unknown.length > 0) throw new UsageError(`unknown rule(s) ${unknown.join(', ')}; known: ${allRules.map((rule) => rule.id).join(', ')}`);
  return allRules.filter((rule) => ids.includes(rule.id));
}

function parseJobs(value: string | undefined): number {
  if (value === undefined) return defaultJobs();
  const jobs = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256) throw new UsageError(`--jobs must be a whole number from 1 to 256, got "${value}"`);
  return jobs;
}

/** The bundled worker sits beside the bundled CLI; from the TypeScript sources it does not exist and the replay stays on the main thread. */
const WORKER_URL = new URL('./replay-worker.mjs', import.meta.url);

async function replay(args: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      config: { type: 'string' },
      rule: { type: 'string', multiple: true },
      since: { type: 'string' },
      until: { type: 'string' },
      'fail-on': { type: 'string' },
      jobs: { type: 'string' },
    },
  });
  if (positionals.length === 0) throw new UsageError('replay: name at least one file or directory, or - for stdin');
  const format = (values.format ?? (io.stdoutIsTTY ? 'table' : 'jsonl')) as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
  if (values['fail-on'] !== undefined && values['fail-on'] !== 'violation') throw new UsageError(`--fail-on takes "violation", got "${values['fail-on']}"`);
  const since = parseTimestamp('--since', values.since);
  const until = parseTimestamp('--until', values.until);
  if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since must be earlier than --until');
  const rules = selectRules(values.rule);
  const jobs = parseJobs(values.jobs);
  const config = loadConfigFile(values.config, allRules);
  for (const warning of config.warnings) io.err(`warning: config ${warning}`);
  const window: TimeWindow = { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) };
  const gate = eventNameGate(rules);

  const inputs = await listInputs(positionals);
  const formatter = formatterFor(format, io);
  const summary = summarise();
  const bar = io.stderrIsTTY && io.progress ? createProgressBar({ write: io.progress, ...(io.stderrColumns ? { columns: io.stderrColumns } : {}) }) : undefined;
  const totals = await runReplay({
    inputs,
    engine: { rules, config, env, window, ...(gate ? { gate } : {}) },
    setup: { ruleIds: rules.map((rule) => rule.id), configPath: values.config, env: { ...env }, window, useGate: gate !== undefined },
    jobs,
    jobsExplicit: values.jobs !== undefined,
    workerUrl: WORKER_URL,
    // process.stdin is only touched when an input is `-`.
    ...(positionals.includes('-') && io.stdin ? { stdin: io.stdin } : {}),
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
  if (result.unreadable > 0) return EXIT.unreadable;
  if (values['fail-on'] === 'violation' && (result.byVerdict['violation'] ?? 0) > 0) return EXIT.failOn;
  return EXIT.ok;
}

async function invokeCommand(args: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string' }, format: { type: 'string' } },
  });
  if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError('invoke: name exactly one event file (or - for stdin)');
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, got "${format}"`);
  const config = loadConfigFile(values.config, allRules);
  for (const warning of config.warnings) io.err(`warning: config ${warning}`);
  // The SDK clients load only for this command, so replay starts fast.
  const { invoke } = await import('./invoke.js');
  return invoke({ file: positionals[0], format, rules: allRules, config, env }, io);
}

function listRules(args: string[], io: Io): number {
  const { values } = parseArgs({ args, options: { format: { type: 'string' } } });
  const format = values.format ?? 'text';
  if (format === 'json') {
    io.out(
      JSON.stringify(
        allRules.map((rule) => ({
          id: rule.id,
          title: rule.title,
          severity: rule.severity,
          family: rule.family,
          defaultMode: rule.defaultMode ?? null,
          triggers: rule.triggers,
          pattern: patternForRule(rule),
        })),
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  if (format !== 'text') throw new UsageError(`--format must be text or json, got "${format}"`);
  for (const rule of allRules) {
    const triggers = rule.triggers.map((t) => `${t.eventSource}: ${t.eventNames.join(', ')}`).join('; ');
    io.out(`${rule.id} [${rule.severity}, default ${rule.defaultMode ?? 'propose'}] ${rule.title}\n    triggers: ${triggers}`);
  }
  return EXIT.ok;
}

export async function main(argv: readonly string[], io: Io, env: Env = {}): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return command === undefined ? EXIT.usage : EXIT.ok;
      case 'replay':
        return await replay(rest, io, env);
      case 'invoke':
        return await invokeCommand(rest, io, env);
      case 'undo': {
        // Loaded on demand, like invoke: its SDK clients stay out of the replay's start-up.
        const { undoCommand } = await import('./undo.js');
        return await undoCommand(rest, io, env);
      }
      case 'rules':
        return listRules(rest, io);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`remediate: ${error.message}\n`);
      io.err(USAGE);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.err(error.message);
      return EXIT.usage;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`remediate: ${error.message}`);
      return EXIT.usage;
    }
    throw error;
  }
}
