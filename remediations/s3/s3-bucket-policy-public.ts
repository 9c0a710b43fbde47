/**
 * s3-bucket-policy-public: a bucket policy lets anyone in (`Principal *`,
 * `{"AWS": "*"}`, an account wildcard, or `NotPrincipal`) with no condition
 * that confines it to known callers.
 *
 * Triggers: `PutBucketPolicy` (`s3.amazonaws.com`; the record carries the
 * policy as a parsed object in `requestParameters.bucketPolicy`). The policy is
 * read by the IAM policy analyzer; a statement counts as confined when it
 * requires a fixed value of one of the condition keys S3 itself treats as
 * making a policy non-public (`aws:SourceVpce`, `aws:PrincipalOrgID`,
 * `aws:SourceIp` with a bounded range, …).
 *
 * Changes: never the policy itself, which applications may depend on. It
 * contains instead: `PutPublicAccessBlock` with `RestrictPublicBuckets` on
 * (the other settings kept as a `GetPublicAccessBlock` lookup shows them), so
 * only AWS services and principals of the bucket's own account can use the
 * public statements. When the lookup is unavailable all four settings are
 * turned on (never fewer than before) and the undo says which value is unknown.
 * The undo restores the block as it was (or deletes it when there was none).
 * Proposes: `PutBucketPolicy` without the open statements (every other
 * statement kept as written), or `DeleteBucketPolicy` when every statement is
 * open; the undo of the proposal puts the event's policy back.
 * Never touches: the bucket policy and ACL, confined statements, other
 * buckets, buckets carrying the exemption tag.
 * Permissions: `s3:PutBucketPublicAccessBlock` on buckets (the IAM action of
 * the API `PutPublicAccessBlock`; `s3:PutPublicAccessBlock` is listed only for
 * the engine's `<service>:<Operation>` naming), and `s3:GetBucketPublicAccessBlock`
 * for the lookup of the current block (likewise listed as `s3:GetPublicAccessBlock`);
 * lookup `s3:GetBucketTagging`.
 */
import { field, type CloudTrailEvent } from '../../engine/event.js';
import { unknownValue, type Facts, type Lookup, type PlanStep, type Rule, type RuleContext, type Verdict } from '../../engine/types.js';
import { accountOf, type BlockConfiguration, blockConfiguration, BUCKET_RESOURCE, bucketExemption, bucketInput, bucketOf, bucketTagsLookup, bucketTarget, FULL_BLOCK } from './common.js';
import { confinedNote, documentText, documentWithout, openFindings, publicGrants, rawDocument, S3_CONFINING_KEYS, statementLabel } from './resource-policy.js';

/** S3's bucket policy size limit. */
export const MAX_BUCKET_POLICY_CHARACTERS = 20_480;

/** The policy the call set: an object in real records, JSON text in some exports. */
export function bucketPolicyOf(event: CloudTrailEvent): string | object | undefined {
  const policy = field(event.detail.requestParameters, 'bucketPolicy');
  return typeof policy === 'string' || (typeof policy === 'object' && policy !== null && !Array.isArray(policy)) ? policy : undefined;
}

/** GetPublicAccessBlock: the bucket's block now, `{configuration}`; `null` when the bucket has none. */
export const publicAccessBlockLookup: Lookup = {
  name: 'publicAccessBlock',
  service: 's3',
  operation: 'GetPublicAccessBlock',
  permission: 's3:GetBucketPublicAccessBlock',
  resource: BUCKET_RESOURCE,
  input: (event) => {
    const bucket = bucketOf(event);
    const owner = accountOf(event);
    return bucket !== undefined && owner !== undefined ? bucketInput(bucket, owner) : undefined;
  },
  select: (output) => {
    const configuration = blockConfiguration(field(output, 'PublicAccessBlockConfiguration'));
    return configuration ? { configuration } : null;
  },
  notFoundCodes: ['NoSuchPublicAccessBlockConfiguration'],
};

type CurrentBlock = { readonly known: true; readonly configuration: BlockConfiguration | undefined } | { readonly known: false; readonly reason: string };

function currentBlock(facts: Facts): CurrentBlock {
  const fact = facts[publicAccessBlockLookup.name];
  if (!fact) return { known: false, reason: 'GetPublicAccessBlock was not looked up' };
  if (fact.status === 'unavailable') return { known: false, reason: fact.reason };
  return { known: true, configuration: blockConfiguration(field(fact.value, 'configuration')) };
}

/**
 * Turns RestrictPublicBuckets on, keeping the other settings as they are;
 * without knowing them, turns all four on, so no setting ever goes off.
 */
