/**
 * The Security Hub subscriber: real alerts (decisions of the security-group
 * rule on recorded events, signed with the test HMAC key) mapped to ASFF
 * findings and sent to a mocked Security Hub; KMS verifies real HMACs.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  BatchImportFindingsCommand,
  BatchUpdateFindingsCommand,
  InternalException,
  InvalidAccessException,
  LimitExceededException,
  SecurityHubClient,
  ThrottlingException,
  type AwsSecurityFinding,
} from '@aws-sdk/client-securityhub';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runtimeCommands } from '../handlers/runtime.js';
import { renderJson } from '../notify/alert.js';
import type { AlertMessage } from '../notify/alert-message.js';
import { createAlertVerifier } from '../notify/alert-signature.js';
import type { MetricsSink } from '../notify/notifier.js';
import { ASFF_LIMITS, createSecurityHubSubscriber, deliverFindings, findingFromAlert, SecurityHubDeliveryError, type SecurityHubSubscriberDeps } from '../notify/securityhub.js';
import { families } from '../remediations/registry.js';
import { fakeHmacKey, kmsGateway, signatureAttributes, SIGNING_KEY_ARN, snsDelivery, snsEvent } from './helpers/fake-slack.js';
import { recordingLogger, type RecordingLogger } from './helpers/logger.js';
import { appliedAlert, exemptAlert, proposedAlert } from './helpers/notify-samples.js';

const securityHub = mockClient(SecurityHubClient);
const kms = mockClient(KMSClient);

const NOW = new Date('2025-03-04T10:15:07Z');
const FINDING_ID = 'remediation-bot/sg-open-ingress/111122223333/us-east-1/sg-0a1b2c3d4e5f67890';
const PRODUCT_ARN = 'arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default';
const TYPE = 'Software and Configuration Checks/AWS Security Best Practices';
const REVOKE_IPV4 =
  'aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]\'';
const REVOKE_IPV6 =
  'aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]\'';

/** What every finding of the security-group rule on sg-0a1b2c3d4e5f67890 shares. */
const SAME_FINDING = {
  SchemaVersion: '2018-10-08',
  Id: FINDING_ID,
  ProductArn: PRODUCT_ARN,
  GeneratorId: 'sg-open-ingress',
  AwsAccountId: '111122223333',
  Types: [TYPE],
  Severity: { Label: 'HIGH', Original: 'high' },
  Title: 'Security group open to the internet',
  Resources: [{ Type: 'AwsEc2SecurityGroup', Id: 'arn:aws:ec2:us-east-1:111122223333:security-group/sg-0a1b2c3d4e5f67890', Partition: 'aws', Region: 'us-east-1' }],
  RecordState: 'ACTIVE',
  FindingProviderFields: { Severity: { Label: 'HIGH', Original: 'high' }, Types: [TYPE] },
} as const;

function apiCall(eventTime: string) {
  return {
    ActionType: 'AWS_API_CALL',
    AwsApiCallAction: {
      Api: 'AuthorizeSecurityGroupIngress',
      ServiceName: 'ec2.amazonaws.com',
      CallerType: 'remoteip',
      RemoteIpDetails: { IpAddressV4: '198.51.100.23' },
      FirstSeen: eventTime,
      LastSeen: eventTime,
    },
  };
}

/** When the event happened (created, first and last observed) and when the finding was written. */
function times(eventTime: string) {
  return { CreatedAt: eventTime, UpdatedAt: '2025-03-04T10:15:07.000Z', FirstObservedAt: eventTime, LastObservedAt: eventTime };
}

function eventFields(eventId: string, eventTime: string, outcome: string, mode: string) {
  return {
    'RemediationBot/Rule': 'sg-open-ingress',
    'RemediationBot/Outcome': outcome,
    'RemediationBot/Mode': mode,
    'RemediationBot/EventId': eventId,
    'RemediationBot/EventName': 'AuthorizeSecurityGroupIngress',
    'RemediationBot/EventSource': 'ec2.amazonaws.com',
    'RemediationBot/EventTime': eventTime,
    'RemediationBot/Principal': 'arn:aws:iam::111122223333:user/alice',
    'RemediationBot/SourceIp': '198.51.100.23',
    'RemediationBot/Resources': 'sg-0a1b2c3d4e5f67890',
  };
}

