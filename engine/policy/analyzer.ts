/**
 * A pure analyzer of IAM policy documents: what a permissions policy grants
 * that it should not, and who a role's trust policy lets in.
 *
 * Only Allow statements produce findings; Deny statements never do (nor do
 * they cancel findings). A restricting `Condition` lowers a finding by one
 * step (critical → high → medium → low) and says so in `conditionNote`.
 * Nothing here throws: unreadable documents are `{ ok: false, error }`.
 */
import { SEVERITIES, severityRank, type Severity } from '../types.js';
import { actionMatches, classifyActionPattern } from './actions.js';
import {
  parsePolicyDocument,
  type NormalizedStatement,
  type PolicyParseOptions,
} from './parse.js';

export { actionMatches } from './actions.js';
export {
  IAM_POLICY_SIZE_LIMITS,
  MAX_RAW_POLICY_INPUT,
  parsePolicyDocument,
  type NormalizedCondition,
  type NormalizedPrincipal,
  type NormalizedStatement,
} from './parse.js';

export const POLICY_FINDING_CODES = [
  'full-admin',
  'service-wildcard',
  'not-action-allow',
  'not-resource-allow',
  'passrole-wildcard',
  'privilege-escalation',
  'passrole-escalation',
  'public-trust',
  'untrusted-account',
  'web-identity-no-sub',
] as const;
export type PolicyFindingCode = (typeof POLICY_FINDING_CODES)[number];

export interface PolicyFinding {
  readonly code: PolicyFindingCode;
  readonly severity: Severity;
  readonly statementIndex: number;
  readonly sid?: string;
  /** One sentence a person understands. */
  readonly message: string;
  /** Set when a restricting Condition lowered the severity: which keys, and why. */
  readonly conditionNote?: string;
}

/** IAM actions that let a principal grant itself more permissions (Rhino Security Labs' list, trimmed to IAM). */
const DEFAULT_PRIVILEGE_ESCALATION_ACTIONS = [
  'iam:CreatePolicy',
  'iam:CreatePolicyVersion',
  'iam:SetDefaultPolicyVersion',
  'iam:AttachUserPolicy',
  'iam:AttachRolePolicy',
  'iam:AttachGroupPolicy',
  'iam:PutUserPolicy',
  'iam:PutRolePolicy',
  'iam:PutGroupPolicy',
  'iam:CreateAccessKey',
  'iam:CreateLoginProfile',
  'iam:UpdateLoginProfile',
  'iam:UpdateAssumeRolePolicy',
  'iam:AddUserToGroup',
] as const;

/** Actions that start compute running as a passed role: with `iam:PassRole` they borrow that role's permissions. */
const PASSROLE_COMPUTE_ACTIONS = [
  'ec2:RunInstances',
  'lambda:CreateFunction',
  'glue:CreateDevEndpoint',
  'cloudformation:CreateStack',
] as const;

const PASS_ROLE = 'iam:PassRole';
const ASSUME_ROLE_WITH_WEB_IDENTITY = 'sts:AssumeRoleWithWebIdentity';
const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

/** Condition keys that confine a `*` principal to known identities or to a specific calling resource. */
const PRINCIPAL_SCOPING_KEYS = new Set([
  'aws:principalorgid',
  'aws:principalorgpaths',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:sourceaccount',
  'aws:sourcearn',
  'aws:sourceorgid',
  'aws:sourceorgpaths',
  'sts:externalid',
]);

interface PermissionsAnalysisOptions extends PolicyParseOptions {
  /** Actions that count as privilege escalation on `Resource: *`; defaults to {@link DEFAULT_PRIVILEGE_ESCALATION_ACTIONS}. */
  readonly privilegeEscalationActions?: readonly string[];
}

interface TrustAnalysisOptions extends PolicyParseOptions {
  /** Accounts that may be trusted without an external id. */
  readonly trustedAccounts: readonly string[];
  /** The role's own account; principals in it are never external. */
  readonly ownAccount?: string;
}

export type PolicyAnalysis =
  | { ok: true; findings: PolicyFinding[]; statements: NormalizedStatement[] }
  | { ok: false; error: string };

function lowered(severity: Severity): Severity {
  return SEVERITIES[Math.max(0, severityRank(severity) - 2)] ?? 'low';
}

interface ConditionEntry {
  readonly operator: string;
  readonly key: string;
  readonly values: readonly string[];
}