export function planContain(bucket: string, owner: string, current: CurrentBlock): PlanStep {
  const ref = bucketInput(bucket, owner);
  const reason = `Turn on RestrictPublicBuckets for bucket ${bucket}: the public statements of its policy then only work for AWS services and principals of the bucket's own account. The policy itself is left for a person (see the proposal).`;
  if (!current.known) {
    return {
      service: 's3',
      operation: 'PutPublicAccessBlock',
      input: { ...ref, PublicAccessBlockConfiguration: FULL_BLOCK },
      reason: `${reason} The bucket's current block could not be read (${current.reason}), so all four settings are turned on rather than risk turning one off.`,
      undo: {
        service: 's3',
        operation: 'PutPublicAccessBlock',
        input: { ...ref, PublicAccessBlockConfiguration: unknownValue(`the public access block of bucket ${bucket} before this change (GetPublicAccessBlock could not be read: ${current.reason}); DeletePublicAccessBlock if it had none`) },
        reason: `Put back the public access block bucket ${bucket} had before.`,
      },
      alreadyDoneCodes: ['NoSuchBucket'],
    };
  }
  const before = current.configuration;
  const after: BlockConfiguration = { ...(before ?? { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }), RestrictPublicBuckets: true };
  return {
    service: 's3',
    operation: 'PutPublicAccessBlock',
    input: { ...ref, PublicAccessBlockConfiguration: after },
    reason,
    undo: before
      ? { service: 's3', operation: 'PutPublicAccessBlock', input: { ...ref, PublicAccessBlockConfiguration: before }, reason: `Put back the public access block bucket ${bucket} had before.` }
      : { service: 's3', operation: 'DeletePublicAccessBlock', input: ref, reason: `Remove the public access block again: bucket ${bucket} had none before.` },
    alreadyDoneCodes: ['NoSuchBucket'],
    ...(before?.RestrictPublicBuckets === true && { alreadyDone: 'GetPublicAccessBlock: RestrictPublicBuckets is already on' }),
  };
}

/** PutBucketPolicy without the open statements, or DeleteBucketPolicy when none would remain. */
export function proposePolicyFix(bucket: string, owner: string, policy: string | object, open: readonly number[]): PlanStep | undefined {
  const ref = bucketInput(bucket, owner);
  const original = documentText(policy);
  const undo = { service: 's3', operation: 'PutBucketPolicy', input: { ...ref, Policy: original }, reason: `Put the policy of bucket ${bucket} back exactly as the event set it.` } as const;
  const which = `statement${open.length > 1 ? 's' : ''} ${open.join(', ')}`;
  // A document that is not plain JSON (URL-encoded, say) cannot be rewritten statement by statement.
  if (rawDocument(policy) === undefined) return undefined;
  const fixed = documentWithout(policy, new Set(open));
  if (fixed !== undefined) {
    return {
      service: 's3',
      operation: 'PutBucketPolicy',
      input: { ...ref, Policy: fixed },
      reason: `PROPOSAL, not applied: replace the policy of bucket ${bucket} with the same document minus ${which}. Check first that no application relies on anonymous access.`,
      undo,
    };
  }
  return {
    service: 's3',
    operation: 'DeleteBucketPolicy',
    input: ref,
    reason: `PROPOSAL, not applied: delete the policy of bucket ${bucket}: every statement in it (${which}) is open to the public.`,
    undo,
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const target = bucketTarget(event);
  if ('skip' in target) return target.skip;
  const { bucket, owner, resources } = target;
  const policy = bucketPolicyOf(event);
  if (policy === undefined) return { kind: 'skipped', reason: `the event carries no policy for bucket ${bucket}`, resources };

  const analysis = publicGrants(policy, { confiningKeys: S3_CONFINING_KEYS, maxPolicyCharacters: MAX_BUCKET_POLICY_CHARACTERS });
  if (!analysis.ok) return { kind: 'skipped', reason: `the policy of bucket ${bucket} could not be analysed: ${analysis.error}`, resources };
  if (analysis.open.length === 0) {
    return {
      kind: 'compliant',
      summary: `bucket ${bucket}: no statement of the policy lets the public in without a confining condition${confinedNote(analysis.confined)}`,
      resources,
    };
  }
  const exempt = bucketExemption(bucket, facts, context.config);
  if (exempt) return { kind: 'exempt', reason: exempt, resources };

  const open = analysis.open.map(({ statement }) => statement.index);
  const proposal = proposePolicyFix(bucket, owner, policy, open);
  const findings = openFindings(analysis.open, 'bucket-policy-public', 'critical', `policy of bucket ${bucket}`);
  return {
    kind: 'violation',
    summary: `bucket ${bucket}: ${analysis.open.map(({ statement }) => statementLabel(statement)).join(', ')} of the policy ${open.length === 1 ? 'lets' : 'let'} the public in; contained with RestrictPublicBuckets, the policy fix is proposed`,
    resources,
    findings,
    plan: [planContain(bucket, owner, currentBlock(facts))],
    ...(proposal && { proposal: [proposal] }),
  };
}

export const s3BucketPolicyPublic = {
  id: 's3-bucket-policy-public',
  title: 'S3 bucket policy open to the public',
  severity: 'critical',
  rationale:
    'A bucket policy statement for Principal * without a condition that confines it (a VPC endpoint, an organization, an address range) hands the bucket to anyone on the internet; public buckets are found by scanners within hours.',
  family: 's3',
  triggers: [{ eventSource: 's3.amazonaws.com', eventNames: ['PutBucketPolicy'] }],
  permissions: [
    { action: 's3:PutBucketPublicAccessBlock', resource: BUCKET_RESOURCE },
    { action: 's3:GetBucketPublicAccessBlock', resource: BUCKET_RESOURCE },
  ],
  lookups: [bucketTagsLookup, publicAccessBlockLookup],
  docs: {
    changes:
      'PutPublicAccessBlock with RestrictPublicBuckets on and the other settings as GetPublicAccessBlock shows them (all four on when it cannot be read), so the public statements only work for AWS services and the bucket owner’s account; the undo restores the previous block or deletes it when there was none.',
    proposes: 'PutBucketPolicy with the open statements removed (every other statement kept as written), or DeleteBucketPolicy when every statement is open; its undo puts the event’s policy back.',
    neverTouches: 'The bucket policy and ACL themselves, statements a condition confines, other buckets, and buckets carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
