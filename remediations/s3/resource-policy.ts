/**
 * Public grants in resource policies (S3 bucket policies, KMS key policies),
 * on top of the IAM policy analyzer. The analyzer's trust analysis finds the
 * Allow statements whose principal is anyone: `*`, `{"AWS": "*"}`, an account
 * wildcard (`arn:aws:iam::*:root`) or `NotPrincipal`. This module then decides
 * whether a statement's condition confines it to known callers, using the
 * condition keys the service documents for that (for S3, the keys of "the
 * meaning of public" in the Block Public Access documentation).
 *
 * A condition confines only when it requires a fixed value: a positive
 * operator (no `Not…`, no `…IfExists`, no `ForAllValues:`, no `Null`), values
 * without wildcards or policy variables, and for `aws:SourceIp` ranges no
 * wider than a /8 (IPv6 /32) of public address space.
 *
 * Shared by the s3 and kms families (the kms rule imports it from here).
 */
import { createHash } from 'node:crypto';
import { opensToInternet, parseCidr } from '../../engine/cidr.js';
import { analyzeTrustPolicy, parsePolicyDocument, type NormalizedCondition, type NormalizedPrincipal, type NormalizedStatement } from '../../engine/policy/analyzer.js';
import type { Finding, Severity } from '../../engine/types.js';

/** S3: the condition keys that make a bucket policy statement non-public when they require a fixed value. */
export const S3_CONFINING_KEYS: ReadonlySet<string> = new Set([
  'aws:sourceip',
  'aws:sourcearn',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceowner',
  'aws:sourceaccount',
  'aws:sourceorgid',
  'aws:sourceorgpaths',
  'aws:userid',
  'aws:principalarn',
  'aws:principalaccount',
  'aws:principalorgid',
  'aws:principalorgpaths',
  's3:x-amz-server-side-encryption-aws-kms-key-id',
  's3:dataaccesspointarn',
  's3:dataaccesspointaccount',
]);

/** KMS: `kms:CallerAccount` (the pattern of AWS managed key policies) and the global keys that confine callers. */
export const KMS_CONFINING_KEYS: ReadonlySet<string> = new Set([
  'kms:calleraccount',
  'aws:principalarn',
  'aws:principalaccount',
  'aws:principalorgid',
  'aws:principalorgpaths',
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceip',
  'aws:userid',
]);

const INTERNET = { ipv4MinPrefix: 8, ipv6MinPrefix: 32 } as const;

interface PublicStatement {
  readonly statement: NormalizedStatement;
  /** The confining condition keys, empty when nothing confines the statement. */
  readonly confinedBy: readonly string[];
}

type PublicGrantAnalysis =
  | { readonly ok: true; readonly statements: readonly NormalizedStatement[]; readonly open: readonly PublicStatement[]; readonly confined: readonly PublicStatement[] }
  | { readonly ok: false; readonly error: string };

function isFixed(value: string): boolean {
  return value.length > 0 && !/[*?]/.test(value) && !value.includes('${');
}

function confines(operator: string, key: string, values: readonly string[], keys: ReadonlySet<string>): boolean {
  const name = key.toLowerCase();
  if (!keys.has(name)) return false;
  if (/IfExists$/i.test(operator) || /^ForAllValues:/i.test(operator)) return false;
  const bare = operator.replace(/^ForAnyValue:/i, '');
  if (/Not/.test(bare) || /^(Null|Bool)$/i.test(bare)) return false;
  if (values.length === 0 || !values.every(isFixed)) return false;
  if (name === 'aws:sourceip') {
    return values.every((value) => {
      const cidr = parseCidr(value);
      return cidr !== undefined && !opensToInternet(cidr, INTERNET);
    });
  }
  return true;
}

function confiningKeys(statement: NormalizedStatement, keys: ReadonlySet<string>): string[] {
  return Object.entries(statement.condition ?? {}).flatMap(([operator, entries]) =>
    Object.entries(entries)
      .filter(([key, values]) => confines(operator, key, values, keys))
      .map(([key]) => key),
  );
}

/** The public Allow statements of a resource policy, split into open ones and ones a condition confines. */
export function publicGrants(document: string | object, options: { readonly confiningKeys: ReadonlySet<string>; readonly maxPolicyCharacters: number }): PublicGrantAnalysis {
  const analysis = analyzeTrustPolicy(document, { trustedAccounts: [], maxPolicyCharacters: options.maxPolicyCharacters });
  if (!analysis.ok) return analysis;
  const publicIndexes = new Set(analysis.findings.filter((finding) => finding.code === 'public-trust').map((finding) => finding.statementIndex));
  const found = analysis.statements
    .filter((statement) => publicIndexes.has(statement.index))
    .map((statement) => ({ statement, confinedBy: confiningKeys(statement, options.confiningKeys) }));
  return {
    ok: true,
    statements: analysis.statements,
    open: found.filter((entry) => entry.confinedBy.length === 0),
    confined: found.filter((entry) => entry.confinedBy.length > 0),
  };
}

/** `Statement 0 ("PublicRead")`. */
export function statementLabel(statement: NormalizedStatement): string {
  return statement.sid ? `Statement ${statement.index} ("${statement.sid}")` : `Statement ${statement.index}`;
}

function principalText(statement: NormalizedStatement): string {
  if (statement.notPrincipal !== undefined) return 'everyone except its NotPrincipal';
  if (statement.principal === '*') return 'Principal *';
  const aws = statement.principal?.AWS ?? [];
  return aws.includes('*') ? 'Principal {"AWS": "*"}' : `Principal ${aws.filter((arn) => arn.includes('*')).join(', ')}`;
}

