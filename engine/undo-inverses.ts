/**
 * The fixed table of undo operations. For each write operation the bot's rules
 * apply, it says which operations may reverse it and which input fields name
 * the resource, so that an undo record (written by a function, read by
 * `remediate undo` with a person's credentials) can hold nothing but the
 * inverse of a step the bot applied, on the same resource.
 *
 * An undo step passes when:
 * - the applied step's `service:Operation` is a key of {@link UNDO_INVERSES}
 *   and the undo's is one of its inverses;
 * - every `resource` field is equal in both inputs (absent in both counts as
 *   equal; at least one is present);
 * - the undo input holds no field outside `resource` and `fields`;
 * - the inverse's `check`, if any, finds nothing wrong (an exact inverse of
 *   values, such as `Add` of exactly what `Remove` removed).
 *
 * The rules' own undo steps are held to this table by
 * `test/undo-inverses.test.ts`, so a rule cannot ship an undo it refuses.
 */
import { isDeepStrictEqual } from 'node:util';
import { iamActionFor } from './iam-actions.js';
import type { Rule, Service, UndoStep } from './types.js';

type Input = Readonly<Record<string, unknown>>;

/** One operation that may reverse an applied one. */
interface Inverse<K extends string = string> {
  /** The undo's `service:Operation`. */
  readonly undo: K;
  /** Input fields that name the resource: equal in the applied step and in its undo. */
  readonly resource: readonly string[];
  /** The other input fields the undo may carry; any field outside these and `resource` is refused. */
  readonly fields: readonly string[];
  /** Why this undo is not the exact inverse of `applied`, or `undefined` when it is. */
  readonly check?: (applied: Input, undo: Input) => string | undefined;
}

function inverse<K extends string>(undo: K, resource: readonly string[], fields: readonly string[] = [], check?: Inverse['check']): Inverse<K> {
  return { undo, resource, fields, ...(check ? { check } : {}) };
}

/** The namespace of the marker tags the bot writes (`remediation:unencrypted`, `remediation:superseded-by`, …). */
const BOT_TAG_PREFIX = 'remediation:';

const DENY_ALL = /^arn:aws(-[a-z]+)*:iam::aws:policy\/AWSDenyAll$/;

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `ModifySnapshotAttribute` / `ModifyImageAttribute`: the undo adds back exactly what the applied step removed, and nothing else. */
function addsBackRemoved(param: string): Inverse['check'] {
  return (applied, undo) => {
    const removed = applied[param];
    const added = undo[param];
    if (!isRecord(removed) || Object.keys(removed).join() !== 'Remove' || !Array.isArray(removed['Remove'])) return `the applied step does not only remove ${param}`;
    if (!isRecord(added) || Object.keys(added).join() !== 'Add') return `the undo does not only add ${param}`;
    return isDeepStrictEqual(added['Add'], removed['Remove']) ? undefined : `the undo adds other ${param} entries than the applied step removed`;
  };
}

/** `AuthorizeSecurityGroupIngress` re-opens what the revoke closed: the same permissions (descriptions aside), or no more ranges than rule ids revoked. */
function reopensRevoked(applied: Input, undo: Input): string | undefined {
  const reopened = undo['IpPermissions'];
  if (!Array.isArray(reopened) || reopened.length === 0) return 'the undo names no IpPermissions';
  if (Array.isArray(applied['IpPermissions'])) {
    return isDeepStrictEqual(withoutDescriptions(reopened), withoutDescriptions(applied['IpPermissions'])) ? undefined : 'the undo opens other IpPermissions than the applied step revoked';
  }
  const ruleIds = applied['SecurityGroupRuleIds'];
  if (!Array.isArray(ruleIds)) return 'the applied step names neither IpPermissions nor SecurityGroupRuleIds';
  const ranges = reopened.reduce<number>((total, permission) => {
    if (!isRecord(permission)) return Number.POSITIVE_INFINITY;
    return total + ['IpRanges', 'Ipv6Ranges', 'PrefixListIds', 'UserIdGroupPairs'].reduce((sum, key) => sum + (Array.isArray(permission[key]) ? permission[key].length : 0), 0);
  }, 0);
  return ranges <= ruleIds.length ? undefined : `the undo opens ${ranges} range(s) for ${ruleIds.length} revoked rule(s)`;
}

function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'Description').map(([key, item]) => [key, withoutDescriptions(item)]));
}

