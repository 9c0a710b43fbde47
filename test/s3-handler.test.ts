import {
  GetBucketAclCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  PutBucketAclCommand,
  PutPublicAccessBlockCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { PutPublicAccessBlockCommand as PutAccountPublicAccessBlockCommand, S3ControlClient } from '@aws-sdk/client-s3-control';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { createRemediationHandler } from '../engine/lambda.js';
import { s3Commands } from '../remediations/s3/commands.js';
import { s3Rules } from '../remediations/s3/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const s3 = mockClient(S3Client);
const s3control = mockClient(S3ControlClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const ML = 'ml-training-data-111122223333';
const BUCKET = 'amzn-s3-demo-bucket';
const ALL_ON = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const ALLUSERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const OWNER_ID = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';

function s3Error(name: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: {}, message: name });
}

function handlerFor(mode: 'remediate' | 'propose') {
  const config = parseConfig({ defaultMode: mode }, s3Rules);
  return createRemediationHandler({
    rules: s3Rules,
    commands: s3Commands,
    logger: recordingLogger(),
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-s3' },
    gateway: createAwsGateway(s3Commands, { region: 'us-east-1' }),
  });
}

function decisions(result: Awaited<ReturnType<ReturnType<typeof handlerFor>>>) {
  return result.status === 'processed' ? result.decisions : [];
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
    it('restores the bucket block with exactly the planned input, after reading the bucket tags', async () => {
      // Arrange
      const handler = handlerFor('remediate');
      // Act
      const result = await handler(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'));
      // Assert
      expect(s3.commandCalls(GetBucketTaggingCommand).map((c) => c.args[0].input)).toStrictEqual([{ Bucket: BUCKET, ExpectedBucketOwner: '111122223333' }]);
      expect(s3.commandCalls(PutPublicAccessBlockCommand).map((c) => c.args[0].input)).toStrictEqual([
        { Bucket: BUCKET, ExpectedBucketOwner: '111122223333', PublicAccessBlockConfiguration: ALL_ON },
      ]);
      expect(decisions(result)).toMatchObject([{ rule: 's3-public-access-block-weakened', verdict: 'violation', outcome: 'applied' }]);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    });

    it('is harmless when delivered twice: the same idempotent call, and a vanished bucket counts as fixed', async () => {
      const handler = handlerFor('remediate');
      const event = loadEvent('s3/PutBucketPublicAccessBlock-all-off.json');
      s3.on(PutPublicAccessBlockCommand).resolvesOnce({}).rejects(s3Error('NoSuchBucket'));
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(s3.commandCalls(PutPublicAccessBlockCommand).map((c) => c.args[0].input)).toStrictEqual([
        { Bucket: BUCKET, ExpectedBucketOwner: '111122223333', PublicAccessBlockConfiguration: ALL_ON },
        { Bucket: BUCKET, ExpectedBucketOwner: '111122223333', PublicAccessBlockConfiguration: ALL_ON },
      ]);
      expect(decisions(first)[0]?.outcome).toBe('applied');
      expect(decisions(second)[0]?.outcome).toBe('already-fixed');
    });

    it('restores the account block through S3 Control, with no bucket lookup', async () => {
      const handler = handlerFor('remediate');
      await handler(loadEvent('s3/DeleteAccountPublicAccessBlock-removed-streamalert.json'));
      expect(s3control.commandCalls(PutAccountPublicAccessBlockCommand).map((c) => c.args[0].input)).toStrictEqual([
        { AccountId: '123456789123', PublicAccessBlockConfiguration: ALL_ON },
      ]);
      expect(s3.calls()).toHaveLength(0);
    });

    it('reports a denied call as failed with the permission hint, and leaves nothing half-done', async () => {
      s3.on(PutPublicAccessBlockCommand).rejects(s3Error('AccessDenied'));
      const handler = handlerFor('remediate');
      const result = await handler(loadEvent('s3/DeleteBucketPublicAccessBlock-removed-panther.json'));
      expect(decisions(result)).toMatchObject([{ outcome: 'failed', execution: 'failed' }]);
      const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
      expect(message['email']).toContain('AccessDenied');
    });

    it('leaves an exempt bucket alone', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'remediation:exempt', Value: 'public website' }] });
      const handler = handlerFor('remediate');
      const result = await handler(loadEvent('s3/PutBucketPublicAccessBlock-all-off.json'));
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ verdict: 'exempt', outcome: 'exempt' }]);
    });

    it('makes no call at all for a failed call', async () => {
      const handler = handlerFor('remediate');
      await handler(loadEvent('s3/DeleteBucketPublicAccessBlock-failed-access-denied-panther.json'));
      expect(s3.calls()).toHaveLength(0);
      expect(sns.calls()).toHaveLength(0);
    });
  });

  describe('s3-bucket-acl-public', () => {
    it('sets a canned public-read bucket back to private once, then finds it fixed on the second delivery without a call', async () => {
      s3.on(GetBucketAclCommand)
        .resolvesOnce({ Grants: [{ Grantee: { Type: 'CanonicalUser', ID: OWNER_ID }, Permission: 'FULL_CONTROL' }, { Grantee: { Type: 'Group', URI: ALLUSERS }, Permission: 'READ' }] })
        .resolves({ Grants: [{ Grantee: { Type: 'CanonicalUser', ID: OWNER_ID }, Permission: 'FULL_CONTROL' }] });
      const handler = handlerFor('remediate');
      const event = loadEvent('s3/PutBucketAcl-canned-public-read.json');
      const first = await handler(event);
      const second = await handler(structuredClone(event));
      expect(s3.commandCalls(GetBucketAclCommand).map((c) => c.args[0].input)).toStrictEqual([
        { Bucket: BUCKET, ExpectedBucketOwner: '111122223333' },
        { Bucket: BUCKET, ExpectedBucketOwner: '111122223333' },
      ]);
      expect(s3.commandCalls(PutBucketAclCommand).map((c) => c.args[0].input)).toStrictEqual([{ Bucket: BUCKET, ExpectedBucketOwner: '111122223333', ACL: 'private' }]);
      expect(decisions(first)[0]?.outcome).toBe('applied');
      expect(decisions(second)[0]?.outcome).toBe('already-fixed');
    });

    it('puts the full ACL without its public grants, in the SDK shape', async () => {
      s3.on(GetBucketAclCommand).rejects(s3Error('AccessDenied'));
      const handler = handlerFor('remediate');
      await handler(loadEvent('s3/PutBucketAcl-all-users-and-authenticated-users-read.json'));
      expect(s3.commandCalls(PutBucketAclCommand).map((c) => c.args[0].input)).toStrictEqual([
        {
          Bucket: ML,
          ExpectedBucketOwner: '111122223333',
          AccessControlPolicy: {
            Grants: [
              { Grantee: { Type: 'CanonicalUser', ID: OWNER_ID, DisplayName: 'ml-platform' }, Permission: 'FULL_CONTROL' },
              { Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/s3/LogDelivery' }, Permission: 'WRITE' },
            ],
            Owner: { ID: OWNER_ID, DisplayName: 'ml-platform' },
          },
        },
      ]);
    });

    it('makes no write call when the ACL changed since the event', async () => {
      s3.on(GetBucketAclCommand).resolves({ Grants: [{ Grantee: { Type: 'Group', URI: ALLUSERS }, Permission: 'WRITE' }] });
      const handler = handlerFor('remediate');
      const result = await handler(loadEvent('s3/PutBucketAcl-canned-public-read.json'));
      expect(s3.commandCalls(PutBucketAclCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ verdict: 'skipped', outcome: 'none' }]);
    });

    it('skips a bucket that is gone (GetBucketAcl NoSuchBucket)', async () => {
      s3.on(GetBucketAclCommand).rejects(s3Error('NoSuchBucket'));
      const handler = handlerFor('remediate');
      const result = await handler(loadEvent('s3/PutBucketAcl-canned-public-read.json'));
      expect(s3.commandCalls(PutBucketAclCommand)).toHaveLength(0);
      expect(decisions(result)).toMatchObject([{ verdict: 'skipped', summary: `bucket ${BUCKET} no longer exists` }]);
    });
  });

  describe('s3-bucket-policy-public and s3-ml-bucket-tls-not-enforced', () => {
    it('contains a public policy by turning on only RestrictPublicBuckets, and never writes the policy', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'data-classification', Value: 'ml' }] });
      s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false } });
      const handler = handlerFor('remediate');
      const result = await handler(loadEvent('s3/PutBucketPolicy-org-condition-no-tls-deny.json'));
      expect(decisions(result).map((d) => [d.rule, d.verdict])).toStrictEqual([
        ['s3-bucket-policy-public', 'compliant'],
        ['s3-ml-bucket-tls-not-enforced', 'violation'],
      ]);
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);

      s3.resetHistory();
      await handler(loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json'));
      expect(s3.commandCalls(GetPublicAccessBlockCommand).map((c) => c.args[0].input)).toStrictEqual([{ Bucket: ML, ExpectedBucketOwner: '111122223333' }]);
      expect(s3.commandCalls(PutPublicAccessBlockCommand).map((c) => c.args[0].input)).toStrictEqual([
        {
          Bucket: ML,
          ExpectedBucketOwner: '111122223333',
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: true },
        },
      ]);
    });

    it('turns all four settings on when the bucket has no block (NoSuchPublicAccessBlockConfiguration is a fact, not a gap)', async () => {
      s3.on(GetPublicAccessBlockCommand).rejects(s3Error('NoSuchPublicAccessBlockConfiguration'));
      const handler = handlerFor('remediate');
      await handler(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'));
      expect(s3.commandCalls(PutPublicAccessBlockCommand).map((c) => c.args[0].input)).toStrictEqual([
        {
          Bucket: 'example-bucket',
          ExpectedBucketOwner: '123456789012',
          PublicAccessBlockConfiguration: { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: true },
        },
      ]);
    });

    it('on a second delivery finds RestrictPublicBuckets on and makes no call', async () => {
      s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: ALL_ON });
      const handler = handlerFor('remediate');
      const result = await handler(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'));
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result).find((d) => d.rule === 's3-bucket-policy-public')?.outcome).toBe('already-fixed');
    });

    it('proposes only in propose mode: no write call, one alert per violating rule', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'data-classification', Value: 'ml' }] });
      const handler = handlerFor('propose');
      const result = await handler(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'));
      expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
      expect(decisions(result).map((d) => d.outcome)).toStrictEqual(['proposed', 'proposed']);
      expect(sns.commandCalls(PublishCommand)).toHaveLength(2);
    });
  });
});
