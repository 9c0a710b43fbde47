import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Verdict } from '../../engine/types.js';
import { sagemakerRules } from '../../remediations/sagemaker/index.js';
import { VPC_ONLY_STEP } from '../../remediations/sagemaker/sagemaker-domain-internet.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler, ruleEvaluator } from '../helpers/rule-harness.js';

const sagemakerDomainInternet = registeredRule('sagemaker-domain-internet');
const evaluate = ruleEvaluator('sagemaker-domain-internet');
const NOW = new Date('2025-03-15T17:00:00Z');
const ACCOUNT = '111122223333';
const RESEARCH_ARN = `arn:aws:sagemaker:us-east-1:${ACCOUNT}:domain/d-8x2kqmznwtp4`;
const FRAUD_ARN = `arn:aws:sagemaker:us-east-1:${ACCOUNT}:domain/d-3jf7hq2vzr9c`;

function violation(event: CloudTrailEvent, config: unknown = {}): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event, { config });
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

const request = (event: CloudTrailEvent) => event.detail.requestParameters as Record<string, unknown>;

const publicInternet = (how: string) => ({
  code: 'public-internet-access',
  severity: 'high',
  message: `${how}: the Studio apps' traffic other than to EFS goes through a VPC managed by SageMaker AI with direct internet access, outside your VPC's security groups, endpoints and flow logs. ${VPC_ONLY_STEP}`,
  subject: 'AppNetworkAccessType',
});

const noKey = {
  code: 'no-customer-managed-key',
  severity: 'low',
  message:
    "No KmsKeyId: SageMaker AI encrypts the domain's EFS and EBS volumes (every user's home directory) with an AWS managed key, so access to them cannot be revoked or audited through a key of your own. UpdateDomain takes no KmsKeyId: a customer managed key needs a new domain.",
  subject: 'KmsKeyId',
};

