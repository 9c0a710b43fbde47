/**
 * detector-disabled: a detection service turned off. After CloudTrail, the
 * first thing an intruder switches off is what would see them next: GuardDuty
 * (threat detection), Security Hub (findings), AWS Config (the record of every
 * change) and Macie (sensitive data in S3).
 *
 * Triggers, each as CloudTrail records it (request members in lowerCamelCase):
 * - `guardduty.amazonaws.com` `DeleteDetector` (`detectorId`) and
 *   `UpdateDetector` (`detectorId`, `enable`); an update with `enable: true`
 *   or without `enable` is compliant;
 * - `securityhub.amazonaws.com` `DisableSecurityHub` (no request members);
 * - `config.amazonaws.com` `StopConfigurationRecorder` and
 *   `DeleteConfigurationRecorder` (`configurationRecorderName`);
 * - `macie2.amazonaws.com` `DisableMacie` (no request members) and
 *   `UpdateMacieSession` (`status`: `PAUSED` is a violation, `ENABLED` or no
 *   status is compliant).
 * Severity: critical when AWS throws data away with the service (a deleted
 * detector's findings and configuration are lost and cannot be recovered;
 * DisableSecurityHub deletes findings, insights and settings after 90 days and
 * disables every standard; DisableMacie permanently deletes Macie's findings,
 * jobs and settings); high when the service only stops (a suspended detector
 * or Macie session, a stopped recorder) or, for a deleted configuration
 * recorder, when the configuration history already recorded is kept.
 * Changes (`remediate`): `UpdateDetector {DetectorId, Enable: true}` after a
 * suspension (undo `Enable: false`) and `StartConfigurationRecorder
 * {ConfigurationRecorderName}` after a stop (undo `StopConfigurationRecorder`).
 * Each reads the present just before and after: `GetDetector` `Status`
 * (`DISABLED` needed, `ENABLED` done) and `DescribeConfigurationRecorderStatus`
 * `recording` (false needed, true done; a recorder deleted since is stale).
 * Everything else is notify-only: the finding says how to turn the service
 * back on.
 * Never touches: findings, detectors' other settings (protection plans,
 * filters, lists, members), recorders' settings and delivery channels,
 * Security Hub standards and Macie jobs; nothing is deleted or recreated.
 * Exemption: none by tag (no event carries tags, and no cheap tag read
 * exists for all four services); the config's `exemptions` names the
 * resource as the alert does.
 */
import { DescribeConfigurationRecorderStatusCommand, StartConfigurationRecorderCommand, StopConfigurationRecorderCommand } from '@aws-sdk/client-config-service';
import { GetDetectorCommand, UpdateDetectorCommand } from '@aws-sdk/client-guardduty';
import type { CloudTrailEvent } from '../../engine/event.js';
import { checkedBothWays, type Facts, type Finding, type PlanStep, type RuleContext, type Severity, type Verdict } from '../../engine/types.js';
import { configservice } from '../../rulekit/aws/configservice.js';
import { guardduty } from '../../rulekit/aws/guardduty.js';
import { accountOf, booleanOf, defineAction, defineProbe, defineRule, defineUndo, field, partitionOf, text } from '../../rulekit/index.js';

/** `true`/`false`, or the strings some exports turn them into; anything else is "not given". */

