/**
 * mfa-removed: MFA taken away from someone who signs in to the console, so a
 * stolen password alone opens the account.
 *
 * Triggers (`iam.amazonaws.com`): `DeactivateMFADevice` (the request's
 * `userName`; without it the caller's own device, the root user's included)
 * and `DeleteVirtualMFADevice` (only the device's serial number: IAM deletes
 * only devices no user holds, so the deletion itself removes MFA from no one;
 * the rule checks the user the device was named after, the console's default).
 * Lookups decide: `GetLoginProfile` (a console password exists),
 * `ListMFADevices` (no MFA device is left), `GetUser` (the user exists; its
 * tags for exemption); for the root user `GetAccountSummary`
 * (`AccountMFAEnabled`). Without them (offline) a `DeactivateMFADevice` is
 * reported as unconfirmed, never passed. A user that no longer exists signs in
 * no more: compliant. An exempt user's alert still carries the finding the
 * exemption let through.
 *
 * Changes: nothing (`notify` by default): MFA can only be enabled again with
 * the user's own device.
 * Never touches: users, passwords, MFA devices and access keys.
 * Permissions: lookups `iam:GetLoginProfile`, `iam:ListMFADevices`,
 * `iam:GetUser`, `iam:GetAccountSummary`.
 */
import { stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact } from '../../engine/exemption.js';
import type { Facts, Finding, RuleContext, Verdict } from '../../engine/types.js';
import { accountOf, defineRule, factValue, readFact } from '../../rulekit/index.js';
import {
  accountSummaryLookup,
  loginProfileLookup,
  mfaDevicesLookup,
  mfaSubject,
  mfaUserLookup,
  ROOT_VIRTUAL_MFA_DEVICE,
  type Subject,
} from './identities.js';

function describeSubject(subject: Subject): string {
  return subject.kind === 'root' ? 'the root user' : `IAM user ${subject.userName}`;
}

function violation(subject: Subject, serial: string | undefined, finding: Finding, resources: readonly string[]): Verdict {
  return {
    kind: 'violation',
    summary: `MFA removed from ${describeSubject(subject)}${serial ? ` (${serial})` : ''}${finding.code.endsWith('-unconfirmed') ? '; console access not confirmed' : ''}`,
    resources,
    findings: [finding],
    plan: [],
  };
}

function evaluateRoot(facts: Facts, serial: string | undefined, deletion: boolean, resources: readonly string[]): Verdict {
  const subject: Subject = { kind: 'root' };
  const summary = factValue(readFact(facts, accountSummaryLookup));
  if (summary?.rootMfaEnabled === true) {
    return { kind: 'compliant', summary: 'the root user still has an MFA device (GetAccountSummary: AccountMFAEnabled)', resources };
  }
  if (summary?.rootMfaEnabled === false) {
    return violation(subject, serial, {
      code: 'root-mfa-removed',
      severity: 'high',
      message: 'The root user has no MFA device any more (GetAccountSummary: AccountMFAEnabled is 0): its password alone signs in. Enable MFA for the root user again.',
      subject: serial ?? 'root',
    }, resources);
  }
  if (deletion) {
    return {
      kind: 'compliant',
      summary: `virtual MFA device ${ROOT_VIRTUAL_MFA_DEVICE} deleted: IAM deletes only unassigned devices, so the deletion removed MFA from no one; whether the root user still has MFA could not be checked (GetAccountSummary unavailable)`,
      resources,
    };
  }
  return violation(subject, serial, {
    code: 'root-mfa-removed-unconfirmed',
    severity: 'high',
    message: `The root user deactivated its MFA device${serial ? ` ${serial}` : ''}. Whether another MFA device remains could not be checked (GetAccountSummary unavailable).`,
    subject: serial ?? 'root',
  }, resources);
}

