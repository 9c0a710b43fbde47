import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import { s3Rules } from '../../remediations/s3/index.js';
import { ALL_USERS, AUTHENTICATED_USERS, bucketAclProbe, eventAcl } from '../../remediations/s3/s3-bucket-acl-public.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const rule = registeredRule('s3-bucket-acl-public');
const evaluate = ruleEvaluator('s3-bucket-acl-public');
const ML = 'ml-training-data-111122223333';
const BUCKET = 'amzn-s3-demo-bucket';
const OWNER_ID = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
const LOG = 'http://acs.amazonaws.com/groups/s3/LogDelivery';

const ownerGrant = { Grantee: { Type: 'CanonicalUser', ID: OWNER_ID, DisplayName: 'ml-platform' }, Permission: 'FULL_CONTROL' };
const logGrant = { Grantee: { Type: 'Group', URI: LOG }, Permission: 'WRITE' };
const allUsersRead = { Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'READ' };
const authenticatedRead = { Grantee: { Type: 'Group', URI: AUTHENTICATED_USERS }, Permission: 'READ' };

/** What the full-ACL fixture's read before and after compares with: its public grants and, the ACL being complete, all its grants. */
const FULL_ACL_EXPECT = {
  bucket: ML,
  publicGrants: [`uri:${ALL_USERS}:READ`, `uri:${AUTHENTICATED_USERS}:READ`],
  grants: [`id:${OWNER_ID}:FULL_CONTROL`, `uri:${ALL_USERS}:READ`, `uri:${AUTHENTICATED_USERS}:READ`, `uri:${LOG}:WRITE`],
};