describe('sagemaker-domain-internet', () => {
  it('says what moving to VpcOnly takes, as the SageMaker AI API reference states it', () => {
    expect(VPC_ONLY_STEP).toBe(
      'To move the domain to VpcOnly: delete its apps first (UpdateDomain changes AppNetworkAccessType only while no app is InService, Pending or Deleting, and never once RStudioServerProDomainSettings.DomainExecutionRoleArn is set: such a domain must be recreated); give it subnets in your VPC and security groups (DefaultUserSettings.SecurityGroups, required with VpcOnly) that allow NFS on TCP 2049 inbound and outbound; and give the VPC interface endpoints for the SageMaker AI API and runtime, or a NAT gateway, or Studio cannot run notebooks, train or host models.',
    );
  });

  describe('evaluate CreateDomain', () => {
    it('flags an omitted AppNetworkAccessType as PublicInternetOnly (the API default) and a missing KMS key, and plans nothing', () => {
      // Arrange
      const event = loadEvent('sagemaker/CreateDomain-public-internet-default-no-kms.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'domain ml-research-studio (d-8x2kqmznwtp4) created with direct internet access (PublicInternetOnly), no customer managed KMS key',
        resources: [RESEARCH_ARN],
        findings: [publicInternet('AppNetworkAccessType is PublicInternetOnly (omitted: the API default is PublicInternetOnly)'), noKey],
        plan: [],
      });
    });

    it('flags an explicit PublicInternetOnly, in any letter case, without the "omitted" note', () => {
      const event = loadEvent('sagemaker/CreateDomain-vpc-only-kms-compliant.json');
      request(event)['appNetworkAccessType'] = 'publicinternetonly';
      expect(violation(event).findings).toStrictEqual([publicInternet('AppNetworkAccessType is PublicInternetOnly')]);
    });

    it('flags only the key, at low severity, for a VpcOnly domain without KmsKeyId', () => {
      const event = loadEvent('sagemaker/CreateDomain-vpc-only-kms-compliant.json');
      delete request(event)['kmsKeyId'];
      const verdict = violation(event);
      expect(verdict.summary).toBe('domain fraud-studio (d-3jf7hq2vzr9c) created with no customer managed KMS key');
      expect(verdict.findings).toStrictEqual([noKey]);
    });

    it('accepts the deprecated HomeEfsFileSystemKmsKeyId as the key', () => {
      const event = loadEvent('sagemaker/CreateDomain-vpc-only-kms-compliant.json');
      const key = request(event)['kmsKeyId'];
      delete request(event)['kmsKeyId'];
      request(event)['homeEfsFileSystemKmsKeyId'] = key;
      expect(evaluate(event).kind).toBe('compliant');
    });

    it('passes a VpcOnly domain with a customer managed key', () => {
      expect(evaluate(loadEvent('sagemaker/CreateDomain-vpc-only-kms-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: 'domain fraud-studio (d-3jf7hq2vzr9c) was created VpcOnly, with a customer managed KMS key',
        resources: [FRAUD_ARN],
      });
    });

    it('exempts a domain whose request Tags carry the exemption tag, keeping the findings', () => {
      const event = loadEvent('sagemaker/CreateDomain-public-internet-default-no-kms.json');
      request(event)['tags'] = [{ key: 'remediation:exempt', value: 'workshop sandbox, no data (SEC-412)' }];
      const verdict = evaluate(event);
      expect(verdict).toMatchObject({
        kind: 'exempt',
        reason: 'domain ml-research-studio (d-8x2kqmznwtp4) is tagged remediation:exempt: workshop sandbox, no data (SEC-412)',
        resources: [RESEARCH_ARN],
      });
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity])).toStrictEqual([
        ['public-internet-access', 'high'],
        ['no-customer-managed-key', 'low'],
      ]);
    });

    it('names the domain by its name when the response carries no id or ARN', () => {
      const event = loadEvent('sagemaker/CreateDomain-public-internet-default-no-kms.json');
      event.detail.responseElements = null;
      expect(violation(event)).toMatchObject({ summary: expect.stringMatching(/^domain ml-research-studio created with/), resources: ['ml-research-studio'] });
    });

    it('skips an event that names no domain', () => {
      const event = loadEvent('sagemaker/CreateDomain-public-internet-default-no-kms.json');
      event.detail.requestParameters = {};
      event.detail.responseElements = null;
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no domain' });
    });
  });

  describe('evaluate UpdateDomain', () => {
    it('flags an update that sets PublicInternetOnly', () => {
      expect(evaluate(loadEvent('sagemaker/UpdateDomain-public-internet.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'domain d-3jf7hq2vzr9c updated with direct internet access (PublicInternetOnly)',
        resources: [FRAUD_ARN],
        findings: [publicInternet('UpdateDomain set AppNetworkAccessType to PublicInternetOnly')],
        plan: [],
      });
    });

    it('passes an update that leaves the network type alone: only a change counts, and the key cannot be changed', () => {
      expect(evaluate(loadEvent('sagemaker/UpdateDomain-default-user-settings-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: 'UpdateDomain on d-3jf7hq2vzr9c did not set AppNetworkAccessType to PublicInternetOnly',
        resources: [FRAUD_ARN],
      });
    });

    it('passes an update to VpcOnly, saying so', () => {
      const event = loadEvent('sagemaker/UpdateDomain-public-internet.json');
      request(event)['appNetworkAccessType'] = 'VpcOnly';
      expect(evaluate(event)).toMatchObject({ kind: 'compliant', summary: 'UpdateDomain on d-3jf7hq2vzr9c did not set AppNetworkAccessType to PublicInternetOnly (it set VpcOnly)' });
    });

    it('builds the ARN from the domain id when the response has none', () => {
      const event = loadEvent('sagemaker/UpdateDomain-public-internet.json');
      event.detail.responseElements = null;
      expect(violation(event).resources).toStrictEqual([FRAUD_ARN]);
    });

    it('has no tags to read on an update: the config exemptions list exempts the domain by id', async () => {
      const config = parseConfig(
        { exemptions: [{ resource: 'd-3jf7hq2vzr9c', rules: ['sagemaker-domain-internet'], reason: 'RStudio domain, recreated in Q2', expires: '2025-06-30' }] },
        sagemakerRules,
      );
      const decision = await decide(loadEvent('sagemaker/UpdateDomain-public-internet.json'), sagemakerDomainInternet, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toMatchObject({ kind: 'exempt', reason: `${FRAUD_ARN} is exempt in the config until 2025-06-30: RStudio domain, recreated in Q2` });
    });
  });

  describe('through the engine', () => {
    const config = parseConfig({}, sagemakerRules);

    it('notifies by default, makes no lookup and has no permission to ask for', async () => {
      const decision = await decide(loadEvent('sagemaker/CreateDomain-public-internet-default-no-kms.json'), sagemakerDomainInternet, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.mode).toBe('notify');
      expect(decision.unavailableFacts).toStrictEqual([]);
      expect(sagemakerDomainInternet.lookups).toStrictEqual([]);
      expect(sagemakerDomainInternet.permissions).toStrictEqual([]);
    });

    it('skips a failed call before the rule runs', async () => {
      const decision = await decide(loadEvent('sagemaker/CreateDomain-failed-access-denied.json'), sagemakerDomainInternet, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing', cause: 'failed-call' });
    });
  });

  describe('through the Lambda path', () => {
    const sagemaker = mockClient(SageMakerClient);
    const sns = mockClient(SNSClient);

    beforeEach(() => {
      sagemaker.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    });

    it('publishes one high alert and calls SageMaker not at all, even in remediate mode', async () => {
      const { handler } = familyHandler('sagemaker', { modes: { 'sagemaker-domain-internet': 'remediate' } });

      const result = await handler(loadEvent('sagemaker/UpdateDomain-public-internet.json'));

      expect(result.status === 'processed' && result.decisions).toStrictEqual([
        { rule: 'sagemaker-domain-internet', verdict: 'violation', outcome: 'notified', summary: 'domain d-3jf7hq2vzr9c updated with direct internet access (PublicInternetOnly)' },
      ]);
      expect(sagemaker.calls()).toHaveLength(0);
      const published = sns.commandCalls(PublishCommand);
      expect(published).toHaveLength(1);
      expect(published[0]?.args[0].input.MessageAttributes?.['severity']?.StringValue).toBe('high');
      expect(String(published[0]?.args[0].input.Message)).toContain('NFS on TCP 2049');
    });
  });
});
