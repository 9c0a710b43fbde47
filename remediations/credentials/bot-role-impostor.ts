/**
 * bot-role-impostor: a role on the bot's path `/remediation-bot/` that is not
 * exactly one of the bot's roles, or a bot role assumed by anyone but Lambda.
 *
 * The bot recognises its own calls by the exact ARNs of its function roles
 * (`RuleContext.botRoles`, `isBotRole` in `engine/decide.ts`), never by path or
 * name: a look-alike role on the path gets no trust from the engine. This rule
 * makes the attempt visible, because the path is reserved to the deployment
 * and a person should know at once that someone tried to pass for the bot.
 *
 * Triggers:
 * - `iam.amazonaws.com` `CreateRole` whose `path` (request or response) starts
 *   with `/remediation-bot/`, or whose role ARN lies under
 *   `:role/remediation-bot/`. It is a violation unless the new role is exactly
 *   one of the bot's roles (the deployment creating them).
 * - `sts.amazonaws.com` `AssumeRole` of a role ARN under `:role/remediation-bot/`
 *   (`requestParameters.roleArn`, else the record's `resources`). It is a
 *   violation unless the role is exactly one of the bot's roles and the caller
 *   is the Lambda service (`userIdentity.type` `AWSService`, `invokedBy`
 *   `lambda.amazonaws.com`), which assumes a function's execution role.
 *
 * Where the events arrive: `CreateRole` (IAM) reaches EventBridge only in
 * us-east-1. `AssumeRole` is recorded in the Region of the STS endpoint that
 * served it (us-east-1 for the global endpoint, else the Regional endpoint's
 * Region), so a rule on it must run in every Region: the credentials family is
 * deployed in every Region for that reason (and for console sign-ins).
 * `AssumeRole` is a read-only management event (`readOnly: true`): EventBridge
 * delivers read-only management events only to a rule whose state is
 * `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` (EventBridge User Guide,
 * "Receiving read-only management events from AWS services"; its own example
 * of such a rule matches STS `AssumeRole`). A failed `AssumeRole`
 * (`AccessDenied`) changed nothing and is skipped by the engine, like every
 * failed call.
 *
 * Changes: nothing (`notify` by default, empty plan). The bot's IAM Deny
 * statement forbids it to touch roles on `/remediation-bot/`, so a person must
 * act: delete the look-alike role, or revoke the bot role's sessions.
 * Never touches: the role, its policies, its trust policy or its sessions.
 * Permissions: none.
 *
 * Reserve the path to the deployer with a service control policy (SCPs bind
 * the IAM users and roles of member accounts, not AWS service principals such
 * as `lambda.amazonaws.com`, and not the management account). Replace
 * `DeployerRole` with the role that runs the deployment (and the CloudFormation
 * service role, if it uses one):
 *
 * ```json
 * {
 *   "Version": "2012-10-17",
 *   "Statement": [
 *     {
 *       "Sid": "ReserveBotRolesToDeployer",
 *       "Effect": "Deny",
 *       "Action": [
 *         "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
 *         "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
 *         "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary", "iam:TagRole", "iam:UntagRole", "iam:PassRole"
 *       ],
 *       "Resource": "arn:aws:iam::*:role/remediation-bot/*",
 *       "Condition": { "ArnNotLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/DeployerRole" } }
 *     },
 *     {
 *       "Sid": "NoPrincipalAssumesBotRoles",
 *       "Effect": "Deny",
 *       "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"],
 *       "Resource": "arn:aws:iam::*:role/remediation-bot/*"
 *     },
 *     {
 *       "Sid": "ReserveBotFunctionsToDeployer",
 *       "Effect": "Deny",
 *       "Action": [
 *         "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction",
 *         "lambda:AddPermission", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"
 *       ],
 *       "Resource": "arn:aws:lambda:*:*:function:remediation-bot-*",
 *       "Condition": { "ArnNotLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/DeployerRole" } }
 *     }
 *   ]
 * }
 * ```
 *
 * `iam:PassRole` is reserved too: whoever may pass a bot role to a function of
 * their own gets a Lambda-made session of that exact role, which this rule
 * cannot tell from the bot's (the Lambda service's `AssumeRole` record names
 * the session `awslambda_…`, whatever the function); and whoever may change the bot's
 * functions runs code as the bot. Outside the `aws` partition, write the
 * ARNs with `aws-cn` or `aws-us-gov`.
 */
