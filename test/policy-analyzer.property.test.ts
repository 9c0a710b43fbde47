import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  actionMatches,
  analyzePermissionsPolicy,
  analyzeTrustPolicy,
  isAnyResource,
  parsePolicyDocument,
  POLICY_FINDING_CODES,
  type PolicyAnalysis,
  type PolicyFinding,
} from '../engine/policy/analyzer.js';
import { SEVERITIES, severityRank } from '../engine/types.js';

const RUNS = { numRuns: 2_000 };

const ACTIONS = [
  '*', '*:*', 's3:*', 'S3:*', 's3:GetObject', 's3:Get*', 's3:List*', 'ec2:Describe*', '*:Describe*', '*:List*',
  'ec2:RunInstances', 'ec2:*', 'iam:PassRole', 'IAM:passrole', 'iam:*', 'iam:*Policy*', 'iam:Put?olePolicy',
  'iam:CreateAccessKey', 'iam:Get*', 'iam:AttachUserPolicy', 'lambda:CreateFunction', 'glue:CreateDevEndpoint',
  'cloudformation:CreateStack', 'kms:Decrypt', 'sts:AssumeRole', '*:Put*', '*:Delete*', 'ssm:GetParameter',
] as const;

const SPECIFIC_ARNS = [
  'arn:aws:s3:::reports/*',
  'arn:aws:s3:::reports',
  'arn:aws:iam::111111111111:role/app',
  'arn:aws:ec2:eu-west-1:111111111111:instance/*',
  'arn:aws:lambda:eu-west-1:111111111111:function:*',
] as const;

const RESOURCES = ['*', 'arn:aws:*:*:*:*', ...SPECIFIC_ARNS] as const;

const CONDITIONS = [
  { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
  { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } },
  { StringEquals: { 'aws:SourceVpce': ['vpce-1a2b3c4d', 'vpce-5e6f7a8b'] } },
  { Bool: { 'aws:MultiFactorAuthPresent': true } },
  { StringEquals: { 'aws:ResourceTag/team': 'data' } },
  { StringEqualsIfExists: { 'aws:RequestedRegion': 'eu-west-1' } },
  { StringLike: { 'aws:PrincipalArn': '*' } },
  { NotIpAddress: { 'aws:SourceIp': '198.51.100.7/32' } },
] as const;

const RESTRICTING_CONDITION = { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } };

function stringOrList<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | T[]> {
  return fc.oneof(arb, fc.array(arb, { minLength: 1, maxLength: 4 }));
}

type Statement = Record<string, unknown>;

const statementArb: fc.Arbitrary<Statement> = fc
  .record({
    sid: fc.option(fc.constantFrom('Admin', 'ReadOnly', 'Deploy', 'X1'), { nil: undefined }),
    effect: fc.constantFrom('Allow', 'Deny'),
    actionKey: fc.constantFrom('Action', 'Action', 'Action', 'NotAction'),
    actions: stringOrList(fc.constantFrom(...ACTIONS)),
    resourceKey: fc.constantFrom('Resource', 'Resource', 'Resource', 'NotResource'),
    resources: stringOrList(fc.constantFrom(...RESOURCES)),
    condition: fc.option(fc.constantFrom(...CONDITIONS), { nil: undefined }),
  })
  .map(({ sid, effect, actionKey, actions, resourceKey, resources, condition }) => ({
    ...(sid !== undefined && { Sid: sid }),
    Effect: effect,
    [actionKey]: actions,
    [resourceKey]: resources,
    ...(condition !== undefined && { Condition: condition }),
  }));

const statementsArb = fc.array(statementArb, { minLength: 1, maxLength: 5 });

function document(statements: readonly Statement[], single = false): object {
  return { Version: '2012-10-17', Statement: single && statements.length === 1 ? statements[0] : statements };
}

/** The same document as an object, compact JSON, pretty JSON or URL-encoded JSON. */
const encodingArb = fc.constantFrom('object', 'json', 'pretty', 'url');
function encode(doc: object, encoding: string): string | object {
  switch (encoding) {
    case 'json':
      return JSON.stringify(doc);
    case 'pretty':
      return JSON.stringify(doc, null, 2);
    case 'url':
      return encodeURIComponent(JSON.stringify(doc, null, 2));
    default:
      return doc;
  }
}

function findingsOf(result: PolicyAnalysis): PolicyFinding[] {
  if (!result.ok) throw new Error(`expected ok, got: ${result.error}`);
  return result.findings;
}

