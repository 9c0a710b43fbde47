/**
 * s3-bucket-encryption-weakened: the default encryption of a bucket holding
 * ML data is no longer SSE-KMS: set to SSE-S3 (AES256), or deleted (S3 then
 * falls back to SSE-S3).
 *
 * Triggers (`s3.amazonaws.com`): `PutBucketEncryption`, whose request
 * CloudTrail records as `ServerSideEncryptionConfiguration.Rule` (one rule, an
 * object; a list when there are several) with `ApplyServerSideEncryptionByDefault
 * {SSEAlgorithm, KMSMasterKeyID}` and `BucketKeyEnabled`, and
 * `DeleteBucketEncryption`. SSE-KMS (`aws:kms`) and DSSE-KMS (`aws:kms:dsse`)
 * are compliant. Which buckets hold ML data is decided as
 * `s3-ml-bucket-tls-not-enforced` decides it (`ml-data.ts`: the `mlDataTag`
 * tag, read with `GetBucketTagging`); when the tags cannot be read the rule
 * does not guess a pass: it reports at medium severity and only proposes.
 *
 * Changes (`remediate`, and only with the `kmsKeyId` setting, a key ARN in the
 * bucket's Region): `PutBucketEncryption` of SSE-KMS with that key, S3 Bucket
 * Key on, the blocked encryption types as the event left them. The key the
 * bucket had before is not in these events: without `kmsKeyId` (or with a key
 * of another Region, or tags unknown) the same call is only proposed, its key
 * a `{"$unknown": …}` placeholder that the executor refuses until a person
 * fills it in. Just before, `GetBucketEncryption`: SSE-KMS already (with the
 * configured key, or any key when none is configured) is "already done"; SSE-KMS
 * with another key, or any setting other than the one the event left, is a
 * newer change (stale: nothing written). Just after, it must show SSE-KMS with
 * that key. The undo puts back exactly what the event set (after a delete:
 * SSE-S3, `AES256` with Bucket Key off, what S3 falls back to).
 * Never touches: objects (existing ones keep their encryption until
 * rewritten), buckets not tagged as ML data, buckets carrying the exemption
 * tag, the blocked encryption types.
 * Permissions: `s3:PutEncryptionConfiguration` (the IAM action of
 * `PutBucketEncryption`) on buckets of the deploying account
 * (`aws:ResourceAccount`), granted only in `remediate` mode with `kmsKeyId`
 * set; reads `s3:GetEncryptionConfiguration` (probe) and `s3:GetBucketTagging`
 * (lookup). S3 does not check the key: its policy must let the bucket's
 * writers and readers use it.
 */
import { GetBucketEncryptionCommand, PutBucketEncryptionCommand, type EncryptionType, type ServerSideEncryption, type ServerSideEncryptionRule } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { field, type CloudTrailEvent } from '../../engine/event.js';
import { checkedBothWays, unknownValue, type Facts, type Finding, type PlanStep, type RuleContext, type Severity, type UnknownValue, type Verdict } from '../../engine/types.js';
import { booleanOf, defineAction, defineProbe, defineProposedWrite, defineRule, defineUndo, partitionOf } from '../../rulekit/index.js';
import { s3 } from '../../rulekit/aws/s3.js';
import { bucketExemption, bucketInput, bucketTagsLookup, bucketTarget } from './common.js';
import { mlDataSelection, MlDataTagSchema } from './ml-data.js';

/** A KMS key ARN: S3 recommends the fully qualified ARN (an alias resolves in the caller's account, a bare id is ambiguous). */
const KMS_KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/[A-Za-z0-9-]{1,128}$/;