/** `CreateNetworkAclEntry` recreates the one entry the delete removed (same number and direction, the resource fields): one rule, one range. */
function recreatesOneEntry(_applied: Input, undo: Input): string | undefined {
  if (typeof undo['Protocol'] !== 'string' || typeof undo['RuleAction'] !== 'string') return 'the undo names no Protocol or RuleAction';
  const ranges = ['CidrBlock', 'Ipv6CidrBlock'].filter((key) => typeof undo[key] === 'string');
  return ranges.length === 1 ? undefined : 'the undo must name exactly one of CidrBlock and Ipv6CidrBlock';
}

/** `CreateTags` ↔ `DeleteTags`: only the bot's own marker tags. */
function botTagsOnly(applied: Input): string | undefined {
  const tags = applied['Tags'];
  if (!Array.isArray(tags) || tags.length === 0) return 'the step names no tags';
  return tags.every((tag) => isRecord(tag) && typeof tag['Key'] === 'string' && tag['Key'].startsWith(BOT_TAG_PREFIX)) ? undefined : `the bot only writes tags under ${BOT_TAG_PREFIX}`;
}

/** A setting the applied step set to `from` and the undo sets back to `to`. */
function setsBack(field: string, from: unknown, to: unknown): Inverse['check'] {
  return (applied, undo) =>
    applied[field] === from && undo[field] === to ? undefined : `the undo must set ${field} from ${JSON.stringify(from)} back to ${JSON.stringify(to)}`;
}

/** `UpdateTrail`: the undo turns off again exactly settings the applied step turned on. */
function turnsOffWhatWasTurnedOn(applied: Input, undo: Input): string | undefined {
  const flags = Object.keys(undo).filter((key) => key !== 'Name');
  if (flags.length === 0) return 'the undo changes no setting';
  const wrong = flags.filter((key) => undo[key] !== false || applied[key] !== true);
  return wrong.length === 0 ? undefined : `the undo may only set back to false what the applied step set to true, not ${wrong.join(', ')}`;
}

function withMetadataTokens(applied: Input, undo: Input): string | undefined {
  if (applied['HttpTokens'] !== 'required' || undo['HttpTokens'] !== 'optional') return 'the undo may only set HttpTokens from required back to optional';
  return undo['HttpEndpoint'] === applied['HttpEndpoint'] ? undefined : 'the undo must leave HttpEndpoint as the applied step set it';
}

function waitingPeriod(_applied: Input, undo: Input): string | undefined {
  const days = undo['PendingWindowInDays'];
  return days === undefined || (Number.isInteger(days) && typeof days === 'number' && days >= 7 && days <= 30) ? undefined : 'PendingWindowInDays must be 7 to 30';
}

function appliedDenyAll(applied: Input): string | undefined {
  return typeof applied['PolicyArn'] === 'string' && DENY_ALL.test(applied['PolicyArn']) ? undefined : 'the bot attaches no managed policy but AWSDenyAll';
}

/** The one rule of a `PutBucketEncryption` input, or `undefined` when it holds not exactly one. */
function encryptionRule(input: Input): Readonly<Record<string, unknown>> | undefined {
  const configuration = input['ServerSideEncryptionConfiguration'];
  const rules = isRecord(configuration) ? configuration['Rules'] : undefined;
  return Array.isArray(rules) && rules.length === 1 && isRecord(rules[0]) ? rules[0] : undefined;
}

/**
 * `PutBucketEncryption`: the bot only sets SSE-KMS with a named key (in a
 * proposal, possibly a `{$unknown}` a person fills in); the undo puts one
 * default encryption back and leaves the blocked encryption types as they were.
 */
function restoresEncryption(applied: Input, undo: Input): string | undefined {
  const fix = encryptionRule(applied);
  const back = encryptionRule(undo);
  const byDefault = isRecord(fix?.['ApplyServerSideEncryptionByDefault']) ? fix['ApplyServerSideEncryptionByDefault'] : {};
  const key = byDefault['KMSMasterKeyID'];
  const named = (typeof key === 'string' && key.length > 0) || (isRecord(key) && typeof key['$unknown'] === 'string');
  if (byDefault['SSEAlgorithm'] !== 'aws:kms' || !named) return 'the bot sets no default encryption but SSE-KMS with a named key';
  if (!back || !isRecord(back['ApplyServerSideEncryptionByDefault']) || typeof back['ApplyServerSideEncryptionByDefault']['SSEAlgorithm'] !== 'string') return 'the undo names no default encryption';
  return isDeepStrictEqual(back['BlockedEncryptionTypes'], fix?.['BlockedEncryptionTypes']) ? undefined : 'the undo changes the blocked encryption types';
}

