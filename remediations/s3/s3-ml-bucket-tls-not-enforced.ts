/**
 * s3-ml-bucket-tls-not-enforced: a bucket tagged as holding ML data has no
 * bucket policy statement that denies requests made without TLS.
 *
 * Triggers: `PutBucketPolicy` whose policy has no such statement, and
 * `DeleteBucketPolicy` (which removes any such statement), from
 * `s3.amazonaws.com`. A statement enforces TLS when it is a Deny for everyone
 * (`Principal *`), covers at least `s3:GetObject` and `s3:PutObject` on the
 * bucket's objects, and applies when `aws:SecureTransport` is `false` (`Bool`
 * or `BoolIfExists`). Which buckets hold ML data is read from their tags
 * (`GetBucketTagging`; the tag is configurable, by default
 * `data-classification=ml`, its value compared case-insensitively). When the
 * tags cannot be read (offline replay, lookup denied), the rule does not guess
 * a pass: it reports the missing statement and says the tags were unknown.
 *
 * Changes: nothing automatically: a bucket policy is the application's.
 * Proposes: `PutBucketPolicy` with the event's statements kept as written plus
 * a Deny of `s3:*` on the bucket and its objects when `aws:SecureTransport` is
 * `false` (a policy of that one statement after a `DeleteBucketPolicy`). Its
 * undo puts the event's policy back (or deletes the policy again). Before and
 * after, `GetBucketPolicy`: a policy that enforces TLS is done; the event's
 * policy (or, after a delete, no policy) is needed; anything else is a newer
 * policy, judged by its own event (stale).
 * Never touches: the bucket policy (only proposed), buckets not tagged as ML
 * data, buckets carrying the exemption tag.
 * Permissions: none to apply; read `s3:GetBucketPolicy` (probe of the
 * proposal), lookup `s3:GetBucketTagging`.
 */
import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import type { CloudTrailEvent } from '../../engine/event.js';
import { globToRegExp } from '../../engine/glob.js';
import { field } from '../../engine/event.js';
import { actionMatches, parsePolicyDocument, type NormalizedStatement } from '../../engine/policy/analyzer.js';
import { checkedBothWays, type Facts, type Finding, type PlanStep, type RuleContext, type Severity, type Verdict } from '../../engine/types.js';
import { defineProbe, defineRule, defineUndo, partitionOf } from '../../rulekit/index.js';
import { s3 } from '../../rulekit/aws/s3.js';
import { bucketExemption, bucketInput, bucketTagsLookup, bucketTarget } from './common.js';
import { mlDataSelection, MlDataTagSchema } from './ml-data.js';
import { bucketPolicyOf, MAX_BUCKET_POLICY_CHARACTERS } from './s3-bucket-policy-public.js';
import { documentText, documentWith, policyDigest, rawDocument, statementLabel } from './resource-policy.js';

export const S3MlBucketTlsSettingsSchema = z.strictObject({
  /** The tag that marks a bucket as holding ML data (training sets, features, model artifacts). */
  mlDataTag: MlDataTagSchema,
});
type S3MlBucketTlsSettings = z.infer<typeof S3MlBucketTlsSettingsSchema>;

const SECURE_TRANSPORT = 'aws:securetransport';

/** Whether the statement denies every caller any object read or write made without TLS. */
function enforcesTls(statement: NormalizedStatement, bucket: string, partition: string): boolean {
  if (statement.effect !== 'Deny') return false;
  const everyone = statement.principal === '*' || (statement.principal?.AWS ?? []).includes('*');
  if (!everyone) return false;
  const covers = (action: string) =>
    statement.actions ? statement.actions.some((pattern) => actionMatches(pattern, action)) : !(statement.notActions ?? []).some((pattern) => actionMatches(pattern, action));
  if (!covers('s3:GetObject') || !covers('s3:PutObject')) return false;
  const object = `arn:${partition}:s3:::${bucket}/any/object`;
  if (!(statement.resources ?? []).some((resource) => globToRegExp(resource).test(object))) return false;
  return Object.entries(statement.condition ?? {}).some(
    ([operator, keys]) =>
      /^Bool(IfExists)?$/i.test(operator) &&
      Object.entries(keys).some(([key, values]) => key.toLowerCase() === SECURE_TRANSPORT && values.some((value) => value.toLowerCase() === 'false')),
  );
}

