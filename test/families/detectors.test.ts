/**
 * The detectors family with AWS mocked: its Lambda function as deployed. A
 * suspended GuardDuty detector and a stopped AWS Config recorder are turned
 * back on in `remediate` mode, each write read before (still off? already on?
 * gone since the event?) and after (verified?), with its undo recorded; every
 * other event is one alert and no other call, in any mode.
 */
import {
  ConfigServiceClient,
  DescribeConfigurationRecorderStatusCommand,
  NoSuchConfigurationRecorderException,
  StartConfigurationRecorderCommand,
} from '@aws-sdk/client-config-service';
import { BadRequestException, GetDetectorCommand, GuardDutyClient, UpdateDetectorCommand } from '@aws-sdk/client-guardduty';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import type { UndoEntry, UndoStore } from '../../engine/undo-store.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { detectorsFamily } from '../../remediations/detectors/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { recordingLogger, type RecordingLogger } from '../helpers/logger.js';
import { familyHandler, TEST_REGION } from '../helpers/rule-harness.js';

const guardduty = mockClient(GuardDutyClient);
const config = mockClient(ConfigServiceClient);
const sns = mockClient(SNSClient);
const DETECTOR = '12abc34d567e8fa901bc2d34e56789f0';

function recordingUndoStore(): UndoStore & { entries: UndoEntry[] } {
  const entries: UndoEntry[] = [];
  return { entries, record: async (_eventId, entry) => void entries.push(entry), read: async () => [], markUndone: async () => undefined };
}

/** The detectors function as deployed, its rule in `mode`; each AWS call is tried once, so a mocked error is the answer. */
function detectorsHandler(mode: 'remediate' | 'propose' | 'notify', logger: RecordingLogger = recordingLogger(), undoStore?: UndoStore) {
  return familyHandler(detectorsFamily, {
    modes: { 'detector-disabled': mode },
    logger,
    gateway: createAwsGateway(runtimeCommands(detectorsFamily), { region: TEST_REGION, maxAttempts: 1 }),
    ...(undoStore ? { undoStore } : {}),
  }).handler;
}

type Result = Awaited<ReturnType<ReturnType<typeof detectorsHandler>>>;
const decisions = (result: Result) => (result.status === 'processed' ? result.decisions : []);
const decisionLine = (logger: RecordingLogger) => logger.lines.find((line) => line.message === 'decision')?.extra ?? {};
const names = (mock: typeof guardduty | typeof config) => mock.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
const alerts = () => sns.commandCalls(PublishCommand).map((call) => call.args[0].input);

/** One detector whose status changes only through UpdateDetector, so the reads before and after see what GuardDuty would show. */
function detectorWorld(initial: 'ENABLED' | 'DISABLED') {
  const world = { status: initial };
  guardduty.on(GetDetectorCommand).callsFake(() => ({ Status: world.status, ServiceRole: 'arn:aws:iam::111122223333:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty', FindingPublishingFrequency: 'SIX_HOURS' }));
  guardduty.on(UpdateDetectorCommand).callsFake((input: { Enable?: boolean }) => {
    if (typeof input.Enable === 'boolean') world.status = input.Enable ? 'ENABLED' : 'DISABLED';
    return {};
  });
  return world;
}

/** One recorder that starts only through StartConfigurationRecorder, or none at all. */
function recorderWorld(initial: { exists: boolean; recording: boolean }) {
  const world = { ...initial };
  config.on(DescribeConfigurationRecorderStatusCommand).callsFake(() => {
    if (!world.exists) throw new NoSuchConfigurationRecorderException({ $metadata: {}, message: 'Cannot find configuration recorder with the specified name \'default\'.' });
    return { ConfigurationRecordersStatus: [{ name: 'default', arn: 'arn:aws:config:us-east-1:111122223333:configuration-recorder/default/abcd1234', recording: world.recording, lastStatus: 'SUCCESS' }] };
  });
  config.on(StartConfigurationRecorderCommand).callsFake(() => {
    world.recording = true;
    return {};
  });
  return world;
}

