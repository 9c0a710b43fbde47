/**
 * Reading snapshot and AMI sharing changes from CloudTrail, for the public and
 * the cross-account rules.
 *
 * `ModifySnapshotAttribute` records carry `createVolumePermission.{add,remove}.items[]`
 * and `ModifyImageAttribute` records `launchPermission.{add,remove}.items[]`;
 * each item names a `group` (`all` is public), a `userId` (one account), or for
 * AMIs an `organizationArn` / `organizationalUnitArn`.
 */
import type { Config } from '../../engine/config.js';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList } from '../../engine/exemption.js';
import type { Fact, Facts, Lookup, PlanStep, Verdict } from '../../engine/types.js';

/** One side (`add` or `remove`) of a permission change. */
export interface PermissionSet {
  readonly groups: readonly string[];
  readonly userIds: readonly string[];
  readonly organizationArns: readonly string[];
  readonly organizationalUnitArns: readonly string[];
}

export interface PermissionChange {
  readonly added: PermissionSet;
  readonly removed: PermissionSet;
}

export type SharedResourceKind = 'snapshot' | 'image';

const ATTRIBUTE: Readonly<Record<SharedResourceKind, string>> = { snapshot: 'createVolumePermission', image: 'launchPermission' };

/** CloudTrail writes collections as `{items: [...]}`; some exports flatten them to arrays. */
function entries(value: unknown): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : field(value, 'items');
  if (!Array.isArray(list)) return [];
  return list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

function strings(list: readonly Record<string, unknown>[], key: string): string[] {
  const values = list.map((item) => item[key]).filter((value): value is string => typeof value === 'string' && value.length > 0);
  return [...new Set(values)];
}

function permissionSet(value: unknown): PermissionSet {
  const list = entries(value);
  return {
    groups: strings(list, 'group'),
    userIds: strings(list, 'userId'),
    organizationArns: strings(list, 'organizationArn'),
    organizationalUnitArns: strings(list, 'organizationalUnitArn'),
  };
}

/** The snapshot or image the event changed. */
export function sharedResourceId(event: CloudTrailEvent, kind: SharedResourceKind): string | undefined {
  const id = stringField(event.detail.requestParameters, kind === 'snapshot' ? 'snapshotId' : 'imageId');
  return id && id.length > 0 ? id : undefined;
}

/** What the event added and removed; empty sets when the event changed another attribute. */
export function permissionChange(event: CloudTrailEvent, kind: SharedResourceKind): PermissionChange {
  const attribute = field(event.detail.requestParameters, ATTRIBUTE[kind]);
  return { added: permissionSet(field(attribute, 'add')), removed: permissionSet(field(attribute, 'remove')) };
}

/** The event made the resource public: it added group `all` (and did not remove it in the same call). */
export function addsPublicGroup(event: CloudTrailEvent, kind: SharedResourceKind): boolean {
  const { added, removed } = permissionChange(event, kind);
  return added.groups.includes('all') && !removed.groups.includes('all');
}

/** Accounts the event shared with that are neither this account nor in `trustedAccounts`. */
export function untrustedAccounts(event: CloudTrailEvent, kind: SharedResourceKind, config: Config): string[] {
  const trusted = new Set([...config.trustedAccounts, event.account, event.detail.recipientAccountId].filter((id) => typeof id === 'string'));
  const { added, removed } = permissionChange(event, kind);
  return added.userIds.filter((id) => !trusted.has(id) && !removed.userIds.includes(id));
}

/** Current permissions, from `DescribeSnapshotAttribute` / `DescribeImageAttribute` (`CreateVolumePermissions` / `LaunchPermissions`). */
export interface CurrentPermissions {
  readonly groups: readonly string[];
  readonly userIds: readonly string[];
}

export function selectCurrentPermissions(output: unknown, kind: SharedResourceKind): CurrentPermissions {
  const list = field(output, kind === 'snapshot' ? 'CreateVolumePermissions' : 'LaunchPermissions');
  const items = Array.isArray(list) ? list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null) : [];
  return {
    groups: items.map((item) => item['Group']).filter((g): g is string => typeof g === 'string'),
    userIds: items.map((item) => item['UserId']).filter((u): u is string => typeof u === 'string'),
  };
}

const LABEL: Readonly<Record<SharedResourceKind, { noun: string; permission: string; param: string; inputKey: string; id: string }>> = {
  snapshot: { noun: 'snapshot', permission: 'createVolumePermission', param: 'CreateVolumePermission', inputKey: 'SnapshotId', id: 'snapshot' },
  image: { noun: 'AMI', permission: 'launchPermission', param: 'LaunchPermission', inputKey: 'ImageId', id: 'image' },
};

