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
 * multi-region, which CloudTrail requires. Each step reads the trail just
 * before and just after it writes (`GetTrailStatus` IsLogging, `GetTrail`
 * settings): already logging, or the settings already on, is "already done"
 * with no write; a trail deleted since is stale (its `DeleteTrail` event is
 * judged on its own); applied means the read afterwards showed it.
 * Proposes (never applied): for `PutEventSelectors`, the event's data-event
 * selectors plus one logging every management event (the selectors before the
 * event are not in it; the undo sets the event's selectors again), checked
 * against `GetEventSelectors`: still the event's selectors (needed), logging
 * management writes again (done), or changed since (stale: the proposal would
 * overwrite the newer selectors); for `DeleteTrail`, `CreateTrail` and
 * `StartLogging` with every parameter the event and the trail's `CreateTrail`
 * record in the event history give, and placeholders for the rest (offline:
 * only the name), each checked against `GetTrail` and `GetTrailStatus`.
 * Never touches: trails' S3 buckets, log files and KMS keys, the trail's other
 * settings, data-event selectors, and trails carrying the exemption tag.
 * Permissions: `cloudtrail:StartLogging` and `cloudtrail:UpdateTrail` on the
 * account's trails; lookups `cloudtrail:ListTags` and `cloudtrail:LookupEvents`;
 * reads before and after each step `cloudtrail:GetTrailStatus`,
 * `cloudtrail:GetTrail` and `cloudtrail:GetEventSelectors`.
 */
import {
  CreateTrailCommand,
  DeleteTrailCommand,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  ListTagsCommand,
  LookupEventsCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
  StopLoggingCommand,
  UpdateTrailCommand,
  type CreateTrailCommandInput,
  type LookupEventsCommandInput,
  type UpdateTrailCommandInput,
} from '@aws-sdk/client-cloudtrail';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList, type Tags } from '../../engine/exemption.js';
import { checkedBothWays, unknownValue, type Facts, type Finding, type PlanStep, type ProbeVerdict, type RuleContext, type Severity, type Verdict } from '../../engine/types.js';
import { defineAction, defineLookup, defineProbe, defineProposedWrite, defineRule, defineUndo, factValue, readFact, tagsFromEvent, text } from '../../rulekit/index.js';
import { cloudtrail } from '../../rulekit/aws/cloudtrail.js';
import { analyzeSelectors, currentSelectors, restoringSelectors, sameSelectors, selectorsAsSet, type ManagementCoverage, type SelectorAnalysis } from './event-selectors.js';
import { includesGlobalServiceEvents, isFalse, isTrue, trailOf, turnedOff, type TrailRef, type TurnedOff } from './trails.js';

const TRAIL_NOT_FOUND = ['TrailNotFoundException', 'ResourceNotFoundException'] as const;

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

/*
 * Every call is granted on the account's trails in the deployment's Region
 * (the resource table's pattern for trails). Stopping, updating or deleting a
 * trail is only possible from its home Region, so the trail an event names is
 * always here.
 */

const tagsLookup = defineLookup(cloudtrail, ListTagsCommand, {
  name: 'trailTags',
  input: (event) => {
    const trail = trailOf(event);
    return trail && event.detail.eventName !== 'DeleteTrail' && mayViolate(event) ? { ResourceIdList: [trail.arn] } : undefined;
  },
  // `null` when the trail no longer exists (TrailNotFoundException).
  select: (output): { readonly tags: Tags } | null => {
    const [first] = (field(output, 'ResourceTagList') as unknown[] | undefined) ?? [];
    return { tags: tagsFromList(field(first, 'TagsList')) };
  },
  notFoundCodes: TRAIL_NOT_FOUND,
});

/** What a probe says of a trail that no longer exists: `needed` where the step recreates it, else `changed`. */
function missingTrail(expected: Readonly<Record<string, unknown>>, what: string): ProbeVerdict {
  const trail = String(expected['trail']);
  if (expected['whenMissing'] === 'needed') return { state: 'needed', evidence: `trail ${trail} does not exist` };
  return { state: 'changed', evidence: `trail ${trail} no longer exists (TrailNotFoundException): it was deleted after this event, and its DeleteTrail event is judged on its own; nothing ${what}` };
}

