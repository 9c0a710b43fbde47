/**
 * Reading IAM policy documents as CloudTrail records carry them: JSON text with
 * the caller's whitespace, sometimes URL-encoded (`%7B%0A…`), or an object that
 * is already parsed. The result is a normalised document in which every
 * string-or-array element is an array, so the analyzers never branch on shape.
 *
 * Parsing never throws. Oversized, too deeply nested, non-JSON and malformed
 * documents come back as `{ ok: false, error }`.
 */
import * as z from 'zod/mini';
import { formatIssues } from '../issues.js';

/** IAM's documented size quotas, in characters excluding whitespace. */
export const IAM_POLICY_SIZE_LIMITS = {
  managedPolicy: 6_144,
  roleInlinePolicies: 10_240,
  groupInlinePolicies: 5_120,
  userInlinePolicies: 2_048,
  /** The default quota; it can be raised to 4,096. */
  roleTrustPolicy: 2_048,
} as const;

/** The default limit: the largest single IAM identity-policy quota (a role's inline policies). */
const DEFAULT_MAX_POLICY_CHARACTERS = IAM_POLICY_SIZE_LIMITS.roleInlinePolicies;

/**
 * The longest document text accepted, whitespace included: IAM's own limit on
 * a `PolicyDocument` parameter (IAM API reference). A document within IAM's
 * quotas may be padded with whitespace up to this length.
 */
export const MAX_RAW_POLICY_INPUT = 131_072;

/** Percent-encoding (as IAM's outputs use) makes a character up to three: raw input beyond this is refused before any decoding. */
const MAX_ENCODED_POLICY_INPUT = 3 * MAX_RAW_POLICY_INPUT;

/** JSON's whitespace, which IAM's size quotas do not count. */
const JSON_WHITESPACE = /[ \t\n\r]+/g;

/** Deeper nesting than any real policy needs; checked before `JSON.parse` sees the text. */
const MAX_POLICY_NESTING = 64;

export type NormalizedPrincipal =
  | '*'
  | {
      readonly AWS?: readonly string[];
      readonly Service?: readonly string[];
      readonly Federated?: readonly string[];
      readonly CanonicalUser?: readonly string[];
    };

/** Condition operator → condition key → values. Numbers and booleans become strings. */
export type NormalizedCondition = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

export interface NormalizedStatement {
  /** Position in the document's `Statement` list (0 for a single statement object). */
  readonly index: number;
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
  readonly principal?: NormalizedPrincipal;
  readonly notPrincipal?: NormalizedPrincipal;
  readonly condition?: NormalizedCondition;
}

interface PolicyDocument {
  readonly version?: string;
  readonly id?: string;
  readonly statements: readonly NormalizedStatement[];
}

type PolicyParseResult =
  | {
      ok: true;
      document: PolicyDocument;
      /**
       * The document as compact JSON text: the caller's content exactly (values,
       * order, string escapes), without the whitespace between tokens. IAM
       * accepts it back as it is, and it is what undo and proposed steps carry,
       * so padding cannot inflate a plan.
       */
      json: string;
    }
  | { ok: false; error: string };

export interface PolicyParseOptions {
  /**
   * Largest accepted document, in characters excluding whitespace. Defaults to
   * {@link DEFAULT_MAX_POLICY_CHARACTERS}; pass `IAM_POLICY_SIZE_LIMITS.managedPolicy`
   * for a managed policy.
   */
  readonly maxPolicyCharacters?: number;
}

const StringListSchema = z.union([z.string(), z.array(z.string())], {
  error: 'expected a string or an array of strings',
});

const PrincipalSchema = z.union(
  [
    z.literal('*'),
    z.strictObject({
      AWS: z.optional(StringListSchema),
      Service: z.optional(StringListSchema),
      Federated: z.optional(StringListSchema),
      CanonicalUser: z.optional(StringListSchema),
    }),
  ],
  { error: 'expected "*" or an object with AWS, Service, Federated or CanonicalUser' },
);

const ConditionScalarSchema = z.union([z.string(), z.number(), z.boolean()]);
const ConditionSchema = z.record(
  z.string(),
  z.record(
    z.string(),
    z.union([ConditionScalarSchema, z.array(ConditionScalarSchema)], {
      error: 'expected a condition value or an array of condition values',
    }),
  ),
);

const StatementSchema = z.strictObject({
  Sid: z.optional(z.string()),
  Effect: z.enum(['Allow', 'Deny']),
  Action: z.optional(StringListSchema),
  NotAction: z.optional(StringListSchema),
  Resource: z.optional(StringListSchema),
  NotResource: z.optional(StringListSchema),
  Principal: z.optional(PrincipalSchema),
  NotPrincipal: z.optional(PrincipalSchema),
  Condition: z.optional(ConditionSchema),
});
type RawStatement = z.infer<typeof StatementSchema>;

