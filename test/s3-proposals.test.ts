/**
 * The S3 proposals as a person runs them (the executor, with the rule's
 * probes): the policy fix of s3-bucket-policy-public and the TLS deny of
 * s3-ml-bucket-tls-not-enforced are each read before (still the event's
 * policy?) and after (fixed?), against SDK clients mocked with the answers S3
 * gives: `NoSuchBucketPolicy` for a bucket without a policy, the policy as
 * JSON text otherwise.
 */
import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, PutBucketPolicyCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, type CommandTable } from '../engine/aws.js';
import { parseConfig, settingsFor } from '../engine/config.js';
import { field, type CloudTrailEvent } from '../engine/event.js';
import { executePlan } from '../engine/executor.js';
import type { Facts, Plan, Rule } from '../engine/types.js';
import { s3Rules } from '../remediations/s3/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { registeredRule } from './helpers/registered.js';

const s3BucketPolicyPublic = registeredRule('s3-bucket-policy-public');
const s3MlBucketTlsNotEnforced = registeredRule('s3-ml-bucket-tls-not-enforced');

const s3 = mockClient(S3Client);
/** What a person running a proposal holds: the reads and the proposed writes (the s3 function itself has no policy write). */
const PERSON: CommandTable = {
  clients: { s3: S3Client },
  commands: { 's3:GetBucketPolicy': GetBucketPolicyCommand, 's3:PutBucketPolicy': PutBucketPolicyCommand, 's3:DeleteBucketPolicy': DeleteBucketPolicyCommand },
};
const gateway = createAwsGateway(PERSON, { region: 'us-east-1' });
const NOW = new Date('2025-03-11T12:00:00Z');
const ML = 'ml-training-data-111122223333';
const ML_REF = { Bucket: ML, ExpectedBucketOwner: '111122223333' };
const DEMO_REF = { Bucket: 'amzn-s3-demo-bucket', ExpectedBucketOwner: '111122223333' };

function s3Error(name: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: {}, message: name });
}

function proposalOf(rule: Rule, event: CloudTrailEvent, facts: Facts = {}): Plan {
  const config = parseConfig({}, s3Rules);
  const verdict = rule.evaluate(event, facts, { config, settings: settingsFor(rule, config), now: NOW });
  if (verdict.kind !== 'violation' || !verdict.proposal) throw new Error(`no proposal: ${JSON.stringify(verdict)}`);
  return verdict.proposal;
}

const inputs = (command: Parameters<typeof s3.commandCalls>[0]) => s3.commandCalls(command).map((call) => call.args[0].input);

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
      expect(inputs(GetBucketPolicyCommand)).toStrictEqual([DEMO_REF, DEMO_REF]);
      expect(inputs(PutBucketPolicyCommand)).toStrictEqual([{ ...DEMO_REF, Policy: fixed }]);
      expect(report.status).toBe('applied');
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'done', evidence: 'the policy of bucket amzn-s3-demo-bucket is the proposed one, without its open statements' });
    });

    it('on a second run reads the proposed policy in place and writes nothing: already-fixed', async () => {
      s3.on(GetBucketPolicyCommand).resolves({ Policy: fixed });
      const report = await executePlan(proposal, gateway, { probes: s3BucketPolicyPublic.probes });
      expect(inputs(GetBucketPolicyCommand)).toStrictEqual([DEMO_REF]);
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
      expect(inputs(PutBucketPolicyCommand)).toHaveLength(1);
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
      expect(inputs(DeleteBucketPolicyCommand)).toStrictEqual([ref]);
      expect(inputs(GetBucketPolicyCommand)).toStrictEqual([ref, ref]);
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
      expect(inputs(PutBucketPolicyCommand)).toStrictEqual([{ ...ML_REF, Policy: proposed }]);
      expect(inputs(GetBucketPolicyCommand)).toStrictEqual([ML_REF, ML_REF]);
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
      expect(inputs(PutBucketPolicyCommand)).toStrictEqual([{ ...ML_REF, Policy: afterDelete[0]?.input['Policy'] }]);
      expect(report.status).toBe('applied');
    });
  });
});
