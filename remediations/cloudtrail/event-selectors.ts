/**
 * Event selectors as a `PutEventSelectors` record carries them, and whether
 * they still log management events (the API calls that change the account).
 *
 * Basic selectors: a selector logs management events when
 * `includeManagementEvents` is true; `readWriteType` `ReadOnly` leaves the
 * write calls out. Advanced selectors: a selector logs management events when
 * a field selector `eventCategory` equals `Management`; a `readOnly` field
 * equal to `true` leaves the write calls out. The record uses lower camel case
 * (`fieldSelectors[].field`); the SDK input uses Pascal case.
 */
import { ReadWriteType, type AdvancedEventSelector, type AdvancedFieldSelector, type DataResource, type EventSelector } from '@aws-sdk/client-cloudtrail';
import { field } from '../../engine/event.js';
import { isFalse, isTrue } from './trails.js';

type Json = Record<string, unknown>;

function objects(value: unknown): Json[] {
  return (Array.isArray(value) ? value : []).filter((item): item is Json => typeof item === 'object' && item !== null && !Array.isArray(item));
}

function strings(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : undefined;
}

/** A key in either casing (`field` or `Field`). */
function either(value: unknown, camel: string): unknown {
  return field(value, camel) ?? field(value, camel.charAt(0).toUpperCase() + camel.slice(1));
}

/** A string, or `undefined` for anything else (the SDK's type for the field). */
function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

const READ_WRITE_TYPES: readonly string[] = Object.values(ReadWriteType);

/** `All`, `ReadOnly` or `WriteOnly`: the only values a successful `PutEventSelectors` carries. */
function isReadWriteType(value: unknown): value is ReadWriteType {
  return typeof value === 'string' && READ_WRITE_TYPES.includes(value);
}

/** `writes`: management write calls are logged (reads may or may not be); `read-only`: only read calls are; `none`: no management event is. */
export type ManagementCoverage = 'writes' | 'read-only' | 'none';

interface Analysis<K extends string, S> {
  readonly kind: K;
  readonly coverage: ManagementCoverage;
  /** The event's selectors in SDK input form, exactly as the event set them (the undo of a proposal). */
  readonly asSet: readonly S[];
  /** The event's selectors that log data events only, in SDK input form (kept by the proposal). */
  readonly dataOnly: readonly S[];
}

export type SelectorAnalysis = Analysis<'basic', EventSelector> | Analysis<'advanced', AdvancedEventSelector>;

/** Selectors as `PutEventSelectors` takes them: under the key of their kind. */
type SelectorsInput = { readonly EventSelectors: readonly EventSelector[] } | { readonly AdvancedEventSelectors: readonly AdvancedEventSelector[] };

function sdkDataResources(selector: unknown): DataResource[] {
  return objects(either(selector, 'dataResources')).map((resource) => ({
    Type: stringOrUndefined(either(resource, 'type')),
    Values: strings(either(resource, 'values')) ?? [],
  }));
}

function sdkBasic(selector: Json, includeManagementEvents: boolean): EventSelector {
  const exclude = strings(either(selector, 'excludeManagementEventSources'));
  const readWriteType = either(selector, 'readWriteType');
  return {
    ...(isReadWriteType(readWriteType) ? { ReadWriteType: readWriteType } : {}),
    IncludeManagementEvents: includeManagementEvents,
    DataResources: sdkDataResources(selector),
    ...(exclude && exclude.length > 0 ? { ExcludeManagementEventSources: exclude } : {}),
  };
}

/** Field selector operators: the record's casing, and the SDK input's. */
const FIELD_OPERATORS = [
  ['equals', 'Equals'],
  ['startsWith', 'StartsWith'],
  ['endsWith', 'EndsWith'],
  ['notEquals', 'NotEquals'],
  ['notStartsWith', 'NotStartsWith'],
  ['notEndsWith', 'NotEndsWith'],
] as const satisfies readonly (readonly [string, Exclude<keyof AdvancedFieldSelector, 'Field'>])[];

function sdkFieldSelector(selector: Json): AdvancedFieldSelector {
  const out: AdvancedFieldSelector = { Field: stringOrUndefined(either(selector, 'field')) };
  for (const [operator, key] of FIELD_OPERATORS) {
    const values = strings(either(selector, operator));
    if (values) out[key] = values;
  }
  return out;
}

function sdkAdvanced(selector: Json): AdvancedEventSelector {
  const name = either(selector, 'name');
  return {
    ...(typeof name === 'string' ? { Name: name } : {}),
    FieldSelectors: objects(either(selector, 'fieldSelectors')).map(sdkFieldSelector),
  };
}

function fieldValues(selector: Json, fieldName: string, operator: 'equals'): string[] {
  return objects(either(selector, 'fieldSelectors'))
    .filter((f) => either(f, 'field') === fieldName)
    .flatMap((f) => strings(either(f, operator)) ?? []);
}