/** The operation that changes the sharing of this kind of resource. */
export function modifyOperation(kind: SharedResourceKind): string {
  return kind === 'snapshot' ? 'ModifySnapshotAttribute' : 'ModifyImageAttribute';
}

/** Tags (and, for AMIs, the `Public` flag) of the resource; `null` when it no longer exists. */
export function resourceLookup(kind: SharedResourceKind, wanted: (event: CloudTrailEvent) => boolean): Lookup {
  if (kind === 'snapshot') {
    return {
      name: 'snapshot',
      service: 'ec2',
      operation: 'DescribeSnapshots',
      permission: 'ec2:DescribeSnapshots',
      input: (event) => {
        const id = sharedResourceId(event, kind);
        return id && wanted(event) ? { SnapshotIds: [id] } : undefined;
      },
      select: (output) => {
        const snapshot = (field(output, 'Snapshots') as unknown[] | undefined)?.[0];
        return snapshot === undefined ? null : { tags: tagsFromList(field(snapshot, 'Tags')) };
      },
      notFoundCodes: ['InvalidSnapshot.NotFound'],
    };
  }
  return {
    name: 'image',
    service: 'ec2',
    operation: 'DescribeImages',
    permission: 'ec2:DescribeImages',
    input: (event) => {
      const id = sharedResourceId(event, kind);
      return id && wanted(event) ? { ImageIds: [id] } : undefined;
    },
    select: (output) => {
      const image = (field(output, 'Images') as unknown[] | undefined)?.[0];
      if (image === undefined) return null;
      const isPublic = field(image, 'Public');
      return { tags: tagsFromList(field(image, 'Tags')), ...(typeof isPublic === 'boolean' ? { public: isPublic } : {}) };
    },
    // A deregistered AMI answers InvalidAMIID.Unavailable for a while, then NotFound.
    notFoundCodes: ['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'],
  };
}

/** Who the resource is shared with now: `DescribeSnapshotAttribute` / `DescribeImageAttribute`. */
export function permissionsLookup(kind: SharedResourceKind, wanted: (event: CloudTrailEvent) => boolean): Lookup {
  const snapshot = kind === 'snapshot';
  return {
    name: snapshot ? 'snapshotPermissions' : 'imagePermissions',
    service: 'ec2',
    operation: snapshot ? 'DescribeSnapshotAttribute' : 'DescribeImageAttribute',
    permission: snapshot ? 'ec2:DescribeSnapshotAttribute' : 'ec2:DescribeImageAttribute',
    // Unlike the other Describe* calls, these two support resource-level permissions (snapshot, image); their ARNs have no account field.
    resource: snapshot ? 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*' : 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*',
    input: (event) => {
      const id = sharedResourceId(event, kind);
      if (!id || !wanted(event)) return undefined;
      return snapshot ? { SnapshotId: id, Attribute: 'createVolumePermission' } : { ImageId: id, Attribute: 'launchPermission' };
    },
    select: (output) => selectCurrentPermissions(output, kind),
    notFoundCodes: snapshot ? ['InvalidSnapshot.NotFound'] : ['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'],
  };
}

function okValue(fact: Fact | undefined): unknown {
  return fact?.status === 'ok' ? fact.value : undefined;
}

/** `skipped` when the resource is gone, `exempt` when it carries the exemption tag; otherwise `undefined`. */
function gateByResource(kind: SharedResourceKind, id: string, facts: Facts, config: Config): Verdict | undefined {
  const fact = facts[LABEL[kind].id];
  if (fact?.status === 'ok' && fact.value === null) return { kind: 'skipped', reason: `${LABEL[kind].noun} ${id} no longer exists`, resources: [id] };
  const exempt = exemptionReason(tagsFromFact(fact), config);
  return exempt ? { kind: 'exempt', reason: `${id} is ${exempt}`, resources: [id] } : undefined;
}

/** Removes exactly `entries` from the resource's permission; the undo adds them back. */
function planRemove(kind: SharedResourceKind, id: string, entries: readonly Record<string, string>[], reason: string, undoReason: string, alreadyDone: string | undefined): PlanStep {
  const { param, inputKey } = LABEL[kind];
  const operation = modifyOperation(kind);
  return {
    service: 'ec2',
    operation,
    input: { [inputKey]: id, [param]: { Remove: entries } },
    reason,
    undo: { service: 'ec2', operation, input: { [inputKey]: id, [param]: { Add: entries } }, reason: undoReason },
    ...(alreadyDone ? { alreadyDone } : {}),
  };
}

function describeShares(change: PermissionChange): string {
  const parts = [
    ...change.added.groups.map((g) => `group ${g}`),
    ...change.added.userIds.map((u) => `account ${u}`),
    ...change.added.organizationArns.map((o) => o),
    ...change.added.organizationalUnitArns.map((o) => o),
  ];
  return parts.length > 0 ? `shared with ${parts.join(', ')}` : 'no permission added';
}

