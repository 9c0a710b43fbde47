import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import { field, type CloudTrailEvent } from '../../engine/event.js';
import type { Facts } from '../../engine/types.js';
import { s3Rules } from '../../remediations/s3/index.js';
import { canonicalPolicy, policyDigest, publicGrants, S3_CONFINING_KEYS } from '../../remediations/s3/resource-policy.js';
import { bucketPolicyProbe, MAX_BUCKET_POLICY_CHARACTERS } from '../../remediations/s3/s3-bucket-policy-public.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const rule = registeredRule('s3-bucket-policy-public');
const evaluate = ruleEvaluator('s3-bucket-policy-public');
const ML = 'ml-training-data-111122223333';
const ALL_ON = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const ALL_OFF = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };

/** The rule's probe of that name. */
function bucketPolicyPublicProbe(name: string) {
  const probe = rule.probes.find((candidate) => candidate.name === name);
  if (!probe) throw new Error(`no probe ${name}`);
  return probe;
}

function withPolicy(policy: unknown): CloudTrailEvent {
  const event = loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json');
  event.detail.requestParameters = { bucketName: ML, bucketPolicy: policy };
  return event;
}

const allow = (extra: Record<string, unknown>) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${ML}/*`, ...extra }] });
const block = (configuration: Record<string, boolean> | null): Facts => ({ publicAccessBlock: { status: 'ok', value: configuration && { configuration } } });
const containReason = `Turn on RestrictPublicBuckets for bucket ${ML}. While the policy has a public statement, S3 then lets only AWS service principals and principals of account 111122223333 use it: the open statements stop working for everyone else, anonymous requests are refused, and so is any cross-account access the policy grants. The policy itself is left for a person (see the proposal).`;
const digest = (document: string | object) => policyDigest(document, MAX_BUCKET_POLICY_CHARACTERS);
const REF = { Bucket: ML, ExpectedBucketOwner: '111122223333' };

describe('s3-bucket-policy-public', () => {
  describe('evaluate', () => {
    it('contains a public statement with RestrictPublicBuckets, keeps the other settings, and proposes the policy without it', () => {
      // Arrange
      const event = loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json');
      const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Version: string; Statement: unknown[] };
      const fixed = JSON.stringify({ ...policy, Statement: [policy.Statement[1]] });
      const before = { ...ALL_OFF, BlockPublicAcls: true, IgnorePublicAcls: true };
      const blockCheck = {
        service: 's3',
        operation: 'GetPublicAccessBlock',
        input: REF,
        probe: 'bucketPublicAccessBlock',
        expect: { target: `bucket ${ML}`, required: ['RestrictPublicBuckets'], assumed: before, assumedFrom: 'read when the event was judged' },
        description: `bucket ${ML} still has BlockPublicAcls and IgnorePublicAcls on, BlockPublicPolicy and RestrictPublicBuckets off, as read when the event was judged`,
      };
      const policyCheck = {
        service: 's3',
        operation: 'GetBucketPolicy',
        input: REF,
        probe: 'bucketPolicy',
        expect: { bucket: ML, document: digest(policy), fixed: digest(fixed) },
        description: `the policy of bucket ${ML} is still the one this event set`,
      };
      // Act
      const verdict = evaluate(event, { facts: block(before) });
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `bucket ${ML}: Statement 0 ("PublicReadModels") of the policy lets the public in; contained with RestrictPublicBuckets (until then only AWS services and account 111122223333 can use the policy); the statement-level fix is proposed`,
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
            precondition: blockCheck,
            verification: blockCheck,
          },
        ],
        proposal: [
          {
            service: 's3',
            operation: 'PutBucketPolicy',
            input: { ...REF, Policy: fixed },
            reason: `PROPOSAL, not applied: replace the policy of bucket ${ML} with the same document minus statement 0. Check first that no application relies on anonymous access.`,
            undo: {
              service: 's3',
              operation: 'PutBucketPolicy',
              input: { ...REF, Policy: JSON.stringify(policy) },
              reason: `Put the policy of bucket ${ML} back exactly as the event set it.`,
            },
            alreadyDoneCodes: ['NoSuchBucket'],
            precondition: policyCheck,
            verification: policyCheck,
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

    it('without knowing the current block, runs only while RestrictPublicBuckets is off (all four on never turns a setting off)', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.precondition).toStrictEqual({
        service: 's3',
        operation: 'GetPublicAccessBlock',
        input: { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012' },
        probe: 'bucketPublicAccessBlock',
        expect: { target: 'bucket example-bucket', required: ['RestrictPublicBuckets'] },
        description: 'bucket example-bucket still has RestrictPublicBuckets off',
      });
    });

    it('proposes DeleteBucketPolicy when every statement is open, checked against the event policy (genuine Panther record)', () => {
      const event = loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json');
      const policy = field(event.detail.requestParameters, 'bucketPolicy') as object;
      const verdict = evaluate(event);
      const check = {
        service: 's3',
        operation: 'GetBucketPolicy',
        input: { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012' },
        probe: 'bucketPolicy',
        expect: { bucket: 'example-bucket', document: digest(policy) },
        description: 'the policy of bucket example-bucket is still the one this event set',
      };
      expect(verdict.kind === 'violation' && verdict.proposal).toStrictEqual([
        {
          service: 's3',
          operation: 'DeleteBucketPolicy',
          input: { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012' },
          reason: 'PROPOSAL, not applied: delete the policy of bucket example-bucket: every statement in it (statement 0) is open to the public.',
          undo: {
            service: 's3',
            operation: 'PutBucketPolicy',
            input: { Bucket: 'example-bucket', ExpectedBucketOwner: '123456789012', Policy: JSON.stringify(policy) },
            reason: 'Put the policy of bucket example-bucket back exactly as the event set it.',
          },
          alreadyDoneCodes: ['NoSuchBucket'],
          precondition: check,
          verification: check,
        },
      ]);
    });

    it('says exactly what RestrictPublicBuckets cuts: the cross-account statements of a public policy too, and proposes the statement-level fix', () => {
      // Arrange: a public statement beside an organization-confined one, a grant to a partner account, the owner's role and a service principal.
      const bucket = 'amzn-s3-demo-bucket';
      const event = loadEvent('s3/PutBucketPolicy-public-beside-org-and-partner-grants.json');
      const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Statement: unknown[] };
      // Act
      const verdict = evaluate(event, { facts: block(null) });
      // Assert
      expect(verdict.kind === 'violation' && verdict.summary).toBe(
        `bucket ${bucket}: Statement 0 ("PublicReadDocs") of the policy lets the public in; contained with RestrictPublicBuckets, which until then also cuts the cross-account access of Statement 1 ("OrgRead") and Statement 2 ("PartnerWrite"); the statement-level fix is proposed`,
      );
      expect(verdict.kind === 'violation' && verdict.plan[0]?.reason).toBe(
        `Turn on RestrictPublicBuckets for bucket ${bucket}. While the policy has a public statement, S3 then lets only AWS service principals and principals of account 111122223333 use it: the open statements stop working for everyone else, anonymous requests are refused, and so is any cross-account access the policy grants, including Statement 1 ("OrgRead") and Statement 2 ("PartnerWrite"), which are not public by themselves. The policy itself is left for a person (see the proposal).`,
      );
      expect(verdict.kind === 'violation' && verdict.proposal?.map((step) => [step.operation, step.input['Policy'], step.undo?.input['Policy'], step.reason])).toStrictEqual([
        [
          'PutBucketPolicy',
          JSON.stringify({ ...policy, Statement: policy.Statement.slice(1) }),
          JSON.stringify(policy),
          `PROPOSAL, not applied: replace the policy of bucket ${bucket} with the same document minus statement 0. Check first that no application relies on anonymous access. The policy is then no longer public, so RestrictPublicBuckets stops restricting it and the cross-account access of Statement 1 ("OrgRead") and Statement 2 ("PartnerWrite") works again; the block itself stays on.`,
        ],
      ]);
    });

    it('reads the policy as a JSON object (as CloudTrail records it) and as JSON text alike', () => {
      const event = loadEvent('s3/PutBucketPolicy-public-beside-org-and-partner-grants.json');
      const policy = field(event.detail.requestParameters, 'bucketPolicy') as object;
      const asText = loadEvent('s3/PutBucketPolicy-public-beside-org-and-partner-grants.json');
      asText.detail.requestParameters = { ...asText.detail.requestParameters, bucketPolicy: JSON.stringify(policy, null, 2) };
      const fromObject = evaluate(event, { facts: block(null) });
      const fromText = evaluate(asText, { facts: block(null) });
      expect(fromText.kind === 'violation' && fromText.findings).toStrictEqual(fromObject.kind === 'violation' && fromObject.findings);
      expect(fromText.kind === 'violation' && fromText.summary).toStrictEqual(fromObject.kind === 'violation' && fromObject.summary);
      expect(fromText.kind === 'violation' && fromText.plan).toStrictEqual(fromObject.kind === 'violation' && fromObject.plan);
      // The proposal and its check are the same; only the undo keeps the text exactly as the caller sent it.
      expect(fromText.kind === 'violation' && fromText.proposal?.[0]?.input).toStrictEqual(fromObject.kind === 'violation' && fromObject.proposal?.[0]?.input);
      expect(fromText.kind === 'violation' && fromText.proposal?.[0]?.precondition).toStrictEqual(fromObject.kind === 'violation' && fromObject.proposal?.[0]?.precondition);
      expect(fromText.kind === 'violation' && fromText.proposal?.[0]?.undo?.input['Policy']).toBe(JSON.stringify(policy, null, 2));
    });

    it('undoes with DeletePublicAccessBlock when the bucket had no block', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-principal-star-flatiron.json'), { facts: block(null) });
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

    it('never decides "already done" from the lookup: the read just before the write does, with RestrictPublicBuckets on already', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json'), { facts: block(ALL_ON) });
      const step = verdict.kind === 'violation' ? verdict.plan[0] : undefined;
      expect(step?.alreadyDone).toBeUndefined();
      expect(step && bucketPolicyPublicProbe('bucketPublicAccessBlock').judge({ PublicAccessBlockConfiguration: ALL_ON }, step.precondition?.expect ?? {})).toStrictEqual({
        state: 'done',
        evidence: `bucket ${ML} has RestrictPublicBuckets on`,
      });
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

    it('cannot inspect an unreadable policy (genuine Panther shape): a high-severity alert with the reason', () => {
      const event = withPolicy('invalid-json-policy');
      expect(evaluate(event)).toStrictEqual({
        kind: 'skipped',
        reason: `the policy of bucket ${ML} could not be analysed: Policy document is not valid JSON (nor URL-encoded JSON).`,
        resources: [`bucket ${ML}`],
        severity: 'high',
      });
    });

    it('cannot inspect an event without its policy: a high-severity alert', () => {
      const event = loadEvent('s3/PutBucketPolicy-public-read-beside-tls-deny.json');
      event.detail.requestParameters = { bucketName: ML, policy: '' };
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: `the event carries no policy for bucket ${ML}`, resources: [`bucket ${ML}`], severity: 'high' });
    });

    it('leaves a bucket carrying the exemption tag alone, and says what the exemption let through', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketPolicy-public-aws-star-panther.json'), {
        facts: {
          bucketTags: { status: 'ok', value: { tags: { 'remediation:exempt': 'public dataset' } } },
        },
      });
      expect(verdict).toStrictEqual({
        kind: 'exempt',
        reason: 'bucket example-bucket is tagged remediation:exempt: public dataset',
        resources: ['bucket example-bucket'],
        findings: [
          {
            code: 'bucket-policy-public',
            severity: 'critical',
            message: 'Statement 0 ("Public Access") of the policy of bucket example-bucket allows Principal {"AWS": "*"} to use s3:GetBucketAcl, and no condition confines it to known callers.',
            subject: 'Statement 0 ("Public Access")',
          },
        ],
      });
    });

    it('grants PutBucketPublicAccessBlock only on buckets of the deploying account; the reads come from its lookups and probes', () => {
      expect(rule.permissions).toStrictEqual([
        { action: 's3:PutBucketPublicAccessBlock', resource: 'arn:${AWS::Partition}:s3:::*', condition: { StringEquals: { 'aws:ResourceAccount': '${AWS::AccountId}' } } },
      ]);
      expect(rule.probes.map((probe) => [probe.name, probe.operation, probe.resource, probe.notFoundCodes])).toStrictEqual([
        ['bucketPublicAccessBlock', 'GetPublicAccessBlock', 'arn:${AWS::Partition}:s3:::*', ['NoSuchPublicAccessBlockConfiguration', 'NoSuchBucket']],
        ['bucketPolicy', 'GetBucketPolicy', 'arn:${AWS::Partition}:s3:::*', ['NoSuchBucketPolicy', 'NoSuchBucket']],
      ]);
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

  describe('bucketPolicy probe (GetBucketPolicy before and after the proposed fix)', () => {
    const event = loadEvent('s3/PutBucketPolicy-public-beside-org-and-partner-grants.json');
    const policy = field(event.detail.requestParameters, 'bucketPolicy') as { Version: string; Statement: Record<string, unknown>[] };
    const fixed = { ...policy, Statement: policy.Statement.slice(1) };
    const expectation = { bucket: 'amzn-s3-demo-bucket', document: digest(policy), fixed: digest(fixed) };
    const judge = (stored: string | null) => bucketPolicyProbe.judge(stored === null ? null : { Policy: stored }, expectation);

    it('needs the fix while the policy is the event\'s, however S3 writes it back (whitespace, one-element lists, account ids as root ARNs)', () => {
      const partner = policy.Statement[2] as { Principal: { AWS: string } };
      const rewritten = {
        ...policy,
        Statement: policy.Statement.map((statement, index) =>
          index === 2 ? { ...statement, Principal: { AWS: ['444455556666'] }, Action: [String(statement['Action'])] } : statement,
        ),
      };
      expect(partner.Principal.AWS).toBe('arn:aws:iam::444455556666:root');
      expect(canonicalPolicy(rewritten, MAX_BUCKET_POLICY_CHARACTERS)).toBe(canonicalPolicy(policy, MAX_BUCKET_POLICY_CHARACTERS));
      expect(judge(JSON.stringify(rewritten, null, 4))).toStrictEqual({ state: 'needed', evidence: 'the policy of bucket amzn-s3-demo-bucket is still the one this event set' });
    });

    it('is done when the bucket has no policy (NoSuchBucketPolicy) or holds the proposed one', () => {
      expect(judge(null)).toStrictEqual({ state: 'done', evidence: 'bucket amzn-s3-demo-bucket has no bucket policy now' });
      expect(judge(JSON.stringify(fixed))).toStrictEqual({ state: 'done', evidence: 'the policy of bucket amzn-s3-demo-bucket is the proposed one, without its open statements' });
    });

    it('is changed, and writes nothing, when another policy was put since', () => {
      const other = { ...policy, Statement: [{ ...policy.Statement[0], Resource: 'arn:aws:s3:::amzn-s3-demo-bucket/other/*' }] };
      expect(judge(JSON.stringify(other))).toStrictEqual({
        state: 'changed',
        evidence: 'the policy of bucket amzn-s3-demo-bucket is no longer the one this event set: nothing written; the newer policy is judged by its own event',
      });
    });
  });

  describe('decide', () => {
    it('never acts on a failed call (genuine Panther record)', async () => {
      const config = parseConfig({}, s3Rules);
      const decision = await decide(loadEvent('s3/PutBucketPolicy-failed-access-denied-panther.json'), rule, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing', cause: 'failed-call' });
    });
  });
});
