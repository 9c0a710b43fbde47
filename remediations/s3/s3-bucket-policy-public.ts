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
 * (the other settings kept as a `GetPublicAccessBlock` lookup shows them).
 * The S3 documentation ("Blocking public access to your Amazon S3 storage")
 * says what that cuts: while the policy is public, only AWS service principals
 * and authorized users of the bucket owner's account can use it; "Amazon S3
 * blocks public and cross-account access derived from any public access point
 * or bucket policy, including non-public delegation to specific accounts", and
 * anonymous calls are rejected. So the policy's statements that a condition
 * confines (`aws:PrincipalOrgID`, `aws:SourceVpce`, …) and its grants to other
 * accounts stop working for those accounts too, until the public statements
 * are gone; the summary and the step name them. When the lookup is
 * unavailable all four settings are turned on (never fewer than before) and
 * the undo says which value is unknown. The undo restores the block as it
 * was (or deletes it when there was none). Just before, `GetPublicAccessBlock`
 * reads the block: `RestrictPublicBuckets` on already is "already done", a
 * block other than the one read when planning is stale; just after, it must
 * show `RestrictPublicBuckets` on.
 * Proposes, alongside: `PutBucketPolicy` without the open statements (every
 * other statement kept as written), or `DeleteBucketPolicy` when every
 * statement is open; the undo of the proposal puts the event's policy back.
 * Once no public statement is left, `RestrictPublicBuckets` no longer applies
 * to the policy and its cross-account grants work again. Before and after,
 * `GetBucketPolicy`: no policy is done, the event's policy is needed, any
 * other policy is stale.
 * Never touches: the bucket policy and ACL, other buckets, buckets carrying
 * the exemption tag.
 * Permissions: `s3:PutBucketPublicAccessBlock` on buckets of the deploying
 * account (`aws:ResourceAccount`; the IAM action of the API
 * `PutPublicAccessBlock`); reads `s3:GetBucketPublicAccessBlock` (lookup and
 * probe) and `s3:GetBucketPolicy` (probe of the proposal); lookup
 * `s3:GetBucketTagging`.
 */
