import {
  CloudTrailClient,
  CloudTrailServiceException,
  GetTrailCommand,
  GetTrailStatusCommand,
  ListTagsCommand,
  LookupEventsCommand,
  StartLoggingCommand,
  UpdateTrailCommand,
} from '@aws-sdk/client-cloudtrail';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { createRemediationHandler } from '../engine/lambda.js';
import type { Facts, Verdict } from '../engine/types.js';
import { cloudtrailLoggingWeakened, createdTrailFrom } from '../remediations/cloudtrail/cloudtrail-logging-weakened.js';
import { cloudtrailCommands } from '../remediations/cloudtrail/commands.js';
import { analyzeSelectors } from '../remediations/cloudtrail/event-selectors.js';
import { cloudtrailRules } from '../remediations/cloudtrail/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const NOW = new Date('2025-03-10T00:00:00Z');
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const ORG_AUDIT = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/org-audit';
const STRATUS_STOP = 'stratus-red-team-ct-stop-trail-buykxbqejv';
const STRATUS_STOP_ARN = `arn:aws:cloudtrail:apiso-centralnorth-2r:143434273843:trail/${STRATUS_STOP}`;
const STRATUS_DELETED = 'stratus-red-team-cloudtraild-trail-kvrwohmiai';

function evaluate(event: CloudTrailEvent, facts: Facts = {}): Verdict {
  const config = parseConfig({}, cloudtrailRules);
  return cloudtrailLoggingWeakened.evaluate(event, facts, { config, settings: undefined, now: NOW });
}

