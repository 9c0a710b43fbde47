/**
 * The `remediate` CLI. `main` returns the exit code and writes only through
 * `io`; the bin file is the only place that touches `process`.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../engine/config.js';
import type { Env } from '../engine/decide.js';
import { allRules } from '../remediations/registry.js';
import { loadConfigFile } from './config-file.js';
import { jsonlFormatter, summarise, tableFormatter, type Formatter, type Io } from './format.js';
import { readRecords } from './inputs.js';
import { replayRecord } from './replay.js';

export const USAGE = `remediate: event-driven AWS remediation bot

Usage:
  remediate replay <file|dir>... [--format table|jsonl] [--config FILE]
      Dry-run: replays recorded EventBridge CloudTrail events through the same
      rules and plans as the Lambdas, offline, and prints the exact API calls
      that would be made. Nothing is executed.
  remediate rules
      Lists the rules with their triggers, default mode and severity.
  remediate --help

Options:
  --format   table (default on a terminal) or jsonl (one JSON object per decision)
  --config   config file (default: ./remediation.config.yml when present)

Exit codes: 0 success, 1 usage or config error, 2 unreadable input.`;

const FORMATS = ['table', 'jsonl'] as const;
type Format = (typeof FORMATS)[number];

function formatterFor(format: Format, io: Io): Formatter {
  return format === 'jsonl' ? jsonlFormatter(io) : tableFormatter(io);
}

async function replay(args: string[], io: Io, env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: 'string' }, config: { type: 'string' } },
  });
  if (positionals.length === 0) {
    io.err('replay: name at least one file or directory\n');
    io.err(USAGE);
    return 1;
  }
  const format = (values.format ?? (io.stdoutIsTTY ? 'table' : 'jsonl')) as Format;
  if (!FORMATS.includes(format)) {
    io.err(`replay: --format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
    return 1;
  }
  const config = loadConfigFile(values.config, allRules);
  const formatter = formatterFor(format, io);
  const summary = summarise();
  try {
    for await (const record of readRecords(positionals)) {
      const lines = await replayRecord(record, { rules: allRules, config, env });
      summary.record(lines.some((line) => line.verdict !== 'invalid'));
      for (const line of lines) {
        summary.add(line);
        formatter.line(line);
      }
    }
  } catch (error) {
    io.err(`replay: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  formatter.end(summary.result());
  return 0;
}

function listRules(io: Io): number {
  for (const rule of allRules) {
    const triggers = rule.triggers.map((t) => `${t.eventSource}: ${t.eventNames.join(', ')}`).join('; ');
    io.out(`${rule.id} [${rule.severity}, default ${rule.defaultMode ?? 'propose'}] ${rule.title}\n    triggers: ${triggers}`);
  }
  return 0;
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
        return command === undefined ? 1 : 0;
      case 'replay':
        return await replay(rest, io, env);
      case 'rules':
        return listRules(io);
      default:
        io.err(`remediate: unknown command "${command}"\n`);
        io.err(USAGE);
        return 1;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(error.message);
      return 1;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`remediate: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
