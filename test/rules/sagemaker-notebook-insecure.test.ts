import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Verdict } from '../../engine/types.js';
import { sagemakerRules } from '../../remediations/sagemaker/index.js';
import { RECREATE_STEP, notebookInstanceProbe } from '../../remediations/sagemaker/sagemaker-notebook-insecure.js';
import { loadEvent } from '../helpers/fixtures.js';
import { lookupOf, registeredRule } from '../helpers/registered.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';

const sagemakerNotebookInsecure = registeredRule('sagemaker-notebook-insecure');
const evaluate = ruleEvaluator('sagemaker-notebook-insecure');
const NOW = new Date('2025-03-12T12:00:00Z');
const ACCOUNT = '111122223333';

function violation(event: CloudTrailEvent, facts: Facts = {}): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event, { facts });
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

const tagsLookup = lookupOf(sagemakerNotebookInsecure);
const tagsFact = (tags: { Key: string; Value: string }[]): Facts => ({ notebookTags: { status: 'ok', value: tagsLookup.select({ Tags: tags }) } });

const check = (name: string, want: string, description: string, extra: Record<string, unknown> = {}) => {
  const read = {
    service: 'sagemaker',
    operation: 'DescribeNotebookInstance',
    input: { NotebookInstanceName: name },
    probe: 'notebookInstance',
    expect: { notebook: name, want, ...extra },
    description,
  };
  return { precondition: read, verification: read };
};
const stop = (name: string, reason: string, rootOnly = false) => ({
  service: 'sagemaker',
  operation: 'StopNotebookInstance',
  input: { NotebookInstanceName: name },
  reason,
  undo: { service: 'sagemaker', operation: 'StartNotebookInstance', input: { NotebookInstanceName: name }, reason: `Start ${name} again.` },
  ...(rootOnly ? check(name, 'stopped', `${name} still runs with root access on`, { unlessRootDisabled: true }) : check(name, 'stopped', `${name} still runs`)),
});
const wait = (name: string, why = 'UpdateNotebookInstance only accepts a stopped notebook.') => ({
  service: 'sagemaker',
  operation: 'waitUntilNotebookInstanceStopped',
  kind: 'wait',
  input: { NotebookInstanceName: name },
  reason: `Wait until ${name} has stopped: ${why}`,
});
const waitAfterUpdate = (name: string) => wait(name, 'the update runs while the notebook is Updating, and StartNotebookInstance only accepts a Stopped one.');
const update = (name: string) => ({
  service: 'sagemaker',
  operation: 'UpdateNotebookInstance',
  input: { NotebookInstanceName: name, RootAccess: 'Disabled' },
  reason: `Turn root access off for the users of ${name}. (Lifecycle configurations still run as root.)`,
  undo: {
    service: 'sagemaker',
    operation: 'UpdateNotebookInstance',
    input: { NotebookInstanceName: name, RootAccess: 'Enabled' },
    reason: 'Turn root access on again, as the event set it.',
  },
  ...check(name, 'root-disabled', `${name} still has root access on`),
});
const start = (name: string) => ({
  service: 'sagemaker',
  operation: 'StartNotebookInstance',
  input: { NotebookInstanceName: name },
  reason: `Start ${name} again, now without root access (skip this step if it should stay stopped).`,
  undo: { service: 'sagemaker', operation: 'StopNotebookInstance', input: { NotebookInstanceName: name }, reason: `Stop ${name} again.` },
  ...check(name, 'running', `${name} is stopped, with root access off`),
});
const rootOnlyProposal = (name: string) => [stop(name, stopReason(name), true), wait(name), update(name), waitAfterUpdate(name), start(name)];
const stopReason = (name: string) => `Stop ${name}: a stopped notebook serves nobody and reaches nothing. Its ML storage volume is kept.`;