function evaluateUser(userName: string, facts: Facts, serial: string | undefined, deletion: boolean, resources: readonly string[]): Verdict {
  const subject: Subject = { kind: 'user', userName };
  const noEffect = `IAM deletes only unassigned devices, so the deletion removed MFA from no one`;
  if (factValue(readFact(facts, mfaUserLookup)) === null) {
    return deletion
      ? { kind: 'compliant', summary: `virtual MFA device ${serial ?? userName} deleted: ${noEffect}, and no IAM user is named ${userName}`, resources }
      : { kind: 'compliant', summary: `IAM user ${userName} no longer exists (GetUser: NoSuchEntity), so nobody signs in as that user without MFA`, resources };
  }

  const profile = readFact(facts, loginProfileLookup);
  const devices = factValue(readFact(facts, mfaDevicesLookup));
  if (profile?.status === 'ok' && profile.value === null) {
    return { kind: 'compliant', summary: `IAM user ${userName} has no console password, so MFA removal opens no console sign-in`, resources };
  }
  const remaining = devices?.serials ?? [];
  if (remaining.length > 0) {
    return { kind: 'compliant', summary: `IAM user ${userName} still has ${remaining.length} MFA device${remaining.length === 1 ? '' : 's'} (${remaining.join(', ')})`, resources };
  }
  if (profile?.status === 'ok' && profile.value !== null && devices) {
    const created = profile.value.createDate;
    return violation(subject, serial, {
      code: 'mfa-removed',
      severity: 'high',
      message: `IAM user ${userName} has a console password${created ? ` (since ${created})` : ''} and no MFA device left: the password alone signs in. Ask the user to enable MFA again, and check who removed it.`,
      subject: userName,
    }, resources);
  }
  if (deletion) {
    return {
      kind: 'compliant',
      summary: `virtual MFA device ${serial ?? userName} deleted: ${noEffect}; whether IAM user ${userName} signs in without MFA could not be checked (lookups unavailable)`,
      resources,
    };
  }
  const missing = [profile?.status === 'ok' ? undefined : 'GetLoginProfile', devices ? undefined : 'ListMFADevices'].filter((x) => x !== undefined).join(' and ');
  return violation(subject, serial, {
    code: 'mfa-removed-unconfirmed',
    severity: 'high',
    message: `MFA device ${serial ? `${serial} ` : ''}was deactivated for IAM user ${userName}. Whether the user has a console password and another MFA device could not be checked (${missing} unavailable).`,
    subject: userName,
  }, resources);
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const subject = mfaSubject(event);
  const serial = stringField(event.detail.requestParameters, 'serialNumber');
  if (!subject) {
    return { kind: 'skipped', reason: 'the event names neither a user nor an MFA device, so whose MFA was removed cannot be told', severity: 'high' };
  }
  const deletion = event.detail.eventName === 'DeleteVirtualMFADevice';
  const resources = [subject.kind === 'root' ? `arn:aws:iam::${accountOf(event)}:root` : `user ${subject.userName}`];
  // The root user has no tags, so nothing exempts it.
  if (subject.kind === 'root') return evaluateRoot(facts, serial, deletion, resources);

  const verdict = evaluateUser(subject.userName, facts, serial, deletion, resources);
  if (verdict.kind !== 'violation') return verdict;
  const exempt = exemptionReason(tagsFromFact(readFact(facts, mfaUserLookup)), context.config);
  return exempt ? { kind: 'exempt', reason: `IAM user ${subject.userName} is ${exempt}`, resources, findings: verdict.findings } : verdict;
}

export const mfaRemoved = defineRule({
  id: 'mfa-removed',
  title: 'MFA removed from a user who signs in to the console',
  severity: 'high',
  rationale:
    'Without MFA a phished or reused password is enough to sign in to the console; removing MFA is also a common step after an account takeover, so it deserves a person’s attention.',
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['DeactivateMFADevice', 'DeleteVirtualMFADevice'] }],
  lookups: [mfaUserLookup, loginProfileLookup, mfaDevicesLookup, accountSummaryLookup],
  defaultMode: 'notify',
  evaluate,
});