describe('detectors handler', () => {
  beforeEach(() => {
    guardduty.reset();
    config.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('holds the GuardDuty and AWS Config clients, and exactly the commands its reads and writes send', () => {
    expect(Object.keys(detectorsFamily.commands.clients).sort()).toStrictEqual(['configservice', 'guardduty']);
    expect(Object.keys(detectorsFamily.commands.commands).sort()).toStrictEqual([
      'configservice:DescribeConfigurationRecorderStatus',
      'configservice:StartConfigurationRecorder',
      'guardduty:GetDetector',
      'guardduty:UpdateDetector',
    ]);
  });

  describe('UpdateDetector enable false', () => {
    const event = () => loadEvent('guardduty/UpdateDetector-suspended.json');

    it('re-enables the detector with exactly the planned input, reading Status before and after: applied, verified, its undo recorded', async () => {
      // Arrange
      const world = detectorWorld('DISABLED');
      const logger = recordingLogger();
      const undo = recordingUndoStore();
      // Act
      const result = await detectorsHandler('remediate', logger, undo)(event());
      // Assert
      expect(names(guardduty)).toStrictEqual(['GetDetector', 'UpdateDetector', 'GetDetector']);
      expect(guardduty.commandCalls(GetDetectorCommand).map((call) => call.args[0].input)).toStrictEqual([{ DetectorId: DETECTOR }, { DetectorId: DETECTOR }]);
      expect(guardduty.commandCalls(UpdateDetectorCommand).map((call) => call.args[0].input)).toStrictEqual([{ DetectorId: DETECTOR, Enable: true }]);
      expect(world.status).toBe('ENABLED');
      expect(decisions(result)[0]).toMatchObject({ rule: 'detector-disabled', verdict: 'violation', outcome: 'applied', execution: 'applied' });
      expect(decisionLine(logger)['execution']).toStrictEqual([
        {
          index: 0,
          status: 'applied',
          precondition: { state: 'needed', evidence: `GuardDuty detector ${DETECTOR} is suspended (Status DISABLED)` },
          verification: { state: 'done', evidence: `GuardDuty detector ${DETECTOR} is enabled (Status ENABLED)` },
        },
      ]);
      expect(undo.entries.map((entry) => entry.undo.map((step) => [step.service, step.operation, step.input]))).toStrictEqual([
        [['guardduty', 'UpdateDetector', { DetectorId: DETECTOR, Enable: false }]],
      ]);
      expect(config.calls()).toHaveLength(0);
    });

    it('is already fixed on a second delivery: Status reads ENABLED, and no second UpdateDetector is sent', async () => {
      detectorWorld('DISABLED');
      const handler = detectorsHandler('remediate');
      const first = await handler(event());
      const second = await handler(event());
      expect(guardduty.commandCalls(UpdateDetectorCommand)).toHaveLength(1);
      expect(guardduty.commandCalls(GetDetectorCommand)).toHaveLength(3);
      expect(decisions(first)[0]?.outcome).toBe('applied');
      expect(decisions(second)[0]?.outcome).toBe('already-fixed');
    });

    it('reports unverified when the detector still reads DISABLED after UpdateDetector succeeded', async () => {
      detectorWorld('DISABLED');
      guardduty.on(UpdateDetectorCommand).resolves({});
      const result = await detectorsHandler('remediate')(event());
      expect(guardduty.commandCalls(UpdateDetectorCommand)).toHaveLength(1);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'unverified', execution: 'unverified' });
    });

    it('sends nothing when GetDetector answers BadRequestException (an unknown id): the read failed, it is not taken as "gone"', async () => {
      guardduty.on(GetDetectorCommand).rejects(new BadRequestException({ $metadata: {}, message: 'The request is rejected because the input detectorId is not owned by the current account.' }));
      const result = await detectorsHandler('remediate')(event());
      expect(names(guardduty)).toStrictEqual(['GetDetector']);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'failed', execution: 'failed' });
    });

    it('reads the present in propose mode (the default) and writes nothing: proposed while suspended, already fixed once enabled', async () => {
      const world = detectorWorld('DISABLED');
      const handler = detectorsHandler('propose');
      const proposed = await handler(event());
      world.status = 'ENABLED';
      const fixed = await handler(event());
      expect(guardduty.commandCalls(UpdateDetectorCommand)).toHaveLength(0);
      expect(guardduty.commandCalls(GetDetectorCommand).map((call) => call.args[0].input)).toStrictEqual([{ DetectorId: DETECTOR }, { DetectorId: DETECTOR }]);
      expect(decisions(proposed)[0]?.outcome).toBe('proposed');
      expect(decisions(fixed)[0]?.outcome).toBe('already-fixed');
    });

    it('stays quiet on the same call when it failed (AccessDeniedException): no read, no write, no alert', async () => {
      detectorWorld('ENABLED');
      const result = await detectorsHandler('remediate')(loadEvent('guardduty/UpdateDetector-failed-access-denied.json'));
      expect(decisions(result).map((d) => [d.verdict, d.outcome])).toStrictEqual([['skipped', 'none']]);
      expect(guardduty.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('StopConfigurationRecorder', () => {
    const event = () => loadEvent('config/StopConfigurationRecorder-stopped.json');

    it('starts the recorder with exactly the planned input, reading recording before and after: applied, verified, its undo recorded', async () => {
      const world = recorderWorld({ exists: true, recording: false });
      const logger = recordingLogger();
      const undo = recordingUndoStore();
      const result = await detectorsHandler('remediate', logger, undo)(event());
      expect(names(config)).toStrictEqual(['DescribeConfigurationRecorderStatus', 'StartConfigurationRecorder', 'DescribeConfigurationRecorderStatus']);
      expect(config.commandCalls(DescribeConfigurationRecorderStatusCommand).map((call) => call.args[0].input)).toStrictEqual([
        { ConfigurationRecorderNames: ['default'] },
        { ConfigurationRecorderNames: ['default'] },
      ]);
      expect(config.commandCalls(StartConfigurationRecorderCommand).map((call) => call.args[0].input)).toStrictEqual([{ ConfigurationRecorderName: 'default' }]);
      expect(world.recording).toBe(true);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'applied', execution: 'applied' });
      expect(decisionLine(logger)['execution']).toStrictEqual([
        {
          index: 0,
          status: 'applied',
          precondition: { state: 'needed', evidence: 'configuration recorder default is not recording (recording false)' },
          verification: { state: 'done', evidence: 'configuration recorder default is recording (recording true)' },
        },
      ]);
      expect(undo.entries.map((entry) => entry.undo.map((step) => [step.service, step.operation, step.input]))).toStrictEqual([
        [['configservice', 'StopConfigurationRecorder', { ConfigurationRecorderName: 'default' }]],
      ]);
    });

    it('is already fixed when the recorder records again: no StartConfigurationRecorder, no undo record', async () => {
      recorderWorld({ exists: true, recording: true });
      const undo = recordingUndoStore();
      const result = await detectorsHandler('remediate', recordingLogger(), undo)(event());
      expect(names(config)).toStrictEqual(['DescribeConfigurationRecorderStatus']);
      expect(decisions(result)[0]).toMatchObject({ outcome: 'already-fixed', execution: 'already-fixed' });
      expect(undo.entries).toStrictEqual([]);
    });

    it('is stale, with no write and the reason in the alert, when the recorder was deleted since the event', async () => {
      recorderWorld({ exists: false, recording: false });
      const result = await detectorsHandler('remediate')(event());
      expect(names(config)).toStrictEqual(['DescribeConfigurationRecorderStatus']);
      expect(decisions(result)[0]).toMatchObject({ verdict: 'violation', outcome: 'stale', execution: 'stale' });
      expect(String(alerts()[0]?.Message)).toContain('configuration recorder default no longer exists (NoSuchConfigurationRecorderException)');
    });
  });

  describe('notify-only events', () => {
    it.each([
      ['guardduty/DeleteDetector-deleted.json', 'critical', 'CreateDetector'],
      ['securityhub/DisableSecurityHub-disabled.json', 'critical', 'EnableSecurityHub'],
      ['config/DeleteConfigurationRecorder-deleted.json', 'high', 'PutConfigurationRecorder'],
      ['macie2/DisableMacie-disabled.json', 'critical', 'EnableMacie'],
      ['macie2/UpdateMacieSession-paused.json', 'high', 'update-macie-session --status ENABLED'],
    ])('%s: one %s alert saying how to turn it back on (%s), and no AWS call, even in remediate mode', async (name, severity, how) => {
      const result = await detectorsHandler('remediate')(loadEvent(name));
      expect(decisions(result).map((d) => [d.verdict, d.outcome])).toStrictEqual([['violation', 'notified']]);
      expect(alerts()).toHaveLength(1);
      expect(alerts()[0]?.MessageAttributes?.['severity']?.StringValue).toBe(severity);
      expect(String(alerts()[0]?.Message)).toContain(how);
      expect(guardduty.calls()).toHaveLength(0);
      expect(config.calls()).toHaveLength(0);
    });

    it('stays quiet on a compliant update: a detector re-enabled, a Macie session enabled', async () => {
      const handler = detectorsHandler('remediate');
      const enabled = await handler(loadEvent('guardduty/UpdateDetector-re-enabled-compliant.json'));
      const macie = await handler(loadEvent('macie2/UpdateMacieSession-enabled-compliant.json'));
      expect([...decisions(enabled), ...decisions(macie)].map((d) => [d.verdict, d.outcome])).toStrictEqual([
        ['compliant', 'none'],
        ['compliant', 'none'],
      ]);
      expect(sns.calls()).toHaveLength(0);
      expect(guardduty.calls()).toHaveLength(0);
    });
  });
});
