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
 * The undo puts the event's ACL back. Just before, `GetBucketAcl` reads the
 * ACL: no public grant left (or no bucket) is "already done" (no call); other
 * public grants than the event's, or for a full ACL any other grant, is stale
 * (no call: the newer ACL is judged by its own event). Just after, the same
 * read must show no public grant, or the fix is unverified.
 * Never touches: the other grants of the ACL (owner, log delivery, accounts),
 * object ACLs, the bucket policy, buckets carrying the exemption tag.
 * Permissions: `s3:PutBucketAcl` on buckets of the deploying account
 * (`aws:ResourceAccount`); read `s3:GetBucketAcl` (probe); lookup `s3:GetBucketTagging`.
 */
import { BucketCannedACL, GetBucketAclCommand, Permission, PutBucketAclCommand, type Grant, type PutBucketAclCommandInput } from '@aws-sdk/client-s3';
import { field, type CloudTrailEvent } from '../../engine/event.js';
import { checkedBothWays, type Facts, type Finding, type PlanStep, type RuleContext, type Verdict } from '../../engine/types.js';
import { defineAction, defineProbe, defineRule, defineUndo, text } from '../../rulekit/index.js';
import { s3 } from '../../rulekit/aws/s3.js';
import { bucketExemption, bucketInput, bucketTagsLookup, bucketTarget } from './common.js';

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

type GranteeType = 'CanonicalUser' | 'Group' | 'AmazonCustomerByEmail';

interface AclGrant {
  readonly type: GranteeType;
  readonly id?: string;
  readonly uri?: string;
  readonly email?: string;
  readonly displayName?: string;
  /** READ, WRITE, READ_ACP, WRITE_ACP or FULL_CONTROL. */
  readonly permission: Permission;
}