const DOCUMENT_KEYS = new Set(['Version', 'Id', 'Statement']);
const MAX_ERROR_LENGTH = 500;

type Step<T> = { ok: true; value: T } | { ok: false; error: string };

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error: error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH)}…` : error };
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Deepest `{`/`[` nesting outside string literals; stops counting once past `limit`. */
function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (ch === 0x7d || ch === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The texts to try, in order. URL decoding is only a fallback, so a JSON
 * document that merely contains `%41` or `+` in a value is never altered; `+`
 * is read as a space only when plain percent-decoding did not yield JSON.
 */
function* candidateTexts(raw: string): Generator<string> {
  yield raw;
  if (!/%[0-9A-Fa-f]{2}/.test(raw)) return;
  const decoded = safeDecode(raw);
  if (decoded !== undefined) yield decoded;
  if (raw.includes('+')) {
    const formDecoded = safeDecode(raw.replaceAll('+', '%20'));
    if (formDecoded !== undefined) yield formDecoded;
  }
}

function tooLarge(length: number): { ok: false; error: string } {
  return fail(`Policy document is too large: ${formatCount(length)} characters, more than ${formatCount(MAX_RAW_POLICY_INPUT)} (IAM's limit, whitespace included).`);
}

function parseJsonText(raw: string, maxCharacters: number, unwrapString: boolean): Step<unknown> {
  if (raw.length > MAX_ENCODED_POLICY_INPUT) return tooLarge(raw.length);
  if (raw.trim().length === 0) return fail('Policy document is empty.');
  let parsed: { value: unknown; text: string } | undefined;
  let oversized: number | undefined;
  for (const text of candidateTexts(raw)) {
    // The limit applies to the document, not to its percent-encoding: an encoded form may be longer.
    if (text.length > MAX_RAW_POLICY_INPUT) {
      oversized ??= text.length;
      continue;
    }
    if (nestingDepth(text, MAX_POLICY_NESTING) > MAX_POLICY_NESTING) {
      return fail(`Policy document is nested more than ${MAX_POLICY_NESTING} levels deep.`);
    }
    try {
      parsed = { value: JSON.parse(text) as unknown, text };
      break;
    } catch {
      // Not JSON in this form; try the next decoding.
    }
  }
  if (!parsed) return oversized !== undefined ? tooLarge(oversized) : fail('Policy document is not valid JSON (nor URL-encoded JSON).');

  // IAM's quotas count characters excluding whitespace (IAM and AWS STS quotas): padding never makes a document too large.
  const characters = parsed.text.replace(JSON_WHITESPACE, '').length;
  if (characters > maxCharacters) {
    return fail(
      `Policy document is too large: ${formatCount(characters)} characters excluding whitespace, more than IAM's limit of ${formatCount(maxCharacters)}.`,
    );
  }
  // Some exports encode the document twice: a JSON string whose content is the JSON policy.
  if (typeof parsed.value === 'string' && unwrapString) return parseJsonText(parsed.value, maxCharacters, false);
  return { ok: true, value: parsed.value };
}

/**
 * An already-parsed object is walked with a bounded, iterative traversal
 * (cycles exceed the depth bound) and then serialised, so objects and strings
 * go through the very same checks.
 */
function serialiseObject(input: object): Step<string> {
  try {
    const pending: Array<readonly [unknown, number]> = [[input, 1]];
    let seen = 0;
    for (let item = pending.pop(); item; item = pending.pop()) {
      const [value, depth] = item;
      if (typeof value !== 'object' || value === null) continue;
      if (depth > MAX_POLICY_NESTING) return fail(`Policy document is nested more than ${MAX_POLICY_NESTING} levels deep.`);
      const children: readonly unknown[] = Array.isArray(value) ? value : Object.values(value);
      seen += children.length + 1;
      if (seen > MAX_RAW_POLICY_INPUT) return fail('Policy document is too large.');
      for (const child of children) pending.push([child, depth + 1]);
    }
    const text: unknown = JSON.stringify(input);
    if (typeof text !== 'string') return fail('Policy document could not be serialised to JSON.');
    return { ok: true, value: text };
  } catch (error) {
    return fail(`Policy document could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function toList(value: string | readonly string[] | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? [value] : [...value];
}

function normalisePrincipal(principal: RawStatement['Principal']): NormalizedPrincipal | undefined {
  if (principal === undefined || principal === '*') return principal;
  const normalised: { AWS?: readonly string[]; Service?: readonly string[]; Federated?: readonly string[]; CanonicalUser?: readonly string[] } = {};
  if (principal.AWS !== undefined) normalised.AWS = toList(principal.AWS);
  if (principal.Service !== undefined) normalised.Service = toList(principal.Service);
  if (principal.Federated !== undefined) normalised.Federated = toList(principal.Federated);
  if (principal.CanonicalUser !== undefined) normalised.CanonicalUser = toList(principal.CanonicalUser);
  return normalised;
}

function normaliseCondition(condition: RawStatement['Condition']): NormalizedCondition | undefined {
  if (condition === undefined) return undefined;
  const normalised: Record<string, Record<string, readonly string[]>> = {};
  for (const [operator, keys] of Object.entries(condition)) {
    const entries: Record<string, readonly string[]> = {};
    for (const [key, values] of Object.entries(keys)) {
      entries[key] = (Array.isArray(values) ? values : [values]).map(String);
    }
    normalised[operator] = entries;
  }
  return normalised;
}

function normaliseStatement(raw: unknown, index: number): Step<NormalizedStatement> {
  const where = `Statement.${index}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`${where}: expected an object`);
  const result = StatementSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const problems = formatIssues(result.error.issues.map((issue) => ({ ...issue, path: ['Statement', index, ...issue.path] })));
    return fail(`Policy document is malformed: ${problems.join('; ')}`);
  }
  const s = result.data;
  const pairs = [
    ['Action', 'NotAction'],
    ['Resource', 'NotResource'],
    ['Principal', 'NotPrincipal'],
  ] as const;
  for (const [element, notElement] of pairs) {
    if (s[element] !== undefined && s[notElement] !== undefined) {
      return fail(`Policy document is malformed: ${where} has both ${element} and ${notElement}.`);
    }
  }
  if (s.Action === undefined && s.NotAction === undefined) {
    return fail(`Policy document is malformed: ${where} has neither Action nor NotAction.`);
  }
  const statement: NormalizedStatement = {
    index,
    ...(s.Sid !== undefined && { sid: s.Sid }),
    effect: s.Effect,
    ...(s.Action !== undefined && { actions: toList(s.Action) }),
    ...(s.NotAction !== undefined && { notActions: toList(s.NotAction) }),
    ...(s.Resource !== undefined && { resources: toList(s.Resource) }),
    ...(s.NotResource !== undefined && { notResources: toList(s.NotResource) }),
    ...(s.Principal !== undefined && { principal: normalisePrincipal(s.Principal) }),
    ...(s.NotPrincipal !== undefined && { notPrincipal: normalisePrincipal(s.NotPrincipal) }),
    ...(s.Condition !== undefined && { condition: normaliseCondition(s.Condition) }),
  };
  return { ok: true, value: statement };
}

function normaliseDocument(value: unknown): Step<PolicyDocument> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    return fail(`Policy document must be a JSON object, got ${got}.`);
  }
  const record = value as Record<string, unknown>;
  const unknownKeys = Object.keys(record).filter((key) => !DOCUMENT_KEYS.has(key));
  if (unknownKeys.length > 0) {
    return fail(`Policy document is malformed: unknown top-level element(s) ${unknownKeys.map((k) => `"${k}"`).join(', ')}.`);
  }
  const { Version: version, Id: id, Statement: statement } = record;
  if (statement === undefined) return fail('Policy document has no Statement.');
  if (version !== undefined && typeof version !== 'string') return fail('Policy document is malformed: Version must be a string.');
  if (id !== undefined && typeof id !== 'string') return fail('Policy document is malformed: Id must be a string.');
  const rawStatements: readonly unknown[] = Array.isArray(statement) ? statement : [statement];
  if (rawStatements.length === 0) return fail('Policy document has an empty Statement list.');

  const statements: NormalizedStatement[] = [];
  for (const [index, raw] of rawStatements.entries()) {
    const normalised = normaliseStatement(raw, index);
    if (!normalised.ok) return normalised;
    statements.push(normalised.value);
  }
  return { ok: true, value: { ...(version !== undefined && { version }), ...(id !== undefined && { id }), statements } };
}

/**
 * Parses and normalises an IAM policy document. `input` is the JSON text
 * (plain or URL-encoded, any whitespace) or an already-parsed object.
 * Never throws: anything unreadable is `{ ok: false, error }`.
 */
export function parsePolicyDocument(input: unknown, options: PolicyParseOptions = {}): PolicyParseResult {
  const maxCharacters = options.maxPolicyCharacters ?? DEFAULT_MAX_POLICY_CHARACTERS;
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else if (typeof input === 'object' && input !== null) {
    const serialised = serialiseObject(input);
    if (!serialised.ok) return serialised;
    text = serialised.value;
  } else {
    return fail(`Policy document must be a JSON string or an object, got ${input === null ? 'null' : typeof input}.`);
  }
  const parsed = parseJsonText(text, maxCharacters, true);
  if (!parsed.ok) return parsed;
  const normalised = normaliseDocument(parsed.value);
  if (!normalised.ok) return normalised;
  return { ok: true, document: normalised.value, json: JSON.stringify(parsed.value) };
}