export const S3BucketEncryptionSettingsSchema = z.strictObject({
  /** The tag that marks a bucket as holding ML data, as for `s3-ml-bucket-tls-not-enforced`. */
  mlDataTag: MlDataTagSchema,
  /** The customer managed key to restore (a key ARN); without it the fix is only proposed, its key left for a person to fill in. */
  kmsKeyId: z.optional(z.string().check(z.regex(KMS_KEY_ARN, 'a KMS key ARN: arn:<partition>:kms:<region>:<account>:key/<key id>'))),
});
type S3BucketEncryptionSettings = z.infer<typeof S3BucketEncryptionSettingsSchema>;

const KMS_ALGORITHMS: readonly string[] = ['aws:kms', 'aws:kms:dsse'];
const SSE_S3 = 'AES256';

/** What S3 falls back to once a bucket's default encryption configuration is deleted. */
const S3_FALLBACK: ServerSideEncryptionRule = { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: SSE_S3 }, BucketKeyEnabled: false };

/** One default encryption rule, from a CloudTrail request or a `GetBucketEncryption` answer. */
interface Encryption {
  readonly algorithm: string;
  readonly kmsKeyId?: string;
  /** As given; S3 reads an absent flag as off. */
  readonly bucketKey?: boolean;
  /** `BlockedEncryptionTypes.EncryptionType`, as given. */
  readonly blocked?: readonly string[];
}


/** `{EncryptionType: "SSE-C"}` (one XML element, as CloudTrail records it) or `{EncryptionType: ["SSE-C"]}` (the SDK). */
function blockedTypes(value: unknown): readonly string[] | undefined {
  const types = field(value, 'EncryptionType');
  const list = Array.isArray(types) ? types : types === undefined ? [] : [types];
  return value === undefined ? undefined : list.filter((type): type is string => typeof type === 'string');
}

/**
 * The one rule of a `ServerSideEncryptionConfiguration`: `Rule` (CloudTrail,
 * from the XML request) or `Rules` (the SDK). `undefined` unless there is
 * exactly one rule naming an algorithm (S3 accepts one).
 */
function encryptionOf(configuration: unknown): Encryption | undefined {
  const found = field(configuration, 'Rules') ?? field(configuration, 'Rule');
  const rules = Array.isArray(found) ? found : found === undefined ? [] : [found];
  if (rules.length !== 1) return undefined;
  const rule: unknown = rules[0];
  const algorithm = field(rule, 'ApplyServerSideEncryptionByDefault', 'SSEAlgorithm');
  if (typeof algorithm !== 'string' || algorithm.length === 0) return undefined;
  const key = field(rule, 'ApplyServerSideEncryptionByDefault', 'KMSMasterKeyID');
  const bucketKey = booleanOf(field(rule, 'BucketKeyEnabled'));
  const blocked = blockedTypes(field(rule, 'BlockedEncryptionTypes'));
  return {
    algorithm,
    ...(typeof key === 'string' && key.length > 0 ? { kmsKeyId: key } : {}),
    ...(bucketKey !== undefined ? { bucketKey } : {}),
    ...(blocked !== undefined ? { blocked } : {}),
  };
}

/** The rule as `PutBucketEncryption` takes it, with exactly the members given. */
function apiRule(encryption: Encryption): ServerSideEncryptionRule {
  return {
    ApplyServerSideEncryptionByDefault: { SSEAlgorithm: encryption.algorithm as ServerSideEncryption, ...(encryption.kmsKeyId !== undefined ? { KMSMasterKeyID: encryption.kmsKeyId } : {}) },
    ...(encryption.bucketKey !== undefined ? { BucketKeyEnabled: encryption.bucketKey } : {}),
    ...(encryption.blocked !== undefined ? { BlockedEncryptionTypes: { EncryptionType: [...encryption.blocked] as EncryptionType[] } } : {}),
  };
}

function isKms(encryption: Encryption): boolean {
  return KMS_ALGORITHMS.includes(encryption.algorithm);
}

/** Blocked types that block something (`NONE` blocks nothing), in a stable order. */
function blocking(encryption: Encryption): string[] {
  return [...new Set(encryption.blocked ?? [])].filter((type) => type !== 'NONE').sort();
}

