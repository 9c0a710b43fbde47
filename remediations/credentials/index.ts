/**
 * The credentials family (root user, MFA, console sign-in): one Lambda
 * function, deployed in us-east-1 only, where IAM and sign-in events reach
 * EventBridge. It holds these rules and only their read-only lookups.
 */
import { consoleLoginWithoutMfa } from './console-login-without-mfa.js';
import { mfaRemoved } from './mfa-removed.js';
import { rootAccessKeyCreated } from './root-access-key-created.js';
import { rootConsoleLogin } from './root-console-login.js';

export const credentialRules = [rootAccessKeyCreated, mfaRemoved, rootConsoleLogin, consoleLoginWithoutMfa] as const;