function isManagementAdvanced(selector: Json): boolean {
  return fieldValues(selector, 'eventCategory', 'equals').includes('Management');
}

function coverageOf(flags: readonly ('writes' | 'read-only')[]): ManagementCoverage {
  if (flags.length === 0) return 'none';
  return flags.includes('writes') ? 'writes' : 'read-only';
}

/** The selectors of a `PutEventSelectors` request, or `undefined` when it has neither kind. */
export function analyzeSelectors(requestParameters: unknown): SelectorAnalysis | undefined {
  const advanced = either(requestParameters, 'advancedEventSelectors');
  if (Array.isArray(advanced)) {
    const selectors = objects(advanced);
    const management = selectors.filter(isManagementAdvanced);
    const coverage = coverageOf(management.map((s) => (fieldValues(s, 'readOnly', 'equals').includes('true') ? 'read-only' : 'writes')));
    return {
      kind: 'advanced',
      coverage,
      asSet: selectors.map(sdkAdvanced),
      dataOnly: selectors.filter((s) => !isManagementAdvanced(s)).map(sdkAdvanced),
    };
  }
  const basic = either(requestParameters, 'eventSelectors');
  if (!Array.isArray(basic)) return undefined;
  const selectors = objects(basic);
  const management = selectors.filter((s) => isTrue(either(s, 'includeManagementEvents')) || either(s, 'includeManagementEvents') === undefined);
  const coverage = coverageOf(management.map((s) => (either(s, 'readWriteType') === 'ReadOnly' ? 'read-only' : 'writes')));
  return {
    kind: 'basic',
    coverage,
    asSet: selectors.map((s) => sdkBasic(s, !isFalse(either(s, 'includeManagementEvents')))),
    dataOnly: selectors.filter((s) => sdkDataResources(s).length > 0).map((s) => sdkBasic(s, false)),
  };
}

/** The selectors a person is proposed to set: the event's data-event selectors, plus one that logs every management event. */
export function restoringSelectors(analysis: SelectorAnalysis): SelectorsInput {
  if (analysis.kind === 'advanced') {
    return { AdvancedEventSelectors: [{ FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] }, ...analysis.dataOnly] };
  }
  return { EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [] }, ...analysis.dataOnly] };
}

/** The selectors exactly as the event set them, as `PutEventSelectors` takes them (the undo of the proposal). */
export function selectorsAsSet(analysis: SelectorAnalysis): SelectorsInput {
  return analysis.kind === 'advanced' ? { AdvancedEventSelectors: analysis.asSet } : { EventSelectors: analysis.asSet };
}

/**
 * The selectors a trail has now, from a `GetEventSelectors` answer (Pascal
 * case). A trail has either kind; an empty list of the other kind may come
 * along, so a non-empty advanced list wins, then a basic list.
 */
export function currentSelectors(output: unknown): SelectorAnalysis | undefined {
  const advanced = either(output, 'advancedEventSelectors');
  const basic = either(output, 'eventSelectors');
  if (Array.isArray(advanced) && advanced.length > 0) return analyzeSelectors({ advancedEventSelectors: advanced });
  if (Array.isArray(basic)) return analyzeSelectors({ eventSelectors: basic });
  return Array.isArray(advanced) ? analyzeSelectors({ advancedEventSelectors: advanced }) : undefined;
}

function sortedStrings(value: unknown): string[] {
  return (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []).sort();
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A selector as text, with the API's defaults filled in and every list sorted: what it logs, not how it was written. */
function canonicalSelector(kind: SelectorAnalysis['kind'], selector: object): string {
  if (kind === 'advanced') {
    // The name is a label: it changes nothing about what is logged.
    const fields = objects(field(selector, 'FieldSelectors')).map((f) => JSON.stringify([f['Field'], ...FIELD_OPERATORS.map(([, key]) => sortedStrings(f[key]))]));
    return JSON.stringify(fields.sort(byText));
  }
  const resources = objects(field(selector, 'DataResources')).map((r) => JSON.stringify([r['Type'], sortedStrings(r['Values'])]));
  const readWriteType = field(selector, 'ReadWriteType');
  return JSON.stringify([
    typeof readWriteType === 'string' ? readWriteType : 'All',
    field(selector, 'IncludeManagementEvents') !== false,
    resources.sort(byText),
    sortedStrings(field(selector, 'ExcludeManagementEventSources')),
  ]);
}

/** Whether two sets of selectors (SDK form, as `SelectorAnalysis.asSet`) log exactly the same events. */
export function sameSelectors(kind: SelectorAnalysis['kind'], a: readonly object[], otherKind: SelectorAnalysis['kind'], b: readonly object[]): boolean {
  if (kind !== otherKind || a.length !== b.length) return false;
  const left = a.map((s) => canonicalSelector(kind, s)).sort(byText);
  const right = b.map((s) => canonicalSelector(otherKind, s)).sort(byText);
  return left.every((text, index) => text === right[index]);
}
