/**
 * What the IAM rules share: reading the changed identity and policy from an
 * IAM CloudTrail record, and turning analyzer findings into verdict findings
 * that show the offending statement. The identity's looked-up facts and the
 * two reasons a change to it is left alone are in `identity.ts`.
 */
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import {
  parsePolicyDocument,
  type NormalizedStatement,
  type PolicyFinding,
} from '../../engine/policy/analyzer.js';
import { SEVERITIES, severityRank, type Fact, type Finding, type Severity, type Verdict } from '../../engine/types.js';

/** Findings below this severity are reported in the summary but not acted on. */
export const MinSeveritySchema = z._default(z.enum(SEVERITIES), 'high');

export type IdentityKind = 'role' | 'user' | 'group';

/** The request key CloudTrail uses, and the API noun (`GetRolePolicy`) that evidence names, of each identity kind. */
export const IDENTITY_KINDS = {
  role: { requestKey: 'roleName', api: 'Role' },
  user: { requestKey: 'userName', api: 'User' },
  group: { requestKey: 'groupName', api: 'Group' },
} as const satisfies Record<IdentityKind, { requestKey: string; api: string }>;

export interface Identity {
  readonly kind: IdentityKind;
  readonly name: string;
}

/** The role, user or group a Put…/Attach…/CreateRole/UpdateAssumeRolePolicy call changed. */
export function identityOf(event: CloudTrailEvent): Identity | undefined {
  const params = event.detail.requestParameters;
  for (const kind of ['role', 'user', 'group'] as const) {
    const name = stringField(params, IDENTITY_KINDS[kind].requestKey);
    if (name !== undefined && name.length > 0) return { kind, name };
  }
  return undefined;
}

/** `role app-role`, as summaries and resources name an identity. */
export function identityLabel(identity: Identity): string {
  return `${identity.kind} ${identity.name}`;
}

const PARTITION = /^arn:(aws[a-z-]*):/;

/**
 * The partition (`aws`, `aws-cn`, `aws-us-gov`) from any ARN the record
 * carries; `aws` when none says. Not the kit's `partitionOf`: this one reads
 * the changed role's or policy's own ARN before the caller's, and falls back
 * to `aws` rather than to the Region, which is what the IAM plans were built on.
 */
export function partitionOf(event: CloudTrailEvent): string {
  const candidates = [
    stringField(event.detail.responseElements, 'role', 'arn'),
    stringField(event.detail.requestParameters, 'policyArn'),
    event.detail.userIdentity?.arn,
    event.detail.userIdentity?.sessionContext?.sessionIssuer?.arn,
  ];
  for (const arn of candidates) {
    const match = typeof arn === 'string' ? PARTITION.exec(arn) : null;
    if (match?.[1]) return match[1];
  }
  return 'aws';
}

/** The policy's name from its ARN: `arn:aws:iam::111122223333:policy/team/DataScience` → `team/DataScience`. */
export function policyNameOf(policyArn: string): string {
  return /:policy\/(.+)$/.exec(policyArn)?.[1] ?? policyArn;
}

/** IAM's own outputs (GetRolePolicy, GetPolicyVersion, GetRole) URL-encode policy documents. */
export function decodeSdkDocument(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    // Not percent-encoded after all: the analyzer reads it as it is.
    return value;
  }
}

/**
 * The document as compact JSON text, for undo and proposed steps: the
 * caller's content exactly, without the whitespace between tokens (IAM's
 * quotas do not count it, so a padded document stays within them, and a
 * plan never carries the padding), decoded when an export URL-encoded it.
 * An unreadable document is kept as it came.
 */
export function compactDocument(document: string | object): string {
  const parsed = parsePolicyDocument(document, { maxPolicyCharacters: Number.MAX_SAFE_INTEGER });
  if (parsed.ok) return parsed.json;
  return typeof document === 'string' ? document : JSON.stringify(document);
}

