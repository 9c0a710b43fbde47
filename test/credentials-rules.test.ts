import { GetAccountSummaryCommand, GetLoginProfileCommand, GetUserCommand, IAMClient, ListMFADevicesCommand, NoSuchEntityException } from '@aws-sdk/client-iam';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import { parseEvent, type CloudTrailEvent } from '../engine/event.js';
import { remediationHandler, runtimeCommands } from '../handlers/runtime.js';
import { matchingRules, patternForRule, patternForRules } from '../engine/patterns.js';
import type { Facts, Rule, Verdict } from '../engine/types.js';
import { deviceName, mfaSubject } from '../remediations/credentials/identities.js';
import { credentialRules } from '../remediations/credentials/index.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { credentialsFamily } from '../remediations/credentials/index.js';
import { lookupOf, registeredRule } from './helpers/registered.js';

const credentialCommands = runtimeCommands(credentialsFamily);
const consoleLoginWithoutMfa = registeredRule('console-login-without-mfa');
const mfaRemoved = registeredRule('mfa-removed');
const rootAccessKeyCreated = registeredRule('root-access-key-created');
const rootConsoleLogin = registeredRule('root-console-login');

const NOW = new Date('2025-03-10T00:00:00Z');
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
const ROOT = 'arn:aws:iam::111122223333:root';
const SIGN_IN = 'AWS Console Sign In via CloudTrail';

function evaluate(rule: Rule, event: CloudTrailEvent, facts: Facts = {}): Verdict {
  const config = parseConfig({}, credentialRules);
  return rule.evaluate(event, facts, { config, settings: undefined, now: NOW });
}

const mfaLookup = (name: string) => {
  const found = mfaRemoved.lookups.find((l) => l.name === name);
  if (!found) throw new Error(name);
  return found;
};

/** Facts as the rule's own `select`s reduce the SDK answers; `null` is what a NoSuchEntity becomes. */
function mfaFacts(answers: { user?: unknown; loginProfile?: unknown; mfaDevices?: unknown; accountSummary?: unknown }): Facts {
  const facts: Record<string, Facts[string]> = {};
  for (const [name, output] of Object.entries(answers)) facts[name] = { status: 'ok', value: output === null ? null : mfaLookup(name).select(output) };
  return facts;
}

const noSuchEntity = () => Object.assign(new NoSuchEntityException({ message: 'The user with name carol cannot be found.', $metadata: { httpStatusCode: 404 } }), { Code: 'NoSuchEntity' });

