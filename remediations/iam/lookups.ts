/**
 * Read-only IAM lookups the IAM rules share. IAM returns policy documents
 * URL-encoded; every `select` here decodes them, so facts hold plain JSON text.
 */
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { tagsFromList } from '../../engine/exemption.js';
import type { Facts, Lookup } from '../../engine/types.js';
// No policy lookup reads an AWS managed policy (`isCustomerManaged` guards each), so `accountEntities('policy')` is enough.
import { accountEntities, decodeSdkDocument, identityOf, NO_SUCH_ENTITY, type IdentityFact } from './common.js';

/** GetRole: the role's ARN (with its path, to recognise the bot's own roles), tags and current trust policy. */
export const roleLookup: Lookup = {
  name: 'role',
  service: 'iam',
  operation: 'GetRole',
  permission: 'iam:GetRole',
  resource: accountEntities('role'),
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
};

/** GetUser: the user's ARN and tags. */
export const userLookup: Lookup = {
  name: 'user',
  service: 'iam',
  operation: 'GetUser',
  permission: 'iam:GetUser',
  resource: accountEntities('user'),
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
};

/** A customer-managed policy ARN (AWS managed policies live in the `aws` pseudo-account). */
export function isCustomerManaged(policyArn: string | undefined): policyArn is string {
  return typeof policyArn === 'string' && /^arn:[^:]+:iam::\d{12}:policy\//.test(policyArn);
}

function requestPolicyArn(event: CloudTrailEvent): string | undefined {
  return stringField(event.detail.requestParameters, 'policyArn');
}

/** GetPolicy: `{defaultVersionId, tags}` of a customer-managed policy. */
export const managedPolicyLookup: Lookup = {
  name: 'managedPolicy',
  service: 'iam',
  operation: 'GetPolicy',
  permission: 'iam:GetPolicy',
  resource: accountEntities('policy'),
  input: (event) => {
    const policyArn = requestPolicyArn(event);
    return isCustomerManaged(policyArn) ? { PolicyArn: policyArn } : undefined;
  },
  select: (output) => {
    const policy = field(output, 'Policy');
    if (typeof policy !== 'object' || policy === null) return null;
    const defaultVersionId = stringField(policy, 'DefaultVersionId');
    return { ...(defaultVersionId !== undefined && { defaultVersionId }), tags: tagsFromList(field(policy, 'Tags')) };
  },
  notFoundCodes: NO_SUCH_ENTITY,
};

/** GetPolicyVersion's answer as a fact: `{versionId, document}`, the document decoded; `null` without a version. */
export function selectPolicyVersion(output: unknown): unknown {
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
export const managedPolicyDefaultVersionLookup: Lookup = {
  name: 'managedPolicyDefaultVersion',
  service: 'iam',
  operation: 'GetPolicyVersion',
  permission: 'iam:GetPolicyVersion',
  resource: accountEntities('policy'),
  input: (event: CloudTrailEvent, facts?: Facts) => {
    const policyArn = requestPolicyArn(event);
    const policy = facts?.['managedPolicy'];
    const versionId = policy?.status === 'ok' ? stringField(policy.value, 'defaultVersionId') : undefined;
    return isCustomerManaged(policyArn) && versionId !== undefined ? { PolicyArn: policyArn, VersionId: versionId } : undefined;
  },
  select: selectPolicyVersion,
  notFoundCodes: NO_SUCH_ENTITY,
};

/** GetPolicyVersion of the version a SetDefaultPolicyVersion call made the default: its document is not in the event. */
export const newDefaultVersionLookup: Lookup = {
  name: 'newDefaultVersion',
  service: 'iam',
  operation: 'GetPolicyVersion',
  permission: 'iam:GetPolicyVersion',
  resource: accountEntities('policy'),
  input: (event) => {
    const policyArn = requestPolicyArn(event);
    const versionId = stringField(event.detail.requestParameters, 'versionId');
    return event.detail.eventName === 'SetDefaultPolicyVersion' && isCustomerManaged(policyArn) && versionId
      ? { PolicyArn: policyArn, VersionId: versionId }
      : undefined;
  },
  select: selectPolicyVersion,
  notFoundCodes: NO_SUCH_ENTITY,
};

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
export const policyVersionsLookup: Lookup = {
  name: 'policyVersions',
  service: 'iam',
  operation: 'ListPolicyVersions',
  permission: 'iam:ListPolicyVersions',
  resource: accountEntities('policy'),
  input: (event) => {
    const policyArn = requestPolicyArn(event);
    return isCustomerManaged(policyArn) ? { PolicyArn: policyArn } : undefined;
  },
  select: (output) => {
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
};

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