/** Whether two policy documents say the same thing, whatever their whitespace, encoding or form (JSON text or object). */
export function sameDocument(a: unknown, b: unknown): boolean {
  const options = { maxPolicyCharacters: Number.MAX_SAFE_INTEGER };
  const left = parsePolicyDocument(a, options);
  const right = parsePolicyDocument(b, options);
  if (!left.ok || !right.ok) return a === b;
  return JSON.stringify(left.document) === JSON.stringify(right.document);
}

/**
 * CloudTrail's mark on a value it cut: "If a field is truncated, omitted is
 * present with a value of true" (CloudTrail record contents). A policy padded
 * past CloudTrail's size limit comes as
 * `requestParameters: {reason: 'requestParameters too large', omitted: true, originalSize: 131059}`,
 * and exports flatten `true` to `"true"`. The description, or `undefined`
 * when the value is not such a mark.
 */
export function omission(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const omitted = (value as Record<string, unknown>)['omitted'];
  if (omitted !== true && omitted !== 'true') return undefined;
  const reason = stringField(value, 'reason');
  const size = Number(field(value, 'originalSize'));
  const details = [reason, Number.isFinite(size) && size > 0 ? `originally ${size.toLocaleString('en-US')} characters` : undefined].filter((part) => part !== undefined);
  return `CloudTrail omitted it${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

/** What the record holds of a policy document: the document (JSON text or object), a mark that CloudTrail cut it, or nothing. */
export type RecordedDocument =
  | { readonly kind: 'document'; readonly value: string | object }
  | { readonly kind: 'omitted'; readonly why: string }
  | { readonly kind: 'absent' };

/** The document under `key` of a request or response, as JSON text or as an object (exports parse it). */
export function recordedDocument(container: unknown, key: string): RecordedDocument {
  const why = omission(container);
  if (why !== undefined) return { kind: 'omitted', why };
  const value = field(container, key);
  if (typeof value === 'string') return { kind: 'document', value };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'absent' };
  const cut = omission(value);
  return cut !== undefined ? { kind: 'omitted', why: cut } : { kind: 'document', value };
}

/** Why the request parameters are not in the record (CloudTrail cut them), if they are not. */
export function requestOmitted(event: CloudTrailEvent): string | undefined {
  return omission(event.detail.requestParameters);
}

/**
 * A high-severity "could not inspect": the document the event set is not in
 * the record, so nobody knows what it grants. Padding a policy past
 * CloudTrail's size limit is a known way to hide exactly such a change.
 */
export function uninspectedDocument(what: string, why: string, resources?: readonly string[]): Verdict {
  return {
    kind: 'skipped',
    severity: 'high',
    reason: `${what} could not be inspected: ${why}. What it grants is unknown: a person must read it in IAM (a document padded past CloudTrail's size limit is a known way to hide a change)`,
    ...(resources !== undefined && { resources }),
  };
}

function oneOrMany(values: readonly string[]): string | string[] {
  return values.length === 1 && values[0] !== undefined ? values[0] : [...values];
}

function mapValues<T, U>(record: Readonly<Record<string, T>>, map: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}

/** A normalised statement back in IAM's JSON form (single values unwrapped), for messages and proposed documents. */
export function statementJson(statement: NormalizedStatement): Record<string, unknown> {
  const principal = (value: NormalizedStatement['principal']) =>
    value === '*' ? '*' : mapValues(value as Readonly<Record<string, readonly string[]>>, oneOrMany);
  return {
    ...(statement.sid !== undefined && { Sid: statement.sid }),
    Effect: statement.effect,
    ...(statement.principal !== undefined && { Principal: principal(statement.principal) }),
    ...(statement.notPrincipal !== undefined && { NotPrincipal: principal(statement.notPrincipal) }),
    ...(statement.actions !== undefined && { Action: oneOrMany(statement.actions) }),
    ...(statement.notActions !== undefined && { NotAction: oneOrMany(statement.notActions) }),
    ...(statement.resources !== undefined && { Resource: oneOrMany(statement.resources) }),
    ...(statement.notResources !== undefined && { NotResource: oneOrMany(statement.notResources) }),
    ...(statement.condition !== undefined && { Condition: mapValues(statement.condition, (keys) => mapValues(keys, oneOrMany)) }),
  };
}

