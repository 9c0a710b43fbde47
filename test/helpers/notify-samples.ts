/**
 * Sample alerts for the notification tests and the README examples: real
 * decisions of the security-group rule on recorded events, one per outcome.
 */
import { parseConfig } from '../../engine/config.js';
import { decide } from '../../engine/decide.js';
import type { ExecutionReport } from '../../engine/executor.js';
import type { Decision, Fact, Mode, PlanStep } from '../../engine/types.js';
import type { Alert } from '../../notify/alert.js';
import { sgOpenIngress } from '../../remediations/security-groups/sg-open-ingress.js';
import { loadEvent } from './fixtures.js';

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

/** Remediate mode: the revoke was applied. */
export async function appliedAlert(): Promise<Alert> {
  const decided = await decision(WORLD_SSH, 'remediate');
  const execution: ExecutionReport = { status: 'applied', steps: planOf(decided).map((step, index) => ({ index, step, status: 'applied' })) };
  return { decision: decided, outcome: 'applied', rationale, execution };
}

/** Propose mode: nothing changed; the plan (IPv4 and IPv6 ranges, no rule ids in the event) is proposed. */
export async function proposedAlert(): Promise<Alert> {
  const decided = await decision('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-legacy-no-ruleids.json', 'propose');
  return { decision: decided, outcome: 'proposed', rationale };
}

/**
 * A plan that failed part-way: the rule's one revoke is split in two (IPv4
 * then IPv6) so that the first is applied and the second is denied. Only the
 * applied step's undo may be offered.
 */
export async function failedPartWayAlert(): Promise<Alert> {
  const decided = await decision('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-legacy-no-ruleids.json', 'remediate');
  const [step] = planOf(decided);
  const undo = step?.undo;
  if (!step || !undo) throw new Error('expected one revoke step with an undo');
  const permissionOf = (input: Readonly<Record<string, unknown>>) => (input['IpPermissions'] as Record<string, unknown>[])[0] ?? {};
  const only = (permission: Record<string, unknown>, drop: string) => Object.fromEntries(Object.entries(permission).filter(([key]) => key !== drop));
  const split = (drop: string, label: string): PlanStep => ({
    ...step,
    input: { ...step.input, IpPermissions: [only(permissionOf(step.input), drop)] },
    reason: `Close ssh open to the ${label} internet.`,
    undo: { ...undo, input: { ...undo.input, IpPermissions: [only(permissionOf(undo.input), drop)] } },
  });
  const plan = [split('Ipv6Ranges', 'IPv4'), split('IpRanges', 'IPv6')];
  const verdict = decided.verdict.kind === 'violation' ? { ...decided.verdict, plan } : decided.verdict;
  const [first, second] = plan;
  if (!first || !second) throw new Error('expected two steps');
  const execution: ExecutionReport = {
    status: 'failed',
    steps: [
      { index: 0, step: first, status: 'applied' },
      {
        index: 1,
        step: second,
        status: 'failed',
        errorCode: 'UnauthorizedOperation',
        errorMessage: 'You are not authorized to perform this operation.',
        hint: 'grant ec2:RevokeSecurityGroupIngress to function remediation-bot-prod-securityGroups',
      },
    ],
  };
  return { decision: { ...decided, verdict }, outcome: 'failed', rationale, execution };
}

/** The group carries the exemption tag: nothing is changed. */
export async function exemptAlert(): Promise<Alert> {
  const decided = await decision(WORLD_SSH, 'remediate', { 'remediation:exempt': 'bastion host, approved in SEC-1234' });
  return { decision: decided, outcome: 'exempt', rationale };
}
