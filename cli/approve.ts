/**
 * `remediate approve|dismiss <proposal-id>` and `remediate proposals`.
 *
 * Approving never runs a plan from this machine: it asks the family's
 * function to run the plan it stored (`lambda:InvokeFunction` with the
 * operator's own credentials is the authorisation, and CloudTrail records
 * it), naming the operator as `sts:GetCallerIdentity` reads them. The
 * function checks the proposal (hash, expiry, still open, settled once) and
 * re-checks every write against the present (`engine/lambda.ts`, `runApproval`).
 * `proposals` lists the open ones from the stack's table.
 */
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ApprovalResult } from '../engine/approval.js';
import type { Env } from '../engine/decide.js';
import { dynamoDbProposalStore, PROPOSAL_ID, proposalIdFor, type ProposalStore, type StoredProposal } from '../engine/proposal-store.js';
import { allRules, findRule } from '../remediations/registry.js';
import { didYouMean } from './suggest.js';
import type { Decision } from '../engine/types.js';
import { EXIT } from './exit-codes.js';
import type { Io } from './format.js';
import { terminalText } from './terminal.js';
import { APPROVE_OPTIONS, checkArgs, COMMAND_HELP, PROPOSALS_OPTIONS, UsageError, usageChecked } from './usage.js';

export interface ApproveDeps {
  readonly lambda?: Pick<LambdaClient, 'send'>;
  readonly sts?: Pick<STSClient, 'send'>;
  readonly store?: ProposalStore;
  readonly now?: () => Date;
}

/** Outcomes after which the finding is closed: anything else needs a person. */
const CLOSED = new Set(['applied', 'already-fixed']);

export function approveCommand(action: 'approve' | 'dismiss', args: string[], io: Io, env: Env, deps: ApproveDeps = {}): Promise<number> {
  return usageChecked(io, () => approve(action, args, io, env, deps));
}

export function proposalsCommand(args: string[], io: Io, env: Env, deps: ApproveDeps = {}): Promise<number> {
  return usageChecked(io, () => listProposals(args, io, env, deps));
}

