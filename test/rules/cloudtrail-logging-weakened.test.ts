/**
 * cloudtrail-logging-weakened: its decisions and plans from recorded events,
 * and the reads (probes) that judge each step before and after it writes.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { Facts, StateCheck } from '../../engine/types.js';
import { createdTrailFrom, trailLoggingProbe, trailRecreatedProbe, trailSelectorsProbe, trailSettingsProbe } from '../../remediations/cloudtrail/cloudtrail-logging-weakened.js';
import { analyzeSelectors, currentSelectors, sameSelectors } from '../../remediations/cloudtrail/event-selectors.js';
import { cloudtrailRules } from '../../remediations/cloudtrail/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const rule = registeredRule('cloudtrail-logging-weakened');
const evaluate = ruleEvaluator('cloudtrail-logging-weakened');
const ORG_AUDIT = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/org-audit';
const STRATUS_STOP = 'stratus-red-team-ct-stop-trail-buykxbqejv';
const STRATUS_STOP_ARN = `arn:aws:cloudtrail:apiso-centralnorth-2r:143434273843:trail/${STRATUS_STOP}`;
const STRATUS_DELETED = 'stratus-red-team-cloudtraild-trail-kvrwohmiai';

const loggingCheck = (trail: string, whenMissing: 'changed' | 'needed' = 'changed'): StateCheck => ({
  service: 'cloudtrail',
  operation: 'GetTrailStatus',
  input: { Name: trail },
  probe: 'trailLogging',
  expect: { trail, whenMissing },
  description: whenMissing === 'needed' ? `trail ${trail} is not logging yet` : `trail ${trail} is still not logging`,
});

const settingCheck = (setting: string, requires?: string[]): StateCheck => ({
  service: 'cloudtrail',
  operation: 'GetTrail',
  input: { Name: 'org-audit' },
  probe: 'trailSettings',
  expect: { trail: 'org-audit', on: [setting], ...(requires ? { requires } : {}) },
  description: `trail org-audit still has ${setting} off`,
});

/** The rule's lookup of that name; a missing one fails the test that asked for it. */
const lookup = (name: string) => {
  const found = rule.lookups.find((l) => l.name === name);
  if (!found) throw new Error(name);
  return found;
};

const tagged = (tags: { Key: string; Value: string }[]): Facts => ({
  trailTags: { status: 'ok', value: lookup('trailTags').select({ ResourceTagList: [{ ResourceId: ORG_AUDIT, TagsList: tags }] }) },
});

/** A `LookupEvents` entry as the SDK returns it: the record as a JSON string. */
function historyEntry(record: Record<string, unknown>) {
  return { EventId: String(record['eventID']), EventName: 'CreateTrail', CloudTrailEvent: JSON.stringify(record) };
}

const createTrailRecord = (name: string, time: string, extra: Record<string, unknown> = {}) => ({
  eventID: `create-${time}`,
  eventTime: time,
  eventName: 'CreateTrail',
  requestParameters: {
    name,
    s3BucketName: 'stratus-red-team-ct-bucket',
    s3KeyPrefix: 'logs',
    isMultiRegionTrail: false,
    includeGlobalServiceEvents: true,
    enableLogFileValidation: false,
    tagsList: [{ key: 'team', value: 'security' }],
    ...extra,
  },
  responseElements: { name, trailARN: `arn:aws:cloudtrail:us-east-1:111122223333:trail/${name}` },
});