describe('credentials rules', () => {
  describe('patterns', () => {
    it('match ConsoleLogin on its own detail-type and source, and IAM calls as API calls', () => {
      expect(patternForRule(rootConsoleLogin)).toStrictEqual({
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

  describe('root-access-key-created', () => {
    it("alerts on the root user's own new key and proposes deactivating it, with no automatic plan", () => {
      expect(evaluate(rootAccessKeyCreated, loadEvent('iam/CreateAccessKey-root-own-key.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'the root user of account 111122223333 created access key AKIAI44QH8DHBEXAMPLE',
        resources: [ROOT],
        findings: [
          {
            code: 'root-access-key-created',
            severity: 'high',
            message:
              'The root user created access key AKIAI44QH8DHBEXAMPLE. A root key bypasses every IAM policy and cannot be scoped down; deactivate it unless a task truly needs it, and find out who created it and why.',
            subject: 'AKIAI44QH8DHBEXAMPLE',
          },
        ],
        plan: [],
        proposal: [
          {
            service: 'iam',
            operation: 'UpdateAccessKey',
            input: { AccessKeyId: 'AKIAI44QH8DHBEXAMPLE', Status: 'Inactive' },
            reason:
              "PROPOSAL, not applied: deactivate the root user's new access key. Only the root user can change its own keys: run this signed in as the root user (no UserName means the caller's own key). Nothing is deleted; the key can be activated again.",
            undo: {
              service: 'iam',
              operation: 'UpdateAccessKey',
              input: { AccessKeyId: 'AKIAI44QH8DHBEXAMPLE', Status: 'Active' },
              reason: "Activate the root user's access key again.",
            },
            alreadyDoneCodes: ['NoSuchEntity', 'NoSuchEntityException'],
            precondition: {
              service: 'iam',
              operation: 'GetAccountSummary',
              input: {},
              probe: 'rootAccessKeys',
              expect: { accessKeyId: 'AKIAI44QH8DHBEXAMPLE' },
              description: 'the root user still has an access key (AKIAI44QH8DHBEXAMPLE, unless it was deleted)',
            },
            verification: {
              service: 'iam',
              operation: 'ListAccessKeys',
              input: {},
              probe: 'rootOwnAccessKey',
              expect: { accessKeyId: 'AKIAI44QH8DHBEXAMPLE' },
              description: "AKIAI44QH8DHBEXAMPLE is no longer Active among the root user's own keys (a read only the root user can make)",
            },
          },
        ],
      });
    });

    it('marks the key id as unknown when the response does not carry it', () => {
      const event = loadEvent('iam/CreateAccessKey-root-own-key.json');
      event.detail.responseElements = null;
      const verdict = evaluate(rootAccessKeyCreated, event);
      const step = verdict.kind === 'violation' ? verdict.proposal?.[0] : undefined;
      expect(step?.input).toStrictEqual({
        AccessKeyId: { $unknown: "the root user's new access key id (IAM console, the root user's Security credentials)" },
        Status: 'Inactive',
      });
      expect([step?.precondition?.expect, step?.precondition?.description]).toStrictEqual([{}, "the root user still has an access key (the root user's new access key, unless it was deleted)"]);
      expect(step?.verification?.description).toBe("the root user's new access key is no longer Active among the root user's own keys (a read only the root user can make)");
    });

    it.each([
      ['iam/CreateAccessKey-root-for-iam-user-compliant.json', 'access key AKIAIOSFODNN7EXAMPLE belongs to IAM user ci-deployer, not to the root user', ['user ci-deployer']],
      [
        'iam/CreateAccessKey-iam-user-stratus-genuine-compliant.json',
        'access key AKIAL80DWDVKKM0UXEER belongs to IAM user stratus-red-team-backdoor-u-user, not to the root user',
        ['user stratus-red-team-backdoor-u-user'],
      ],
    ])('passes %s', (fixture, summary, resources) => {
      expect(evaluate(rootAccessKeyCreated, loadEvent(fixture))).toStrictEqual({ kind: 'compliant', summary, resources });
    });

    it('leaves the failed call to the engine', async () => {
      const config = parseConfig({}, credentialRules);
      const decision = await decide(loadEvent('iam/CreateAccessKey-failed-limit-exceeded.json'), rootAccessKeyCreated, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.mode).toBe('notify');
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (LimitExceededException), so it changed nothing', cause: 'failed-call' });
    });
  });

  describe('mfa-removed', () => {
    const carol = loadEvent('iam/DeactivateMFADevice-console-user.json');
    const serial = 'arn:aws:iam::111122223333:mfa/carol';

    it('says who lost MFA: the named user, the caller, the root user, or the user a deleted device was named after', () => {
      expect(mfaSubject(carol)).toStrictEqual({ kind: 'user', userName: 'carol' });
      expect(mfaSubject(loadEvent('iam/DeactivateMFADevice-root-own-device.json'))).toStrictEqual({ kind: 'root' });
      const own = loadEvent('iam/DeactivateMFADevice-console-user.json');
      own.detail.requestParameters = { serialNumber: 'arn:aws:iam::111122223333:mfa/alice' };
      expect(mfaSubject(own)).toStrictEqual({ kind: 'user', userName: 'alice' });
      expect(mfaSubject(loadEvent('iam/DeleteVirtualMFADevice-unassigned-device-compliant.json'))).toStrictEqual({ kind: 'user', userName: 'carol' });
      expect(deviceName('arn:aws:iam::111122223333:mfa/team/carol-phone')).toBe('carol-phone');
      expect(deviceName('GAHT12345678')).toBe('GAHT12345678');
    });

    it('confirms the removal when the user has a console password and no MFA device left', () => {
      const facts = mfaFacts({
        user: { User: { UserName: 'carol', Tags: [] } },
        loginProfile: { LoginProfile: { UserName: 'carol', CreateDate: new Date('2024-11-02T10:00:00Z') } },
        mfaDevices: { MFADevices: [] },
      });
      expect(evaluate(mfaRemoved, carol, facts)).toStrictEqual({
        kind: 'violation',
        summary: `MFA removed from IAM user carol (${serial})`,
        resources: ['user carol'],
        findings: [
          {
            code: 'mfa-removed',
            severity: 'high',
            message:
              'IAM user carol has a console password (since 2024-11-02T10:00:00.000Z) and no MFA device left: the password alone signs in. Ask the user to enable MFA again, and check who removed it.',
            subject: 'carol',
          },
        ],
        plan: [],
      });
    });

    it('says the removal is unconfirmed when the lookups are unavailable (offline), never passes it', () => {
      const verdict = evaluate(mfaRemoved, carol, {
        loginProfile: { status: 'unavailable', reason: 'offline replay has no AWS access' },
        mfaDevices: { status: 'unavailable', reason: 'offline replay has no AWS access' },
      });
      expect(verdict.kind === 'violation' && verdict.summary).toBe(`MFA removed from IAM user carol (${serial}); console access not confirmed`);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.message).toBe(
        `MFA device ${serial} was deactivated for IAM user carol. Whether the user has a console password and another MFA device could not be checked (GetLoginProfile and ListMFADevices unavailable).`,
      );
    });

    it.each([
      ['no console password', { loginProfile: null, mfaDevices: { MFADevices: [] } }, 'IAM user carol has no console password, so MFA removal opens no console sign-in'],
      [
        'another MFA device left',
        { loginProfile: { LoginProfile: { UserName: 'carol' } }, mfaDevices: { MFADevices: [{ SerialNumber: 'arn:aws:iam::111122223333:u2f/user/carol/key-EXAMPLE' }] } },
        'IAM user carol still has 1 MFA device (arn:aws:iam::111122223333:u2f/user/carol/key-EXAMPLE)',
      ],
    ])('passes a user with %s', (_, answers, summary) => {
      expect(evaluate(mfaRemoved, carol, mfaFacts({ user: { User: { UserName: 'carol' } }, ...answers }))).toStrictEqual({ kind: 'compliant', summary, resources: ['user carol'] });
    });

    it('exempts a user carrying the exemption tag, and the exempt verdict carries the finding it let through', () => {
      const tagged = { User: { UserName: 'carol', Tags: [{ Key: 'remediation:exempt', Value: 'break-glass, MFA in the safe' }] } };
      const exempt = evaluate(mfaRemoved, carol, mfaFacts({ user: tagged, loginProfile: { LoginProfile: { UserName: 'carol' } }, mfaDevices: { MFADevices: [] } }));
      expect(exempt).toStrictEqual({
        kind: 'exempt',
        reason: 'IAM user carol is tagged remediation:exempt: break-glass, MFA in the safe',
        resources: ['user carol'],
        findings: [
          {
            code: 'mfa-removed',
            severity: 'high',
            message: 'IAM user carol has a console password and no MFA device left: the password alone signs in. Ask the user to enable MFA again, and check who removed it.',
            subject: 'carol',
          },
        ],
      });
      const unconfirmed = evaluate(mfaRemoved, carol, mfaFacts({ user: tagged }));
      expect(unconfirmed.kind === 'exempt' && unconfirmed.findings?.map((f) => f.code)).toStrictEqual(['mfa-removed-unconfirmed']);
    });

    it('passes a tagged user who still has MFA: an exemption only matters where there is something to exempt', () => {
      const tagged = { User: { UserName: 'carol', Tags: [{ Key: 'remediation:exempt', Value: 'break-glass' }] } };
      const answers = { user: tagged, loginProfile: { LoginProfile: { UserName: 'carol' } }, mfaDevices: { MFADevices: [{ SerialNumber: serial }] } };
      expect(evaluate(mfaRemoved, carol, mfaFacts(answers))).toStrictEqual({ kind: 'compliant', summary: `IAM user carol still has 1 MFA device (${serial})`, resources: ['user carol'] });
    });

    it('passes a user that no longer exists (NoSuchEntity): nobody signs in as that user, so there is nothing left to inspect', () => {
      expect(evaluate(mfaRemoved, carol, mfaFacts({ user: null }))).toStrictEqual({
        kind: 'compliant',
        summary: 'IAM user carol no longer exists (GetUser: NoSuchEntity), so nobody signs in as that user without MFA',
        resources: ['user carol'],
      });
    });

    it('reports an event that names neither a user nor a device as a high-severity "could not inspect"', () => {
      const event = loadEvent('iam/DeactivateMFADevice-console-user.json');
      event.detail.requestParameters = {};
      event.detail.userIdentity = { type: 'AssumedRole', arn: 'arn:aws:sts::111122223333:assumed-role/Admin/dana' };
      expect(evaluate(mfaRemoved, event)).toStrictEqual({
        kind: 'skipped',
        reason: 'the event names neither a user nor an MFA device, so whose MFA was removed cannot be told',
        severity: 'high',
      });
    });

    it("judges the root user's MFA by GetAccountSummary", () => {
      const event = loadEvent('iam/DeactivateMFADevice-root-own-device.json');
      const gone = evaluate(mfaRemoved, event, mfaFacts({ accountSummary: { SummaryMap: { AccountMFAEnabled: 0 } } }));
      expect(gone.kind === 'violation' && gone.findings.map((f) => f.code)).toStrictEqual(['root-mfa-removed']);
      expect(evaluate(mfaRemoved, event, mfaFacts({ accountSummary: { SummaryMap: { AccountMFAEnabled: 1 } } }))).toStrictEqual({
        kind: 'compliant',
        summary: 'the root user still has an MFA device (GetAccountSummary: AccountMFAEnabled)',
        resources: [ROOT],
      });
      const offline = evaluate(mfaRemoved, event);
      expect(offline.kind === 'violation' && offline.summary).toBe(
        'MFA removed from the root user (arn:aws:iam::111122223333:mfa/root-account-mfa-device); console access not confirmed',
      );
    });

    it('passes the deletion of an unassigned virtual device, which removes MFA from no one, unless its namesake is left without MFA', () => {
      const event = loadEvent('iam/DeleteVirtualMFADevice-unassigned-device-compliant.json');
      expect(evaluate(mfaRemoved, event)).toStrictEqual({
        kind: 'compliant',
        summary: `virtual MFA device ${serial} deleted: IAM deletes only unassigned devices, so the deletion removed MFA from no one; whether IAM user carol signs in without MFA could not be checked (lookups unavailable)`,
        resources: ['user carol'],
      });
      expect(evaluate(mfaRemoved, event, mfaFacts({ user: null }))).toStrictEqual({
        kind: 'compliant',
        summary: `virtual MFA device ${serial} deleted: IAM deletes only unassigned devices, so the deletion removed MFA from no one, and no IAM user is named carol`,
        resources: ['user carol'],
      });
      const stillExposed = evaluate(
        mfaRemoved,
        event,
        mfaFacts({ user: { User: { UserName: 'carol' } }, loginProfile: { LoginProfile: { UserName: 'carol' } }, mfaDevices: { MFADevices: [] } }),
      );
      expect(stillExposed.kind === 'violation' && stillExposed.findings.map((f) => f.code)).toStrictEqual(['mfa-removed']);
    });

    it.each(['iam/DeactivateMFADevice-failed-access-denied.json', 'iam/DeleteVirtualMFADevice-failed-delete-conflict.json'])(
      'leaves the failed call %s to the engine',
      async (fixture) => {
        const config = parseConfig({}, credentialRules);
        const decision = await decide(loadEvent(fixture), mfaRemoved, { config, env: {}, facts: offlineFacts, now: NOW });
        expect(decision.verdict.kind).toBe('skipped');
      },
    );
  });

  describe('root-console-login', () => {
    it('alerts on a successful root sign-in', () => {
      expect(evaluate(rootConsoleLogin, loadEvent('signin/ConsoleLogin-root-success-mfa.json'))).toStrictEqual({
        kind: 'violation',
        summary: 'root console sign-in to account 111122223333',
        resources: [ROOT],
        findings: [
          {
            code: 'root-console-login',
            severity: 'high',
            message:
              'The root user signed in to the console from 203.0.113.17. Confirm who it was and that the task needs root; everyday work belongs to IAM roles.',
            subject: ROOT,
          },
        ],
        plan: [],
      });
    });

    it('adds a finding when the root sign-in used no MFA', () => {
      const event = loadEvent('signin/ConsoleLogin-root-success-mfa.json');
      Object.assign(event.detail, { additionalEventData: { LoginTo: 'https://console.aws.amazon.com/console/home', MobileVersion: 'No', MFAUsed: 'No' } });
      const verdict = evaluate(rootConsoleLogin, event);
      expect(verdict.kind === 'violation' && verdict.summary).toBe('root console sign-in to account 111122223333 without MFA');
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual(['root-console-login', 'root-login-without-mfa']);
    });

    it.each([
      ['signin/ConsoleLogin-root-failure-compliant.json', 'failed root sign-in attempt from 203.0.113.17: no session was opened'],
      ['signin/ConsoleLogin-iam-user-mfa-compliant.json', 'console sign-in by arn:aws:iam::111122223333:user/alice, not the root user'],
    ])('passes %s', (fixture, summary) => {
      expect(evaluate(rootConsoleLogin, loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
    });
  });

  describe('console-login-without-mfa', () => {
    it('alerts on the genuine IAM user sign-in without MFA', () => {
      const user = 'stratus-red-team-nmfalu-jfzdtsvchl';
      expect(evaluate(consoleLoginWithoutMfa, loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json'))).toStrictEqual({
        kind: 'violation',
        summary: `IAM user ${user} signed in to the console without MFA`,
        resources: [`user ${user}`],
        findings: [
          {
            code: 'console-login-without-mfa',
            severity: 'high',
            message: `IAM user ${user} signed in to the console from 225.01.00.16 with a password alone. Confirm it was them, and have them enable MFA (or require it with an IAM policy).`,
            subject: user,
          },
        ],
        plan: [],
      });
    });

    it.each([
      ['signin/ConsoleLogin-iam-user-mfa-compliant.json', 'IAM user alice signed in with MFA'],
      [
        'signin/ConsoleLogin-sso-federated-no-mfa-field-compliant.json',
        "federated sign-in by arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef/dana@example.com: MFA is the identity provider's to enforce and not recorded here",
      ],
      ['signin/ConsoleLogin-root-success-mfa.json', 'a root sign-in: judged by root-console-login'],
      ['signin/ConsoleLogin-root-failure-compliant.json', 'a root sign-in: judged by root-console-login'],
    ])('passes %s', (fixture, summary) => {
      expect(evaluate(consoleLoginWithoutMfa, loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
    });

    it('passes a failed IAM user sign-in and exempts a tagged user', () => {
      const failed = loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json');
      failed.detail.responseElements = { ConsoleLogin: 'Failure' };
      expect(evaluate(consoleLoginWithoutMfa, failed).kind).toBe('compliant');
      const lookup = lookupOf(consoleLoginWithoutMfa);
      const facts: Facts = { user: { status: 'ok', value: lookup.select({ User: { Tags: [{ Key: 'remediation:exempt', Value: 'kiosk account' }] } }) } };
      const exempt = evaluate(consoleLoginWithoutMfa, loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json'), facts);
      expect(exempt.kind === 'exempt' && [exempt.reason, exempt.findings?.map((f) => [f.code, f.severity, f.subject])]).toStrictEqual([
        'IAM user stratus-red-team-nmfalu-jfzdtsvchl is tagged remediation:exempt: kiosk account',
        [['console-login-without-mfa', 'high', 'stratus-red-team-nmfalu-jfzdtsvchl']],
      ]);
      expect(lookup.input(loadEvent('signin/ConsoleLogin-iam-user-mfa-compliant.json'))).toBeUndefined();
      expect(lookup.input(loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json'))).toStrictEqual({ UserName: 'stratus-red-team-nmfalu-jfzdtsvchl' });
    });
  });

  describe('handler', () => {
    const iam = mockClient(IAMClient);
    const sns = mockClient(SNSClient);

    function handler(mode?: 'remediate') {
      const config = parseConfig(mode ? { defaultMode: mode, rules: Object.fromEntries(credentialRules.map((r) => [r.id, { mode }])) } : {}, credentialRules);
      return remediationHandler({
        rules: credentialRules,
        commands: credentialCommands,
        logger: recordingLogger(),
        config,
        env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: 'remediation-bot-test-credentials' },
        gateway: createAwsGateway(credentialCommands, { region: 'us-east-1', maxAttempts: 1 }),
      });
    }

    beforeEach(() => {
      iam.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
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
      expect(result.status === 'processed' && result.decisions[0]?.summary).toBe(
        'MFA removed from IAM user carol (arn:aws:iam::111122223333:mfa/carol); console access not confirmed',
      );
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
});