/** The same default encryption as far as S3 applies it: algorithm, key, Bucket Key (absent is off), blocked types. */
function sameEncryption(a: Encryption, b: Encryption): boolean {
  return a.algorithm === b.algorithm && a.kmsKeyId === b.kmsKeyId && (a.bucketKey ?? false) === (b.bucketKey ?? false) && blocking(a).join() === blocking(b).join();
}

/** `SSE-S3 (AES256)`, `SSE-KMS (aws:kms) with key …, S3 Bucket Key on`, `no default encryption`. */
function describe(encryption: Encryption | null): string {
  if (encryption === null) return 'no default encryption';
  const names: Readonly<Record<string, string>> = { AES256: 'SSE-S3 (AES256)', 'aws:kms': 'SSE-KMS (aws:kms)', 'aws:kms:dsse': 'DSSE-KMS (aws:kms:dsse)' };
  const name = Object.hasOwn(names, encryption.algorithm) ? names[encryption.algorithm] : `SSEAlgorithm ${encryption.algorithm}`;
  const key = isKms(encryption) ? ` with ${encryption.kmsKeyId !== undefined ? `key ${encryption.kmsKeyId}` : 'the AWS managed key aws/s3'}` : '';
  const blocked = blocking(encryption);
  return `${name ?? encryption.algorithm}${key}${encryption.bucketKey === true ? ', S3 Bucket Key on' : ''}${blocked.length > 0 ? `, ${blocked.join(' and ')} blocked` : ''}`;
}

/** `GetBucketEncryption` may name the key by id where the setting names it by ARN. */
function sameKey(current: string, configured: string): boolean {
  return current === configured || configured.endsWith(`:key/${current}`);
}

/**
 * The bucket's default encryption now (`GetBucketEncryption`), against
 * `expect.kmsKeyId` (the key the step sets; `null` when a person fills it in)
 * and `expect.assumed` (the rule the event left, which the undo puts back):
 * SSE-KMS with that key (any key when `null`) is done; SSE-KMS with another
 * key is a newer choice (changed); otherwise exactly the event's setting is
 * needed, anything else changed.
 */
export const bucketEncryptionProbe = defineProbe(s3, GetBucketEncryptionCommand, {
  name: 'bucketEncryption',
  notFoundCodes: ['ServerSideEncryptionConfigurationNotFoundError', 'NoSuchBucket'],
  judge(output, expect, notFound) {
    const bucket = `bucket ${String(expect['bucket'])}`;
    // A bucket deleted since the event holds no data to encrypt.
    if (notFound === 'NoSuchBucket') return { state: 'done', evidence: `${bucket} no longer exists (NoSuchBucket)` };
    const current = output === null ? null : encryptionOf(field(output, 'ServerSideEncryptionConfiguration'));
    if (current === undefined) throw new Error('GetBucketEncryption answered without exactly one rule naming an SSEAlgorithm');
    const wanted = typeof expect['kmsKeyId'] === 'string' ? expect['kmsKeyId'] : undefined;
    if (current !== null && isKms(current)) {
      if (wanted === undefined || (current.kmsKeyId !== undefined && sameKey(current.kmsKeyId, wanted))) return { state: 'done', evidence: `${bucket} uses ${describe(current)}` };
      return { state: 'changed', evidence: `${bucket} now uses ${describe(current)}, not key ${wanted}: a newer KMS configuration, judged by its own event; nothing written` };
    }
    const assumed = encryptionOf({ Rules: [expect['assumed']] }) ?? null;
    const from = String(expect['assumedFrom']);
    if (current !== null && assumed !== null && sameEncryption(current, assumed)) return { state: 'needed', evidence: `${bucket} still has ${describe(current)}, as ${from}` };
    return { state: 'changed', evidence: `${bucket} now has ${describe(current)}, not ${describe(assumed)} as ${from}: nothing written; the newer setting is judged by its own event` };
  },
});

