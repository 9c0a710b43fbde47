/**
 * root-access-key-created's proposal (`UpdateAccessKey` of the root user's own
 * key) through the executor and the Lambda path: the read before it
 * (`GetAccountSummary`, which the bot's role can make) and the read after it
 * (`ListAccessKeys` without `UserName`, which only the root user can make).
 */
import { GetAccountSummaryCommand, IAMClient, IAMServiceException, ListAccessKeysCommand, NoSuchEntityException, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, type CommandTable } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { executePlan } from '../engine/executor.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import type { PlanStep } from '../engine/types.js';
import { credentialRules } from '../remediations/credentials/index.js';
import { proposeDeactivation } from '../remediations/credentials/root-access-key-created.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { credentialsFamily } from '../remediations/credentials/index.js';
import { registeredRule } from './helpers/registered.js';

const credentialCommands = runtimeCommands(credentialsFamily);
const rootAccessKeyCreated = registeredRule('root-access-key-created');

const KEY = 'AKIAI44QH8DHBEXAMPLE';
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';

/** What the root user's own session may send: the credentials family's reads plus the write only root can make. */
const rootUserCommands = {
  clients: credentialCommands.clients,
  commands: { ...credentialCommands.commands, 'iam:UpdateAccessKey': UpdateAccessKeyCommand },
} as const satisfies CommandTable;

const iam = mockClient(IAMClient);
const sns = mockClient(SNSClient);

/** IAM's query-protocol errors, as the SDK throws them: the wire code is in `Code`, the class in `name`. */
const validationError = () =>
  Object.assign(
    new IAMServiceException({ name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Must specify userName when calling with non-User credentials' }),
    { Code: 'ValidationError' },
  );
const accessDenied = () =>
  Object.assign(
    new IAMServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
      message: 'User: arn:aws:sts::111122223333:assumed-role/remediation-bot-prod-us-east-1-credentials/remediation-bot-prod-credentials is not authorized to perform: iam:GetAccountSummary',
    }),
    { Code: 'AccessDenied' },
  );
const noSuchKey = () =>
  Object.assign(new NoSuchEntityException({ message: `The Access Key with id ${KEY} cannot be found.`, $metadata: { httpStatusCode: 404 } }), { Code: 'NoSuchEntity' });

function summary(present: number) {
  return { SummaryMap: { AccountAccessKeysPresent: present, AccountMFAEnabled: 1, Users: 12 } };
}

function rootKeys(status: 'Active' | 'Inactive' | undefined) {
  return {
    AccessKeyMetadata: status === undefined ? [] : [{ AccessKeyId: KEY, Status: status, CreateDate: new Date('2025-03-10T12:00:00Z') }],
    IsTruncated: false,
  };
}

function proposal(): PlanStep[] {
  return [proposeDeactivation(KEY)];
}

async function runAsRootUser() {
  return executePlan(proposal(), createAwsGateway(rootUserCommands, { region: 'us-east-1', maxAttempts: 1 }), { probes: rootAccessKeyCreated.probes });
}

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

