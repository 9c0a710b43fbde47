import { describe, expect, it } from 'vitest';
import { parseConfig, settingsFor } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import type { CloudTrailEvent } from '../engine/event.js';
import type { Facts, Verdict } from '../engine/types.js';
import { kmsRules } from '../remediations/kms/index.js';
import { keyIdOf, kmsKeyAtRisk as rule, pendingWindowOf } from '../remediations/kms/kms-key-at-risk.js';
import { loadEvent } from './helpers/fixtures.js';

const NOW = new Date('2025-03-12T12:00:00Z');
const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY}`;
const KEY2 = '0987dcba-09fe-87dc-65ba-ab0987654321';

function evaluate(event: CloudTrailEvent, facts: Facts = {}, raw: unknown = {}): Verdict {
  const config = parseConfig(raw, kmsRules);
  return rule.evaluate(event, facts, { config, settings: settingsFor(rule, config), now: NOW });
}

const ok = (value: unknown) => ({ status: 'ok', value }) as const;
const facts = ({ state = 'PendingDeletion', aliases = [] as string[], tags = {} as Record<string, string> } = {}): Facts => ({
  key: ok({ state, manager: 'CUSTOMER' }),
  keyTags: ok({ tags }),
  keyAliases: ok({ aliases }),
});

const cancelStep = {
  service: 'kms',
  operation: 'CancelKeyDeletion',
  input: { KeyId: KEY },
  reason: `Cancel the scheduled deletion of key ${KEY}. The key is then Disabled: enabling it is proposed, not applied, because the bot cannot know whether it was enabled before.`,
  undo: {
    service: 'kms',
    operation: 'ScheduleKeyDeletion',
    input: { KeyId: KEY, PendingWindowInDays: 20 },
    reason: `Schedule the deletion of key ${KEY} again with the 20-day waiting period the event chose: this restores the caller's decision, and the key stays recoverable (CancelKeyDeletion) until the period ends.`,
  },
  alreadyDoneCodes: ['KMSInvalidStateException'],
};