type EventAcl =
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
const PUBLIC_CANNED: Readonly<Record<string, readonly (readonly [string, Permission])[]>> = {
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

/** A grant's permission, when it is one S3 has: S3 refuses an ACL with any other (MalformedACLError), so no successful call sets one. */
function permissionOf(value: unknown): Permission | undefined {
  return Object.values(Permission).find((permission) => permission === value);
}

/** The canned ACL, when it is one S3 has for buckets. */
function bucketCannedAcl(value: string): BucketCannedACL | undefined {
  return Object.values(BucketCannedACL).find((canned) => canned === value);
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
  const permission = permissionOf(field(grant, 'Permission'));
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
function headerGrants(value: string, permission: Permission): AclGrant[] {
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

function isPublicGrant(grant: AclGrant): boolean {
  return grant.uri === ALL_USERS || grant.uri === AUTHENTICATED_USERS;
}

function groupName(uri: string): string {
  return uri === ALL_USERS ? 'AllUsers' : 'AuthenticatedUsers';
}

/** A grant as compared: whom (group URI, canonical id or e-mail) it gives what, from the event's ACL or as GetBucketAcl answers it. */
interface CurrentGrant {
  readonly id?: string;
  readonly uri?: string;
  readonly email?: string;
  readonly permission: string;
}

/** `uri:<group>:READ`: what a grant gives to whom, for comparing an event's ACL with the bucket's. */
function grantKey(grant: CurrentGrant): string {
  const who = grant.uri !== undefined ? `uri:${grant.uri}` : grant.id !== undefined ? `id:${grant.id}` : `email:${grant.email ?? ''}`;
  return `${who}:${grant.permission}`;
}

/** The public grants of the event's ACL, as `[group URI, permission]`. */
function publicGrantsOf(acl: EventAcl): (readonly [string, Permission])[] {
  if (acl.form === 'canned') return Object.hasOwn(PUBLIC_CANNED, acl.canned) ? [...(PUBLIC_CANNED[acl.canned] ?? [])] : [];
  return acl.grants.filter(isPublicGrant).map((grant) => [grant.uri ?? '', grant.permission] as const);
}

function sdkGrant(grant: AclGrant): Grant {
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

/** The PutBucketAcl inputs that set an ACL: a canned ACL, a full `AccessControlPolicy`, or the grant headers. */
type AclInput = Pick<PutBucketAclCommandInput, 'ACL' | 'AccessControlPolicy' | (typeof GRANT_HEADERS)[number][1]>;

function headerInput(grants: readonly AclGrant[]): AclInput {
  const input: { -readonly [K in (typeof GRANT_HEADERS)[number][1]]?: string } = {};
  for (const [, key, permission] of GRANT_HEADERS) {
    const values = grants
      .filter((grant) => grant.permission === permission)
      .map((grant) => (grant.uri !== undefined ? `uri="${grant.uri}"` : grant.id !== undefined ? `id="${grant.id}"` : `emailAddress="${grant.email ?? ''}"`));
    if (values.length > 0) input[key] = values.join(', ');
  }
  return input;
}

/** The ACL part of a PutBucketAcl input that sets the kept grants, in the event's form; `private` when none is kept. */
function fixedAclInput(acl: EventAcl, kept: readonly AclGrant[]): AclInput {
  if (acl.form === 'canned' || kept.length === 0) return { ACL: 'private' };
  if (acl.form === 'headers') return headerInput(kept);
  return { AccessControlPolicy: { Grants: kept.map(sdkGrant), ...(acl.owner && { Owner: acl.owner }) } };
}

/**
 * The ACL part of a PutBucketAcl input that sets the event's ACL again. Only
 * a public canned ACL is ever put back (no other makes a plan), and each is one
 * S3 has.
 */
function eventAclInput(acl: EventAcl): AclInput {
  if (acl.form === 'canned') {
    const canned = bucketCannedAcl(acl.canned);
    return canned === undefined ? {} : { ACL: canned };
  }
  if (acl.form === 'headers') return headerInput(acl.grants);
  return { AccessControlPolicy: { Grants: acl.grants.map(sdkGrant), ...(acl.owner && { Owner: acl.owner }) } };
}

function setOf(keys: readonly string[]): string[] {
  return [...new Set(keys)].sort();
}

/** `AllUsers READ` for `uri:http://acs.amazonaws.com/groups/global/AllUsers:READ`; `canonical user 79a5… FULL_CONTROL` for an id. */
function describeGrantKey(key: string): string {
  const cut = key.lastIndexOf(':');
  const who = key.slice(0, cut);
  const permission = key.slice(cut + 1);
  if (who.startsWith('uri:')) return `${who.slice(who.lastIndexOf('/') + 1)} ${permission}`;
  if (who.startsWith('id:')) return `canonical user ${who.slice(3)} ${permission}`;
  return `${who.slice(who.indexOf(':') + 1)} ${permission}`;
}

function describeGrantKeys(keys: readonly string[]): string {
  return keys.length === 0 ? 'no grant' : keys.map(describeGrantKey).join(', ');
}

/**
 * The bucket's ACL now (`GetBucketAcl`), against the event's. S3 answers with
 * the ACL it enforces: public grants that `IgnorePublicAcls` ignores do not
 * show, so "no public grant" means no public grant in effect.
 */
export const bucketAclProbe = defineProbe(s3, GetBucketAclCommand, {
  name: 'bucketAcl',
  notFoundCodes: ['NoSuchBucket'],
  judge(output, expect) {
    const bucket = String(expect['bucket']);
    if (output === null) return { state: 'done', evidence: `bucket ${bucket} no longer exists (NoSuchBucket)` };
    const current = listOf(field(output, 'Grants')).flatMap((grant): CurrentGrant[] => {
      const permission = text(field(grant, 'Permission'));
      if (permission === undefined) return [];
      const id = text(field(grant, 'Grantee', 'ID'));
      const uri = text(field(grant, 'Grantee', 'URI'));
      const email = text(field(grant, 'Grantee', 'EmailAddress'));
      return [{ ...(id !== undefined && { id }), ...(uri !== undefined && { uri: normaliseUri(uri) }), ...(email !== undefined && { email }), permission }];
    });
    const currentPublic = setOf(current.filter((grant) => grant.uri === ALL_USERS || grant.uri === AUTHENTICATED_USERS).map(grantKey));
    if (currentPublic.length === 0) return { state: 'done', evidence: `the ACL of bucket ${bucket} grants nothing to AllUsers or AuthenticatedUsers` };
    const eventPublic = setOf((expect['publicGrants'] as readonly string[] | undefined) ?? []);
    if (currentPublic.join('\n') !== eventPublic.join('\n')) {
      return {
        state: 'changed',
        evidence: `the ACL of bucket ${bucket} now grants ${describeGrantKeys(currentPublic)}, not ${describeGrantKeys(eventPublic)} as the event set it: nothing written; the newer ACL is judged by its own event`,
      };
    }
    const eventGrants = expect['grants'] as readonly string[] | undefined;
    if (eventGrants !== undefined) {
      const now = setOf(current.map(grantKey));
      const added = now.filter((key) => !eventGrants.includes(key));
      const removed = setOf(eventGrants).filter((key) => !now.includes(key));
      if (added.length > 0 || removed.length > 0) {
        const what = [added.length > 0 ? `also grants ${describeGrantKeys(added)}` : '', removed.length > 0 ? `no longer grants ${describeGrantKeys(removed)}` : ''].filter(Boolean).join(' and ');
        return { state: 'changed', evidence: `the ACL of bucket ${bucket} ${what} since the event set it: nothing written; the newer ACL is judged by its own event` };
      }
    }
    return { state: 'needed', evidence: `the ACL of bucket ${bucket} still grants ${describeGrantKeys(currentPublic)}` };
  },
});

/**
 * What the read before and after compares with: the event's public grants,
 * and its whole ACL when the event listed it in full without e-mail grantees
 * (S3 stores those as canonical ids, so they cannot be compared).
 */
function aclExpectation(bucket: string, acl: EventAcl): Record<string, unknown> {
  const publicGrants = setOf(publicGrantsOf(acl).map(([uri, permission]) => grantKey({ uri, permission })));
  const whole = acl.form === 'policy' && acl.grants.every((grant) => grant.email === undefined);
  return { bucket, publicGrants, ...(whole ? { grants: setOf(acl.grants.map(grantKey)) } : {}) };
}

/** Granted only on buckets of the deploying account; the undo puts the event's ACL back with the same call. */
const putBucketAcl = defineAction(s3, PutBucketAclCommand);
const restoreBucketAcl = defineUndo(s3, PutBucketAclCommand);

/** PutBucketAcl with the public grants removed; its undo puts the event's ACL back. */
function planRemovePublicGrants(bucket: string, owner: string, acl: EventAcl): PlanStep {
  const kept = acl.form === 'canned' ? [] : acl.grants.filter((grant) => !isPublicGrant(grant));
  const removed = publicGrantsOf(acl).map(([uri, permission]) => `${groupName(uri)} ${permission}`);
  const ref = bucketInput(bucket, owner);
  return putBucketAcl.step(
    { ...ref, ...fixedAclInput(acl, kept) },
    {
      reason:
        kept.length > 0
          ? `Set the ACL of bucket ${bucket} to the event's ACL without its public grants (${removed.join(', ')}); the ${kept.length} other grant${kept.length === 1 ? '' : 's'} stay.`
          : `Set the ACL of bucket ${bucket} to private (owner full control), removing ${removed.join(', ')}.`,
      undo: restoreBucketAcl.undo({ ...ref, ...eventAclInput(acl) }, `Put the ACL of bucket ${bucket} back exactly as the event set it, public grants included.`),
      alreadyDoneCodes: ['NoSuchBucket'],
      ...checkedBothWays(
        bucketAclProbe.check(ref, aclExpectation(bucket, acl), `the ACL of bucket ${bucket} still grants ${removed.join(', ')} as the event set it`),
      ),
    },
  );
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

  const findings: Finding[] = granted.map(([uri, permission]) => ({
    code: uri === ALL_USERS ? 'acl-all-users' : 'acl-authenticated-users',
    severity: uri === ALL_USERS || permission !== 'READ' ? 'critical' : 'high',
    message:
      uri === ALL_USERS
        ? `The ACL of bucket ${bucket} grants ${permission} to AllUsers: anyone on the internet, without signing in.`
        : `The ACL of bucket ${bucket} grants ${permission} to AuthenticatedUsers: any AWS account in the world, not only yours.`,
    subject: `${groupName(uri)} ${permission}${acl.form === 'canned' ? ` (canned ${acl.canned})` : ''}`,
  }));
  const exempt = bucketExemption(bucket, facts, context.config);
  if (exempt) return { kind: 'exempt', reason: exempt, resources, findings };
  return {
    kind: 'violation',
    summary: `bucket ${bucket}: the ACL grants ${findings.map((f) => f.subject).join(', ')}`,
    resources,
    findings,
    plan: [planRemovePublicGrants(bucket, owner, acl)],
  };
}

export const s3BucketAclPublic = defineRule({
  id: 's3-bucket-acl-public',
  title: 'S3 bucket ACL grants public access',
  severity: 'critical',
  rationale:
    'An ACL grant to AllUsers publishes the bucket to anyone on the internet, and one to AuthenticatedUsers to every AWS account in the world; either exposes training data, model artifacts or credentials kept in the bucket.',
  triggers: [{ eventSource: 's3.amazonaws.com', eventNames: ['PutBucketAcl'] }],
  actions: [putBucketAcl],
  lookups: [bucketTagsLookup],
  probes: [bucketAclProbe],
  evaluate,
});