async function approve(action: 'approve' | 'dismiss', args: string[], io: Io, env: Env, deps: ApproveDeps): Promise<number> {
  if (checkArgs(action, args, APPROVE_OPTIONS) === 'help') {
    io.out(COMMAND_HELP[action]);
    return EXIT.ok;
  }
  const { values, positionals } = parseArgs({ args, options: APPROVE_OPTIONS, allowPositionals: true });
  const [given, ...extra] = positionals;
  if (given === undefined || extra.length > 0) throw new UsageError(`${action}: name exactly one proposal id (from the alert: <family>.<24 letters and digits>), or an event id with --rule`, action);
  const proposalId = proposalIdOf(given, values.rule, action);
  const family = PROPOSAL_ID.exec(proposalId)?.[1] ?? '';
  if (values.function !== undefined && values.stage !== undefined) throw new UsageError('give --function or --stage, not both', action);
  const functionName = values.function ?? (values.stage !== undefined ? `remediation-bot-${values.stage}-${family}` : undefined);
  if (functionName === undefined) throw new UsageError('name the function: --function NAME (the alert gives it), or --stage STAGE', action);
  if (!/^[A-Za-z0-9_:-]{1,140}$/.test(functionName)) throw new UsageError(`--function must be a Lambda function name or ARN, got "${terminalText(functionName)}"`, action);
  const region = values.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const sts = deps.sts ?? new STSClient(region ? { region } : {});
  const lambda = deps.lambda ?? new LambdaClient(region ? { region } : {});
  let approver: string;
  let result: ApprovalResult;
  try {
    approver = (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? '';
    if (approver === '') throw new Error('sts:GetCallerIdentity named no caller');
    const payload = { approval: { proposalId, action, approver } };
    const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
    const text = new TextDecoder().decode(response.Payload ?? new Uint8Array());
    if (response.FunctionError) {
      io.err(`remediate ${action}: the function failed (${response.FunctionError}): ${terminalText(text.slice(0, 500))}`);
      return EXIT.failed;
    }
    result = JSON.parse(text) as ApprovalResult;
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    io.err(`remediate ${action}: could not ask ${terminalText(functionName)}: ${name}: ${terminalText(message)}`);
    return EXIT.failed;
  }
  switch (result.status) {
    case 'refused':
      io.err(`remediate ${action}: ${terminalText(proposalId)} refused: ${terminalText(result.reason)}`);
      return EXIT.unreadable;
    case 'dismissed':
      io.out(`${proposalId}: dismissed by ${result.by}; nothing was changed`);
      return EXIT.ok;
    case 'ran':
      io.out(`${proposalId}: ${result.rule}: ${result.outcome} (approved by ${result.by}; the alert has each step with its reads before and after)`);
      return CLOSED.has(result.outcome) ? EXIT.ok : EXIT.failed;
  }
}

/**
 * The proposal's id: as given, or, for a CloudTrail event id and `--rule`, the
 * id the bot gave that event's proposal for that rule (the same derivation).
 */
function proposalIdOf(given: string, ruleId: string | undefined, action: 'approve' | 'dismiss'): string {
  if (PROPOSAL_ID.test(given)) {
    if (ruleId !== undefined) throw new UsageError('--rule goes with an event id, not with a proposal id', action);
    return given;
  }
  if (!/^[A-Za-z0-9-]{8,128}$/.test(given)) throw new UsageError(`"${terminalText(given)}" is neither a proposal id (<family>.<24 letters and digits>, as the alert gives it) nor a CloudTrail event id`, action);
  if (ruleId === undefined) throw new UsageError(`${terminalText(given)} looks like an event id: name the rule too (--rule ID), since one event can have a proposal per rule`, action);
  const rule = findRule(ruleId);
  if (rule === undefined) throw new UsageError(`unknown rule "${terminalText(ruleId)}"${didYouMean(ruleId, allRules.map((known) => known.id)) || '; "remediate rules" lists them'}`, action);
  return proposalIdFor(rule.family, given, rule.id);
}

/** A span of time as people read it in a column: hours under two days, else days. */
function span(ms: number): string {
  const hours = Math.max(0, Math.floor(ms / 3_600_000));
  return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
}

function describeProposal(proposal: StoredProposal): { resource: string; account: string; severity: string } {
  try {
    const decision = JSON.parse(proposal.decision) as Decision;
    const resources = decision.verdict.kind === 'violation' ? decision.verdict.resources ?? [] : [];
    return { resource: resources.join(' ') || '-', account: decision.account, severity: decision.severity };
  } catch {
    return { resource: '?', account: '?', severity: '?' };
  }
}

async function listProposals(args: string[], io: Io, env: Env, deps: ApproveDeps): Promise<number> {
  if (checkArgs('proposals', args, PROPOSALS_OPTIONS, { positionals: false }) === 'help') {
    io.out(COMMAND_HELP.proposals);
    return EXIT.ok;
  }
  const { values } = parseArgs({ args, options: PROPOSALS_OPTIONS, allowPositionals: false });
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'jsonl') throw new UsageError(`--format must be table or jsonl, got "${terminalText(format)}"`, 'proposals');
  const table = values.table ?? env['IDEMPOTENCY_TABLE'];
  if (!deps.store && !table) throw new UsageError('name the bot\'s table with --table or IDEMPOTENCY_TABLE (the stack output IdempotencyTableName)', 'proposals');
  const region = values.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const store = deps.store ?? dynamoDbProposalStore({ tableName: table ?? '', client: new DynamoDBClient(region ? { region } : {}) });
  const now = deps.now?.() ?? new Date();
  let open: StoredProposal[];
  try {
    open = await store.listOpen(now);
  } catch (error) {
    io.err(`remediate proposals: cannot read the proposals${table ? ` from table ${terminalText(table)}` : ''}: ${error instanceof Error ? `${error.name}: ${terminalText(error.message)}` : String(error)}`);
    return EXIT.unreadable;
  }
  if (format === 'jsonl') {
    for (const proposal of open) {
      const { resource, account, severity } = describeProposal(proposal);
      io.out(JSON.stringify({ id: proposal.id, rule: proposal.rule, severity, resource, account, eventId: proposal.eventId, createdAt: proposal.createdAt, expiresAt: proposal.expiresAt }));
    }
    return EXIT.ok;
  }
  io.out(['PROPOSAL', 'RULE', 'SEVERITY', 'ACCOUNT', 'AGE', 'EXPIRES IN', 'RESOURCE'].join('  '));
  for (const proposal of open) {
    const { resource, account, severity } = describeProposal(proposal);
    io.out([proposal.id, proposal.rule, severity, account, span(now.getTime() - Date.parse(proposal.createdAt)), span(Date.parse(proposal.expiresAt) - now.getTime()), terminalText(resource)].join('  '));
  }
  io.out(`${open.length} open proposal(s). Approve one: npx remediate approve <proposal> --stage <stage>; dismiss: npx remediate dismiss <proposal> --stage <stage>.`);
  return EXIT.ok;
}
