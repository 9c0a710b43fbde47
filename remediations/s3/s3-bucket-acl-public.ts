/**
 * s3-bucket-acl-public: a bucket ACL grants access to everyone (`AllUsers`)
 * or to every AWS account holder (`AuthenticatedUsers`).
 *
 * Triggers: `PutBucketAcl` (`s3.amazonaws.com`) in its three request forms:
 * the full ACL in `AccessControlPolicy.AccessControlList.Grant[]`, a canned
 * `x-amz-acl` (`public-read`, `public-read-write`, `authenticated-read`), or
 * `x-amz-grant-*` headers naming the group URIs.
 *
 * Changes: `PutBucketAcl` with the event's ACL minus the public grants, in the
 * form the event used (`AccessControlPolicy` with its owner, or the grant
 * headers); `ACL: private` for a canned ACL or when no other grant remains.
 * The undo puts the event's ACL back. A `GetBucketAcl` lookup that shows no
 * public grant left makes the step "already done" (no call); one that shows
 * the ACL changed since the event leaves the bucket to that newer event.
 * Never touches: the other grants of the ACL (owner, log delivery, accounts),
 * object ACLs, the bucket policy, buckets carrying the exemption tag.
 * Permissions: `s3:PutBucketAcl` on buckets; lookups `s3:GetBucketTagging` and `s3:GetBucketAcl`.
 */
import { field, type CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Finding, Lookup, PlanStep, Rule, RuleContext, Verdict } from '../../engine/types.js';
import { accountOf, BUCKET_RESOURCE, bucketExemption, bucketInput, bucketOf, bucketTagsLookup, bucketTarget } from './common.js';

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

type GranteeType = 'CanonicalUser' | 'Group' | 'AmazonCustomerByEmail';

export interface AclGrant {
  readonly type: GranteeType;
  readonly id?: string;
  readonly uri?: string;
  readonly email?: string;
  readonly displayName?: string;
  /** READ, WRITE, READ_ACP, WRITE_ACP or FULL_CONTROL. */
  readonly permission: string;
}

export type EventAcl =
  | { readonly form: 'canned'; readonly canned: string }
  | { readonly form: 'policy'; readonly owner?: { readonly ID?: string; readonly DisplayName?: string }; readonly grants: readonly AclGrant[] }
  | { readonly form: 'headers'; readonly grants: readonly AclGrant[] };

/** The grant headers of PutBucketAcl, their SDK input keys and the permission each grants. */
const GRANT_HEADERS = [
  ['x-amz-grant-read', 'GrantRead', 'READ'],
  ['x-amz-grant-write', 'GrantWrite', 'WRITE'],
  ['x-amz-grant-read-acp', 'GrantReadACP', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'GrantWriteACP', 'WRITE_ACP'],
  ['x-amz-grant-full-control', 'GrantFullControl', 'FULL_CONTROL'],
] as const;

/** The groups a canned ACL grants to, beyond the owner. */
const PUBLIC_CANNED: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  'public-read': [[ALL_USERS, 'READ']],
  'public-read-write': [
    [ALL_USERS, 'READ'],
    [ALL_USERS, 'WRITE'],
  ],
  'authenticated-read': [[AUTHENTICATED_USERS, 'READ']],
};

/** A list or a single object: CloudTrail turns a one-element XML list into an object. */
function listOf(value: unknown): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

