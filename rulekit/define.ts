/**
 * The rule kit: a rule, its calls, its lookups and its reads are declared
 * once, by their SDK commands, and everything else is derived from them.
 *
 * - `defineAction(ec2, RevokeSecurityGroupIngressCommand)`: a write a plan may
 *   make. Its IAM action comes from the command, its resource from the
 *   resource table (`resources.ts`); grants on ARNs that name no account carry
 *   `aws:ResourceAccount`. `.step(input, options)` builds the plan step, its
 *   input checked against the command's input type.
 * - `defineUndo(ec2, AuthorizeSecurityGroupIngressCommand)`: the inverse of a
 *   step, shown in alerts and run by `remediate undo`; never granted.
 * - `defineWaiter(ec2, 'waitUntilSnapshotCompleted', waitUntilSnapshotCompleted)`:
 *   a wait step (it changes nothing).
 * - `defineLookup(ec2, DescribeSecurityGroupsCommand, {…})`: a read a rule
 *   decides with; `readFact(facts, lookup)` gives its fact, typed.
 * - `defineProbe(ec2, DescribeSecurityGroupRulesCommand, {…})`: the read
 *   before and after a write; `.check(input, expect, description)` builds the
 *   step's precondition or verification.
 * - `defineRule({…})`: the rule, with its settings typed from their schema and
 *   its permissions derived from its actions.
 * - `defineFamily({ name, rules })`: one Lambda function's rules, and the SDK
 *   command table derived from what they send.
 */
import type { SdkClientConstructor, SdkCommandConstructor, SdkWaiter } from '../engine/aws.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { iamActionFor } from '../engine/iam-actions.js';
import {
  OWN_ACCOUNT_ONLY,
  stateCheck,
  type Fact,
  type Family,
  type Facts,
  type Lookup,
  type Mode,
  type Permission,
  type PlanStep,
  type Probe,
  type ProbeVerdict,
  type Rule,
  type RuleContext,
  type Service,
  type Severity,
  type StateCheck,
  type StepOutputRef,
  type Trigger,
  type UndoStep,
  type UnknownValue,
  type Verdict,
} from '../engine/types.js';
import { namesNoAccount, resourceOf } from './resources.js';
import { bindCommand, type AwsService, type BoundCommand, type CommandClass, type InputOf } from './sdk.js';

/** A value a step's input may hold in place of a real one: an earlier step's output, or a value a person must fill in. */
export type Placeholder = StepOutputRef | UnknownValue;

/** A command input whose values may be placeholders, at any depth. */
export type Placeheld<T> = T extends string | number | boolean | bigint | Date | Uint8Array
  ? T | Placeholder
  : T extends readonly (infer E)[]
    ? readonly Placeheld<E>[] | Placeholder
    : T extends object
      ? { readonly [K in keyof T]: Placeheld<T[K]> } | Placeholder
      : T | Placeholder;

/** What a plan step carries besides its input. */
export interface StepOptions {
  readonly reason: string;
  readonly undo?: UndoStep;
  readonly id?: string;
  readonly precondition?: StateCheck;
  readonly verification?: StateCheck;
  readonly alreadyDoneCodes?: readonly string[];
  readonly noChangeWhen?: readonly string[];
}

/** A write a rule's plans may make, with the permission the deployment grants for it. */
export interface Action<C extends CommandClass = CommandClass> {
  readonly command: BoundCommand;
  readonly permission: Permission;
  step(input: Placeheld<InputOf<C>>, options: StepOptions): PlanStep;
}

export interface ActionOptions {
  /** Narrower than the resource table's pattern for the action (rare: say why where it is used). */
  readonly resource?: string;
  /** Narrows the grant further, e.g. which managed policy may be attached. */
  readonly condition?: Permission['condition'];
  /** The rule setting without which no plan uses this action (see `Permission.requiresSetting`). */
  readonly requiresSetting?: string;
}

function plain(input: unknown): Readonly<Record<string, unknown>> {
  return input as Readonly<Record<string, unknown>>;
}

export function defineAction<C extends CommandClass>(service: AwsService, Command: C, options: ActionOptions = {}): Action<C> {
  const command = bindCommand(service, Command);
  const action = iamActionFor(service.name, command.operation);
  const resource = options.resource ?? resourceOf(action);
  const condition = options.condition ?? (namesNoAccount(resource) ? OWN_ACCOUNT_ONLY : undefined);
  return {
    command,
    permission: { action, resource, ...(condition ? { condition } : {}), ...(options.requiresSetting ? { requiresSetting: options.requiresSetting } : {}) },
    step: (input, { reason, undo, ...rest }) => ({
      service: service.name,
      operation: command.operation,
      input: plain(input),
      reason,
      ...(undo ? { undo } : {}),
      ...rest,
    }),
  };
}