describe('s3-bucket-acl-public', () => {
  describe('evaluate', () => {
    it('removes the AllUsers and AuthenticatedUsers grants of a full ACL and keeps the others, owner included', () => {
      // Arrange
      const event = loadEvent('s3/PutBucketAcl-all-users-and-authenticated-users-read.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `bucket ${ML}: the ACL grants AllUsers READ, AuthenticatedUsers READ`,
        resources: [`bucket ${ML}`],
        findings: [
          {
            code: 'acl-all-users',
            severity: 'critical',
            message: `The ACL of bucket ${ML} grants READ to AllUsers: anyone on the internet, without signing in.`,
            subject: 'AllUsers READ',
          },
          {
            code: 'acl-authenticated-users',
            severity: 'high',
            message: `The ACL of bucket ${ML} grants READ to AuthenticatedUsers: any AWS account in the world, not only yours.`,
            subject: 'AuthenticatedUsers READ',
          },
        ],
        plan: [
          {
            service: 's3',
            operation: 'PutBucketAcl',
            input: {
              Bucket: ML,
              ExpectedBucketOwner: '111122223333',
              AccessControlPolicy: { Grants: [ownerGrant, logGrant], Owner: { ID: OWNER_ID, DisplayName: 'ml-platform' } },
            },
            reason: `Set the ACL of bucket ${ML} to the event's ACL without its public grants (AllUsers READ, AuthenticatedUsers READ); the 2 other grants stay.`,
            undo: {
              service: 's3',
              operation: 'PutBucketAcl',
              input: {
                Bucket: ML,
                ExpectedBucketOwner: '111122223333',
                AccessControlPolicy: {
                  Grants: [
                    ownerGrant,
                    logGrant,
                    { Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'READ' },
                    { Grantee: { Type: 'Group', URI: AUTHENTICATED_USERS }, Permission: 'READ' },
                  ],
                  Owner: { ID: OWNER_ID, DisplayName: 'ml-platform' },
                },
              },
              reason: `Put the ACL of bucket ${ML} back exactly as the event set it, public grants included.`,
            },
            alreadyDoneCodes: ['NoSuchBucket'],
            precondition: {
              service: 's3',
              operation: 'GetBucketAcl',
              input: { Bucket: ML, ExpectedBucketOwner: '111122223333' },
              probe: 'bucketAcl',
              expect: FULL_ACL_EXPECT,
              description: `the ACL of bucket ${ML} still grants AllUsers READ, AuthenticatedUsers READ as the event set it`,
            },
            verification: {
              service: 's3',
              operation: 'GetBucketAcl',
              input: { Bucket: ML, ExpectedBucketOwner: '111122223333' },
              probe: 'bucketAcl',
              expect: FULL_ACL_EXPECT,
              description: `the ACL of bucket ${ML} still grants AllUsers READ, AuthenticatedUsers READ as the event set it`,
            },
          },
        ],
      });
    });

    it('replaces a canned public-read ACL with private, and undoes to public-read', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketAcl-canned-public-read.json'));
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        {
          service: 's3',
          operation: 'PutBucketAcl',
          input: { Bucket: BUCKET, ExpectedBucketOwner: '111122223333', ACL: 'private' },
          reason: `Set the ACL of bucket ${BUCKET} to private (owner full control), removing AllUsers READ.`,
          undo: {
            service: 's3',
            operation: 'PutBucketAcl',
            input: { Bucket: BUCKET, ExpectedBucketOwner: '111122223333', ACL: 'public-read' },
            reason: `Put the ACL of bucket ${BUCKET} back exactly as the event set it, public grants included.`,
          },
          alreadyDoneCodes: ['NoSuchBucket'],
          // A canned ACL does not say who the owner is: only its public grants can be compared.
          precondition: {
            service: 's3',
            operation: 'GetBucketAcl',
            input: { Bucket: BUCKET, ExpectedBucketOwner: '111122223333' },
            probe: 'bucketAcl',
            expect: { bucket: BUCKET, publicGrants: [`uri:${ALL_USERS}:READ`] },
            description: `the ACL of bucket ${BUCKET} still grants AllUsers READ as the event set it`,
          },
          verification: {
            service: 's3',
            operation: 'GetBucketAcl',
            input: { Bucket: BUCKET, ExpectedBucketOwner: '111122223333' },
            probe: 'bucketAcl',
            expect: { bucket: BUCKET, publicGrants: [`uri:${ALL_USERS}:READ`] },
            description: `the ACL of bucket ${BUCKET} still grants AllUsers READ as the event set it`,
          },
        },
      ]);
    });

    it.each([
      ['public-read-write', ['AllUsers READ (canned public-read-write)', 'AllUsers WRITE (canned public-read-write)']],
      ['authenticated-read', ['AuthenticatedUsers READ (canned authenticated-read)']],
    ])('reads the canned ACL %s as its public grants', (canned, subjects) => {
      const event = loadEvent('s3/PutBucketAcl-canned-public-read.json');
      event.detail.requestParameters = { bucketName: BUCKET, 'x-amz-acl': [canned] };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.subject)).toStrictEqual(subjects);
    });

    it('keeps the grant-header form: the owner id stays in GrantFullControl, the AllUsers read goes', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketAcl-grant-header-all-users-read.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        Bucket: BUCKET,
        ExpectedBucketOwner: '111122223333',
        GrantFullControl: `id="${OWNER_ID}"`,
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.undo?.input).toStrictEqual({
        Bucket: BUCKET,
        ExpectedBucketOwner: '111122223333',
        GrantRead: `uri="${ALL_USERS}"`,
        GrantFullControl: `id="${OWNER_ID}"`,
      });
    });

    it('sets private when nothing but public grants was in the event', () => {
      const event = loadEvent('s3/PutBucketAcl-grant-header-all-users-read.json');
      event.detail.requestParameters = { bucketName: BUCKET, 'x-amz-grant-read': `uri=${ALL_USERS}, uri=${AUTHENTICATED_USERS}` };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({ Bucket: BUCKET, ExpectedBucketOwner: '111122223333', ACL: 'private' });
    });

    it('reads a single grant that CloudTrail turned into an object, and an https group URI', () => {
      const event = loadEvent('s3/PutBucketAcl-all-users-and-authenticated-users-read.json');
      event.detail.requestParameters = {
        bucketName: ML,
        AccessControlPolicy: { AccessControlList: { Grant: { Grantee: { 'xsi:type': 'Group', URI: 'https://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' } } },
      };
      expect(eventAcl(event)).toStrictEqual({ form: 'policy', grants: [{ type: 'Group', uri: ALL_USERS, permission: 'READ' }] });
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({ Bucket: ML, ExpectedBucketOwner: '111122223333', ACL: 'private' });
    });

    it.each([
      ['a canned private ACL (genuine Panther record)', 's3/PutBucketAcl-canned-private-compliant-panther.json', 'bucket bucket: the ACL (canned ACL private) grants nothing to AllUsers or AuthenticatedUsers'],
      ['log delivery grants (genuine Flatiron record)', 's3/PutBucketAcl-log-delivery-compliant-flatiron.json', 'bucket bucket-name: the ACL (3 grants) grants nothing to AllUsers or AuthenticatedUsers'],
    ])('is compliant for %s', (_, fixture, summary) => {
      expect(evaluate(loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
    });

    it('plans the same fix whatever the bucket looks like now: the read before the write decides, never a decide-time lookup', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketAcl-all-users-and-authenticated-users-read.json'));
      expect(rule.lookups.map((lookup) => lookup.name)).toStrictEqual(['bucketTags']);
      expect(verdict.kind === 'violation' && verdict.plan.map((step) => [step.alreadyDone, step.precondition?.probe, step.verification?.probe])).toStrictEqual([[undefined, 'bucketAcl', 'bucketAcl']]);
    });

    it('leaves a bucket carrying the exemption tag alone, and says what the exemption let through', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketAcl-canned-public-read.json'), {
        facts: { bucketTags: { status: 'ok', value: { tags: { 'remediation:exempt': 'static site' } } } },
      });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: `bucket ${BUCKET} is tagged remediation:exempt: static site`,
        resources: [`bucket ${BUCKET}`],
        findings: [
          {
            code: 'acl-all-users',
            severity: 'critical',
            message: `The ACL of bucket ${BUCKET} grants READ to AllUsers: anyone on the internet, without signing in.`,
            subject: 'AllUsers READ (canned public-read)',
          },
        ],
      });
    });

    it('grants PutBucketAcl only on buckets of the deploying account', () => {
      expect(rule.permissions).toStrictEqual([
        { action: 's3:PutBucketAcl', resource: 'arn:${AWS::Partition}:s3:::*', condition: { StringEquals: { 'aws:ResourceAccount': '${AWS::AccountId}' } } },
      ]);
    });

    it('skips an event with no ACL in it', () => {
      const event = loadEvent('s3/PutBucketAcl-canned-public-read.json');
      event.detail.requestParameters = { bucketName: BUCKET, acl: [''] };
      expect(evaluate(event)).toMatchObject({ kind: 'skipped', reason: `the event carries no ACL for bucket ${BUCKET}` });
    });
  });

  describe('bucketAcl probe (GetBucketAcl before and after the write)', () => {
    const judge = (grants: unknown[] | null) => bucketAclProbe.judge(grants === null ? null : { Owner: { ID: OWNER_ID }, Grants: grants }, FULL_ACL_EXPECT);

    it('needs the write while the ACL is exactly the one the event set', () => {
      expect(judge([ownerGrant, logGrant, allUsersRead, authenticatedRead])).toStrictEqual({
        state: 'needed',
        evidence: `the ACL of bucket ${ML} still grants AllUsers READ, AuthenticatedUsers READ`,
      });
    });

    it('is done when no public grant is in effect, or the bucket is gone', () => {
      expect(judge([ownerGrant, logGrant])).toStrictEqual({ state: 'done', evidence: `the ACL of bucket ${ML} grants nothing to AllUsers or AuthenticatedUsers` });
      expect(judge(null)).toStrictEqual({ state: 'done', evidence: `bucket ${ML} no longer exists (NoSuchBucket)` });
    });

    it('says what changed when other public grants are there now', () => {
      expect(judge([ownerGrant, { Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'WRITE' }])).toStrictEqual({
        state: 'changed',
        evidence: `the ACL of bucket ${ML} now grants AllUsers WRITE, not AllUsers READ, AuthenticatedUsers READ as the event set it: nothing written; the newer ACL is judged by its own event`,
      });
    });

    it('says what changed when the same public grants stand beside a grant added since', () => {
      const added = { Grantee: { Type: 'CanonicalUser', ID: 'a'.repeat(64) }, Permission: 'READ' };
      expect(judge([ownerGrant, logGrant, allUsersRead, authenticatedRead, added])).toStrictEqual({
        state: 'changed',
        evidence: `the ACL of bucket ${ML} also grants canonical user ${'a'.repeat(64)} READ since the event set it: nothing written; the newer ACL is judged by its own event`,
      });
    });
  });

  describe('decide', () => {
    it('never acts on a failed call (genuine Panther record)', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/PutBucketAcl-failed-access-denied-panther.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing', cause: 'failed-call' });
    });

    it('offline, plans from the event alone and names the facts it lacked', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/PutBucketAcl-canned-public-read.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict.kind).toBe('violation');
      expect(decision.unavailableFacts).toStrictEqual(['bucketTags']);
    });
  });
});
