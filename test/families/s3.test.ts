/**
 * The s3 family with AWS mocked.
 *
 * - The function end to end: every write step is read before (still needed?
 *   already done? changed since the event?) and after (verified?), and the
 *   outcome says which.
 * - The proposals as a person runs them (the executor, with the rule's
 *   probes): the policy fix of s3-bucket-policy-public and the TLS deny of
 *   s3-ml-bucket-tls-not-enforced are each read before (still the event's
 *   policy?) and after (fixed?), against the answers S3 gives:
 *   `NoSuchBucketPolicy` for a bucket without a policy, the policy as JSON
 *   text otherwise.
 */
import {
  DeleteBucketPolicyCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  S3Client,
  S3ServiceException,
  type Grant,
  type Permission,
} from '@aws-sdk/client-s3';
import {
  GetPublicAccessBlockCommand as GetAccountPublicAccessBlockCommand,
  PutPublicAccessBlockCommand as PutAccountPublicAccessBlockCommand,
  S3ControlClient,
  S3ControlServiceException,
} from '@aws-sdk/client-s3-control';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, type CommandTable } from '../../engine/aws.js';
import { field, type CloudTrailEvent } from '../../engine/event.js';
import { executePlan } from '../../engine/executor.js';
import type { Facts, Plan, Rule } from '../../engine/types.js';
import { s3Family } from '../../remediations/s3/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { evaluateRule, familyHandler, TEST_REGION } from '../helpers/rule-harness.js';

const s3 = mockClient(S3Client);
const s3control = mockClient(S3ControlClient);
const sns = mockClient(SNSClient);
const ML = 'ml-training-data-111122223333';
const BUCKET = 'amzn-s3-demo-bucket';
const REF = { Bucket: BUCKET, ExpectedBucketOwner: '111122223333' };
const ML_REF = { Bucket: ML, ExpectedBucketOwner: '111122223333' };
const ALL_ON = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const ALL_OFF = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
const ALLUSERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
const LOG = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
const OWNER_ID = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
const OWNER_GRANT: Grant = { Grantee: { Type: 'CanonicalUser', ID: OWNER_ID }, Permission: 'FULL_CONTROL' };
/** A grant to a predefined S3 group, in the SDK's shape. */
const groupGrant = (uri: string, permission: Permission): Grant => ({ Grantee: { Type: 'Group', URI: uri }, Permission: permission });

/** S3 answers errors with the code as the exception name, as a client fault. */
function s3Error(name: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: {}, message: name });
}

function s3controlError(name: string): S3ControlServiceException {
  return new S3ControlServiceException({ name, $fault: 'client', $metadata: {}, message: name });
}

/** The s3 function as deployed, with every rule in `mode`. */
function s3Handler(mode: 'remediate' | 'propose') {
  return familyHandler(s3Family, { config: { defaultMode: mode } }).handler;
}

function decisions(result: Awaited<ReturnType<ReturnType<typeof s3Handler>>>) {
  return result.status === 'processed' ? result.decisions : [];
}

const inputs = (mock: typeof s3 | typeof s3control, command: Parameters<typeof s3.commandCalls>[0]) => mock.commandCalls(command).map((call) => call.args[0].input);

/** The e-mail text of the n-th alert published. */
function alertText(index = 0): string {
  const message = JSON.parse(String(sns.commandCalls(PublishCommand)[index]?.args[0].input.Message)) as Record<string, string>;
  return message['email'] ?? '';
}

const s3BucketPolicyPublic = registeredRule('s3-bucket-policy-public');
const s3MlBucketTlsNotEnforced = registeredRule('s3-ml-bucket-tls-not-enforced');

/** What a person running a proposal holds: the reads and the proposed writes (the s3 function itself has no policy write). */
const PERSON: CommandTable = {
  clients: { s3: S3Client },
  commands: { 's3:GetBucketPolicy': GetBucketPolicyCommand, 's3:PutBucketPolicy': PutBucketPolicyCommand, 's3:DeleteBucketPolicy': DeleteBucketPolicyCommand },
};
const gateway = createAwsGateway(PERSON, { region: TEST_REGION });
const DEMO_REF = { Bucket: 'amzn-s3-demo-bucket', ExpectedBucketOwner: '111122223333' };

/** The proposal the rule makes for the event, evaluated as decide does. */
function proposalOf(rule: Rule, event: CloudTrailEvent, facts: Facts = {}): Plan {
  const verdict = evaluateRule(rule, event, { facts });
  if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error(`no proposal: ${JSON.stringify(verdict)}`);
  return verdict.proposal;
}