import {
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { field, type CloudTrailEvent } from '../../engine/event.js';
import type { NormalizedStatement } from '../../engine/policy/analyzer.js';
import { checkedBothWays, unknownValue, type Facts, type PlanStep, type RuleContext, type Verdict } from '../../engine/types.js';
import { defineAction, defineLookup, defineProbe, defineRule, defineUndo, readFact } from '../../rulekit/index.js';
import { s3 } from '../../rulekit/aws/s3.js';
import {
  type BlockConfiguration,
  blockConfiguration,
  blockExpectation,
  bucketBlockProbe,
  bucketExemption,
  bucketInput,
  bucketTagsLookup,
  bucketTarget,
  describeBlock,
  eventBucketInput,
  FULL_BLOCK,
  joinAnd,
} from './common.js';
import { confinedNote, documentText, documentWithout, openFindings, publicGrants, rawDocument, S3_CONFINING_KEYS, policyDigest, statementLabel } from './resource-policy.js';

/** S3's bucket policy size limit. */
export const MAX_BUCKET_POLICY_CHARACTERS = 20_480;

/** The policy the call set: an object in real records, JSON text in some exports. */
export function bucketPolicyOf(event: CloudTrailEvent): string | object | undefined {
  const policy = field(event.detail.requestParameters, 'bucketPolicy');
  return typeof policy === 'string' || (typeof policy === 'object' && policy !== null && !Array.isArray(policy)) ? policy : undefined;
}

/** GetPublicAccessBlock: the bucket's block now, `{configuration}`; `null` when the bucket has none. */
const publicAccessBlockLookup = defineLookup(s3, GetPublicAccessBlockCommand, {
  name: 'publicAccessBlock',
  input: eventBucketInput,
  select: (output): { readonly configuration: BlockConfiguration } | null => {
    const configuration = blockConfiguration(field(output, 'PublicAccessBlockConfiguration'));
    return configuration ? { configuration } : null;
  },
  notFoundCodes: ['NoSuchPublicAccessBlockConfiguration'],
});

type CurrentBlock = { readonly known: true; readonly configuration: BlockConfiguration | undefined } | { readonly known: false; readonly reason: string };

function currentBlock(facts: Facts): CurrentBlock {
  const fact = readFact(facts, publicAccessBlockLookup);
  if (!fact) return { known: false, reason: 'GetPublicAccessBlock was not looked up' };
  if (fact.status === 'unavailable') return { known: false, reason: fact.reason };
  return { known: true, configuration: blockConfiguration(fact.value?.configuration) };
}

/** The account a policy principal belongs to: `111122223333`, `cloudfront` for an origin access identity, `*`. */
function principalAccount(value: string): string {
  if (value === '*' || /^\d{12}$/.test(value)) return value;
  return /^arn:[^:]+:(?:iam|sts)::([^:]+):/.exec(value)?.[1] ?? value;
}

/**
 * The statements, other than the open ones, that grant access to another
 * account than the bucket owner: public statements a condition confines, and
 * grants to named accounts. RestrictPublicBuckets cuts them too while the
 * policy stays public. Grants to canonical user ids are left out: whose they
 * are cannot be told from the policy.
 */
function crossAccountStatements(statements: readonly NormalizedStatement[], owner: string, open: ReadonlySet<number>): NormalizedStatement[] {
  return statements.filter((statement) => {
    if (statement.effect !== 'Allow' || open.has(statement.index)) return false;
    if (statement.notPrincipal !== undefined || statement.principal === '*') return true;
    return (statement.principal?.AWS ?? []).some((value) => principalAccount(value) !== owner);
  });
}

function labels(statements: readonly NormalizedStatement[]): string {
  return joinAnd(statements.map(statementLabel));
}

/** What RestrictPublicBuckets cuts besides the open statements, in a sentence. */
function cutText(owner: string, cut: readonly NormalizedStatement[]): string {
  const named = cut.length > 0 ? `, including ${labels(cut)}, which ${cut.length === 1 ? 'is' : 'are'} not public by ${cut.length === 1 ? 'itself' : 'themselves'}` : '';
  return `While the policy has a public statement, S3 then lets only AWS service principals and principals of account ${owner} use it: the open statements stop working for everyone else, anonymous requests are refused, and so is any cross-account access the policy grants${named}.`;
}

/** Granted only on buckets of the deploying account. */
const putBucketBlock = defineAction(s3, PutPublicAccessBlockCommand);
const restoreBucketBlock = defineUndo(s3, PutPublicAccessBlockCommand);
const deleteBucketBlock = defineUndo(s3, DeletePublicAccessBlockCommand);

/**
 * Turns RestrictPublicBuckets on, keeping the other settings as they are;
 * without knowing them, turns all four on, so no setting ever goes off. The
 * read before runs it only while RestrictPublicBuckets is off and (when the
 * input was built from a read) the block is still the one read.
 */
function planContain(bucket: string, owner: string, current: CurrentBlock, cut: readonly NormalizedStatement[] = []): PlanStep {
  const ref = bucketInput(bucket, owner);
  const reason = `Turn on RestrictPublicBuckets for bucket ${bucket}. ${cutText(owner, cut)} The policy itself is left for a person (see the proposal).`;
  if (!current.known) {
    return putBucketBlock.step(
      { ...ref, PublicAccessBlockConfiguration: FULL_BLOCK },
      {
        reason: `${reason} The bucket's current block could not be read (${current.reason}), so all four settings are turned on rather than risk turning one off.`,
        undo: restoreBucketBlock.undo(
          { ...ref, PublicAccessBlockConfiguration: unknownValue(`the public access block of bucket ${bucket} before this change (GetPublicAccessBlock could not be read: ${current.reason}); DeletePublicAccessBlock if it had none`) },
          `Put back the public access block bucket ${bucket} had before.`,
        ),
        alreadyDoneCodes: ['NoSuchBucket'],
        // All four on never turns a setting off, whatever the block is now: only RestrictPublicBuckets decides.
        ...checkedBothWays(bucketBlockProbe.check(ref, blockExpectation(`bucket ${bucket}`, ['RestrictPublicBuckets']), `bucket ${bucket} still has RestrictPublicBuckets off`)),
      },
    );
  }
  const before = current.configuration;
  const after: BlockConfiguration = { ...(before ?? { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }), RestrictPublicBuckets: true };
  return putBucketBlock.step(
    { ...ref, PublicAccessBlockConfiguration: after },
    {
      reason,
      undo: before
        ? restoreBucketBlock.undo({ ...ref, PublicAccessBlockConfiguration: before }, `Put back the public access block bucket ${bucket} had before.`)
        : deleteBucketBlock.undo(ref, `Remove the public access block again: bucket ${bucket} had none before.`),
      alreadyDoneCodes: ['NoSuchBucket'],
      ...checkedBothWays(
        bucketBlockProbe.check(
          ref,
          blockExpectation(`bucket ${bucket}`, ['RestrictPublicBuckets'], { block: before ?? null, from: 'read when the event was judged' }),
          `bucket ${bucket} still has ${describeBlock(before ?? null)}, as read when the event was judged`,
        ),
      ),
    },
  );
}

/**
 * The bucket's policy now (`GetBucketPolicy`), against the one the event set
 * (`document`) and the proposed one (`fixed`), both as `policyDigest`s: no
 * policy (or no bucket) is done, so is the proposed document; the event's
 * document is needed; any other is a newer policy, judged by its own event.
 */
export const bucketPolicyProbe = defineProbe(s3, GetBucketPolicyCommand, {
  name: 'bucketPolicy',
  notFoundCodes: ['NoSuchBucketPolicy', 'NoSuchBucket'],
  judge(output, expect) {
    const bucket = String(expect['bucket']);
    if (output === null) return { state: 'done', evidence: `bucket ${bucket} has no bucket policy now` };
    const policy = field(output, 'Policy');
    if (typeof policy !== 'string') throw new Error('GetBucketPolicy answered without a Policy');
    const digest = policyDigest(policy, MAX_BUCKET_POLICY_CHARACTERS);
    if (digest !== undefined && digest === expect['fixed']) {
      return { state: 'done', evidence: `the policy of bucket ${bucket} is the proposed one, without its open statements` };
    }
    if (digest !== undefined && digest === expect['document']) {
      return { state: 'needed', evidence: `the policy of bucket ${bucket} is still the one this event set` };
    }
    return { state: 'changed', evidence: `the policy of bucket ${bucket} is no longer the one this event set: nothing written; the newer policy is judged by its own event` };
  },
});

/**
 * The proposed writes: a person runs them, the function is never granted
 * them. The kit has no builder for a proposed step, so each call is declared
 * as an undo is (its input typed, no grant) and the step's checks are added.
 */
const proposedPolicyPut = defineUndo(s3, PutBucketPolicyCommand);
const proposedPolicyDelete = defineUndo(s3, DeleteBucketPolicyCommand);
const restoreBucketPolicy = defineUndo(s3, PutBucketPolicyCommand);

/**
 * PutBucketPolicy without the open statements, or DeleteBucketPolicy when
 * none would remain; read before and after with `GetBucketPolicy`.
 */
function proposePolicyFix(bucket: string, owner: string, policy: string | object, open: readonly number[], cut: readonly NormalizedStatement[] = []): PlanStep | undefined {
  const ref = bucketInput(bucket, owner);
  const original = documentText(policy);
  const undo = restoreBucketPolicy.undo({ ...ref, Policy: original }, `Put the policy of bucket ${bucket} back exactly as the event set it.`);
  const which = `statement${open.length > 1 ? 's' : ''} ${open.join(', ')}`;
  // A document that is not plain JSON (URL-encoded, say) cannot be rewritten statement by statement.
  if (rawDocument(policy) === undefined) return undefined;
  const fixed = documentWithout(policy, new Set(open));
  const digests = {
    document: policyDigest(policy, MAX_BUCKET_POLICY_CHARACTERS) ?? null,
    ...(fixed !== undefined ? { fixed: policyDigest(fixed, MAX_BUCKET_POLICY_CHARACTERS) ?? null } : {}),
  };
  const check = bucketPolicyProbe.check(ref, { bucket, ...digests }, `the policy of bucket ${bucket} is still the one this event set`);
  const reopened = cut.length > 0 ? ` The policy is then no longer public, so RestrictPublicBuckets stops restricting it and the cross-account access of ${labels(cut)} works again; the block itself stays on.` : '';
  const proposed =
    fixed !== undefined
      ? proposedPolicyPut.undo(
          { ...ref, Policy: fixed },
          `PROPOSAL, not applied: replace the policy of bucket ${bucket} with the same document minus ${which}. Check first that no application relies on anonymous access.${reopened}`,
        )
      : proposedPolicyDelete.undo(ref, `PROPOSAL, not applied: delete the policy of bucket ${bucket}: every statement in it (${which}) is open to the public.`);
  return { ...proposed, undo, alreadyDoneCodes: ['NoSuchBucket'], ...checkedBothWays(check) };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const target = bucketTarget(event);
  if ('skip' in target) return target.skip;
  const { bucket, owner, resources } = target;
  const policy = bucketPolicyOf(event);
  if (policy === undefined) return { kind: 'skipped', reason: `the event carries no policy for bucket ${bucket}`, resources, severity: 'high' };

  const analysis = publicGrants(policy, { confiningKeys: S3_CONFINING_KEYS, maxPolicyCharacters: MAX_BUCKET_POLICY_CHARACTERS });
  if (!analysis.ok) return { kind: 'skipped', reason: `the policy of bucket ${bucket} could not be analysed: ${analysis.error}`, resources, severity: 'high' };
  if (analysis.open.length === 0) {
    return {
      kind: 'compliant',
      summary: `bucket ${bucket}: no statement of the policy lets the public in without a confining condition${confinedNote(analysis.confined)}`,
      resources,
    };
  }
  const findings = openFindings(analysis.open, 'bucket-policy-public', 'critical', `policy of bucket ${bucket}`);
  const exempt = bucketExemption(bucket, facts, context.config);
  if (exempt) return { kind: 'exempt', reason: exempt, resources, findings };

  const open = analysis.open.map(({ statement }) => statement.index);
  const cut = crossAccountStatements(analysis.statements, owner, new Set(open));
  const proposal = proposePolicyFix(bucket, owner, policy, open, cut);
  const cuts = cut.length > 0 ? `, which until then also cuts the cross-account access of ${labels(cut)}` : ` (until then only AWS services and account ${owner} can use the policy)`;
  return {
    kind: 'violation',
    summary: `bucket ${bucket}: ${labels(analysis.open.map(({ statement }) => statement))} of the policy ${open.length === 1 ? 'lets' : 'let'} the public in; contained with RestrictPublicBuckets${cuts}; ${proposal ? 'the statement-level fix is proposed' : 'the policy is not plain JSON, so the fix is left to a person'}`,
    resources,
    findings,
    plan: [planContain(bucket, owner, currentBlock(facts), cut)],
    ...(proposal && { proposal: [proposal] }),
  };
}

export const s3BucketPolicyPublic = defineRule({
  id: 's3-bucket-policy-public',
  title: 'S3 bucket policy open to the public',
  severity: 'critical',
  rationale:
    'A bucket policy statement for Principal * without a condition that confines it (a VPC endpoint, an organization, an address range) hands the bucket to anyone on the internet; public buckets are found by scanners within hours.',
  triggers: [{ eventSource: 's3.amazonaws.com', eventNames: ['PutBucketPolicy'] }],
  actions: [putBucketBlock],
  lookups: [bucketTagsLookup, publicAccessBlockLookup],
  probes: [bucketBlockProbe, bucketPolicyProbe],
  evaluate,
});
