/**
 * console-login-without-mfa: an IAM user signed in to the console with a
 * password alone.
 *
 * Triggers: `ConsoleLogin` (`signin.amazonaws.com`, EventBridge detail-type
 * `AWS Console Sign In via CloudTrail`) with `userIdentity.type` `IAMUser`,
 * `responseElements.ConsoleLogin` `Success` and `additionalEventData.MFAUsed`
 * `No`. Federated and IAM Identity Center sign-ins carry no MFA field (the
 * identity provider enforces MFA) and pass, as do failed sign-ins; root
 * sign-ins are `root-console-login`'s. CloudTrail records an IAM user's
 * sign-in in us-east-1, us-east-2, eu-north-1 or ap-southeast-2 (global
 * endpoint) or in a Regional endpoint's Region: this rule sees only those that
 * reach the Region its function is deployed in.
 *
 * Changes: nothing (`notify` by default).
 * Never touches: the user, its password, MFA devices and keys.
 * Exemption: the user's tags (`GetUser`); the exempt alert still carries the
 * finding the exemption let through.
 * Permissions: lookup `iam:GetUser`.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact } from '../../engine/exemption.js';
import type { Facts, Finding, RuleContext, Verdict } from '../../engine/types.js';
import { defineRule, readFact } from '../../rulekit/index.js';
import { CONSOLE_LOGIN_TRIGGER, signInOf } from './console-login.js';
import { callerUserName, userLookup } from './identities.js';

function isPasswordOnlySignIn(event: CloudTrailEvent): boolean {
  const signIn = signInOf(event);
  return signIn.identityType === 'IAMUser' && signIn.succeeded && signIn.mfaUsed === 'No';
}

/** GetUser of the user who signed in without MFA, for its exemption tag. */
const signedInUserLookup = userLookup((event) => (isPasswordOnlySignIn(event) ? callerUserName(event) : undefined));

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const signIn = signInOf(event);
  const userName = callerUserName(event);
  const resources = userName ? [`user ${userName}`] : [];
  if (signIn.identityType === 'Root') return { kind: 'compliant', summary: 'a root sign-in: judged by root-console-login', resources };
  if (signIn.identityType !== 'IAMUser' || !userName) {
    return { kind: 'compliant', summary: `federated sign-in by ${signIn.who}: MFA is the identity provider's to enforce and not recorded here`, resources };
  }
  if (!signIn.succeeded) return { kind: 'compliant', summary: `failed sign-in attempt by IAM user ${userName}: no session was opened`, resources };
  if (signIn.mfaUsed !== 'No') return { kind: 'compliant', summary: `IAM user ${userName} signed in with MFA`, resources };

  const findings: Finding[] = [
    {
      code: 'console-login-without-mfa',
      severity: 'high',
      message: `IAM user ${userName} signed in to the console from ${event.detail.sourceIPAddress ?? 'an unknown address'} with a password alone. Confirm it was them, and have them enable MFA (or require it with an IAM policy).`,
      subject: userName,
    },
  ];
  const exempt = exemptionReason(tagsFromFact(readFact(facts, signedInUserLookup)), context.config);
  if (exempt) return { kind: 'exempt', reason: `IAM user ${userName} is ${exempt}`, resources, findings };
  return {
    kind: 'violation',
    summary: `IAM user ${userName} signed in to the console without MFA`,
    resources,
    findings,
    plan: [],
  };
}

export const consoleLoginWithoutMfa = defineRule({
  id: 'console-login-without-mfa',
  title: 'IAM user signed in to the console without MFA',
  severity: 'high',
  rationale:
    'A console password alone is one phishing e-mail or one reused password away from an intruder; MFA is the control that stops a stolen password from being enough.',
  triggers: [CONSOLE_LOGIN_TRIGGER],
  lookups: [signedInUserLookup],
  defaultMode: 'notify',
  evaluate,
});
