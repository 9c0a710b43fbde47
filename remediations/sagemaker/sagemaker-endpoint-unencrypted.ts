/**
 * sagemaker-endpoint-unencrypted: a SageMaker endpoint configuration whose
 * storage volume or captured data is not encrypted with a KMS key. `notify` by default.
 *
 * Triggers: `CreateEndpointConfig`. Violations, one finding each:
 * - no `KmsKeyId` for the ML storage volume of instance-based variants
 *   (`ProductionVariants[]`, `ShadowProductionVariants[]`). Not a violation
 *   when a variant runs on an instance type with local NVMe instance storage:
 *   that storage is encrypted by a hardware module on the instance, and the
 *   API reference says a `KmsKeyId` must not be given then (older editions:
 *   the call fails; current ones: the key does not encrypt local storage).
 *   Families with a `d` in their attributes (`ml.m5d`, `ml.g4dn`, `ml.p4d`) are
 *   recognised by name; others with instance storage (`ml.g5`, `ml.p5`,
 *   `ml.trn1`, …) are listed in the `localStorageInstanceFamilies` setting.
 *   Serverless variants have no storage volume to encrypt.
 * - data capture on (`DataCaptureConfig`, whose `EnableCapture` defaults to
 *   true) without `DataCaptureConfig.KmsKeyId`.
 *
 * Changes: nothing, in any mode. An endpoint configuration cannot be changed
 * once created. `notify` (the default) shows the findings only (the engine
 * strips the proposal); `propose` and `remediate` show the proposal.
 * Proposes: `CreateEndpointConfig` of a copy named `<name>-kms` with the same
 * variants and `{"$unknown": …}` placeholders for the key(s) (undo: delete that
 * new copy), then `UpdateEndpoint` of each endpoint that uses the original,
 * whose name is a placeholder too (undo: back to the original configuration).
 * The create reads `DescribeEndpointConfig` of the copy before and after it
 * (`endpointConfigProbe`), the move `DescribeEndpoint` (`endpointProbe`).
 * Never touches: the original configuration (never deleted), endpoints,
 * models, captured data; configurations carrying the exemption tag in their `Tags`.
 * Permissions: none to write (the bot applies nothing);
 * `sagemaker:DescribeEndpointConfig` and `sagemaker:DescribeEndpoint` to read
 * the proposal's preconditions. A person running the proposal needs
 * `sagemaker:CreateEndpointConfig`, `sagemaker:UpdateEndpoint` and the same
 * reads, and the key policies must let the endpoint's role use the keys.
 */
import {
  CreateEndpointConfigCommand,
  DeleteEndpointConfigCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  UpdateEndpointCommand,
  type CreateEndpointConfigInput,
} from '@aws-sdk/client-sagemaker';
import * as z from 'zod/mini';
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason } from '../../engine/exemption.js';
import { checkedBothWays, unknownValue, type Facts, type Finding, type Plan, type RuleContext, type Verdict } from '../../engine/types.js';
import { sagemaker } from '../../rulekit/aws/sagemaker.js';
import { defineProbe, defineProposedWrite, defineRule, defineUndo } from '../../rulekit/index.js';
import { objects, param, requestTags, responseArn, stringParam, toApiShape } from './common.js';

/** SageMaker instance families with NVMe instance storage whose names carry no `d` attribute. */
export const DEFAULT_LOCAL_STORAGE_FAMILIES = ['ml.g5', 'ml.g6', 'ml.g6e', 'ml.gr6', 'ml.p5', 'ml.p5e', 'ml.p5en', 'ml.trn1', 'ml.trn1n', 'ml.trn2'] as const;

export const SagemakerEndpointUnencryptedSettingsSchema = z.strictObject({
  /**
   * Instance families (`ml.g5`) with local NVMe instance storage, for which no
   * storage-volume KMS key is expected. Families with a `d` attribute
   * (`ml.m5d`, `ml.c6id`, `ml.g4dn`, `ml.p4d`) are always recognised.
   */
  localStorageInstanceFamilies: z._default(
    z.array(z.string().check(z.regex(/^ml\.[a-z0-9-]+$/, 'an instance family such as "ml.g5"'))),
    [...DEFAULT_LOCAL_STORAGE_FAMILIES],
  ),
});
type SagemakerEndpointUnencryptedSettings = z.infer<typeof SagemakerEndpointUnencryptedSettingsSchema>;