function conditionEntries(statement: NormalizedStatement): ConditionEntry[] {
  return Object.entries(statement.condition ?? {}).flatMap(([operator, keys]) =>
    Object.entries(keys).map(([key, values]) => ({ operator, key, values })),
  );
}

const NEGATED_OPERATOR = /Not(Equals|Like|IpAddress)/i;
const WILDCARD_VALUE = /^[*?]*\*[*?]*$/;

/**
 * Whether a condition confines who or what can use the grant. It does not when
 * it only excludes (`StringNotEquals`, `NotIpAddress`), when it passes for
 * requests that lack the key (`…IfExists`, `ForAllValues:`), or when every
 * value is a bare wildcard under a `…Like` operator.
 */
function isRestricting(entry: ConditionEntry): boolean {
  const operator = entry.operator;
  if (/IfExists$/i.test(operator) || /^ForAllValues:/i.test(operator)) return false;
  if (NEGATED_OPERATOR.test(operator)) return false;
  if (/Like$/i.test(operator) && entry.values.length > 0 && entry.values.every((value) => WILDCARD_VALUE.test(value))) return false;
  return true;
}

function restrictingConditions(statement: NormalizedStatement): ConditionEntry[] {
  return conditionEntries(statement).filter(isRestricting);
}

function describeKeys(entries: readonly ConditionEntry[]): string {
  return entries.map((entry) => `${entry.key} (${entry.operator})`).join(', ');
}

function describeStatement(statement: NormalizedStatement, word = 'Statement'): string {
  return statement.sid ? `${word} ${statement.index} ("${statement.sid}")` : `${word} ${statement.index}`;
}

function listNames(names: readonly string[], max = 6): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** Builds a finding, lowering it one step when restricting conditions apply. */
function finding(
  code: PolicyFindingCode,
  severity: Severity,
  statement: NormalizedStatement,
  message: string,
  conditions: readonly ConditionEntry[],
): PolicyFinding {
  const base = { code, statementIndex: statement.index, ...(statement.sid !== undefined && { sid: statement.sid }), message };
  if (conditions.length === 0) return { ...base, severity };
  const severityAfter = lowered(severity);
  return {
    ...base,
    severity: severityAfter,
    conditionNote: `Lowered from ${severity} to ${severityAfter} because the grant only applies when the condition on ${describeKeys(conditions)} holds.`,
  };
}

/**
 * `*`, or an ARN whose service and every later segment are wildcards
 * (`arn:aws:*:*:*:*`). `arn:aws:s3:::bucket/*` is a specific resource.
 */
export function isAnyResource(resource: string): boolean {
  if (/^\*+$/.test(resource)) return true;
  if (!resource.toLowerCase().startsWith('arn:')) return false;
  const rest = resource.slice(4);
  const colon = rest.indexOf(':');
  if (colon < 0) return /^\*+$/.test(rest);
  const remainder = rest.slice(colon + 1);
  const service = remainder.split(':')[0] ?? '';
  return /^\*+$/.test(service) && /^[*:/]*$/.test(remainder);
}

type ResourceScope = 'all' | 'some' | 'none';

/** `NotResource` grants everything but the listed resources, so it counts as all. */
function resourceScope(statement: NormalizedStatement): ResourceScope {
  if (statement.notResources) return statement.notResources.some(isAnyResource) ? 'none' : 'all';
  const resources = statement.resources ?? [];
  if (resources.some(isAnyResource)) return 'all';
  return resources.length > 0 ? 'some' : 'none';
}

/** Whether the statement's Action or NotAction covers the action (resources aside). */
function coversAction(statement: NormalizedStatement, action: string): boolean {
  if (statement.actions) return statement.actions.some((pattern) => actionMatches(pattern, action));
  if (statement.notActions) return !statement.notActions.some((pattern) => actionMatches(pattern, action));
  return false;
}

function grantsNothing(statement: NormalizedStatement): boolean {
  if (statement.notActions) return statement.notActions.some((pattern) => classifyActionPattern(pattern) === 'all');
  return (statement.actions ?? []).length === 0;
}

