/**
 * root-console-login: someone signed in to the console as the root user.
 *
 * Triggers: `ConsoleLogin` (`signin.amazonaws.com`, EventBridge detail-type
 * `AWS Console Sign In via CloudTrail`) with `userIdentity.type` `Root` and
 * `responseElements.ConsoleLogin` `Success`. A sign-in without MFA
 * (`additionalEventData.MFAUsed` `No`) adds a second finding. Failed sign-ins
 * and every other identity pass.
 *
 * Changes: nothing (`notify` by default): a session cannot be ended from outside
 * and the root user cannot be restricted.
 * Never touches: the root user's password, MFA and keys.
 * Permissions: none.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Finding, Verdict } from '../../engine/types.js';
import { accountOf, defineRule } from '../../rulekit/index.js';
import { CONSOLE_LOGIN_TRIGGER, signInOf } from './console-login.js';

function evaluate(event: CloudTrailEvent): Verdict {
  const signIn = signInOf(event);
  const account = accountOf(event);
  const root = `arn:aws:iam::${account}:root`;
  if (signIn.identityType !== 'Root') {
    return { kind: 'compliant', summary: `console sign-in by ${signIn.who}, not the root user`, resources: [] };
  }
  if (!signIn.succeeded) {
    return { kind: 'compliant', summary: `failed root sign-in attempt from ${event.detail.sourceIPAddress ?? 'an unknown address'}: no session was opened`, resources: [root] };
  }
  const findings: Finding[] = [
    {
      code: 'root-console-login',
      severity: 'high',
      message: `The root user signed in to the console from ${event.detail.sourceIPAddress ?? 'an unknown address'}. Confirm who it was and that the task needs root; everyday work belongs to IAM roles.`,
      subject: root,
    },
  ];
  if (signIn.mfaUsed === 'No') {
    findings.push({
      code: 'root-login-without-mfa',
      severity: 'high',
      message: 'The root sign-in used no MFA: the root password alone opened the account. Enable MFA for the root user.',
      subject: root,
    });
  }
  return {
    kind: 'violation',
    summary: `root console sign-in to account ${account}${signIn.mfaUsed === 'No' ? ' without MFA' : ''}`,
    resources: [root],
    findings,
    plan: [],
  };
}

export const rootConsoleLogin = defineRule({
  id: 'root-console-login',
  title: 'Root user signed in to the console',
  severity: 'high',
  rationale:
    'The root user is for the few tasks only it can do; a root sign-in outside a planned task is either a process gap or an intruder holding the account’s master password.',
  triggers: [CONSOLE_LOGIN_TRIGGER],
  defaultMode: 'notify',
  evaluate,
});
