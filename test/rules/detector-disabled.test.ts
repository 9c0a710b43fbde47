/**
 * detector-disabled: its decisions and plans from recorded events (GuardDuty,
 * Security Hub, AWS Config, Macie), and the reads (probes) that judge each
 * step before and after it writes. The Lambda path is in test/families/detectors.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { PlanStep, StateCheck } from '../../engine/types.js';
import { detectorStatusProbe, HOW_TO, recorderStatusProbe } from '../../remediations/detectors/detector-disabled.js';
import { detectorsRules } from '../../remediations/detectors/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const evaluate = ruleEvaluator('detector-disabled');
const DETECTOR = '12abc34d567e8fa901bc2d34e56789f0';
const DETECTOR_ARN = `arn:aws:guardduty:us-east-1:111122223333:detector/${DETECTOR}`;
const RECORDER = 'configuration-recorder:111122223333:us-east-1/default';
const MACIE = 'macie:111122223333:us-east-1';

const request = (event: CloudTrailEvent) => event.detail.requestParameters as Record<string, unknown>;

/** The read before and after the re-enable. */
const detectorCheck: StateCheck = {
  service: 'guardduty',
  operation: 'GetDetector',
  input: { DetectorId: DETECTOR },
  probe: 'detectorStatus',
  expect: { detector: DETECTOR },
  description: `GuardDuty detector ${DETECTOR} is still suspended`,
};

/** The step that re-enables the suspended detector, as the rule must plan it. */
const reEnableStep: PlanStep = {
  service: 'guardduty',
  operation: 'UpdateDetector',
  input: { DetectorId: DETECTOR, Enable: true },
  reason: `Re-enable GuardDuty detector ${DETECTOR}; nothing else about the detector changes. Activity while it was suspended produced no findings.`,
  undo: { service: 'guardduty', operation: 'UpdateDetector', input: { DetectorId: DETECTOR, Enable: false }, reason: `Suspend GuardDuty detector ${DETECTOR} again, as the event left it.` },
  precondition: detectorCheck,
  verification: detectorCheck,
};

const recorderCheck = {
  service: 'configservice',
  operation: 'DescribeConfigurationRecorderStatus',
  input: { ConfigurationRecorderNames: ['default'] },
  probe: 'recorderStatus',
  expect: { recorder: 'default' },
  description: 'configuration recorder default is still not recording',
} as const;

const restartStep: PlanStep = {
  service: 'configservice',
  operation: 'StartConfigurationRecorder',
  input: { ConfigurationRecorderName: 'default' },
  reason: 'Start configuration recorder default again; its settings and delivery channel stay as they are. Changes made while it was stopped are not recorded afterwards.',
  undo: { service: 'configservice', operation: 'StopConfigurationRecorder', input: { ConfigurationRecorderName: 'default' }, reason: 'Stop configuration recorder default again, as the event left it.' },
  precondition: recorderCheck,
  verification: recorderCheck,
};