/** Header values arrive as a string or a one-element list of strings. */
function headerValue(params: unknown, name: string): string | undefined {
  const value = field(params, name);
  const text = Array.isArray(value) ? value.find((item): item is string => typeof item === 'string') : value;
  return typeof text === 'string' && text.trim().length > 0 ? text.trim() : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** `http://acs.amazonaws.com/groups/global/AllUsers`, whatever the scheme or case the caller used. */
function normaliseUri(uri: string): string {
  const lower = uri.trim().toLowerCase().replace(/^https:/, 'http:');
  if (lower === ALL_USERS.toLowerCase()) return ALL_USERS;
  if (lower === AUTHENTICATED_USERS.toLowerCase()) return AUTHENTICATED_USERS;
  return uri.trim();
}

function policyGrant(grant: Record<string, unknown>): AclGrant | undefined {
  const grantee = field(grant, 'Grantee');
  const permission = text(field(grant, 'Permission'));
  if (typeof grantee !== 'object' || grantee === null || permission === undefined) return undefined;
  const g = grantee as Record<string, unknown>;
  const uri = text(g['URI']);
  const id = text(g['ID']);
  const email = text(g['EmailAddress']);
  const declared = text(g['xsi:type']) ?? text(g['Type']);
  const type: GranteeType | undefined = uri ? 'Group' : id ? 'CanonicalUser' : email ? 'AmazonCustomerByEmail' : undefined;
  if (type === undefined) return undefined;
  const displayName = text(g['DisplayName']);
  return {
    type: declared === 'Group' || declared === 'CanonicalUser' || declared === 'AmazonCustomerByEmail' ? declared : type,
    ...(id !== undefined && { id }),
    ...(uri !== undefined && { uri: normaliseUri(uri) }),
    ...(email !== undefined && { email }),
    ...(displayName !== undefined && { displayName }),
    permission,
  };
}

/** `id="…", uri="…", emailAddress="…"`, as the grant headers list grantees. */
function headerGrants(value: string, permission: string): AclGrant[] {
  return value.split(',').flatMap((part): AclGrant[] => {
    const match = /^\s*(id|uri|emailAddress)\s*=\s*"?([^"]*)"?\s*$/i.exec(part);
    if (!match?.[2]) return [];
    const kind = match[1]?.toLowerCase();
    const grantee = match[2];
    if (kind === 'uri') return [{ type: 'Group', uri: normaliseUri(grantee), permission }];
    if (kind === 'id') return [{ type: 'CanonicalUser', id: grantee, permission }];
    return [{ type: 'AmazonCustomerByEmail', email: grantee, permission }];
  });
}

/** The ACL the call set, in whichever of the three forms the request used. */
export function eventAcl(event: CloudTrailEvent): EventAcl | undefined {
  const params = event.detail.requestParameters;
  const policy = field(params, 'AccessControlPolicy');
  if (typeof policy === 'object' && policy !== null) {
    const grants = listOf(field(policy, 'AccessControlList', 'Grant')).map(policyGrant).filter((g): g is AclGrant => g !== undefined);
    const ownerId = text(field(policy, 'Owner', 'ID'));
    const ownerName = text(field(policy, 'Owner', 'DisplayName'));
    const owner = ownerId !== undefined || ownerName !== undefined ? { ...(ownerId !== undefined && { ID: ownerId }), ...(ownerName !== undefined && { DisplayName: ownerName }) } : undefined;
    return { form: 'policy', ...(owner && { owner }), grants };
  }
  const fromHeaders = GRANT_HEADERS.flatMap(([header, , permission]) => {
    const value = headerValue(params, header);
    return value === undefined ? [] : headerGrants(value, permission);
  });
  if (fromHeaders.length > 0) return { form: 'headers', grants: fromHeaders };
  const canned = headerValue(params, 'x-amz-acl');
  return canned !== undefined ? { form: 'canned', canned: canned.toLowerCase() } : undefined;
}

export function isPublicGrant(grant: AclGrant): boolean {
  return grant.uri === ALL_USERS || grant.uri === AUTHENTICATED_USERS;
}

function groupName(uri: string): string {
  return uri === ALL_USERS ? 'AllUsers' : 'AuthenticatedUsers';
}

/** `uri:<group>:READ`: what a grant gives to whom, for comparing an event's ACL with the bucket's. */
function grantKey(grant: Pick<AclGrant, 'id' | 'uri' | 'email' | 'permission'>): string {
  const who = grant.uri !== undefined ? `uri:${grant.uri}` : grant.id !== undefined ? `id:${grant.id}` : `email:${grant.email ?? ''}`;
  return `${who}:${grant.permission}`;
}

/** The public grants of the event's ACL, as `[group URI, permission]`. */
export function publicGrantsOf(acl: EventAcl): (readonly [string, string])[] {
  if (acl.form === 'canned') return [...(PUBLIC_CANNED[acl.canned] ?? [])];
  return acl.grants.filter(isPublicGrant).map((grant) => [grant.uri ?? '', grant.permission] as const);
}

function sdkGrant(grant: AclGrant): Record<string, unknown> {
  return {
    Grantee: {
      Type: grant.type,
      ...(grant.id !== undefined && { ID: grant.id }),
      ...(grant.uri !== undefined && { URI: grant.uri }),
      ...(grant.email !== undefined && { EmailAddress: grant.email }),
      ...(grant.displayName !== undefined && { DisplayName: grant.displayName }),
    },
    Permission: grant.permission,
  };
}

