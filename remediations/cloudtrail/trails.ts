/**
 * What the CloudTrail events say about a trail: its name as the caller gave it
 * (a name or an ARN, both accepted by the CloudTrail API), its ARN, and the
 * settings an `UpdateTrail` turned off. Request parameters are lower camel case
 * in CloudTrail records; data-lake exports sometimes turn booleans into strings.
 */
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { accountOf, partitionOfRegion } from '../../rulekit/cloudtrail.js';

export interface TrailRef {
  /** Exactly as the event named the trail: the value to send back as `Name`/`TrailName`. */
  readonly name: string;
  /** The trail's ARN: from the response, the name when it is an ARN, else built from the event. */
  readonly arn: string;
  /** The short name, for people. */
  readonly label: string;
}

/** The trail the event acted on. StopLogging, DeleteTrail and UpdateTrail say `name`; PutEventSelectors says `trailName`. */
export function trailOf(event: CloudTrailEvent): TrailRef | undefined {
  const params = event.detail.requestParameters;
  const name = stringField(params, 'name') ?? stringField(params, 'trailName');
  if (!name) return undefined;
  const responseArn = stringField(event.detail.responseElements, 'trailARN');
  const account = accountOf(event);
  const region = event.detail.awsRegion;
  const arn = name.startsWith('arn:') ? name : (responseArn ?? `arn:${partitionOfRegion(region)}:cloudtrail:${region}:${account}:trail/${name}`);
  const label = name.startsWith('arn:') ? name.slice(name.indexOf(':trail/') + ':trail/'.length) || name : name;
  return { name, arn, label };
}

/** `false` (or the string `"false"` of some exports) exactly; anything else is not a "turned off". */
export function isFalse(value: unknown): boolean {
  return value === false || value === 'false';
}

export function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

/** The trail settings an `UpdateTrail` request explicitly turned off. */
export interface TurnedOff {
  readonly multiRegion: boolean;
  readonly logFileValidation: boolean;
  readonly globalServiceEvents: boolean;
}

export function turnedOff(event: CloudTrailEvent): TurnedOff {
  const params = event.detail.requestParameters;
  return {
    multiRegion: isFalse(field(params, 'isMultiRegionTrail')),
    logFileValidation: isFalse(field(params, 'enableLogFileValidation')),
    globalServiceEvents: isFalse(field(params, 'includeGlobalServiceEvents')),
  };
}

/** Whether the trail includes global service events after the call, as far as the response says. */
export function includesGlobalServiceEvents(event: CloudTrailEvent): boolean | undefined {
  const value = field(event.detail.responseElements, 'includeGlobalServiceEvents');
  return isTrue(value) ? true : isFalse(value) ? false : undefined;
}