describe('detector-disabled', () => {
  describe('evaluate: GuardDuty', () => {
    it('re-enables a suspended detector (UpdateDetector enable false) with one UpdateDetector, read before and after', () => {
      // Arrange
      const event = loadEvent('guardduty/UpdateDetector-suspended.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `GuardDuty detector ${DETECTOR} suspended (enable false)`,
        resources: [DETECTOR_ARN],
        findings: [
          { code: 'detector-suspended', severity: 'high', message: `GuardDuty detector ${DETECTOR} was suspended (enable false). ${HOW_TO.detectorSuspended}`, subject: DETECTOR_ARN },
        ],
        plan: [reEnableStep],
      });
    });

    it('reads enable as an export may write it, the string "false"', () => {
      const event = loadEvent('guardduty/UpdateDetector-suspended.json');
      request(event)['enable'] = 'false';
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([reEnableStep]);
    });

    it('passes UpdateDetector that re-enables the detector, and one that does not touch enable', () => {
      expect(evaluate(loadEvent('guardduty/UpdateDetector-re-enabled-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `UpdateDetector re-enables GuardDuty detector ${DETECTOR} (enable true)`,
        resources: [DETECTOR_ARN],
      });
      expect(evaluate(loadEvent('guardduty/UpdateDetector-publishing-frequency-only-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `UpdateDetector leaves the status of GuardDuty detector ${DETECTOR} (no enable in the request)`,
        resources: [DETECTOR_ARN],
      });
    });

    it('alerts on a deleted detector (critical: its findings are lost) with how to turn GuardDuty back on, and plans nothing', () => {
      const arn = `arn:aws:guardduty:eu-west-1:111122223333:detector/${DETECTOR}`;
      expect(evaluate(loadEvent('guardduty/DeleteDetector-deleted.json'))).toStrictEqual({
        kind: 'violation',
        summary: `GuardDuty detector ${DETECTOR} deleted: GuardDuty is off in eu-west-1`,
        resources: [arn],
        findings: [{ code: 'detector-deleted', severity: 'critical', message: `GuardDuty detector ${DETECTOR} was deleted: GuardDuty is off in eu-west-1. ${HOW_TO.detectorDeleted}`, subject: arn }],
        plan: [],
      });
    });

    it('cannot inspect a suspension or deletion whose record names no detector: an alert of its severity, never a pass', () => {
      const suspended = loadEvent('guardduty/UpdateDetector-suspended.json');
      delete request(suspended)['detectorId'];
      const deleted = loadEvent('guardduty/DeleteDetector-deleted.json');
      suspended.detail.requestParameters = { enable: false };
      deleted.detail.requestParameters = null;
      expect(evaluate(suspended)).toStrictEqual({ kind: 'skipped', reason: 'the UpdateDetector record names no detector (requestParameters.detectorId)', severity: 'high' });
      expect(evaluate(deleted)).toStrictEqual({ kind: 'skipped', reason: 'the DeleteDetector record names no detector (requestParameters.detectorId)', severity: 'critical' });
    });
  });

  describe('evaluate: Security Hub, AWS Config, Macie', () => {
    it('alerts on DisableSecurityHub (critical) naming the hub, with how to enable it again, and plans nothing', () => {
      const hub = 'arn:aws:securityhub:us-east-1:111122223333:hub/default';
      expect(evaluate(loadEvent('securityhub/DisableSecurityHub-disabled.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'Security Hub disabled in us-east-1',
        resources: [hub],
        findings: [{ code: 'security-hub-disabled', severity: 'critical', message: `Security Hub was disabled in us-east-1. ${HOW_TO.securityHubDisabled}`, subject: hub }],
        plan: [],
      });
    });

    it('restarts a stopped configuration recorder with StartConfigurationRecorder, read before and after', () => {
      expect(evaluate(loadEvent('config/StopConfigurationRecorder-stopped.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'configuration recorder default stopped',
        resources: [RECORDER],
        findings: [{ code: 'config-recorder-stopped', severity: 'high', message: `Configuration recorder default was stopped. ${HOW_TO.recorderStopped}`, subject: RECORDER }],
        plan: [restartStep],
      });
    });

    it('alerts on a deleted configuration recorder (high: the recorded history is kept) and recreates nothing', () => {
      expect(evaluate(loadEvent('config/DeleteConfigurationRecorder-deleted.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'configuration recorder default deleted: AWS Config records nothing in us-east-1',
        resources: [RECORDER],
        findings: [{ code: 'config-recorder-deleted', severity: 'high', message: `Configuration recorder default was deleted. ${HOW_TO.recorderDeleted}`, subject: RECORDER }],
        plan: [],
      });
    });

    it('cannot inspect a recorder event that names no recorder', () => {
      const event = loadEvent('config/StopConfigurationRecorder-stopped.json');
      event.detail.requestParameters = {};
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the StopConfigurationRecorder record names no configuration recorder (requestParameters.configurationRecorderName)', severity: 'high' });
    });

    it('alerts on DisableMacie (critical) and on a paused Macie session (high), planning nothing', () => {
      expect(evaluate(loadEvent('macie2/DisableMacie-disabled.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'Macie disabled in us-east-1',
        resources: [MACIE],
        findings: [{ code: 'macie-disabled', severity: 'critical', message: `Macie was disabled in us-east-1. ${HOW_TO.macieDisabled}`, subject: MACIE }],
        plan: [],
      });
      expect(evaluate(loadEvent('macie2/UpdateMacieSession-paused.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'Macie suspended in us-east-1 (status PAUSED)',
        resources: [MACIE],
        findings: [{ code: 'macie-suspended', severity: 'high', message: `Macie was suspended in us-east-1 (status PAUSED). ${HOW_TO.macieSuspended}`, subject: MACIE }],
        plan: [],
      });
    });

    it('passes UpdateMacieSession that enables Macie or only changes its settings', () => {
      const settingsOnly = loadEvent('macie2/UpdateMacieSession-enabled-compliant.json');
      settingsOnly.detail.requestParameters = { findingPublishingFrequency: 'ONE_HOUR' };
      expect(evaluate(loadEvent('macie2/UpdateMacieSession-enabled-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: "UpdateMacieSession sets Macie's status to ENABLED",
        resources: [MACIE],
      });
      expect(evaluate(settingsOnly)).toStrictEqual({ kind: 'compliant', summary: 'UpdateMacieSession changes settings only (no status in the request)', resources: [MACIE] });
    });
  });

  describe('the engine around it', () => {
    const decideOn = (name: string, config: unknown = {}) =>
      decide(loadEvent(name), detectorsRules[0]!, { config: parseConfig(config, detectorsRules), env: {}, facts: offlineFacts, now: NOW });

    it('never acts on a failed call: each recorded failure is skipped before the rule runs', async () => {
      for (const name of [
        'guardduty/UpdateDetector-failed-access-denied.json',
        'securityhub/DisableSecurityHub-failed-access-denied.json',
        'config/StopConfigurationRecorder-failed-no-such-recorder.json',
        'macie2/DisableMacie-failed-access-denied.json',
      ]) {
        const { verdict } = await decideOn(name);
        expect(verdict, name).toMatchObject({ kind: 'skipped', cause: 'failed-call' });
      }
    });

    it('honours a config exemption naming the detector id, and no longer one naming the recorder after its end date', async () => {
      const exemptions = {
        exemptions: [
          { resource: DETECTOR, rules: ['detector-disabled'], reason: 'sandbox account, ticket SEC-7', expires: '2025-12-31' },
          { resource: 'default', reason: 'migration', expires: '2025-01-01' },
        ],
      };
      const detector = await decideOn('guardduty/UpdateDetector-suspended.json', exemptions);
      const recorder = await decideOn('config/StopConfigurationRecorder-stopped.json', exemptions);
      expect(detector.verdict).toMatchObject({ kind: 'exempt', reason: `${DETECTOR_ARN} is exempt in the config until 2025-12-31: sandbox account, ticket SEC-7` });
      expect(recorder.verdict.kind).toBe('violation');
    });
  });

  describe('probes', () => {
    const detector = { detector: DETECTOR };

    it('GetDetector: DISABLED is needed, ENABLED is done, anything else cannot be judged', () => {
      expect(detectorStatusProbe.judge({ Status: 'DISABLED', ServiceRole: 'r' }, detector)).toStrictEqual({ state: 'needed', evidence: `GuardDuty detector ${DETECTOR} is suspended (Status DISABLED)` });
      expect(detectorStatusProbe.judge({ Status: 'ENABLED', ServiceRole: 'r' }, detector)).toStrictEqual({ state: 'done', evidence: `GuardDuty detector ${DETECTOR} is enabled (Status ENABLED)` });
      expect(() => detectorStatusProbe.judge({}, detector)).toThrow('GetDetector answered with Status undefined, neither ENABLED nor DISABLED');
    });

    it('GetDetector: BadRequestException (an unknown id, or any malformed request) is not read as "deleted"', () => {
      expect(detectorStatusProbe.notFoundCodes).toBeUndefined();
    });

    it('DescribeConfigurationRecorderStatus: recording false is needed, true is done, a deleted recorder is changed', () => {
      const recorder = { recorder: 'default' };
      const status = (recording: boolean) => ({ ConfigurationRecordersStatus: [{ name: 'other', recording: !recording }, { name: 'default', recording, lastStatus: 'SUCCESS' }] });
      expect(recorderStatusProbe.judge(status(false), recorder)).toStrictEqual({ state: 'needed', evidence: 'configuration recorder default is not recording (recording false)' });
      expect(recorderStatusProbe.judge(status(true), recorder)).toStrictEqual({ state: 'done', evidence: 'configuration recorder default is recording (recording true)' });
      expect(recorderStatusProbe.notFoundCodes).toStrictEqual(['NoSuchConfigurationRecorderException']);
      expect(recorderStatusProbe.judge(null, recorder, 'NoSuchConfigurationRecorderException')).toStrictEqual({
        state: 'changed',
        evidence:
          'configuration recorder default no longer exists (NoSuchConfigurationRecorderException): it was deleted after this event, and its DeleteConfigurationRecorder event is judged on its own; nothing started',
      });
      expect(() => recorderStatusProbe.judge({ ConfigurationRecordersStatus: [{ name: 'other', recording: false }] }, recorder)).toThrow(
        'DescribeConfigurationRecorderStatus answered without the recording state of recorder default',
      );
    });
  });
});