describe('sagemaker-notebook-insecure', () => {
  describe('evaluate CreateNotebookInstance', () => {
    it('counts omitted DirectInternetAccess and RootAccess as the API default Enabled, with one finding per violation', () => {
      // Arrange
      const event = loadEvent('sagemaker/CreateNotebookInstance-defaults-internet-root-no-vpc-no-kms.json');
      // Act
      const verdict = violation(event);
      // Assert
      expect(verdict.findings.map((f) => [f.code, f.severity, f.subject])).toStrictEqual([
        ['direct-internet-access', 'high', 'DirectInternetAccess'],
        ['root-access', 'medium', 'RootAccess'],
        ['no-kms-key', 'medium', 'KmsKeyId'],
        ['not-in-vpc', 'medium', 'SubnetId'],
      ]);
      expect(verdict.findings[0]?.message).toContain('DirectInternetAccess was omitted: the API default is Enabled');
      expect(verdict.findings[1]?.message).toContain('RootAccess was omitted: the API default is Enabled');
      expect(verdict.resources).toStrictEqual([`arn:aws:sagemaker:us-east-1:${ACCOUNT}:notebook-instance/churn-exploration`]);
      expect(verdict.summary).toBe(
        'Churn-Exploration created with direct internet access, root access, no KMS key, no VPC subnet; proposed: stop it, then recreate it privately',
      );
    });

    it('applies nothing and proposes stop, wait, root access off, and recreation as a step for a person (no start: it must stay stopped)', () => {
      const verdict = violation(loadEvent('sagemaker/CreateNotebookInstance-defaults-internet-root-no-vpc-no-kms.json'));
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal).toStrictEqual([
        stop('Churn-Exploration', `${stopReason('Churn-Exploration')} Then, as a person: ${RECREATE_STEP}`),
        wait('Churn-Exploration'),
        update('Churn-Exploration'),
      ]);
    });

    it('never proposes a delete', () => {
      const verdict = violation(loadEvent('sagemaker/CreateNotebookInstance-defaults-internet-root-no-vpc-no-kms.json'));
      const operations = [...(verdict.proposal ?? []), ...(verdict.proposal ?? []).flatMap((s) => (s.undo ? [s.undo] : []))].map((s) => s.operation);
      expect(operations.filter((op) => op.startsWith('Delete'))).toStrictEqual([]);
      expect(RECREATE_STEP).toContain('The bot never deletes a notebook.');
    });

    it('proposes stop, wait, update and start again when root access is the only violation', () => {
      const verdict = violation(loadEvent('sagemaker/CreateNotebookInstance-vpc-kms-root-enabled.json'));
      expect(verdict.findings.map((f) => f.code)).toStrictEqual(['root-access']);
      expect(verdict.summary).toBe('forecasting-lab created with root access; proposed: stop it and turn root access off');
      expect(verdict.plan).toStrictEqual([]);
      expect(verdict.proposal).toStrictEqual(rootOnlyProposal('forecasting-lab'));
    });

    it('proposes only the stop when nothing an update can fix is wrong', () => {
      const event = loadEvent('sagemaker/CreateNotebookInstance-private-vpc-kms-compliant.json');
      event.detail.requestParameters = { ...event.detail.requestParameters, directInternetAccess: 'Enabled' };
      const verdict = violation(event);
      expect(verdict.findings.map((f) => f.code)).toStrictEqual(['direct-internet-access']);
      expect(verdict.proposal).toStrictEqual([stop('fraud-features', `${stopReason('fraud-features')} Then, as a person: ${RECREATE_STEP}`)]);
    });

    it('passes a notebook in a subnet, without internet or root access, with a KMS key', () => {
      expect(evaluate(loadEvent('sagemaker/CreateNotebookInstance-private-vpc-kms-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: 'fraud-features was created in a VPC subnet, without direct internet access or root access, with a KMS key',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:notebook-instance/fraud-features`],
      });
    });

    it('exempts a notebook whose create request carries the exemption tag, without a lookup, and says what the exemption let through', () => {
      const event = loadEvent('sagemaker/CreateNotebookInstance-internet-exempt-tag.json');
      expect(tagsLookup.input(event)).toBeUndefined();
      const verdict = evaluate(event);
      expect(verdict).toMatchObject({
        kind: 'exempt',
        reason: 'public-demo is tagged remediation:exempt: conference demo, no data SEC-311',
        resources: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:notebook-instance/public-demo`],
      });
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity])).toStrictEqual([
        ['direct-internet-access', 'high'],
        ['not-in-vpc', 'medium'],
      ]);
    });

    it('honours a configured exemption tag key', () => {
      const event = loadEvent('sagemaker/CreateNotebookInstance-defaults-internet-root-no-vpc-no-kms.json');
      const verdict = evaluate(event, { config: { exemptionTagKey: 'team' } });
      expect(verdict).toMatchObject({ kind: 'exempt', reason: 'Churn-Exploration is tagged team: growth-analytics' });
    });

    it('reads the API spelling of the request as well as CloudTrail lowerCamelCase', () => {
      const event = loadEvent('sagemaker/CreateNotebookInstance-private-vpc-kms-compliant.json');
      event.detail.requestParameters = {
        NotebookInstanceName: 'fraud-features',
        SubnetId: 'subnet-0a1b2c3d4e5f67890',
        KmsKeyId: 'alias/notebooks',
        DirectInternetAccess: 'Disabled',
        RootAccess: 'Enabled',
        Tags: [{ Key: 'team', Value: 'fraud' }],
      };
      expect(violation(event).findings.map((f) => f.code)).toStrictEqual(['root-access']);
    });

    it('treats the Enabled/Disabled values case-insensitively', () => {
      const event = loadEvent('sagemaker/CreateNotebookInstance-private-vpc-kms-compliant.json');
      event.detail.requestParameters = { ...event.detail.requestParameters, rootAccess: 'ENABLED', directInternetAccess: 'disabled' };
      expect(violation(event).findings.map((f) => f.code)).toStrictEqual(['root-access']);
    });

    it('builds the ARN for a China-region notebook in the aws-cn partition when the response has none', () => {
      const event = loadEvent('sagemaker/CreateNotebookInstance-vpc-kms-root-enabled.json');
      event.detail.awsRegion = 'cn-north-1';
      event.detail.responseElements = null;
      event.detail.userIdentity = { type: 'IAMUser', arn: `arn:aws-cn:iam::${ACCOUNT}:user/wei` };
      expect(violation(event).resources).toStrictEqual([`arn:aws-cn:sagemaker:cn-north-1:${ACCOUNT}:notebook-instance/forecasting-lab`]);
    });

    it('skips an event that names no notebook', () => {
      const event = loadEvent('sagemaker/CreateNotebookInstance-vpc-kms-root-enabled.json');
      event.detail.requestParameters = {};
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no notebook instance' });
    });
  });

  describe('evaluate UpdateNotebookInstance', () => {
    const event = () => loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json');
    const arn = `arn:aws:sagemaker:us-east-1:${ACCOUNT}:notebook-instance/fraud-features`;

    it('looks up the tags of the notebook by its lowercased ARN only when the update turned root access on', () => {
      expect(tagsLookup.input(event())).toStrictEqual({ ResourceArn: arn });
      expect(tagsLookup.input(loadEvent('sagemaker/UpdateNotebookInstance-instance-type-compliant.json'))).toBeUndefined();
      const mixedCase = event();
      mixedCase.detail.requestParameters = { notebookInstanceName: 'Fraud-Features', rootAccess: 'Enabled' };
      expect(tagsLookup.input(mixedCase)).toStrictEqual({ ResourceArn: arn });
    });

    it('flags root access turned on, with the whole proposal', () => {
      const verdict = violation(event(), tagsFact([{ Key: 'team', Value: 'fraud' }]));
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'fraud-features updated with root access; proposed: stop it and turn root access off',
        resources: [arn],
        findings: [
          {
            code: 'root-access',
            severity: 'medium',
            message: 'Root access is enabled for notebook users; any user can change the instance, install software and read every credential on it.',
            subject: 'RootAccess',
          },
        ],
        plan: [],
        proposal: rootOnlyProposal('fraud-features'),
      });
    });

    it('exempts a notebook whose tags (ListTags) carry the exemption tag, with the finding it let through', () => {
      expect(evaluate(event(), { facts: tagsFact([{ Key: 'remediation:exempt', Value: '' }]) })).toStrictEqual({
        kind: 'exempt',
        reason: 'fraud-features is tagged remediation:exempt (no reason given)',
        resources: [arn],
        findings: [
          {
            code: 'root-access',
            severity: 'medium',
            message: 'Root access is enabled for notebook users; any user can change the instance, install software and read every credential on it.',
            subject: 'RootAccess',
          },
        ],
      });
    });

    it('still reports a notebook that ListTags says is gone, and leaves the present to the proposal\'s reads', () => {
      const verdict = violation(event(), { notebookTags: { status: 'ok', value: null } });
      expect(verdict.summary).toBe('fraud-features updated with root access; proposed: stop it and turn root access off (ListTags: the notebook no longer exists)');
      expect(verdict.proposal).toStrictEqual(rootOnlyProposal('fraud-features'));
    });

    it('still reports the violation when the tags are unavailable, and says the exemption was not checked', () => {
      const verdict = violation(event(), { notebookTags: { status: 'unavailable', reason: 'ListTags failed: AccessDeniedException' } });
      expect(verdict.summary).toBe(
        'fraud-features updated with root access; proposed: stop it and turn root access off (exemption tag not checked: ListTags failed: AccessDeniedException)',
      );
      expect(verdict.plan).toStrictEqual([]);
    });

    it('passes an update that does not turn root access on: the other settings cannot be changed by an update', () => {
      expect(evaluate(loadEvent('sagemaker/UpdateNotebookInstance-instance-type-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: 'UpdateNotebookInstance on fraud-features did not turn root access on (DirectInternetAccess, SubnetId and KmsKeyId cannot be changed by an update)',
        resources: [arn],
      });
    });
  });

  describe('notebookInstanceProbe', () => {
    const described = (status: string, rootAccess = 'Enabled') => ({ NotebookInstanceName: 'fraud-features', NotebookInstanceStatus: status, RootAccess: rootAccess });
    const judge = (output: unknown, want: string, extra: Record<string, unknown> = {}) =>
      notebookInstanceProbe.judge(output, { notebook: 'fraud-features', want, ...extra }).state;

    it.each([
      ['InService', 'Enabled', 'needed'],
      ['Pending', 'Enabled', 'needed'],
      ['Updating', 'Enabled', 'needed'],
      ['Stopping', 'Enabled', 'done'],
      ['Stopped', 'Enabled', 'done'],
      ['Failed', 'Enabled', 'done'],
      ['Deleting', 'Enabled', 'done'],
      ['InService', 'Disabled', 'needed'],
    ])('the stop: a notebook %s with root access %s is %s', (status, root, state) => {
      expect(judge(described(status, root), 'stopped')).toBe(state);
    });

    it.each([
      ['InService', 'changed'],
      ['Stopped', 'changed'],
    ])('the stop when root access is the only finding: root access off again on a notebook %s is %s, so nothing is stopped or started', (status, state) => {
      expect(judge(described(status, 'Disabled'), 'stopped', { unlessRootDisabled: true })).toBe(state);
      expect(judge(described(status, 'Enabled'), 'stopped', { unlessRootDisabled: true })).toBe(status === 'InService' ? 'needed' : 'done');
    });

    it.each([
      ['Enabled', 'needed'],
      ['Disabled', 'done'],
    ])('the update: root access %s is %s', (root, state) => {
      expect(judge(described('Stopped', root), 'root-disabled')).toBe(state);
    });

    it.each([
      ['Stopped', 'Disabled', 'needed'],
      ['Failed', 'Disabled', 'needed'],
      ['Pending', 'Disabled', 'done'],
      ['InService', 'Disabled', 'done'],
      ['InService', 'Enabled', 'done'],
      ['Stopped', 'Enabled', 'changed'],
      ['Deleting', 'Disabled', 'changed'],
    ])('the start: a notebook %s with root access %s is %s', (status, root, state) => {
      expect(judge(described(status, root), 'running')).toBe(state);
    });

    it('gives the evidence a person reads', () => {
      expect(notebookInstanceProbe.judge(described('InService', 'Disabled'), { notebook: 'fraud-features', want: 'stopped', unlessRootDisabled: true })).toStrictEqual({
        state: 'changed',
        evidence: 'fraud-features is InService, root access Disabled: root access is off now, not on as the event set it, so nothing is stopped, updated or started',
      });
      expect(notebookInstanceProbe.judge(described('Stopping'), { notebook: 'fraud-features', want: 'stopped' })).toStrictEqual({
        state: 'done',
        evidence: 'fraud-features is Stopping, root access Enabled: it runs nothing',
      });
    });

    it('refuses to judge an answer without a status, and never treats ValidationException as "gone"', () => {
      expect(() => notebookInstanceProbe.judge({}, { notebook: 'fraud-features', want: 'stopped' })).toThrow('states no NotebookInstanceStatus');
      expect(notebookInstanceProbe.notFoundCodes).toBeUndefined();
      expect(sagemakerNotebookInsecure.probes).toStrictEqual([notebookInstanceProbe]);
    });
  });

  describe('through the engine', () => {
    const config = parseConfig({}, sagemakerRules);
    const context = { config, env: {}, facts: offlineFacts, now: NOW };

    it.each([
      ['a failed create', 'sagemaker/CreateNotebookInstance-failed-access-denied.json', 'the call failed (AccessDenied), so it changed nothing'],
      ['a failed update', 'sagemaker/UpdateNotebookInstance-failed-not-stopped.json', 'the call failed (ValidationException), so it changed nothing'],
    ])('skips %s before the rule runs', async (_, fixture, reason) => {
      const decision = await decide(loadEvent(fixture), sagemakerNotebookInsecure, context);
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason, cause: 'failed-call' });
    });

    it('proposes by default and names the unavailable lookup offline', async () => {
      const decision = await decide(loadEvent('sagemaker/UpdateNotebookInstance-root-access-enabled.json'), sagemakerNotebookInsecure, context);
      expect(decision.mode).toBe('propose');
      expect(decision.unavailableFacts).toStrictEqual(['notebookTags']);
      expect(decision.verdict.kind).toBe('violation');
    });
  });
});
