import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import { field, type CloudTrailEvent } from '../../engine/event.js';
import type { Facts } from '../../engine/types.js';
import { s3Rules } from '../../remediations/s3/index.js';
import { policyDigest } from '../../remediations/s3/resource-policy.js';
import { MAX_BUCKET_POLICY_CHARACTERS } from '../../remediations/s3/s3-bucket-policy-public.js';
import { S3MlBucketTlsSettingsSchema, tlsPolicyProbe } from '../../remediations/s3/s3-ml-bucket-tls-not-enforced.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const rule = registeredRule('s3-ml-bucket-tls-not-enforced');
const evaluate = ruleEvaluator('s3-ml-bucket-tls-not-enforced');
const ML = 'ml-training-data-111122223333';
const REF = { Bucket: ML, ExpectedBucketOwner: '111122223333' };
const digest = (document: string | object) => policyDigest(document, MAX_BUCKET_POLICY_CHARACTERS);

/** The read before and after the proposed PutBucketPolicy. */
function tlsChecks(document: string | null, description: string) {
  const check = { service: 's3', operation: 'GetBucketPolicy', input: REF, probe: 'bucketPolicyTls', expect: { bucket: ML, partition: 'aws', document }, description };
  return { precondition: check, verification: check };
}

const tagged = (tags: Record<string, string>): Facts => ({ bucketTags: { status: 'ok', value: { tags } } });
const ML_TAGS = tagged({ 'data-classification': 'ML', team: 'vision' });