/** How to turn each service back on, from the AWS documentation of each API and console. */
export const HOW_TO = {
  detectorDeleted:
    'Its findings and its configuration are lost and cannot be recovered. Turn GuardDuty back on in this Region with CreateDetector (aws guardduty create-detector --enable), or in the GuardDuty console (Get started, Enable GuardDuty); then set again what the old detector held: protection plans (features), finding publishing frequency, filters, trusted IP and threat lists, publishing destinations and member accounts.',
  detectorSuspended:
    'GuardDuty no longer monitors this Region nor generates findings; existing findings are kept. Re-enable it with UpdateDetector (aws guardduty update-detector --detector-id <id> --enable), or in the GuardDuty console (Settings, Re-enable GuardDuty).',
  securityHubDisabled:
    'Every enabled standard is disabled and administrator and member associations are removed; existing findings, insights and settings are deleted after 90 days and cannot be recovered. Turn it back on in this Region with EnableSecurityHub (aws securityhub enable-security-hub), or in the Security Hub console; then enable the standards again (BatchEnableStandards) and restore the administrator or member association.',
  recorderStopped:
    'AWS Config no longer records configuration changes in this Region. Start it again with StartConfigurationRecorder (aws configservice start-configuration-recorder --configuration-recorder-name <name>); a delivery channel must exist.',
  recorderDeleted:
    'AWS Config no longer records configuration changes in this Region until a recorder exists again; the configuration history already recorded is kept. Recreate it with PutConfigurationRecorder (its name, roleARN, recordingGroup and recordingMode are in the PutConfigurationRecorder event that last set them: CloudTrail event history keeps 90 days), then StartConfigurationRecorder; a delivery channel must exist.',
  macieDisabled:
    'Macie permanently deleted its settings and resources in this Region (findings, sensitive data discovery jobs, custom data identifiers, allow lists, findings filters): they cannot be recovered. Turn it back on with EnableMacie (aws macie2 enable-macie), or in the Macie console (Get started, Enable Macie); then recreate its jobs and settings.',
  macieSuspended:
    'Macie stopped every activity in this Region and cancelled all sensitive data discovery jobs, which cannot be resumed or restarted; findings and settings are kept. Re-enable it with UpdateMacieSession (aws macie2 update-macie-session --status ENABLED), or in the Macie console (Settings, Re-enable Macie); then recreate the cancelled jobs.',
} as const;

// ---- GuardDuty ----------------------------------------------------------

/**
 * `GetDetector` now: `DISABLED` (the step is needed) or `ENABLED` (done).
 * GuardDuty answers an id it does not know with `BadRequestException`, the
 * code of every malformed request too, so it is not read as "deleted": the
 * read fails and nothing is sent (a deleted detector has its own event).
 */
export const detectorStatusProbe = defineProbe(guardduty, GetDetectorCommand, {
  name: 'detectorStatus',
  judge(output, expected) {
    const detector = String(expected['detector']);
    const status = field(output, 'Status');
    if (status === 'ENABLED') return { state: 'done', evidence: `GuardDuty detector ${detector} is enabled (Status ENABLED)` };
    if (status === 'DISABLED') return { state: 'needed', evidence: `GuardDuty detector ${detector} is suspended (Status DISABLED)` };
    throw new Error(`GetDetector answered with Status ${JSON.stringify(status)}, neither ENABLED nor DISABLED`);
  },
});

const enableDetector = defineAction(guardduty, UpdateDetectorCommand);
const suspendDetectorUndo = defineUndo(guardduty, UpdateDetectorCommand);

function reEnableDetector(detectorId: string): PlanStep {
  const check = detectorStatusProbe.check({ DetectorId: detectorId }, { detector: detectorId }, `GuardDuty detector ${detectorId} is still suspended`);
  return enableDetector.step(
    { DetectorId: detectorId, Enable: true },
    {
      reason: `Re-enable GuardDuty detector ${detectorId}; nothing else about the detector changes. Activity while it was suspended produced no findings.`,
      undo: suspendDetectorUndo.undo({ DetectorId: detectorId, Enable: false }, `Suspend GuardDuty detector ${detectorId} again, as the event left it.`),
      ...checkedBothWays(check),
    },
  );
}

// ---- AWS Config ---------------------------------------------------------

const NO_SUCH_RECORDER = ['NoSuchConfigurationRecorderException'] as const;

/**
 * `DescribeConfigurationRecorderStatus` for the one recorder now: `recording`
 * false (needed) or true (done); a recorder deleted since the event is
 * `changed` (its DeleteConfigurationRecorder event is judged on its own).
 */