function actionsText(statement: NormalizedStatement): string {
  if (statement.notActions) return `every action except ${statement.notActions.join(', ')}`;
  const actions = statement.actions ?? [];
  return actions.length > 4 ? `${actions.slice(0, 4).join(', ')} and ${actions.length - 4} more` : actions.join(', ');
}

/** One finding per open statement: who, what, and that no condition confines it. */
export function openFindings(open: readonly PublicStatement[], code: string, severity: Severity, what: string): Finding[] {
  return open.map(({ statement }) => ({
    code,
    severity,
    message: `${statementLabel(statement)} of the ${what} allows ${principalText(statement)} to use ${actionsText(statement)}, and no condition confines it to known callers.`,
    subject: statementLabel(statement),
  }));
}

/** `; Statement 2 is public but confined by aws:SourceVpce`. */
export function confinedNote(confined: readonly PublicStatement[]): string {
  if (confined.length === 0) return '';
  return `; ${confined.map(({ statement, confinedBy }) => `${statementLabel(statement)} is public but confined by ${[...new Set(confinedBy)].join(', ')}`).join('; ')}`;
}

/** The document as the caller wrote it (JSON text or object), for rewriting; `undefined` when it is not plain JSON. */
export function rawDocument(document: string | object): Record<string, unknown> | undefined {
  let value: unknown = document;
  if (typeof document === 'string') {
    try {
      value = JSON.parse(document) as unknown;
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function rawStatements(document: Record<string, unknown>): unknown[] {
  const statement = document['Statement'];
  return Array.isArray(statement) ? [...statement] : statement === undefined ? [] : [statement];
}

/**
 * The document without the statements at `drop` (indexes as the analyzer
 * numbers them), as JSON text; every other statement is kept exactly as
 * written. `undefined` when no statement would remain or the document is not plain JSON.
 */
export function documentWithout(document: string | object, drop: ReadonlySet<number>): string | undefined {
  const raw = rawDocument(document);
  if (!raw) return undefined;
  const kept = rawStatements(raw).filter((_, index) => !drop.has(index));
  if (kept.length === 0) return undefined;
  return JSON.stringify({ ...raw, Statement: kept });
}

/** The document with one more statement appended (a new document when there was none), as JSON text. */
export function documentWith(document: string | object | undefined, statement: Readonly<Record<string, unknown>>): string | undefined {
  if (document === undefined) return JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
  const raw = rawDocument(document);
  if (!raw) return undefined;
  return JSON.stringify({ Version: '2012-10-17', ...raw, Statement: [...rawStatements(raw), statement] });
}

/** The document as JSON text, whichever form the record carried it in. */
export function documentText(document: string | object): string {
  return typeof document === 'string' ? document : JSON.stringify(document);
}

/** `111122223333` and `arn:aws:iam::111122223333:root` name the same principal; S3 stores the first as the second. */
function principalName(value: string): string {
  const account = /^\d{12}$/.exec(value)?.[0] ?? /^arn:[^:]+:iam::(\d{12}):root$/.exec(value)?.[1];
  return account === undefined ? value : `account:${account}`;
}

function sortedList(values: readonly string[] | undefined): readonly string[] | null {
  return values === undefined ? null : [...values].sort();
}

function canonicalPrincipal(principal: NormalizedPrincipal | undefined): unknown {
  if (principal === undefined) return null;
  if (principal === '*') return '*';
  return {
    AWS: principal.AWS === undefined ? null : principal.AWS.map(principalName).sort(),
    Service: sortedList(principal.Service),
    Federated: sortedList(principal.Federated),
    CanonicalUser: sortedList(principal.CanonicalUser),
  };
}

function byName<T>(entries: (readonly [string, T])[]): (readonly [string, T])[] {
  return entries.sort(([a], [b]) => a.localeCompare(b));
}

function canonicalCondition(condition: NormalizedCondition | undefined): unknown {
  if (condition === undefined) return null;
  return byName(
    Object.entries(condition).map(([operator, keys]) => [
      operator.toLowerCase(),
      byName(Object.entries(keys).map(([key, values]) => [key.toLowerCase(), [...values].sort()] as const)),
    ] as const),
  );
}

/**
 * A policy document in a form that two equivalent writings share: every
 * string-or-list element a sorted list, condition operators and keys in lower
 * case, account principals as account ids. Statement order and values stay as
 * written. `undefined` when the document cannot be parsed.
 */
export function canonicalPolicy(document: string | object, maxPolicyCharacters: number): string | undefined {
  const parsed = parsePolicyDocument(document, { maxPolicyCharacters });
  if (!parsed.ok) return undefined;
  return JSON.stringify({
    version: parsed.document.version ?? null,
    id: parsed.document.id ?? null,
    statements: parsed.document.statements.map((statement) => ({
      sid: statement.sid ?? null,
      effect: statement.effect,
      actions: sortedList(statement.actions),
      notActions: sortedList(statement.notActions),
      resources: sortedList(statement.resources),
      notResources: sortedList(statement.notResources),
      principal: canonicalPrincipal(statement.principal),
      notPrincipal: canonicalPrincipal(statement.notPrincipal),
      condition: canonicalCondition(statement.condition),
    })),
  });
}

/**
 * `sha256:<hex>` of what a document says (see {@link canonicalPolicy}): lets a
 * check recognise the document later without carrying it in every printed
 * plan. `undefined` when the document cannot be parsed.
 */
export function policyDigest(document: string | object, maxPolicyCharacters: number): string | undefined {
  const canonical = canonicalPolicy(document, maxPolicyCharacters);
  return canonical === undefined ? undefined : `sha256:${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}
