/**
 * `remediate invoke <event.json>`: one event through the full Lambda path
 * (`processEvent`), against the AWS endpoint of the environment. The SDK reads
 * `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`), the region and the
 * credentials chain as usual, so a sandbox account or a local emulator works
 * unchanged. The configured mode decides: nothing is applied unless a rule is
 * in `remediate` mode, and `DRY_RUN=true` caps every rule at `propose`.
 */
import { createAwsGateway } from '../engine/aws.js';
import type { Config } from '../engine/config.js';
import type { Env } from '../engine/decide.js';
import { runEvent, type DecisionRecord, type EngineDeps, type EngineLogger, type EventReport, type EventResult } from '../engine/lambda.js';
import { MEMBER_ROLE_PATH, memberRoleName } from '../engine/accounts.js';
import { memberAccessFromEnv } from '../handlers/member-access.js';
import type { Rule } from '../engine/types.js';
import { describeStep } from '../engine/step-text.js';
import { snsAlertSink } from '../notify/sns.js';
import { allCommands } from './commands.js';
import { EXIT } from './exit-codes.js';
import type { Io } from './format.js';
import { readRecords, type InputRecord } from './inputs.js';
import { classifyRecord } from './records.js';
import { parseEvent } from '../engine/event.js';


/**
 * The engine's logger for one invocation on a terminal: its warnings and
 * errors (an alert not sent, a store that failed) go to stderr as they
 * happen; what it decided comes back in `runEvent`'s records, not from here.
 */
function stderrLogger(io: Io): EngineLogger {
  const say = (level: string) => (message: string) => io.err(`${level}: ${message}`);
  return { info: () => undefined, warn: say('warn'), error: say('error'), appendKeys: () => undefined };
}

/** Each decision as the engine reports it (`runEvent`'s records): outcome, mode, summary, and every plan step with how it ran. */
function printDecisions(io: Io, result: EventResult, records: readonly DecisionRecord[]): void {
  if (result.status === 'invalid') {
    io.out(`invalid event ${result.eventId}: ${result.error}`);
    return;
  }
  if (result.decisions.length === 0) {
    io.out(`event ${result.eventId}: no rule's pattern matches it; nothing to do`);
    return;
  }
  for (const [index, summary] of result.decisions.entries()) {
    const record = records[index];
    io.out(`${summary.rule}: ${summary.verdict} -> ${summary.outcome}${record ? ` (mode ${record.decision.mode})` : ''}`);
    io.out(`    ${summary.summary}`);
    if (record?.note) io.out(`    note: ${record.note}`);
    const verdict = record?.decision.verdict;
    const plan = verdict?.kind === 'violation' ? verdict.plan : [];
    for (const [position, step] of plan.entries()) {
      const run = record?.execution?.steps.find((s) => s.index === position);
      const status = run ? `  [${run.status}${run.errorCode ? `: ${run.errorCode}` : ''}]` : '';
      io.out(`    ${position + 1}. ${describeStep(step)}${status}`);
    }
  }
}

interface InvokeOptions {
  readonly file: string;
  readonly format: 'text' | 'json';
  readonly rules: readonly Rule[];
  readonly config: Config;
  readonly env: Env;
  /**
   * Act as an Organization hub deployed in this account: an event in another
   * account is read and acted on as that account's member role for each
   * rule's family, as the hub's function of that family would.
   */
  readonly hubAccount?: string;
}

/** Each family's rules, in the registry's order: one hub function per family, each with its own member role. */
function byFamily(rules: readonly Rule[]): Rule[][] {
  const families = new Map<string, Rule[]>();
  for (const rule of rules) families.set(rule.family, [...(families.get(rule.family) ?? []), rule]);
  return [...families.values()];
}