import { field, principalArn, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { isBotRole } from '../../engine/decide.js';
import type { Facts, Finding, RuleContext, Verdict } from '../../engine/types.js';
import { accountOf, defineRule, partitionOf } from '../../rulekit/index.js';

/** The IAM path of every role the deployment creates for the bot (`functionRole` in `deploy/deployment.ts`). */
const BOT_ROLE_PATH = '/remediation-bot/';

/** A role ARN under the bot's path, any partition and account; IAM paths are case-sensitive. */
const ROLE_ON_BOT_PATH = /^arn:aws[a-z-]*:iam::\d{12}:role\/remediation-bot\//;

/**
 * A member role of an Organization hub (the member template,
 * `engine/accounts.ts`): `remediation-bot-member-<family>` on the bot's path,
 * in a member account, assumed by the hub's function of that family.
 */
const MEMBER_ROLE = /^arn:aws[a-z-]*:iam::(\d{12}):role\/remediation-bot\/remediation-bot-member-[a-z0-9]+(-[a-z0-9]+)*$/;

/** The accounts of the bot's own roles: the hub's. */
function botAccounts(botRoles: readonly string[]): Set<string> {
  return new Set(botRoles.map((arn) => /^arn:[^:]+:iam::(\d{12}):/.exec(arn)?.[1]).filter((account): account is string => account !== undefined));
}

/**
 * Whether the hub's function entered a member account: the caller is exactly
 * one of the bot's roles (the hub account's record of the call), or, in the
 * member account's record, which names only the caller's account, the hub's
 * account: the member role trusts only the hub's function roles, so a call
 * that succeeded from there was one of them.
 */
function isHubEntering(event: CloudTrailEvent, roleArn: string, botRoles: readonly string[]): boolean {
  if (!MEMBER_ROLE.test(roleArn)) return false;
  const identity = event.detail.userIdentity;
  if (isBotRole(identity?.sessionContext?.sessionIssuer?.arn, botRoles)) return true;
  return identity?.type === 'AWSAccount' && botAccounts(botRoles).has(identity.accountId ?? '');
}

/** The service principal that assumes a Lambda function's execution role. */
const LAMBDA_SERVICE = 'lambda.amazonaws.com';

function isOnBotPath(roleArn: string): boolean {
  return ROLE_ON_BOT_PATH.test(roleArn);
}

/** The role `CreateRole` made: its ARN (from the response, else built from the request) and its path. */
export function createdRole(event: CloudTrailEvent): { arn: string; path: string } | undefined {
  const role = field(event.detail.responseElements, 'role');
  const request = event.detail.requestParameters;
  const path = stringField(role, 'path') ?? stringField(request, 'path') ?? '/';
  const arn = stringField(role, 'arn');
  if (arn) return { arn, path };
  const name = stringField(role, 'roleName') ?? stringField(request, 'roleName');
  if (!name) return undefined;
  return { arn: `arn:${partitionOf(event)}:iam::${accountOf(event)}:role${path}${name}`, path };
}

/** The role `AssumeRole` asked for: `requestParameters.roleArn`, else the role among the record's `resources`. */
export function assumedRoleArn(event: CloudTrailEvent): string | undefined {
  const requested = stringField(event.detail.requestParameters, 'roleArn');
  if (requested) return requested;
  const resources = field(event.detail, 'resources');
  const role = (Array.isArray(resources) ? resources : []).find((resource) => field(resource, 'type') === 'AWS::IAM::Role');
  return stringField(role, 'ARN') ?? stringField(role, 'arn');
}

/** Whether the Lambda service made the call: how a function's execution role is assumed. */
function isLambdaService(event: CloudTrailEvent): boolean {
  const identity = event.detail.userIdentity;
  return identity?.type === 'AWSService' && identity.invokedBy === LAMBDA_SERVICE;
}

function whoAndWhere(event: CloudTrailEvent): string {
  const ip = event.detail.sourceIPAddress;
  return `${principalArn(event)}${ip && ip !== principalArn(event) ? ` (from ${ip})` : ''}`;
}

function noBotRolesNote(botRoles: readonly string[]): string {
  return botRoles.length === 0 ? " This deployment names no bot role (BOT_PRINCIPALS is empty), so no role on the path is the bot's." : '';
}

function violation(summary: string, roleArn: string, finding: Finding): Verdict {
  return { kind: 'violation', summary, resources: [roleArn], findings: [finding], plan: [] };
}

function evaluateCreateRole(event: CloudTrailEvent, botRoles: readonly string[]): Verdict {
  const role = createdRole(event);
  if (!role) return { kind: 'skipped', reason: "the CreateRole record names no role (no roleName, no role in the response), so whether it is on the bot's path cannot be told" };
  if (!role.path.startsWith(BOT_ROLE_PATH) && !isOnBotPath(role.arn)) {
    return { kind: 'compliant', summary: `role ${role.arn} is not on the bot's path ${BOT_ROLE_PATH}`, resources: [role.arn] };
  }
  if (isBotRole(role.arn, botRoles)) {
    return { kind: 'compliant', summary: `${role.arn} is exactly one of the bot's own roles, created by ${principalArn(event)} (the deployment)`, resources: [role.arn] };
  }
  const member = MEMBER_ROLE.exec(role.arn);
  if (member && !botAccounts(botRoles).has(member[1] ?? '')) {
    return violation(`member role ${role.arn} created by ${principalArn(event)}: expected when the hub's member StackSet enrols account ${member[1] ?? ''}`, role.arn, {
      code: 'bot-member-role-created',
      severity: 'low',
      message: `${whoAndWhere(event)} created ${role.arn}, the role an Organization hub's function assumes in this account (the member template, docs/organizations.md). That is expected when the member StackSet enrols the account: keep it. If no enrolment happened, find out who created it; its trust policy should name only the hub's function role.`,
      subject: role.arn,
    });
  }
  return violation(`${role.arn} created on the bot's path by ${principalArn(event)}; it is not one of the bot's roles`, role.arn, {
    code: 'bot-path-role-created',
    severity: 'high',
    message: `${whoAndWhere(event)} created role ${role.arn} on the path ${BOT_ROLE_PATH}, which is reserved to the bot's deployment. It is not one of the bot's roles, so the bot gives it no trust and judges its calls like anyone's, but a role there passes for the bot to people and tools. Find out who created it and why, and delete it: the bot cannot (its IAM Deny forbids it to touch roles on that path).${noBotRolesNote(botRoles)}`,
    subject: role.arn,
  });
}

function evaluateAssumeRole(event: CloudTrailEvent, botRoles: readonly string[]): Verdict {
  const roleArn = assumedRoleArn(event);
  if (!roleArn) return { kind: 'skipped', reason: "the AssumeRole record names no role (no roleArn, no role among its resources), so whether it is on the bot's path cannot be told" };
  const who = principalArn(event);
  if (!isOnBotPath(roleArn)) return { kind: 'compliant', summary: `${who} assumed ${roleArn}, which is not on the bot's path ${BOT_ROLE_PATH}`, resources: [roleArn] };
  const session = stringField(event.detail.requestParameters, 'roleSessionName');
  const sessionNote = session ? ` (session name ${session})` : '';
  if (isHubEntering(event, roleArn, botRoles)) {
    return { kind: 'compliant', summary: `the hub's function ${who} assumed the member role ${roleArn}${sessionNote}`, resources: [roleArn] };
  }
  if (!isBotRole(roleArn, botRoles)) {
    return violation(`${roleArn} (on the bot's path, not one of the bot's roles) assumed by ${who}`, roleArn, {
      code: 'bot-path-role-assumed',
      severity: 'high',
      message: `${whoAndWhere(event)} assumed role ${roleArn}${sessionNote}, on the path ${BOT_ROLE_PATH} reserved to the bot's deployment. It is not one of the bot's roles, so the bot gives its session no trust, but the role passes for the bot to people and tools. Find out who created and assumed it, and delete it: the bot cannot (its IAM Deny forbids it to touch roles on that path).${noBotRolesNote(botRoles)}`,
      subject: roleArn,
    });
  }
  if (isLambdaService(event)) {
    return { kind: 'compliant', summary: `the Lambda service assumed the bot's own role ${roleArn} for its function`, resources: [roleArn] };
  }
  return violation(`the bot's own role ${roleArn} assumed by ${who}, not by the Lambda service`, roleArn, {
    code: 'bot-role-assumed-outside-lambda',
    severity: 'high',
    message: `${whoAndWhere(event)} assumed the bot's own role ${roleArn}${sessionNote}: only the Lambda service should. The session holds the bot's write permissions, and its calls made under one of the bot's function names as session name are skipped as the bot's own. Revoke the role's active sessions, check its trust policy, and find out who did it: the bot cannot (its IAM Deny forbids it to touch its own roles).`,
    subject: roleArn,
  });
}

function evaluate(event: CloudTrailEvent, _facts: Facts, context: RuleContext): Verdict {
  const botRoles = context.botRoles ?? [];
  return event.detail.eventName === 'CreateRole' ? evaluateCreateRole(event, botRoles) : evaluateAssumeRole(event, botRoles);
}

export const botRoleImpostor = defineRule({
  id: 'bot-role-impostor',
  title: "Role on the bot's path created or assumed by someone else",
  severity: 'high',
  rationale:
    'The bot is trusted by the exact ARNs of its roles; a role on its path `/remediation-bot/`, or a bot role assumed outside Lambda, is someone trying to pass for the bot or to borrow its write permissions, and people must know at once.',
  triggers: [
    { eventSource: 'iam.amazonaws.com', eventNames: ['CreateRole'] },
    // AssumeRole is read-only and frequent: EventBridge passes on only assumptions of roles on the bot's path.
    { eventSource: 'sts.amazonaws.com', eventNames: ['AssumeRole'], readOnly: true, requestMatch: { field: 'roleArn', wildcard: 'arn:*:iam::*:role/remediation-bot/*' } },
  ],
  defaultMode: 'notify',
  evaluate,
});
