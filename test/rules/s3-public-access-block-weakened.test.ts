import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts } from '../../engine/types.js';
import { s3Rules } from '../../remediations/s3/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const rule = registeredRule('s3-public-access-block-weakened');
const evaluate = ruleEvaluator('s3-public-access-block-weakened');
const ALL_ON = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const ALL_OFF = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
const FOUR = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'];

/** The read before and after a restore: done once all four settings are on, needed only while the block is what the event left. */
function restoreChecks(probe: 'bucketPublicAccessBlock' | 'accountPublicAccessBlock', input: Record<string, string>, target: string, assumed: Record<string, boolean> | null, description: string) {
  const check = {
    service: probe === 'bucketPublicAccessBlock' ? 's3' : 's3control',
    operation: 'GetPublicAccessBlock',
    input,
    probe,
    expect: { target, required: FOUR, assumed, assumedFrom: 'the event left it' },
    description,
  };
  return { precondition: check, verification: check };
}

const tags = (list: { Key: string; Value: string }[]): Facts => ({
  bucketTags: { status: 'ok', value: { tags: Object.fromEntries(list.map((t) => [t.Key, t.Value])) } },
});

describe('s3-public-access-block-weakened', () => {
  describe('evaluate', () => {
    it('turns all four settings back on for a bucket whose block was switched off, undoing to the event configuration', () => {
      // Arrange
      const event = loadEvent('s3/PutBucketPublicAccessBlock-all-off.json');
      // Act
      const verdict = evaluate(event, { facts: tags([]) });
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'bucket amzn-s3-demo-bucket: public access block weakened (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off)',
        resources: ['bucket amzn-s3-demo-bucket'],
        findings: [
          {
            code: 'public-access-block-weakened',
            severity: 'high',
            message: 'BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets were turned off in the public access block of bucket amzn-s3-demo-bucket.',
            subject: 'bucket amzn-s3-demo-bucket: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets',
          },
        ],
        plan: [
          {
            service: 's3',
            operation: 'PutPublicAccessBlock',
            input: { Bucket: 'amzn-s3-demo-bucket', ExpectedBucketOwner: '111122223333', PublicAccessBlockConfiguration: ALL_ON },
            reason:
              'Turn all four public access block settings of bucket amzn-s3-demo-bucket back on (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets).',
            undo: {
              service: 's3',
              operation: 'PutPublicAccessBlock',
              input: { Bucket: 'amzn-s3-demo-bucket', ExpectedBucketOwner: '111122223333', PublicAccessBlockConfiguration: ALL_OFF },
              reason: 'Put back the public access block of bucket amzn-s3-demo-bucket exactly as the event set it.',
            },
            alreadyDoneCodes: ['NoSuchBucket'],
            ...restoreChecks(
              'bucketPublicAccessBlock',
              { Bucket: 'amzn-s3-demo-bucket', ExpectedBucketOwner: '111122223333' },
              'bucket amzn-s3-demo-bucket',
              ALL_OFF,
              'bucket amzn-s3-demo-bucket still has all four settings off, as the event left it',
            ),
          },
        ],
      });
    });

    it('flags a single setting turned off, restores exactly that configuration on undo, and runs only while the block is still that one', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPublicAccessBlock-restrict-public-buckets-off.json'));
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.subject)).toStrictEqual([
        'bucket ml-training-data-111122223333: RestrictPublicBuckets',
      ]);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.undo?.input).toStrictEqual({
        Bucket: 'ml-training-data-111122223333',
        ExpectedBucketOwner: '111122223333',
        PublicAccessBlockConfiguration: { ...ALL_ON, RestrictPublicBuckets: false },
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.precondition?.expect).toStrictEqual({
        target: 'bucket ml-training-data-111122223333',
        required: FOUR,
        assumed: { ...ALL_ON, RestrictPublicBuckets: false },
        assumedFrom: 'the event left it',
      });
      expect(verdict.kind === 'violation' && verdict.plan[0]?.precondition?.description).toBe(
        'bucket ml-training-data-111122223333 still has BlockPublicAcls, IgnorePublicAcls and BlockPublicPolicy on, RestrictPublicBuckets off, as the event left it',
      );
    });

    it('restores a deleted bucket block and undoes with DeletePublicAccessBlock (genuine Panther record)', () => {
      const verdict = evaluate(loadEvent('s3/DeleteBucketPublicAccessBlock-removed-panther.json'));
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        {
          service: 's3',
          operation: 'PutPublicAccessBlock',
          input: { Bucket: 'corporate-documents', ExpectedBucketOwner: '111111111111', PublicAccessBlockConfiguration: ALL_ON },
          reason: 'Turn all four public access block settings of bucket corporate-documents back on (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets).',
          undo: {
            service: 's3',
            operation: 'DeletePublicAccessBlock',
            input: { Bucket: 'corporate-documents', ExpectedBucketOwner: '111111111111' },
            reason: 'Remove the public access block of bucket corporate-documents again, as the event did.',
          },
          alreadyDoneCodes: ['NoSuchBucket'],
          ...restoreChecks(
            'bucketPublicAccessBlock',
            { Bucket: 'corporate-documents', ExpectedBucketOwner: '111111111111' },
            'bucket corporate-documents',
            null,
            'bucket corporate-documents still has no public access block, as the event left it',
          ),
        },
      ]);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.code).toBe('public-access-block-removed');
    });

    it('restores the account-level block through S3 Control with the account id', () => {
      const verdict = evaluate(loadEvent('s3/PutAccountPublicAccessBlock-all-off-streamalert.json'));
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        {
          service: 's3control',
          operation: 'PutPublicAccessBlock',
          input: { AccountId: '123456789123', PublicAccessBlockConfiguration: ALL_ON },
          reason: 'Turn all four public access block settings of account 123456789123 back on (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets).',
          undo: {
            service: 's3control',
            operation: 'PutPublicAccessBlock',
            input: { AccountId: '123456789123', PublicAccessBlockConfiguration: ALL_OFF },
            reason: 'Put back the public access block of account 123456789123 exactly as the event set it.',
          },
          ...restoreChecks(
            'accountPublicAccessBlock',
            { AccountId: '123456789123' },
            'account 123456789123',
            ALL_OFF,
            'account 123456789123 still has all four settings off, as the event left it',
          ),
        },
      ]);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.severity).toBe('critical');
    });

    it('undoes the restored account block with S3 Control DeletePublicAccessBlock after a delete', () => {
      const verdict = evaluate(loadEvent('s3/DeleteAccountPublicAccessBlock-removed-streamalert.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.undo).toStrictEqual({
        service: 's3control',
        operation: 'DeletePublicAccessBlock',
        input: { AccountId: '123456789123' },
        reason: 'Remove the public access block of account 123456789123 again, as the event did.',
      });
    });

    it.each([
      ['bucket', 's3/PutBucketPublicAccessBlock-all-on-compliant-streamalert.json', 'bucket test: all four public access block settings are on'],
      ['account', 's3/PutAccountPublicAccessBlock-all-on-compliant.json', 'account 111122223333: all four public access block settings are on'],
    ])('is compliant when every %s setting is on', (_, fixture, summary) => {
      expect(evaluate(loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
    });

    it('treats a setting missing from the request as off, as S3 does', () => {
      const event = loadEvent('s3/PutBucketPublicAccessBlock-all-off.json');
      event.detail.requestParameters = { bucketName: 'amzn-s3-demo-bucket', PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: 'true', BlockPublicPolicy: true } };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.subject).toBe('bucket amzn-s3-demo-bucket: RestrictPublicBuckets');
    });

    it('leaves a bucket carrying the exemption tag alone, and says what the exemption let through', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'), { facts: tags([{ Key: 'remediation:exempt', Value: 'public website WEB-12' }]) });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: 'bucket amzn-s3-demo-bucket is tagged remediation:exempt: public website WEB-12',
        resources: ['bucket amzn-s3-demo-bucket'],
        findings: [
          {
            code: 'public-access-block-weakened',
            severity: 'high',
            message: 'BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets were turned off in the public access block of bucket amzn-s3-demo-bucket.',
            subject: 'bucket amzn-s3-demo-bucket: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets',
          },
        ],
      });
    });

    it('grants its bucket write only on buckets of the deploying account, and reads the block before and after', () => {
      expect(rule.permissions).toStrictEqual([
        { action: 's3:PutBucketPublicAccessBlock', resource: 'arn:${AWS::Partition}:s3:::*', condition: { StringEquals: { 'aws:ResourceAccount': '${AWS::AccountId}' } } },
        { action: 's3:PutAccountPublicAccessBlock', resource: '*' },
      ]);
      expect(rule.probes.map((probe) => [probe.name, probe.service, probe.operation, probe.resource ?? '*'])).toStrictEqual([
        ['bucketPublicAccessBlock', 's3', 'GetPublicAccessBlock', 'arn:${AWS::Partition}:s3:::*'],
        ['accountPublicAccessBlock', 's3control', 'GetPublicAccessBlock', '*'],
      ]);
    });

    it('never plans from decide-time evidence: no step carries alreadyDone', () => {
      for (const fixture of ['s3/PutBucketPublicAccessBlock-all-off.json', 's3/DeleteAccountPublicAccessBlock-removed-streamalert.json']) {
        const verdict = evaluate(loadEvent(fixture), { facts: tags([]) });
        expect(verdict.kind === 'violation' && verdict.plan.every((step) => step.alreadyDone === undefined && step.precondition !== undefined && step.verification !== undefined)).toBe(true);
      }
    });

    it('never exempts by guess: unknown tags still make a violation', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'), {
        facts: {
          bucketTags: { status: 'unavailable', reason: 'GetBucketTagging failed: AccessDenied' },
        },
      });
      expect(verdict.kind).toBe('violation');
    });

    it('treats NoSuchTagSet (the fact null) as a bucket without tags', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'), { facts: { bucketTags: { status: 'ok', value: null } } });
      expect(verdict.kind).toBe('violation');
    });

    it.each([
      ['no bucket name (a placeholder)', (e: CloudTrailEvent) => { e.detail.requestParameters = { bucketName: '...', PublicAccessBlockConfiguration: ALL_OFF }; }, 'the event names no bucket'],
      ['no configuration', (e: CloudTrailEvent) => { e.detail.requestParameters = { bucketName: 'amzn-s3-demo-bucket' }; }, 'the event carries no PublicAccessBlockConfiguration for bucket amzn-s3-demo-bucket'],
      ['no 12-digit account', (e: CloudTrailEvent) => { e.detail.recipientAccountId = '12345'; }, 'the event names no 12-digit account'],
    ])('skips an event with %s, planning no call', (_, mutate, reason) => {
      const event = loadEvent('s3/PutBucketPublicAccessBlock-all-off.json');
      mutate(event);
      expect(evaluate(event)).toMatchObject({ kind: 'skipped', reason });
    });
  });

  describe('decide', () => {
    it('never acts on a failed call, before any lookup', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/DeleteBucketPublicAccessBlock-failed-access-denied-panther.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing', cause: 'failed-call' });
      expect(decision.unavailableFacts).toStrictEqual([]);
    });

    it('offline, reports the tags it could not read and still plans the restore', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict.kind).toBe('violation');
      expect(decision.unavailableFacts).toStrictEqual(['bucketTags']);
    });
  });
});