/**
 * `DisassociateIamInstanceProfile` names only the association; its undo names
 * the instance and the profile (the read before the step checked that the
 * association held that profile on that instance). It gives back one profile,
 * by ARN or name, and nothing else.
 */
function givesBackProfile(_applied: Input, undo: Input): string | undefined {
  const profile = undo['IamInstanceProfile'];
  if (typeof undo['InstanceId'] !== 'string') return 'the undo names no instance';
  if (!isRecord(profile) || Object.keys(profile).length !== 1 || !['Arn', 'Name'].some((key) => typeof profile[key] === 'string')) return 'the undo names no single instance profile';
  return undefined;
}

const S3_BUCKET = ['Bucket', 'ExpectedBucketOwner'];
const S3_ACL = ['ACL', 'AccessControlPolicy', 'GrantFullControl', 'GrantRead', 'GrantReadACP', 'GrantWrite', 'GrantWriteACP'];

/**
 * Applied `service:Operation` → the operations that may undo it. Only these
 * pairs can ever run from an undo record, and `remediate undo` holds the SDK
 * command of each undo operation here and of no other.
 */
export const UNDO_INVERSES = {
  // Security groups
  'ec2:RevokeSecurityGroupIngress': [inverse('ec2:AuthorizeSecurityGroupIngress', ['GroupId', 'GroupName'], ['IpPermissions'], reopensRevoked)],
  'ec2:DeleteNetworkAclEntry': [
    inverse('ec2:CreateNetworkAclEntry', ['NetworkAclId', 'RuleNumber', 'Egress'], ['Protocol', 'RuleAction', 'CidrBlock', 'Ipv6CidrBlock', 'PortRange', 'IcmpTypeCode'], recreatesOneEntry),
  ],
  // EBS
  'ec2:EnableEbsEncryptionByDefault': [inverse('ec2:DisableEbsEncryptionByDefault', [])],
  'ec2:ModifyEbsDefaultKmsKeyId': [
    inverse('ec2:ModifyEbsDefaultKmsKeyId', [], ['KmsKeyId'], (_applied, undo) => (typeof undo['KmsKeyId'] === 'string' && undo['KmsKeyId'].length > 0 ? undefined : 'the undo names no key')),
    inverse('ec2:ResetEbsDefaultKmsKeyId', []),
  ],
  'ec2:CreateTags': [inverse('ec2:DeleteTags', ['Resources', 'Tags'], [], botTagsOnly)],
  'ec2:StopInstances': [inverse('ec2:StartInstances', ['InstanceIds'])],
  'ec2:StartInstances': [inverse('ec2:StopInstances', ['InstanceIds'])],
  'ec2:DetachVolume': [inverse('ec2:AttachVolume', ['VolumeId', 'InstanceId', 'Device'])],
  'ec2:AttachVolume': [inverse('ec2:DetachVolume', ['VolumeId', 'InstanceId', 'Device'])],
  'ec2:ModifySnapshotAttribute': [inverse('ec2:ModifySnapshotAttribute', ['SnapshotId'], ['CreateVolumePermission'], addsBackRemoved('CreateVolumePermission'))],
  'ec2:ModifyImageAttribute': [inverse('ec2:ModifyImageAttribute', ['ImageId'], ['LaunchPermission'], addsBackRemoved('LaunchPermission'))],
  // Instances
  'ec2:ModifyInstanceMetadataOptions': [inverse('ec2:ModifyInstanceMetadataOptions', ['InstanceId'], ['HttpTokens', 'HttpEndpoint'], withMetadataTokens)],
  // IAM
  'iam:DetachRolePolicy': [inverse('iam:AttachRolePolicy', ['RoleName', 'PolicyArn'])],
  'iam:DetachUserPolicy': [inverse('iam:AttachUserPolicy', ['UserName', 'PolicyArn'])],
  'iam:DetachGroupPolicy': [inverse('iam:AttachGroupPolicy', ['GroupName', 'PolicyArn'])],
  'iam:AttachRolePolicy': [inverse('iam:DetachRolePolicy', ['RoleName', 'PolicyArn'], [], appliedDenyAll)],
  'iam:DeleteRolePolicy': [inverse('iam:PutRolePolicy', ['RoleName', 'PolicyName'], ['PolicyDocument'])],
  'iam:DeleteUserPolicy': [inverse('iam:PutUserPolicy', ['UserName', 'PolicyName'], ['PolicyDocument'])],
  'iam:DeleteGroupPolicy': [inverse('iam:PutGroupPolicy', ['GroupName', 'PolicyName'], ['PolicyDocument'])],
  'iam:SetDefaultPolicyVersion': [inverse('iam:SetDefaultPolicyVersion', ['PolicyArn'], ['VersionId'])],
  'iam:UpdateAssumeRolePolicy': [inverse('iam:UpdateAssumeRolePolicy', ['RoleName'], ['PolicyDocument'])],
  // Credentials
  'iam:UpdateAccessKey': [inverse('iam:UpdateAccessKey', ['AccessKeyId', 'UserName'], ['Status'], setsBack('Status', 'Inactive', 'Active'))],
  // CloudTrail
  'cloudtrail:StartLogging': [inverse('cloudtrail:StopLogging', ['Name'])],
  'cloudtrail:UpdateTrail': [inverse('cloudtrail:UpdateTrail', ['Name'], ['IsMultiRegionTrail', 'EnableLogFileValidation', 'IncludeGlobalServiceEvents'], turnsOffWhatWasTurnedOn)],
  'cloudtrail:PutEventSelectors': [inverse('cloudtrail:PutEventSelectors', ['TrailName'], ['EventSelectors', 'AdvancedEventSelectors'])],
  'cloudtrail:CreateTrail': [inverse('cloudtrail:DeleteTrail', ['Name'])],
  // KMS
  'kms:CancelKeyDeletion': [inverse('kms:ScheduleKeyDeletion', ['KeyId'], ['PendingWindowInDays'], waitingPeriod)],
  'kms:EnableKey': [inverse('kms:DisableKey', ['KeyId'])],
  'kms:EnableKeyRotation': [inverse('kms:DisableKeyRotation', ['KeyId'])],
  'kms:PutKeyPolicy': [inverse('kms:PutKeyPolicy', ['KeyId', 'PolicyName'], ['Policy'])],
  'ec2:DisassociateIamInstanceProfile': [inverse('ec2:AssociateIamInstanceProfile', [], ['InstanceId', 'IamInstanceProfile'], givesBackProfile)],
  // S3
  's3:PutBucketAcl': [inverse('s3:PutBucketAcl', S3_BUCKET, S3_ACL)],
  's3:PutPublicAccessBlock': [inverse('s3:PutPublicAccessBlock', S3_BUCKET, ['PublicAccessBlockConfiguration']), inverse('s3:DeletePublicAccessBlock', S3_BUCKET)],
  's3control:PutPublicAccessBlock': [inverse('s3control:PutPublicAccessBlock', ['AccountId'], ['PublicAccessBlockConfiguration']), inverse('s3control:DeletePublicAccessBlock', ['AccountId'])],
  's3:PutBucketPolicy': [inverse('s3:PutBucketPolicy', S3_BUCKET, ['Policy']), inverse('s3:DeleteBucketPolicy', S3_BUCKET)],
  's3:DeleteBucketPolicy': [inverse('s3:PutBucketPolicy', S3_BUCKET, ['Policy'])],
  's3:PutBucketEncryption': [inverse('s3:PutBucketEncryption', S3_BUCKET, ['ServerSideEncryptionConfiguration'], restoresEncryption)],
  // SageMaker
  'sagemaker:CreateEndpointConfig': [inverse('sagemaker:DeleteEndpointConfig', ['EndpointConfigName'])],
  'sagemaker:UpdateEndpoint': [inverse('sagemaker:UpdateEndpoint', ['EndpointName'], ['EndpointConfigName'])],
  'sagemaker:StopNotebookInstance': [inverse('sagemaker:StartNotebookInstance', ['NotebookInstanceName'])],
  'sagemaker:StartNotebookInstance': [inverse('sagemaker:StopNotebookInstance', ['NotebookInstanceName'])],
  'sagemaker:UpdateNotebookInstance': [inverse('sagemaker:UpdateNotebookInstance', ['NotebookInstanceName'], ['RootAccess'], setsBack('RootAccess', 'Disabled', 'Enabled'))],
  // Detectors (GuardDuty, AWS Config)
  'guardduty:UpdateDetector': [inverse('guardduty:UpdateDetector', ['DetectorId'], ['Enable'], setsBack('Enable', true, false))],
  'configservice:StartConfigurationRecorder': [inverse('configservice:StopConfigurationRecorder', ['ConfigurationRecorderName'])],
} as const satisfies Readonly<Record<string, readonly Inverse[]>>;