/** EC2 naming: a `d` among the attributes after the generation means instance store (`m5d`, `c6id`, `g4dn`, `p4de`). */
const D_ATTRIBUTE_FAMILY = /^ml\.[a-z]+\d+[a-z-]*d[a-z-]*$/;

function familyOf(instanceType: string): string {
  return instanceType.split('.').slice(0, 2).join('.').toLowerCase();
}

export function hasLocalStorage(instanceType: string, settings: SagemakerEndpointUnencryptedSettings): boolean {
  const family = familyOf(instanceType);
  return D_ATTRIBUTE_FAMILY.test(family) || settings.localStorageInstanceFamilies.includes(family);
}

function variants(request: unknown): Record<string, unknown>[] {
  return [...objects(param(request, 'ProductionVariants')), ...objects(param(request, 'ShadowProductionVariants'))];
}

function isFalse(value: unknown): boolean {
  return value === false || (typeof value === 'string' && value.toLowerCase() === 'false');
}

/** At most 63 characters: the endpoint configuration name limit. */
export function proposedConfigName(name: string): string {
  const suffix = '-kms';
  return `${name.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

function volumeFinding(request: unknown, settings: SagemakerEndpointUnencryptedSettings): { finding?: Finding; note: string } {
  if (stringParam(request, 'KmsKeyId')) return { note: 'storage volume encrypted with a KMS key' };
  const instanceTypes = variants(request)
    .map((variant) => stringParam(variant, 'InstanceType'))
    .filter((type): type is string => type !== undefined);
  if (instanceTypes.length === 0) return { note: 'no instance-based variant, so no ML storage volume' };
  const local = instanceTypes.filter((type) => hasLocalStorage(type, settings));
  if (local.length > 0) {
    const types = [...new Set(local)];
    return { note: `${types.join(', ')} ${types.length === 1 ? 'has' : 'have'} local NVMe storage, encrypted by the instance's hardware (a KmsKeyId is not accepted for it)` };
  }
  return {
    note: 'no KMS key for the storage volume',
    finding: {
      code: 'volume-not-kms-encrypted',
      severity: 'medium',
      message: `No KmsKeyId: the ML storage volume of ${[...new Set(instanceTypes)].join(', ')} holds the model and is not encrypted with a customer managed KMS key.`,
      subject: 'KmsKeyId',
    },
  };
}

function captureFinding(request: unknown): Finding | undefined {
  const capture = param(request, 'DataCaptureConfig');
  if (typeof capture !== 'object' || capture === null || isFalse(param(capture, 'EnableCapture'))) return undefined;
  if (stringParam(capture, 'KmsKeyId')) return undefined;
  const destination = stringParam(capture, 'DestinationS3Uri');
  return {
    code: 'data-capture-not-kms-encrypted',
    severity: 'medium',
    message: `Data capture is on without DataCaptureConfig.KmsKeyId: every captured request and response${destination ? ` written to ${destination}` : ''} is stored without a customer managed KMS key.`,
    subject: 'DataCaptureConfig.KmsKeyId',
  };
}

/**
 * An endpoint configuration as `DescribeEndpointConfig` answers now: the
 * encrypted copy the proposal creates. Absent → the create is needed; present
 * with every key the findings ask for → done; present without one → changed
 * (a configuration of that name exists and is not the copy: nothing created).
 *
 * SageMaker answers a configuration that does not exist with
 * `ValidationException` ("Could not find endpoint configuration"), a code that
 * names no cause. The probe reads it as "absent" only because both of its uses
 * fail safe: before the create it means "create it" (and SageMaker itself
 * refuses a create that is wrong), after the create it means "not verified".
 */