/** Whether the trail logs now, as `GetTrailStatus` answers: `IsLogging` true (done) or false (needed). */
export const trailLoggingProbe = defineProbe(cloudtrail, GetTrailStatusCommand, {
  name: 'trailLogging',
  notFoundCodes: TRAIL_NOT_FOUND,
  judge(output, expected) {
    if (output === null) return missingTrail(expected, 'started');
    const trail = String(expected['trail']);
    const logging = field(output, 'IsLogging');
    if (logging === true) return { state: 'done', evidence: `trail ${trail} is logging (IsLogging true)` };
    if (logging === false) return { state: 'needed', evidence: `trail ${trail} is not logging (IsLogging false)` };
    throw new Error('GetTrailStatus answered without IsLogging');
  },
});

/** The settings `UpdateTrail` turns back on, by their `UpdateTrail` input names. */
type TrailSetting = 'IsMultiRegionTrail' | 'EnableLogFileValidation' | 'IncludeGlobalServiceEvents';

/** `GetTrail` field names of the settings `UpdateTrail` turns on. */
const TRAIL_FIELD: Readonly<Record<TrailSetting, string>> = {
  IsMultiRegionTrail: 'IsMultiRegionTrail',
  EnableLogFileValidation: 'LogFileValidationEnabled',
  IncludeGlobalServiceEvents: 'IncludeGlobalServiceEvents',
};

function trailSettings(output: unknown): Record<string, unknown> {
  const trail = field(output, 'Trail');
  if (typeof trail !== 'object' || trail === null) throw new Error('GetTrail answered without a Trail');
  return trail as Record<string, unknown>;
}

/**
 * The trail's settings as `GetTrail` answers now, against the ones a step
 * turns on (`on`, GetTrail field names): all on (done) or some still off
 * (needed). A setting the step needs on (`requires`: multi-region needs
 * global service events) that was turned off since the event makes it
 * `changed`: the step would fail, and fixing that would overwrite a newer change.
 */
export const trailSettingsProbe = defineProbe(cloudtrail, GetTrailCommand, {
  name: 'trailSettings',
  notFoundCodes: TRAIL_NOT_FOUND,
  judge(output, expected) {
    if (output === null) return missingTrail(expected, 'updated');
    const trail = String(expected['trail']);
    const settings = trailSettings(output);
    const wanted = Array.isArray(expected['on']) ? expected['on'].map(String) : [];
    const off = wanted.filter((name) => settings[name] !== true);
    if (off.length === 0) return { state: 'done', evidence: `trail ${trail} has ${wanted.join(', ')} on` };
    const missing = (Array.isArray(expected['requires']) ? expected['requires'].map(String) : []).filter((name) => settings[name] !== true);
    if (missing.length > 0) {
      return {
        state: 'changed',
        evidence: `trail ${trail} now has ${missing.join(', ')} off too, which the event left on and ${off.join(', ')} needs: turning it on would overwrite that newer change; nothing updated`,
      };
    }
    return { state: 'needed', evidence: `trail ${trail} still has ${off.join(', ')} off` };
  },
});

/**
 * For recreating a deleted trail, `GetTrail` now: still gone (needed), back
 * with multi-region, log file validation and global service events (done), or
 * back but recreated otherwise since the event (changed: CreateTrail would
 * only fail, and a person should review that trail).
 */
export const trailRecreatedProbe = defineProbe(cloudtrail, GetTrailCommand, {
  name: 'trailRecreated',
  notFoundCodes: TRAIL_NOT_FOUND,
  judge(output, expected) {
    const trail = String(expected['trail']);
    if (output === null) return { state: 'needed', evidence: `trail ${trail} still does not exist` };
    const settings = trailSettings(output);
    const off = Object.values(TRAIL_FIELD).filter((name) => settings[name] !== true);
    if (off.length === 0) return { state: 'done', evidence: `trail ${trail} exists, with ${Object.values(TRAIL_FIELD).join(', ')} on` };
    return { state: 'changed', evidence: `trail ${trail} exists again, recreated since the event with ${off.join(', ')} off: nothing created; review that trail` };
  },
});

function coverageText(coverage: ManagementCoverage): string {
  return coverage === 'none' ? 'log no management events' : coverage === 'read-only' ? 'log only read-only management events' : 'log management write events';
}

/**
 * The trail's event selectors as `GetEventSelectors` answers now: logging
 * management writes (done), exactly the selectors the event set (needed), or
 * other selectors that still miss them (changed: the proposal, built from the
 * event's selectors, would overwrite the newer ones).
 */