/** The inverse of a step: shown in alerts, run only by `remediate undo` (through its own allow-list), never granted to a function. */
export interface Undo<C extends CommandClass = CommandClass> {
  readonly command: BoundCommand;
  undo(input: Placeheld<InputOf<C>>, reason: string): UndoStep;
}

export function defineUndo<C extends CommandClass>(service: AwsService, Command: C): Undo<C> {
  const command = bindCommand(service, Command);
  return { command, undo: (input, reason) => ({ service: service.name, operation: command.operation, input: plain(input), reason }) };
}

/**
 * A write only a person runs: a step of a proposal (never applied by the
 * function, never granted to its role), which may also be the undo of another
 * proposed step (a start undoes a stop). Named by its SDK command and checked
 * against its input type. A rule lists these in `proposals`, so that the
 * family's command table can send them when a person approves the proposal or
 * runs `remediate undo`.
 */
export interface ProposedWrite<C extends CommandClass = CommandClass> extends Undo<C> {
  step(input: Placeheld<InputOf<C>>, options: StepOptions): PlanStep;
}

export function defineProposedWrite<C extends CommandClass>(service: AwsService, Command: C): ProposedWrite<C> {
  const write = defineUndo(service, Command);
  return {
    ...write,
    // A step's `id` comes right after its operation, where plans and the golden replay carry it.
    step: (input, { reason, undo, id, ...rest }) => ({
      service: service.name,
      operation: write.command.operation,
      ...(id ? { id } : {}),
      input: plain(input),
      reason,
      ...(undo ? { undo } : {}),
      ...rest,
    }),
  };
}

/** A wait between writes: an SDK v3 waiter, run within the invocation's remaining time. */
export interface Waiter<I extends object = object> {
  readonly service: AwsService;
  readonly name: string;
  readonly waiter: SdkWaiter;
  step(input: Placeheld<I>, options: { readonly reason: string; readonly id?: string }): PlanStep;
}

export function defineWaiter<I extends object>(service: AwsService, name: string, waiter: (params: never, input: I) => Promise<unknown>): Waiter<I> {
  return {
    service,
    name,
    waiter: waiter as unknown as SdkWaiter,
    step: (input, { reason, id }) => ({ service: service.name, operation: name, kind: 'wait', input: plain(input), reason, ...(id ? { id } : {}) }),
  };
}

/** A lookup the kit built: the engine's `Lookup`, with its command, and the type of the fact it yields. */
export interface KitLookup<T> extends Lookup {
  readonly command: BoundCommand;
  /** Type carrier only: never read. */
  readonly __fact?: T;
}

export interface LookupSpec<C extends CommandClass, T, S = unknown> {
  readonly name: string;
  /**
   * The input, or `undefined` for "nothing to look up" (see `Lookup.input`).
   * `context` carries the rule's settings, already parsed by its schema: type
   * the parameter (`context?: RuleContext<MySettings>`) to read them typed.
   */
  readonly input: (event: CloudTrailEvent, earlier: Facts, context?: RuleContext<S>) => InputOf<C> | undefined;
  readonly select: (output: unknown) => T;
  readonly notFoundCodes?: readonly string[];
  /** Narrower than the resource table's pattern for the action (rare: say why where it is used). */
  readonly resource?: string;
}

export function defineLookup<C extends CommandClass, T, S = unknown>(service: AwsService, Command: C, spec: LookupSpec<C, T, S>): KitLookup<T> {
  const command = bindCommand(service, Command);
  const permission = iamActionFor(service.name, command.operation);
  const resource = spec.resource ?? resourceOf(permission);
  return {
    command,
    name: spec.name,
    service: service.name,
    operation: command.operation,
    permission,
    ...(resource !== '*' ? { resource } : {}),
    // The engine passes the context of the rule that declared the lookup, whose settings its schema parsed.
    input: (event, earlier = {}, context) => spec.input(event, earlier, context as RuleContext<S> | undefined) as Readonly<Record<string, unknown>> | undefined,
    select: spec.select,
    ...(spec.notFoundCodes ? { notFoundCodes: spec.notFoundCodes } : {}),
  };
}

/** The fact a lookup gave, typed by the lookup: `undefined` when it did not run. */
export function readFact<T>(facts: Facts, lookup: KitLookup<T>): Fact<T> | undefined {
  return facts[lookup.name] as Fact<T> | undefined;
}

/** A fact's value when the lookup answered (`null` for "not found"); `undefined` when it is unavailable or did not run. */
export function factValue<T>(fact: Fact<T> | undefined): T | undefined {
  return fact?.status === 'ok' ? fact.value : undefined;
}

/** A probe the kit built: the engine's `Probe`, with its command, and a typed way to build its checks. */
export interface KitProbe<C extends CommandClass = CommandClass> extends Probe {
  readonly command: BoundCommand;
  /** The input may hold placeholders (an earlier step's output, a value a person fills in), resolved before the read. */
  check(input: Placeheld<InputOf<C>>, expect: Readonly<Record<string, unknown>>, description: string): StateCheck;
}

