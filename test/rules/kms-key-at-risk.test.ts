import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { Facts, StateCheck, Verdict } from '../../engine/types.js';
import { kmsRules } from '../../remediations/kms/index.js';
import { keyIdOf, keyPolicyProbe, keyReferenceOf, keyRotationProbe, keyStateProbe, pendingWindowOf, policyDigest } from '../../remediations/kms/kms-key-at-risk.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const rule = registeredRule('kms-key-at-risk');
const evaluate = ruleEvaluator('kms-key-at-risk');
const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY}`;
const KEY2 = '0987dcba-09fe-87dc-65ba-ab0987654321';
const KEY3 = 'b3d2a1c0-7e6f-4a5b-9c8d-0f1e2d3c4b5a';
const KEY3_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY3}`;


/** JSON with sorted keys, written here independently of the rule's own canonical form. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const ok = (value: unknown) => ({ status: 'ok', value }) as const;
const facts = ({ state = 'PendingDeletion', aliases = [] as string[], tags = {} as Record<string, string> } = {}): Facts => ({
  key: ok({ state, manager: 'CUSTOMER' }),
  keyTags: ok({ tags }),
  keyAliases: ok({ aliases }),
});

/** DescribeKey before and after a step on the key's state. */
const stateCheck = (keyId: string, goal: 'not-pending-deletion' | 'enabled'): StateCheck => ({
  service: 'kms',
  operation: 'DescribeKey',
  input: { KeyId: keyId },
  probe: 'keyState',
  expect: { keyId, goal },
  description: goal === 'enabled' ? `key ${keyId} is still Disabled` : `key ${keyId} is still pending deletion`,
});