function analyzePermissionStatement(statement: NormalizedStatement, escalationActions: readonly string[]): PolicyFinding[] {
  const scope = resourceScope(statement);
  if (scope === 'none' || grantsNothing(statement)) return [];
  const conditions = restrictingConditions(statement);
  const who = describeStatement(statement);
  const onAll = scope === 'all';
  const findings: PolicyFinding[] = [];

  if (statement.notResources) {
    findings.push(
      finding(
        'not-resource-allow',
        'high',
        statement,
        `${who} allows its actions on every resource except ${listNames(statement.notResources)}, so any resource created later is covered too.`,
        conditions,
      ),
    );
  }

  if (statement.notActions) {
    findings.push(
      finding(
        'not-action-allow',
        onAll ? 'critical' : 'high',
        statement,
        `${who} uses Allow with NotAction, granting every action except ${listNames(statement.notActions)}${onAll ? ' on all resources' : ''}, including actions AWS adds later.`,
        conditions,
      ),
    );
    return findings;
  }

  const patterns = (statement.actions ?? []).map((pattern) => ({ pattern, scope: classifyActionPattern(pattern) }));
  if (!onAll) return findings;

  const admin = patterns.filter((p) => p.scope === 'all').map((p) => p.pattern);
  if (admin.length > 0) {
    findings.unshift(
      finding('full-admin', 'critical', statement, `${who} allows every action (${listNames(admin)}) on all resources: full administrator access.`, conditions),
    );
    return findings;
  }

  const serviceWide = patterns.filter((p) => p.scope === 'service-wide').map((p) => p.pattern);
  const crossService = patterns.filter((p) => p.scope === 'cross-service').map((p) => p.pattern);
  const narrower = patterns.filter((p) => p.scope !== 'service-wide').map((p) => p.pattern);
  // A service-wide wildcard already reports everything of its service, escalation included.
  const subsumed = (action: string): boolean => serviceWide.some((pattern) => actionMatches(pattern, action));
  const grantedNarrowly = (action: string): boolean => !subsumed(action) && narrower.some((pattern) => actionMatches(pattern, action));

  if (serviceWide.length > 0 || crossService.length > 0) {
    const escalatingServices = serviceWide.filter((pattern) =>
      [...escalationActions, PASS_ROLE].some((action) => actionMatches(pattern, action)),
    );
    const parts = [
      serviceWide.length > 0 ? `every action of a service (${listNames(serviceWide)})` : undefined,
      crossService.length > 0 ? `wildcard actions in every service (${listNames(crossService)})` : undefined,
    ].filter((part): part is string => part !== undefined);
    const escalationNote = escalatingServices.length > 0 ? `, privilege escalation included through ${listNames(escalatingServices)}` : '';
    findings.push(finding('service-wildcard', 'high', statement, `${who} allows ${parts.join(' and ')} on all resources${escalationNote}.`, conditions));
  }

  const escalation = escalationActions.filter(grantedNarrowly);
  if (escalation.length > 0) {
    const via = narrower.filter((pattern) => escalation.some((action) => actionMatches(pattern, action)));
    findings.push(
      finding(
        'privilege-escalation',
        'high',
        statement,
        `${who} allows ${listNames(escalation, 14)} on all resources (through ${listNames(via)}), which lets its holder grant themselves more permissions.`,
        conditions,
      ),
    );
  }

  if (grantedNarrowly(PASS_ROLE)) {
    findings.push(
      finding(
        'passrole-wildcard',
        'high',
        statement,
        `${who} allows iam:PassRole on all resources, so its holder can hand any role in the account to an AWS service.`,
        conditions,
      ),
    );
  }
  return findings;
}

/** Prefers a statement without restricting conditions: the combination is as strong as its weakest gate. */
function leastRestricted(statements: readonly NormalizedStatement[]): NormalizedStatement | undefined {
  return statements.find((statement) => restrictingConditions(statement).length === 0) ?? statements[0];
}

function analyzePassRoleEscalation(
  allows: readonly NormalizedStatement[],
  findings: readonly PolicyFinding[],
): PolicyFinding | undefined {
  if (findings.some((f) => f.code === 'full-admin')) return undefined;
  const granting = allows.filter((statement) => resourceScope(statement) !== 'none');
  const passers = granting.filter((statement) => coversAction(statement, PASS_ROLE));
  const computeActions = PASSROLE_COMPUTE_ACTIONS.filter((action) => granting.some((statement) => coversAction(statement, action)));
  if (passers.length === 0 || computeActions.length === 0) return undefined;
  const launchers = granting.filter((statement) => computeActions.some((action) => coversAction(statement, action)));
  // Allow+NotAction statements already report that they grant (nearly) everything.
  const blanket = (statement: NormalizedStatement): boolean => statement.notActions !== undefined;
  if (passers.every(blanket) && launchers.every(blanket)) return undefined;

  const passer = leastRestricted(passers);
  const launcher = leastRestricted(launchers);
  if (!passer || !launcher) return undefined;
  const conditions = [...restrictingConditions(passer), ...(launcher === passer ? [] : restrictingConditions(launcher))];
  const where =
    launcher === passer
      ? `${describeStatement(passer)} allows`
      : `${describeStatement(passer)} allows iam:PassRole and ${describeStatement(launcher, 'statement')} allows`;
  const message =
    launcher === passer
      ? `${where} iam:PassRole together with ${listNames(computeActions)}, so its holder can start compute that runs with the permissions of a more privileged role.`
      : `${where} ${listNames(computeActions)}, so together they let the holder start compute that runs with the permissions of a more privileged role.`;
  return finding('passrole-escalation', 'high', passer, message, conditions);
}