const MAX_STATEMENT_IN_MESSAGE = 600;

function statementText(statement: NormalizedStatement | undefined): string {
  if (!statement) return '';
  const text = JSON.stringify(statementJson(statement));
  return text.length <= MAX_STATEMENT_IN_MESSAGE ? text : `${text.slice(0, MAX_STATEMENT_IN_MESSAGE - 1)}…`;
}

/** `Statement 0 ("AllowAll")`. */
function statementLabel(finding: Pick<PolicyFinding, 'statementIndex' | 'sid'>): string {
  return `Statement ${finding.statementIndex}${finding.sid !== undefined ? ` ("${finding.sid}")` : ''}`;
}

/**
 * Analyzer findings as verdict findings: the message explains the finding, says
 * why a condition lowered it, and shows the offending statement, so the alert
 * carries everything a person needs to judge it.
 */
export function verdictFindings(findings: readonly PolicyFinding[], statements: readonly NormalizedStatement[], where: string): Finding[] {
  return findings.map((finding) => ({
    code: finding.code,
    severity: finding.severity,
    message: [finding.message, finding.conditionNote, `Offending statement: ${statementText(statements[finding.statementIndex])}`]
      .filter((part) => part !== undefined)
      .join(' '),
    subject: `${where}, ${statementLabel(finding)}`,
  }));
}

function atLeast(severity: Severity, minimum: Severity): boolean {
  return severityRank(severity) >= severityRank(minimum);
}

/** The findings the rule acts on, and those below its threshold (mentioned, not acted on). */
export function splitBySeverity<T extends { readonly severity: Severity }>(findings: readonly T[], minimum: Severity): { acted: T[]; below: T[] } {
  return {
    acted: findings.filter((finding) => atLeast(finding.severity, minimum)),
    below: findings.filter((finding) => !atLeast(finding.severity, minimum)),
  };
}

/** `full-admin (critical) in Statement 0 ("AllowAll") (+2 more findings)`. */
export function describeFindings(findings: readonly Finding[]): string {
  const [first] = findings;
  if (!first) return 'no finding';
  const where = first.subject?.split(', ').slice(1).join(', ');
  const more = findings.length > 1 ? ` (+${findings.length - 1} more finding${findings.length > 2 ? 's' : ''})` : '';
  return `${first.code} (${first.severity})${where ? ` in ${where}` : ''}${more}`;
}

/** A note for compliant summaries: what the analyzer found below the threshold. */
export function belowNote(below: readonly PolicyFinding[], minimum: Severity): string {
  if (below.length === 0) return '';
  const listed = below.map((finding) => `${finding.code} (${finding.severity}) in ${statementLabel(finding)}`).join(', ');
  return `; below the ${minimum} threshold: ${listed}`;
}

/** Why a lookup's fact does not hold what the rule needs, for summaries. */
export function factGap(fact: Fact | undefined, lookupName: string): string {
  if (!fact) return `${lookupName} was not looked up`;
  if (fact.status === 'unavailable') return fact.reason;
  return fact.value === null ? `${lookupName} found no such entity` : `${lookupName} returned no document`;
}

const ROLE_ARN = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;

/**
 * Whether the role named `roleName` in `account` is one of the bot's roles
 * (`BOT_PRINCIPALS`, exact ARNs), for reads that name a role without its path
 * (ListEntitiesForPolicy). Role names are unique in an account whatever their
 * path, and case-insensitively (IAM and AWS STS quotas, name requirements), so
 * the account and the name designate exactly one role: the ARN's own.
 */
export function isBotRoleName(account: string, roleName: string, botRoles: readonly string[]): boolean {
  return botRoles.some((arn) => {
    const match = ROLE_ARN.exec(arn);
    return match !== null && match[1] === account && match[2]?.toLowerCase() === roleName.toLowerCase();
  });
}