const objectPolicyCheck = (policy: object): StateCheck => ({
  service: 'kms',
  operation: 'GetKeyPolicy',
  input: { KeyId: KEY3, PolicyName: 'default' },
  probe: 'keyPolicy',
  expect: { keyId: KEY3, policySha256: createHash('sha256').update(canonical(policy), 'utf8').digest('hex') },
  description: `key ${KEY3} still has the policy the event set, with Statement 1 ("AllowDecryptFromAnyAccount") open to everyone`,
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
  precondition: stateCheck(KEY, 'not-pending-deletion'),
  verification: stateCheck(KEY, 'not-pending-deletion'),
};

describe('kms-key-at-risk', () => {
  describe('ScheduleKeyDeletion', () => {
    it('cancels the deletion of a key that has an alias, and proposes enabling it', () => {
      // Arrange
      const event = loadEvent('kms/ScheduleKeyDeletion-20-day-window.json');
      // Act
      const verdict = evaluate(event, { facts: facts({ aliases: ['alias/ml-training-data'] }) });
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
            precondition: stateCheck(KEY, 'enabled'),
            verification: stateCheck(KEY, 'enabled'),
          },
        ],
      });
    });

    it('treats a configured in-use tag as use', () => {
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), {
        facts: facts({ tags: { 'owner-app': 'feature-store' } }),
        config: { rules: { 'kms-key-at-risk': { inUseTagKeys: ['owner-app'] } } },
      });
      expect(verdict.kind === 'violation' && verdict.summary).toBe(`key ${KEY}: deletion scheduled in 20 days although it carries the in-use tag owner-app`);
    });

    it('allows deleting a key with no alias and no in-use tag', () => {
      expect(evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { facts: facts() })).toStrictEqual({
        kind: 'compliant',
        summary: `key ${KEY}: deletion in 20 days of a key with no alias and no in-use tag`,
        resources: [KEY_ARN],
      });
    });

    it('never guesses a pass: with the lookups unavailable it treats the key as in use and says why', () => {
      const unavailable = { status: 'unavailable', reason: 'offline replay has no AWS access' } as const;
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { facts: { key: unavailable, keyTags: unavailable, keyAliases: unavailable } });
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
      expect(evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { facts: known }).kind).toBe('compliant');
      const configured = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { facts: known, config: { rules: { 'kms-key-at-risk': { inUseTagKeys: ['app'] } } } });
      expect(configured.kind === 'violation' && configured.findings[0]?.code).toBe('deletion-of-key-maybe-in-use');
    });

    it('plans the cancellation whatever DescribeKey said when the event was judged: the read just before the write decides', () => {
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { facts: facts({ state: 'Disabled', aliases: ['alias/a'] }) });
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([cancelStep]);
      expect(verdict.kind === 'violation' && verdict.plan.some((step) => 'alreadyDone' in step)).toBe(false);
    });

    it('still plans the cancellation of a key the lookups found gone, and says so: the read before the write reports it stale', () => {
      const gone = { key: ok(null), keyTags: ok(null), keyAliases: ok(null) };
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { facts: gone });
      expect(verdict.kind === 'violation' && verdict.findings[0]?.message).toContain('ListAliases: the key no longer exists (NotFoundException)');
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([cancelStep]);
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
      const verdict = evaluate(loadEvent('kms/DisableKey-key-id.json'), { facts: facts({ state: 'Disabled' }) });
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
            precondition: stateCheck(KEY, 'enabled'),
            verification: stateCheck(KEY, 'enabled'),
          },
        ],
      });
    });

    it.each(['Enabled', 'PendingDeletion'])('plans EnableKey even when DescribeKey said %s at decide time: the read before the write decides', (state) => {
      const verdict = evaluate(loadEvent('kms/DisableKey-key-id.json'), { facts: facts({ state }) });
      expect(verdict.kind === 'violation' && verdict.plan.map((step) => [step.operation, step.precondition])).toStrictEqual([['EnableKey', stateCheck(KEY, 'enabled')]]);
    });
  });

  describe('DisableKeyRotation', () => {
    const rotationCheck: StateCheck = {
      service: 'kms',
      operation: 'GetKeyRotationStatus',
      input: { KeyId: KEY_ARN },
      probe: 'keyRotation',
      expect: { keyId: KEY_ARN },
      description: `key ${KEY_ARN} still has automatic rotation off`,
    };

    it('turns rotation back on with the key ARN the event used, reading GetKeyRotationStatus before and after', () => {
      const verdict = evaluate(loadEvent('kms/DisableKeyRotation-key-arn.json'));
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        {
          service: 'kms',
          operation: 'EnableKeyRotation',
          input: { KeyId: KEY_ARN },
          reason: `Turn automatic rotation of key ${KEY_ARN} back on (KMS's default period of 365 days; set another with RotationPeriodInDays if the key had one).`,
          undo: { service: 'kms', operation: 'DisableKeyRotation', input: { KeyId: KEY_ARN }, reason: `Turn automatic rotation of key ${KEY_ARN} off again, as the event did.` },
          precondition: rotationCheck,
          verification: rotationCheck,
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
      const policyCheck: StateCheck = {
        service: 'kms',
        operation: 'GetKeyPolicy',
        input: { KeyId: KEY2, PolicyName: 'default' },
        probe: 'keyPolicy',
        expect: { keyId: KEY2, policySha256: createHash('sha256').update(canonical(parsed), 'utf8').digest('hex') },
        description: `key ${KEY2} still has the policy the event set, with Statement 1 ("AllowUseByAnyone") open to everyone`,
      };
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
            precondition: policyCheck,
            verification: policyCheck,
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

    it('analyses a policy the record carries as a JSON object, not as text', () => {
      // Arrange
      const event = loadEvent('kms/PutKeyPolicy-policy-object-principal-star.json');
      const policy = (event.detail.requestParameters as { policy: { Statement: unknown[] } }).policy;
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `key ${KEY3}: Statement 1 ("AllowDecryptFromAnyAccount") of the key policy lets everyone use the key; a fixed policy is proposed`,
        resources: [KEY3_ARN],
        findings: [
          {
            code: 'key-policy-public',
            severity: 'critical',
            message: `Statement 1 ("AllowDecryptFromAnyAccount") of the policy of key ${KEY3} allows Principal * to use kms:Decrypt, kms:DescribeKey, and no condition confines it to known callers.`,
            subject: 'Statement 1 ("AllowDecryptFromAnyAccount")',
          },
        ],
        plan: [],
        proposal: [
          {
            service: 'kms',
            operation: 'PutKeyPolicy',
            input: { KeyId: KEY3, PolicyName: 'default', Policy: JSON.stringify({ ...policy, Statement: [policy.Statement[0], policy.Statement[2]] }) },
            reason: `PROPOSAL, not applied: replace the policy of key ${KEY3} with the same document minus statement 1. Check that the remaining statements still let your administrators manage the key before you apply it.`,
            undo: { service: 'kms', operation: 'PutKeyPolicy', input: { KeyId: KEY3, PolicyName: 'default', Policy: JSON.stringify(policy) }, reason: `Put the policy of key ${KEY3} back exactly as the event set it.` },
            precondition: objectPolicyCheck(policy),
            verification: objectPolicyCheck(policy),
          },
        ],
      });
    });

    it('recognises the same policy whether it arrived as text or as an object', () => {
      const text = loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json');
      const policy = String((text.detail.requestParameters as Record<string, unknown>)['policy']);
      const asObject = loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json');
      asObject.detail.requestParameters = { ...(asObject.detail.requestParameters as object), policy: JSON.parse(policy) as unknown };
      const check = (verdict: Verdict) => (verdict.kind === 'violation' ? verdict.proposal?.[0]?.precondition : undefined);
      expect(check(evaluate(asObject))).toStrictEqual(check(evaluate(text)));
      expect(policyDigest(policy)).toBe(policyDigest(JSON.parse(policy) as object));
    });

    it.each([
      ['absent', undefined],
      ['a list', ['not', 'a', 'document']],
      ['a number', 42],
    ])('cannot inspect a policy that is %s, and says so with high severity', (_, policy) => {
      const event = loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json');
      event.detail.requestParameters = { keyId: KEY2, policyName: 'default', ...(policy === undefined ? {} : { policy }) };
      expect(evaluate(event)).toStrictEqual({
        kind: 'skipped',
        reason: `the event carries no policy document for key ${KEY2} (requestParameters.policy is absent or not JSON), so what it set cannot be inspected`,
        resources: [`arn:aws:kms:us-east-1:111122223333:key/${KEY2}`],
        severity: 'high',
      });
    });

    it('does not count kms:ViaService alone as confining the callers', () => {
      const event = loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json');
      const statement = { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } };
      event.detail.requestParameters = { keyId: KEY2, policyName: 'default', policy: JSON.stringify({ Statement: [statement] }) };
      expect(evaluate(event).kind).toBe('violation');
    });
  });

  describe('every trigger', () => {
    it('leaves a key carrying the exemption tag alone, and the exemption says what it let through', () => {
      const exempt = facts({ state: 'Disabled', tags: { 'remediation:exempt': 'retired with its dataset DS-9' } });
      const cases = [
        ['kms/DisableKey-key-id.json', ['key-disabled'], 'high'],
        ['kms/DisableKeyRotation-key-arn.json', ['key-rotation-disabled'], 'medium'],
        ['kms/PutKeyPolicy-aws-star-decrypt.json', ['key-policy-public'], 'critical'],
      ] as const;
      for (const [fixture, codes, severity] of cases) {
        const verdict = evaluate(loadEvent(fixture), { facts: exempt });
        expect(verdict.kind, fixture).toBe('exempt');
        expect(verdict.kind === 'exempt' && verdict.reason, fixture).toMatch(/is tagged remediation:exempt: retired with its dataset DS-9$/);
        expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity]), fixture).toStrictEqual(codes.map((code) => [code, severity]));
      }
    });

    it('exempts a key in use from the cancellation, with the critical finding it let through', () => {
      const verdict = evaluate(loadEvent('kms/ScheduleKeyDeletion-20-day-window.json'), { facts: facts({ aliases: ['alias/a'], tags: { 'remediation:exempt': 'decommissioned' } }) });
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => [f.code, f.severity])).toStrictEqual([['deletion-of-key-in-use', 'critical']]);
    });

    it('does not skip a key the lookups found gone: the plan stands, and its read before the write finds the key gone', () => {
      const verdict = evaluate(loadEvent('kms/DisableKey-key-id.json'), { facts: { key: ok(null), keyTags: ok(null) } });
      expect(verdict.kind === 'violation' && verdict.plan.map((step) => step.operation)).toStrictEqual(['EnableKey']);
    });

    it('passes an AWS managed key: AWS manages it, and no one in the account can change it', () => {
      expect(evaluate(loadEvent('kms/DisableKey-key-id.json'), { facts: { key: ok({ state: 'Disabled', manager: 'AWS' }) } })).toStrictEqual({
        kind: 'compliant',
        summary: `key ${KEY} is an AWS managed key: AWS manages its state, rotation and policy, and no one in the account can change them`,
        resources: [KEY_ARN],
      });
    });

    it.each([
      ['1', 'keyId "1" is neither a key id (a key id is a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk- and 32 hex digits for a multi-Region key) nor a key ARN'],
      ['alias/ml-data', 'keyId "alias/ml-data" is an alias name, not a key id or key ARN (an alias can point to another key by now)'],
      ['arn:aws:kms:us-east-1:111122223333:alias/ml-data', 'keyId "arn:aws:kms:us-east-1:111122223333:alias/ml-data" is not a KMS key ARN: it names an alias, not a key (an alias can point to another key by now)'],
      [`arn:aws:kms:us-east-1:1111:key/${KEY}`, `keyId "arn:aws:kms:us-east-1:1111:key/${KEY}" is not a KMS key ARN: its account "1111" is not a 12-digit account id`],
      [`arn:aws:kms:us-east-1:ACCOUNT:key/not-a-key`, 'keyId "arn:aws:kms:us-east-1:ACCOUNT:key/not-a-key" is not a KMS key ARN: its account "ACCOUNT" is not a 12-digit account id; its key id "not-a-key" is not a key id (a key id is a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk- and 32 hex digits for a multi-Region key)'],
      [`arn:aws:s3:us-east-1:111122223333:key/${KEY}`, `keyId "arn:aws:s3:us-east-1:111122223333:key/${KEY}" is not a KMS key ARN: its service "s3" is not kms`],
      ['arn:aws:kms', 'keyId "arn:aws:kms" is not a KMS key ARN: it is not a complete ARN (arn:<partition>:kms:<region>:<account>:key/<key id>)'],
      ['', 'its keyId is empty'],
    ])('cannot inspect the key id %j and says exactly what is wrong with it, with no call', (keyId, problem) => {
      const event = loadEvent('kms/DisableKey-key-id.json');
      event.detail.requestParameters = { keyId };
      expect(keyIdOf(event)).toBeUndefined();
      expect(keyReferenceOf(event)).toStrictEqual({ ok: false, problem });
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: `the event names no KMS key the bot can inspect: ${problem}`, severity: 'high' });
    });

    it('gives an uninspectable event the severity of the gravest finding it could hide', () => {
      const event = loadEvent('kms/DisableKeyRotation-key-arn.json');
      event.detail.requestParameters = {};
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no KMS key the bot can inspect: the request carries no keyId', severity: 'medium' });
      const deletion = loadEvent('kms/ScheduleKeyDeletion-20-day-window.json');
      deletion.detail.requestParameters = { keyId: 'arn:aws:kms:us-east-1:1111:key/x' };
      expect(evaluate(deletion)).toMatchObject({ kind: 'skipped', severity: 'critical' });
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

  describe('probes', () => {
    const described = (KeyState: string, extra: Record<string, unknown> = {}) => ({ KeyMetadata: { KeyId: KEY, KeyState, KeyManager: 'CUSTOMER', ...extra } });

    it.each([
      ['PendingDeletion', 'needed', `key ${KEY} is still PendingDeletion (deletion on 2025-04-01T09:00:00.000Z)`],
      ['PendingReplicaDeletion', 'needed', `key ${KEY} is still PendingReplicaDeletion (deletion on 2025-04-01T09:00:00.000Z)`],
      ['Disabled', 'done', `key ${KEY} is Disabled, no longer pending deletion`],
      ['Enabled', 'done', `key ${KEY} is Enabled, no longer pending deletion`],
    ])('DescribeKey for a cancellation: %s is %s', (state, verdict, evidence) => {
      const output = described(state, { DeletionDate: new Date('2025-04-01T09:00:00Z') });
      expect(keyStateProbe.judge(output, { keyId: KEY, goal: 'not-pending-deletion' })).toStrictEqual({ state: verdict, evidence });
    });

    it.each([
      ['Enabled', 'done', `key ${KEY} is Enabled`],
      ['Disabled', 'needed', `key ${KEY} is still Disabled`],
      ['PendingDeletion', 'changed', `key ${KEY} is now PendingDeletion, not Disabled as the event left it (its ScheduleKeyDeletion event is judged on its own): nothing enabled`],
      ['PendingImport', 'changed', `key ${KEY} is now PendingImport, not Disabled as the event left it: nothing enabled`],
    ])('DescribeKey for EnableKey: %s is %s', (state, verdict, evidence) => {
      expect(keyStateProbe.judge(described(state), { keyId: KEY, goal: 'enabled' })).toStrictEqual({ state: verdict, evidence });
    });

    it('calls a key that no longer exists changed, never done: nothing can be cancelled or enabled', () => {
      expect(keyStateProbe.judge(null, { keyId: KEY, goal: 'not-pending-deletion' })).toStrictEqual({
        state: 'changed',
        evidence: `key ${KEY} no longer exists (NotFoundException): its deletion has completed and cannot be cancelled`,
      });
      expect(keyStateProbe.judge(null, { keyId: KEY, goal: 'enabled' }).state).toBe('changed');
      expect(keyRotationProbe.judge(null, { keyId: KEY }).state).toBe('changed');
    });

    it('refuses to judge a DescribeKey answer without a key state', () => {
      expect(() => keyStateProbe.judge({ KeyMetadata: {} }, { keyId: KEY, goal: 'enabled' })).toThrow('DescribeKey answered without KeyMetadata.KeyState');
    });

    it('reads GetKeyRotationStatus: on is done, off is needed', () => {
      expect(keyRotationProbe.judge({ KeyRotationEnabled: true, RotationPeriodInDays: 365 }, { keyId: KEY })).toStrictEqual({
        state: 'done',
        evidence: `automatic rotation of key ${KEY} is on (every 365 days)`,
      });
      expect(keyRotationProbe.judge({ KeyRotationEnabled: false }, { keyId: KEY })).toStrictEqual({ state: 'needed', evidence: `automatic rotation of key ${KEY} is still off` });
      expect(() => keyRotationProbe.judge({}, { keyId: KEY })).toThrow('GetKeyRotationStatus answered without KeyRotationEnabled');
    });

    describe('GetKeyPolicy', () => {
      const eventPolicy = String((loadEvent('kms/PutKeyPolicy-aws-star-decrypt.json').detail.requestParameters as Record<string, unknown>)['policy']);
      const expected = { keyId: KEY2, policySha256: policyDigest(eventPolicy) };
      const parsed = JSON.parse(eventPolicy) as { Statement: Record<string, unknown>[] };

      it('is needed while the key has exactly the event’s policy, whatever its whitespace or key order', () => {
        const reordered = JSON.stringify({ Statement: parsed.Statement, Id: 'key-ml-artifacts', Version: '2012-10-17' }, null, 4);
        for (const Policy of [eventPolicy, reordered]) {
          expect(keyPolicyProbe.judge({ Policy, PolicyName: 'default' }, expected)).toStrictEqual({
            state: 'needed',
            evidence: `key ${KEY2} still has the policy the event set: Statement 1 ("AllowUseByAnyone") open to everyone`,
          });
        }
      });

      it('is done once no statement is open: the proposal applied, or another fix', () => {
        const fixed = JSON.stringify({ ...parsed, Statement: [parsed.Statement[0]] });
        expect(keyPolicyProbe.judge({ Policy: fixed }, expected)).toStrictEqual({ state: 'done', evidence: `the policy of key ${KEY2} lets no one in without a confining condition` });
        expect(keyPolicyProbe.judge(null, expected).state).toBe('done');
      });

      it('is changed when a newer policy is still open: the proposal would overwrite it', () => {
        const newer = JSON.stringify({ ...parsed, Statement: [...parsed.Statement, { Sid: 'AddedLater', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'kms:Encrypt', Resource: '*' }] });
        expect(keyPolicyProbe.judge({ Policy: newer }, expected)).toStrictEqual({
          state: 'changed',
          evidence: `the policy of key ${KEY2} changed since the event and Statement 1 ("AllowUseByAnyone") still lets everyone in: the proposed policy would overwrite the newer one; nothing put`,
        });
      });
    });
  });
});