describe('s3 handler', () => {
  beforeEach(() => {
    s3.reset();
    s3control.reset();
    sns.reset();
    s3.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet'));
    s3.on(PutPublicAccessBlockCommand).resolves({});
    s3.on(PutBucketAclCommand).resolves({});
    s3control.on(PutAccountPublicAccessBlockCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  describe('s3-public-access-block-weakened', () => {
    it('reads the bucket block before (still as the event left it) and after (all four on): applied means verified', async () => {
      // Arrange
      s3.on(GetPublicAccessBlockCommand).resolvesOnce({ PublicAccessBlockConfiguration: ALL_OFF }).resolves({ PublicAccessBlockConfiguration: ALL_ON });
      const handler = s3Handler('remediate');
      // Act
      const result = await handler(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'));
      // Assert
      expect(inputs(s3, GetBucketTaggingCommand)).toStrictEqual([REF]);
      expect(inputs(s3, GetPublicAccessBlockCommand)).toStrictEqual([REF, REF]);
      expect(inputs(s3, PutPublicAccessBlockCommand)).toStrictEqual([{ ...REF, PublicAccessBlockConfiguration: ALL_ON }]);
      const order = s3.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);
      expect(order).toStrictEqual(['GetBucketTaggingCommand', 'GetPublicAccessBlockCommand', 'PutPublicAccessBlockCommand', 'GetPublicAccessBlockCommand']);
      expect(decisions(result)).toMatchObject([{ rule: 's3-public-access-block-weakened', verdict: 'violation', outcome: 'applied', execution: 'applied' }]);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    });

    // Issue 13: the bucket and account PutPublicAccessBlock reported `applied` on every re-run.
    it.each([
      {
        level: 'bucket',
        fixture: 's3/PutBucketPublicAccessBlock-all-off.json',
        arrange: () => s3.on(GetPublicAccessBlockCommand).resolvesOnce({ PublicAccessBlockConfiguration: ALL_OFF }).resolves({ PublicAccessBlockConfiguration: ALL_ON }),
        reads: () => inputs(s3, GetPublicAccessBlockCommand),
        writes: () => inputs(s3, PutPublicAccessBlockCommand),
        ref: REF,
      },
      {
        level: 'account',
        fixture: 's3/DeleteAccountPublicAccessBlock-removed-streamalert.json',
        arrange: () =>
          s3control
            .on(GetAccountPublicAccessBlockCommand)
            .rejectsOnce(s3controlError('NoSuchPublicAccessBlockConfiguration'))
            .resolves({ PublicAccessBlockConfiguration: ALL_ON }),
        reads: () => inputs(s3control, GetAccountPublicAccessBlockCommand),
        writes: () => inputs(s3control, PutAccountPublicAccessBlockCommand),
        ref: { AccountId: '123456789123' },
      },
    ])('reports a re-run of the $level block restore already-fixed, with no second write', async ({ fixture, arrange, reads, writes, ref }) => {
      // Arrange
      arrange();
      const handler = s3Handler('remediate');
      const event = loadEvent(fixture);
      // Act
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      // Assert: read, write, read; then a single read that finds all four on.
      expect(reads()).toStrictEqual([ref, ref, ref]);
      expect(writes()).toStrictEqual([{ ...ref, PublicAccessBlockConfiguration: ALL_ON }]);
      expect(decisions(first).map((d) => d.outcome)).toStrictEqual(['applied']);
      expect(decisions(second).map((d) => d.outcome)).toStrictEqual(['already-fixed']);
      expect(alertText(1)).toContain('has all four public access block settings on');
    });

    it('restores the account block through S3 Control, with no bucket call at all', async () => {
      s3control
        .on(GetAccountPublicAccessBlockCommand)
        .rejectsOnce(s3controlError('NoSuchPublicAccessBlockConfiguration'))
        .resolves({ PublicAccessBlockConfiguration: ALL_ON });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/DeleteAccountPublicAccessBlock-removed-streamalert.json'));
      expect(inputs(s3control, PutAccountPublicAccessBlockCommand)).toStrictEqual([{ AccountId: '123456789123', PublicAccessBlockConfiguration: ALL_ON }]);
      expect(inputs(s3control, GetAccountPublicAccessBlockCommand)).toStrictEqual([{ AccountId: '123456789123' }, { AccountId: '123456789123' }]);
      expect(s3.calls()).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ outcome: 'applied' }]);
    });

    it('writes nothing when the block changed since the event (stale), and says what changed', async () => {
      s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { ...ALL_OFF, BlockPublicAcls: true, IgnorePublicAcls: true } });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'));
      expect(inputs(s3, GetPublicAccessBlockCommand)).toStrictEqual([REF]);
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ outcome: 'stale', execution: 'stale' }]);
      expect(alertText()).toContain(
        `bucket ${BUCKET} now has BlockPublicAcls and IgnorePublicAcls on, BlockPublicPolicy and RestrictPublicBuckets off, not all four settings off as the event left it`,
      );
    });

    it('reports unverified when the read after the write does not show all four on', async () => {
      s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: ALL_OFF });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'));
      expect(inputs(s3, PutPublicAccessBlockCommand)).toStrictEqual([{ ...REF, PublicAccessBlockConfiguration: ALL_ON }]);
      expect(inputs(s3, GetPublicAccessBlockCommand)).toStrictEqual([REF, REF]);
      expect(decisions(result)).toMatchObject([{ outcome: 'unverified', execution: 'unverified' }]);
    });

    it('reads a bucket deleted since the event (NoSuchBucket) as already fixed, and writes nothing', async () => {
      s3.on(GetPublicAccessBlockCommand).rejects(s3Error('NoSuchBucket'));
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'));
      expect(inputs(s3, GetPublicAccessBlockCommand)).toStrictEqual([REF]);
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ outcome: 'already-fixed', execution: 'already-fixed' }]);
      expect(alertText()).toContain(`bucket ${BUCKET} no longer exists (NoSuchBucket)`);
    });

    it('writes nothing when the read before fails, and says why', async () => {
      s3.on(GetPublicAccessBlockCommand).rejects(s3Error('AccessDenied'));
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/DeleteBucketPublicAccessBlock-removed-panther.json'));
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ outcome: 'failed', execution: 'failed' }]);
      expect(alertText()).toContain('GetPublicAccessBlock failed: AccessDenied');
    });

    it('reports a denied write as failed with the permission hint', async () => {
      s3.on(GetPublicAccessBlockCommand).rejects(s3Error('NoSuchPublicAccessBlockConfiguration'));
      s3.on(PutPublicAccessBlockCommand).rejects(s3Error('AccessDenied'));
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/DeleteBucketPublicAccessBlock-removed-panther.json'));
      expect(inputs(s3, PutPublicAccessBlockCommand)).toStrictEqual([{ Bucket: 'corporate-documents', ExpectedBucketOwner: '111111111111', PublicAccessBlockConfiguration: ALL_ON }]);
      expect(decisions(result)).toMatchObject([{ outcome: 'failed', execution: 'failed' }]);
      expect(alertText()).toContain('AccessDenied');
      expect(alertText()).toContain('s3:PutBucketPublicAccessBlock');
    });

    it('leaves an exempt bucket alone, reading nothing but its tags', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'remediation:exempt', Value: 'public website' }] });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'));
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(s3.commandCalls(GetPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ verdict: 'exempt', outcome: 'exempt' }]);
      expect(alertText()).toContain('were turned off in the public access block of bucket amzn-s3-demo-bucket');
    });

    it('makes no call at all for a failed call', async () => {
      const handler = s3Handler('remediate');
      await handler(loadEvent('s3/DeleteBucketPublicAccessBlock-failed-access-denied-panther.json'));
      expect(s3.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('s3-bucket-acl-public', () => {
    it('sets a canned public-read bucket back to private once, verified; a second delivery reads it fixed and writes nothing', async () => {
      s3.on(GetBucketAclCommand)
        .resolvesOnce({ Grants: [OWNER_GRANT, groupGrant(ALLUSERS, 'READ')] })
        .resolves({ Grants: [OWNER_GRANT] });
      const handler = s3Handler('remediate');
      const event = loadEvent('s3/PutBucketAcl-canned-public-read.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(inputs(s3, GetBucketAclCommand)).toStrictEqual([REF, REF, REF]);
      expect(inputs(s3, PutBucketAclCommand)).toStrictEqual([{ ...REF, ACL: 'private' }]);
      expect(decisions(first)[0]?.outcome).toBe('applied');
      expect(decisions(second)[0]?.outcome).toBe('already-fixed');
    });

    it('puts the full ACL without its public grants, in the SDK shape, while the ACL is still the event\'s', async () => {
      const eventGrants: Grant[] = [{ Grantee: { Type: 'CanonicalUser', ID: OWNER_ID, DisplayName: 'ml-platform' }, Permission: 'FULL_CONTROL' }, groupGrant(LOG, 'WRITE')];
      s3.on(GetBucketAclCommand)
        .resolvesOnce({
          Grants: [...eventGrants, groupGrant(ALLUSERS, 'READ'), groupGrant(AUTHENTICATED, 'READ')],
        })
        .resolves({ Grants: eventGrants });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketAcl-all-users-and-authenticated-users-read.json'));
      expect(inputs(s3, PutBucketAclCommand)).toStrictEqual([
        { ...ML_REF, AccessControlPolicy: { Grants: eventGrants, Owner: { ID: OWNER_ID, DisplayName: 'ml-platform' } } },
      ]);
      expect(inputs(s3, GetBucketAclCommand)).toStrictEqual([ML_REF, ML_REF]);
      expect(decisions(result)[0]?.outcome).toBe('applied');
    });

    it('writes nothing when the ACL changed since the event (stale, was a silent skip)', async () => {
      s3.on(GetBucketAclCommand).resolves({ Grants: [OWNER_GRANT, groupGrant(ALLUSERS, 'WRITE')] });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketAcl-canned-public-read.json'));
      expect(s3.commandCalls(PutBucketAclCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ verdict: 'violation', outcome: 'stale' }]);
      expect(alertText()).toContain(`the ACL of bucket ${BUCKET} now grants AllUsers WRITE, not AllUsers READ as the event set it`);
    });

    it('reads a bucket that is gone (NoSuchBucket) as already fixed, and writes nothing', async () => {
      s3.on(GetBucketAclCommand).rejects(s3Error('NoSuchBucket'));
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketAcl-canned-public-read.json'));
      expect(inputs(s3, GetBucketAclCommand)).toStrictEqual([REF]);
      expect(s3.commandCalls(PutBucketAclCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ verdict: 'violation', outcome: 'already-fixed' }]);
    });

    it('writes nothing when the ACL cannot be read', async () => {
      s3.on(GetBucketAclCommand).rejects(s3Error('AccessDenied'));
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketAcl-canned-public-read.json'));
      expect(s3.commandCalls(PutBucketAclCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ outcome: 'failed' }]);
      expect(alertText()).toContain('GetBucketAcl failed: AccessDenied');
    });
  });

  describe('s3-bucket-policy-public and s3-ml-bucket-tls-not-enforced', () => {
    const partial = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false };

    it('contains a public policy by turning on only RestrictPublicBuckets, read before and after, and never writes the policy', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'data-classification', Value: 'ml' }] });
      s3.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy'));
      s3.on(GetPublicAccessBlockCommand)
        .resolvesOnce({ PublicAccessBlockConfiguration: partial })
        .resolvesOnce({ PublicAccessBlockConfiguration: partial })
        .resolves({ PublicAccessBlockConfiguration: { ...partial, RestrictPublicBuckets: true } });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json'));
      // The lookup, then the read before and the read after the write.
      expect(inputs(s3, GetPublicAccessBlockCommand)).toStrictEqual([ML_REF, ML_REF, ML_REF]);
      expect(inputs(s3, PutPublicAccessBlockCommand)).toStrictEqual([{ ...ML_REF, PublicAccessBlockConfiguration: { ...partial, RestrictPublicBuckets: true } }]);
      expect(decisions(result).map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([
        ['s3-bucket-policy-public', 'violation', 'applied'],
        ['s3-ml-bucket-tls-not-enforced', 'compliant', 'none'],
      ]);
    });

    it('on a second delivery reads RestrictPublicBuckets on and writes nothing: already-fixed', async () => {
      s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: ALL_ON });
      s3.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy'));
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'));
      expect(inputs(s3, GetPublicAccessBlockCommand)).toHaveLength(2);
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result).find((d) => d.rule === 's3-bucket-policy-public')?.outcome).toBe('already-fixed');
    });

    it('writes nothing when the block changed between the lookup and the read before the write', async () => {
      s3.on(GetPublicAccessBlockCommand).resolvesOnce({ PublicAccessBlockConfiguration: partial }).resolves({ PublicAccessBlockConfiguration: ALL_OFF });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json'));
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result).find((d) => d.rule === 's3-bucket-policy-public')?.outcome).toBe('stale');
    });

    it('keeps RestrictPublicBuckets alone when the bucket has no block (NoSuchPublicAccessBlockConfiguration is a fact, not a gap)', async () => {
      s3.on(GetPublicAccessBlockCommand)
        .rejectsOnce(s3Error('NoSuchPublicAccessBlockConfiguration'))
        .rejectsOnce(s3Error('NoSuchPublicAccessBlockConfiguration'))
        .resolves({ PublicAccessBlockConfiguration: { ...ALL_OFF, RestrictPublicBuckets: true } });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'));
      expect(inputs(s3, PutPublicAccessBlockCommand)).toStrictEqual([
        { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012', PublicAccessBlockConfiguration: { ...ALL_OFF, RestrictPublicBuckets: true } },
      ]);
      expect(decisions(result).find((d) => d.rule === 's3-bucket-policy-public')?.outcome).toBe('applied');
    });

    it('proposes only in propose mode: the reads before say the proposals are still open, and nothing is written', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'data-classification', Value: 'ml' }] });
      s3.on(GetPublicAccessBlockCommand).rejects(s3Error('NoSuchPublicAccessBlockConfiguration'));
      const event = loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json');
      s3.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify(field(event.detail.requestParameters, 'bucketPolicy')) });
      const handler = s3Handler('propose');
      const result = await handler(event);
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      // The containment's read before (the lookup is the first read), and the TLS proposal's read before.
      expect(inputs(s3, GetPublicAccessBlockCommand)).toHaveLength(2);
      expect(inputs(s3, GetBucketPolicyCommand)).toStrictEqual([{ Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012' }]);
      expect(decisions(result).map((d) => d.outcome)).toStrictEqual(['proposed', 'proposed']);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(2);
    });

    it('says a TLS proposal is already fixed when the bucket policy enforces TLS now, in remediate mode too', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'data-classification', Value: 'ml' }] });
      const withDeny = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [`arn:aws:s3:::${ML}`, `arn:aws:s3:::${ML}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      };
      s3.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify(withDeny) });
      const handler = s3Handler('remediate');
      const result = await handler(loadEvent('s3/DeleteBucketPolicy-ml-bucket.json'));
      expect(inputs(s3, GetBucketPolicyCommand)).toStrictEqual([ML_REF]);
      expect(decisions(result)).toMatchObject([{ rule: 's3-ml-bucket-tls-not-enforced', verdict: 'violation', outcome: 'already-fixed' }]);
    });
  });
});

describe('S3 proposals, run by a person', () => {
  beforeEach(() => {
    s3.reset();
    s3.on(PutBucketPolicyCommand).resolves({});
    s3.on(DeleteBucketPolicyCommand).resolves({});
  });

  describe('s3-bucket-policy-public: the statement-level fix', () => {
    const event = loadEvent('s3/PutBucketPolicy-public-beside-org-and-partner-grants.json');
    const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Statement: unknown[] };
    const fixed = JSON.stringify({ ...policy, Statement: policy.Statement.slice(1) });
    const proposal = proposalOf(s3BucketPolicyPublic, event, { publicAccessBlock: { status: 'ok', value: null } });

    it('puts the policy without its public statement while the bucket still holds the event\'s policy, and verifies it', async () => {
      // Arrange: S3 gives the policy back as compact JSON text.
      s3.on(GetBucketPolicyCommand).resolvesOnce({ Policy: JSON.stringify(policy) }).resolves({ Policy: fixed });
      // Act
      const report = await executePlan(proposal, gateway, { probes: s3BucketPolicyPublic.probes });
      // Assert
      expect(inputs(s3, GetBucketPolicyCommand)).toStrictEqual([DEMO_REF, DEMO_REF]);
      expect(inputs(s3, PutBucketPolicyCommand)).toStrictEqual([{ ...DEMO_REF, Policy: fixed }]);
      expect(report.status).toBe('applied');
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'done', evidence: 'the policy of bucket amzn-s3-demo-bucket is the proposed one, without its open statements' });
    });

    it('on a second run reads the proposed policy in place and writes nothing: already-fixed', async () => {
      s3.on(GetBucketPolicyCommand).resolves({ Policy: fixed });
      const report = await executePlan(proposal, gateway, { probes: s3BucketPolicyPublic.probes });
      expect(inputs(s3, GetBucketPolicyCommand)).toStrictEqual([DEMO_REF]);
      expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
      expect(report.status).toBe('already-fixed');
    });

    it('writes nothing over a policy put since the event: stale, with what changed', async () => {
      s3.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify({ Version: '2012-10-17', Statement: [policy.Statement[3]] }) });
      const report = await executePlan(proposal, gateway, { probes: s3BucketPolicyPublic.probes });
      expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
      expect(report.status).toBe('stale');
      expect(report.steps[0]?.precondition?.evidence).toBe(
        'the policy of bucket amzn-s3-demo-bucket is no longer the one this event set: nothing written; the newer policy is judged by its own event',
      );
    });

    it('reports unverified when S3 still answers with the event\'s policy after the put', async () => {
      s3.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify(policy) });
      const report = await executePlan(proposal, gateway, { probes: s3BucketPolicyPublic.probes });
      expect(inputs(s3, PutBucketPolicyCommand)).toHaveLength(1);
      expect(report.status).toBe('unverified');
    });

    it('deletes a policy that is all public only while it is still the event\'s, and verifies it is gone (genuine Panther record)', async () => {
      const panther = loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json');
      const deleteProposal = proposalOf(s3BucketPolicyPublic, panther);
      const ref = { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012' };
      s3.on(GetBucketPolicyCommand)
        .resolvesOnce({ Policy: JSON.stringify(field(panther.detail.requestParameters, 'bucketPolicy')) })
        .rejects(s3Error('NoSuchBucketPolicy'));
      const report = await executePlan(deleteProposal, gateway, { probes: s3BucketPolicyPublic.probes });
      expect(inputs(s3, DeleteBucketPolicyCommand)).toStrictEqual([ref]);
      expect(inputs(s3, GetBucketPolicyCommand)).toStrictEqual([ref, ref]);
      expect(report.status).toBe('applied');
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'done', evidence: 'bucket example-bucket has no bucket policy now' });
    });
  });

  describe('s3-ml-bucket-tls-not-enforced: the TLS deny', () => {
    const event = loadEvent('s3/PutBucketPolicy-org-condition-no-tls-deny.json');
    const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Statement: unknown[] };
    const ml: Facts = { bucketTags: { status: 'ok', value: { tags: { 'data-classification': 'ml' } } } };
    const proposal = proposalOf(s3MlBucketTlsNotEnforced, event, ml);
    const proposed = String(proposal[0]?.input['Policy']);

    it('adds the deny while the bucket holds the event\'s policy, and verifies the policy now enforces TLS', async () => {
      s3.on(GetBucketPolicyCommand).resolvesOnce({ Policy: JSON.stringify(policy) }).resolves({ Policy: proposed });
      const report = await executePlan(proposal, gateway, { probes: s3MlBucketTlsNotEnforced.probes });
      expect(inputs(s3, PutBucketPolicyCommand)).toStrictEqual([{ ...ML_REF, Policy: proposed }]);
      expect(inputs(s3, GetBucketPolicyCommand)).toStrictEqual([ML_REF, ML_REF]);
      expect(report.status).toBe('applied');
      expect(report.steps[0]?.verification?.state).toBe('done');
    });

    it('writes nothing once the bucket policy enforces TLS: already-fixed', async () => {
      s3.on(GetBucketPolicyCommand).resolves({ Policy: proposed });
      const report = await executePlan(proposal, gateway, { probes: s3MlBucketTlsNotEnforced.probes });
      expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
      expect(report.status).toBe('already-fixed');
    });

    it('never resurrects a policy deleted since the event: stale', async () => {
      s3.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy'));
      const report = await executePlan(proposal, gateway, { probes: s3MlBucketTlsNotEnforced.probes });
      expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
      expect(report.status).toBe('stale');
    });

    it('after a DeleteBucketPolicy, gives the bucket a policy only while it still has none', async () => {
      const afterDelete = proposalOf(s3MlBucketTlsNotEnforced, loadEvent('s3/DeleteBucketPolicy-ml-bucket.json'), ml);
      s3.on(GetBucketPolicyCommand).rejectsOnce(s3Error('NoSuchBucketPolicy')).resolves({ Policy: String(afterDelete[0]?.input['Policy']) });
      const report = await executePlan(afterDelete, gateway, { probes: s3MlBucketTlsNotEnforced.probes });
      expect(inputs(s3, PutBucketPolicyCommand)).toStrictEqual([{ ...ML_REF, Policy: afterDelete[0]?.input['Policy'] }]);
      expect(report.status).toBe('applied');
    });
  });
});
