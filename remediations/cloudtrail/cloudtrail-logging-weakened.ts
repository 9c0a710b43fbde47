/**
 * cloudtrail-logging-weakened: a trail stopped, deleted or weakened, the first
 * step of an attacker covering their tracks.
 *
 * Triggers (`cloudtrail.amazonaws.com`): `StopLogging` (logging stopped),
 * `DeleteTrail` (trail deleted), `UpdateTrail` (the request sets
 * `isMultiRegionTrail`, `enableLogFileValidation` or `includeGlobalServiceEvents`
 * to false), `PutEventSelectors` (no selector logs management events any more,
 * or only their read calls; basic and advanced selectors).
 *
 * Changes: `StartLogging {Name}` after `StopLogging` (undo: `StopLogging`);
 * `UpdateTrail {Name, …: true}` restoring exactly the settings the event turned
 * off (undo: the event's values). `IncludeGlobalServiceEvents` is restored with
 * multi-region, which CloudTrail requires. Steps a lookup shows already in
 * place are reported done without a call.
 * Proposes (never applied): for `PutEventSelectors`, the event's data-event
 * selectors plus one logging every management event (the selectors before the
 * event are not in it; the undo sets the event's selectors again); for
 * `DeleteTrail`, `CreateTrail` and `StartLogging` with every parameter the
 * event and the trail's `CreateTrail` record in the event history give, and
 * placeholders for the rest (offline: only the name).
 * Never touches: trails' S3 buckets, log files and KMS keys, the trail's other
 * settings, data-event selectors, and trails carrying the exemption tag.
 * Permissions: `cloudtrail:StartLogging` and `cloudtrail:UpdateTrail` on the
 * account's trails; lookups `cloudtrail:ListTags`, `cloudtrail:GetTrailStatus`,
 * `cloudtrail:GetTrail` and `cloudtrail:LookupEvents`.
 */
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList, type Tags } from '../../engine/exemption.js';
import { unknownValue, type Fact, type Facts, type Finding, type Lookup, type PlanStep, type Rule, type RuleContext, type Verdict } from '../../engine/types.js';
import { analyzeSelectors, restoringSelectors, type SelectorAnalysis } from './event-selectors.js';
import { includesGlobalServiceEvents, isTrue, trailOf, turnedOff, type TrailRef, type TurnedOff } from './trails.js';

const TRAIL_NOT_FOUND = ['TrailNotFoundException', 'ResourceNotFoundException'] as const;

function okValue(fact: Fact | undefined): unknown {
  return fact?.status === 'ok' ? fact.value : undefined;
}

function anyTurnedOff(off: TurnedOff): boolean {
  return off.multiRegion || off.logFileValidation || off.globalServiceEvents;
}

function selectorsOf(event: CloudTrailEvent): SelectorAnalysis | undefined {
  return event.detail.eventName === 'PutEventSelectors' ? analyzeSelectors(event.detail.requestParameters) : undefined;
}

/** Whether the event weakened the trail, before any lookup: decides which lookups are worth a call. */
function mayViolate(event: CloudTrailEvent): boolean {
  switch (event.detail.eventName) {
    case 'StopLogging':
    case 'DeleteTrail':
      return true;
    case 'UpdateTrail':
      return anyTurnedOff(turnedOff(event));
    case 'PutEventSelectors': {
      const coverage = selectorsOf(event)?.coverage;
      return coverage !== undefined && coverage !== 'writes';
    }
    default:
      return false;
  }
}

/**
 * The account's trails in the deployment's Region. Stopping, updating or
 * deleting a trail is only possible from its home Region, so the trail an
 * event names is always here.
 */
const TRAIL_RESOURCE = 'arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/*';

const tagsLookup: Lookup = {
  name: 'trailTags',
  service: 'cloudtrail',
  operation: 'ListTags',
  permission: 'cloudtrail:ListTags',
  resource: TRAIL_RESOURCE,
  input: (event) => {
    const trail = trailOf(event);
    return trail && event.detail.eventName !== 'DeleteTrail' && mayViolate(event) ? { ResourceIdList: [trail.arn] } : undefined;
  },
  select: (output) => {
    const [first] = (field(output, 'ResourceTagList') as unknown[] | undefined) ?? [];
    return { tags: tagsFromList(field(first, 'TagsList')) };
  },
  notFoundCodes: TRAIL_NOT_FOUND,
};

