/**
 * Reading SageMaker CloudTrail records.
 *
 * SageMaker's API members are PascalCase (`NotebookInstanceName`), but CloudTrail
 * records them in lowerCamelCase (`notebookInstanceName`, `endpointConfigName`,
 * `resourceArn`: the AWS "Understand SageMaker AI log file entries" examples and
 * every genuine record seen). Readers here accept both spellings, so a record
 * written either way, or an API request replayed as an event, reads the same.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Tags } from '../../engine/exemption.js';
import { accountOf, partitionOf, tagsFromEvent } from '../../rulekit/cloudtrail.js';

function lowerFirst(key: string): string {
  return key.charAt(0).toLowerCase() + key.slice(1);
}

/** A nested request member by its API name (`ResourceConfig`, `InstanceCount`), in either spelling. */
export function param(value: unknown, ...path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    const record = current as Record<string, unknown>;
    const lower = lowerFirst(key);
    current = Object.hasOwn(record, lower) ? record[lower] : record[key];
  }
  return current;
}

export function stringParam(value: unknown, ...path: readonly string[]): string | undefined {
  const found = param(value, ...path);
  return typeof found === 'string' && found.length > 0 ? found : undefined;
}

/** `true` only for an explicit true (CloudTrail keeps booleans; some exports stringify them). */
export function isTrue(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

/** A whole non-negative count, from a number or a numeric string. */
export function count(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= 0 ? number : undefined;
}

export function objects(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item)) : [];
}

/** `Enabled`/`Disabled` settings compare case-insensitively; an absent value is the API default. */
export function enabledSetting(value: unknown, apiDefault: 'Enabled' | 'Disabled'): { enabled: boolean; omitted: boolean } {
  if (typeof value !== 'string' || value.length === 0) return { enabled: apiDefault === 'Enabled', omitted: true };
  return { enabled: value.toLowerCase() === 'enabled', omitted: false };
}

/** The request's `Tags` (`[{Key, Value}]`, or `[{key, value}]` as CloudTrail spells it) as a map. */
export function requestTags(request: unknown): Tags {
  return tagsFromEvent(param(request, 'Tags'));
}

/**
 * Deeper than any SageMaker request, and than any plan input the engine runs
 * (`engine/plan-guard.ts` refuses those past 32 levels): below it a value is
 * copied as it is, so hostile nesting cannot exhaust the stack here.
 */
const API_SHAPE_DEPTH = 40;

/** The request with every member name in the API's PascalCase, for proposed SDK inputs copied from the event. */
export function toApiShape(value: unknown, depth = 0): unknown {
  if (depth >= API_SHAPE_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => toApiShape(item, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key.charAt(0).toUpperCase() + key.slice(1), toApiShape(item, depth + 1)]));
}

/**
 * A SageMaker resource ARN. SageMaker lowercases the resource name in its ARNs
 * (`…:notebook-instance/aking-service-mapping` for `AKing-Service-Mapping`).
 */
export function sagemakerArn(event: CloudTrailEvent, resourceType: string, name: string): string {
  return `arn:${partitionOf(event)}:sagemaker:${event.detail.awsRegion}:${accountOf(event)}:${resourceType}/${name.toLowerCase()}`;
}

/** The ARN the response names (`notebookInstanceArn`, `trainingJobArn`, …), if any. */
export function responseArn(event: CloudTrailEvent, member: string): string | undefined {
  return stringParam(event.detail.responseElements, member);
}
