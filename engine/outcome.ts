/**
 * What will happen to a decision, before any AWS call: one pure function, used
 * by the Lambda path (`lambda.ts`), `remediate invoke` (through it) and the
 * replay, so that "would apply", "would propose: over the write budget" and
 * "would notify" mean the same everywhere.
 *
 * The present can still change the answer afterwards: a proposal whose
 * preconditions read the effect already in place is `already-fixed`, one
 * whose resource changed since the event is `stale`, and an applied plan is
 * `applied` only once the reads after it confirm it (`executor.ts`).
 */
import { isQuietSkip, isWaitStep, type Decision, type Outcome, type Plan } from './types.js';

/** The writes a decision may still make in this invocation, and, when the global budget was asked, its answer. */
interface WriteAllowance {
  /** Write calls this invocation may still make (`maxWritesPerInvocation` minus the writes of earlier decisions). */
  readonly writesLeft: number;
  readonly maxWritesPerInvocation: number;
  /** The stack's budget across events (`write-budget.ts`), once asked: a refusal turns an apply into a proposal. */
  readonly global?: { readonly granted: true } | { readonly granted: false; readonly reason: string };
}

/**
 * - `apply`: run the plan (its `writes` count against the budgets);
 * - `propose`: read the plan's preconditions and alert with it; `outcome` is
 *   what the alert says unless the reads show it already fixed or stale;
 * - `settled`: nothing to run or read: the outcome is final.
 */
export type Disposition =
  | { readonly kind: 'apply'; readonly plan: Plan; readonly writes: number }
  | {
      readonly kind: 'propose';
      readonly plan: Plan;
      readonly outcome: 'proposed' | 'notified';
      readonly note?: string;
      /** Set when the mode asked to apply: why the plan is only proposed. */
      readonly capped?: 'invocation' | 'write-budget';
    }
  | { readonly kind: 'settled'; readonly outcome: Outcome; readonly note?: string };

/** Write calls a plan would make: waits change nothing, and steps a lookup showed already in place are not sent. */
export function writeCount(plan: Plan): number {
  return plan.filter((step) => !isWaitStep(step) && step.alreadyDone === undefined).length;
}

const NOTHING_AUTOMATIC = 'nothing is applied automatically for this finding: a person has to act (see the proposal)';

export function resolveOutcome(decision: Decision, budget: WriteAllowance): Disposition {
  const { verdict } = decision;
  switch (verdict.kind) {
    case 'compliant':
      return { kind: 'settled', outcome: 'none' };
    case 'exempt':
      return { kind: 'settled', outcome: 'exempt' };
    case 'skipped':
      return { kind: 'settled', outcome: isQuietSkip(verdict) ? 'none' : 'uninspected' };
    case 'violation':
      break;
  }
  if (verdict.withheld !== undefined) return { kind: 'settled', outcome: 'notified', note: verdict.withheld };
  const asked = decision.mode === 'notify' ? 'notified' : 'proposed';
  const propose = (plan: Plan, note?: string, capped?: 'invocation' | 'write-budget'): Disposition => {
    // An empty proposal has nothing to read or run: the finding is only reported.
    if (plan.length === 0) return { kind: 'settled', outcome: asked, ...(note ? { note } : {}) };
    return { kind: 'propose', plan, outcome: asked, ...(note ? { note } : {}), ...(capped ? { capped } : {}) };
  };
  if (decision.mode !== 'remediate') return propose(verdict.plan.length > 0 ? verdict.plan : (verdict.proposal ?? []));
  if (verdict.plan.length === 0) {
    // Nothing is safe to apply automatically: say so rather than report an empty plan as applied.
    const proposal = verdict.proposal ?? [];
    if (proposal.length === 0) return { kind: 'settled', outcome: 'notified', note: NOTHING_AUTOMATIC };
    return propose(proposal, NOTHING_AUTOMATIC);
  }
  const writes = writeCount(verdict.plan);
  if (writes > budget.writesLeft) {
    return propose(
      verdict.plan,
      `not applied: the plan has ${writes} write call(s) and this invocation may make ${budget.writesLeft} more (maxWritesPerInvocation ${budget.maxWritesPerInvocation})`,
      'invocation',
    );
  }
  if (budget.global && !budget.global.granted) {
    return propose(verdict.plan, `not applied: ${budget.global.reason}; every rule proposes until the budget allows writes again`, 'write-budget');
  }
  return { kind: 'apply', plan: verdict.plan, writes };
}

/** How the replay and `invoke` name a disposition: `would-apply`, `would-propose`, `would-notify`, or the settled outcome. */
export function dispositionLabel(disposition: Disposition): string {
  switch (disposition.kind) {
    case 'apply':
      return 'would-apply';
    case 'propose':
      return disposition.outcome === 'notified' ? 'would-notify' : 'would-propose';
    case 'settled':
      return disposition.outcome === 'proposed' ? 'would-propose' : disposition.outcome === 'notified' ? 'would-notify' : disposition.outcome;
  }
}
