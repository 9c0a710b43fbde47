/**
 * Read-only IAM lookups the IAM rules share. IAM returns policy documents
 * URL-encoded; every `select` here decodes them, so facts hold plain JSON text.
 * A lookup that IAM answers NoSuchEntity yields `null`, so each fact's type
 * says so. Each read is granted on the account's entities of its type (the
 * kit's resource table); no policy lookup reads an AWS managed policy
 * (`isCustomerManaged` guards each), so the account's policies are enough.
 */
import { GetPolicyCommand, GetPolicyVersionCommand, GetRoleCommand, GetUserCommand, ListPolicyVersionsCommand } from '@aws-sdk/client-iam';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { tagsFromList, type Tags } from '../../engine/exemption.js';
import { defineLookup, factValue, NO_SUCH_ENTITY, readFact } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';
import { decodeSdkDocument, identityOf } from './common.js';

/** The identity's looked-up details: `{arn, tags}` from GetRole or GetUser. */
export interface IdentityFact {
  readonly arn?: string;
  readonly path?: string;
  readonly tags: Tags;
  readonly trustPolicy?: string;
}

/** GetRole: the role's ARN (with its path, to recognise the bot's own roles), tags and current trust policy. */
export const roleLookup = defineLookup(iam, GetRoleCommand, {
  name: 'role',
  input: (event) => {
    const identity = identityOf(event);
    return identity?.kind === 'role' ? { RoleName: identity.name } : undefined;
  },
  select: (output): IdentityFact | null => {
    const role = field(output, 'Role');
    if (typeof role !== 'object' || role === null) return null;
    const arn = stringField(role, 'Arn');
    const path = stringField(role, 'Path');
    const trustPolicy = decodeSdkDocument(field(role, 'AssumeRolePolicyDocument'));
    return {
      ...(arn !== undefined && { arn }),
      ...(path !== undefined && { path }),
      tags: tagsFromList(field(role, 'Tags')),
      ...(trustPolicy !== undefined && { trustPolicy }),
    };
  },
  notFoundCodes: NO_SUCH_ENTITY,
});

/** GetUser: the user's ARN and tags. */
export const userLookup = defineLookup(iam, GetUserCommand, {
  name: 'user',
  input: (event) => {
    const identity = identityOf(event);
    return identity?.kind === 'user' ? { UserName: identity.name } : undefined;
  },
  select: (output): IdentityFact | null => {
    const user = field(output, 'User');
    if (typeof user !== 'object' || user === null) return null;
    const arn = stringField(user, 'Arn');
    return { ...(arn !== undefined && { arn }), tags: tagsFromList(field(user, 'Tags')) };
  },
  notFoundCodes: NO_SUCH_ENTITY,
});

/** A customer-managed policy ARN (AWS managed policies live in the `aws` pseudo-account). */
export function isCustomerManaged(policyArn: string | undefined): policyArn is string {
  return typeof policyArn === 'string' && /^arn:[^:]+:iam::\d{12}:policy\//.test(policyArn);
}

function requestPolicyArn(event: CloudTrailEvent): string | undefined {
  return stringField(event.detail.requestParameters, 'policyArn');
}

/** What GetPolicy tells of a customer-managed policy. */
interface ManagedPolicyFact {
  readonly defaultVersionId?: string;
  readonly tags: Tags;
}

/** GetPolicy: `{defaultVersionId, tags}` of a customer-managed policy. */
export const managedPolicyLookup = defineLookup(iam, GetPolicyCommand, {
  name: 'managedPolicy',
  input: (event) => {
    const policyArn = requestPolicyArn(event);
    return isCustomerManaged(policyArn) ? { PolicyArn: policyArn } : undefined;
  },
  select: (output): ManagedPolicyFact | null => {
    const policy = field(output, 'Policy');
    if (typeof policy !== 'object' || policy === null) return null;
    const defaultVersionId = stringField(policy, 'DefaultVersionId');
    return { ...(defaultVersionId !== undefined && { defaultVersionId }), tags: tagsFromList(field(policy, 'Tags')) };
  },
  notFoundCodes: NO_SUCH_ENTITY,
});

/** One version of a managed policy as GetPolicyVersion gave it: its id and its document, decoded. */
export interface PolicyVersionFact {
  readonly versionId?: string;
  readonly document?: string;
}