/** Granted only with a configured key (and in `remediate` mode): without one the function holds no right to change encryption. */
const putEncryption = defineAction(s3, PutBucketEncryptionCommand, { requiresSetting: 'kmsKeyId' });
/** The same call, proposed: a person fills in the key and runs it. */
const proposeEncryption = defineProposedWrite(s3, PutBucketEncryptionCommand);
const restoreEncryption = defineUndo(s3, PutBucketEncryptionCommand);

interface Restore {
  readonly bucket: string;
  readonly owner: string;
  readonly key: string | UnknownValue;
  /** The rule the event left, in the API's shape: what the read before expects and the undo puts back. */
  readonly assumed: ServerSideEncryptionRule;
  readonly deleted: boolean;
  readonly automatic: boolean;
}

function planRestore({ bucket, owner, key, assumed, deleted, automatic }: Restore): PlanStep {
  const ref = bucketInput(bucket, owner);
  const assumedFrom = deleted ? 'S3 left it when the event deleted the configuration' : 'the event set it';
  const input = {
    ...ref,
    ServerSideEncryptionConfiguration: {
      Rules: [
        {
          ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: key },
          BucketKeyEnabled: true,
          ...(assumed.BlockedEncryptionTypes ? { BlockedEncryptionTypes: assumed.BlockedEncryptionTypes } : {}),
        },
      ],
    },
  };
  const check = bucketEncryptionProbe.check(
    ref,
    { bucket, kmsKeyId: typeof key === 'string' ? key : null, assumed, assumedFrom },
    `bucket ${bucket} still has ${describe(encryptionOf({ Rules: [assumed] }) ?? null)}, as ${assumedFrom}`,
  );
  const undo = restoreEncryption.undo(
    { ...ref, ServerSideEncryptionConfiguration: { Rules: [assumed] } },
    deleted
      ? `Put back SSE-S3 (AES256, S3 Bucket Key off) on bucket ${bucket}, the default encryption S3 fell back to when the event deleted the configuration.`
      : `Put the default encryption of bucket ${bucket} back exactly as the event set it.`,
  );
  const restore = `restore SSE-KMS default encryption on bucket ${bucket}, S3 Bucket Key on; objects already written keep their encryption until they are rewritten.`;
  const options = {
    reason: automatic
      ? `With the configured key ${String(key)}, ${restore}`
      : `PROPOSAL, not applied: with the customer managed key the bucket used before (not in the event: fill it in, or set kmsKeyId), ${restore}`,
    undo,
    // A bucket deleted between the read and the write holds nothing to encrypt.
    alreadyDoneCodes: ['NoSuchBucket'],
    ...checkedBothWays(check),
  };
  return automatic ? putEncryption.step(input, options) : proposeEncryption.step(input, options);
}