/** An applied `service:Operation` the table knows. */
export type AppliedOperation = keyof typeof UNDO_INVERSES;
/** A `service:Operation` that may run as an undo step: the only SDK commands `remediate undo` holds. */
export type UndoOperation = (typeof UNDO_INVERSES)[AppliedOperation][number]['undo'];
/** The services of the undo operations. */
export type UndoService = UndoOperation extends `${infer S}:${string}` ? Extract<S, Service> : never;

const TABLE: Readonly<Record<string, readonly Inverse[] | undefined>> = UNDO_INVERSES;

/** Every undo operation of the table, once each. */
export const UNDO_OPERATIONS: readonly UndoOperation[] = [...new Set(Object.values(UNDO_INVERSES).flatMap((inverses) => inverses.map((entry) => entry.undo)))];

export function isUndoOperation(key: string): key is UndoOperation {
  return (UNDO_OPERATIONS as readonly string[]).includes(key);
}

const stepKey = (step: Pick<UndoStep, 'service' | 'operation'>) => `${step.service}:${step.operation}`;

/**
 * Why `undo` is not the inverse of `applied` on the same resource, or
 * `undefined` when the table allows it.
 */
export function inverseProblem(applied: UndoStep, undo: UndoStep): string | undefined {
  const inverses = TABLE[stepKey(applied)];
  if (!inverses) return `${stepKey(applied)} is not an operation the bot applies with an undo`;
  const spec = inverses.find((entry) => entry.undo === stepKey(undo));
  if (!spec) return `${stepKey(undo)} is not an undo of ${stepKey(applied)} (allowed: ${inverses.map((entry) => entry.undo).join(', ')})`;
  const different = spec.resource.filter((field) => !isDeepStrictEqual(applied.input[field], undo.input[field]));
  if (different.length > 0) return `${stepKey(undo)} names another resource than ${stepKey(applied)} (${different.join(', ')} differ)`;
  if (spec.resource.length > 0 && spec.resource.every((field) => undo.input[field] === undefined)) return `${stepKey(undo)} names no resource (${spec.resource.join(' or ')})`;
  const allowed = new Set([...spec.resource, ...spec.fields]);
  const extra = Object.keys(undo.input).filter((field) => !allowed.has(field));
  if (extra.length > 0) return `${stepKey(undo)} carries input the undo never needs (${extra.join(', ')})`;
  const wrong = spec.check?.(applied.input, undo.input);
  return wrong === undefined ? undefined : `${stepKey(undo)} is not the inverse of ${stepKey(applied)}: ${wrong}`;
}