function byStatement(findings: PolicyFinding[]): PolicyFinding[] {
  return findings.sort((a, b) => a.statementIndex - b.statementIndex);
}

/**
 * Analyzes an identity-based permissions policy (managed or inline). Every
 * statement must have Resource or NotResource, as IAM requires.
 */
export function analyzePermissionsPolicy(document: string | object, options: PermissionsAnalysisOptions = {}): PolicyAnalysis {
  const parsed = parsePolicyDocument(document, options);
  if (!parsed.ok) return parsed;
  const statements = [...parsed.document.statements];
  const missing = statements.find((statement) => !statement.resources && !statement.notResources);
  if (missing) return { ok: false, error: `${describeStatement(missing)} has neither Resource nor NotResource, which a permissions policy requires.` };

  const escalationActions = options.privilegeEscalationActions ?? DEFAULT_PRIVILEGE_ESCALATION_ACTIONS;
  const allows = statements.filter((statement) => statement.effect === 'Allow');
  const findings = allows.flatMap((statement) => analyzePermissionStatement(statement, escalationActions));
  const passRoleEscalation = analyzePassRoleEscalation(allows, findings);
  if (passRoleEscalation) findings.push(passRoleEscalation);
  return { ok: true, findings: byStatement(findings), statements };
}

/** The account of an AWS principal: a 12-digit id or an IAM/STS ARN; `*` when the account is wildcarded. */
function principalAccount(principal: string): string | undefined {
  if (/^\d{12}$/.test(principal)) return principal;
  const match = /^arn:[^:]*:(?:iam|sts)::([^:]*):/i.exec(principal);
  if (!match) return undefined;
  const account = match[1] ?? '';
  if (/[*?]/.test(account)) return '*';
  return /^\d{12}$/.test(account) ? account : undefined;
}

function isPublicPrincipal(statement: NormalizedStatement): boolean {
  // Allow with NotPrincipal trusts everyone except the listed principals.
  if (statement.notPrincipal !== undefined) return true;
  const principal = statement.principal;
  if (principal === undefined) return false;
  if (principal === '*') return true;
  return (principal.AWS ?? []).some((aws) => aws === '*' || principalAccount(aws) === '*');
}

/** The OIDC host of a Federated principal: `accounts.google.com`, or the host inside an `oidc-provider/` ARN. */
function webIdentityHost(federated: string): string | undefined {
  if (/^arn:/i.test(federated)) return /:oidc-provider\/(.+)$/i.exec(federated)?.[1];
  return /saml/i.test(federated) ? undefined : federated;
}

function keyIs(entry: ConditionEntry, key: string): boolean {
  return entry.key.toLowerCase() === key;
}

/** A `sub` value under a …Like operator that lets any owner in: `*`, `repo:*`, `repo:org*`. */
function isBroadGithubSub(entry: ConditionEntry): boolean {
  if (!/Like$/i.test(entry.operator)) return false;
  return entry.values.some((value) => WILDCARD_VALUE.test(value) || /^repo:[^/]*[*?]/i.test(value));
}