export const endpointConfigProbe = defineProbe(sagemaker, DescribeEndpointConfigCommand, {
  name: 'endpointConfig',
  notFoundCodes: ['ValidationException'],
  judge(output, expected) {
    const name = String(expected['config']);
    if (output === null) return { state: 'needed', evidence: `${name} does not exist yet` };
    const missing = [
      ...(expected['volumeKey'] === true && !stringParam(output, 'KmsKeyId') ? ['a storage-volume KmsKeyId'] : []),
      ...(expected['captureKey'] === true && !stringParam(output, 'DataCaptureConfig', 'KmsKeyId') ? ['a DataCaptureConfig.KmsKeyId'] : []),
    ];
    if (missing.length === 0) return { state: 'done', evidence: `${name} exists with its KMS key${expected['volumeKey'] === true && expected['captureKey'] === true ? 's' : ''}` };
    return { state: 'changed', evidence: `${name} already exists without ${missing.join(' or ')}: it is not the encrypted copy, and nothing is created (choose another name)` };
  },
});

/**
 * An endpoint as `DescribeEndpoint` answers now: does it still use the
 * unencrypted configuration? Already on the copy (or moving to it,
 * `PendingDeploymentSummary`, while `Updating`) → done; on the original →
 * needed; on a third configuration → changed. A missing endpoint
 * (`ValidationException`, no cause named) fails the read: nothing is guessed.
 */
export const endpointProbe = defineProbe(sagemaker, DescribeEndpointCommand, {
  name: 'endpoint',
  judge(output, expected) {
    const from = String(expected['from']);
    const to = String(expected['to']);
    const endpoint = stringParam(output, 'EndpointName') ?? 'the endpoint';
    const current = stringParam(output, 'EndpointConfigName');
    const pending = stringParam(output, 'PendingDeploymentSummary', 'EndpointConfigName');
    const status = stringParam(output, 'EndpointStatus') ?? 'in an unstated status';
    if (current === to) return { state: 'done', evidence: `${endpoint} uses ${to} (${status})` };
    if (pending === to) return { state: 'done', evidence: `${endpoint} is moving to ${to} (${status}; SageMaker retires the instances of ${current ?? from} once the new ones serve)` };
    if (current === from) return { state: 'needed', evidence: `${endpoint} still uses ${from} (${status})` };
    return { state: 'changed', evidence: `${endpoint} uses ${current ?? 'no configuration'} now, not ${from}: it is not moved` };
  },
});

const createConfig = defineProposedWrite(sagemaker, CreateEndpointConfigCommand);
const moveEndpoint = defineProposedWrite(sagemaker, UpdateEndpointCommand);
const deleteConfig = defineUndo(sagemaker, DeleteEndpointConfigCommand);

/**
 * The request CloudTrail recorded, in the API's shape, read as the input of
 * the same command. The one place this rule takes a recorded shape for an SDK
 * type, on purpose: the copy must carry every member the original had (a
 * typed rebuild would drop members it does not know), and AWS accepted this
 * very CreateEndpointConfig call (the engine skips failed calls before a rule
 * runs), so the members the command requires are there.
 */
function recordedRequest(request: unknown): CreateEndpointConfigInput {
  return toApiShape(request) as CreateEndpointConfigInput;
}

/**
 * A new configuration with the key(s) as placeholders, and the move of its
 * endpoints; the original stays. The create runs only if no configuration of
 * the copy's name exists, and counts as done when the copy exists with its
 * keys; the move runs only while the endpoint still uses the original.
 */
