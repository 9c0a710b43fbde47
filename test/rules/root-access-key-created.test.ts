/**
 * root-access-key-created: the root user's own new access key is an alert,
 * with a proposal (`UpdateAccessKey` to Inactive) that only the root user can
 * run. The proposal through the executor, signed in as the root user: the
 * read before it (`GetAccountSummary`, which the bot's role can make) and the
 * read after it (`ListAccessKeys` without `UserName`, which only the root user
 * can make).
 */
import { GetAccountSummaryCommand, IAMClient, IAMServiceException, ListAccessKeysCommand, NoSuchEntityException, UpdateAccessKeyCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway, type CommandTable } from '../../engine/aws.js';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import { executePlan } from '../../engine/executor.js';
import type { PlanStep } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { credentialRules, credentialsFamily } from '../../remediations/credentials/index.js';
import { proposeDeactivation } from '../../remediations/credentials/root-access-key-created.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const rootAccessKeyCreated = registeredRule('root-access-key-created');
const evaluate = ruleEvaluator('root-access-key-created');

const ROOT = 'arn:aws:iam::111122223333:root';
const KEY = 'AKIAI44QH8DHBEXAMPLE';

describe('root-access-key-created', () => {
  describe('evaluate', () => {
    it("alerts on the root user's own new key and proposes deactivating it, with no automatic plan", () => {
      expect(evaluate(loadEvent('iam/CreateAccessKey-root-own-key.json'))).toStrictEqual({
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
      const verdict = evaluate(event);
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
      expect(evaluate(loadEvent(fixture))).toStrictEqual({ kind: 'compliant', summary, resources });
    });

    it('leaves the failed call to the engine', async () => {
      const config = parseConfig({}, credentialRules);
      const decision = await decide(loadEvent('iam/CreateAccessKey-failed-limit-exceeded.json'), rootAccessKeyCreated, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.mode).toBe('notify');
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (LimitExceededException), so it changed nothing', cause: 'failed-call' });
    });
  });

  describe('the proposal through the executor (signed in as the root user)', () => {
    /** What the root user's own session may send: the credentials family's reads plus the write only root can make. */
    const rootUserCommands = {
      clients: runtimeCommands(credentialsFamily).clients,
      commands: { ...runtimeCommands(credentialsFamily).commands, 'iam:UpdateAccessKey': UpdateAccessKeyCommand },
    } as const satisfies CommandTable;

    const iam = mockClient(IAMClient);

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
    });

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
});