/** One event through each family's deps, as the hub's functions take it: their decisions and records, in order. */
async function runAsHub(event: unknown, target: { readonly hubAccount: string; readonly account: string; readonly region: string }, deps: Omit<EngineDeps, 'rules' | 'members' | 'env'>, options: InvokeOptions): Promise<EventReport> {
  // The hub's function in the event's Region. It serves the accounts the environment enrols as a deployed hub's does
  // (BOT_MEMBER_ACCOUNTS, BOT_ORGANIZATION_ID), else the event's: the person invoking names it so.
  const enrolled = options.env['BOT_MEMBER_ACCOUNTS'] || options.env['BOT_ORGANIZATION_ID'];
  const env = { ...options.env, AWS_REGION: target.region, BOT_ACCOUNT: target.hubAccount, ...(enrolled ? {} : { BOT_MEMBER_ACCOUNTS: target.account }) };
  const reports: EventReport[] = [];
  for (const rules of byFamily(options.rules)) {
    const family = rules[0]?.family ?? 'unknown';
    const members = memberAccessFromEnv({ family, commands: allCommands, env });
    reports.push(await runEvent(event, { ...deps, rules, env, ...(members ? { members } : {}) }));
  }
  const invalid = reports.find((report) => report.result.status === 'invalid');
  if (invalid) return invalid;
  return {
    result: { status: 'processed', eventId: reports[0]?.result.eventId ?? '', decisions: reports.flatMap((report) => (report.result.status === 'processed' ? report.result.decisions : [])) },
    records: reports.flatMap((report) => report.records),
  };
}

/** Exit codes: 0 done, 2 unreadable or invalid event, 4 a remediation failed or AWS answered with an unexpected fault. */
export async function invoke(options: InvokeOptions, io: Io): Promise<number> {
  const records: InputRecord[] = [];
  for await (const record of readRecords([options.file], options.file === '-' ? io.stdin : undefined)) {
    records.push(record);
    if (records.length > 1) break;
  }
  const [record] = records;
  if (records.length !== 1 || record === undefined) {
    io.err(`invoke: ${options.file} must hold exactly one event, found ${records.length === 0 ? 'none' : 'more than one'}`);
    return EXIT.unreadable;
  }
  if ('error' in record) {
    io.err(`invoke: ${record.origin}: ${record.error}`);
    return EXIT.unreadable;
  }
  const classified = classifyRecord(record.value);
  if (classified.kind === 'invalid') {
    io.err(`invoke: ${record.origin}: ${classified.error}`);
    return EXIT.unreadable;
  }
  if (classified.kind === 'not-delivered') {
    io.out('EventBridge does not deliver this read-only management event to the bot (rule state ENABLED): nothing to do');
    return EXIT.ok;
  }

  // The event's Region, whatever the shell's: the deployed function that would receive it runs there.
  const parsed = parseEvent(classified.event);
  const configured = options.env['AWS_REGION'] ?? options.env['AWS_DEFAULT_REGION'];
  const region = parsed.success ? parsed.event.region : configured;
  if (parsed.success && options.format !== 'json') {
    io.out(`event ${parsed.event.detail.eventID} in ${parsed.event.region}, the event's Region${configured && configured !== parsed.event.region ? ` (not ${configured} from the environment)` : ''}`);
  }
  const logger = stderrLogger(io);
  const gateway = createAwsGateway(allCommands, region ? { region } : {});
  const topicArn = options.env['ALERT_TOPIC_ARN'];
  const signingKeyId = options.env['ALERT_SIGNING_KEY_ID'];
  let report: EventReport;
  try {
    const deps = {
      config: options.config,
      gateway,
      logger,
      ...(topicArn ? { alerts: snsAlertSink(gateway, topicArn, signingKeyId ? { signingKeyId } : {}) } : {}),
    };
    const member = options.hubAccount && parsed.success && parsed.event.account !== options.hubAccount ? { hubAccount: options.hubAccount, account: parsed.event.account, region: parsed.event.region } : undefined;
    if (member && options.format !== 'json') {
      io.out(`account ${member.account} is not the hub's (${member.hubAccount}): each family acts there as its member role, role${MEMBER_ROLE_PATH}${memberRoleName('<family>')}`);
    }
    report = member ? await runAsHub(classified.event, member, deps, options) : await runEvent(classified.event, { ...deps, rules: options.rules, env: options.env });
  } catch (error) {
    io.err(`invoke: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return EXIT.failed;
  }
  const { result } = report;
  if (options.format === 'json') {
    io.out(JSON.stringify({ result, records: report.records }, null, 2));
  } else {
    printDecisions(io, result, report.records);
  }
  if (result.status === 'invalid') return EXIT.unreadable;
  return result.decisions.some((decision) => decision.outcome === 'failed') ? EXIT.failed : EXIT.ok;
}
