/**
 * "A plan touches only the resources named in the event", as a reusable check.
 *
 * Every string in a step's input (and its undo's input) that names an AWS
 * resource must come from the event (or from a source the caller names, such
 * as the config's KMS key). A string names a resource when:
 * - its key says so: `…Id`, `…Ids`, `…Name`, `…Names`, `…Arn`, `…Arns`,
 *   `Bucket`, `Resources` (SDK inputs are PascalCase: `GroupId`, `RoleName`,
 *   `PolicyArn`, `SecurityGroupRuleIds`); a bare `Name` only at the top of the
 *   input (nested, it labels a filter or an event selector);
 * - or its value looks like one wherever it is: an ARN (`arn:…`) or a resource
 *   id (`sg-0a1b…`, `vol-…`, `snap-…`, `i-…`, `ami-…`, `sgr-…`).
 *
 * "From the event" means: a substring of some string (or key) anywhere in the
 * event. An ARN the rule built from parts passes when its account is in the
 * event (or is `aws`, as in `arn:aws:iam::aws:policy/AWSDenyAll`) and its last
 * path segment is in the event. The name of a resource a step creates
 * (`Create…`, `Copy…`) may be derived (`<config>-kms`, the stem cut to fit a
 * length limit): it must contain or start like a name the event gives; later
 * steps of the same plan may then refer to it. A few
 * values an API fixes are allowed ({@link API_CONSTANTS}). Empty values name
 * nothing. `{ $ref }` and `{ $unknown }` placeholders are not resources: the
 * executor fills or refuses them.
 *
 * Walks are iterative, so adversarial 10,000-deep events cannot overflow the stack.
 */
import { isStepOutputRef, isUnknownValue, type PlanStep } from '../../engine/types.js';

const IDENTIFIER_KEY = /(?:Id|Ids|Name|Names|Arn|Arns)$|^(?:Bucket|Resources)$/;
const RESOURCE_ID = /^[a-z][a-z0-9]{0,15}-[0-9a-f]{8,17}$/;
const ARN = /^arn:([^:]*):([^:]*):([^:]*):([^:]*):(.+)$/s;
/** Operations that make a new resource, whose name the rule may derive from the event's. */
const CREATING_OPERATION = /^(?:Create|Copy|Clone|Register)/;
/** An event string this long, anywhere in a new name, makes it derived; shorter ones must be a name of the event. */
const MIN_DERIVED_FROM = 6;

/**
 * Values an API fixes, which look like names but name no resource of the
 * event: KMS calls every key policy `default`.
 */
export const API_CONSTANTS: Readonly<Record<string, readonly string[]>> = {
  'kms:PutKeyPolicy': ['default'],
  'kms:GetKeyPolicy': ['default'],
};

/** What plans are checked against: every string of the sources, and those that are names (under a `…name` key). */
export interface Sources {
  /** All strings and keys, joined by a character no id contains. */
  readonly text: string;
  readonly strings: readonly string[];
  readonly names: readonly string[];
}

/** The strings of the event (and of any other source, such as the config), without recursion. */
export function eventSources(...values: readonly unknown[]): Sources {
  const strings: string[] = [];
  const names: string[] = [];
  const stack: { key: string; value: unknown }[] = values.map((value) => ({ key: '', value }));
  while (stack.length > 0) {
    const { key, value } = stack.pop() as { key: string; value: unknown };
    if (typeof value === 'string') {
      strings.push(value);
      if (/name$/i.test(key)) names.push(value);
    } else if (typeof value === 'number' || typeof value === 'bigint') strings.push(String(value));
    else if (Array.isArray(value)) for (const item of value) stack.push({ key, value: item });
    else if (typeof value === 'object' && value !== null) {
      for (const [childKey, item] of Object.entries(value)) {
        strings.push(childKey);
        stack.push({ key: childKey, value: item });
      }
    }
  }
  return { text: strings.join('\u0000'), strings, names };
}

interface Identifier {
  readonly key: string;
  readonly value: string;
}

