import { GetBucketEncryptionCommand, GetBucketTaggingCommand, PutBucketEncryptionCommand, S3Client, S3ServiceException, type GetBucketEncryptionCommandOutput, type ServerSideEncryptionRule } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { statementsFor } from '../../deploy/deployment.js';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { InvocationResult } from '../../engine/lambda.js';
import type { Facts, Verdict } from '../../engine/types.js';
import { s3Rules } from '../../remediations/s3/index.js';
import { bucketEncryptionProbe, S3BucketEncryptionSettingsSchema } from '../../remediations/s3/s3-bucket-encryption-weakened.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler, NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const ID = 's3-bucket-encryption-weakened';
const rule = registeredRule(ID);
const evaluate = ruleEvaluator(ID);
const ML = 'ml-training-data-111122223333';
const REF = { Bucket: ML, ExpectedBucketOwner: '111122223333' };
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_KEY = 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321';
const withKey = { rules: { [ID]: { kmsKeyId: KEY } } };

const SSE_S3_AS_SET: ServerSideEncryptionRule = { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false };
const kmsRule = (key: unknown): Record<string, unknown> => ({ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key }, BucketKeyEnabled: true });
const configuration = (rule: unknown) => ({ ServerSideEncryptionConfiguration: { Rules: [rule] } });

const tagged = (tags: Record<string, string>): Facts => ({ bucketTags: { status: 'ok', value: { tags } } });
const ML_TAGS = tagged({ 'data-classification': 'ml', team: 'vision' });

function violation(event: CloudTrailEvent, options: Parameters<typeof evaluate>[1] = {}): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event, options);
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