function analyzeWebIdentity(statement: NormalizedStatement, provider: string, who: string): PolicyFinding | undefined {
  // Condition keys are case-insensitive; the provider keeps its spelling for the message.
  const host = provider.toLowerCase();
  // A positive condition on the subject confines the role even when it is only checked if present: GitHub always sends sub.
  const positive = conditionEntries(statement).filter((entry) => !NEGATED_OPERATOR.test(entry.operator));
  const others = restrictingConditions(statement).filter((entry) => !entry.key.toLowerCase().startsWith(`${host}:`));

  if (host === GITHUB_OIDC_HOST) {
    const sub = positive.filter((entry) => keyIs(entry, `${host}:sub`));
    if (sub.length === 0) {
      return finding(
        'web-identity-no-sub',
        'critical',
        statement,
        `${who} trusts GitHub Actions OIDC without a condition on ${host}:sub, so a workflow in any GitHub repository can assume the role.`,
        others,
      );
    }
    if (sub.some(isBroadGithubSub)) {
      return finding(
        'web-identity-no-sub',
        'high',
        statement,
        `${who} trusts GitHub Actions OIDC with a ${host}:sub condition that matches any repository owner (${listNames(sub.flatMap((e) => e.values))}).`,
        others,
      );
    }
    return undefined;
  }

  // Tokens for AWS carry aud sts.amazonaws.com whatever the workload, so that audience confines nothing.
  const meaningful = positive.filter(
    (entry) =>
      (keyIs(entry, `${host}:sub`) || (keyIs(entry, `${host}:aud`) && entry.values.some((value) => value.toLowerCase() !== 'sts.amazonaws.com'))) &&
      !(/Like$/i.test(entry.operator) && entry.values.every((value) => WILDCARD_VALUE.test(value))),
  );
  if (meaningful.length > 0) return undefined;
  return finding(
    'web-identity-no-sub',
    'high',
    statement,
    `${who} trusts the web identity provider ${provider} without a condition on ${provider}:sub or a specific ${provider}:aud, so any identity it issues can assume the role.`,
    others,
  );
}

function analyzeTrustStatement(statement: NormalizedStatement, trusted: ReadonlySet<string>): PolicyFinding[] {
  if (grantsNothing(statement)) return [];
  const who = describeStatement(statement);
  const conditions = restrictingConditions(statement);
  const findings: PolicyFinding[] = [];

  if (isPublicPrincipal(statement)) {
    const scoping = conditions.filter((entry) => PRINCIPAL_SCOPING_KEYS.has(entry.key.toLowerCase()));
    findings.push(
      finding('public-trust', 'critical', statement, `${who} lets any AWS principal in any account assume the role.`, scoping),
    );
  }

  const principal = statement.principal;
  if (principal === undefined || principal === '*') return findings;

  const external = [
    ...new Set(
      (principal.AWS ?? [])
        .map((aws) => ({ aws, account: principalAccount(aws) }))
        .filter((p): p is { aws: string; account: string } => p.account !== undefined && p.account !== '*' && !trusted.has(p.account))
        .map((p) => p.account),
    ),
  ];
  const externalId = conditions.filter((entry) => keyIs(entry, 'sts:externalid'));
  if (external.length > 0 && externalId.length === 0) {
    findings.push(
      finding(
        'untrusted-account',
        'high',
        statement,
        `${who} lets ${external.length === 1 ? 'account' : 'accounts'} ${listNames(external)} assume the role without an sts:ExternalId condition, and ${external.length === 1 ? 'it is' : 'they are'} not among the trusted accounts.`,
        conditions,
      ),
    );
  }

  if (coversAction(statement, ASSUME_ROLE_WITH_WEB_IDENTITY)) {
    const providers = new Map<string, string>();
    for (const federated of principal.Federated ?? []) {
      const provider = webIdentityHost(federated);
      if (provider !== undefined && !providers.has(provider.toLowerCase())) providers.set(provider.toLowerCase(), provider);
    }
    for (const provider of providers.values()) {
      const webIdentity = analyzeWebIdentity(statement, provider, who);
      if (webIdentity) findings.push(webIdentity);
    }
  }
  return findings;
}

/**
 * Analyzes a role's trust policy (AssumeRolePolicyDocument). Every statement
 * must have Principal or NotPrincipal, as IAM requires.
 */
export function analyzeTrustPolicy(document: string | object, options: TrustAnalysisOptions): PolicyAnalysis {
  const parsed = parsePolicyDocument(document, options);
  if (!parsed.ok) return parsed;
  const statements = [...parsed.document.statements];
  const missing = statements.find((statement) => statement.principal === undefined && statement.notPrincipal === undefined);
  if (missing) return { ok: false, error: `${describeStatement(missing)} has neither Principal nor NotPrincipal, which a trust policy requires.` };

  const trusted = new Set([...(options.trustedAccounts ?? []), ...(options.ownAccount !== undefined ? [options.ownAccount] : [])]);
  const findings = statements
    .filter((statement) => statement.effect === 'Allow')
    .flatMap((statement) => analyzeTrustStatement(statement, trusted));
  return { ok: true, findings: byStatement(findings), statements };
}