export const recorderStatusProbe = defineProbe(configservice, DescribeConfigurationRecorderStatusCommand, {
  name: 'recorderStatus',
  notFoundCodes: NO_SUCH_RECORDER,
  judge(output, expected) {
    const recorder = String(expected['recorder']);
    if (output === null) {
      return {
        state: 'changed',
        evidence: `configuration recorder ${recorder} no longer exists (NoSuchConfigurationRecorderException): it was deleted after this event, and its DeleteConfigurationRecorder event is judged on its own; nothing started`,
      };
    }
    const statuses = field(output, 'ConfigurationRecordersStatus');
    const status = Array.isArray(statuses) ? (statuses as unknown[]).find((entry) => field(entry, 'name') === recorder) : undefined;
    const recording = field(status, 'recording');
    if (recording === true) return { state: 'done', evidence: `configuration recorder ${recorder} is recording (recording true)` };
    if (recording === false) return { state: 'needed', evidence: `configuration recorder ${recorder} is not recording (recording false)` };
    throw new Error(`DescribeConfigurationRecorderStatus answered without the recording state of recorder ${recorder}`);
  },
});

const startRecorder = defineAction(configservice, StartConfigurationRecorderCommand);
const stopRecorderUndo = defineUndo(configservice, StopConfigurationRecorderCommand);

function restartRecorder(name: string): PlanStep {
  const check = recorderStatusProbe.check({ ConfigurationRecorderNames: [name] }, { recorder: name }, `configuration recorder ${name} is still not recording`);
  return startRecorder.step(
    { ConfigurationRecorderName: name },
    {
      reason: `Start configuration recorder ${name} again; its settings and delivery channel stay as they are. Changes made while it was stopped are not recorded afterwards.`,
      undo: stopRecorderUndo.undo({ ConfigurationRecorderName: name }, `Stop configuration recorder ${name} again, as the event left it.`),
      ...checkedBothWays(check),
    },
  );
}

// ---- The rule -----------------------------------------------------------

/** How grave an event is when the rule cannot inspect it (the record names no detector or recorder). */
const CEILING: Readonly<Record<string, Severity>> = {
  DeleteDetector: 'critical',
  UpdateDetector: 'high',
  StopConfigurationRecorder: 'high',
  DeleteConfigurationRecorder: 'high',
};