function headerInput(grants: readonly AclGrant[]): Record<string, string> {
  const input: Record<string, string> = {};
  for (const [, key, permission] of GRANT_HEADERS) {
    const values = grants
      .filter((grant) => grant.permission === permission)
      .map((grant) => (grant.uri !== undefined ? `uri="${grant.uri}"` : grant.id !== undefined ? `id="${grant.id}"` : `emailAddress="${grant.email ?? ''}"`));
    if (values.length > 0) input[key] = values.join(', ');
  }
  return input;
}

/** The ACL part of a PutBucketAcl input that sets the kept grants, in the event's form; `private` when none is kept. */
function fixedAclInput(acl: EventAcl, kept: readonly AclGrant[]): Record<string, unknown> {
  if (acl.form === 'canned' || kept.length === 0) return { ACL: 'private' };
  if (acl.form === 'headers') return headerInput(kept);
  return { AccessControlPolicy: { Grants: kept.map(sdkGrant), ...(acl.owner && { Owner: acl.owner }) } };
}

/** The ACL part of a PutBucketAcl input that sets the event's ACL again. */
function eventAclInput(acl: EventAcl): Record<string, unknown> {
  if (acl.form === 'canned') return { ACL: acl.canned };
  if (acl.form === 'headers') return headerInput(acl.grants);
  return { AccessControlPolicy: { Grants: acl.grants.map(sdkGrant), ...(acl.owner && { Owner: acl.owner }) } };
}

/** PutBucketAcl with the public grants removed; its undo puts the event's ACL back. */
export function planRemovePublicGrants(bucket: string, owner: string, acl: EventAcl, alreadyDone?: string): PlanStep {
  const kept = acl.form === 'canned' ? [] : acl.grants.filter((grant) => !isPublicGrant(grant));
  const removed = publicGrantsOf(acl).map(([uri, permission]) => `${groupName(uri)} ${permission}`);
  return {
    service: 's3',
    operation: 'PutBucketAcl',
    input: { ...bucketInput(bucket, owner), ...fixedAclInput(acl, kept) },
    reason:
      kept.length > 0
        ? `Set the ACL of bucket ${bucket} to the event's ACL without its public grants (${removed.join(', ')}); the ${kept.length} other grant${kept.length === 1 ? '' : 's'} stay.`
        : `Set the ACL of bucket ${bucket} to private (owner full control), removing ${removed.join(', ')}.`,
    undo: {
      service: 's3',
      operation: 'PutBucketAcl',
      input: { ...bucketInput(bucket, owner), ...eventAclInput(acl) },
      reason: `Put the ACL of bucket ${bucket} back exactly as the event set it, public grants included.`,
    },
    alreadyDoneCodes: ['NoSuchBucket'],
    ...(alreadyDone !== undefined && { alreadyDone }),
  };
}

interface CurrentGrant {
  readonly id?: string;
  readonly uri?: string;
  readonly email?: string;
  readonly permission: string;
}

/** GetBucketAcl: the bucket's grants now, `{grants}`. */
const bucketAclLookup: Lookup = {
  name: 'bucketAcl',
  service: 's3',
  operation: 'GetBucketAcl',
  permission: 's3:GetBucketAcl',
  resource: BUCKET_RESOURCE,
  input: (event) => {
    const bucket = bucketOf(event);
    const owner = accountOf(event);
    return bucket !== undefined && owner !== undefined ? bucketInput(bucket, owner) : undefined;
  },
  select: (output) => ({
    grants: listOf(field(output, 'Grants')).flatMap((grant): CurrentGrant[] => {
      const permission = text(field(grant, 'Permission'));
      if (permission === undefined) return [];
      const id = text(field(grant, 'Grantee', 'ID'));
      const uri = text(field(grant, 'Grantee', 'URI'));
      const email = text(field(grant, 'Grantee', 'EmailAddress'));
      return [{ ...(id !== undefined && { id }), ...(uri !== undefined && { uri: normaliseUri(uri) }), ...(email !== undefined && { email }), permission }];
    }),
  }),
  notFoundCodes: ['NoSuchBucket'],
};

type AclState = { readonly kind: 'unknown' } | { readonly kind: 'gone' } | { readonly kind: 'fixed' } | { readonly kind: 'changed' } | { readonly kind: 'as-event' };

function setOf(keys: readonly string[]): string {
  return [...new Set(keys)].sort().join('\n');
}

/**
 * How the bucket's ACL now compares with the event's. The whole ACL is
 * compared when the event listed it in full without e-mail grantees (S3 stores
 * those as canonical ids); otherwise only the public grants.
 */