function recordingMetrics(): MetricsSink & { readonly added: string[] } {
  const added: string[] = [];
  return { added, addMetric: (name, _unit, value) => void added.push(value === 1 ? name : `${name}=${value}`) };
}

let logger: RecordingLogger;
let metrics: ReturnType<typeof recordingMetrics>;
let waits: number[];

beforeEach(() => {
  securityHub.reset();
  kms.reset();
  fakeHmacKey(kms);
  securityHub.on(BatchImportFindingsCommand).callsFake((input: { Findings: AwsSecurityFinding[] }) => ({ FailedCount: 0, SuccessCount: input.Findings.length, FailedFindings: [] }));
  securityHub.on(BatchUpdateFindingsCommand).callsFake((input: { FindingIdentifiers: unknown[] }) => ({ ProcessedFindings: input.FindingIdentifiers, UnprocessedFindings: [] }));
  logger = recordingLogger();
  metrics = recordingMetrics();
  waits = [];
});

function subscriber(overrides: Partial<SecurityHubSubscriberDeps> = {}) {
  return createSecurityHubSubscriber({
    logger,
    metrics,
    verifyAlert: createAlertVerifier(SIGNING_KEY_ARN, kmsGateway()),
    client: new SecurityHubClient({ region: 'us-east-1' }),
    region: 'us-east-1',
    now: () => NOW,
    delivery: { sleep: async (ms) => void waits.push(ms), random: () => 0.5 },
    ...overrides,
  });
}

function imported(): unknown[] {
  return securityHub.commandCalls(BatchImportFindingsCommand).map((call) => call.args[0].input);
}

function workflowUpdates(): unknown[] {
  return securityHub.commandCalls(BatchUpdateFindingsCommand).map((call) => call.args[0].input);
}

/** Distinct findings of the proposed alert, for the delivery tests. */
async function manyFindings(count: number): Promise<AwsSecurityFinding[]> {
  const finding = findingFromAlert(renderJson(await proposedAlert()), { region: 'us-east-1', account: '111122223333', now: NOW });
  if (!finding) throw new Error('expected a finding');
  return Array.from({ length: count }, (_, index) => ({ ...finding, Id: `${FINDING_ID}-${index}` }));
}

const delivery = () => ({ sleep: async (ms: number) => void waits.push(ms), random: () => 0.5, metrics });

