/**
 * The exemptions family's function, with SNS mocked: adding the exemption tag
 * is one alert and no other call; any other tag is silence.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadEvent } from '../helpers/fixtures.js';
import { familyHandler } from '../helpers/rule-harness.js';

const ACCOUNT = '111122223333';

describe('exemption-tag-added through the Lambda path', () => {
  const sns = mockClient(SNSClient);
  const { handler } = familyHandler('exemptions');

  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('publishes one medium alert naming the resource, the principal and the reason, and makes no other call', async () => {
    const result = await handler(loadEvent('sagemaker/AddTags-exemption-tag-notebook-instance.json'));

    expect(result.status === 'processed' && result.decisions).toStrictEqual([
      {
        rule: 'exemption-tag-added',
        verdict: 'violation',
        outcome: 'notified',
        summary: `arn:aws:sts::${ACCOUNT}:assumed-role/DataScientist/maria set the exemption tag remediation:exempt = "conference demo, no data (SEC-311)" on arn:aws:sagemaker:us-east-1:${ACCOUNT}:notebook-instance/public-demo`,
      },
    ]);
    const published = sns.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(published[0]?.args[0].input.MessageAttributes?.['severity']?.StringValue).toBe('medium');
    expect(String(published[0]?.args[0].input.Message)).toContain('conference demo, no data (SEC-311)');
  });

  it('stays quiet on tags that are not the exemption tag', async () => {
    const result = await handler(loadEvent('iam/TagUser-cost-center-compliant.json'));

    expect(result.status === 'processed' && result.decisions.map((d) => [d.verdict, d.outcome])).toStrictEqual([['compliant', 'none']]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });
});
