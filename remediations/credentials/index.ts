/**
 * The credentials family (root user, MFA, console sign-in, the bot's own
 * roles): one Lambda function, deployed in every Region. Its IAM triggers
 * reach EventBridge only in us-east-1, but an IAM user's console sign-in and
 * an STS `AssumeRole` are recorded in the Region of the endpoint that served
 * them. It holds these rules and only their read-only lookups and probes:
 * its rules only notify, and the proposed `UpdateAccessKey` of a root key is
 * for the root user to run, so it is deliberately not in its command table.
 */
import { defineFamily } from '../../rulekit/define.js';
import { botRoleImpostor } from './bot-role-impostor.js';
import { consoleLoginWithoutMfa } from './console-login-without-mfa.js';
import { mfaRemoved } from './mfa-removed.js';
import { rootAccessKeyCreated } from './root-access-key-created.js';
import { rootConsoleLogin } from './root-console-login.js';

export const credentialsFamily = defineFamily({ name: 'credentials', rules: [rootAccessKeyCreated, mfaRemoved, rootConsoleLogin, consoleLoginWithoutMfa, botRoleImpostor] });

/** The family's rules, as the registry and the deployment see them. */
export const credentialRules = credentialsFamily.rules;
