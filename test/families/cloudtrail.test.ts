/**
 * The cloudtrail family with AWS mocked: its Lambda function as deployed,
 * every write read before (still needed? already done? changed since the
 * event?) and after (verified?), and proposals read before they are sent.
 */
import {
  CloudTrailClient,
  CloudTrailServiceException,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  InvalidParameterCombinationException,
  ListTagsCommand,
  LookupEventsCommand,
  StartLoggingCommand,
  TrailNotFoundException,
  UpdateTrailCommand,
  type AdvancedEventSelector,
  type EventSelector,
} from '@aws-sdk/client-cloudtrail';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import type { UndoEntry, UndoStore } from '../../engine/undo-store.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { cloudtrailFamily } from '../../remediations/cloudtrail/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { recordingLogger, type RecordingLogger } from '../helpers/logger.js';
import { familyHandler, TEST_REGION } from '../helpers/rule-harness.js';

const cloudtrail = mockClient(CloudTrailClient);
const sns = mockClient(SNSClient);
const ORG_AUDIT = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/org-audit';
const STRATUS_STOP = 'stratus-red-team-ct-stop-trail-buykxbqejv';
const STRATUS_STOP_ARN = `arn:aws:cloudtrail:apiso-centralnorth-2r:143434273843:trail/${STRATUS_STOP}`;
const STRATUS_DELETED = 'stratus-red-team-cloudtraild-trail-kvrwohmiai';
const SELECTORS_TRAIL = 'stratus-red-team-ctes-trail-khlvciwdor';

function recordingUndoStore(): UndoStore & { entries: UndoEntry[] } {
  const entries: UndoEntry[] = [];
  return { entries, record: async (_eventId, entry) => void entries.push(entry), read: async () => [], markUndone: async () => undefined };
}

/**
 * The cloudtrail function as deployed, its rule in `mode`, logging to
 * `logger`, recording undo steps in `undoStore` when one is given; each AWS
 * call is tried once, so a mocked error is the answer, not a retry.
 */
function cloudtrailHandler(mode: 'remediate' | 'propose', logger: RecordingLogger = recordingLogger(), undoStore?: UndoStore) {
  return familyHandler(cloudtrailFamily, {
    modes: { 'cloudtrail-logging-weakened': mode },
    logger,
    gateway: createAwsGateway(runtimeCommands(cloudtrailFamily), { region: TEST_REGION, maxAttempts: 1 }),
    ...(undoStore ? { undoStore } : {}),
  }).handler;
}

function decisions(result: Awaited<ReturnType<ReturnType<typeof cloudtrailHandler>>>) {
  return result.status === 'processed' ? result.decisions : [];
}

const decisionLine = (logger: RecordingLogger) => logger.lines.find((l) => l.message === 'decision')?.extra ?? {};
const callOrder = () => cloudtrail.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
const inputs = (command: Parameters<typeof cloudtrail.commandCalls>[0]) => cloudtrail.commandCalls(command).map((call) => call.args[0].input);
const alertText = () => String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message);

/** CloudTrail's answer for a trail that does not exist, as GetTrail, GetTrailStatus and GetEventSelectors give it. */
const unknownTrail = (name: string) => new TrailNotFoundException({ $metadata: {}, message: `Unknown trail: ${name} for the user: 111122223333` });

interface Trail {
  exists: boolean;
  logging: boolean;
  IsMultiRegionTrail: boolean;
  LogFileValidationEnabled: boolean;
  IncludeGlobalServiceEvents: boolean;
  selectors: { EventSelectors?: EventSelector[]; AdvancedEventSelectors?: AdvancedEventSelector[] };
}

/**
 * One trail that changes only through the mocked writes, so the reads before
 * and after each step see what CloudTrail would show. UpdateTrail refuses a
 * multi-region trail without global service events, as CloudTrail does.
 */