const tlsDeny = (sid = 'DenyInsecureTransport') => ({
  Sid: sid,
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${ML}`, `arn:aws:s3:::${ML}/*`],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
});

function withPolicy(policy: unknown): CloudTrailEvent {
  const event = loadEvent('s3/PutBucketPolicy-org-condition-no-tls-deny.json');
  event.detail.requestParameters = { bucketName: ML, bucketPolicy: policy };
  return event;
}

describe('s3-ml-bucket-tls-not-enforced', () => {
  describe('settings', () => {
    it('defaults the ML data tag to data-classification=ml', () => {
      expect(S3MlBucketTlsSettingsSchema.parse({})).toStrictEqual({ mlDataTag: { key: 'data-classification', value: 'ml' } });
    });
  });

  describe('evaluate', () => {
    it('proposes adding the TLS deny to an ML bucket policy, keeping every statement, and changes nothing itself', () => {
      // Arrange
      const event = loadEvent('s3/PutBucketPolicy-org-condition-no-tls-deny.json');
      const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Version: string; Statement: unknown[] };
      // Act
      const verdict = evaluate(event, { facts: ML_TAGS });
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `bucket ${ML} (tagged data-classification=ml): the policy has no statement denying requests made without TLS`,
        resources: [`bucket ${ML}`],
        findings: [
          {
            code: 'tls-not-enforced',
            severity: 'high',
            message: `Bucket ${ML} is tagged data-classification=ml (ML data), and the policy has no statement denying requests made without TLS: data can travel over plain HTTP.`,
            subject: `bucket ${ML}`,
          },
        ],
        plan: [],
        proposal: [
          {
            service: 's3',
            operation: 'PutBucketPolicy',
            input: { ...REF, Policy: JSON.stringify({ ...policy, Statement: [...policy.Statement, tlsDeny()] }) },
            reason: `PROPOSAL, not applied: add to the policy of bucket ${ML} a statement that denies every request made without TLS; every existing statement is kept as written.`,
            undo: { service: 's3', operation: 'PutBucketPolicy', input: { ...REF, Policy: JSON.stringify(policy) }, reason: `Put the policy of bucket ${ML} back exactly as the event set it.` },
            ...tlsChecks(digest(policy) ?? null, `the policy of bucket ${ML} is still the one this event set`),
          },
        ],
      });
    });

    it('after DeleteBucketPolicy proposes a policy of the TLS deny alone, undone by deleting it again', () => {
      const verdict = evaluate(loadEvent('s3/DeleteBucketPolicy-ml-bucket.json'), { facts: ML_TAGS });
      expect(verdict.kind === 'violation' && verdict.proposal).toStrictEqual([
        {
          service: 's3',
          operation: 'PutBucketPolicy',
          input: { ...REF, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [tlsDeny()] }) },
          reason: `PROPOSAL, not applied: give bucket ${ML} a policy that denies every request made without TLS. The deleted policy is not in the event: merge in any statements it had that are still needed.`,
          undo: { service: 's3', operation: 'DeleteBucketPolicy', input: REF, reason: `Delete the policy of bucket ${ML} again, as the event did.` },
          ...tlsChecks(null, `bucket ${ML} still has no bucket policy, as the event left it`),
        },
      ]);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.message).toContain('the deleted policy took any TLS-only statement with it');
    });

    it('does not guess a pass when the tags are unavailable: it reports, and says the tags were unknown', () => {
      const verdict = evaluate(loadEvent('s3/DeleteBucketPolicy-ml-bucket.json'), {
        facts: {
          bucketTags: { status: 'unavailable', reason: 'offline replay has no AWS access' },
        },
      });
      expect(verdict.kind === 'violation' && verdict.findings).toStrictEqual([
        {
          code: 'tls-not-enforced-ml-data-unknown',
          severity: 'medium',
          message: `For bucket ${ML}, the deleted policy took any TLS-only statement with it, and its tags could not be read (offline replay has no AWS access): if it holds ML data (tag data-classification=ml), data can travel over plain HTTP.`,
          subject: `bucket ${ML}`,
        },
      ]);
      expect(verdict.kind === 'violation' && verdict.summary).toBe(
        `bucket ${ML}: the deleted policy took any TLS-only statement with it; whether it holds ML data is unknown (tags unavailable), so it is reported`,
      );
    });

    it.each([
      ['a bucket without tags (NoSuchTagSet)', { bucketTags: { status: 'ok', value: null } } as Facts],
      ['a bucket with another classification', tagged({ 'data-classification': 'public' })],
    ])('is compliant for %s', (_, facts) => {
      expect(evaluate(loadEvent('s3/DeleteBucketPolicy-ml-bucket.json'), { facts })).toStrictEqual({
        kind: 'compliant',
        summary: `bucket ${ML} is not tagged data-classification=ml, so this rule does not require TLS-only access`,
        resources: [`bucket ${ML}`],
      });
    });

    it('uses the configured ML data tag', () => {
      const facts = tagged({ workload: 'training' });
      const raw = { rules: { 's3-ml-bucket-tls-not-enforced': { mlDataTag: { key: 'workload', value: 'training' } } } };
      expect(evaluate(loadEvent('s3/DeleteBucketPolicy-ml-bucket.json'), { facts, config: raw }).kind).toBe('violation');
    });

    it('is compliant when the policy denies requests without TLS, whatever the tags', () => {
      expect(evaluate(loadEvent('s3/PutBucketPolicy-tls-deny-and-vpce-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `bucket ${ML}: Statement 0 ("DenyInsecureTransport") of the policy denies requests made without TLS`,
        resources: [`bucket ${ML}`],
      });
    });

    it.each([
      ['BoolIfExists and an object-only resource', { ...tlsDeny(), Resource: `arn:aws:s3:::${ML}/*`, Condition: { BoolIfExists: { 'aws:SecureTransport': false } } }],
      ['AWS * and listed object actions', { ...tlsDeny(), Principal: { AWS: '*' }, Action: ['s3:GetObject', 's3:PutObject'] }],
      ['a bucket-name wildcard resource', { ...tlsDeny(), Resource: 'arn:aws:s3:::ml-training-data-*/*' }],
    ])('accepts a TLS deny written with %s', (_, statement) => {
      expect(evaluate(withPolicy({ Statement: [statement] }), { facts: ML_TAGS }).kind).toBe('compliant');
    });

    it.each([
      ['an Allow', { ...tlsDeny(), Effect: 'Allow' }],
      ['a named principal', { ...tlsDeny(), Principal: { AWS: 'arn:aws:iam::111122223333:root' } }],
      ['only the bucket, not its objects', { ...tlsDeny(), Resource: `arn:aws:s3:::${ML}` }],
      ['only reads', { ...tlsDeny(), Action: 's3:GetObject' }],
      ['SecureTransport true', { ...tlsDeny(), Condition: { Bool: { 'aws:SecureTransport': 'true' } } }],
      ['another bucket', { ...tlsDeny(), Resource: 'arn:aws:s3:::other-bucket/*' }],
    ])('does not count a statement with %s as enforcing TLS', (_, statement) => {
      expect(evaluate(withPolicy({ Statement: [statement] }), { facts: ML_TAGS }).kind).toBe('violation');
    });

    it('picks a Sid the policy does not use yet', () => {
      const verdict = evaluate(withPolicy({ Statement: [{ ...tlsDeny(), Effect: 'Allow' }] }), { facts: ML_TAGS });
      const policy = verdict.kind === 'violation' ? String(verdict.proposal?.[0]?.input['Policy']) : '';
      expect((JSON.parse(policy) as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid)).toStrictEqual(['DenyInsecureTransport', 'DenyInsecureTransport2']);
    });

    it('leaves an ML bucket carrying the exemption tag alone, and says what the exemption let through', () => {
      const verdict = evaluate(loadEvent('s3/DeleteBucketPolicy-ml-bucket.json'), { facts: tagged({ 'data-classification': 'ml', 'remediation:exempt': 'legacy HTTP client' }) });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: `bucket ${ML} is tagged remediation:exempt: legacy HTTP client`,
        resources: [`bucket ${ML}`],
        findings: [
          {
            code: 'tls-not-enforced',
            severity: 'high',
            message: `Bucket ${ML} is tagged data-classification=ml (ML data), and the deleted policy took any TLS-only statement with it: data can travel over plain HTTP.`,
            subject: `bucket ${ML}`,
          },
        ],
      });
    });

    it('reads the policy as a JSON object (as CloudTrail records it) and as JSON text alike', () => {
      const event = loadEvent('s3/PutBucketPolicy-org-condition-no-tls-deny.json');
      const policy = field(event.detail.requestParameters, 'bucketPolicy') as object;
      const fromObject = evaluate(event, { facts: ML_TAGS });
      const fromText = evaluate(withPolicy(JSON.stringify(policy, null, 2)), { facts: ML_TAGS });
      expect(fromText.kind === 'violation' && fromText.findings).toStrictEqual(fromObject.kind === 'violation' && fromObject.findings);
      expect(fromText.kind === 'violation' && fromText.proposal?.[0]?.input).toStrictEqual(fromObject.kind === 'violation' && fromObject.proposal?.[0]?.input);
      expect(fromText.kind === 'violation' && fromText.proposal?.[0]?.precondition).toStrictEqual(fromObject.kind === 'violation' && fromObject.proposal?.[0]?.precondition);
      expect(evaluate(withPolicy(JSON.stringify({ Statement: [tlsDeny()] })), { facts: ML_TAGS }).kind).toBe('compliant');
    });

    it.each([
      ['ML data', ML_TAGS, 'high'],
      ['unknown tags', {}, 'medium'],
    ] as const)('cannot inspect an unreadable policy on a bucket with %s: an alert as grave as what it may hide', (_, facts, severity) => {
      expect(evaluate(withPolicy('invalid-json-policy'), { facts })).toStrictEqual({
        kind: 'skipped',
        reason: `the policy of bucket ${ML} could not be analysed: Policy document is not valid JSON (nor URL-encoded JSON).`,
        resources: [`bucket ${ML}`],
        severity,
      });
    });

    it('needs no policy at all for a bucket known not to hold ML data', () => {
      expect(evaluate(withPolicy('invalid-json-policy'), { facts: tagged({ 'data-classification': 'public' }) })).toStrictEqual({
        kind: 'compliant',
        summary: `bucket ${ML} is not tagged data-classification=ml, so this rule does not require TLS-only access`,
        resources: [`bucket ${ML}`],
      });
    });
  });

  describe('bucketPolicyTls probe (GetBucketPolicy before and after the proposed PutBucketPolicy)', () => {
    const event = loadEvent('s3/PutBucketPolicy-org-condition-no-tls-deny.json');
    const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Statement: unknown[] };
    const afterPut = { expect: { bucket: ML, partition: 'aws', document: digest(policy) ?? null } };
    const afterDelete = { expect: { bucket: ML, partition: 'aws', document: null } };

    it('needs the deny while the policy is the event\'s, or after a delete while there is none', () => {
      expect(tlsPolicyProbe.judge({ Policy: JSON.stringify(policy, null, 2) }, afterPut.expect)).toStrictEqual({
        state: 'needed',
        evidence: `the policy of bucket ${ML} is still the one this event set, with no TLS deny`,
      });
      expect(tlsPolicyProbe.judge(null, afterDelete.expect)).toStrictEqual({ state: 'needed', evidence: `bucket ${ML} still has no bucket policy, as the event left it` });
    });

    it('is done once a statement of the policy denies requests without TLS', () => {
      const withDeny = { ...policy, Statement: [...policy.Statement, tlsDeny()] };
      expect(tlsPolicyProbe.judge({ Policy: JSON.stringify(withDeny) }, afterPut.expect)).toStrictEqual({
        state: 'done',
        evidence: `Statement 1 ("DenyInsecureTransport") of the policy of bucket ${ML} denies requests made without TLS`,
      });
    });

    it('is changed when the event\'s policy was deleted since, or another put', () => {
      expect(tlsPolicyProbe.judge(null, afterPut.expect)).toStrictEqual({
        state: 'changed',
        evidence: `bucket ${ML} has no policy now: the policy this event set was deleted since; nothing written`,
      });
      expect(tlsPolicyProbe.judge({ Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }] }) }, afterDelete.expect)).toStrictEqual({
        state: 'changed',
        evidence: `the policy of bucket ${ML} is no longer the one this event left: nothing written; the newer policy is judged by its own event`,
      });
    });
  });

  describe('decide', () => {
    it('never acts on a failed call', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/DeleteBucketPolicy-failed-access-denied.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing', cause: 'failed-call' });
    });
  });
});
