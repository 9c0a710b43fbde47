import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Verdict } from '../../engine/types.js';
import { deviceName, mfaSubject } from '../../remediations/credentials/identities.js';
import { credentialRules } from '../../remediations/credentials/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { NOW, ruleEvaluator } from '../helpers/rule-harness.js';

const mfaRemoved = registeredRule('mfa-removed');
const evaluateRule = ruleEvaluator('mfa-removed');

function evaluate(event: CloudTrailEvent, facts: Facts = {}): Verdict {
  return evaluateRule(event, { facts });
}

const ROOT = 'arn:aws:iam::111122223333:root';

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
    expect(evaluate(carol, facts)).toStrictEqual({
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
    const verdict = evaluate(carol, {
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
    expect(evaluate(carol, mfaFacts({ user: { User: { UserName: 'carol' } }, ...answers }))).toStrictEqual({ kind: 'compliant', summary, resources: ['user carol'] });
  });

  it('exempts a user carrying the exemption tag, and the exempt verdict carries the finding it let through', () => {
    const tagged = { User: { UserName: 'carol', Tags: [{ Key: 'remediation:exempt', Value: 'break-glass, MFA in the safe' }] } };
    const exempt = evaluate(carol, mfaFacts({ user: tagged, loginProfile: { LoginProfile: { UserName: 'carol' } }, mfaDevices: { MFADevices: [] } }));
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
    const unconfirmed = evaluate(carol, mfaFacts({ user: tagged }));
    expect(unconfirmed.kind === 'exempt' && unconfirmed.findings?.map((f) => f.code)).toStrictEqual(['mfa-removed-unconfirmed']);
  });

  it('passes a tagged user who still has MFA: an exemption only matters where there is something to exempt', () => {
    const tagged = { User: { UserName: 'carol', Tags: [{ Key: 'remediation:exempt', Value: 'break-glass' }] } };
    const answers = { user: tagged, loginProfile: { LoginProfile: { UserName: 'carol' } }, mfaDevices: { MFADevices: [{ SerialNumber: serial }] } };
    expect(evaluate(carol, mfaFacts(answers))).toStrictEqual({ kind: 'compliant', summary: `IAM user carol still has 1 MFA device (${serial})`, resources: ['user carol'] });
  });

  it('passes a user that no longer exists (NoSuchEntity): nobody signs in as that user, so there is nothing left to inspect', () => {
    expect(evaluate(carol, mfaFacts({ user: null }))).toStrictEqual({
      kind: 'compliant',
      summary: 'IAM user carol no longer exists (GetUser: NoSuchEntity), so nobody signs in as that user without MFA',
      resources: ['user carol'],
    });
  });

  it('reports an event that names neither a user nor a device as a high-severity "could not inspect"', () => {
    const event = loadEvent('iam/DeactivateMFADevice-console-user.json');
    event.detail.requestParameters = {};
    event.detail.userIdentity = { type: 'AssumedRole', arn: 'arn:aws:sts::111122223333:assumed-role/Admin/dana' };
    expect(evaluate(event)).toStrictEqual({
      kind: 'skipped',
      reason: 'the event names neither a user nor an MFA device, so whose MFA was removed cannot be told',
      severity: 'high',
    });
  });

  it("judges the root user's MFA by GetAccountSummary", () => {
    const event = loadEvent('iam/DeactivateMFADevice-root-own-device.json');
    const gone = evaluate(event, mfaFacts({ accountSummary: { SummaryMap: { AccountMFAEnabled: 0 } } }));
    expect(gone.kind === 'violation' && gone.findings.map((f) => f.code)).toStrictEqual(['root-mfa-removed']);
    expect(evaluate(event, mfaFacts({ accountSummary: { SummaryMap: { AccountMFAEnabled: 1 } } }))).toStrictEqual({
      kind: 'compliant',
      summary: 'the root user still has an MFA device (GetAccountSummary: AccountMFAEnabled)',
      resources: [ROOT],
    });
    const offline = evaluate(event);
    expect(offline.kind === 'violation' && offline.summary).toBe(
      'MFA removed from the root user (arn:aws:iam::111122223333:mfa/root-account-mfa-device); console access not confirmed',
    );
  });

  it('passes the deletion of an unassigned virtual device, which removes MFA from no one, unless its namesake is left without MFA', () => {
    const event = loadEvent('iam/DeleteVirtualMFADevice-unassigned-device-compliant.json');
    expect(evaluate(event)).toStrictEqual({
      kind: 'compliant',
      summary: `virtual MFA device ${serial} deleted: IAM deletes only unassigned devices, so the deletion removed MFA from no one; whether IAM user carol signs in without MFA could not be checked (lookups unavailable)`,
      resources: ['user carol'],
    });
    expect(evaluate(event, mfaFacts({ user: null }))).toStrictEqual({
      kind: 'compliant',
      summary: `virtual MFA device ${serial} deleted: IAM deletes only unassigned devices, so the deletion removed MFA from no one, and no IAM user is named carol`,
      resources: ['user carol'],
    });
    const stillExposed = evaluate(event, mfaFacts({ user: { User: { UserName: 'carol' } }, loginProfile: { LoginProfile: { UserName: 'carol' } }, mfaDevices: { MFADevices: [] } }));
    expect(stillExposed.kind === 'violation' && stillExposed.findings.map((f) => f.code)).toStrictEqual(['mfa-removed']);
  });

  it.each(['iam/DeactivateMFADevice-failed-access-denied.json', 'iam/DeleteVirtualMFADevice-failed-delete-conflict.json'])('leaves the failed call %s to the engine', async (fixture) => {
    const config = parseConfig({}, credentialRules);
    const decision = await decide(loadEvent(fixture), mfaRemoved, { config, env: {}, facts: offlineFacts, now: NOW });
    expect(decision.verdict.kind).toBe('skipped');
  });
});
