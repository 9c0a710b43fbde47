/**
 * The one way a plan step, an undo step or an API call is written for people:
 * the dry run, `invoke`, `undo`, email, Slack and chat all use it, so a call
 * reads the same everywhere.
 */
import { isStepOutputRef, isUnknownValue } from './types.js';

/** The input as a person reads it: `$ref`s become `<step.Field>` and unknowns `<unknown: …>`. */
export function renderInput(value: unknown): unknown {
  if (isStepOutputRef(value)) return `<${value.$ref}>`;
  if (isUnknownValue(value)) return `<unknown: ${value.$unknown}>`;
  if (Array.isArray(value)) return value.map(renderInput);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderInput(item)]));
  return value;
}

/** What a step needs to be described: the call, and where it has them, its id, kind and "already done" evidence. */
interface DescribableStep {
  readonly service: string;
  readonly operation: string;
  readonly input: unknown;
  readonly id?: string;
  readonly kind?: string;
  readonly alreadyDone?: string;
}

/**
 * One line per step: waits are marked, named steps show their id so
 * `<id.Field>` placeholders can be followed, and a step a lookup found
 * already in place says so.
 */
export function describeStep(step: DescribableStep): string {
  const head = `${step.kind === 'wait' ? 'wait ' : ''}${step.service}:${step.operation}${step.id ? ` [${step.id}]` : ''}`;
  return `${head} ${JSON.stringify(renderInput(step.input))}${step.alreadyDone ? ` (already done: ${step.alreadyDone})` : ''}`;
}