/** GetPolicyVersion's answer as a fact: `{versionId, document}`, the document decoded; `null` without a version. */
export function selectPolicyVersion(output: unknown): PolicyVersionFact | null {
  const version = field(output, 'PolicyVersion');
  if (typeof version !== 'object' || version === null) return null;
  const document = decodeSdkDocument(field(version, 'Document'));
  const versionId = stringField(version, 'VersionId');
  return { ...(versionId !== undefined && { versionId }), ...(document !== undefined && { document }) };
}

/**
 * GetPolicyVersion of the policy's default version: the document an
 * attachment grants. Its version id comes from the `managedPolicy` fact, read
 * just before (lookups chain); without it nothing is looked up and the rule
 * says the document is unknown.
 */
export const managedPolicyDefaultVersionLookup = defineLookup(iam, GetPolicyVersionCommand, {
  name: 'managedPolicyDefaultVersion',
  input: (event, facts) => {
    const policyArn = requestPolicyArn(event);
    const versionId = factValue(readFact(facts, managedPolicyLookup))?.defaultVersionId;
    return isCustomerManaged(policyArn) && versionId !== undefined ? { PolicyArn: policyArn, VersionId: versionId } : undefined;
  },
  select: selectPolicyVersion,
  notFoundCodes: NO_SUCH_ENTITY,
});

/** GetPolicyVersion of the version a SetDefaultPolicyVersion call made the default: its document is not in the event. */
export const newDefaultVersionLookup = defineLookup(iam, GetPolicyVersionCommand, {
  name: 'newDefaultVersion',
  input: (event) => {
    const policyArn = requestPolicyArn(event);
    const versionId = stringField(event.detail.requestParameters, 'versionId');
    return event.detail.eventName === 'SetDefaultPolicyVersion' && isCustomerManaged(policyArn) && versionId
      ? { PolicyArn: policyArn, VersionId: versionId }
      : undefined;
  },
  select: selectPolicyVersion,
  notFoundCodes: NO_SUCH_ENTITY,
});

export interface PolicyVersionInfo {
  readonly versionId: string;
  readonly isDefault: boolean;
  /** ISO 8601; absent when IAM did not say. */
  readonly createDate?: string;
}

function isoDate(value: unknown): string | undefined {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

/** ListPolicyVersions: every version of the policy (at most five), without documents. */
export const policyVersionsLookup = defineLookup(iam, ListPolicyVersionsCommand, {
  name: 'policyVersions',
  input: (event) => {
    const policyArn = requestPolicyArn(event);
    return isCustomerManaged(policyArn) ? { PolicyArn: policyArn } : undefined;
  },
  select: (output): { readonly versions: readonly PolicyVersionInfo[] } | null => {
    const list = field(output, 'Versions');
    if (!Array.isArray(list)) return { versions: [] };
    const versions: PolicyVersionInfo[] = list.flatMap((version: unknown) => {
      const versionId = stringField(version, 'VersionId');
      if (versionId === undefined) return [];
      const createDate = isoDate(field(version, 'CreateDate'));
      return [{ versionId, isDefault: field(version, 'IsDefaultVersion') === true, ...(createDate !== undefined && { createDate }) }];
    });
    return { versions };
  },
  notFoundCodes: NO_SUCH_ENTITY,
});

/** The identities a managed policy is attached to, by name (ListEntitiesForPolicy names no path). */
export interface PolicyEntities {
  readonly roles: readonly string[];
  readonly users: readonly string[];
  readonly groups: readonly string[];
  /** IAM had more to list than one page holds. */
  readonly truncated: boolean;
}

/** The largest page ListEntitiesForPolicy gives (`MaxItems` 1–1000, IAM API reference). */
export const ENTITIES_PAGE = 1_000;

function names(list: unknown, key: string): string[] {
  return Array.isArray(list) ? list.flatMap((entry: unknown) => {
    const name = stringField(entry, key);
    return name === undefined ? [] : [name];
  }) : [];
}

/** ListEntitiesForPolicy's answer as a fact. */
export function selectPolicyEntities(output: unknown): PolicyEntities {
  return {
    roles: names(field(output, 'PolicyRoles'), 'RoleName'),
    users: names(field(output, 'PolicyUsers'), 'UserName'),
    groups: names(field(output, 'PolicyGroups'), 'GroupName'),
    truncated: field(output, 'IsTruncated') === true,
  };
}