describe('root-access-key-created proposal through the executor (signed in as the root user)', () => {
  it('reads GetAccountSummary before, deactivates, reads ListAccessKeys after: applied and verified', async () => {
    iam.on(GetAccountSummaryCommand).resolves(summary(1));
    iam.on(UpdateAccessKeyCommand).resolves({});
    iam.on(ListAccessKeysCommand).resolves(rootKeys('Inactive'));

    const report = await runAsRootUser();

    expect(iamCalls()).toStrictEqual([
      ['GetAccountSummary', {}],
      ['UpdateAccessKey', { AccessKeyId: KEY, Status: 'Inactive' }],
      ['ListAccessKeys', {}],
    ]);
    expect(report.status).toBe('applied');
    expect(report.steps.map((s) => [s.status, s.precondition, s.verification])).toStrictEqual([
      [
        'applied',
        { state: 'needed', evidence: `the root user still has an access key (AccountAccessKeysPresent 1); whether ${KEY} is still active only the root user can read` },
        { state: 'done', evidence: `${KEY} is Inactive` },
      ],
    ]);
  });

  it('sends nothing when the root user has no access key left: already fixed, with the evidence', async () => {
    iam.on(GetAccountSummaryCommand).resolves(summary(0));

    const report = await runAsRootUser();

    expect(iamCalls()).toStrictEqual([['GetAccountSummary', {}]]);
    expect(report.status).toBe('already-fixed');
    expect(report.steps[0]?.precondition).toStrictEqual({ state: 'done', evidence: `the root user has no access key left (AccountAccessKeysPresent 0): ${KEY} was deleted` });
  });

  it('reports unverified when the key still reads Active after the call', async () => {
    iam.on(GetAccountSummaryCommand).resolves(summary(1));
    iam.on(UpdateAccessKeyCommand).resolves({});
    iam.on(ListAccessKeysCommand).resolves(rootKeys('Active'));

    const report = await runAsRootUser();

    expect(iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(1);
    expect(iam.commandCalls(ListAccessKeysCommand)).toHaveLength(1);
    expect(report.status).toBe('unverified');
    expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: `${KEY} is still Active` });
  });

  it('believes NoSuchEntity (the key was deleted meanwhile) only because a read shows the key gone', async () => {
    iam.on(GetAccountSummaryCommand).resolves(summary(1));
    iam.on(UpdateAccessKeyCommand).rejects(noSuchKey());
    iam.on(ListAccessKeysCommand).resolves(rootKeys(undefined));

    const report = await runAsRootUser();

    expect(iamCalls()).toStrictEqual([
      ['GetAccountSummary', {}],
      ['UpdateAccessKey', { AccessKeyId: KEY, Status: 'Inactive' }],
      ['ListAccessKeys', {}],
    ]);
    expect(report.status).toBe('already-fixed');
    expect(report.steps[0]).toMatchObject({ status: 'already-done', errorCode: 'NoSuchEntity', verification: { state: 'done', evidence: `${KEY} is no longer among the root user's access keys (deleted)` } });
  });

  it("cannot verify with a role's temporary credentials: ListAccessKeys needs a UserName there, so the outcome is unverified, never applied", async () => {
    iam.on(GetAccountSummaryCommand).resolves(summary(1));
    iam.on(UpdateAccessKeyCommand).resolves({});
    iam.on(ListAccessKeysCommand).rejects(validationError());

    const report = await runAsRootUser();

    expect(report.status).toBe('unverified');
    expect(report.steps[0]?.verification).toStrictEqual({ state: 'unreadable', evidence: 'ListAccessKeys failed: ValidationError' });
  });

  it('runs nothing when the read before fails', async () => {
    iam.on(GetAccountSummaryCommand).rejects(accessDenied());

    const report = await runAsRootUser();

    expect(iam.commandCalls(UpdateAccessKeyCommand)).toHaveLength(0);
    expect(report.status).toBe('failed');
    expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'AccessDenied', precondition: { state: 'unreadable', evidence: 'GetAccountSummary failed: AccessDenied' } });
  });

  it('refuses to run the proposal while the key id is unknown, before any call', async () => {
    const report = await executePlan([proposeDeactivation(undefined)], createAwsGateway(rootUserCommands, { region: 'us-east-1', maxAttempts: 1 }), { probes: rootAccessKeyCreated.probes });
    expect(iam.calls()).toHaveLength(0);
    expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'UnknownValue' });
  });
});

describe('root-access-key-created through the Lambda path', () => {
  function handler(mode: 'notify' | 'propose') {
    return remediationHandler({
      rules: credentialRules,
      commands: credentialCommands,
      logger: recordingLogger(),
      config: parseConfig({ rules: { 'root-access-key-created': { mode } } }, credentialRules),
      env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-credentials' },
      gateway: createAwsGateway(credentialCommands, { region: 'us-east-1', maxAttempts: 1 }),
    });
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
