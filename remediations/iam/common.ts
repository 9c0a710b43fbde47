/**
 * What the IAM rules share: reading the changed identity and policy from an
 * IAM CloudTrail record, turning analyzer findings into verdict findings that
 * show the offending statement, and the two reasons a change is left alone
 * (the bot's own role, the exemption tag).
 */
import * as z from 'zod/mini';
import { isBotRole } from '../../engine/decide.js';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, type Tags } from '../../engine/exemption.js';
import {
  parsePolicyDocument,
  severityRank,
  type NormalizedStatement,
  type PolicyFinding,
} from '../../engine/policy/analyzer.js';
import { SEVERITIES, type Fact, type Facts, type Finding, type RuleContext, type Severity } from '../../engine/types.js';

/** IAM error codes for "no such role, user, group, policy or attachment". Real responses carry `Code: NoSuchEntity`; the SDK class is named `NoSuchEntityException`. */
export const NO_SUCH_ENTITY = ['NoSuchEntity', 'NoSuchEntityException'] as const;

/**
 * The account's IAM entities of one type, any path: the resource the IAM
 * family's plans and lookups are granted on. AWS managed policies
 * (`arn:aws:iam::aws:policy/…`) are outside it.
 */
export function accountEntities(type: 'role' | 'user' | 'group' | 'policy'): string {
  return `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:${type}/*`;
}

/** Findings below this severity are reported in the summary but not acted on. */
export const MinSeveritySchema = z._default(z.enum(SEVERITIES), 'high');

export type IdentityKind = 'role' | 'user' | 'group';

/** The request key CloudTrail uses, the SDK input key, and the API noun (`DeleteRolePolicy`) of each identity kind. */
export const IDENTITY_KINDS = {
  role: { requestKey: 'roleName', inputKey: 'RoleName', api: 'Role' },
  user: { requestKey: 'userName', inputKey: 'UserName', api: 'User' },
  group: { requestKey: 'groupName', inputKey: 'GroupName', api: 'Group' },
} as const satisfies Record<IdentityKind, { requestKey: string; inputKey: string; api: string }>;

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

/** `{ RoleName: 'app-role' }`: the identity's part of an SDK input. */
export function identityInput(identity: Identity): Record<string, string> {
  return { [IDENTITY_KINDS[identity.kind].inputKey]: identity.name };
}

const PARTITION = /^arn:(aws[a-z-]*):/;

/** The partition (`aws`, `aws-cn`, `aws-us-gov`) from any ARN the record carries; `aws` when none says. */
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

/** The account whose IAM changed: EventBridge's `account`, which is the recipient account. */
export function accountOf(event: CloudTrailEvent): string {
  return event.detail.recipientAccountId ?? event.account;
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
 * The document as IAM accepts it back (for undo and proposed steps): plain
 * JSON text as the caller wrote it, decoded when an export URL-encoded it.
 */
export function plainDocument(text: string): string {
  const parses = (candidate: string): boolean => {
    try {
      JSON.parse(candidate);
      return true;
    } catch {
      return false;
    }
  };
  if (parses(text)) return text;
  const decoded = decodeSdkDocument(text);
  return decoded !== undefined && parses(decoded) ? decoded : text;
}

/** Whether two policy documents say the same thing, whatever their whitespace or encoding. */
export function sameDocument(a: string, b: string): boolean {
  const options = { maxPolicyCharacters: Number.MAX_SAFE_INTEGER };
  const left = parsePolicyDocument(a, options);
  const right = parsePolicyDocument(b, options);
  if (!left.ok || !right.ok) return a === b;
  return JSON.stringify(left.document) === JSON.stringify(right.document);
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
export function statementLabel(finding: Pick<PolicyFinding, 'statementIndex' | 'sid'>): string {
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

export function atLeast(severity: Severity, minimum: Severity): boolean {
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

/** The facts' value when the lookup answered, `null` when the entity is gone, `undefined` when unknown. */
export function factValue(fact: Fact | undefined): unknown {
  return fact?.status === 'ok' ? fact.value : undefined;
}

/** Why a lookup's fact does not hold what the rule needs, for summaries. */
export function factGap(fact: Fact | undefined, lookupName: string): string {
  if (!fact) return `${lookupName} was not looked up`;
  if (fact.status === 'unavailable') return fact.reason;
  return fact.value === null ? `${lookupName} found no such entity` : `${lookupName} returned no document`;
}

/** The identity's looked-up details: `{arn, tags}` from GetRole or GetUser. */
export interface IdentityFact {
  readonly arn?: string;
  readonly path?: string;
  readonly tags: Tags;
  readonly trustPolicy?: string;
}

/** Lookup names of the identity facts (see `lookups.ts`). */
export const IDENTITY_FACT = { role: 'role', user: 'user' } as const;

export function identityFact(identity: Identity, facts: Facts): Fact | undefined {
  return identity.kind === 'group' ? undefined : facts[IDENTITY_FACT[identity.kind]];
}

/**
 * The identity's ARN: from the lookup (it carries the path), else from
 * CreateRole's response, else composed with the path the request named (`/`
 * when it named none, which is then a guess).
 */
export function identityArn(event: CloudTrailEvent, identity: Identity, facts: Facts): string {
  const fromFact = field(factValue(identityFact(identity, facts)), 'arn');
  if (typeof fromFact === 'string') return fromFact;
  const fromResponse = stringField(event.detail.responseElements, identity.kind, 'arn');
  if (fromResponse !== undefined) return fromResponse;
  const path = stringField(event.detail.requestParameters, 'path') ?? '/';
  return `arn:${partitionOf(event)}:iam::${accountOf(event)}:${identity.kind}${path}${identity.name}`;
}

/**
 * Why the bot refuses to remediate this identity: it is exactly one of the
 * bot's own roles (`BOT_PRINCIPALS`, exact ARNs). A person is alerted instead,
 * because a change to the bot's own role deserves one.
 */
export function botOwnReason(event: CloudTrailEvent, identity: Identity, facts: Facts, context: RuleContext): string | undefined {
  if (identity.kind !== 'role') return undefined;
  const arn = identityArn(event, identity, facts);
  return isBotRole(arn, context.botRoles ?? [])
    ? `${arn} is one of the bot's own roles: the bot never remediates itself, so a person must review this change`
    : undefined;
}

/** CreateRole and CreateUser requests carry their tags as `[{key, value}]`. */
function requestTags(event: CloudTrailEvent): Tags {
  const list = field(event.detail.requestParameters, 'tags');
  if (!Array.isArray(list)) return {};
  const tags: Record<string, string> = {};
  for (const tag of list) {
    const key = field(tag, 'key') ?? field(tag, 'Key');
    const value = field(tag, 'value') ?? field(tag, 'Value');
    if (typeof key === 'string') tags[key] = typeof value === 'string' ? value : '';
  }
  return tags;
}

/** Exemption by the identity's tag (roles and users; groups have no tags). */
export function identityExemption(event: CloudTrailEvent, identity: Identity, facts: Facts, context: RuleContext): string | undefined {
  if (identity.kind === 'group') return undefined;
  // The identity's current tags when IAM answered; else the tags a CreateRole request set (offline replay).
  const tags = tagsFromFact(identityFact(identity, facts)) ?? requestTags(event);
  const reason = exemptionReason(tags, context.config);
  return reason ? `${identityLabel(identity)} is ${reason}` : undefined;
}

/** The identity no longer exists (the lookup answered "no such entity"). */
export function identityGone(identity: Identity, facts: Facts): boolean {
  const fact = identityFact(identity, facts);
  return fact?.status === 'ok' && fact.value === null;
}
