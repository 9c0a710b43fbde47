/**
 * The alert subscriptions as packaged (eu-west-1 run of the global setup, with
 * slackMinSeverity high and emailMinSeverity critical): each subscription's
 * FilterPolicy, evaluated with SNS semantics against the attributes the bot
 * really publishes, selects exactly the intended severities.
 */
import { expect, it } from 'vitest';
import { matchesFilterPolicy, type FilterPolicy, type MessageAttribute } from '../deploy/notification-filters.js';
import { SEVERITIES, type Severity } from '../engine/types.js';
import type { Alert } from '../notify/alert.js';
import { buildPublishInput } from '../notify/sns.js';
import { TOPIC } from './helpers/fake-slack.js';
import { appliedAlert } from './helpers/notify-samples.js';
import { describePackaged, packagedTemplate } from './helpers/packaged.js';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

const withNotifications = packagedTemplate<{ Resources: Record<string, Resource> }>('.serverless-eu-west-1');
const withDefaults = packagedTemplate<{ Resources: Record<string, Resource> }>('.serverless');

function subscription(template: { Resources: Record<string, Resource> }, protocol: string): Resource | undefined {
  return Object.values(template.Resources).find((r) => r.Type === 'AWS::SNS::Subscription' && r.Properties['Protocol'] === protocol);
}

async function delivered(policy: FilterPolicy | undefined): Promise<Severity[]> {
  const alert = await appliedAlert();
  const result: Severity[] = [];
  for (const severity of SEVERITIES) {
    const variant: Alert = { ...alert, decision: { ...alert.decision, severity } };
    const attributes = buildPublishInput(variant, TOPIC)['MessageAttributes'] as Record<string, MessageAttribute>;
    if (matchesFilterPolicy(policy, attributes)) result.push(severity);
  }
  return result;
}

describePackaged('alert subscriptions in the packaged template', () => {
  it('subscribes the notifier with the Slack filter policy: high and critical only', async () => {
    const lambda = subscription(withNotifications, 'lambda');
    expect(lambda?.Properties['Endpoint']).toStrictEqual({ 'Fn::GetAtt': ['NotifierLambdaFunction', 'Arn'] });
    expect(lambda?.Properties['FilterPolicyScope']).toBe('MessageAttributes');
    expect(await delivered(lambda?.Properties['FilterPolicy'] as FilterPolicy)).toStrictEqual(['high', 'critical']);
  });

  it('subscribes the email address with the email filter policy: critical only', async () => {
    const email = subscription(withNotifications, 'email');
    expect(email?.Properties['Endpoint']).toBe('secops@example.com');
    expect(await delivered(email?.Properties['FilterPolicy'] as FilterPolicy)).toStrictEqual(['critical']);
  });

  it('gives the notifier a DLQ (on-failure destination) and read access to exactly its secret', () => {
    const config = Object.values(withNotifications.Resources).find(
      (r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && JSON.stringify(r.Properties['FunctionName']).includes('NotifierLambdaFunction'),
    );
    expect(config?.Properties['DestinationConfig']).toStrictEqual({ OnFailure: { Destination: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } });
    const role = withNotifications.Resources['NotifierRole'];
    const statements = (role?.Properties['Policies'] as { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } }[]).flatMap(
      (p) => p.PolicyDocument.Statement,
    );
    const secret = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf';
    expect(statements.find((s) => s.Action.includes('secretsmanager:GetSecretValue'))?.Resource).toStrictEqual(secret);
    expect(
      statements.flatMap((s) => s.Action).filter((a) => !['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage', 'kms:Decrypt', 'kms:GenerateDataKey', 'secretsmanager:GetSecretValue', 'kms:VerifyMac'].includes(a)),
    ).toStrictEqual([]);
    // It verifies alerts with the stack's HMAC key and can sign nothing.
    expect(statements.find((s) => s.Action.includes('kms:VerifyMac'))?.Resource).toStrictEqual({ 'Fn::GetAtt': ['AlertSigningKey', 'Arn'] });
  });

  it('deploys no notifier without a webhook secret, and no email subscription without an address', () => {
    expect(subscription(withDefaults, 'lambda')).toBeUndefined();
    expect(subscription(withDefaults, 'email')).toBeUndefined();
  });
});