const statusLookup: Lookup = {
  name: 'trailStatus',
  service: 'cloudtrail',
  operation: 'GetTrailStatus',
  permission: 'cloudtrail:GetTrailStatus',
  resource: TRAIL_RESOURCE,
  input: (event) => {
    const trail = trailOf(event);
    return trail && event.detail.eventName === 'StopLogging' ? { Name: trail.name } : undefined;
  },
  select: (output) => ({ isLogging: field(output, 'IsLogging') === true }),
  notFoundCodes: TRAIL_NOT_FOUND,
};

const trailLookup: Lookup = {
  name: 'trail',
  service: 'cloudtrail',
  operation: 'GetTrail',
  permission: 'cloudtrail:GetTrail',
  resource: TRAIL_RESOURCE,
  input: (event) => {
    const trail = trailOf(event);
    return trail && event.detail.eventName === 'UpdateTrail' && mayViolate(event) ? { Name: trail.name } : undefined;
  },
  select: (output) => {
    const trail = field(output, 'Trail');
    if (typeof trail !== 'object' || trail === null) return null;
    return {
      isMultiRegionTrail: field(trail, 'IsMultiRegionTrail') === true,
      logFileValidationEnabled: field(trail, 'LogFileValidationEnabled') === true,
      includeGlobalServiceEvents: field(trail, 'IncludeGlobalServiceEvents') === true,
    };
  },
  notFoundCodes: TRAIL_NOT_FOUND,
};

/** What the deleted trail's `CreateTrail` request said, when it is still in the 90-day event history. */
export interface CreatedTrail {
  readonly createdAt?: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly tags: Tags;
}

/** `CreateTrail` request fields, CloudTrail record casing → SDK input casing. */
const CREATE_TRAIL_FIELDS: Readonly<Record<string, string>> = {
  s3BucketName: 'S3BucketName',
  s3KeyPrefix: 'S3KeyPrefix',
  snsTopicName: 'SnsTopicName',
  includeGlobalServiceEvents: 'IncludeGlobalServiceEvents',
  isMultiRegionTrail: 'IsMultiRegionTrail',
  enableLogFileValidation: 'EnableLogFileValidation',
  cloudWatchLogsLogGroupArn: 'CloudWatchLogsLogGroupArn',
  cloudWatchLogsRoleArn: 'CloudWatchLogsRoleArn',
  kmsKeyId: 'KmsKeyId',
  isOrganizationTrail: 'IsOrganizationTrail',
};