export interface ProbeSpec {
  readonly name: string;
  /** Narrower than the resource table's pattern for the action (rare: say why where it is used). */
  readonly resource?: string;
  readonly notFoundCodes?: readonly string[];
  judge(output: unknown, expect: Readonly<Record<string, unknown>>, notFound?: string): ProbeVerdict;
}

export function defineProbe<C extends CommandClass>(service: AwsService, Command: C, spec: ProbeSpec): KitProbe<C> {
  const command = bindCommand(service, Command);
  const resource = spec.resource ?? resourceOf(iamActionFor(service.name, command.operation));
  const probe: KitProbe<C> = {
    command,
    name: spec.name,
    service: service.name,
    operation: command.operation,
    ...(resource !== '*' ? { resource } : {}),
    ...(spec.notFoundCodes ? { notFoundCodes: spec.notFoundCodes } : {}),
    judge: spec.judge,
    check: (input, expect, description) => stateCheck(probe, plain(input), expect, description),
  };
  return probe;
}

/** A settings schema (zod/mini): accepts `{}` and fills the defaults. */
export interface SettingsSchema<S> {
  parse(input: unknown): S;
  safeParse(input: unknown): { success: boolean; error?: unknown; data?: S };
}

export interface RuleSpec<S> {
  readonly id: string;
  readonly title: string;
  /** At most: a decision carries its own findings' severity. */
  readonly severity: Severity;
  readonly rationale: string;
  readonly triggers: readonly Trigger[];
  readonly settings?: SettingsSchema<S>;
  readonly lookups?: readonly KitLookup<unknown>[];
  readonly probes?: readonly KitProbe[];
  /** The writes its plans make: the deployment grants exactly these (in `remediate` mode). */
  readonly actions?: readonly Action[];
  /**
   * Writes only a person runs: proposal steps and undo steps. In the family's
   * command table (an approved proposal and `remediate undo` send them),
   * never in its role.
   */
  readonly proposals?: readonly (Undo | ProposedWrite)[];
  readonly waiters?: readonly Waiter[];
  readonly defaultMode?: Mode;
  evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<S>): Verdict;
}

/** A rule as the kit declares it: the engine's `Rule` before its family is known, with the commands it sends and reads. */
export interface KitRule extends Omit<Rule, 'family'> {
  readonly commands: readonly BoundCommand[];
  readonly waiters: readonly Waiter[];
}

export function defineRule<S = Record<string, never>>(spec: RuleSpec<S>): KitRule {
  const actions = spec.actions ?? [];
  return {
    id: spec.id,
    title: spec.title,
    severity: spec.severity,
    rationale: spec.rationale,
    triggers: spec.triggers,
    permissions: actions.map((action) => action.permission),
    ...(spec.lookups ? { lookups: spec.lookups } : {}),
    ...(spec.probes ? { probes: spec.probes } : {}),
    ...(spec.defaultMode ? { defaultMode: spec.defaultMode } : {}),
    ...(spec.settings ? { settings: spec.settings } : {}),
    evaluate: (event, facts, context) => spec.evaluate(event, facts, context as RuleContext<S>),
    commands: [
      ...actions.map((action) => action.command),
      ...(spec.lookups ?? []).map((lookup) => lookup.command),
      ...(spec.probes ?? []).map((probe) => probe.command),
      ...(spec.proposals ?? []).map((write) => write.command),
    ],
    waiters: spec.waiters ?? [],
  };
}

/** One Lambda function's rules, each stamped with the family's name, and the SDK command table derived from what they send and read. */
export function defineFamily<const Name extends string>(spec: { readonly name: Name; readonly rules: readonly KitRule[]; readonly global?: boolean }): Family<Name> {
  const clients: Partial<Record<Service, SdkClientConstructor>> = {};
  const commands: Record<string, SdkCommandConstructor> = {};
  const waiters: Record<string, SdkWaiter> = {};
  for (const rule of spec.rules) {
    for (const command of rule.commands) {
      clients[command.service.name] = command.service.Client;
      commands[`${command.service.name}:${command.operation}`] = command.Command;
    }
    for (const waiter of rule.waiters) {
      clients[waiter.service.name] = waiter.service.Client;
      waiters[`${waiter.service.name}:${waiter.name}`] = waiter.waiter;
    }
  }
  return {
    name: spec.name,
    global: spec.global === true,
    rules: spec.rules.map(({ commands: _commands, waiters: _waiters, ...rule }) => ({ ...rule, family: spec.name })),
    commands: { clients, commands, ...(Object.keys(waiters).length > 0 ? { waiters } : {}) },
  };
}