/** The PutBucketEncryption request with its one rule replaced, as CloudTrail records it (`Rule`, from the XML body). */
function putting(rule: unknown): CloudTrailEvent {
  const event = loadEvent('s3/PutBucketEncryption-sse-s3-ml-bucket.json');
  event.detail.requestParameters = {
    bucketName: ML,
    Host: `${ML}.s3.us-east-1.amazonaws.com`,
    encryption: '',
    ServerSideEncryptionConfiguration: { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/', Rule: rule },
  };
  return event;
}

/** The read before and after the PutBucketEncryption. */
function checks(kmsKeyId: string | null, assumed: ServerSideEncryptionRule, assumedFrom: string) {
  const check = {
    service: 's3',
    operation: 'GetBucketEncryption',
    input: REF,
    probe: 'bucketEncryption',
    expect: { bucket: ML, kmsKeyId, assumed, assumedFrom },
    description: `bucket ${ML} still has SSE-S3 (AES256), as ${assumedFrom}`,
  };
  return { precondition: check, verification: check };
}

const ML_FINDING = {
  code: 'sse-s3-instead-of-kms',
  severity: 'high',
  message: `Bucket ${ML} is tagged data-classification=ml (ML data), and its default encryption was set to SSE-S3 (AES256): new objects are no longer encrypted with a customer managed KMS key, so access to them cannot be revoked or audited through the key.`,
  subject: `bucket ${ML}`,
};
const RESTORE = `restore SSE-KMS default encryption on bucket ${ML}, S3 Bucket Key on; objects already written keep their encryption until they are rewritten.`;
const UNDO_PUT = {
  service: 's3',
  operation: 'PutBucketEncryption',
  input: { ...REF, ...configuration(SSE_S3_AS_SET) },
  reason: `Put the default encryption of bucket ${ML} back exactly as the event set it.`,
};

describe('s3-bucket-encryption-weakened', () => {
  describe('settings', () => {
    it('defaults the ML data tag as s3-ml-bucket-tls-not-enforced does, and has no key until one is configured', () => {
      expect(S3BucketEncryptionSettingsSchema.parse({})).toStrictEqual({ mlDataTag: { key: 'data-classification', value: 'ml' } });
    });

    it.each([
      ['a key id', '1234abcd-12ab-34cd-56ef-1234567890ab'],
      ['an alias', 'alias/ml-data'],
      ['an alias ARN', 'arn:aws:kms:us-east-1:111122223333:alias/ml-data'],
    ])('refuses %s as kmsKeyId: S3 resolves those in the caller\'s account, or not at all', (_, kmsKeyId) => {
      expect(() => parseConfig({ rules: { [ID]: { kmsKeyId } } }, s3Rules)).toThrow('a KMS key ARN');
    });
  });

  describe('evaluate', () => {
    it('without kmsKeyId, proposes restoring SSE-KMS with the key left for a person to fill in, read before and after; the undo puts back what the event set', () => {
      // Arrange
      const event = loadEvent('s3/PutBucketEncryption-sse-s3-ml-bucket.json');
      // Act
      const verdict = evaluate(event, { facts: ML_TAGS });
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `bucket ${ML} (tagged data-classification=ml): default encryption set to SSE-S3`,
        resources: [`bucket ${ML}`],
        findings: [ML_FINDING],
        plan: [],
        proposal: [
          {
            service: 's3',
            operation: 'PutBucketEncryption',
            input: { ...REF, ...configuration(kmsRule({ $unknown: `the ARN of the customer managed KMS key (in us-east-1) bucket ${ML} used before` })) },
            reason: `PROPOSAL, not applied: with the customer managed key the bucket used before (not in the event: fill it in, or set kmsKeyId), ${RESTORE}`,
            undo: UNDO_PUT,
            alreadyDoneCodes: ['NoSuchBucket'],
            ...checks(null, SSE_S3_AS_SET, 'the event set it'),
          },
        ],
      });
    });

    it('with kmsKeyId, plans the PutBucketEncryption of that key (applied in remediate mode)', () => {
      const verdict = violation(loadEvent('s3/PutBucketEncryption-sse-s3-ml-bucket.json'), { facts: ML_TAGS, config: withKey });
      expect(verdict.proposal).toBeUndefined();
      expect(verdict.plan).toStrictEqual([
        {
          service: 's3',
          operation: 'PutBucketEncryption',
          input: { ...REF, ...configuration(kmsRule(KEY)) },
          reason: `With the configured key ${KEY}, ${RESTORE}`,
          undo: UNDO_PUT,
          alreadyDoneCodes: ['NoSuchBucket'],
          ...checks(KEY, SSE_S3_AS_SET, 'the event set it'),
        },
      ]);
    });

    it('after DeleteBucketEncryption, expects and undoes to what S3 falls back to: SSE-S3 with Bucket Key off', () => {
      const verdict = violation(loadEvent('s3/DeleteBucketEncryption-ml-bucket.json'), { facts: ML_TAGS, config: withKey });
      const fallback = 'S3 left it when the event deleted the configuration';
      expect(verdict.findings.map((f) => [f.code, f.message])).toStrictEqual([
        [
          'sse-kms-removed',
          `Bucket ${ML} is tagged data-classification=ml (ML data), and its default encryption configuration was deleted, so S3 falls back to SSE-S3 (AES256): new objects are no longer encrypted with a customer managed KMS key, so access to them cannot be revoked or audited through the key.`,
        ],
      ]);
      expect(verdict.summary).toBe(`bucket ${ML} (tagged data-classification=ml): default encryption deleted (SSE-S3 now)`);
      expect(verdict.plan.map((step) => [step.input, step.undo, step.precondition])).toStrictEqual([
        [
          { ...REF, ...configuration(kmsRule(KEY)) },
          {
            service: 's3',
            operation: 'PutBucketEncryption',
            input: { ...REF, ...configuration({ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }) },
            reason: `Put back SSE-S3 (AES256, S3 Bucket Key off) on bucket ${ML}, the default encryption S3 fell back to when the event deleted the configuration.`,
          },
          checks(KEY, SSE_S3_AS_SET, fallback).precondition,
        ],
      ]);
    });

    it('keeps the blocked encryption types the event set, in the fix and in the undo, and the Bucket Key flag as recorded', () => {
      const event = putting({ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BlockedEncryptionTypes: { EncryptionType: 'SSE-C' } });
      const step = violation(event, { facts: ML_TAGS, config: withKey }).plan[0];
      const blocked = { EncryptionType: ['SSE-C'] };
      expect(step?.input).toStrictEqual({ ...REF, ...configuration({ ...kmsRule(KEY), BlockedEncryptionTypes: blocked }) });
      // No BucketKeyEnabled in the request: none in the undo either.
      expect(step?.undo?.input).toStrictEqual({ ...REF, ...configuration({ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BlockedEncryptionTypes: blocked }) });
      expect(step?.precondition?.description).toBe(`bucket ${ML} still has SSE-S3 (AES256), SSE-C blocked, as the event set it`);
    });

    it('reads the rule as a one-element list and string flags, as some exports record them', () => {
      const event = putting([{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: 'false' }]);
      expect(violation(event, { facts: ML_TAGS, config: withKey }).plan[0]?.undo?.input).toStrictEqual(UNDO_PUT.input);
    });

    it('only proposes, even with kmsKeyId, when the tags are unknown: it reports at medium severity and says so', () => {
      const verdict = violation(loadEvent('s3/DeleteBucketEncryption-ml-bucket.json'), {
        facts: { bucketTags: { status: 'unavailable', reason: 'offline replay has no AWS access' } },
        config: withKey,
      });
      expect(verdict.findings).toStrictEqual([
        {
          code: 'sse-kms-removed-ml-data-unknown',
          severity: 'medium',
          message: `For bucket ${ML}, its default encryption configuration was deleted, so S3 falls back to SSE-S3 (AES256), and its tags could not be read (offline replay has no AWS access): if it holds ML data (tag data-classification=ml), new objects are no longer encrypted with a customer managed KMS key, so access to them cannot be revoked or audited through the key.`,
          subject: `bucket ${ML}`,
        },
      ]);
      expect(verdict.summary).toBe(`bucket ${ML}: default encryption deleted (SSE-S3 now); whether it holds ML data is unknown (tags unavailable), so it is reported`);
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal?.map((step) => [step.input, step.reason.startsWith('PROPOSAL, not applied')])).toStrictEqual([[{ ...REF, ...configuration(kmsRule(KEY)) }, true]]);
    });

    it('never writes a key of another Region (S3 does not check the key): the key becomes a placeholder that says why', () => {
      const config = { rules: { [ID]: { kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' } } };
      const verdict = violation(loadEvent('s3/PutBucketEncryption-sse-s3-ml-bucket.json'), { facts: ML_TAGS, config });
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal?.[0]?.input).toStrictEqual({
        ...REF,
        ...configuration(
          kmsRule({
            $unknown: `the ARN of the customer managed KMS key (in us-east-1) bucket ${ML} used before; the configured kmsKeyId arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab is not a key of us-east-1`,
          }),
        ),
      });
    });

    it.each([
      ['SSE-KMS with a customer managed key', { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: KEY }, BucketKeyEnabled: true }, `SSE-KMS (aws:kms) with key ${KEY}, S3 Bucket Key on`],
      ['DSSE-KMS', { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms:dsse', KMSMasterKeyID: KEY } }, `DSSE-KMS (aws:kms:dsse) with key ${KEY}`],
      ['SSE-KMS with the AWS managed key', { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }, 'SSE-KMS (aws:kms) with the AWS managed key aws/s3'],
    ])('is compliant for %s, whatever the tags', (_, requested, described) => {
      expect(evaluate(putting(requested), { facts: ML_TAGS })).toStrictEqual({ kind: 'compliant', summary: `bucket ${ML}: default encryption ${described}`, resources: [`bucket ${ML}`] });
    });

    it('is compliant on the recorded SSE-KMS event', () => {
      expect(evaluate(loadEvent('s3/PutBucketEncryption-sse-kms-compliant.json')).kind).toBe('compliant');
    });

    it.each([
      ['a bucket without tags (NoSuchTagSet)', { bucketTags: { status: 'ok', value: null } } as Facts],
      ['a bucket with another classification', tagged({ 'data-classification': 'public' })],
      ['a bucket whose tags name no ML data but an inherited property', tagged({ constructor: 'ml' })],
    ])('is compliant for %s', (_, facts) => {
      expect(evaluate(loadEvent('s3/DeleteBucketEncryption-ml-bucket.json'), { facts })).toStrictEqual({
        kind: 'compliant',
        summary: `bucket ${ML} is not tagged data-classification=ml, so this rule does not require SSE-KMS`,
        resources: [`bucket ${ML}`],
      });
    });

    it('uses the configured ML data tag, value compared case-insensitively', () => {
      const config = { rules: { [ID]: { mlDataTag: { key: 'workload', value: 'training' } } } };
      expect(evaluate(loadEvent('s3/DeleteBucketEncryption-ml-bucket.json'), { facts: tagged({ workload: 'Training' }), config }).kind).toBe('violation');
      expect(evaluate(loadEvent('s3/DeleteBucketEncryption-ml-bucket.json'), { facts: ML_TAGS, config }).kind).toBe('compliant');
    });

    it('leaves an ML bucket carrying the exemption tag alone, and says what the exemption let through', () => {
      const facts = tagged({ 'data-classification': 'ml', 'remediation:exempt': 'vendor reads with SSE-S3 only, SEC-91' });
      expect(evaluate(loadEvent('s3/PutBucketEncryption-sse-s3-ml-bucket.json'), { facts, config: withKey })).toStrictEqual({
        kind: 'exempt',
        reason: `bucket ${ML} is tagged remediation:exempt: vendor reads with SSE-S3 only, SEC-91`,
        resources: [`bucket ${ML}`],
        findings: [ML_FINDING],
      });
    });

    it.each([
      ['no rule', undefined, 'the event carries no default encryption rule for bucket ml-training-data-111122223333'],
      ['two rules', [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }, { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }], 'the event carries no default encryption rule for bucket ml-training-data-111122223333'],
      ['an algorithm it does not know', { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:fsx' } }, 'bucket ml-training-data-111122223333: default encryption SSEAlgorithm aws:fsx is not one this rule knows'],
    ])('cannot inspect a request with %s on an ML bucket: an alert as grave as what it may hide', (_, requested, reason) => {
      expect(evaluate(putting(requested), { facts: ML_TAGS })).toStrictEqual({ kind: 'skipped', reason, resources: [`bucket ${ML}`], severity: 'high' });
    });

    it('skips an event that names no bucket', () => {
      const event = loadEvent('s3/DeleteBucketEncryption-ml-bucket.json');
      event.detail.requestParameters = { bucketName: '...' };
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no bucket' });
    });
  });

  describe('bucketEncryption probe (GetBucketEncryption before and after the PutBucketEncryption)', () => {
    const expected = (kmsKeyId: string | null, assumed: ServerSideEncryptionRule = SSE_S3_AS_SET) => ({ bucket: ML, kmsKeyId, assumed, assumedFrom: 'the event set it' });

    it('is needed while the bucket still has exactly what the event set (an absent Bucket Key flag reads as off)', () => {
      expect(bucketEncryptionProbe.judge(configuration({ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }), expected(KEY))).toStrictEqual({
        state: 'needed',
        evidence: `bucket ${ML} still has SSE-S3 (AES256), as the event set it`,
      });
    });

    it('is done on SSE-KMS with the configured key, by ARN or by key id; with no key configured, on any SSE-KMS', () => {
      expect(bucketEncryptionProbe.judge(configuration(kmsRule(KEY)), expected(KEY))).toStrictEqual({ state: 'done', evidence: `bucket ${ML} uses SSE-KMS (aws:kms) with key ${KEY}, S3 Bucket Key on` });
      expect(bucketEncryptionProbe.judge(configuration(kmsRule('1234abcd-12ab-34cd-56ef-1234567890ab')), expected(KEY)).state).toBe('done');
      expect(bucketEncryptionProbe.judge(configuration(kmsRule(OTHER_KEY)), expected(null))).toStrictEqual({
        state: 'done',
        evidence: `bucket ${ML} uses SSE-KMS (aws:kms) with key ${OTHER_KEY}, S3 Bucket Key on`,
      });
    });

    it('is changed (stale: nothing written) on SSE-KMS with another key than the configured one', () => {
      expect(bucketEncryptionProbe.judge(configuration(kmsRule(OTHER_KEY)), expected(KEY))).toStrictEqual({
        state: 'changed',
        evidence: `bucket ${ML} now uses SSE-KMS (aws:kms) with key ${OTHER_KEY}, S3 Bucket Key on, not key ${KEY}: a newer KMS configuration, judged by its own event; nothing written`,
      });
    });

    it.each([
      ['Bucket Key turned on since', { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true }, 'SSE-S3 (AES256), S3 Bucket Key on'],
      ['SSE-C blocked since (the fix would unblock it)', { ...SSE_S3_AS_SET, BlockedEncryptionTypes: { EncryptionType: ['SSE-C'] } }, 'SSE-S3 (AES256), SSE-C blocked'],
    ])('is changed on another setting than the event left: %s', (_, current, described) => {
      expect(bucketEncryptionProbe.judge(configuration(current), expected(KEY))).toStrictEqual({
        state: 'changed',
        evidence: `bucket ${ML} now has ${described}, not SSE-S3 (AES256) as the event set it: nothing written; the newer setting is judged by its own event`,
      });
    });

    it('reads a bucket without any configuration (ServerSideEncryptionConfigurationNotFoundError) as changed, and a deleted bucket as done', () => {
      expect(bucketEncryptionProbe.judge(null, expected(KEY), 'ServerSideEncryptionConfigurationNotFoundError')).toStrictEqual({
        state: 'changed',
        evidence: `bucket ${ML} now has no default encryption, not SSE-S3 (AES256) as the event set it: nothing written; the newer setting is judged by its own event`,
      });
      expect(bucketEncryptionProbe.judge(null, expected(KEY), 'NoSuchBucket')).toStrictEqual({ state: 'done', evidence: `bucket ${ML} no longer exists (NoSuchBucket)` });
    });

    it('refuses to judge an answer without exactly one rule', () => {
      expect(() => bucketEncryptionProbe.judge({ ServerSideEncryptionConfiguration: { Rules: [] } }, expected(KEY))).toThrow('without exactly one rule');
    });
  });

  describe('through the engine and the deployment', () => {
    it('proposes by default, and never acts on a failed call', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/DeleteBucketEncryption-ml-bucket.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.mode).toBe('propose');
      for (const name of ['s3/PutBucketEncryption-failed-access-denied.json', 's3/DeleteBucketEncryption-failed-access-denied.json']) {
        const failed = await decide(loadEvent(name), rule, { config, env: {}, facts: offlineFacts, now: NOW });
        expect(failed.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing', cause: 'failed-call' });
      }
    });

    it('grants s3:PutEncryptionConfiguration only in remediate mode with kmsKeyId, and only on buckets of the deploying account', () => {
      const writes = (raw: unknown) =>
        statementsFor(s3Rules, parseConfig(raw, s3Rules)).filter((statement) => statement.Action.includes('s3:PutEncryptionConfiguration'));
      expect(writes({})).toStrictEqual([]);
      expect(writes({ rules: { [ID]: { mode: 'remediate' } } })).toStrictEqual([]);
      expect(writes({ rules: { [ID]: { mode: 'remediate', kmsKeyId: KEY } } })).toStrictEqual([
        {
          Effect: 'Allow',
          Action: ['s3:PutEncryptionConfiguration'],
          Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::*' },
          Condition: { StringEquals: { 'aws:ResourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } } },
        },
      ]);
    });
  });

  describe('through the Lambda path, against the present state', () => {
    const s3 = mockClient(S3Client);
    const sns = mockClient(SNSClient);
    const s3Error = (name: string) => new S3ServiceException({ name, $fault: 'client', $metadata: {}, message: name });
    const PUT = { ...REF, ...configuration(kmsRule(KEY)) };

    async function run(mode: 'remediate' | 'propose', settings: Record<string, unknown> = { kmsKeyId: KEY }, fixture = 's3/PutBucketEncryption-sse-s3-ml-bucket.json') {
      const { handler } = familyHandler('s3', { modes: { [ID]: mode }, settings: { [ID]: settings } });
      return handler(loadEvent(fixture));
    }

    const decisionOf = (result: InvocationResult) => (result.status === 'processed' ? result.decisions[0] : undefined);
    const inputs = (command: Parameters<typeof s3.commandCalls>[0]): unknown[] => s3.commandCalls(command).map((call) => call.args[0].input);
    /** What GetBucketEncryption answers: its one rule, as S3 returns it. */
    const answer = (rule: unknown) => configuration(rule) as GetBucketEncryptionCommandOutput;
    function alertText(): string {
      const message = JSON.parse(String(sns.commandCalls(PublishCommand).at(-1)?.args[0].input.Message)) as Record<string, string>;
      return message['email'] ?? '';
    }

    beforeEach(() => {
      s3.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'data-classification', Value: 'ml' }] });
      s3.on(PutBucketEncryptionCommand).resolves({});
    });

    it('writes SSE-KMS with the configured key between a read before (still SSE-S3) and a read after (that key): applied means verified', async () => {
      s3.on(GetBucketEncryptionCommand).resolvesOnce(answer(SSE_S3_AS_SET)).resolves(answer(kmsRule(KEY)));
      const result = await run('remediate');
      expect(inputs(GetBucketTaggingCommand)).toStrictEqual([REF]);
      expect(inputs(PutBucketEncryptionCommand)).toStrictEqual([PUT]);
      expect(inputs(GetBucketEncryptionCommand)).toStrictEqual([REF, REF]);
      const order = s3.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);
      expect(order).toStrictEqual(['GetBucketTaggingCommand', 'GetBucketEncryptionCommand', 'PutBucketEncryptionCommand', 'GetBucketEncryptionCommand']);
      expect(decisionOf(result)).toMatchObject({ rule: ID, verdict: 'violation', outcome: 'applied', execution: 'applied' });
      expect(alertText()).toContain(`after: done - bucket ${ML} uses SSE-KMS (aws:kms) with key ${KEY}, S3 Bucket Key on`);
    });

    it('a bucket already back on the configured key is "already fixed" on the evidence of a read, with no write', async () => {
      s3.on(GetBucketEncryptionCommand).resolves(answer(kmsRule(KEY)));
      const result = await run('remediate');
      expect(inputs(PutBucketEncryptionCommand)).toStrictEqual([]);
      expect(decisionOf(result)?.outcome).toBe('already-fixed');
    });

    it('a bucket put on another KMS key since the event is left alone: stale, and the alert names the key', async () => {
      s3.on(GetBucketEncryptionCommand).resolves(answer(kmsRule(OTHER_KEY)));
      const result = await run('remediate');
      expect(inputs(PutBucketEncryptionCommand)).toStrictEqual([]);
      expect(decisionOf(result)?.outcome).toBe('stale');
      expect(alertText()).toContain(`now uses SSE-KMS (aws:kms) with key ${OTHER_KEY}, S3 Bucket Key on, not key ${KEY}`);
    });

    it('a write that still reads SSE-S3 afterwards is not reported applied', async () => {
      s3.on(GetBucketEncryptionCommand).resolves(answer(SSE_S3_AS_SET));
      const result = await run('remediate');
      expect(inputs(PutBucketEncryptionCommand)).toStrictEqual([PUT]);
      expect(decisionOf(result)?.outcome).not.toBe('applied');
    });

    it('a write S3 refuses (AccessDenied) fails, and says so', async () => {
      s3.on(GetBucketEncryptionCommand).resolves(answer(SSE_S3_AS_SET));
      s3.on(PutBucketEncryptionCommand).rejects(s3Error('AccessDenied'));
      const result = await run('remediate');
      expect(decisionOf(result)?.outcome).toBe('failed');
      expect(inputs(GetBucketEncryptionCommand)).toStrictEqual([REF]);
    });

    it('in propose mode (the default), reads the bucket and proposes the write without sending it', async () => {
      s3.on(GetBucketEncryptionCommand).resolves(answer(SSE_S3_AS_SET));
      const result = await run('propose');
      expect(inputs(PutBucketEncryptionCommand)).toStrictEqual([]);
      expect(decisionOf(result)?.outcome).toBe('proposed');
      expect(alertText()).toContain(`checked now: still needed - bucket ${ML} still has SSE-S3 (AES256), as the event set it`);
    });

    it('in remediate mode without kmsKeyId, writes nothing: the key is for a person to fill in', async () => {
      s3.on(GetBucketEncryptionCommand).resolves(answer(SSE_S3_AS_SET));
      const result = await run('remediate', {}, 's3/DeleteBucketEncryption-ml-bucket.json');
      expect(inputs(PutBucketEncryptionCommand)).toStrictEqual([]);
      expect(decisionOf(result)?.outcome).toBe('proposed');
      expect(alertText()).toContain('<fill in: the ARN of the customer managed KMS key (in us-east-1)');
    });

    it('an exempt bucket (its tag, read by the lookup) is not touched', async () => {
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'data-classification', Value: 'ml' }, { Key: 'remediation:exempt', Value: 'SEC-91' }] });
      const result = await run('remediate');
      expect(s3.commandCalls(GetBucketEncryptionCommand)).toHaveLength(0);
      expect(inputs(PutBucketEncryptionCommand)).toStrictEqual([]);
      expect(decisionOf(result)?.outcome).toBe('exempt');
    });
  });
});