/**
 * Why a list of undo steps is not the reverse of `applied`, or `undefined`:
 * each undo step must be the inverse of a distinct applied step, the last
 * applied first (the order `undoEntryFor` writes).
 */
export function undoStepsProblem(applied: readonly UndoStep[], undo: readonly UndoStep[]): string | undefined {
  let next = applied.length - 1;
  for (const [index, step] of undo.entries()) {
    let first: string | undefined;
    let match = -1;
    for (let candidate = next; candidate >= 0; candidate -= 1) {
      const problem = inverseProblem(applied[candidate] as UndoStep, step);
      if (problem === undefined) {
        match = candidate;
        break;
      }
      first ??= problem;
    }
    if (match < 0) {
      const reason = first ?? `no applied step is left for it to reverse`;
      return `undo step ${index + 1} (${stepKey(step)}) is not the inverse of a step the bot applied: ${reason}`;
    }
    next = match - 1;
  }
  return undefined;
}

/** The parts of an undo entry the check reads. */
interface CheckedEntry {
  readonly rule: string;
  readonly family: string;
  readonly applied: readonly UndoStep[];
  readonly undo: readonly UndoStep[];
}

/**
 * Why an undo entry read from the record of `family` must not run, or
 * `undefined`: the entry is that family's, names one of its `rules`, every
 * applied step is one that rule is granted, and the undo steps are the
 * inverses of the applied ones.
 */
export function undoEntryProblem(entry: CheckedEntry, family: string, rules: readonly Rule[]): string | undefined {
  if (entry.family !== family) return `it says family ${entry.family}, but it is in the record of family ${family}`;
  const rule = rules.find((candidate) => candidate.id === entry.rule);
  if (!rule || rule.family !== family) return `rule ${entry.rule} is not a rule of family ${family}`;
  const granted = new Set(rule.permissions.map((permission) => permission.action));
  const ungranted = entry.applied.find((step) => !granted.has(iamActionFor(step.service, step.operation)));
  if (ungranted) return `rule ${rule.id} never applies ${stepKey(ungranted)}`;
  return undoStepsProblem(entry.applied, entry.undo);
}