const lookup = (name: string) => {
  const found = cloudtrailLoggingWeakened.lookups.find((l) => l.name === name);
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
          },
        ],
      });
    });

    it('accepts a trail ARN as the name and keeps it in the plan', () => {
      const event = loadEvent('cloudtrail/StopLogging-stratus-genuine.json');
      event.detail.requestParameters = { name: ORG_AUDIT };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({ Name: ORG_AUDIT });
      expect(verdict.kind === 'violation' && verdict.summary).toBe('trail org-audit: logging stopped');
    });

    it('marks StartLogging already done when GetTrailStatus says the trail logs again', () => {
      const facts: Facts = { trailStatus: { status: 'ok', value: lookup('trailStatus').select({ IsLogging: true }) } };
      const verdict = evaluate(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'), facts);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.alreadyDone).toBe('GetTrailStatus says the trail is logging again');
    });

    it('skips a stopped trail that has been deleted since', () => {
      const verdict = evaluate(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'), { trailStatus: { status: 'ok', value: null } });
      expect(verdict).toStrictEqual({
        kind: 'skipped',
        reason: `trail ${STRATUS_STOP} no longer exists; its DeleteTrail event is judged on its own`,
        resources: [STRATUS_STOP_ARN],
      });
    });

    it('leaves a trail carrying the exemption tag alone', () => {
      const event = loadEvent('cloudtrail/UpdateTrail-multi-region-and-validation-off.json');
      expect(evaluate(event, tagged([{ Key: 'remediation:exempt', Value: 'sandbox trail SEC-90' }]))).toStrictEqual({
        kind: 'exempt',
        reason: 'trail org-audit is tagged remediation:exempt: sandbox trail SEC-90',
        resources: [ORG_AUDIT],
      });
    });

    it('turns back on exactly what UpdateTrail turned off, with global service events (which multi-region needs)', () => {
      const verdict = evaluate(loadEvent('cloudtrail/UpdateTrail-multi-region-and-validation-off.json'));
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual([
        'multi-region-off',
        'log-file-validation-off',
        'global-service-events-off',
      ]);
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        {
          service: 'cloudtrail',
          operation: 'UpdateTrail',
          input: { Name: 'org-audit', IsMultiRegionTrail: true, EnableLogFileValidation: true, IncludeGlobalServiceEvents: true },
          reason: 'Turn IsMultiRegionTrail, EnableLogFileValidation, IncludeGlobalServiceEvents back on for trail org-audit; nothing else about the trail changes.',
          undo: {
            service: 'cloudtrail',
            operation: 'UpdateTrail',
            input: { Name: 'org-audit', IsMultiRegionTrail: false, EnableLogFileValidation: false, IncludeGlobalServiceEvents: false },
            reason: 'Set IsMultiRegionTrail, EnableLogFileValidation, IncludeGlobalServiceEvents back to false on trail org-audit, as the event left them.',
          },
        },
      ]);
    });

    it('restores only validation when only validation was turned off', () => {
      const event = loadEvent('cloudtrail/UpdateTrail-s3-prefix-compliant.json');
      event.detail.requestParameters = { name: 'org-audit', enableLogFileValidation: false };
      const verdict = evaluate(event, { trail: { status: 'ok', value: lookup('trail').select({ Trail: { IsMultiRegionTrail: true, LogFileValidationEnabled: true } }) } });
      expect(verdict.kind === 'violation' && verdict.plan[0]).toMatchObject({
        input: { Name: 'org-audit', EnableLogFileValidation: true },
        alreadyDone: 'GetTrail shows these settings on again',
      });
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
      const verdict = evaluate(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'), { trailHistory: { status: 'ok', value: history } });
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

    it('exempts a deleted trail that carried the exemption tag when it was created', () => {
      const record = createTrailRecord(STRATUS_DELETED, '2024-07-31T12:40:00Z', { tagsList: [{ key: 'remediation:exempt', value: 'red-team exercise' }] });
      const verdict = evaluate(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'), { trailHistory: { status: 'ok', value: { events: [historyEntry(record)] } } });
      expect(verdict.kind).toBe('exempt');
    });

    it('ignores history entries that are not JSON', () => {
      expect(createdTrailFrom({ Events: [{ CloudTrailEvent: '{not json' }, {}] }, 'x')).toBeNull();
    });

    it('leaves failed calls to the engine, which skips them', async () => {
      const config = parseConfig({}, cloudtrailRules);
      const decision = await decide(loadEvent('cloudtrail/StopLogging-failed-invalid-trail-name-panther.json'), cloudtrailLoggingWeakened, {
        config,
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (InvalidTrailNameException), so it changed nothing' });
    });

    it('asks the lookups only what the event needs', () => {
      const stop = loadEvent('cloudtrail/StopLogging-stratus-genuine.json');
      expect(lookup('trailStatus').input(stop)).toStrictEqual({ Name: STRATUS_STOP });
      expect(lookup('trailTags').input(stop)).toStrictEqual({ ResourceIdList: [STRATUS_STOP_ARN] });
      expect(lookup('trail').input(stop)).toBeUndefined();
      expect(lookup('trailTags').input(loadEvent('cloudtrail/UpdateTrail-s3-prefix-compliant.json'))).toBeUndefined();
      expect(lookup('trailHistory').input(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'))).toStrictEqual({
        LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateTrail' }],
        MaxResults: 50,
      });
    });
  });

  describe('handler', () => {
    const cloudtrail = mockClient(CloudTrailClient);
    const sns = mockClient(SNSClient);

    function handlerFor(mode: 'remediate' | 'propose') {
      const config = parseConfig({ rules: { 'cloudtrail-logging-weakened': { mode } } }, cloudtrailRules);
      return createRemediationHandler({
        rules: cloudtrailRules,
        commands: cloudtrailCommands,
        logger: recordingLogger(),
        config,
        env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-cloudtrail' },
        gateway: createAwsGateway(cloudtrailCommands, { region: 'us-east-1', maxAttempts: 1 }),
      });
    }

    beforeEach(() => {
      cloudtrail.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
      cloudtrail.on(ListTagsCommand).resolves({ ResourceTagList: [{ ResourceId: ORG_AUDIT, TagsList: [{ Key: 'team', Value: 'security' }] }] });
      cloudtrail.on(GetTrailStatusCommand).resolves({ IsLogging: false });
      cloudtrail.on(GetTrailCommand).resolves({ Trail: { Name: 'org-audit', IsMultiRegionTrail: false, LogFileValidationEnabled: false, IncludeGlobalServiceEvents: false } });
      cloudtrail.on(StartLoggingCommand).resolves({});
      cloudtrail.on(UpdateTrailCommand).resolves({ Name: 'org-audit' });
      cloudtrail.on(LookupEventsCommand).resolves({ Events: [] });
    });

    it('starts logging again in remediate mode, with exactly the planned input', async () => {
      const result = await handlerFor('remediate')(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(cloudtrail.commandCalls(GetTrailStatusCommand).map((c) => c.args[0].input)).toStrictEqual([{ Name: STRATUS_STOP }]);
      expect(cloudtrail.commandCalls(ListTagsCommand).map((c) => c.args[0].input)).toStrictEqual([{ ResourceIdList: [STRATUS_STOP_ARN] }]);
      expect(cloudtrail.commandCalls(StartLoggingCommand).map((c) => c.args[0].input)).toStrictEqual([{ Name: STRATUS_STOP }]);
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'violation', outcome: 'applied' });
    });

    it('is harmless on a second delivery: GetTrailStatus shows logging, no second StartLogging', async () => {
      const handler = handlerFor('remediate');
      const event = loadEvent('cloudtrail/StopLogging-stratus-genuine.json');
      await handler(event);
      cloudtrail.on(GetTrailStatusCommand).resolves({ IsLogging: true });
      const second = await handler(structuredClone(event));
      expect(cloudtrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
      expect(second.status === 'processed' && second.decisions[0]?.outcome).toBe('already-fixed');
    });

    it('restores the trail settings with exactly the planned UpdateTrail input', async () => {
      await handlerFor('remediate')(loadEvent('cloudtrail/UpdateTrail-multi-region-and-validation-off.json'));
      expect(cloudtrail.commandCalls(GetTrailCommand).map((c) => c.args[0].input)).toStrictEqual([{ Name: 'org-audit' }]);
      expect(cloudtrail.commandCalls(UpdateTrailCommand).map((c) => c.args[0].input)).toStrictEqual([
        { Name: 'org-audit', IsMultiRegionTrail: true, EnableLogFileValidation: true, IncludeGlobalServiceEvents: true },
      ]);
    });

    it('skips a trail deleted between the event and the lookup (TrailNotFoundException), with no write', async () => {
      cloudtrail.on(GetTrailStatusCommand).rejects(new CloudTrailServiceException({ name: 'TrailNotFoundException', $fault: 'client', $metadata: {}, message: 'Unknown trail' }));
      cloudtrail.on(ListTagsCommand).rejects(new CloudTrailServiceException({ name: 'TrailNotFoundException', $fault: 'client', $metadata: {}, message: 'Unknown trail' }));
      const result = await handlerFor('remediate')(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(cloudtrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
      expect(result.status === 'processed' && result.decisions[0]?.verdict).toBe('skipped');
    });

    it('never writes for a deleted trail or for event selectors, even in remediate mode', async () => {
      const handler = handlerFor('remediate');
      await handler(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'));
      await handler(loadEvent('cloudtrail/PutEventSelectors-management-excluded-stratus-genuine.json'));
      expect(cloudtrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
      expect(cloudtrail.commandCalls(UpdateTrailCommand)).toHaveLength(0);
      expect(cloudtrail.commandCalls(LookupEventsCommand).map((c) => c.args[0].input)).toStrictEqual([
        { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateTrail' }], MaxResults: 50 },
      ]);
    });

    it('reports AccessDeniedException on StartLogging as a failed fix', async () => {
      cloudtrail.on(StartLoggingCommand).rejects(new CloudTrailServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {}, message: 'denied' }));
      const result = await handlerFor('remediate')(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
    });
  });
});