function maxRank(findings: readonly PolicyFinding[]): number {
  return Math.max(0, ...findings.map((finding) => severityRank(finding.severity)));
}

function tally(findings: readonly PolicyFinding[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const finding of findings) {
    const key = `${finding.code}/${finding.severity}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function expectWellFormed(findings: readonly PolicyFinding[], statementCount: number): void {
  for (const finding of findings) {
    expect(POLICY_FINDING_CODES).toContain(finding.code);
    expect(SEVERITIES).toContain(finding.severity);
    expect(finding.statementIndex).toBeGreaterThanOrEqual(0);
    expect(finding.statementIndex).toBeLessThan(statementCount);
    expect(finding.message.length).toBeGreaterThan(0);
  }
}

/** Reference glob matcher (dynamic programming), to check the compiled regular expressions against. */
function globMatches(pattern: string, action: string): boolean {
  const p = pattern.toLowerCase();
  const a = action.toLowerCase();
  let row = Array.from({ length: a.length + 1 }, (_, j) => j === 0);
  for (const ch of p) {
    const next = [ch === '*' && (row[0] ?? false)];
    for (let j = 1; j <= a.length; j++) {
      next[j] = ch === '*' ? (row[j] ?? false) || (next[j - 1] ?? false) : (row[j - 1] ?? false) && (ch === '?' || ch === a[j - 1]);
    }
    row = next;
  }
  return row[a.length] ?? false;
}

describe('policy analyzer properties', () => {
  it('analyzes any generated permissions policy without throwing, in any encoding', () => {
    fc.assert(
      fc.property(statementsArb, fc.boolean(), encodingArb, (statements, single, encoding) => {
        const result = analyzePermissionsPolicy(encode(document(statements, single), encoding));

        expectWellFormed(findingsOf(result), statements.length);
      }),
      RUNS,
    );
  });

  it('gives the same findings whatever the encoding', () => {
    fc.assert(
      fc.property(statementsArb, encodingArb, (statements, encoding) => {
        const doc = document(statements);

        expect(analyzePermissionsPolicy(encode(doc, encoding))).toStrictEqual(analyzePermissionsPolicy(doc));
      }),
      RUNS,
    );
  });

  it('reads a document padded with any JSON whitespace as the same document, and gives it back compact', () => {
    const whitespace = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(statementsArb, whitespace, encodingArb, (statements, pad, encoding) => {
        const compact = JSON.stringify(document(statements));
        // Whitespace between every pair of tokens (after each structural character), as an attacker would pad.
        const padded = compact.replace(/([{}[\],:])(?=(?:[^"\\]|\\.|"(?:[^"\\]|\\.)*")*$)/g, `$1${pad}`);
        const parsed = parsePolicyDocument(encoding === 'url' ? encodeURIComponent(padded) : padded);
        const reference = parsePolicyDocument(encode(document(statements), encoding));

        expect(parsed).toStrictEqual(reference);
        expect(parsed.ok && parsed.json).toBe(compact);
      }),
      { numRuns: 500 },
    );
  });

  it('never adds a finding when a Deny statement is added', () => {
    fc.assert(
      fc.property(statementsArb, statementArb, fc.nat(), (statements, extra, at) => {
        const deny = { ...extra, Effect: 'Deny' };
        const position = at % (statements.length + 1);
        const withDeny = [...statements.slice(0, position), deny, ...statements.slice(position)];

        const before = tally(findingsOf(analyzePermissionsPolicy(document(statements))));
        const after = tally(findingsOf(analyzePermissionsPolicy(document(withDeny))));

        for (const [key, count] of after) expect(count).toBeLessThanOrEqual(before.get(key) ?? 0);
      }),
      RUNS,
    );
  });

  it('never raises the maximum severity when a * resource becomes a specific ARN', () => {
    fc.assert(
      fc.property(statementsArb, fc.nat(), fc.constantFrom(...SPECIFIC_ARNS), (statements, pick, arn) => {
        const target = pick % statements.length;
        const narrowed = statements.map((statement, i) => {
          const resource = statement['Resource'];
          if (i !== target || resource === undefined) return statement;
          const narrow = (r: string): string => (isAnyResource(r) ? arn : r);
          return { ...statement, Resource: typeof resource === 'string' ? narrow(resource) : (resource as string[]).map(narrow) };
        });

        const before = maxRank(findingsOf(analyzePermissionsPolicy(document(statements))));
        const after = maxRank(findingsOf(analyzePermissionsPolicy(document(narrowed))));

        expect(after).toBeLessThanOrEqual(before);
      }),
      RUNS,
    );
  });

  it('never raises the maximum severity when a restricting condition is added', () => {
    fc.assert(
      fc.property(statementsArb, fc.nat(), (statements, pick) => {
        const target = pick % statements.length;
        const restricted = statements.map((statement, i) => (i === target && !statement['Condition'] ? { ...statement, Condition: RESTRICTING_CONDITION } : statement));

        const before = maxRank(findingsOf(analyzePermissionsPolicy(document(statements))));
        const after = maxRank(findingsOf(analyzePermissionsPolicy(document(restricted))));

        expect(after).toBeLessThanOrEqual(before);
      }),
      RUNS,
    );
  });

  it('analyzes any generated trust policy without throwing', () => {
    const principalArb = fc.oneof(
      fc.constant('*'),
      fc.record({ AWS: stringOrList(fc.constantFrom('*', '111111111111', '999999999999', 'arn:aws:iam::999999999999:role/x', 'arn:aws:iam::111111111111:root', 'AROAEXAMPLEID')) }),
      fc.record({ Service: stringOrList(fc.constantFrom('ec2.amazonaws.com', 'lambda.amazonaws.com')) }),
      fc.record({
        Federated: fc.constantFrom(
          'arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com',
          'token.actions.githubusercontent.com',
          'accounts.google.com',
          'arn:aws:iam::111111111111:saml-provider/okta',
        ),
      }),
    );
    const conditionArb = fc.option(
      fc.constantFrom(
        { StringEquals: { 'sts:ExternalId': 'abc' } },
        { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:*' } },
        { StringLike: { 'token.actions.githubusercontent.com:sub': ['repo:org/app:*', 'repo:org/infra:*'] } },
        { StringNotLike: { 'token.actions.githubusercontent.com:sub': 'repo:evil/*' } },
        { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' } },
        { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } },
      ),
      { nil: undefined },
    );
    const trustStatementArb = fc
      .record({
        effect: fc.constantFrom('Allow', 'Deny'),
        principal: principalArb,
        actions: stringOrList(fc.constantFrom('sts:AssumeRole', 'sts:AssumeRoleWithWebIdentity', 'sts:TagSession', 'sts:*', '*')),
        condition: conditionArb,
      })
      .map(({ effect, principal, actions, condition }) => ({
        Effect: effect,
        Principal: principal,
        Action: actions,
        ...(condition !== undefined && { Condition: condition }),
      }));

    fc.assert(
      fc.property(fc.array(trustStatementArb, { minLength: 1, maxLength: 4 }), encodingArb, (statements, encoding) => {
        const result = analyzeTrustPolicy(encode(document(statements), encoding), { trustedAccounts: ['222222222222'], ownAccount: '111111111111' });

        expectWellFormed(findingsOf(result), statements.length);
        const denyIndexes = statements.flatMap((statement, i) => (statement.Effect === 'Deny' ? [i] : []));
        for (const finding of findingsOf(result)) expect(denyIndexes).not.toContain(finding.statementIndex);
      }),
      RUNS,
    );
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        expect(parsePolicyDocument(text).ok).toBe(false);
        expect(analyzePermissionsPolicy(text).ok).toBe(false);
        expect(analyzeTrustPolicy(text, { trustedAccounts: [] }).ok).toBe(false);
      }),
      RUNS,
    );
  });

  it('never throws on arbitrary JSON, plain or URL-encoded', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), fc.boolean(), (json, urlEncoded) => {
        const text = urlEncoded ? encodeURIComponent(json) : json;
        const analyses = [parsePolicyDocument(text), analyzePermissionsPolicy(text), analyzeTrustPolicy(text, { trustedAccounts: [] })];
        for (const result of analyses) expect(typeof result.ok).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('never throws on arbitrary values, nor on random JSON inside a Statement', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue().map((value) => ({ Statement: value }))), (value) => {
        const result = parsePolicyDocument(value);
        expect(typeof result.ok).toBe('boolean');
        expect(typeof analyzePermissionsPolicy(value as object).ok).toBe('boolean');
        expect(typeof analyzeTrustPolicy(value as object, { trustedAccounts: [] }).ok).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('matches actions exactly like a reference glob matcher', () => {
    const unit = fc.constantFrom('a', 'b', 'A', ':', '*', '?', '.', '(');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', 'b', 'B', ':', '.', '('), maxLength: 16 }), (pattern, action) => {
        expect(actionMatches(pattern, action)).toBe(globMatches(pattern, action));
      }),
      RUNS,
    );
  });
});
