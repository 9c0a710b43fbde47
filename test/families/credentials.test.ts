/**
 * The credentials family's function, with IAM and SNS mocked: its rules only
 * read and notify (a root key's deactivation is a proposal for the root user
 * to run), and its EventBridge pattern takes console sign-ins under their own
 * detail-type.
 */
import { GetAccountSummaryCommand, GetLoginProfileCommand, GetUserCommand, IAMClient, ListMFADevicesCommand, NoSuchEntityException } from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseEvent } from '../../engine/event.js';
import { matchingRules, patternForRule, patternForRules } from '../../engine/patterns.js';
import { credentialRules } from '../../remediations/credentials/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler } from '../helpers/rule-harness.js';

const ACCOUNT = '111122223333';
const SIGN_IN = 'AWS Console Sign In via CloudTrail';
const KEY = 'AKIAI44QH8DHBEXAMPLE';

const iam = mockClient(IAMClient);
const sns = mockClient(SNSClient);

/** Every IAM call in order, as operation and input. */
function iamCalls(): [string, unknown][] {
  return iam.calls().map((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: unknown };
    return [command.constructor.name.replace(/Command$/, ''), command.input];
  });
}

beforeEach(() => {
  iam.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('credentials patterns', () => {
  it('match ConsoleLogin on its own detail-type and source, and IAM calls as API calls', () => {
    expect(patternForRule(registeredRule('root-console-login'))).toStrictEqual({
      source: ['aws.signin'],
      'detail-type': [SIGN_IN],
      detail: { eventSource: ['signin.amazonaws.com'], eventName: ['ConsoleLogin'] },
    });
    expect(patternForRules(credentialRules)).toStrictEqual({
      source: ['aws.iam', 'aws.signin', 'aws.sts'],
      'detail-type': ['AWS API Call via CloudTrail', SIGN_IN],
      detail: {
        $or: [
          { eventSource: ['iam.amazonaws.com'], eventName: ['CreateAccessKey', 'CreateRole', 'DeactivateMFADevice', 'DeleteVirtualMFADevice'] },
          { eventSource: ['signin.amazonaws.com'], eventName: ['ConsoleLogin'] },
          { eventSource: ['sts.amazonaws.com'], eventName: ['AssumeRole'], requestParameters: { roleArn: [{ wildcard: 'arn:*:iam::*:role/remediation-bot/*' }] } },
        ],
      },
    });
  });

  it('accept the sign-in envelope at the boundary, and no rule matches it under the API-call detail-type', () => {
    const event = loadEvent('signin/ConsoleLogin-root-success-mfa.json');
    expect(parseEvent(event).success).toBe(true);
    expect(matchingRules(credentialRules, event).map((r) => r.id)).toStrictEqual(['root-console-login', 'console-login-without-mfa']);
    expect(matchingRules(credentialRules, { ...event, 'detail-type': 'AWS API Call via CloudTrail' })).toStrictEqual([]);
  });
});

describe('credentials handler', () => {
  const noSuchEntity = () => Object.assign(new NoSuchEntityException({ message: 'The user with name carol cannot be found.', $metadata: { httpStatusCode: 404 } }), { Code: 'NoSuchEntity' });

  /** The function as deployed; in `remediate`, every rule (and the default) in that mode. */
  function handler(mode?: 'remediate') {
    const modes = mode ? Object.fromEntries(credentialRules.map((r) => [r.id, mode])) : {};
    return familyHandler('credentials', { modes, config: mode ? { defaultMode: mode } : {} }).handler;
  }

  beforeEach(() => {
    iam.on(GetUserCommand).resolves({ User: { UserName: 'carol', UserId: 'AIDAEXAMPLE', Arn: 'arn:aws:iam::111122223333:user/carol', Path: '/', CreateDate: new Date('2024-01-01T00:00:00Z'), Tags: [] } });
    iam.on(GetLoginProfileCommand).resolves({ LoginProfile: { UserName: 'carol', CreateDate: new Date('2024-11-02T10:00:00Z') } });
    iam.on(ListMFADevicesCommand).resolves({ MFADevices: [] });
    iam.on(GetAccountSummaryCommand).resolves({ SummaryMap: { AccountMFAEnabled: 0 } });
  });

  it('notifies with confirmed facts, after exactly these read-only lookups, and writes nothing', async () => {
    const result = await handler()(loadEvent('iam/DeactivateMFADevice-console-user.json'));
    expect(iam.commandCalls(GetUserCommand).map((c) => c.args[0].input)).toStrictEqual([{ UserName: 'carol' }]);
    expect(iam.commandCalls(GetLoginProfileCommand).map((c) => c.args[0].input)).toStrictEqual([{ UserName: 'carol' }]);
    expect(iam.commandCalls(ListMFADevicesCommand).map((c) => c.args[0].input)).toStrictEqual([{ UserName: 'carol' }]);
    expect(iam.calls()).toHaveLength(3);
    expect(result.status === 'processed' && result.decisions).toStrictEqual([
      { rule: 'mfa-removed', verdict: 'violation', outcome: 'notified', summary: 'MFA removed from IAM user carol (arn:aws:iam::111122223333:mfa/carol)' },
    ]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('reads NoSuchEntity from GetLoginProfile as "no console password"', async () => {
    iam.on(GetLoginProfileCommand).rejects(noSuchEntity());
    const result = await handler()(loadEvent('iam/DeactivateMFADevice-console-user.json'));
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ verdict: 'compliant', outcome: 'none' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('reports an AccessDenied lookup as an unconfirmed alert', async () => {
    iam.on(GetLoginProfileCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied', Code: 'AccessDenied' }));
    const result = await handler()(loadEvent('iam/DeactivateMFADevice-console-user.json'));
    expect(result.status === 'processed' && result.decisions[0]?.summary).toBe('MFA removed from IAM user carol (arn:aws:iam::111122223333:mfa/carol); console access not confirmed');
  });

  it('never calls IAM to change anything, even in remediate mode (root key: proposal only, read first)', async () => {
    iam.on(GetAccountSummaryCommand).resolves({ SummaryMap: { AccountAccessKeysPresent: 1, AccountMFAEnabled: 1 } });
    const result = await handler('remediate')(loadEvent('iam/CreateAccessKey-root-own-key.json'));
    expect(iam.commandCalls(GetAccountSummaryCommand).map((c) => c.args[0].input)).toStrictEqual([{}]);
    expect(iam.calls()).toHaveLength(1);
    expect(result.status === 'processed' && result.decisions[0]).toMatchObject({ rule: 'root-access-key-created', verdict: 'violation', outcome: 'proposed' });
    const message = JSON.parse(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)) as Record<string, string>;
    expect(message['email']).toContain('iam:UpdateAccessKey {"AccessKeyId":"AKIAI44QH8DHBEXAMPLE","Status":"Inactive"}');
  });

  it('handles a console sign-in envelope end to end', async () => {
    const result = await handler()(loadEvent('signin/ConsoleLogin-root-success-mfa.json'));
    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([
      ['root-console-login', 'violation', 'notified'],
      ['console-login-without-mfa', 'compliant', 'none'],
    ]);
    expect(iam.calls()).toHaveLength(0);
  });
});

describe('bot-role-impostor through the Lambda path', () => {
  /** The bot's function roles as the deployment names them (`functionRole` in deploy/deployment.ts). */
  const BOT_ROLES = [
    `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-credentials`,
    `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-iam`,
  ];
  const [CREDENTIALS_ROLE = ''] = BOT_ROLES;
  const { handler } = familyHandler('credentials', {
    env: {
      AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-prod-credentials',
      BOT_PRINCIPALS: BOT_ROLES.join(','),
      BOT_SESSION_NAMES: 'remediation-bot-prod-credentials,remediation-bot-prod-iam',
    },
  });

  it('alerts at high severity on a bot role assumed outside Lambda, and calls nothing but SNS', async () => {
    const result = await handler(loadEvent('sts/AssumeRole-bot-role-by-iam-user.json'));

    expect(result.status === 'processed' && result.decisions).toStrictEqual([
      {
        rule: 'bot-role-impostor',
        verdict: 'violation',
        outcome: 'notified',
        summary: `the bot's own role ${CREDENTIALS_ROLE} assumed by arn:aws:iam::${ACCOUNT}:user/mallory, not by the Lambda service`,
      },
    ]);
    expect(iam.calls()).toHaveLength(0);
    const published = sns.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(published[0]?.args[0].input.MessageAttributes?.['severity']?.StringValue).toBe('high');
  });

  it('stays quiet when the Lambda service assumes a bot role', async () => {
    const result = await handler(loadEvent('sts/AssumeRole-bot-role-by-lambda-service.json'));

    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([['bot-role-impostor', 'compliant', 'none']]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('alerts on the look-alike CreateRole even though it arrives beside the IAM family', async () => {
    const result = await handler(loadEvent('iam/CreateRole-look-alike-role-on-bot-path.json'));

    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.verdict, d.outcome])).toStrictEqual([['bot-role-impostor', 'violation', 'notified']]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });
});

describe('root-access-key-created through the Lambda path', () => {
  function handler(mode: 'notify' | 'propose') {
    return familyHandler('credentials', { modes: { 'root-access-key-created': mode } }).handler;
  }

  function summary(present: number) {
    return { SummaryMap: { AccountAccessKeysPresent: present, AccountMFAEnabled: 1, Users: 12 } };
  }

  it('in propose mode reads the present first: a root user with no key left makes the proposal already fixed', async () => {
    iam.on(GetAccountSummaryCommand).resolves(summary(0));

    const result = await handler('propose')(loadEvent('iam/CreateAccessKey-root-own-key.json'));

    expect(iamCalls()).toStrictEqual([['GetAccountSummary', {}]]);
    expect(result.status === 'processed' && result.decisions).toStrictEqual([
      { rule: 'root-access-key-created', verdict: 'violation', outcome: 'already-fixed', summary: `the root user of account 111122223333 created access key ${KEY}` },
    ]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('in propose mode proposes when the root user still has a key, and never sends the write', async () => {
    iam.on(GetAccountSummaryCommand).resolves(summary(1));

    const result = await handler('propose')(loadEvent('iam/CreateAccessKey-root-own-key.json'));

    expect(iamCalls()).toStrictEqual([['GetAccountSummary', {}]]);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('proposed');
  });

  it('in notify mode (the default) shows no proposal and reads nothing', async () => {
    const result = await handler('notify')(loadEvent('iam/CreateAccessKey-root-own-key.json'));

    expect(iam.calls()).toHaveLength(0);
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('notified');
  });
});
