/**
 * Who a credentials event is about, and the read-only IAM lookups the
 * credentials rules share. IAM and sign-in events reach EventBridge in
 * us-east-1, where the deployment puts this family.
 */
import { GetAccountSummaryCommand, GetLoginProfileCommand, GetUserCommand, ListMFADevicesCommand } from '@aws-sdk/client-iam';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { tagsFromList, type Tags } from '../../engine/exemption.js';
import { defineLookup, NO_SUCH_ENTITY, type KitLookup } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';

/** The name IAM gives the root user's virtual MFA device when it is enabled from the console. */
export const ROOT_VIRTUAL_MFA_DEVICE = 'root-account-mfa-device';

export type Subject = { readonly kind: 'root' } | { readonly kind: 'user'; readonly userName: string };

export function isRootCaller(event: CloudTrailEvent): boolean {
  return event.detail.userIdentity?.type === 'Root';
}

/** The IAM user name of the caller, when the caller is an IAM user. */
export function callerUserName(event: CloudTrailEvent): string | undefined {
  const identity = event.detail.userIdentity;
  if (identity?.type !== 'IAMUser') return undefined;
  return stringField(identity, 'userName') ?? identity.arn?.split('/').at(-1);
}

/** The device name of an MFA serial number (`arn:aws:iam::111122223333:mfa/alice` → `alice`); hardware serials are returned as they are. */
export function deviceName(serialNumber: string): string {
  const marker = serialNumber.indexOf(':mfa/');
  return marker < 0 ? serialNumber : (serialNumber.slice(marker + ':mfa/'.length).split('/').at(-1) ?? serialNumber);
}

/**
 * Whose MFA an MFA event is about. `DeactivateMFADevice` names the user, or
 * (without `userName`) acts on the caller, the root user included.
 * `DeleteVirtualMFADevice` names only the device: the user it was named after
 * (the console names a device after its user) is a guess the lookups confirm.
 */
export function mfaSubject(event: CloudTrailEvent): Subject | undefined {
  const params = event.detail.requestParameters;
  if (event.detail.eventName === 'DeleteVirtualMFADevice') {
    const serial = stringField(params, 'serialNumber');
    if (!serial) return undefined;
    const name = deviceName(serial);
    return name === ROOT_VIRTUAL_MFA_DEVICE ? { kind: 'root' } : { kind: 'user', userName: name };
  }
  const userName = stringField(params, 'userName');
  if (userName) return { kind: 'user', userName };
  if (isRootCaller(event)) return { kind: 'root' };
  const caller = callerUserName(event);
  return caller ? { kind: 'user', userName: caller } : undefined;
}

/** A user as `GetUser` shows it: its tags (for exemption); `null` when no such user exists. */
type UserFact = { readonly tags: Tags } | null;

/** GetUser of the user `subjectOf` names (`undefined`: no lookup): whether it exists (`null` when not), and its tags. */
export function userLookup(subjectOf: (event: CloudTrailEvent) => string | undefined): KitLookup<UserFact> {
  return defineLookup(iam, GetUserCommand, {
    name: 'user',
    input: (event) => {
      const userName = subjectOf(event);
      return userName ? { UserName: userName } : undefined;
    },
    select: (output): UserFact => {
      const user = field(output, 'User');
      return typeof user === 'object' && user !== null ? { tags: tagsFromList(field(user, 'Tags')) } : null;
    },
    notFoundCodes: NO_SUCH_ENTITY,
  });
}

const mfaUserName = (event: CloudTrailEvent): string | undefined => {
  const subject = mfaSubject(event);
  return subject?.kind === 'user' ? subject.userName : undefined;
};

/** GetUser of the user whose MFA was removed: whether it exists, and its tags (exemption). */
export const mfaUserLookup = userLookup(mfaUserName);

/** A console password as `GetLoginProfile` shows it (since when); `null` when the user has none (NoSuchEntity). */
type LoginProfileFact = { readonly createDate: string | undefined } | null;

/** GetLoginProfile: a console password exists (`{}`), or not (`null`, NoSuchEntity). */
export const loginProfileLookup = defineLookup(iam, GetLoginProfileCommand, {
  name: 'loginProfile',
  input: (event) => {
    const userName = mfaUserName(event);
    return userName ? { UserName: userName } : undefined;
  },
  select: (output): LoginProfileFact => {
    const profile = field(output, 'LoginProfile');
    if (typeof profile !== 'object' || profile === null) return null;
    const created = field(profile, 'CreateDate');
    return { createDate: created instanceof Date ? created.toISOString() : typeof created === 'string' ? created : undefined };
  },
  notFoundCodes: NO_SUCH_ENTITY,
});

/** ListMFADevices: the MFA devices the user still has (a user may hold up to eight). */
export const mfaDevicesLookup = defineLookup(iam, ListMFADevicesCommand, {
  name: 'mfaDevices',
  input: (event) => {
    const userName = mfaUserName(event);
    return userName ? { UserName: userName } : undefined;
  },
  select: (output): { readonly serials: readonly string[] } => {
    const devices = field(output, 'MFADevices');
    return { serials: (Array.isArray(devices) ? devices : []).map((d) => stringField(d, 'SerialNumber')).filter((s): s is string => s !== undefined) };
  },
  notFoundCodes: NO_SUCH_ENTITY,
});

/** GetAccountSummary: `AccountMFAEnabled` says whether the root user still has an MFA device. */
export const accountSummaryLookup = defineLookup(iam, GetAccountSummaryCommand, {
  name: 'accountSummary',
  input: (event) => (mfaSubject(event)?.kind === 'root' ? {} : undefined),
  select: (output): { readonly rootMfaEnabled: boolean | undefined } => {
    const enabled = field(output, 'SummaryMap', 'AccountMFAEnabled');
    return { rootMfaEnabled: typeof enabled === 'number' ? enabled > 0 : undefined };
  },
});