/** The configured key when it can serve this bucket: S3 does not check the key, and one of another Region or partition would break every write. */
function keyFor(event: CloudTrailEvent, settings: S3BucketEncryptionSettings): string | undefined {
  const arn = settings.kmsKeyId === undefined ? null : KMS_KEY_ARN.exec(settings.kmsKeyId);
  return arn && arn[1] === partitionOf(event) && arn[2] === event.detail.awsRegion ? settings.kmsKeyId : undefined;
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<S3BucketEncryptionSettings>): Verdict {
  const { settings } = context;
  const target = bucketTarget(event);
  if ('skip' in target) return target.skip;
  const { bucket, owner, resources } = target;
  const deleted = event.detail.eventName === 'DeleteBucketEncryption';
  const { tag, mlData, unknownBecause } = mlDataSelection(facts, settings.mlDataTag);
  const notMlData: Verdict = { kind: 'compliant', summary: `bucket ${bucket} is not tagged ${tag}, so this rule does not require SSE-KMS`, resources };
  // A blind spot is as grave as the finding it may hide: high for ML data, medium when the tags are unknown.
  const blindSpot: Severity = mlData === true ? 'high' : 'medium';

  let assumed = S3_FALLBACK;
  let what = 'its default encryption configuration was deleted, so S3 falls back to SSE-S3 (AES256)';
  if (!deleted) {
    const requested = encryptionOf(field(event.detail.requestParameters, 'ServerSideEncryptionConfiguration'));
    if (requested === undefined) {
      return mlData === false ? notMlData : { kind: 'skipped', reason: `the event carries no default encryption rule for bucket ${bucket}`, resources, severity: blindSpot };
    }
    if (isKms(requested)) return { kind: 'compliant', summary: `bucket ${bucket}: default encryption ${describe(requested)}`, resources };
    if (requested.algorithm !== SSE_S3) {
      return mlData === false ? notMlData : { kind: 'skipped', reason: `bucket ${bucket}: default encryption SSEAlgorithm ${requested.algorithm} is not one this rule knows`, resources, severity: blindSpot };
    }
    assumed = apiRule(requested);
    what = `its default encryption was set to ${describe(requested)}`;
  }
  if (mlData === false) return notMlData;

  const consequence = 'new objects are no longer encrypted with a customer managed KMS key, so access to them cannot be revoked or audited through the key';
  const code = deleted ? 'sse-kms-removed' : 'sse-s3-instead-of-kms';
  const finding: Finding =
    mlData === true
      ? { code, severity: 'high', message: `Bucket ${bucket} is tagged ${tag} (ML data), and ${what}: ${consequence}.`, subject: `bucket ${bucket}` }
      : {
          code: `${code}-ml-data-unknown`,
          severity: 'medium',
          message: `For bucket ${bucket}, ${what}, and its tags could not be read (${unknownBecause}): if it holds ML data (tag ${tag}), ${consequence}.`,
          subject: `bucket ${bucket}`,
        };
  const exempt = bucketExemption(bucket, facts, context.config);
  if (exempt) return { kind: 'exempt', reason: exempt, resources, findings: [finding] };

  const configured = keyFor(event, settings);
  const region = event.detail.awsRegion;
  const key =
    configured ??
    unknownValue(
      `the ARN of the customer managed KMS key (in ${region}) bucket ${bucket} used before${settings.kmsKeyId !== undefined ? `; the configured kmsKeyId ${settings.kmsKeyId} is not a key of ${region}` : ''}`,
    );
  // Only a bucket known to hold ML data, with a key that can serve it, is changed automatically.
  const automatic = configured !== undefined && mlData === true;
  const step = planRestore({ bucket, owner, key, assumed, deleted, automatic });
  const change = deleted ? 'default encryption deleted (SSE-S3 now)' : 'default encryption set to SSE-S3';
  return {
    kind: 'violation',
    summary: mlData === true ? `bucket ${bucket} (tagged ${tag}): ${change}` : `bucket ${bucket}: ${change}; whether it holds ML data is unknown (tags unavailable), so it is reported`,
    resources,
    findings: [finding],
    plan: automatic ? [step] : [],
    ...(automatic ? {} : { proposal: [step] }),
  };
}

export const s3BucketEncryptionWeakened = defineRule<S3BucketEncryptionSettings>({
  id: 's3-bucket-encryption-weakened',
  title: 'ML data bucket encryption weakened from SSE-KMS',
  severity: 'high',
  rationale:
    'Training data, features and model artifacts encrypted with a customer managed KMS key can be cut off by disabling the key or its grants, and every decryption is audited; with SSE-S3, anyone allowed to read the bucket reads the data, and there is no key to revoke.',
  triggers: [{ eventSource: 's3.amazonaws.com', eventNames: ['PutBucketEncryption', 'DeleteBucketEncryption'] }],
  actions: [putEncryption],
  proposals: [proposeEncryption],
  lookups: [bucketTagsLookup],
  probes: [bucketEncryptionProbe],
  settings: S3BucketEncryptionSettingsSchema,
  evaluate,
});