/** The statement the proposal adds: deny everything on the bucket and its objects without TLS. */
function tlsDenyStatement(bucket: string, partition: string, sid: string): Record<string, unknown> {
  return {
    Sid: sid,
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: [`arn:${partition}:s3:::${bucket}`, `arn:${partition}:s3:::${bucket}/*`],
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  };
}

function unusedSid(statements: readonly NormalizedStatement[]): string {
  const taken = new Set(statements.map((statement) => statement.sid));
  let sid = 'DenyInsecureTransport';
  for (let n = 2; taken.has(sid); n++) sid = `DenyInsecureTransport${n}`;
  return sid;
}

/**
 * The bucket's policy now (`GetBucketPolicy`): one that enforces TLS is done;
 * the policy the event left (`document`, its `policyDigest`, or `null`: no
 * policy after a delete) is needed; anything else is a newer policy, judged
 * by its own event.
 */
export const tlsPolicyProbe = defineProbe(s3, GetBucketPolicyCommand, {
  name: 'bucketPolicyTls',
  notFoundCodes: ['NoSuchBucketPolicy'],
  judge(output, expect) {
    const bucket = String(expect['bucket']);
    const document = expect['document'];
    if (output === null) {
      return typeof document === 'string'
        ? { state: 'changed', evidence: `bucket ${bucket} has no policy now: the policy this event set was deleted since; nothing written` }
        : { state: 'needed', evidence: `bucket ${bucket} still has no bucket policy, as the event left it` };
    }
    const policy = field(output, 'Policy');
    if (typeof policy !== 'string') throw new Error('GetBucketPolicy answered without a Policy');
    const parsed = parsePolicyDocument(policy, { maxPolicyCharacters: MAX_BUCKET_POLICY_CHARACTERS });
    if (!parsed.ok) throw new Error(`the policy of bucket ${bucket} could not be read: ${parsed.error}`);
    const tls = parsed.document.statements.find((statement) => enforcesTls(statement, bucket, String(expect['partition'])));
    if (tls) return { state: 'done', evidence: `${statementLabel(tls)} of the policy of bucket ${bucket} denies requests made without TLS` };
    if (typeof document === 'string' && policyDigest(policy, MAX_BUCKET_POLICY_CHARACTERS) === document) {
      return { state: 'needed', evidence: `the policy of bucket ${bucket} is still the one this event set, with no TLS deny` };
    }
    return { state: 'changed', evidence: `the policy of bucket ${bucket} is no longer the one this event left: nothing written; the newer policy is judged by its own event` };
  },
});

/**
 * The proposed write: a person runs it, the function is never granted it. The
 * kit has no builder for a proposed step, so the call is declared as an undo
 * is (its input typed, no grant) and the step's checks are added.
 */
const proposedPolicyPut = defineUndo(s3, PutBucketPolicyCommand);
const restoreBucketPolicy = defineUndo(s3, PutBucketPolicyCommand);
const deleteBucketPolicyAgain = defineUndo(s3, DeleteBucketPolicyCommand);

