/**
 * The last check before a plan is run, logged or shown: its inputs must be
 * plain data of a sane shape. A rule that copies attacker-controlled request
 * parameters into a step (to restore them on undo, say) could otherwise hand
 * the executor, the logger and the alert renderer a 10,000-deep or
 * megabyte-sized value; they would overflow the stack or the SNS limits.
 * Such a verdict keeps its findings (the violation is real, and people are
 * told) but its plans are withheld, with the reason: nothing runs.
 */
import type { Plan, Verdict } from './types.js';

/** Deeper than any real SDK input or policy needs (IAM policies nest a few levels; DynamoDB caps maps at 32). */
const MAX_STEP_INPUT_DEPTH = 32;
/** Per step, input and undo input together, as JSON: far above any real step (an inline policy is at most 10 KB). */
export const MAX_STEP_INPUT_CHARS = 131_072;

/** The nesting depth of a value, counted without recursion; stops counting past `limit`. */
function depthExceeds(value: unknown, limit: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= limit) return true;
    for (const item of Array.isArray(current) ? current : Object.values(current)) stack.push({ value: item, depth: depth + 1 });
  }
  return false;
}

function planProblem(plan: Plan | undefined, label: string): string | undefined {
  for (const [index, step] of (plan ?? []).entries()) {
    const where = `${label} step ${index + 1} (${step.service}:${step.operation})`;
    if (depthExceeds(step.input, MAX_STEP_INPUT_DEPTH) || depthExceeds(step.undo?.input, MAX_STEP_INPUT_DEPTH)) {
      return `${where} has an input nested more than ${MAX_STEP_INPUT_DEPTH} levels deep`;
    }
    let size: number;
    try {
      size = JSON.stringify(step.input).length + (step.undo ? JSON.stringify(step.undo.input).length : 0);
    } catch {
      return `${where} has an input that is not JSON`;
    }
    if (size > MAX_STEP_INPUT_CHARS) return `${where} has an input of ${size} characters (at most ${MAX_STEP_INPUT_CHARS})`;
  }
  return undefined;
}

/** Why a verdict's plans are unsafe to run or show, or `undefined` when they are fine. */
function unsafePlanReason(verdict: Verdict): string | undefined {
  if (verdict.kind !== 'violation') return undefined;
  return planProblem(verdict.plan, 'plan') ?? planProblem(verdict.proposal, 'proposal');
}

/** The verdict itself, or, when its plans are unsafe, the same violation with its plans withheld and the reason. */
export function guardVerdict(verdict: Verdict): Verdict {
  const problem = unsafePlanReason(verdict);
  if (problem === undefined || verdict.kind !== 'violation') return verdict;
  const { proposal: _proposal, ...rest } = verdict;
  return { ...rest, plan: [], withheld: `the event's data makes an unsafe plan, so nothing can be run: ${problem}` };
}