interface Place {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

function violation(summary: string, resource: string, finding: Omit<Finding, 'subject'>, plan: PlanStep[] = []): Verdict {
  return { kind: 'violation', summary, resources: [resource], findings: [{ ...finding, subject: resource }], plan };
}

function guardDuty(event: CloudTrailEvent, place: Place): Verdict {
  const name = event.detail.eventName;
  const request = event.detail.requestParameters;
  const enable = name === 'UpdateDetector' ? booleanOf(field(request, 'enable')) : false;
  if (name === 'UpdateDetector' && enable !== false) {
    const detector = text(field(request, 'detectorId'));
    const resources = detector ? [`arn:${place.partition}:guardduty:${place.region}:${place.account}:detector/${detector}`] : [];
    return {
      kind: 'compliant',
      summary: `UpdateDetector ${enable ? 're-enables' : 'leaves the status of'} GuardDuty detector ${detector ?? '(unnamed)'}${enable ? ' (enable true)' : ' (no enable in the request)'}`,
      resources,
    };
  }
  const detector = text(field(request, 'detectorId'));
  if (!detector) return { kind: 'skipped', reason: `the ${name} record names no detector (requestParameters.detectorId)`, severity: CEILING[name] ?? 'high' };
  const arn = `arn:${place.partition}:guardduty:${place.region}:${place.account}:detector/${detector}`;
  if (name === 'DeleteDetector') {
    return violation(`GuardDuty detector ${detector} deleted: GuardDuty is off in ${place.region}`, arn, {
      code: 'detector-deleted',
      severity: 'critical',
      message: `GuardDuty detector ${detector} was deleted: GuardDuty is off in ${place.region}. ${HOW_TO.detectorDeleted}`,
    });
  }
  return violation(
    `GuardDuty detector ${detector} suspended (enable false)`,
    arn,
    { code: 'detector-suspended', severity: 'high', message: `GuardDuty detector ${detector} was suspended (enable false). ${HOW_TO.detectorSuspended}` },
    [reEnableDetector(detector)],
  );
}

function securityHub(place: Place): Verdict {
  const hub = `arn:${place.partition}:securityhub:${place.region}:${place.account}:hub/default`;
  return violation(`Security Hub disabled in ${place.region}`, hub, {
    code: 'security-hub-disabled',
    severity: 'critical',
    message: `Security Hub was disabled in ${place.region}. ${HOW_TO.securityHubDisabled}`,
  });
}

function config(event: CloudTrailEvent, place: Place): Verdict {
  const name = event.detail.eventName;
  const recorder = text(field(event.detail.requestParameters, 'configurationRecorderName'));
  if (!recorder) return { kind: 'skipped', reason: `the ${name} record names no configuration recorder (requestParameters.configurationRecorderName)`, severity: CEILING[name] ?? 'high' };
  // A recorder's ARN carries an id the event does not give: the resource is named like `ebs-encryption-by-default:<account>:<region>`.
  const resource = `configuration-recorder:${place.account}:${place.region}/${recorder}`;
  if (name === 'DeleteConfigurationRecorder') {
    return violation(`configuration recorder ${recorder} deleted: AWS Config records nothing in ${place.region}`, resource, {
      code: 'config-recorder-deleted',
      severity: 'high',
      message: `Configuration recorder ${recorder} was deleted. ${HOW_TO.recorderDeleted}`,
    });
  }
  return violation(
    `configuration recorder ${recorder} stopped`,
    resource,
    { code: 'config-recorder-stopped', severity: 'high', message: `Configuration recorder ${recorder} was stopped. ${HOW_TO.recorderStopped}` },
    [restartRecorder(recorder)],
  );
}

function macie(event: CloudTrailEvent, place: Place): Verdict {
  const resource = `macie:${place.account}:${place.region}`;
  if (event.detail.eventName === 'DisableMacie') {
    return violation(`Macie disabled in ${place.region}`, resource, {
      code: 'macie-disabled',
      severity: 'critical',
      message: `Macie was disabled in ${place.region}. ${HOW_TO.macieDisabled}`,
    });
  }
  const status = text(field(event.detail.requestParameters, 'status'))?.toUpperCase();
  if (status !== 'PAUSED') {
    return { kind: 'compliant', summary: status ? `UpdateMacieSession sets Macie's status to ${status}` : 'UpdateMacieSession changes settings only (no status in the request)', resources: [resource] };
  }
  return violation(`Macie suspended in ${place.region} (status PAUSED)`, resource, {
    code: 'macie-suspended',
    severity: 'high',
    message: `Macie was suspended in ${place.region} (status PAUSED). ${HOW_TO.macieSuspended}`,
  });
}

function evaluate(event: CloudTrailEvent, _facts: Facts, _context: RuleContext): Verdict {
  const place: Place = { partition: partitionOf(event), region: event.detail.awsRegion || event.region, account: accountOf(event) };
  switch (event.detail.eventSource) {
    case 'guardduty.amazonaws.com':
      return guardDuty(event, place);
    case 'securityhub.amazonaws.com':
      return securityHub(place);
    case 'config.amazonaws.com':
      return config(event, place);
    case 'macie2.amazonaws.com':
      return macie(event, place);
    default:
      return { kind: 'skipped', reason: `${event.detail.eventSource} is not a detection service this rule knows` };
  }
}

export const detectorDisabled = defineRule({
  id: 'detector-disabled',
  title: 'Threat detection or configuration recording turned off',
  severity: 'critical',
  rationale:
    'GuardDuty, Security Hub, AWS Config and Macie are how an account notices an intruder; turning them off is the next step after stopping CloudTrail (MITRE ATT&CK T1562.001, Disable or Modify Tools), and what happens while they are off is never detected afterwards.',
  triggers: [
    { eventSource: 'guardduty.amazonaws.com', eventNames: ['DeleteDetector', 'UpdateDetector'] },
    { eventSource: 'securityhub.amazonaws.com', eventNames: ['DisableSecurityHub'] },
    { eventSource: 'config.amazonaws.com', eventNames: ['StopConfigurationRecorder', 'DeleteConfigurationRecorder'] },
    { eventSource: 'macie2.amazonaws.com', eventNames: ['DisableMacie', 'UpdateMacieSession'] },
  ],
  actions: [enableDetector, startRecorder],
  probes: [detectorStatusProbe, recorderStatusProbe],
  evaluate,
});