function trailWorld(name: string, initial: Partial<Trail> = {}): Trail {
  const world: Trail = {
    exists: true,
    logging: true,
    IsMultiRegionTrail: true,
    LogFileValidationEnabled: true,
    IncludeGlobalServiceEvents: true,
    selectors: { EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [], ExcludeManagementEventSources: [] }] },
    ...initial,
  };
  const present = () => {
    if (!world.exists) throw unknownTrail(name);
  };
  cloudtrail.on(GetTrailStatusCommand).callsFake(() => {
    present();
    return { IsLogging: world.logging };
  });
  cloudtrail.on(GetTrailCommand).callsFake(() => {
    present();
    const { IsMultiRegionTrail, LogFileValidationEnabled, IncludeGlobalServiceEvents } = world;
    return { Trail: { Name: name, TrailARN: ORG_AUDIT, HomeRegion: 'us-east-1', S3BucketName: 'audit-logs-111122223333', IsMultiRegionTrail, LogFileValidationEnabled, IncludeGlobalServiceEvents } };
  });
  cloudtrail.on(GetEventSelectorsCommand).callsFake(() => {
    present();
    return { TrailARN: ORG_AUDIT, ...world.selectors };
  });
  cloudtrail.on(StartLoggingCommand).callsFake(() => {
    present();
    world.logging = true;
    return {};
  });
  cloudtrail.on(UpdateTrailCommand).callsFake((input: Record<string, unknown>) => {
    present();
    const next = {
      IsMultiRegionTrail: typeof input['IsMultiRegionTrail'] === 'boolean' ? input['IsMultiRegionTrail'] : world.IsMultiRegionTrail,
      IncludeGlobalServiceEvents: typeof input['IncludeGlobalServiceEvents'] === 'boolean' ? input['IncludeGlobalServiceEvents'] : world.IncludeGlobalServiceEvents,
      LogFileValidationEnabled: typeof input['EnableLogFileValidation'] === 'boolean' ? input['EnableLogFileValidation'] : world.LogFileValidationEnabled,
    };
    if (next.IsMultiRegionTrail && !next.IncludeGlobalServiceEvents) {
      throw new InvalidParameterCombinationException({ $metadata: {}, message: 'Multi-Region trail must include global service events.' });
    }
    Object.assign(world, next);
    return { Name: name, TrailARN: ORG_AUDIT, ...next };
  });
  return world;
}

