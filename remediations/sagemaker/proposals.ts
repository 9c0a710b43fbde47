/**
 * Writes only a person runs: the steps of the SageMaker proposals (stop a
 * notebook, turn its root access off, copy an endpoint configuration, move an
 * endpoint). The function never sends them and its role is never granted
 * them, so they are not a rule's `actions`, which the deployment grants. But
 * an approved proposal, and its undo, run through the family's command table,
 * so their commands belong in it: `proposing` adds them to the rule.
 *
 * TRANSITIONAL: the kit has no "proposed write" yet (see the report on issue
 * 15); once `defineRule` takes one, this file goes.
 */
import type { PlanStep } from '../../engine/types.js';
import { defineUndo, type KitRule, type Placeheld, type StepOptions, type Undo } from '../../rulekit/define.js';
import type { AwsService, BoundCommand, CommandClass, InputOf } from '../../rulekit/sdk.js';

/**
 * A write of a proposal: named by its SDK command, its input checked against
 * the command's input type, never granted. It is also the undo of another
 * proposed step (a start undoes a stop), hence `undo`.
 */
export interface ProposedWrite<C extends CommandClass = CommandClass> extends Undo<C> {
  step(input: Placeheld<InputOf<C>>, options: StepOptions): PlanStep;
}

/** Built on `defineUndo`, which already declares a call that only a person runs and that the function is never granted. */
export function defineProposedWrite<C extends CommandClass>(service: AwsService, Command: C): ProposedWrite<C> {
  const write = defineUndo(service, Command);
  return {
    ...write,
    step: (input, { reason, undo, ...rest }) => ({ ...write.undo(input, reason), ...(undo ? { undo } : {}), ...rest }),
  };
}

/** The rule, with the commands of its proposals (and of their undos) in its family's command table: sendable, not granted. */
export function proposing(rule: KitRule, writes: readonly { readonly command: BoundCommand }[]): KitRule {
  return { ...rule, commands: [...rule.commands, ...writes.map((write) => write.command)] };
}
