import { describe, expect, it } from 'vitest';
import { parseConfig, settingsFor } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import { field, type CloudTrailEvent } from '../engine/event.js';
import type { Facts, Verdict } from '../engine/types.js';
import { s3Rules } from '../remediations/s3/index.js';
import { publicGrants, S3_CONFINING_KEYS } from '../remediations/s3/resource-policy.js';
import { s3BucketPolicyPublic as rule } from '../remediations/s3/s3-bucket-policy-public.js';
import { loadEvent } from './helpers/fixtures.js';

const NOW = new Date('2025-03-11T12:00:00Z');
const ML = 'ml-training-data-111122223333';
const ALL_ON = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const ALL_OFF = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };

function evaluate(event: CloudTrailEvent, facts: Facts = {}): Verdict {
  const config = parseConfig({}, s3Rules);
  return rule.evaluate(event, facts, { config, settings: settingsFor(rule, config), now: NOW });
}

function withPolicy(policy: unknown): CloudTrailEvent {
  const event = loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json');
  event.detail.requestParameters = { bucketName: ML, bucketPolicy: policy };
  return event;
}

const allow = (extra: Record<string, unknown>) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${ML}/*`, ...extra }] });
const block = (configuration: Record<string, boolean> | null): Facts => ({ publicAccessBlock: { status: 'ok', value: configuration && { configuration } } });
const containReason = `Turn on RestrictPublicBuckets for bucket ${ML}: the public statements of its policy then only work for AWS services and principals of the bucket's own account. The policy itself is left for a person (see the proposal).`;

describe('s3-bucket-policy-public', () => {
  describe('evaluate', () => {
    it('contains a public statement with RestrictPublicBuckets, keeps the other settings, and proposes the policy without it', () => {
      // Arrange
      const event = loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json');
      const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Version: string; Statement: unknown[] };
      // Act
      const verdict = evaluate(event, block({ ...ALL_OFF, BlockPublicAcls: true, IgnorePublicAcls: true }));
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `bucket ${ML}: Statement 0 ("PublicReadModels") of the policy lets the public in; contained with RestrictPublicBuckets, the policy fix is proposed`,
        resources: [`bucket ${ML}`],
        findings: [
          {
            code: 'bucket-policy-public',
            severity: 'critical',
            message: `Statement 0 ("PublicReadModels") of the policy of bucket ${ML} allows Principal * to use s3:GetObject, and no condition confines it to known callers.`,
            subject: 'Statement 0 ("PublicReadModels")',
          },
        ],
        plan: [
          {
            service: 's3',
            operation: 'PutPublicAccessBlock',
            input: {
              Bucket: ML,
              ExpectedBucketOwner: '111122223333',
              PublicAccessBlockConfiguration: { ...ALL_OFF, BlockPublicAcls: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
            },
            reason: containReason,
            undo: {
              service: 's3',
              operation: 'PutPublicAccessBlock',
              input: { Bucket: ML, ExpectedBucketOwner: '111122223333', PublicAccessBlockConfiguration: { ...ALL_OFF, BlockPublicAcls: true, IgnorePublicAcls: true } },
              reason: `Put back the public access block bucket ${ML} had before.`,
            },
            alreadyDoneCodes: ['NoSuchBucket'],
          },
        ],
        proposal: [
          {
            service: 's3',
            operation: 'PutBucketPolicy',
            input: { Bucket: ML, ExpectedBucketOwner: '111122223333', Policy: JSON.stringify({ ...policy, Statement: [policy.Statement[1]] }) },
            reason: `PROPOSAL, not applied: replace the policy of bucket ${ML} with the same document minus statement 0. Check first that no application relies on anonymous access.`,
            undo: {
              service: 's3',
              operation: 'PutBucketPolicy',
              input: { Bucket: ML, ExpectedBucketOwner: '111122223333', Policy: JSON.stringify(policy) },
              reason: `Put the policy of bucket ${ML} back exactly as the event set it.`,
            },
          },
        ],
      });
    });

    it('without knowing the current block turns all four settings on, and says the undo value is unknown', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        Bucket: 'example-bucket',
        ExpectedBucketOwner: '123456789012',
        PublicAccessBlockConfiguration: ALL_ON,
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.undo?.input).toStrictEqual({
        Bucket: 'example-bucket',
        ExpectedBucketOwner: '123456789012',
        PublicAccessBlockConfiguration: {
          $unknown:
            'the public access block of bucket example-bucket before this change (GetPublicAccessBlock could not be read: GetPublicAccessBlock was not looked up); DeletePublicAccessBlock if it had none',
        },
      });
    });

    it('proposes DeleteBucketPolicy when every statement is open (genuine Panther record)', () => {
      const event = loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json');
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.proposal).toStrictEqual([
        {
          service: 's3',
          operation: 'DeleteBucketPolicy',
          input: { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012' },
          reason: 'PROPOSAL, not applied: delete the policy of bucket example-bucket: every statement in it (statement 0) is open to the public.',
          undo: {
            service: 's3',
            operation: 'PutBucketPolicy',
            input: { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012', Policy: JSON.stringify(field(event.detail.requestParameters, 'bucketPolicy')) },
            reason: 'Put the policy of bucket example-bucket back exactly as the event set it.',
          },
        },
      ]);
    });

    it('undoes with DeletePublicAccessBlock when the bucket had no block', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-principal-star-flatiron.json'), block(null));
      const bucket = 'wkykdxpwwr67imj4-misconfig-maker';
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        Bucket: bucket,
        ExpectedBucketOwner: '123456789012',
        PublicAccessBlockConfiguration: { ...ALL_OFF, RestrictPublicBuckets: true },
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.undo).toStrictEqual({
        service: 's3',
        operation: 'DeletePublicAccessBlock',
        input: { Bucket: bucket, ExpectedBucketOwner: '123456789012' },
        reason: `Remove the public access block again: bucket ${bucket} had none before.`,
      });
    });

    it('marks the step already done when RestrictPublicBuckets is on already', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json'), block(ALL_ON));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.alreadyDone).toBe('GetPublicAccessBlock: RestrictPublicBuckets is already on');
    });

    it.each([
      ['a VPC endpoint', 's3/PutBucketPolicy-tls-deny-and-vpce-compliant.json', 'aws:SourceVpce'],
      ['an organization', 's3/PutBucketPolicy-org-condition-no-tls-deny.json', 'aws:PrincipalOrgID'],
    ])('is compliant when a condition confines the public statement to %s', (_, fixture, key) => {
      const verdict = evaluate(loadEvent(fixture));
      expect(verdict.kind).toBe('compliant');
      expect(verdict.kind === 'compliant' && verdict.summary).toContain(`is public but confined by ${key}`);
    });

    it('is compliant for a service principal (genuine Panther record)', () => {
      expect(evaluate(loadEvent('s3/PutBucketPolicy-service-principal-compliant-panther.json'))).toMatchObject({
        kind: 'compliant',
        summary: 'bucket example-bucket: no statement of the policy lets the public in without a confining condition',
      });
    });

    it.each([
      ['StringNotEquals (excludes only)', { StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } }],
      ['a wildcard value', { StringLike: { 'aws:SourceVpce': 'vpce-*' } }],
      ['…IfExists', { StringEqualsIfExists: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } }],
      ['a key that confines nothing', { StringEquals: { 's3:prefix': 'public/' } }],
      ['the whole internet as source', { IpAddress: { 'aws:SourceIp': ['0.0.0.0/0'] } }],
      ['a /4 of public space', { IpAddress: { 'aws:SourceIp': '64.0.0.0/4' } }],
      ['a policy variable', { StringEquals: { 'aws:PrincipalAccount': '${aws:username}' } }],
    ])('still flags Principal * with %s', (_, condition) => {
      expect(evaluate(withPolicy(allow({ Principal: '*', Condition: condition }))).kind).toBe('violation');
    });

    it.each([
      ['an office range', { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24'] } }],
      ['a fixed source account', { StringEquals: { 'aws:SourceAccount': '111122223333' } }],
      ['a fixed access point account', { StringEquals: { 's3:DataAccessPointAccount': '111122223333' } }],
    ])('accepts Principal * confined by %s', (_, condition) => {
      expect(evaluate(withPolicy(allow({ Principal: '*', Condition: condition }))).kind).toBe('compliant');
    });

    it.each([
      ['an account wildcard', { Principal: { AWS: 'arn:aws:iam::*:root' } }],
      ['NotPrincipal', { NotPrincipal: { AWS: 'arn:aws:iam::111122223333:root' } }],
      ['AWS * in a list', { Principal: { AWS: ['arn:aws:iam::111122223333:root', '*'] } }],
    ])('flags %s as public, as the IAM analyzer reads principals', (_, principal) => {
      expect(evaluate(withPolicy(allow(principal))).kind).toBe('violation');
    });

    it('never flags a Deny for everyone', () => {
      const verdict = evaluate(withPolicy({ Statement: { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${ML}/*` } }));
      expect(verdict.kind).toBe('compliant');
    });

    it('reads a policy given as JSON text, as some exports carry it', () => {
      expect(evaluate(withPolicy(JSON.stringify(allow({ Principal: '*' })))).kind).toBe('violation');
    });

    it('skips an unreadable policy (genuine Panther shape) with the reason', () => {
      const event = withPolicy('invalid-json-policy');
      expect(evaluate(event)).toMatchObject({ kind: 'skipped', reason: `the policy of bucket ${ML} could not be analysed: Policy document is not valid JSON (nor URL-encoded JSON).` });
    });

    it('leaves a bucket carrying the exemption tag alone', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'), {
        bucketTags: { status: 'ok', value: { tags: { 'remediation:exempt': 'public dataset' } } },
      });
      expect(verdict).toMatchObject({ kind: 'exempt', reason: 'bucket example-bucket is tagged remediation:exempt: public dataset' });
    });
  });

  describe('publicGrants', () => {
    it('separates open statements from confined ones', () => {
      const analysis = publicGrants(
        {
          Statement: [
            { Sid: 'Open', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' },
            { Sid: 'Vpce', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*', Condition: { StringEquals: { 'AWS:SourceVpce': 'vpce-1' } } },
            { Sid: 'Account', Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 's3:GetObject', Resource: '*' },
          ],
        },
        { confiningKeys: S3_CONFINING_KEYS, maxPolicyCharacters: 20_480 },
      );
      expect(analysis.ok && analysis.open.map((entry) => entry.statement.sid)).toStrictEqual(['Open']);
      expect(analysis.ok && analysis.confined.map((entry) => [entry.statement.sid, entry.confinedBy])).toStrictEqual([['Vpce', ['AWS:SourceVpce']]]);
    });
  });

  describe('decide', () => {
    it('never acts on a failed call (genuine Panther record)', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/PutBucketPolicy-failed-access-denied-panther.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing' });
    });
  });
});