function identifiersOf(input: unknown): Identifier[] {
  const found: Identifier[] = [];
  const stack: { key: string; value: unknown; depth: number }[] = [{ key: '', value: input, depth: 0 }];
  while (stack.length > 0) {
    const { key, value, depth } = stack.pop() as { key: string; value: unknown; depth: number };
    if (isStepOutputRef(value) || isUnknownValue(value)) continue;
    if (typeof value === 'string') {
      // An empty value names nothing (AWS rejects it); only a name can point at the wrong resource.
      if (value.length === 0) continue;
      if (IDENTIFIER_KEY.test(key) || ARN.test(value) || RESOURCE_ID.test(value)) found.push({ key, value });
    } else if (Array.isArray(value)) {
      for (const item of value) stack.push({ key, value: item, depth });
    } else if (typeof value === 'object' && value !== null) {
      for (const [childKey, item] of Object.entries(value)) {
        // A bare `Name` names the resource only at the top of an input (`StartLogging {Name}`); nested, it labels
        // a filter (`{Name, Values}`) or an event selector.
        if (childKey === 'Name' && depth > 0) continue;
        stack.push({ key: childKey, value: item, depth: depth + 1 });
      }
    }
  }
  return found;
}

function fromSources(identifier: string, sources: Sources): boolean {
  const { text } = sources;
  if (text.includes(identifier)) return true;
  const arn = ARN.exec(identifier);
  if (!arn) return false;
  const account = arn[4] ?? '';
  const resource = arn[5] ?? '';
  const tail = resource.split(/[/:]/).filter((part) => part.length > 0).at(-1) ?? '';
  const accountKnown = account === '' || account === 'aws' || text.includes(account);
  return accountKnown && (account === 'aws' || (tail.length > 0 && text.includes(tail)));
}

function commonPrefixLength(a: string, b: string): number {
  let length = 0;
  while (length < a.length && length < b.length && a[length] === b[length]) length += 1;
  return length;
}

/** A new name made from a name of the event: it contains it, or starts like it (the stem cut to fit a length limit). */
function derivedFromSources(name: string, sources: Sources): boolean {
  return (
    sources.names.some((source) => source.length > 0 && (name.includes(source) || commonPrefixLength(name, source) >= Math.min(source.length, MIN_DERIVED_FROM))) ||
    sources.strings.some((source) => source.length >= MIN_DERIVED_FROM && name.includes(source))
  );
}

type Call = Pick<PlanStep, 'service' | 'operation' | 'input'>;
export type ScopedStep = Call & { readonly undo?: Call | undefined };

/** The resource references of the steps (inputs and undo inputs) that come from none of the sources. */
export function foreignIdentifiers(steps: readonly ScopedStep[], sources: Sources): string[] {
  const foreign = new Set<string>();
  // Names of resources the plan itself creates, which later steps may use (`UpdateEndpoint` to the new config).
  const created = new Set<string>();
  for (const step of steps) {
    if (!CREATING_OPERATION.test(step.operation)) continue;
    for (const { key, value } of identifiersOf(step.input)) if (key.endsWith('Name') && derivedFromSources(value, sources)) created.add(value);
  }
  for (const step of steps) {
    for (const call of step.undo ? [step, step.undo] : [step]) {
      const constants = API_CONSTANTS[`${call.service}:${call.operation}`] ?? [];
      for (const { value } of identifiersOf(call.input)) {
        if (constants.includes(value) || created.has(value) || fromSources(value, sources)) continue;
        foreign.add(value);
      }
    }
  }
  return [...foreign];
}

/** Throws, naming the foreign references, when a step refers to a resource the event does not name. */
export function assertScopedToEvent(steps: readonly ScopedStep[], sources: Sources, label: string): void {
  const foreign = foreignIdentifiers(steps, sources);
  if (foreign.length > 0) {
    throw new Error(`${label}: plan refers to resources the event does not name: ${foreign.map((id) => JSON.stringify(id.slice(0, 120))).join(', ')}`);
  }
}
