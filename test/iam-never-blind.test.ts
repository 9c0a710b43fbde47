/**
 * Issue 14, "padding a policy makes the IAM rules silent". IAM's size quotas
 * do not count whitespace, so a document padded with spaces, tabs or newlines
 * up to IAM's own 131,072-character parameter limit is accepted by IAM: the
 * bot must judge it by its content, and plan with a compact copy of it (the
 * padding must not inflate the plan past the plan guard, which would withhold
 * it). A document CloudTrail left out of the record (`omitted: true`) is a
 * high-severity "could not inspect" alert, never silence.
 *
 * Mutations these tests catch: counting whitespace against the quota; putting
 * the padded text in the undo; dropping the omission check (the skip then says
 * only that names are missing, or turns quiet).
 */
import { DeleteRolePolicyCommand, GetRoleCommand, GetRolePolicyCommand, IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import type { MetricName } from '../engine/metrics.js';
import { MAX_STEP_INPUT_CHARS } from '../engine/plan-guard.js';
import { analyzePermissionsPolicy, analyzeTrustPolicy, IAM_POLICY_SIZE_LIMITS, MAX_RAW_POLICY_INPUT } from '../engine/policy/analyzer.js';
import { iamRules } from '../remediations/iam/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { iamFamily } from '../remediations/iam/index.js';
import { registeredRule } from './helpers/registered.js';

const iamCommands = runtimeCommands(iamFamily);
const iamInlinePolicyAdmin = registeredRule('iam-inline-policy-admin');

const iam = mockClient(IAMClient);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const NOW = new Date('2025-03-10T14:00:00Z');

/** The fixture's admin document, padded with newlines to exactly IAM's parameter limit: IAM accepts it, its quota ignores whitespace. */
function paddedAdmin(): { event: CloudTrailEvent; padded: string; plain: string } {
  const event = loadEvent('iam/PutRolePolicy-admin-star.json');
  const plain = String(event.detail.requestParameters?.['policyDocument']);
  const padded = plain.replace('"Statement"', `${'\n'.repeat(MAX_RAW_POLICY_INPUT - plain.length)}"Statement"`);
  (event.detail.requestParameters as Record<string, unknown>)['policyDocument'] = padded;
  return { event, padded, plain };
}

function handlerFor(metrics: { name: MetricName; rule?: string }[]) {
  return remediationHandler({
    rules: iamRules,
    commands: iamCommands,
    logger: recordingLogger(),
    config: parseConfig({ defaultMode: 'remediate' }, iamRules),
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-iam' },
    gateway: createAwsGateway(iamCommands, { region: 'us-east-1', maxAttempts: 1 }),
    metrics: { count: (name, rule) => metrics.push({ name, ...(rule !== undefined && { rule }) }) },
  });
}

describe('a padded policy is judged by its content (issue 14)', () => {
  beforeEach(() => {
    iam.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('counts IAM quotas without whitespace: a document at IAM\'s 131,072-character limit that holds 100 characters is analysed', () => {
    const { padded } = paddedAdmin();
    expect(padded.length).toBe(MAX_RAW_POLICY_INPUT);
    expect(analyzePermissionsPolicy(padded, { maxPolicyCharacters: IAM_POLICY_SIZE_LIMITS.userInlinePolicies })).toMatchObject({ ok: true, findings: [{ code: 'full-admin' }] });
    // URL-encoded, as IAM's own answers are, it is three times as long: still the same document.
    expect(analyzePermissionsPolicy(encodeURIComponent(padded))).toMatchObject({ ok: true, findings: [{ code: 'full-admin' }] });
    expect(analyzePermissionsPolicy(`${padded} `)).toMatchObject({ ok: false, error: expect.stringContaining("IAM's limit, whitespace included") });
  });

  it('is a violation with a plan, not withheld and not skipped, and the undo carries the compact document', async () => {
    const { event, plain } = paddedAdmin();
    const config = parseConfig({ defaultMode: 'remediate' }, iamRules);
    const decision = await decide(event, iamInlinePolicyAdmin, { config, env: {}, facts: offlineFacts, now: NOW });
    expect(decision.verdict.kind).toBe('violation');
    if (decision.verdict.kind !== 'violation') return;
    expect(decision.verdict.withheld).toBeUndefined();
    expect(decision.verdict.plan.map((step) => step.operation)).toStrictEqual(['DeleteRolePolicy']);
    const undoDocument = decision.verdict.plan[0]?.undo?.input['PolicyDocument'];
    expect(undoDocument).toBe(JSON.stringify(JSON.parse(plain)));
    expect(JSON.stringify(decision.verdict.plan).length).toBeLessThan(MAX_STEP_INPUT_CHARS / 10);
    expect(decision.severity).toBe('critical');
  });

  it('is deleted and verified through the Lambda path, with an alert', async () => {
    const { event, padded } = paddedAdmin();
    const metrics: { name: MetricName; rule?: string }[] = [];
    iam.on(GetRoleCommand).resolves({ Role: { Path: '/', RoleName: 'ml-training-role', RoleId: 'AROAEXAMPLEEXAMPLE01', Arn: 'arn:aws:iam::111122223333:role/ml-training-role', CreateDate: new Date(), Tags: [] } });
    iam
      .on(GetRolePolicyCommand)
      .resolvesOnce({ RoleName: 'ml-training-role', PolicyName: 'AllowEverything', PolicyDocument: encodeURIComponent(padded) })
      .rejects(Object.assign(new NoSuchEntityException({ message: 'The role policy with name AllowEverything cannot be found.', $metadata: {} }), { Code: 'NoSuchEntity' }));
    iam.on(DeleteRolePolicyCommand).resolves({});
    const result = await handlerFor(metrics)(event);
    expect(result.status === 'processed' && result.decisions.map((d) => [d.verdict, d.outcome])).toStrictEqual([['violation', 'applied']]);
    expect(iam.commandCalls(DeleteRolePolicyCommand).map((call) => call.args[0].input)).toStrictEqual([{ RoleName: 'ml-training-role', PolicyName: 'AllowEverything' }]);
    expect(metrics).toContainEqual({ name: 'Applied', rule: 'iam-inline-policy-admin' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });
});

describe('a document CloudTrail omitted is a high-severity "could not inspect" (issue 14)', () => {
  beforeEach(() => {
    iam.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('alerts with severity high, says the document could not be inspected, counts Skipped, and makes no AWS call', async () => {
    const metrics: { name: MetricName; rule?: string }[] = [];
    const result = await handlerFor(metrics)(loadEvent('iam/PutRolePolicy-request-parameters-omitted.json'));
    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([['iam-inline-policy-admin', 'skipped', 'uninspected']]);
    expect(result.status === 'processed' && result.decisions[0]?.summary).toContain('could not be inspected: CloudTrail omitted it (requestParameters too large, originally 131,059 characters)');
    expect(iam.calls()).toHaveLength(0);
    const publish = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(publish?.MessageAttributes?.['severity']?.StringValue).toBe('high');
    expect(publish?.MessageAttributes?.['outcome']?.StringValue).toBe('uninspected');
    expect(metrics).toContainEqual({ name: 'Skipped', rule: 'iam-inline-policy-admin' });
  });

  it('analyses a trust policy given as JSON text or as an object alike', () => {
    const plain = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}';
    const asText = analyzeTrustPolicy(plain, { trustedAccounts: [] });
    const asObject = analyzeTrustPolicy(JSON.parse(plain) as object, { trustedAccounts: [] });
    expect(asObject).toStrictEqual(asText);
  });
});