export const trailSelectorsProbe = defineProbe(cloudtrail, GetEventSelectorsCommand, {
  name: 'trailSelectors',
  notFoundCodes: TRAIL_NOT_FOUND,
  judge(output, expected) {
    if (output === null) return missingTrail(expected, 'put');
    const trail = String(expected['trail']);
    const now = currentSelectors(output);
    if (now === undefined) throw new Error('GetEventSelectors answered with neither EventSelectors nor AdvancedEventSelectors');
    if (now.coverage === 'writes') return { state: 'done', evidence: `the ${now.kind} event selectors of trail ${trail} ${coverageText(now.coverage)}` };
    const set = Array.isArray(expected['selectors']) ? (expected['selectors'] as Record<string, unknown>[]) : [];
    const kind = expected['kind'] === 'advanced' ? 'advanced' : 'basic';
    if (sameSelectors(now.kind, now.asSet, kind, set)) {
      return { state: 'needed', evidence: `trail ${trail} still has the ${now.kind} event selectors the event set, which ${coverageText(now.coverage)}` };
    }
    return {
      state: 'changed',
      evidence: `the event selectors of trail ${trail} changed since the event (now ${now.asSet.length} ${now.kind} selector${now.asSet.length === 1 ? '' : 's'} that ${coverageText(now.coverage)}): the proposal would overwrite them; nothing put`,
    };
  },
});

/** The `CreateTrail` parameters a record gives, in SDK input casing: all but the name and the tags. */
type CreateTrailParameters = Partial<Omit<CreateTrailCommandInput, 'Name' | 'TagsList'>>;

/** What the deleted trail's `CreateTrail` request said, when it is still in the 90-day event history. */
interface CreatedTrail {
  readonly createdAt?: string;
  readonly parameters: CreateTrailParameters;
  readonly tags: Tags;
}

/** One parameter, or none when the record does not give it: spreading the parameters never sets a key to `undefined`. */
function parameter<K extends keyof CreateTrailParameters>(key: K, value: CreateTrailParameters[K]): CreateTrailParameters {
  return value === undefined ? {} : { [key]: value };
}

/** A boolean, or the string some exports turn it into; anything else is not given. */
function flag(value: unknown): boolean | undefined {
  return isTrue(value) ? true : isFalse(value) ? false : undefined;
}

/** The `CreateTrail` request's parameters, CloudTrail record casing → SDK input casing. */
function createTrailParameters(request: unknown): CreateTrailParameters {
  const textOf = (name: string) => text(field(request, name));
  const flagOf = (name: string) => flag(field(request, name));
  return {
    ...parameter('S3BucketName', textOf('s3BucketName')),
    ...parameter('S3KeyPrefix', textOf('s3KeyPrefix')),
    ...parameter('SnsTopicName', textOf('snsTopicName')),
    ...parameter('IncludeGlobalServiceEvents', flagOf('includeGlobalServiceEvents')),
    ...parameter('IsMultiRegionTrail', flagOf('isMultiRegionTrail')),
    ...parameter('EnableLogFileValidation', flagOf('enableLogFileValidation')),
    ...parameter('CloudWatchLogsLogGroupArn', textOf('cloudWatchLogsLogGroupArn')),
    ...parameter('CloudWatchLogsRoleArn', textOf('cloudWatchLogsRoleArn')),
    ...parameter('KmsKeyId', textOf('kmsKeyId')),
    ...parameter('IsOrganizationTrail', flagOf('isOrganizationTrail')),
  };
}