function parseHistoryRecord(entry: unknown): Record<string, unknown> | undefined {
  const text = stringField(entry, 'CloudTrailEvent');
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The newest successful `CreateTrail` of this trail among `LookupEvents` results. */
export function createdTrailFrom(output: unknown, trailName: string): CreatedTrail | null {
  const events = (field(output, 'Events') as unknown[] | undefined) ?? [];
  const records = events
    .map(parseHistoryRecord)
    .filter((record): record is Record<string, unknown> => record !== undefined && !record['errorCode'])
    .filter((record) => {
      const name = stringField(record, 'requestParameters', 'name');
      const arn = stringField(record, 'responseElements', 'trailARN');
      return name === trailName || arn === trailName || (arn !== undefined && arn.endsWith(`:trail/${trailName}`));
    })
    .sort((a, b) => String(b['eventTime']).localeCompare(String(a['eventTime'])));
  const [newest] = records;
  if (!newest) return null;
  const request = field(newest, 'requestParameters');
  const parameters: Record<string, unknown> = {};
  for (const [from, to] of Object.entries(CREATE_TRAIL_FIELDS)) {
    const value = field(request, from);
    if (typeof value === 'string' ? value.length > 0 : typeof value === 'boolean') parameters[to] = value;
  }
  const tagsList = field(request, 'tagsList');
  const tags = tagsFromList(
    (Array.isArray(tagsList) ? tagsList : []).map((tag) => ({ Key: field(tag, 'key') ?? field(tag, 'Key'), Value: field(tag, 'value') ?? field(tag, 'Value') })),
  );
  const createdAt = typeof newest['eventTime'] === 'string' ? newest['eventTime'] : undefined;
  return { ...(createdAt ? { createdAt } : {}), parameters, tags };
}

const historyLookup: Lookup = {
  name: 'trailHistory',
  service: 'cloudtrail',
  operation: 'LookupEvents',
  permission: 'cloudtrail:LookupEvents',
  input: (event) =>
    event.detail.eventName === 'DeleteTrail' && trailOf(event)
      ? { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateTrail' }], MaxResults: 50 }
      : undefined,
  // The name is not in the input, so `select` keeps every CreateTrail record; `evaluate` picks the trail's.
  select: (output) => ({ events: (field(output, 'Events') as unknown[] | undefined) ?? [] }),
};

function startLogging(trail: TrailRef, alreadyDone?: string): PlanStep {
  return {
    service: 'cloudtrail',
    operation: 'StartLogging',
    input: { Name: trail.name },
    reason: `Start logging on trail ${trail.label} again. Calls made while it was stopped are not recovered; review them in the event history.`,
    undo: { service: 'cloudtrail', operation: 'StopLogging', input: { Name: trail.name }, reason: `Stop logging on trail ${trail.label} again.` },
    ...(alreadyDone !== undefined ? { alreadyDone } : {}),
  };
}

export function planRestoreSettings(trail: TrailRef, off: TurnedOff, globalAfter: boolean | undefined, current?: Record<string, unknown> | null): PlanStep {
  const restore: Record<string, boolean> = {};
  if (off.multiRegion) restore['IsMultiRegionTrail'] = true;
  if (off.logFileValidation) restore['EnableLogFileValidation'] = true;
  // CloudTrail refuses a multi-region trail without global service events.
  if (off.globalServiceEvents || (off.multiRegion && globalAfter === false)) restore['IncludeGlobalServiceEvents'] = true;
  const undo = Object.fromEntries(Object.keys(restore).map((key) => [key, false]));
  const inPlace =
    current &&
    (!restore['IsMultiRegionTrail'] || current['isMultiRegionTrail'] === true) &&
    (!restore['EnableLogFileValidation'] || current['logFileValidationEnabled'] === true) &&
    (!restore['IncludeGlobalServiceEvents'] || current['includeGlobalServiceEvents'] === true);
  return {
    service: 'cloudtrail',
    operation: 'UpdateTrail',
    input: { Name: trail.name, ...restore },
    reason: `Turn ${Object.keys(restore).join(', ')} back on for trail ${trail.label}; nothing else about the trail changes.`,
    undo: { service: 'cloudtrail', operation: 'UpdateTrail', input: { Name: trail.name, ...undo }, reason: `Set ${Object.keys(restore).join(', ')} back to false on trail ${trail.label}, as the event left them.` },
    ...(inPlace ? { alreadyDone: 'GetTrail shows these settings on again' } : {}),
  };
}

export function proposeSelectors(trail: TrailRef, analysis: SelectorAnalysis): PlanStep {
  const { key, selectors } = restoringSelectors(analysis);
  return {
    service: 'cloudtrail',
    operation: 'PutEventSelectors',
    input: { TrailName: trail.name, [key]: selectors },
    reason: `PROPOSAL, not applied: the selectors trail ${trail.label} had before this event are not in the event. This keeps the event's data-event selectors and adds one that logs every management event (reads and writes). Compare with what the trail logged before, then run it.`,
    undo: {
      service: 'cloudtrail',
      operation: 'PutEventSelectors',
      input: { TrailName: trail.name, [key]: analysis.asSet },
      reason: `Set the selectors of trail ${trail.label} back to what the event set.`,
    },
  };
}

export function proposeRecreate(trail: TrailRef, created: CreatedTrail | null | undefined): PlanStep[] {
  const known = created?.parameters ?? {};
  const tags = Object.entries(created?.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const createInput = {
    Name: trail.label,
    S3BucketName: known['S3BucketName'] ?? unknownValue(`the S3 bucket trail ${trail.label} delivered its logs to`),
    ...known,
    IsMultiRegionTrail: true,
    IncludeGlobalServiceEvents: true,
    EnableLogFileValidation: true,
    ...(tags.length > 0 ? { TagsList: tags } : {}),
  };
  const source = created
    ? `with the parameters of its CreateTrail record${created.createdAt ? ` of ${created.createdAt}` : ''} (later UpdateTrail changes are not included)`
    : 'with only its name known (its CreateTrail record was not found in the 90-day event history, or the history was unavailable): fill in the placeholders';
  return [
    {
      service: 'cloudtrail',
      operation: 'CreateTrail',
      input: createInput,
      reason: `PROPOSAL, not applied: recreate trail ${trail.label} ${source}, as a multi-region trail with log file validation. Logs already delivered stay in the bucket; events between the deletion and now are only in the 90-day event history.`,
      undo: { service: 'cloudtrail', operation: 'DeleteTrail', input: { Name: trail.label }, reason: `Delete the recreated trail ${trail.label} (its delivered log files stay in the bucket).` },
    },
    startLogging({ ...trail, name: trail.label }),
  ];
}

function trailGone(fact: Fact | undefined): boolean {
  return fact?.status === 'ok' && fact.value === null;
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const trail = trailOf(event);
  if (!trail) return { kind: 'skipped', reason: 'the event names no trail' };
  const resources = [trail.arn];
  const name = event.detail.eventName;

  if (name === 'DeleteTrail') {
    const history = okValue(facts['trailHistory']) as { events?: unknown[] } | undefined;
    const created = history ? createdTrailFrom({ Events: history.events }, trail.label) : undefined;
    const exempt = exemptionReason(created?.tags, context.config);
    if (exempt) return { kind: 'exempt', reason: `trail ${trail.label} was ${exempt} when created`, resources };
    const proposal = proposeRecreate(trail, created);
    const bucket = created?.parameters['S3BucketName'];
    return {
      kind: 'violation',
      summary: `trail ${trail.label} deleted${typeof bucket === 'string' ? ` (it delivered to s3://${bucket})` : ''}; recreating it is proposed for a person`,
      resources,
      findings: [
        {
          code: 'trail-deleted',
          severity: 'critical',
          message: `Trail ${trail.label} was deleted: the account's API activity is no longer delivered by it. ${created ? 'Its CreateTrail parameters are in the proposal.' : 'Only its name is known here; the proposal marks what a person must fill in.'}`,
          subject: trail.arn,
        },
      ],
      plan: [],
      proposal,
    };
  }

  const findings: Finding[] = [];
  const analysis = selectorsOf(event);
  const off = turnedOff(event);
  if (name === 'StopLogging') {
    findings.push({ code: 'logging-stopped', severity: 'critical', message: `Logging was stopped on trail ${trail.label}: API activity is no longer recorded by it.`, subject: trail.arn });
  } else if (name === 'UpdateTrail') {
    if (off.multiRegion) findings.push({ code: 'multi-region-off', severity: 'high', message: `Trail ${trail.label} no longer records every region: activity in the other regions goes unlogged.`, subject: trail.arn });
    if (off.logFileValidation) findings.push({ code: 'log-file-validation-off', severity: 'high', message: `Log file validation was turned off on trail ${trail.label}: changed or deleted log files can no longer be detected.`, subject: trail.arn });
    if (off.globalServiceEvents) findings.push({ code: 'global-service-events-off', severity: 'high', message: `Trail ${trail.label} no longer records global service events (IAM, STS, console sign-in).`, subject: trail.arn });
  } else if (name === 'PutEventSelectors') {
    if (!analysis) return { kind: 'skipped', reason: `the event carries no event selectors for trail ${trail.label}`, resources };
    if (analysis.coverage === 'none') {
      findings.push({ code: 'management-events-excluded', severity: 'high', message: `The event selectors of trail ${trail.label} log no management events: changes to the account go unrecorded.`, subject: trail.arn });
    } else if (analysis.coverage === 'read-only') {
      findings.push({ code: 'management-writes-excluded', severity: 'high', message: `The event selectors of trail ${trail.label} log only read-only management events: every call that changes the account goes unrecorded.`, subject: trail.arn });
    }
  }

  if (findings.length === 0) {
    const what =
      name === 'UpdateTrail'
        ? 'the update turns off neither multi-region, log file validation nor global service events'
        : name === 'PutEventSelectors'
          ? `the ${analysis?.kind ?? ''} event selectors still log management write events`
          : `${name} does not weaken the trail`;
    return { kind: 'compliant', summary: `trail ${trail.label}: ${what}`, resources };
  }

  const lookupFact = name === 'StopLogging' ? facts['trailStatus'] : name === 'UpdateTrail' ? facts['trail'] : undefined;
  if (trailGone(lookupFact) || trailGone(facts['trailTags'])) {
    return { kind: 'skipped', reason: `trail ${trail.label} no longer exists; its DeleteTrail event is judged on its own`, resources };
  }
  const exempt = exemptionReason(tagsFromFact(facts['trailTags']), context.config);
  if (exempt) return { kind: 'exempt', reason: `trail ${trail.label} is ${exempt}`, resources };

  const described = findings.map((f) => f.code.replaceAll('-', ' ')).join(', ');
  if (name === 'PutEventSelectors' && analysis) {
    return {
      kind: 'violation',
      summary: `trail ${trail.label}: ${described}; restoring management events is proposed for a person`,
      resources,
      findings,
      plan: [],
      proposal: [proposeSelectors(trail, analysis)],
    };
  }
  const plan =
    name === 'StopLogging'
      ? [startLogging(trail, isTrue(field(okValue(facts['trailStatus']), 'isLogging')) ? 'GetTrailStatus says the trail is logging again' : undefined)]
      : [planRestoreSettings(trail, off, includesGlobalServiceEvents(event), okValue(facts['trail']) as Record<string, unknown> | null | undefined)];
  return { kind: 'violation', summary: `trail ${trail.label}: ${described}`, resources, findings, plan };
}

export const cloudtrailLoggingWeakened = {
  id: 'cloudtrail-logging-weakened',
  title: 'CloudTrail trail stopped, deleted or weakened',
  severity: 'critical',
  rationale:
    'Stopping, deleting or narrowing a trail is how an intruder hides what they do next; the account then loses the record every investigation, and every other rule of this bot, depends on.',
  family: 'cloudtrail',
  triggers: [{ eventSource: 'cloudtrail.amazonaws.com', eventNames: ['DeleteTrail', 'PutEventSelectors', 'StopLogging', 'UpdateTrail'] }],
  permissions: [
    { action: 'cloudtrail:StartLogging', resource: TRAIL_RESOURCE },
    { action: 'cloudtrail:UpdateTrail', resource: TRAIL_RESOURCE },
  ],
  lookups: [tagsLookup, statusLookup, trailLookup, historyLookup],
  docs: {
    changes:
      'After StopLogging, starts logging again (StartLogging {Name}); after an UpdateTrail that turned off multi-region, log file validation or global service events, turns exactly those back on (UpdateTrail {Name, IsMultiRegionTrail / EnableLogFileValidation / IncludeGlobalServiceEvents: true}). Each undo restores the event’s values.',
    proposes:
      'After PutEventSelectors that dropped management events (or their writes): PutEventSelectors keeping the event’s data-event selectors and adding one for all management events (the previous selectors are not in the event; the undo sets the event’s selectors again). After DeleteTrail: CreateTrail and StartLogging with the parameters of the trail’s CreateTrail record from the event history, and placeholders for what is unknown (offline: only the name).',
    neverTouches:
      'S3 buckets, delivered log files and KMS keys; the trail’s other settings (bucket, prefix, SNS, CloudWatch Logs); data-event selectors; deleted trails (never recreated automatically); and trails carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
