/**
 * What a `ConsoleLogin` record says: whether the sign-in succeeded
 * (`responseElements.ConsoleLogin`), who signed in (`userIdentity.type`:
 * `Root`, `IAMUser`, or `AssumedRole`/`FederatedUser` for federation and IAM
 * Identity Center) and whether MFA was used (`additionalEventData.MFAUsed`,
 * `Yes`/`No`; federated sign-ins carry no such field, their MFA is the
 * identity provider's). A failed sign-in has no `errorCode`, only
 * `ConsoleLogin: Failure` and an `errorMessage`, so the rules check it themselves.
 * These records reach EventBridge with detail-type `AWS Console Sign In via CloudTrail`.
 */
import { CONSOLE_SIGN_IN_DETAIL_TYPE, field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import type { Trigger } from '../../engine/types.js';
import { accountOf } from '../../rulekit/index.js';

export const CONSOLE_LOGIN_TRIGGER = {
  eventSource: 'signin.amazonaws.com',
  eventNames: ['ConsoleLogin'],
  detailType: CONSOLE_SIGN_IN_DETAIL_TYPE,
} as const satisfies Trigger;

interface ConsoleSignIn {
  readonly succeeded: boolean;
  readonly identityType: string;
  /** `Yes`, `No`, or `undefined` when the record has no MFA field (federation). */
  readonly mfaUsed?: string;
  readonly who: string;
  readonly loginTo?: string;
}

export function signInOf(event: CloudTrailEvent): ConsoleSignIn {
  const identity = event.detail.userIdentity;
  const extra = field(event.detail, 'additionalEventData');
  const mfaUsed = stringField(extra, 'MFAUsed');
  const loginTo = stringField(extra, 'LoginTo');
  const identityType = identity?.type ?? 'unknown';
  const who = identityType === 'Root' ? `the root user of account ${accountOf(event)}` : (identity?.arn ?? identity?.principalId ?? 'an unknown principal');
  return {
    succeeded: stringField(event.detail.responseElements, 'ConsoleLogin') === 'Success',
    identityType,
    ...(mfaUsed !== undefined ? { mfaUsed } : {}),
    who,
    ...(loginTo !== undefined ? { loginTo } : {}),
  };
}