describe('Security Hub subscriber', () => {
  describe('findingFromAlert', () => {
    it('imports a proposed violation as the exact ASFF finding: NOTIFIED, FAILED, with the commands to paste', async () => {
      // Arrange
      const event = snsEvent(await proposedAlert());
      // Act
      const result = await subscriber()(event);
      // Assert
      expect(imported()).toStrictEqual([
        {
          Findings: [
            {
              ...SAME_FINDING,
              ...times('2021-09-01T09:00:00Z'),
              Description: [
                'sg-0a1b2c3d4e5f67890: tcp/22 from 0.0.0.0/0 open to the internet (+1 more)',
                'Not changed (mode propose): the plan below is proposed for a person to review and run.',
                '[high] tcp/22 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (22/ssh).',
                '[high] tcp/22 open to ::/0 (the whole internet) includes ports outside the allowed list (22/ssh).',
              ].join('\n'),
              Remediation: {
                Recommendation: {
                  Text: ['# Fix:', REVOKE_IPV4, REVOKE_IPV6, '# …[truncated] 3 more line(s) in ProductFields RemediationBot/FixCommands and RemediationBot/UndoCommands'].join('\n'),
                },
              },
              ProductFields: {
                ...eventFields('f639031b-08b1-4735-ac21-8a13ec0aaed9', '2021-09-01T09:00:00Z', 'proposed', 'propose'),
                'RemediationBot/FixCommands': ['# Fix:', REVOKE_IPV4, REVOKE_IPV6].join('\n'),
                'RemediationBot/UndoCommands': [
                  '# Undo, after running the fix:',
                  'aws ec2 authorize-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]\'',
                  'aws ec2 authorize-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ssh from anywhere"}]}]\'',
                ].join('\n'),
              },
              Action: apiCall('2021-09-01T09:00:00Z'),
              Compliance: { Status: 'FAILED' },
              Workflow: { Status: 'NOTIFIED' },
            },
          ],
        },
      ]);
      expect(workflowUpdates()).toStrictEqual([{ FindingIdentifiers: [{ Id: FINDING_ID, ProductArn: PRODUCT_ARN }], Workflow: { Status: 'NOTIFIED' } }]);
      expect(result).toStrictEqual({ imported: 1, workflowUpdated: 1, skipped: 0 });
      expect(metrics.added).toStrictEqual(['SecurityHubImported', 'SecurityHubWorkflowUpdated']);
    });

    it('updates the same finding when the fix is applied and verified: RESOLVED, PASSED, with the undo command', async () => {
      // Arrange
      const handler = subscriber();
      await handler(snsEvent(await proposedAlert()));
      securityHub.resetHistory();
      // Act
      await handler(snsEvent(await appliedAlert()));
      // Assert
      const undo =
        'aws ec2 authorize-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"temp access"}]}]\'';
      expect(imported()).toStrictEqual([
        {
          Findings: [
            {
              ...SAME_FINDING,
              ...times('2025-03-04T10:15:00Z'),
              Description: [
                'sg-0a1b2c3d4e5f67890: sgr-0f1e2d3c4b5a69788 tcp/22 from 0.0.0.0/0 open to the internet',
                'Fixed automatically and verified: the call below was applied, and a read afterwards showed the exposure closed.',
                '[high] tcp/22 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (22/ssh).',
              ].join('\n'),
              Remediation: { Recommendation: { Text: ['# Undo what the bot did:', undo].join('\n') } },
              ProductFields: {
                ...eventFields('7cbd12f7-48e3-4e4c-a988-254bb5154dfb', '2025-03-04T10:15:00Z', 'applied', 'remediate'),
                'RemediationBot/UndoCommands': ['# Undo what the bot did:', undo].join('\n'),
                'RemediationBot/Execution': 'applied',
              },
              Action: apiCall('2025-03-04T10:15:00Z'),
              Compliance: { Status: 'PASSED' },
              Workflow: { Status: 'RESOLVED' },
            },
          ],
        },
      ]);
      // BatchImportFindings ignores Workflow on an existing finding: the resolution is set by BatchUpdateFindings.
      expect(workflowUpdates()).toStrictEqual([{ FindingIdentifiers: [{ Id: FINDING_ID, ProductArn: PRODUCT_ARN }], Workflow: { Status: 'RESOLVED' } }]);
    });

    it('suppresses an exempt decision, with the exemption reason in a note', async () => {
      // Arrange
      const event = snsEvent(await exemptAlert());
      // Act
      await subscriber()(event);
      // Assert
      const reason = 'sg-0a1b2c3d4e5f67890 is tagged remediation:exempt: bastion host, approved in SEC-1234';
      expect(imported()).toStrictEqual([
        {
          Findings: [
            {
              ...SAME_FINDING,
              ...times('2025-03-04T10:15:00Z'),
              Description: [
                'AuthorizeSecurityGroupIngress by arn:aws:iam::111122223333:user/alice on an exempt resource (sg-0a1b2c3d4e5f67890): tcp/22 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (22/ssh).',
                `Not changed: ${reason}.`,
                '[high] tcp/22 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (22/ssh).',
              ].join('\n'),
              Remediation: { Recommendation: { Text: `# Not changed: ${reason}.` } },
              ProductFields: eventFields('7cbd12f7-48e3-4e4c-a988-254bb5154dfb', '2025-03-04T10:15:00Z', 'exempt', 'remediate'),
              Action: apiCall('2025-03-04T10:15:00Z'),
              Compliance: { Status: 'FAILED' },
              Workflow: { Status: 'SUPPRESSED' },
              Note: { Text: `Exempt: ${reason}`, UpdatedBy: 'remediation-bot', UpdatedAt: '2025-03-04T10:15:07.000Z' },
            },
          ],
        },
      ]);
      expect(workflowUpdates()).toStrictEqual([
        { FindingIdentifiers: [{ Id: FINDING_ID, ProductArn: PRODUCT_ARN }], Workflow: { Status: 'SUPPRESSED' }, Note: { Text: `Exempt: ${reason}`, UpdatedBy: 'remediation-bot' } },
      ]);
    });

    it('maps each outcome to its workflow and compliance status', async () => {
      const message = renderJson(await proposedAlert());
      const statuses = (['applied', 'already-fixed', 'proposed', 'notified', 'unverified', 'failed', 'stale', 'uninspected'] as const).map((outcome) => {
        const finding = findingFromAlert({ ...message, outcome }, { region: 'us-east-1', account: '111122223333', now: NOW });
        return [outcome, finding?.Workflow?.Status, finding?.Compliance?.Status];
      });
      expect(statuses).toStrictEqual([
        ['applied', 'RESOLVED', 'PASSED'],
        ['already-fixed', 'RESOLVED', 'PASSED'],
        ['proposed', 'NOTIFIED', 'FAILED'],
        ['notified', 'NOTIFIED', 'FAILED'],
        ['unverified', 'NEW', 'FAILED'],
        ['failed', 'NEW', 'FAILED'],
        ['stale', 'NEW', 'FAILED'],
        ['uninspected', 'NEW', 'WARNING'],
      ]);
      expect(findingFromAlert({ ...message, outcome: 'none' }, { region: 'us-east-1', account: '111122223333', now: NOW })).toBeUndefined();
    });

    it('gives each resource its ASFF type, with the ARN as id where the name gives it exactly', async () => {
      // Arrange
      const message = renderJson(await proposedAlert());
      const resources = [
        'sg-0a1b2c3d4e5f67890',
        'i-0a1b2c3d4e5f60001',
        'vol-049df61146c4d7901',
        'bucket amzn-s3-demo-bucket',
        'role ci-deployer',
        'user carol',
        'arn:aws:iam::111122223333:role/remediation-bot/helper',
        'arn:aws:iam::111122223333:policy/DevTeamPolicy',
        'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit',
        'arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/public-demo',
        'acl-0f1e2d3c4b5a69788',
        'arn:aws:guardduty:eu-west-1:111122223333:detector/12abc34d567e8fa901bc2d34e56789f0',
        'snap-0a1b2c3d4e5f60001',
        'account 111122223333',
      ];
      const alert: AlertMessage = { ...message, decision: { ...message.decision, verdict: { kind: 'exempt', reason: 'test', resources } } };
      // Act
      const finding = findingFromAlert(alert, { region: 'us-east-1', account: '111122223333', now: NOW });
      // Assert
      const at = (region = 'us-east-1') => ({ Partition: 'aws', Region: region });
      expect(finding?.Resources).toStrictEqual([
        { Type: 'AwsEc2SecurityGroup', Id: 'arn:aws:ec2:us-east-1:111122223333:security-group/sg-0a1b2c3d4e5f67890', ...at() },
        { Type: 'AwsEc2Instance', Id: 'arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b2c3d4e5f60001', ...at() },
        { Type: 'AwsEc2Volume', Id: 'arn:aws:ec2:us-east-1:111122223333:volume/vol-049df61146c4d7901', ...at() },
        { Type: 'AwsS3Bucket', Id: 'arn:aws:s3:::amzn-s3-demo-bucket', ...at() },
        { Type: 'AwsIamRole', Id: 'ci-deployer', ...at() },
        { Type: 'AwsIamUser', Id: 'carol', ...at() },
        { Type: 'AwsIamRole', Id: 'arn:aws:iam::111122223333:role/remediation-bot/helper', ...at() },
        { Type: 'AwsIamPolicy', Id: 'arn:aws:iam::111122223333:policy/DevTeamPolicy', ...at() },
        { Type: 'AwsKmsKey', Id: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', ...at() },
        { Type: 'AwsCloudTrailTrail', Id: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit', ...at('eu-west-1') },
        { Type: 'AwsSageMakerNotebookInstance', Id: 'arn:aws:sagemaker:us-east-1:111122223333:notebook-instance/public-demo', ...at() },
        { Type: 'AwsEc2NetworkAcl', Id: 'arn:aws:ec2:us-east-1:111122223333:network-acl/acl-0f1e2d3c4b5a69788', ...at() },
        { Type: 'AwsGuardDutyDetector', Id: 'arn:aws:guardduty:eu-west-1:111122223333:detector/12abc34d567e8fa901bc2d34e56789f0', ...at('eu-west-1') },
        { Type: 'Other', Id: 'snap-0a1b2c3d4e5f60001', ...at() },
        { Type: 'Other', Id: 'account 111122223333', ...at() },
      ]);
    });

    it('puts an AWS service caller in DomainDetails, and an IPv6 caller, which ASFF has no place for, in ProductFields only', async () => {
      const message = renderJson(await proposedAlert());
      const withSource = (sourceIp: string) =>
        findingFromAlert({ ...message, decision: { ...message.decision, sourceIp } }, { region: 'us-east-1', account: '111122223333', now: NOW });
      const service = withSource('cloudformation.amazonaws.com');
      const ipv6 = withSource('2001:db8::1');
      expect(service?.Action?.AwsApiCallAction).toStrictEqual({
        Api: 'AuthorizeSecurityGroupIngress',
        ServiceName: 'ec2.amazonaws.com',
        CallerType: 'domain',
        DomainDetails: { Domain: 'cloudformation.amazonaws.com' },
        FirstSeen: '2021-09-01T09:00:00Z',
        LastSeen: '2021-09-01T09:00:00Z',
      });
      expect(ipv6?.Action?.AwsApiCallAction).toStrictEqual({ Api: 'AuthorizeSecurityGroupIngress', ServiceName: 'ec2.amazonaws.com', FirstSeen: '2021-09-01T09:00:00Z', LastSeen: '2021-09-01T09:00:00Z' });
      expect(ipv6?.ProductFields?.['RemediationBot/SourceIp']).toBe('2001:db8::1');
    });

    it('keeps texts within the ASFF limits, cut with a marker, and hashes an id that would pass 512 characters', async () => {
      // Arrange
      const message = renderJson(await proposedAlert());
      const { verdict } = message.decision;
      if (verdict.kind !== 'violation') throw new Error('expected a violation');
      const resources = Array.from({ length: 40 }, (_, index) => `arn:aws:iam::111122223333:policy/${'p'.repeat(20)}-${index}`);
      const alert: AlertMessage = {
        ...message,
        decision: { ...message.decision, ruleTitle: 'T'.repeat(300), verdict: { ...verdict, summary: 'S'.repeat(2000), resources, plan: [...verdict.plan, ...verdict.plan, ...verdict.plan] } },
      };
      // Act
      const finding = findingFromAlert(alert, { region: 'us-east-1', account: '111122223333', now: NOW });
      // Assert
      const digest = createHash('sha256').update([...resources].sort().join(','), 'utf8').digest('hex');
      expect(finding?.Id).toBe(`remediation-bot/sg-open-ingress/111122223333/us-east-1/sha256:${digest}`);
      expect(finding?.Title).toBe(`${'T'.repeat(256 - '…[truncated]'.length)}…[truncated]`);
      expect(finding?.Description).toBe(`${'S'.repeat(1024 - '…[truncated]'.length)}…[truncated]`);
      expect(finding?.Remediation?.Recommendation?.Text).toBe(
        ['# Fix:', REVOKE_IPV4, REVOKE_IPV6, '# …[truncated] 7 more line(s) in ProductFields RemediationBot/FixCommands and RemediationBot/UndoCommands'].join('\n'),
      );
      expect(finding?.Resources).toHaveLength(ASFF_LIMITS.resources);
      for (const value of Object.values(finding?.ProductFields ?? {})) expect(value.length).toBeLessThanOrEqual(2048);
    });
  });

  describe('deliverFindings', () => {
    it('splits 250 findings into BatchImportFindings calls of 100, 100 and 50, in order', async () => {
      // Arrange
      const findings = await manyFindings(250);
      // Act
      const result = await deliverFindings(findings, new SecurityHubClient({ region: 'us-east-1' }), delivery());
      // Assert
      const ids = findings.map((finding) => finding.Id);
      expect(imported()).toStrictEqual([{ Findings: findings.slice(0, 100) }, { Findings: findings.slice(100, 200) }, { Findings: findings.slice(200) }]);
      expect(workflowUpdates()).toStrictEqual(
        [ids.slice(0, 100), ids.slice(100, 200), ids.slice(200)].map((chunk) => ({ FindingIdentifiers: chunk.map((Id) => ({ Id, ProductArn: PRODUCT_ARN })), Workflow: { Status: 'NOTIFIED' } })),
      );
      expect(result).toStrictEqual({ imported: 250, workflowUpdated: 250 });
      expect(metrics.added).toStrictEqual(['SecurityHubImported=250', 'SecurityHubWorkflowUpdated=250']);
      expect(waits).toStrictEqual([]);
    });

    it('retries a throttled call after a backoff, then succeeds', async () => {
      // Arrange
      const findings = await manyFindings(2);
      securityHub
        .on(BatchImportFindingsCommand)
        .rejectsOnce(new LimitExceededException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }))
        .rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }))
        .resolves({ FailedCount: 0, SuccessCount: 2, FailedFindings: [] });
      // Act
      const result = await deliverFindings(findings, new SecurityHubClient({ region: 'us-east-1' }), delivery());
      // Assert
      expect(imported()).toStrictEqual([{ Findings: findings }, { Findings: findings }, { Findings: findings }]);
      expect(waits).toStrictEqual([150, 300]);
      expect(result).toStrictEqual({ imported: 2, workflowUpdated: 2 });
      expect(metrics.added).toStrictEqual(['SecurityHubThrottled', 'SecurityHubThrottled', 'SecurityHubImported=2', 'SecurityHubWorkflowUpdated=2']);
    });

    it('retries only the FailedFindings of a partial success', async () => {
      // Arrange
      const findings = await manyFindings(3);
      const [first, second, third] = findings;
      securityHub
        .on(BatchImportFindingsCommand)
        .resolvesOnce({ FailedCount: 1, SuccessCount: 2, FailedFindings: [{ Id: second?.Id, ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure' }] })
        .resolves({ FailedCount: 0, SuccessCount: 1, FailedFindings: [] });
      // Act
      const result = await deliverFindings(findings, new SecurityHubClient({ region: 'us-east-1' }), delivery());
      // Assert
      expect(imported()).toStrictEqual([{ Findings: findings }, { Findings: [second] }]);
      expect(waits).toStrictEqual([150]);
      expect(workflowUpdates()).toStrictEqual([{ FindingIdentifiers: [first, third, second].map((f) => ({ Id: f?.Id, ProductArn: PRODUCT_ARN })), Workflow: { Status: 'NOTIFIED' } }]);
      expect(result).toStrictEqual({ imported: 3, workflowUpdated: 3 });
    });

    it('does not retry a finding Security Hub rejects as invalid: delivers the others, then throws', async () => {
      // Arrange
      const findings = await manyFindings(2);
      securityHub
        .on(BatchImportFindingsCommand)
        .resolves({ FailedCount: 1, SuccessCount: 1, FailedFindings: [{ Id: findings[0]?.Id, ErrorCode: 'InvalidInput', ErrorMessage: 'Finding does not adhere to ASFF' }] });
      // Act
      const delivered = deliverFindings(findings, new SecurityHubClient({ region: 'us-east-1' }), delivery());
      // Assert
      await expect(delivered).rejects.toStrictEqual(new SecurityHubDeliveryError([{ id: `${FINDING_ID}-0`, errorCode: 'InvalidInput', errorMessage: 'Finding does not adhere to ASFF' }]));
      expect(imported()).toHaveLength(1);
      expect(workflowUpdates()).toStrictEqual([{ FindingIdentifiers: [{ Id: `${FINDING_ID}-1`, ProductArn: PRODUCT_ARN }], Workflow: { Status: 'NOTIFIED' } }]);
      expect(metrics.added).toStrictEqual(['SecurityHubImported', 'SecurityHubWorkflowUpdated', 'SecurityHubFailed']);
    });

    it('takes FindingNotFound from the workflow update as a finding the import just created, and retries a concurrent update', async () => {
      // Arrange
      const findings = await manyFindings(2);
      const created = { Id: `${FINDING_ID}-0`, ProductArn: PRODUCT_ARN };
      const busy = { Id: `${FINDING_ID}-1`, ProductArn: PRODUCT_ARN };
      securityHub
        .on(BatchUpdateFindingsCommand)
        .resolvesOnce({
          ProcessedFindings: [],
          UnprocessedFindings: [
            { FindingIdentifier: created, ErrorCode: 'FindingNotFound', ErrorMessage: 'Finding not found' },
            { FindingIdentifier: busy, ErrorCode: 'ConcurrentUpdateError', ErrorMessage: 'Concurrent finding updates detected' },
          ],
        })
        .resolves({ ProcessedFindings: [busy], UnprocessedFindings: [] });
      // Act
      const result = await deliverFindings(findings, new SecurityHubClient({ region: 'us-east-1' }), delivery());
      // Assert
      expect(workflowUpdates()).toStrictEqual([
        { FindingIdentifiers: [created, busy], Workflow: { Status: 'NOTIFIED' } },
        { FindingIdentifiers: [busy], Workflow: { Status: 'NOTIFIED' } },
      ]);
      expect(result).toStrictEqual({ imported: 2, workflowUpdated: 2 });
    });

    it('keeps each call within 6 MB: large findings go in smaller batches', async () => {
      // Arrange: 50 product fields of 2,048 characters make a finding of about 100 KB.
      const large = Object.fromEntries(Array.from({ length: 50 }, (_, index) => [`RemediationBot/F${index}`, 'x'.repeat(2048)]));
      const findings = (await manyFindings(70)).map((finding) => ({ ...finding, ProductFields: large }));
      // Act
      await deliverFindings(findings, new SecurityHubClient({ region: 'us-east-1' }), delivery());
      // Assert
      const sizes = securityHub.commandCalls(BatchImportFindingsCommand).map((call) => call.args[0].input.Findings?.length);
      expect(sizes).toStrictEqual([58, 12]);
      for (const call of securityHub.commandCalls(BatchImportFindingsCommand)) expect(Buffer.byteLength(JSON.stringify(call.args[0].input))).toBeLessThanOrEqual(6 * 1024 * 1024);
    });
  });

  describe('the subscriber', () => {
    it('does not import an unverified alert (bad signature): counted and logged', async () => {
      // Arrange: a genuine alert body with the signature of another body.
      const body = JSON.stringify(renderJson(await appliedAlert()));
      const event = snsDelivery({ message: body, attributes: signatureAttributes(body, Buffer.alloc(32, 7).toString('base64')) });
      // Act
      const result = await subscriber()(event);
      // Assert
      expect(securityHub.calls()).toHaveLength(0);
      expect(result).toStrictEqual({ imported: 0, workflowUpdated: 0, skipped: 1 });
      expect(metrics.added).toStrictEqual(['AlertUnverified']);
      expect(logger.lines.map(({ level, message, extra }) => [level, message, extra['verification']])).toStrictEqual([
        ['warn', 'message not signed by the bot (an alarm, or a forged alert): not imported', 'invalid'],
      ]);
    });

    it('skips a signed message that is not an alert of this format', async () => {
      const message = JSON.stringify({ schemaVersion: '2', headline: 'something new' });
      const result = await subscriber()(snsDelivery({ message, attributes: signatureAttributes(message) }));
      expect(securityHub.calls()).toHaveLength(0);
      expect(result).toStrictEqual({ imported: 0, workflowUpdated: 0, skipped: 1 });
      expect(metrics.added).toStrictEqual(['AlertMessageInvalid']);
    });

    it('throws when Security Hub keeps failing, so that Lambda retries the SNS event', async () => {
      // Arrange
      securityHub.on(BatchImportFindingsCommand).rejects(new InternalException({ message: 'Internal service error', $metadata: { httpStatusCode: 500 } }));
      // Act
      const delivered = subscriber()(snsEvent(await proposedAlert()));
      // Assert
      await expect(delivered).rejects.toStrictEqual(new SecurityHubDeliveryError([{ id: FINDING_ID, errorCode: 'InternalException', errorMessage: 'Internal service error' }]));
      expect(imported()).toHaveLength(4);
      expect(waits).toStrictEqual([150, 300, 600]);
      expect(workflowUpdates()).toStrictEqual([]);
      expect(metrics.added).toStrictEqual(['SecurityHubFailed']);
      expect(logger.lines.at(-1)?.message).toBe('Security Hub delivery failed: Lambda will retry, then keep the event in the failure destination');
    });

    describe('handlers/securityhub.ts, as deployed', () => {
      afterAll(() => {
        vi.restoreAllMocks();
        vi.unstubAllEnvs();
      });

      it('throws from the real wiring when Security Hub refuses the import, so that Lambda retries', async () => {
        // Arrange
        vi.stubEnv('AWS_REGION', 'us-east-1');
        vi.stubEnv('ALERT_SIGNING_KEY_ID', SIGNING_KEY_ARN);
        vi.stubEnv('POWERTOOLS_DEV', '');
        vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
        vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
        securityHub.on(BatchImportFindingsCommand).rejects(new InvalidAccessException({ message: 'Security Hub is not enabled', $metadata: { httpStatusCode: 401 } }));
        const { handler } = (await import('../handlers/securityhub.js')) as unknown as { handler: (event: unknown, context: unknown) => Promise<unknown> };
        // Act
        const invoked = handler(snsEvent(await proposedAlert()), { functionName: 'remediation-bot-dev-securityhub', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 });
        // Assert
        await expect(invoked).rejects.toStrictEqual(new SecurityHubDeliveryError([{ id: FINDING_ID, errorCode: 'InvalidAccessException', errorMessage: 'Security Hub is not enabled' }]));
        expect(imported()).toHaveLength(1);
      });
    });
  });

  describe('the remediation functions never call Security Hub: no remediation family’s command table contains securityhub', () => {
    it.each(families.map((family) => [family.name, family] as const))('%s', (_, family) => {
      const table = runtimeCommands(family);
      const names = [...Object.keys(table.clients), ...Object.keys(table.commands), ...family.rules.flatMap((rule) => rule.permissions.map((p) => p.action))];
      expect(names.filter((name) => name.toLowerCase().includes('securityhub'))).toStrictEqual([]);
    });

    it('imports the Security Hub client nowhere but in its own subscriber', () => {
      const root = join(import.meta.dirname, '..');
      const sources = ['engine', 'rulekit', 'remediations', 'handlers', 'cli'].flatMap((folder) =>
        readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
          .filter((name) => name.endsWith('.ts'))
          .map((name) => join(folder, name)),
      );
      const importing = sources.filter((path) => /client-securityhub|notify\/securityhub/.test(readFileSync(join(root, path), 'utf8')));
      expect(importing).toStrictEqual(['handlers/securityhub.ts']);
    });
  });
});