describe('cloudtrail-logging-weakened', () => {
  describe('evaluate', () => {
    it('restarts logging after the genuine StopLogging, by the name the caller used', () => {
      const verdict = evaluate(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `trail ${STRATUS_STOP}: logging stopped`,
        resources: [STRATUS_STOP_ARN],
        findings: [
          {
            code: 'logging-stopped',
            severity: 'critical',
            message: `Logging was stopped on trail ${STRATUS_STOP}: API activity is no longer recorded by it.`,
            subject: STRATUS_STOP_ARN,
          },
        ],
        plan: [
          {
            service: 'cloudtrail',
            operation: 'StartLogging',
            input: { Name: STRATUS_STOP },
            reason: `Start logging on trail ${STRATUS_STOP} again. Calls made while it was stopped are not recovered; review them in the event history.`,
            undo: { service: 'cloudtrail', operation: 'StopLogging', input: { Name: STRATUS_STOP }, reason: `Stop logging on trail ${STRATUS_STOP} again.` },
            precondition: loggingCheck(STRATUS_STOP),
            verification: loggingCheck(STRATUS_STOP),
          },
        ],
      });
    });

    it('accepts a trail ARN as the name and keeps it in the plan', () => {
      const event = loadEvent('cloudtrail/StopLogging-stratus-genuine.json');
      event.detail.requestParameters = { name: ORG_AUDIT };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({ Name: ORG_AUDIT });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.precondition?.input).toStrictEqual({ Name: ORG_AUDIT });
      expect(verdict.kind === 'violation' && verdict.summary).toBe('trail org-audit: logging stopped');
    });

    it('does not skip a stopped trail whose tags lookup found it gone: the read before StartLogging reports that, as stale', () => {
      const verdict = evaluate(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'), { facts: { trailTags: { status: 'ok', value: null } } });
      expect(verdict.kind === 'violation' && verdict.plan.map((step) => [step.operation, step.precondition])).toStrictEqual([['StartLogging', loggingCheck(STRATUS_STOP)]]);
    });

    it('never marks a step done at decide time: no plan step carries alreadyDone', () => {
      for (const fixture of ['cloudtrail/StopLogging-stratus-genuine.json', 'cloudtrail/UpdateTrail-multi-region-and-validation-off.json']) {
        const verdict = evaluate(loadEvent(fixture));
        expect(verdict.kind === 'violation' && verdict.plan.every((step) => !('alreadyDone' in step) && step.precondition && step.verification), fixture).toBe(true);
      }
    });

    it('leaves a trail carrying the exemption tag alone, with the findings the exemption let through', () => {
      const event = loadEvent('cloudtrail/UpdateTrail-multi-region-and-validation-off.json');
      const verdict = evaluate(event, { facts: tagged([{ Key: 'remediation:exempt', Value: 'sandbox trail SEC-90' }]) });
      expect(verdict.kind === 'exempt' && verdict.reason).toBe('trail org-audit is tagged remediation:exempt: sandbox trail SEC-90');
      expect(verdict.kind === 'exempt' && verdict.resources).toStrictEqual([ORG_AUDIT]);
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity])).toStrictEqual([
        ['multi-region-off', 'high'],
        ['log-file-validation-off', 'high'],
        ['global-service-events-off', 'high'],
      ]);
    });

    it('turns back on exactly what UpdateTrail turned off, one setting per call, global service events first (multi-region needs them)', () => {
      const verdict = evaluate(loadEvent('cloudtrail/UpdateTrail-multi-region-and-validation-off.json'));
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual([
        'multi-region-off',
        'log-file-validation-off',
        'global-service-events-off',
      ]);
      const step = (setting: string, field: string, requires?: string[]) => ({
        service: 'cloudtrail',
        operation: 'UpdateTrail',
        input: { Name: 'org-audit', [setting]: true },
        reason: `Turn ${setting} back on for trail org-audit; nothing else about the trail changes.`,
        undo: { service: 'cloudtrail', operation: 'UpdateTrail', input: { Name: 'org-audit', [setting]: false }, reason: `Set ${setting} back to false on trail org-audit, as the event left it.` },
        precondition: settingCheck(field, requires),
        verification: settingCheck(field, requires),
      });
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        step('IncludeGlobalServiceEvents', 'IncludeGlobalServiceEvents'),
        step('IsMultiRegionTrail', 'IsMultiRegionTrail'),
        step('EnableLogFileValidation', 'LogFileValidationEnabled'),
      ]);
    });

    it('restores only validation when only validation was turned off', () => {
      const event = loadEvent('cloudtrail/UpdateTrail-s3-prefix-compliant.json');
      event.detail.requestParameters = { name: 'org-audit', enableLogFileValidation: false };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan.map((s) => [s.input, s.precondition])).toStrictEqual([
        [{ Name: 'org-audit', EnableLogFileValidation: true }, settingCheck('LogFileValidationEnabled')],
      ]);
    });

    it('restores multi-region alone when the response says global service events stayed on, and requires them still on', () => {
      const event = loadEvent('cloudtrail/UpdateTrail-multi-region-and-validation-off.json');
      event.detail.requestParameters = { name: 'org-audit', isMultiRegionTrail: false };
      event.detail.responseElements = { ...(event.detail.responseElements as object), includeGlobalServiceEvents: true };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan.map((s) => [s.input, s.precondition])).toStrictEqual([
        [{ Name: 'org-audit', IsMultiRegionTrail: true }, settingCheck('IsMultiRegionTrail', ['IncludeGlobalServiceEvents'])],
      ]);
    });

    it.each([
      ['cloudtrail/UpdateTrail-s3-prefix-compliant.json', 'trail org-audit: the update turns off neither multi-region, log file validation nor global service events'],
      ['cloudtrail/PutEventSelectors-data-events-added-compliant.json', 'trail org-audit: the basic event selectors still log management write events'],
    ])('passes %s', (fixture, summary) => {
      expect(evaluate(loadEvent(fixture))).toStrictEqual({ kind: 'compliant', summary, resources: [ORG_AUDIT] });
    });

    it('proposes restoring management events after the genuine PutEventSelectors, keeping its data selectors; the undo sets the event’s selectors', () => {
      const verdict = evaluate(loadEvent('cloudtrail/PutEventSelectors-management-excluded-stratus-genuine.json'));
      const trail = 'stratus-red-team-ctes-trail-khlvciwdor';
      const dataSelector = {
        ReadWriteType: 'ReadOnly',
        IncludeManagementEvents: false,
        DataResources: [
          { Type: 'AWS::S3::Object', Values: [] },
          { Type: 'AWS::Lambda::Function', Values: [] },
        ],
      };
      const selectorsCheck: StateCheck = {
        service: 'cloudtrail',
        operation: 'GetEventSelectors',
        input: { TrailName: trail },
        probe: 'trailSelectors',
        expect: { trail, kind: 'basic', selectors: [dataSelector] },
        description: `trail ${trail} still has the basic event selectors the event set, which log no management events`,
      };
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([]);
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual(['management-events-excluded']);
      expect(verdict.kind === 'violation' && verdict.proposal).toStrictEqual([
        {
          service: 'cloudtrail',
          operation: 'PutEventSelectors',
          input: { TrailName: trail, EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [] }, dataSelector] },
          reason: `PROPOSAL, not applied: the selectors trail ${trail} had before this event are not in the event. This keeps the event's data-event selectors and adds one that logs every management event (reads and writes). Compare with what the trail logged before, then run it.`,
          undo: {
            service: 'cloudtrail',
            operation: 'PutEventSelectors',
            input: { TrailName: trail, EventSelectors: [dataSelector] },
            reason: `Set the selectors of trail ${trail} back to what the event set.`,
          },
          precondition: selectorsCheck,
          verification: selectorsCheck,
        },
      ]);
    });

    it('flags advanced selectors that log only read-only management events and proposes a full management selector', () => {
      const verdict = evaluate(loadEvent('cloudtrail/PutEventSelectors-advanced-read-only-management.json'));
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual(['management-writes-excluded']);
      expect(verdict.kind === 'violation' && verdict.proposal?.[0]?.input).toStrictEqual({
        TrailName: 'org-audit',
        AdvancedEventSelectors: [
          { FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
          {
            Name: 'S3 training data',
            FieldSelectors: [
              { Field: 'eventCategory', Equals: ['Data'] },
              { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
              { Field: 'resources.ARN', StartsWith: ['arn:aws:s3:::training-data-111122223333/'] },
            ],
          },
        ],
      });
    });

    it('reads selectors without includeManagementEvents as logging management events (the API default)', () => {
      expect(analyzeSelectors({ eventSelectors: [{ readWriteType: 'All' }] })?.coverage).toBe('writes');
      expect(analyzeSelectors({ eventSelectors: [{ readWriteType: 'ReadOnly', includeManagementEvents: true }] })?.coverage).toBe('read-only');
      expect(analyzeSelectors({ advancedEventSelectors: [] })?.coverage).toBe('none');
      expect(analyzeSelectors({})).toBeUndefined();
    });

    it('alerts on a deleted trail with only its name offline, and proposes recreating it with placeholders', () => {
      const verdict = evaluate(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'));
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([]);
      expect(verdict.kind === 'violation' && verdict.summary).toBe(`trail ${STRATUS_DELETED} deleted; recreating it is proposed for a person`);
      expect(verdict.kind === 'violation' && verdict.proposal?.map((s) => [s.operation, s.input])).toStrictEqual([
        [
          'CreateTrail',
          {
            Name: STRATUS_DELETED,
            S3BucketName: { $unknown: `the S3 bucket trail ${STRATUS_DELETED} delivered its logs to` },
            IsMultiRegionTrail: true,
            IncludeGlobalServiceEvents: true,
            EnableLogFileValidation: true,
          },
        ],
        ['StartLogging', { Name: STRATUS_DELETED }],
      ]);
      expect(verdict.kind === 'violation' && verdict.proposal?.map((s) => s.precondition)).toStrictEqual([
        {
          service: 'cloudtrail',
          operation: 'GetTrail',
          input: { Name: STRATUS_DELETED },
          probe: 'trailRecreated',
          expect: { trail: STRATUS_DELETED },
          description: `trail ${STRATUS_DELETED} still does not exist`,
        },
        loggingCheck(STRATUS_DELETED, 'needed'),
      ]);
    });

    it("recreates a deleted trail from its newest CreateTrail record in the event history, hardened", () => {
      const history = {
        events: [
          historyEntry(createTrailRecord(STRATUS_DELETED, '2024-07-31T12:40:00Z')),
          historyEntry(createTrailRecord(STRATUS_DELETED, '2024-01-01T00:00:00Z', { s3BucketName: 'older-bucket' })),
          historyEntry(createTrailRecord('another-trail', '2024-07-31T12:45:00Z', { s3BucketName: 'other-bucket' })),
          historyEntry({ ...createTrailRecord(STRATUS_DELETED, '2024-07-31T12:50:00Z', { s3BucketName: 'failed-bucket' }), errorCode: 'S3BucketDoesNotExistException' }),
        ],
      };
      const verdict = evaluate(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'), { facts: { trailHistory: { status: 'ok', value: history } } });
      expect(verdict.kind === 'violation' && verdict.proposal?.[0]?.input).toStrictEqual({
        Name: STRATUS_DELETED,
        S3BucketName: 'stratus-red-team-ct-bucket',
        S3KeyPrefix: 'logs',
        IncludeGlobalServiceEvents: true,
        IsMultiRegionTrail: true,
        EnableLogFileValidation: true,
        TagsList: [{ Key: 'team', Value: 'security' }],
      });
      expect(verdict.kind === 'violation' && verdict.summary).toBe(
        `trail ${STRATUS_DELETED} deleted (it delivered to s3://stratus-red-team-ct-bucket); recreating it is proposed for a person`,
      );
    });

    it('exempts a deleted trail that carried the exemption tag when it was created, and says what that let through', () => {
      const record = createTrailRecord(STRATUS_DELETED, '2024-07-31T12:40:00Z', { tagsList: [{ key: 'remediation:exempt', value: 'red-team exercise' }] });
      const verdict = evaluate(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'), { facts: { trailHistory: { status: 'ok', value: { events: [historyEntry(record)] } } } });
      expect(verdict.kind).toBe('exempt');
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity])).toStrictEqual([['trail-deleted', 'critical']]);
    });

    it.each([
      ['cloudtrail/StopLogging-stratus-genuine.json', 'critical'],
      ['cloudtrail/DeleteTrail-stratus-genuine.json', 'critical'],
      ['cloudtrail/UpdateTrail-multi-region-and-validation-off.json', 'high'],
    ])('cannot inspect %s without a trail name, and gives it the severity of what it could hide', (fixture, severity) => {
      const event = loadEvent(fixture);
      event.detail.requestParameters = {};
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no trail (requestParameters carries neither name nor trailName)', severity });
    });

    it('cannot inspect PutEventSelectors without selectors, and says so with high severity', () => {
      const event = loadEvent('cloudtrail/PutEventSelectors-advanced-read-only-management.json');
      event.detail.requestParameters = { trailName: 'org-audit' };
      expect(evaluate(event)).toStrictEqual({
        kind: 'skipped',
        reason: 'the event carries no event selectors for trail org-audit (neither eventSelectors nor advancedEventSelectors), so what it set cannot be inspected',
        resources: [ORG_AUDIT],
        severity: 'high',
      });
    });

    it('ignores history entries that are not JSON', () => {
      expect(createdTrailFrom({ Events: [{ CloudTrailEvent: '{not json' }, {}] }, 'x')).toBeNull();
    });

    it('leaves failed calls to the engine, which skips them', async () => {
      const config = parseConfig({}, cloudtrailRules);
      const decision = await decide(loadEvent('cloudtrail/StopLogging-failed-invalid-trail-name-panther.json'), rule, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', cause: 'failed-call', reason: 'the call failed (InvalidTrailNameException), so it changed nothing' });
    });

    it('asks the lookups only what the event needs', () => {
      const stop = loadEvent('cloudtrail/StopLogging-stratus-genuine.json');
      expect(rule.lookups.map((l) => l.name)).toStrictEqual(['trailTags', 'trailHistory']);
      expect(lookup('trailTags').input(stop)).toStrictEqual({ ResourceIdList: [STRATUS_STOP_ARN] });
      expect(lookup('trailHistory').input(stop)).toBeUndefined();
      expect(lookup('trailTags').input(loadEvent('cloudtrail/UpdateTrail-s3-prefix-compliant.json'))).toBeUndefined();
      expect(lookup('trailHistory').input(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'))).toStrictEqual({
        LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateTrail' }],
        MaxResults: 50,
      });
    });
  });

  describe('probes', () => {
    it('reads GetTrailStatus: logging is done, not logging is needed, a trail gone since is changed', () => {
      const expected = { trail: 'org-audit', whenMissing: 'changed' };
      expect(trailLoggingProbe.judge({ IsLogging: true }, expected)).toStrictEqual({ state: 'done', evidence: 'trail org-audit is logging (IsLogging true)' });
      expect(trailLoggingProbe.judge({ IsLogging: false }, expected)).toStrictEqual({ state: 'needed', evidence: 'trail org-audit is not logging (IsLogging false)' });
      expect(trailLoggingProbe.judge(null, expected)).toStrictEqual({
        state: 'changed',
        evidence: 'trail org-audit no longer exists (TrailNotFoundException): it was deleted after this event, and its DeleteTrail event is judged on its own; nothing started',
      });
      expect(trailLoggingProbe.judge(null, { trail: 'org-audit', whenMissing: 'needed' })).toStrictEqual({ state: 'needed', evidence: 'trail org-audit does not exist' });
      expect(() => trailLoggingProbe.judge({}, expected)).toThrow('GetTrailStatus answered without IsLogging');
    });

    it('reads GetTrail settings: on is done, off is needed, off while a setting it needs was turned off since is changed', () => {
      const trail = (settings: Record<string, boolean>) => ({ Trail: { Name: 'org-audit', TrailARN: ORG_AUDIT, ...settings } });
      expect(trailSettingsProbe.judge(trail({ LogFileValidationEnabled: true }), { trail: 'org-audit', on: ['LogFileValidationEnabled'] })).toStrictEqual({
        state: 'done',
        evidence: 'trail org-audit has LogFileValidationEnabled on',
      });
      expect(trailSettingsProbe.judge(trail({ LogFileValidationEnabled: false }), { trail: 'org-audit', on: ['LogFileValidationEnabled'] })).toStrictEqual({
        state: 'needed',
        evidence: 'trail org-audit still has LogFileValidationEnabled off',
      });
      const multiRegion = { trail: 'org-audit', on: ['IsMultiRegionTrail'], requires: ['IncludeGlobalServiceEvents'] };
      expect(trailSettingsProbe.judge(trail({ IsMultiRegionTrail: false, IncludeGlobalServiceEvents: true }), multiRegion).state).toBe('needed');
      expect(trailSettingsProbe.judge(trail({ IsMultiRegionTrail: false, IncludeGlobalServiceEvents: false }), multiRegion)).toStrictEqual({
        state: 'changed',
        evidence: 'trail org-audit now has IncludeGlobalServiceEvents off too, which the event left on and IsMultiRegionTrail needs: turning it on would overwrite that newer change; nothing updated',
      });
      expect(trailSettingsProbe.judge(null, multiRegion).state).toBe('changed');
      expect(() => trailSettingsProbe.judge({}, multiRegion)).toThrow('GetTrail answered without a Trail');
    });

    it('reads GetTrail for a trail to recreate: gone is needed, back hardened is done, back otherwise is changed', () => {
      const expected = { trail: STRATUS_DELETED };
      expect(trailRecreatedProbe.judge(null, expected)).toStrictEqual({ state: 'needed', evidence: `trail ${STRATUS_DELETED} still does not exist` });
      const hardened = { IsMultiRegionTrail: true, LogFileValidationEnabled: true, IncludeGlobalServiceEvents: true };
      expect(trailRecreatedProbe.judge({ Trail: hardened }, expected).state).toBe('done');
      expect(trailRecreatedProbe.judge({ Trail: { ...hardened, LogFileValidationEnabled: false } }, expected)).toStrictEqual({
        state: 'changed',
        evidence: `trail ${STRATUS_DELETED} exists again, recreated since the event with LogFileValidationEnabled off: nothing created; review that trail`,
      });
    });

    describe('GetEventSelectors', () => {
      const trail = 'stratus-red-team-ctes-trail-khlvciwdor';
      const analysis = analyzeSelectors(loadEvent('cloudtrail/PutEventSelectors-management-excluded-stratus-genuine.json').detail.requestParameters);
      const expected = { trail, kind: 'basic', selectors: analysis?.asSet ?? [] };
      /** The event's selector as GetEventSelectors answers it: Pascal case, defaults spelled out, lists in another order. */
      const eventSelectorNow = {
        ReadWriteType: 'ReadOnly',
        IncludeManagementEvents: false,
        DataResources: [
          { Type: 'AWS::Lambda::Function', Values: [] },
          { Type: 'AWS::S3::Object', Values: [] },
        ],
        ExcludeManagementEventSources: [],
      };

      it('is needed while the trail has exactly the selectors the event set, however GetEventSelectors spells them', () => {
        expect(trailSelectorsProbe.judge({ TrailARN: 'arn', EventSelectors: [eventSelectorNow] }, expected)).toStrictEqual({
          state: 'needed',
          evidence: `trail ${trail} still has the basic event selectors the event set, which log no management events`,
        });
      });

      it('is done once a selector logs management writes again', () => {
        const restored = [{ ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [], ExcludeManagementEventSources: [] }, eventSelectorNow];
        expect(trailSelectorsProbe.judge({ EventSelectors: restored }, expected)).toStrictEqual({
          state: 'done',
          evidence: `the basic event selectors of trail ${trail} log management write events`,
        });
      });

      it('is changed when the selectors changed again since the event and still miss management writes', () => {
        const newer = [{ ...eventSelectorNow, DataResources: [{ Type: 'AWS::S3::Object', Values: ['arn:aws:s3:::new-bucket/'] }] }];
        expect(trailSelectorsProbe.judge({ EventSelectors: newer }, expected)).toStrictEqual({
          state: 'changed',
          evidence: `the event selectors of trail ${trail} changed since the event (now 1 basic selector that log no management events): the proposal would overwrite them; nothing put`,
        });
        expect(trailSelectorsProbe.judge({ AdvancedEventSelectors: [{ FieldSelectors: [{ Field: 'eventCategory', Equals: ['Data'] }, { Field: 'resources.type', Equals: ['AWS::S3::Object'] }] }] }, expected).state).toBe('changed');
        expect(trailSelectorsProbe.judge(null, expected).state).toBe('changed');
      });

      it('compares advanced selectors by what they log, not by their names or the order of their values', () => {
        const event = analyzeSelectors(loadEvent('cloudtrail/PutEventSelectors-advanced-read-only-management.json').detail.requestParameters);
        const now = currentSelectors({
          EventSelectors: [],
          AdvancedEventSelectors: [
            {
              Name: 'renamed',
              FieldSelectors: [
                { Field: 'resources.ARN', StartsWith: ['arn:aws:s3:::training-data-111122223333/'] },
                { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
                { Field: 'eventCategory', Equals: ['Data'] },
              ],
            },
            { FieldSelectors: [{ Field: 'readOnly', Equals: ['true'] }, { Field: 'eventCategory', Equals: ['Management'] }] },
          ],
        });
        expect(now?.kind).toBe('advanced');
        expect(event && now && sameSelectors(event.kind, event.asSet, now.kind, now.asSet)).toBe(true);
        expect(event && now && sameSelectors(event.kind, event.asSet, 'basic', now.asSet)).toBe(false);
      });
    });
  });
});