function planProposal(name: string, request: unknown, findings: readonly Finding[]): Plan {
  const newName = proposedConfigName(name);
  const recorded = recordedRequest(request);
  const capture = recorded.DataCaptureConfig;
  const codes = new Set(findings.map((f) => f.code));
  const volumeKey = codes.has('volume-not-kms-encrypted');
  const captureKey = codes.has('data-capture-not-kms-encrypted');
  const endpoints = unknownValue(`an endpoint that uses ${name} (aws sagemaker list-endpoints, then describe-endpoint); one step per endpoint`);
  return [
    createConfig.step(
      {
        ...recorded,
        EndpointConfigName: newName,
        ...(volumeKey ? { KmsKeyId: unknownValue('the ARN of the KMS key for the ML storage volume') } : {}),
        // A capture finding means the request has a DataCaptureConfig.
        ...(captureKey && capture ? { DataCaptureConfig: { ...capture, KmsKeyId: unknownValue('the ARN of the KMS key for captured data') } } : {}),
      },
      {
        reason: `Create ${newName}, a copy of ${name} with KMS encryption: an endpoint configuration cannot be changed. ${name} itself stays.`,
        undo: deleteConfig.undo(
          { EndpointConfigName: newName },
          `Delete ${newName}, the copy this proposal created (only once no endpoint uses it); ${name} was never touched.`,
        ),
        ...checkedBothWays(endpointConfigProbe.check({ EndpointConfigName: newName }, { config: newName, volumeKey, captureKey }, `${newName} does not exist yet`)),
      },
    ),
    moveEndpoint.step(
      { EndpointName: endpoints, EndpointConfigName: newName },
      {
        reason: `Move each endpoint that uses ${name} to ${newName}: SageMaker starts new instances with the new configuration before it retires the old ones. If no endpoint uses ${name} yet, create endpoints with ${newName} instead.`,
        undo: moveEndpoint.undo({ EndpointName: endpoints, EndpointConfigName: name }, `Move the endpoint back to ${name}.`),
        // `stateCheck`, not `endpointProbe.check`: the kit's `check` takes no placeholder, and the endpoint is one a person names.
        ...checkedBothWays(endpointProbe.check({ EndpointName: endpoints }, { from: name, to: newName }, `the endpoint still uses ${name}`)),
      },
    ),
  ];
}

function evaluate(event: CloudTrailEvent, _facts: Facts, context: RuleContext<SagemakerEndpointUnencryptedSettings>): Verdict {
  const { settings } = context;
  const request = event.detail.requestParameters;
  const name = stringParam(request, 'EndpointConfigName');
  if (!name) return { kind: 'skipped', reason: 'the event names no endpoint configuration' };
  const resources = [responseArn(event, 'EndpointConfigArn') ?? name];

  const volume = volumeFinding(request, settings);
  const capture = captureFinding(request);
  const findings = [volume.finding, capture].filter((f): f is Finding => f !== undefined);
  if (findings.length === 0) {
    const captureNote = typeof param(request, 'DataCaptureConfig') === 'object' && param(request, 'DataCaptureConfig') !== null ? '; captured data has a KMS key or capture is off' : '';
    return { kind: 'compliant', summary: `endpoint configuration ${name}: ${volume.note}${captureNote}`, resources };
  }

  const exempt = exemptionReason(requestTags(request), context.config);
  if (exempt) return { kind: 'exempt', reason: `endpoint configuration ${name} is ${exempt}`, resources, findings };

  const what = findings.map((f) => (f.code === 'volume-not-kms-encrypted' ? 'storage volume without a KMS key' : 'data capture without a KMS key')).join(', ');
  return {
    kind: 'violation',
    summary: `endpoint configuration ${name}: ${what}; proposed: a copy with KMS keys, then move its endpoints`,
    resources,
    findings,
    plan: [],
    proposal: planProposal(name, request, findings),
  };
}

export const sagemakerEndpointUnencrypted = defineRule<SagemakerEndpointUnencryptedSettings>({
  id: 'sagemaker-endpoint-unencrypted',
  title: 'SageMaker endpoint configuration without KMS encryption',
  severity: 'medium',
  rationale:
    'An endpoint keeps the model on its ML storage volume and, with data capture, every inference request and response in S3. Without a customer managed KMS key, nobody can revoke access to that data by revoking the key, and key use is not audited.',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'sagemaker.amazonaws.com', eventNames: ['CreateEndpointConfig'] }],
  probes: [endpointConfigProbe, endpointProbe],
  proposals: [createConfig, moveEndpoint, deleteConfig],
  settings: SagemakerEndpointUnencryptedSettingsSchema,
  evaluate,
});

