/**
 * Sample alerts for the notification tests and the README examples: real
 * decisions of the security-group rule on recorded events, one per outcome.
 */
import { parseConfig } from '../../engine/config.js';
import { approvalNote } from '../../engine/lambda.js';
import { proposalIdFor } from '../../engine/proposal-store.js';
import { decide } from '../../engine/decide.js';
import type { ExecutionReport } from '../../engine/executor.js';
import type { Decision, Fact, Mode, PlanStep } from '../../engine/types.js';
import { renderJson, type Alert } from '../../notify/alert.js';
import { registeredRule } from './registered.js';
import { loadEvent } from './fixtures.js';

const sgOpenIngress = registeredRule('sg-open-ingress');

const NOW = new Date('2025-03-04T10:15:05Z');
const WORLD_SSH = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';

async function decision(fixture: string, mode: Mode, tags: Record<string, string> = {}): Promise<Decision> {
  const config = parseConfig({ rules: { 'sg-open-ingress': { mode } } }, [sgOpenIngress]);
  const facts = {
    fetch: async (lookup: { name: string }): Promise<Fact> =>
      lookup.name === 'securityGroup' ? { status: 'ok', value: { tags } } : { status: 'unavailable', reason: 'not needed' },
  };
  return decide(loadEvent(fixture), sgOpenIngress, { config, env: {}, facts, now: NOW });
}

function planOf(decided: Decision): readonly PlanStep[] {
  if (decided.verdict.kind !== 'violation') throw new Error(`expected a violation, got ${decided.verdict.kind}`);
  return decided.verdict.plan;
}

const rationale = sgOpenIngress.rationale;

/** Remediate mode: the revoke was applied, and the rule read back as gone. */
export async function appliedAlert(): Promise<Alert> {
  const decided = await decision(WORLD_SSH, 'remediate');
  const execution: ExecutionReport = {
    status: 'applied',
    steps: planOf(decided).map((step, index) => ({
      index,
      step,
      status: 'applied',
      precondition: { state: 'needed', evidence: 'sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22' },
      verification: { state: 'done', evidence: 'sgr-0f1e2d3c4b5a69788 no longer exists' },
    })),
  };
  return { decision: decided, outcome: 'applied', rationale, execution };
}

/** Propose mode: nothing changed; the plan (IPv4 and IPv6 ranges, no rule ids in the event) is proposed, as the group still shows them open. */
export async function proposedAlert(): Promise<Alert> {
  const decided = await decision('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-legacy-no-ruleids.json', 'propose');
  const group = 'sg-0a1b2c3d4e5f67890';
  return {
    decision: decided,
    outcome: 'proposed',
    rationale,
    preflight: {
      status: 'open',
      checks: [
        { state: 'needed', evidence: `${group} still allows 0.0.0.0/0 on tcp/22` },
        { state: 'needed', evidence: `${group} still allows ::/0 on tcp/22` },
      ],
    },
  };
}

/** The same proposal, stored for approval (approvals on): its alert names the proposal, and Slack shows Approve and Dismiss. */
export async function approvableAlert(): Promise<Alert> {
  const alert = await proposedAlert();
  const proposal = { id: proposalIdFor('security-groups', alert.decision.eventId, alert.decision.rule), expiresAt: '2025-03-11T10:15:00.000Z' };
  return { ...alert, proposal, note: approvalNote(proposal, 'remediation-bot-prod-security-groups') };
}

/**
 * A plan that failed part-way: the IPv4 revoke was applied and verified, the
 * IPv6 one was denied. Only the applied step's undo may be offered.
 */
export async function failedPartWayAlert(): Promise<Alert> {
  const decided = await decision('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-legacy-no-ruleids.json', 'remediate');
  const [first, second] = planOf(decided);
  if (!first || !second) throw new Error('expected two revoke steps');
  const group = 'sg-0a1b2c3d4e5f67890';
  const execution: ExecutionReport = {
    status: 'failed',
    steps: [
      {
        index: 0,
        step: first,
        status: 'applied',
        precondition: { state: 'needed', evidence: `${group} still allows 0.0.0.0/0 on tcp/22` },
        verification: { state: 'done', evidence: `${group} no longer allows 0.0.0.0/0 on tcp/22` },
      },
      {
        index: 1,
        step: second,
        status: 'failed',
        errorCode: 'UnauthorizedOperation',
        errorMessage: 'You are not authorized to perform this operation.',
        hint: 'grant ec2:RevokeSecurityGroupIngress to function remediation-bot-prod-security-groups',
        precondition: { state: 'needed', evidence: `${group} still allows ::/0 on tcp/22` },
      },
    ],
  };
  return { decision: decided, outcome: 'failed', rationale, execution };
}

/** The group carries the exemption tag: nothing is changed. */
export async function exemptAlert(): Promise<Alert> {
  const decided = await decision(WORLD_SSH, 'remediate', { 'remediation:exempt': 'bastion host, approved in SEC-1234' });
  return { decision: decided, outcome: 'exempt', rationale };
}

/**
 * What an attacker able to publish to the topic would send: the JSON of a
 * genuine applied alert whose undo step now attaches AdministratorAccess to
 * their own user, with the genuine step's reason kept so it reads as routine.
 */
export async function forgedAppliedAlertBody(): Promise<string> {
  const genuine = renderJson(await appliedAlert());
  const reason = genuine.undo[0]?.reason ?? 'Re-open the revoked ingress exactly as it was granted.';
  const malicious = { service: 'iam', operation: 'AttachUserPolicy', input: { UserName: 'mallory', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }, reason };
  return JSON.stringify({ ...genuine, undo: [malicious] });
}