/** PutBucketPolicy with the TLS deny added; the undo restores what the event left. */
function proposeTlsDeny(bucket: string, owner: string, partition: string, policy: string | object | undefined, statements: readonly NormalizedStatement[]): PlanStep | undefined {
  const ref = bucketInput(bucket, owner);
  if (policy !== undefined && rawDocument(policy) === undefined) return undefined;
  const fixed = documentWith(policy, tlsDenyStatement(bucket, partition, unusedSid(statements)));
  if (fixed === undefined) return undefined;
  const check = tlsPolicyProbe.check(
    ref,
    { bucket, partition, document: policy === undefined ? null : (policyDigest(policy, MAX_BUCKET_POLICY_CHARACTERS) ?? null) },
    policy === undefined ? `bucket ${bucket} still has no bucket policy, as the event left it` : `the policy of bucket ${bucket} is still the one this event set`,
  );
  const proposed = proposedPolicyPut.undo(
    { ...ref, Policy: fixed },
    policy === undefined
      ? `PROPOSAL, not applied: give bucket ${bucket} a policy that denies every request made without TLS. The deleted policy is not in the event: merge in any statements it had that are still needed.`
      : `PROPOSAL, not applied: add to the policy of bucket ${bucket} a statement that denies every request made without TLS; every existing statement is kept as written.`,
  );
  const undo =
    policy === undefined
      ? deleteBucketPolicyAgain.undo(ref, `Delete the policy of bucket ${bucket} again, as the event did.`)
      : restoreBucketPolicy.undo({ ...ref, Policy: documentText(policy) }, `Put the policy of bucket ${bucket} back exactly as the event set it.`);
  return { ...proposed, undo, ...checkedBothWays(check) };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<S3MlBucketTlsSettings>): Verdict {
  const { settings } = context;
  const target = bucketTarget(event);
  if ('skip' in target) return target.skip;
  const { bucket, owner, resources } = target;
  const partition = partitionOf(event);
  const deleted = event.detail.eventName === 'DeleteBucketPolicy';

  const { tag, mlData, unknownBecause } = mlDataSelection(facts, settings.mlDataTag);
  const notMlData: Verdict = { kind: 'compliant', summary: `bucket ${bucket} is not tagged ${tag}, so this rule does not require TLS-only access`, resources };
  // A blind spot is as grave as the finding it may hide: high for ML data, medium when the tags are unknown.
  const blindSpot: Severity = mlData === true ? 'high' : 'medium';

  const policy = deleted ? undefined : bucketPolicyOf(event);
  if (!deleted && policy === undefined) {
    return mlData === false ? notMlData : { kind: 'skipped', reason: `the event carries no policy for bucket ${bucket}`, resources, severity: blindSpot };
  }
  let statements: readonly NormalizedStatement[] = [];
  if (policy !== undefined) {
    const parsed = parsePolicyDocument(policy, { maxPolicyCharacters: MAX_BUCKET_POLICY_CHARACTERS });
    if (!parsed.ok) {
      return mlData === false ? notMlData : { kind: 'skipped', reason: `the policy of bucket ${bucket} could not be analysed: ${parsed.error}`, resources, severity: blindSpot };
    }
    statements = parsed.document.statements;
    const tls = statements.find((statement) => enforcesTls(statement, bucket, partition));
    if (tls) return { kind: 'compliant', summary: `bucket ${bucket}: ${statementLabel(tls)} of the policy denies requests made without TLS`, resources };
  }
  if (mlData === false) return notMlData;

  const missing = deleted ? 'the deleted policy took any TLS-only statement with it' : 'the policy has no statement denying requests made without TLS';
  const finding: Finding = mlData !== undefined
    ? {
        code: 'tls-not-enforced',
        severity: 'high',
        message: `Bucket ${bucket} is tagged ${tag} (ML data), and ${missing}: data can travel over plain HTTP.`,
        subject: `bucket ${bucket}`,
      }
    : {
        code: 'tls-not-enforced-ml-data-unknown',
        severity: 'medium',
        message: `For bucket ${bucket}, ${missing}, and its tags could not be read (${unknownBecause}): if it holds ML data (tag ${tag}), data can travel over plain HTTP.`,
        subject: `bucket ${bucket}`,
      };
  const exempt = bucketExemption(bucket, facts, context.config);
  if (exempt) return { kind: 'exempt', reason: exempt, resources, findings: [finding] };
  const proposal = proposeTlsDeny(bucket, owner, partition, policy, statements);
  return {
    kind: 'violation',
    summary: mlData !== undefined
      ? `bucket ${bucket} (tagged ${tag}): ${missing}`
      : `bucket ${bucket}: ${missing}; whether it holds ML data is unknown (tags unavailable), so it is reported`,
    resources,
    findings: [finding],
    plan: [],
    ...(proposal && { proposal: [proposal] }),
  };
}

export const s3MlBucketTlsNotEnforced = defineRule<S3MlBucketTlsSettings>({
  id: 's3-ml-bucket-tls-not-enforced',
  title: 'ML data bucket does not enforce TLS',
  severity: 'high',
  rationale:
    'Training data, features and model artifacts read or written over plain HTTP can be captured or altered in transit; a bucket policy that denies requests without TLS (aws:SecureTransport false) is the only way S3 enforces encryption in transit.',
  triggers: [{ eventSource: 's3.amazonaws.com', eventNames: ['PutBucketPolicy', 'DeleteBucketPolicy'] }],
  lookups: [bucketTagsLookup],
  probes: [tlsPolicyProbe],
  settings: S3MlBucketTlsSettingsSchema,
  evaluate,
});