describe('cloudtrail handler', () => {
  beforeEach(() => {
    cloudtrail.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    cloudtrail.on(ListTagsCommand).resolves({ ResourceTagList: [{ ResourceId: ORG_AUDIT, TagsList: [{ Key: 'team', Value: 'security' }] }] });
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [] });
  });

  describe('StartLogging after StopLogging', () => {
    it('starts logging with exactly the planned input, reading IsLogging before and after: applied and verified', async () => {
      // Arrange
      const world = trailWorld(STRATUS_STOP, { logging: false });
      const logger = recordingLogger();
      // Act
      const result = await cloudtrailHandler('remediate', logger)(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      // Assert
      expect(callOrder()).toStrictEqual(['ListTags', 'GetTrailStatus', 'StartLogging', 'GetTrailStatus']);
      expect(inputs(ListTagsCommand)).toStrictEqual([{ ResourceIdList: [STRATUS_STOP_ARN] }]);
      expect(inputs(GetTrailStatusCommand)).toStrictEqual([{ Name: STRATUS_STOP }, { Name: STRATUS_STOP }]);
      expect(inputs(StartLoggingCommand)).toStrictEqual([{ Name: STRATUS_STOP }]);
      expect(world.logging).toBe(true);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'applied', execution: 'applied' });
      expect(decisionLine(logger)['execution']).toStrictEqual([
        {
          index: 0,
          status: 'applied',
          precondition: { state: 'needed', evidence: `trail ${STRATUS_STOP} is not logging (IsLogging false)` },
          verification: { state: 'done', evidence: `trail ${STRATUS_STOP} is logging (IsLogging true)` },
        },
      ]);
    });

    it('is already fixed on a second delivery: IsLogging reads true, and no second StartLogging is sent', async () => {
      trailWorld(STRATUS_STOP, { logging: false });
      const undo = recordingUndoStore();
      const handler = cloudtrailHandler('remediate', recordingLogger(), undo);
      const event = loadEvent('cloudtrail/StopLogging-stratus-genuine.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(inputs(StartLoggingCommand)).toStrictEqual([{ Name: STRATUS_STOP }]);
      expect(inputs(GetTrailStatusCommand)).toStrictEqual([{ Name: STRATUS_STOP }, { Name: STRATUS_STOP }, { Name: STRATUS_STOP }]);
      expect(decisions(first)[0]?.outcome).toBe('applied');
      expect(decisions(second)[0]?.outcome).toBe('already-fixed');
      expect(undo.entries.map((entry) => entry.undo.map((step) => [step.operation, step.input]))).toStrictEqual([[['StopLogging', { Name: STRATUS_STOP }]]]);
    });

    it('reports unverified when the trail still does not log after StartLogging succeeded', async () => {
      trailWorld(STRATUS_STOP, { logging: false });
      cloudtrail.on(StartLoggingCommand).resolves({});
      const result = await cloudtrailHandler('remediate')(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(inputs(StartLoggingCommand)).toStrictEqual([{ Name: STRATUS_STOP }]);
      expect(cloudtrail.commandCalls(GetTrailStatusCommand)).toHaveLength(2);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'unverified', execution: 'unverified' });
    });

    it('is stale, with no write and the reason in the alert, when the trail was deleted since the event', async () => {
      trailWorld(STRATUS_STOP, { exists: false });
      cloudtrail.on(ListTagsCommand).rejects(unknownTrail(STRATUS_STOP_ARN));
      const logger = recordingLogger();
      const result = await cloudtrailHandler('remediate', logger)(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(callOrder()).toStrictEqual(['ListTags', 'GetTrailStatus']);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'stale', execution: 'stale' });
      expect(decisionLine(logger)['execution']).toStrictEqual([
        {
          index: 0,
          status: 'stale',
          precondition: {
            state: 'changed',
            evidence: `trail ${STRATUS_STOP} no longer exists (TrailNotFoundException): it was deleted after this event, and its DeleteTrail event is judged on its own; nothing started`,
          },
        },
      ]);
      expect(alertText()).toContain(`trail ${STRATUS_STOP} no longer exists (TrailNotFoundException)`);
    });

    it('reports AccessDeniedException on StartLogging as a failed fix', async () => {
      trailWorld(STRATUS_STOP, { logging: false });
      cloudtrail.on(StartLoggingCommand).rejects(new CloudTrailServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {}, message: 'denied' }));
      const result = await cloudtrailHandler('remediate')(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(decisions(result)[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
    });

    it('reads the present in propose mode and writes nothing: proposed while stopped, already fixed once logging', async () => {
      const world = trailWorld(STRATUS_STOP, { logging: false });
      const handler = cloudtrailHandler('propose');
      const proposed = await handler(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      world.logging = true;
      const fixed = await handler(loadEvent('cloudtrail/StopLogging-stratus-genuine.json'));
      expect(cloudtrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
      expect(decisions(proposed)[0]?.outcome).toBe('proposed');
      expect(decisions(fixed)[0]?.outcome).toBe('already-fixed');
    });
  });

  describe('UpdateTrail after settings were turned off', () => {
    const event = () => loadEvent('cloudtrail/UpdateTrail-multi-region-and-validation-off.json');

    it('turns each setting back on, global service events first, each read before and after: applied and verified', async () => {
      const world = trailWorld('org-audit', { IsMultiRegionTrail: false, LogFileValidationEnabled: false, IncludeGlobalServiceEvents: false });
      const undo = recordingUndoStore();
      const result = await cloudtrailHandler('remediate', recordingLogger(), undo)(event());
      expect(callOrder()).toStrictEqual(['ListTags', 'GetTrail', 'UpdateTrail', 'GetTrail', 'GetTrail', 'UpdateTrail', 'GetTrail', 'GetTrail', 'UpdateTrail', 'GetTrail']);
      expect(inputs(GetTrailCommand)).toStrictEqual(Array.from({ length: 6 }, () => ({ Name: 'org-audit' })));
      expect(inputs(UpdateTrailCommand)).toStrictEqual([
        { Name: 'org-audit', IncludeGlobalServiceEvents: true },
        { Name: 'org-audit', IsMultiRegionTrail: true },
        { Name: 'org-audit', EnableLogFileValidation: true },
      ]);
      expect(world).toMatchObject({ IsMultiRegionTrail: true, LogFileValidationEnabled: true, IncludeGlobalServiceEvents: true });
      expect(decisions(result)[0]).toMatchObject({ outcome: 'applied', execution: 'applied' });
      expect(undo.entries[0]?.undo.map((step) => step.input)).toStrictEqual([
        { Name: 'org-audit', EnableLogFileValidation: false },
        { Name: 'org-audit', IsMultiRegionTrail: false },
        { Name: 'org-audit', IncludeGlobalServiceEvents: false },
      ]);
    });

    it('is already fixed on a re-run: every setting reads on, and no UpdateTrail is sent', async () => {
      trailWorld('org-audit', { IsMultiRegionTrail: false, LogFileValidationEnabled: false, IncludeGlobalServiceEvents: false });
      const handler = cloudtrailHandler('remediate');
      await handler(event());
      cloudtrail.resetHistory();
      const second = await handler(event());
      expect(callOrder()).toStrictEqual(['ListTags', 'GetTrail', 'GetTrail', 'GetTrail']);
      expect(decisions(second)[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
    });

    it('leaves a setting someone turned back on out of the writes and out of the undo record', async () => {
      trailWorld('org-audit', { IsMultiRegionTrail: false, LogFileValidationEnabled: true, IncludeGlobalServiceEvents: false });
      const undo = recordingUndoStore();
      const logger = recordingLogger();
      const result = await cloudtrailHandler('remediate', logger, undo)(event());
      expect(inputs(UpdateTrailCommand)).toStrictEqual([
        { Name: 'org-audit', IncludeGlobalServiceEvents: true },
        { Name: 'org-audit', IsMultiRegionTrail: true },
      ]);
      expect(decisions(result)[0]?.outcome).toBe('applied');
      expect(decisionLine(logger)['execution']).toMatchObject([
        { status: 'applied' },
        { status: 'applied' },
        { status: 'already-done', precondition: { state: 'done', evidence: 'trail org-audit has LogFileValidationEnabled on' } },
      ]);
      expect(undo.entries[0]?.undo.map((step) => step.input)).toStrictEqual([
        { Name: 'org-audit', IsMultiRegionTrail: false },
        { Name: 'org-audit', IncludeGlobalServiceEvents: false },
      ]);
    });

    it('is stale when global service events, which the event left on and multi-region needs, were turned off since', async () => {
      const multiRegionOnly = event();
      multiRegionOnly.detail.requestParameters = { name: 'org-audit', isMultiRegionTrail: false };
      multiRegionOnly.detail.responseElements = { ...(multiRegionOnly.detail.responseElements as object), includeGlobalServiceEvents: true };
      trailWorld('org-audit', { IsMultiRegionTrail: false, IncludeGlobalServiceEvents: false });
      const logger = recordingLogger();
      const result = await cloudtrailHandler('remediate', logger)(multiRegionOnly);
      expect(callOrder()).toStrictEqual(['ListTags', 'GetTrail']);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'stale', execution: 'stale' });
      expect(alertText()).toContain('now has IncludeGlobalServiceEvents off too, which the event left on and IsMultiRegionTrail needs');
    });

    it('is stale, with no write, when the trail was deleted since the event', async () => {
      trailWorld('org-audit', { exists: false });
      cloudtrail.on(ListTagsCommand).rejects(unknownTrail(ORG_AUDIT));
      const result = await cloudtrailHandler('remediate')(event());
      expect(callOrder()).toStrictEqual(['ListTags', 'GetTrail']);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'stale' });
    });
  });

  describe('proposals (never applied)', () => {
    const selectorsEvent = () => loadEvent('cloudtrail/PutEventSelectors-management-excluded-stratus-genuine.json');
    /** The selector the event set, as GetEventSelectors answers it. */
    const eventSelector: EventSelector = {
      ReadWriteType: 'ReadOnly',
      IncludeManagementEvents: false,
      DataResources: [
        { Type: 'AWS::S3::Object', Values: [] },
        { Type: 'AWS::Lambda::Function', Values: [] },
      ],
      ExcludeManagementEventSources: [],
    };

    it('reads GetEventSelectors before proposing: still the event’s selectors, so the proposal stands and nothing is written', async () => {
      trailWorld(SELECTORS_TRAIL, { selectors: { EventSelectors: [eventSelector] } });
      const logger = recordingLogger();
      const result = await cloudtrailHandler('remediate', logger)(selectorsEvent());
      expect(callOrder()).toStrictEqual(['ListTags', 'GetEventSelectors']);
      expect(inputs(GetEventSelectorsCommand)).toStrictEqual([{ TrailName: SELECTORS_TRAIL }]);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'proposed' });
      expect(decisionLine(logger)['preflight']).toStrictEqual({
        status: 'open',
        checks: [{ state: 'needed', evidence: `trail ${SELECTORS_TRAIL} still has the basic event selectors the event set, which log no management events` }],
      });
    });

    it('is stale when the selectors changed again since the event: the proposal would overwrite them', async () => {
      trailWorld(SELECTORS_TRAIL, { selectors: { EventSelectors: [{ ...eventSelector, DataResources: [{ Type: 'AWS::S3::Object', Values: ['arn:aws:s3:::newer/'] }] }] } });
      const result = await cloudtrailHandler('remediate')(selectorsEvent());
      expect(decisions(result)[0]?.outcome).toBe('stale');
      expect(alertText()).toContain('the proposal would overwrite them; nothing put');
    });

    it('is already fixed when the trail logs management writes again', async () => {
      trailWorld(SELECTORS_TRAIL);
      const result = await cloudtrailHandler('remediate')(selectorsEvent());
      expect(decisions(result)[0]?.outcome).toBe('already-fixed');
    });

    it('reads GetTrail and GetTrailStatus for a deleted trail: still gone is proposed, back and logging is already fixed', async () => {
      const world = trailWorld(STRATUS_DELETED, { exists: false });
      const handler = cloudtrailHandler('remediate');
      const gone = await handler(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'));
      expect(callOrder()).toStrictEqual(['LookupEvents', 'GetTrail', 'GetTrailStatus']);
      expect(inputs(GetTrailCommand)).toStrictEqual([{ Name: STRATUS_DELETED }]);
      expect(inputs(GetTrailStatusCommand)).toStrictEqual([{ Name: STRATUS_DELETED }]);
      world.exists = true;
      const back = await handler(loadEvent('cloudtrail/DeleteTrail-stratus-genuine.json'));
      expect(cloudtrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
      expect(decisions(gone)[0]?.outcome).toBe('proposed');
      expect(decisions(back)[0]?.outcome).toBe('already-fixed');
    });
  });
});