function parseHistoryRecord(entry: unknown): Record<string, unknown> | undefined {
  const json = stringField(entry, 'CloudTrailEvent');
  if (!json) return undefined;
  try {
    const parsed = JSON.parse(json) as unknown;
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
  const createdAt = typeof newest['eventTime'] === 'string' ? newest['eventTime'] : undefined;
  return { ...(createdAt ? { createdAt } : {}), parameters: createTrailParameters(request), tags: tagsFromEvent(field(request, 'tagsList')) };
}

const historyLookup = defineLookup(cloudtrail, LookupEventsCommand, {
  name: 'trailHistory',
  input: (event): LookupEventsCommandInput | undefined =>
    event.detail.eventName === 'DeleteTrail' && trailOf(event)
      ? { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateTrail' }], MaxResults: 50 }
      : undefined,
  // The name is not in the input, so `select` keeps every CreateTrail record; `evaluate` picks the trail's.
  select: (output): { readonly events: readonly unknown[] } => ({ events: (field(output, 'Events') as unknown[] | undefined) ?? [] }),
});

/** The writes the function makes, granted on the account's trails, and their undo (run only by `remediate undo`, never granted). */
const startLoggingAction = defineAction(cloudtrail, StartLoggingCommand);
const updateTrailAction = defineAction(cloudtrail, UpdateTrailCommand);
const stopLoggingUndo = defineUndo(cloudtrail, StopLoggingCommand);
const updateTrailUndo = defineUndo(cloudtrail, UpdateTrailCommand);
/** The proposals' writes: a person runs them (or approves them); the function is never granted them. */
const putEventSelectorsProposal = defineProposedWrite(cloudtrail, PutEventSelectorsCommand);
const createTrailProposal = defineProposedWrite(cloudtrail, CreateTrailCommand);
const deleteTrailUndo = defineUndo(cloudtrail, DeleteTrailCommand);

/** StartLogging, checked against `GetTrailStatus`; for a trail being recreated, its absence is expected, not stale. */
function startLogging(trail: TrailRef, whenMissing: 'changed' | 'needed' = 'changed'): PlanStep {
  return startLoggingAction.step(
    { Name: trail.name },
    {
      reason: `Start logging on trail ${trail.label} again. Calls made while it was stopped are not recovered; review them in the event history.`,
      undo: stopLoggingUndo.undo({ Name: trail.name }, `Stop logging on trail ${trail.label} again.`),
      ...checkedBothWays(
        trailLoggingProbe.check({ Name: trail.name }, { trail: trail.label, whenMissing }, whenMissing === 'needed' ? `trail ${trail.label} is not logging yet` : `trail ${trail.label} is still not logging`),
      ),
    },
  );
}

/** `UpdateTrail` setting exactly one setting, on or off. */
function settingInput(name: string, setting: TrailSetting, on: boolean): UpdateTrailCommandInput {
  const input: UpdateTrailCommandInput = { Name: name };
  input[setting] = on;
  return input;
}

/** One setting `UpdateTrail` turns back on, and the settings it needs already on (multi-region needs global service events). */
function restoreSetting(trail: TrailRef, setting: TrailSetting, requires: readonly TrailSetting[]): PlanStep {
  const needs = requires.map((name) => TRAIL_FIELD[name]);
  const fieldName = TRAIL_FIELD[setting];
  return updateTrailAction.step(settingInput(trail.name, setting, true), {
    reason: `Turn ${setting} back on for trail ${trail.label}; nothing else about the trail changes.`,
    undo: updateTrailUndo.undo(settingInput(trail.name, setting, false), `Set ${setting} back to false on trail ${trail.label}, as the event left it.`),
    ...checkedBothWays(
      trailSettingsProbe.check({ Name: trail.name }, { trail: trail.label, on: [fieldName], ...(needs.length > 0 ? { requires: needs } : {}) }, `trail ${trail.label} still has ${fieldName} off`),
    ),
  });
}

/**
 * The settings the event turned off, one `UpdateTrail` each, so that a setting
 * already back on is "already done" and never in the undo record. Global
 * service events come first: CloudTrail refuses a multi-region trail without them.
 */
function planRestoreSettings(trail: TrailRef, off: TurnedOff, globalAfter: boolean | undefined): PlanStep[] {
  const global = off.globalServiceEvents || (off.multiRegion && globalAfter === false);
  return [
    ...(global ? [restoreSetting(trail, 'IncludeGlobalServiceEvents', [])] : []),
    ...(off.multiRegion ? [restoreSetting(trail, 'IsMultiRegionTrail', global ? [] : ['IncludeGlobalServiceEvents'])] : []),
    ...(off.logFileValidation ? [restoreSetting(trail, 'EnableLogFileValidation', [])] : []),
  ];
}

function proposeSelectors(trail: TrailRef, analysis: SelectorAnalysis): PlanStep {
  return putEventSelectorsProposal.step(
    { TrailName: trail.name, ...restoringSelectors(analysis) },
    {
      reason: `PROPOSAL, not applied: the selectors trail ${trail.label} had before this event are not in the event. This keeps the event's data-event selectors and adds one that logs every management event (reads and writes). Compare with what the trail logged before, then run it.`,
      undo: putEventSelectorsProposal.undo({ TrailName: trail.name, ...selectorsAsSet(analysis) }, `Set the selectors of trail ${trail.label} back to what the event set.`),
      ...checkedBothWays(
        trailSelectorsProbe.check(
          { TrailName: trail.name },
          { trail: trail.label, kind: analysis.kind, selectors: analysis.asSet },
          `trail ${trail.label} still has the ${analysis.kind} event selectors the event set, which ${coverageText(analysis.coverage)}`,
        ),
      ),
    },
  );
}

function proposeRecreate(trail: TrailRef, created: CreatedTrail | null | undefined): PlanStep[] {
  const known = created?.parameters ?? {};
  const tags = Object.entries(created?.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const createInput = {
    Name: trail.label,
    S3BucketName: known.S3BucketName ?? unknownValue(`the S3 bucket trail ${trail.label} delivered its logs to`),
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
    createTrailProposal.step(createInput, {
      reason: `PROPOSAL, not applied: recreate trail ${trail.label} ${source}, as a multi-region trail with log file validation. Logs already delivered stay in the bucket; events between the deletion and now are only in the 90-day event history.`,
      undo: deleteTrailUndo.undo({ Name: trail.label }, `Delete the recreated trail ${trail.label} (its delivered log files stay in the bucket).`),
      ...checkedBothWays(trailRecreatedProbe.check({ Name: trail.label }, { trail: trail.label }, `trail ${trail.label} still does not exist`)),
    }),
    startLogging({ ...trail, name: trail.label }, 'needed'),
  ];
}

/** The gravest finding each event can carry: how grave it is when the bot cannot inspect one. */
const CEILING: Readonly<Record<string, Severity>> = { StopLogging: 'critical', DeleteTrail: 'critical', UpdateTrail: 'high', PutEventSelectors: 'high' };

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const name = event.detail.eventName;
  const trail = trailOf(event);
  if (!trail) {
    return { kind: 'skipped', reason: 'the event names no trail (requestParameters carries neither name nor trailName)', ...(CEILING[name] ? { severity: CEILING[name] } : {}) };
  }
  const resources = [trail.arn];

  if (name === 'DeleteTrail') {
    const history = factValue(readFact(facts, historyLookup));
    const created = history ? createdTrailFrom({ Events: history.events }, trail.label) : undefined;
    const findings: Finding[] = [
      {
        code: 'trail-deleted',
        severity: 'critical',
        message: `Trail ${trail.label} was deleted: the account's API activity is no longer delivered by it. ${created ? 'Its CreateTrail parameters are in the proposal.' : 'Only its name is known here; the proposal marks what a person must fill in.'}`,
        subject: trail.arn,
      },
    ];
    const exempt = exemptionReason(created?.tags, context.config);
    if (exempt) return { kind: 'exempt', reason: `trail ${trail.label} was ${exempt} when created`, resources, findings };
    const bucket = created?.parameters.S3BucketName;
    return {
      kind: 'violation',
      summary: `trail ${trail.label} deleted${typeof bucket === 'string' ? ` (it delivered to s3://${bucket})` : ''}; recreating it is proposed for a person`,
      resources,
      findings,
      plan: [],
      proposal: proposeRecreate(trail, created),
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
    if (!analysis) {
      return { kind: 'skipped', reason: `the event carries no event selectors for trail ${trail.label} (neither eventSelectors nor advancedEventSelectors), so what it set cannot be inspected`, resources, severity: 'high' };
    }
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

  // A trail deleted since the event is not skipped here: each step's read before it writes finds it gone and says so.
  const exempt = exemptionReason(tagsFromFact(readFact(facts, tagsLookup)), context.config);
  if (exempt) return { kind: 'exempt', reason: `trail ${trail.label} is ${exempt}`, resources, findings };

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
  const plan = name === 'StopLogging' ? [startLogging(trail)] : planRestoreSettings(trail, off, includesGlobalServiceEvents(event));
  return { kind: 'violation', summary: `trail ${trail.label}: ${described}`, resources, findings, plan };
}

export const cloudtrailLoggingWeakened = defineRule({
  id: 'cloudtrail-logging-weakened',
  title: 'CloudTrail trail stopped, deleted or weakened',
  severity: 'critical',
  rationale:
    'Stopping, deleting or narrowing a trail is how an intruder hides what they do next; the account then loses the record every investigation, and every other rule of this bot, depends on.',
  triggers: [{ eventSource: 'cloudtrail.amazonaws.com', eventNames: ['DeleteTrail', 'PutEventSelectors', 'StopLogging', 'UpdateTrail'] }],
  actions: [startLoggingAction, updateTrailAction],
  proposals: [putEventSelectorsProposal, createTrailProposal],
  lookups: [tagsLookup, historyLookup],
  probes: [trailLoggingProbe, trailSettingsProbe, trailRecreatedProbe, trailSelectorsProbe],
  evaluate,
});