/** The public-resource rules: the event added group `all`; the plan removes that group and nothing else. */
export function evaluatePublic(kind: SharedResourceKind, event: CloudTrailEvent, facts: Facts, config: Config): Verdict {
  const { noun, permission } = LABEL[kind];
  const id = sharedResourceId(event, kind);
  if (!id) return { kind: 'skipped', reason: `the event names no ${noun}` };
  const change = permissionChange(event, kind);
  if (!addsPublicGroup(event, kind)) {
    return { kind: 'compliant', summary: `${id}: ${describeShares(change)}; not made public`, resources: [id] };
  }
  const gate = gateByResource(kind, id, facts, config);
  if (gate) return gate;

  let alreadyDone: string | undefined;
  if (kind === 'snapshot') {
    const current = okValue(facts['snapshotPermissions']) as CurrentPermissions | null | undefined;
    if (current && !current.groups.includes('all')) alreadyDone = `DescribeSnapshotAttribute shows ${id} is no longer shared with group all`;
  } else {
    const image = okValue(facts['image']);
    if (field(image, 'public') === false) alreadyDone = `DescribeImages shows ${id} is no longer public`;
  }
  const others = change.added.userIds.length > 0 ? ` The accounts it was shared with individually (${change.added.userIds.join(', ')}) keep their access.` : '';
  return {
    kind: 'violation',
    summary: `${noun} ${id} made public (${permission} group all)`,
    resources: [id],
    findings: [
      {
        code: kind === 'snapshot' ? 'public-snapshot' : 'public-ami',
        severity: kind === 'snapshot' ? 'critical' : 'high',
        message:
          kind === 'snapshot'
            ? `Snapshot ${id} was made public: any AWS account can create a volume from it and read its data.`
            : `AMI ${id} was made public: any AWS account can launch it and read its volumes.`,
        subject: `${permission} group all`,
      },
    ],
    plan: [
      planRemove(
        kind,
        id,
        [{ Group: 'all' }],
        `Make ${id} private again: remove only the public ${permission} (group all).${others || ' Account-specific shares stay.'}`,
        `Make ${id} public again.`,
        alreadyDone,
      ),
    ],
  };
}

/** The cross-account rules: the event shared with an account outside `trustedAccounts`. */
export function evaluateUntrustedShare(kind: SharedResourceKind, event: CloudTrailEvent, facts: Facts, config: Config): Verdict {
  const { noun, permission } = LABEL[kind];
  const id = sharedResourceId(event, kind);
  if (!id) return { kind: 'skipped', reason: `the event names no ${noun}` };
  const change = permissionChange(event, kind);
  const accounts = untrustedAccounts(event, kind, config);
  if (accounts.length === 0) {
    const summary = change.added.userIds.length > 0 ? `${id}: shared only with trusted accounts (${change.added.userIds.join(', ')})` : `${id}: shared with no account`;
    return { kind: 'compliant', summary, resources: [id] };
  }
  const gate = gateByResource(kind, id, facts, config);
  if (gate) return gate;

  const current = okValue(facts[kind === 'snapshot' ? 'snapshotPermissions' : 'imagePermissions']) as CurrentPermissions | null | undefined;
  const alreadyDone =
    current && !accounts.some((account) => current.userIds.includes(account))
      ? `${kind === 'snapshot' ? 'DescribeSnapshotAttribute' : 'DescribeImageAttribute'} shows ${id} is no longer shared with ${accounts.join(', ')}`
      : undefined;
  return {
    kind: 'violation',
    summary: `${noun} ${id} shared with untrusted account${accounts.length > 1 ? 's' : ''} ${accounts.join(', ')}`,
    resources: [id],
    findings: accounts.map((account) => ({
      code: kind === 'snapshot' ? 'snapshot-shared-untrusted-account' : 'ami-shared-untrusted-account',
      severity: 'medium',
      message: `${noun === 'AMI' ? 'AMI' : 'Snapshot'} ${id} was shared with account ${account}, which is not in trustedAccounts.`,
      subject: `${permission} account ${account}`,
    })),
    plan: [
      planRemove(
        kind,
        id,
        accounts.map((account) => ({ UserId: account })),
        `Stop sharing ${id} with ${accounts.join(', ')}: remove only ${accounts.length > 1 ? 'those accounts' : 'that account'} from ${permission}. Trusted accounts${change.added.groups.includes('all') ? ' and the public group (its own rule)' : ''} stay.`,
        `Share ${id} with ${accounts.join(', ')} again.`,
        alreadyDone,
      ),
    ],
  };
}