function aclState(acl: EventAcl, facts: Facts): AclState {
  const fact = facts[bucketAclLookup.name];
  if (!fact || fact.status !== 'ok') return { kind: 'unknown' };
  if (fact.value === null) return { kind: 'gone' };
  const current = (field(fact.value, 'grants') ?? []) as CurrentGrant[];
  const currentPublic = current.filter((grant) => grant.uri === ALL_USERS || grant.uri === AUTHENTICATED_USERS).map(grantKey);
  if (currentPublic.length === 0) return { kind: 'fixed' };
  const eventPublic = publicGrantsOf(acl).map(([uri, permission]) => grantKey({ uri, permission }));
  if (setOf(currentPublic) !== setOf(eventPublic)) return { kind: 'changed' };
  if (acl.form === 'policy' && acl.grants.every((grant) => grant.email === undefined) && setOf(current.map(grantKey)) !== setOf(acl.grants.map(grantKey))) {
    return { kind: 'changed' };
  }
  return { kind: 'as-event' };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const target = bucketTarget(event);
  if ('skip' in target) return target.skip;
  const { bucket, owner, resources } = target;
  const acl = eventAcl(event);
  if (acl === undefined) return { kind: 'skipped', reason: `the event carries no ACL for bucket ${bucket}`, resources };

  const granted = publicGrantsOf(acl);
  if (granted.length === 0) {
    const what = acl.form === 'canned' ? `canned ACL ${acl.canned}` : `${acl.grants.length} grant${acl.grants.length === 1 ? '' : 's'}`;
    return { kind: 'compliant', summary: `bucket ${bucket}: the ACL (${what}) grants nothing to AllUsers or AuthenticatedUsers`, resources };
  }

  const state = aclState(acl, facts);
  if (state.kind === 'gone') return { kind: 'skipped', reason: `bucket ${bucket} no longer exists`, resources };
  if (state.kind === 'changed') {
    return { kind: 'skipped', reason: `the ACL of bucket ${bucket} has changed since this event; its newer ACL is judged by its own event`, resources };
  }
  const exempt = bucketExemption(bucket, facts, context.config);
  if (exempt) return { kind: 'exempt', reason: exempt, resources };

  const findings: Finding[] = granted.map(([uri, permission]) => ({
    code: uri === ALL_USERS ? 'acl-all-users' : 'acl-authenticated-users',
    severity: uri === ALL_USERS || permission !== 'READ' ? 'critical' : 'high',
    message:
      uri === ALL_USERS
        ? `The ACL of bucket ${bucket} grants ${permission} to AllUsers: anyone on the internet, without signing in.`
        : `The ACL of bucket ${bucket} grants ${permission} to AuthenticatedUsers: any AWS account in the world, not only yours.`,
    subject: `${groupName(uri)} ${permission}${acl.form === 'canned' ? ` (canned ${acl.canned})` : ''}`,
  }));
  const alreadyDone = state.kind === 'fixed' ? 'GetBucketAcl: the bucket ACL no longer grants anything to AllUsers or AuthenticatedUsers' : undefined;
  return {
    kind: 'violation',
    summary: `bucket ${bucket}: the ACL grants ${findings.map((f) => f.subject).join(', ')}`,
    resources,
    findings,
    plan: [planRemovePublicGrants(bucket, owner, acl, alreadyDone)],
  };
}

export const s3BucketAclPublic = {
  id: 's3-bucket-acl-public',
  title: 'S3 bucket ACL grants public access',
  severity: 'critical',
  rationale:
    'An ACL grant to AllUsers publishes the bucket to anyone on the internet, and one to AuthenticatedUsers to every AWS account in the world; either exposes training data, model artifacts or credentials kept in the bucket.',
  family: 's3',
  triggers: [{ eventSource: 's3.amazonaws.com', eventNames: ['PutBucketAcl'] }],
  permissions: [{ action: 's3:PutBucketAcl', resource: BUCKET_RESOURCE }],
  lookups: [bucketTagsLookup, bucketAclLookup],
  docs: {
    changes:
      "PutBucketAcl with the event's ACL minus the AllUsers and AuthenticatedUsers grants, in the event's own form (AccessControlPolicy with its owner, or the grant headers), or ACL private for a canned public ACL or when nothing else remains; the undo puts the event's ACL back.",
    neverTouches: 'The other grants of the ACL (owner, log delivery, named accounts), object ACLs, the bucket policy, and buckets carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