describe('kms-key-at-risk', () => {
  describe('ScheduleKeyDeletion', () => {
    it('cancels the deletion of a key that has an alias, and proposes enabling it', () => {
      // Arrange
      const event = loadEvent('kms/ScheduleKeyDeletion-20-day-window.json');
      // Act
      const verdict = evaluate(event, facts({ aliases: ['alias/ml-training-data'] }));
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `key ${KEY}: deletion scheduled in 20 days although it has the alias alias/ml-training-data`,
        resources: [KEY_ARN],
        findings: [
          {
            code: 'deletion-of-key-in-use',
            severity: 'critical',
            message: `Key ${KEY} is scheduled for deletion in 20 days although it is in use (it has the alias alias/ml-training-data); once deleted, everything encrypted under it is lost for good.`,
            subject: KEY,
          },
        ],
        plan: [cancelStep],
        proposal: [
          {
            service: 'kms',
            operation: 'EnableKey',
            input: { KeyId: KEY },
            reason: `PROPOSAL, not applied: enable key ${KEY} again if it was enabled before its deletion was scheduled; until then nothing can decrypt with it.`,
            undo: { service: 'kms', operation: 'DisableKey', input: { KeyId: KEY }, reason: `Disable key ${KEY} again.` },
          },
        ],
      });
    });

    it('treats a configured in-use tag as use', () => {
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), facts({ tags: { 'owner-app': 'feature-store' } }), {
        rules: { 'kms-key-at-risk': { inUseTagKeys: ['owner-app'] } },
      });
      expect(verdict.kind === 'violation' && verdict.summary).toBe(`key ${KEY}: deletion scheduled in 20 days although it carries the in-use tag owner-app`);
    });

    it('allows deleting a key with no alias and no in-use tag', () => {
      expect(evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), facts())).toStrictEqual({
        kind: 'compliant',
        summary: `key ${KEY}: deletion in 20 days of a key with no alias and no in-use tag`,
        resources: [KEY_ARN],
      });
    });

    it('never guesses a pass: with the lookups unavailable it treats the key as in use and says why', () => {
      const unavailable = { status: 'unavailable', reason: 'offline replay has no AWS access' } as const;
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { key: unavailable, keyTags: unavailable, keyAliases: unavailable });
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `key ${KEY}: deletion scheduled in 20 days; whether it is in use is unknown (facts unavailable), so it is treated as in use`,
        resources: [KEY_ARN],
        findings: [
          {
            code: 'deletion-of-key-maybe-in-use',
            severity: 'high',
            message: `Key ${KEY} is scheduled for deletion in 20 days, and whether it is in use could not be checked (ListAliases: offline replay has no AWS access), so it is treated as in use; once deleted, everything encrypted under it is lost for good.`,
            subject: KEY,
          },
        ],
        plan: [cancelStep],
        proposal: [expect.objectContaining({ operation: 'EnableKey' })],
      });
    });

    it('counts missing tags as unknown only when in-use tags are configured', () => {
      const unavailable = { status: 'unavailable', reason: 'ListResourceTags failed: AccessDeniedException' } as const;
      const known = { ...facts(), keyTags: unavailable };
      expect(evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), known).kind).toBe('compliant');
      const configured = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), known, { rules: { 'kms-key-at-risk': { inUseTagKeys: ['app'] } } });
      expect(configured.kind === 'violation' && configured.findings[0]?.code).toBe('deletion-of-key-maybe-in-use');
    });

    it('marks the cancellation already done when DescribeKey shows the key no longer pending deletion', () => {
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), facts({ state: 'Disabled', aliases: ['alias/a'] }));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.alreadyDone).toBe('DescribeKey: key state is Disabled, not pending deletion');
    });

    it.each([
      [{ pendingWindowInDays: 7 }, 7],
      [{ pendingWindowInDays: '14' }, 14],
      [{}, 30],
      [{ pendingWindowInDays: 365 }, 30],
    ])('reads the waiting period %j as %i days', (params, days) => {
      const event = loadEvent('kms/ScheduleKeyDeletion-20-day-window.json');
      event.detail.requestParameters = { keyId: KEY, ...params };
      event.detail.responseElements = null;
      expect(pendingWindowOf(event)).toBe(days);
    });
  });

  describe('DisableKey', () => {
    it('enables the key again, undoing with DisableKey', () => {
      const verdict = evaluate(loadEvent('kms/DisableKey-key-id.json'), facts({ state: 'Disabled' }));
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `key ${KEY} was disabled`,
        resources: [KEY_ARN],
        findings: [{ code: 'key-disabled', severity: 'high', message: `Key ${KEY} was disabled: nothing encrypted under it can be decrypted until it is enabled again.`, subject: KEY }],
        plan: [
          {
            service: 'kms',
            operation: 'EnableKey',
            input: { KeyId: KEY },
            reason: `Enable key ${KEY} again, so data encrypted under it can be decrypted.`,
            undo: { service: 'kms', operation: 'DisableKey', input: { KeyId: KEY }, reason: `Disable key ${KEY} again, as the event did.` },
          },
        ],
      });
    });

    it('is already done when DescribeKey shows the key enabled', () => {
      const verdict = evaluate(loadEvent('kms/DisableKey-key-id.json'), facts({ state: 'Enabled' }));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.alreadyDone).toBe('DescribeKey: key state is Enabled');
    });

    it('leaves a key now pending deletion to its ScheduleKeyDeletion event', () => {
      expect(evaluate(loadEvent('kms/DisableKey-key-id.json'), facts({ state: 'PendingDeletion' }))).toMatchObject({
        kind: 'skipped',
        reason: `key ${KEY} is now pending deletion; that is judged on its ScheduleKeyDeletion event`,
      });
    });
  });

  describe('DisableKeyRotation', () => {
    it('turns rotation back on with the key ARN the event used', () => {
      const verdict = evaluate(loadEvent('kms/DisableKeyRotation-key-arn.json'));
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        {
          service: 'kms',
          operation: 'EnableKeyRotation',
          input: { KeyId: KEY_ARN },
          reason: `Turn automatic rotation of key ${KEY_ARN} back on (KMS's default period of 365 days; set another with RotationPeriodInDays if the key had one).`,
          undo: { service: 'kms', operation: 'DisableKeyRotation', input: { KeyId: KEY_ARN }, reason: `Turn automatic rotation of key ${KEY_ARN} off again, as the event did.` },
        },
      ]);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.severity).toBe('medium');
    });
  });

  describe('PutKeyPolicy', () => {
    it('proposes the key policy without the statement open to everyone, and changes nothing itself', () => {
      const event = loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json');
      const policy = String((event.detail.requestParameters as Record<string, unknown>)['policy']);
      const parsed = JSON.parse(policy) as { Statement: unknown[] };
      const verdict = evaluate(event);
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `key ${KEY2}: Statement 1 ("AllowUseByAnyone") of the key policy lets everyone use the key; a fixed policy is proposed`,
        resources: [`arn:aws:kms:us-east-1:111122223333:key/${KEY2}`],
        findings: [
          {
            code: 'key-policy-public',
            severity: 'critical',
            message: `Statement 1 ("AllowUseByAnyone") of the policy of key ${KEY2} allows Principal {"AWS": "*"} to use kms:Decrypt, kms:GenerateDataKey*, kms:DescribeKey, and no condition confines it to known callers.`,
            subject: 'Statement 1 ("AllowUseByAnyone")',
          },
        ],
        plan: [],
        proposal: [
          {
            service: 'kms',
            operation: 'PutKeyPolicy',
            input: { KeyId: KEY2, PolicyName: 'default', Policy: JSON.stringify({ ...parsed, Statement: [parsed.Statement[0]] }) },
            reason: `PROPOSAL, not applied: replace the policy of key ${KEY2} with the same document minus statement 1. Check that the remaining statements still let your administrators manage the key before you apply it.`,
            undo: { service: 'kms', operation: 'PutKeyPolicy', input: { KeyId: KEY2, PolicyName: 'default', Policy: policy }, reason: `Put the policy of key ${KEY2} back exactly as the event set it.` },
          },
        ],
      });
    });

    it('proposes nothing when every statement is open: a person must write the policy', () => {
      const event = loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json');
      event.detail.requestParameters = { keyId: KEY2, policyName: 'default', policy: JSON.stringify({ Statement: { Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' } }) };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.proposal).toBeUndefined();
      expect(verdict.kind === 'violation' && verdict.summary).toContain('every statement is open, so a person must write the policy');
    });

    it.each([
      ['the default policy (account root)', 'kms/PutKeyPolicy-default-account-root-compliant.json', ''],
      ['Principal AWS * confined by kms:CallerAccount, as AWS managed keys do', 'kms/PutKeyPolicy-caller-account-via-service-compliant.json', 'is public but confined by kms:CallerAccount'],
    ])('is compliant for %s', (_, fixture, note) => {
      const verdict = evaluate(loadEvent(fixture));
      expect(verdict.kind).toBe('compliant');
      expect(verdict.kind === 'compliant' && verdict.summary).toContain(note);
    });

    it('does not count kms:ViaService alone as confining the callers', () => {
      const event = loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json');
      const statement = { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } };
      event.detail.requestParameters = { keyId: KEY2, policyName: 'default', policy: JSON.stringify({ Statement: [statement] }) };
      expect(evaluate(event).kind).toBe('violation');
    });
  });

  describe('every trigger', () => {
    it('leaves a key carrying the exemption tag alone', () => {
      const exempt = facts({ state: 'Disabled', tags: { 'remediation:exempt': 'retired with its dataset DS-9' } });
      for (const fixture of ['kms/DisableKey-key-id.json', 'kms/DisableKeyRotation-key-arn.json', 'kms/PutKeyPolicy-aws-star-decrypt.json']) {
        expect(evaluate(loadEvent(fixture), exempt), fixture).toMatchObject({ kind: 'exempt' });
      }
    });

    it('skips a key that no longer exists', () => {
      expect(evaluate(loadEvent('kms/DisableKey-key-id.json'), { key: ok(null) })).toMatchObject({ kind: 'skipped', reason: `key ${KEY} no longer exists` });
    });

    it('skips an AWS managed key', () => {
      expect(evaluate(loadEvent('kms/DisableKey-key-id.json'), { key: ok({ state: 'Disabled', manager: 'AWS' }) })).toMatchObject({ kind: 'skipped' });
    });

    it.each(['1', 'alias/ml-data', 'arn:aws:kms:us-east-1:111122223333:alias/ml-data', ''])('skips the key id %j: not a key id or key ARN, so no call', (keyId) => {
      const event = loadEvent('kms/DisableKey-key-id.json');
      event.detail.requestParameters = { keyId };
      expect(keyIdOf(event)).toBeUndefined();
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no KMS key id or key ARN' });
    });

    it.each(['kms/DisableKey-failed-not-found-panther.json', 'kms/ScheduleKeyDeletion-failed-access-denied.json', 'kms/PutKeyPolicy-failed-malformed-policy.json'])(
      'never acts on a failed call: %s',
      async (fixture) => {
        const config = parseConfig({}, kmsRules);
        const decision = await decide(loadEvent(fixture), rule, { config, env: {}, facts: offlineFacts, now: NOW });
        expect(decision.verdict.kind).toBe('skipped');
        expect(decision.verdict.kind === 'skipped' && decision.verdict.reason).toMatch(/^the call failed \(/);
      },
    );
  });
});
