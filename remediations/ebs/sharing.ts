/**
 * Reading snapshot and AMI sharing changes from CloudTrail, and removing them
 * one grant at a time, for the public and the cross-account rules.
 *
 * `ModifySnapshotAttribute` records carry `createVolumePermission.{add,remove}.items[]`
 * and `ModifyImageAttribute` records `launchPermission.{add,remove}.items[]`;
 * each item names a `group` (`all` is public), a `userId` (one account), or for
 * AMIs an `organizationArn` / `organizationalUnitArn`.
 *
 * Each removal reads `DescribeSnapshotAttribute` / `DescribeImageAttribute`
 * just before (is the grant still listed?) and just after (is it gone?).
 */
import {
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  type DescribeImageAttributeCommandInput,
  type DescribeSnapshotAttributeCommandInput,
} from '@aws-sdk/client-ec2';
import type { Config } from '../../engine/config.js';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList, type Tags } from '../../engine/exemption.js';
import type { Facts, Finding, PlanStep, Verdict } from '../../engine/types.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { defineAction, defineLookup, defineProbe, defineUndo, entries, readFact, type KitLookup, type ProbeSpec } from '../../rulekit/index.js';

/** One side (`add` or `remove`) of a permission change. */
interface PermissionSet {
  readonly groups: readonly string[];
  readonly userIds: readonly string[];
  readonly organizationArns: readonly string[];
  readonly organizationalUnitArns: readonly string[];
}

interface PermissionChange {
  readonly added: PermissionSet;
  readonly removed: PermissionSet;
}

type SharedResourceKind = 'snapshot' | 'image';

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
function sharedResourceId(event: CloudTrailEvent, kind: SharedResourceKind): string | undefined {
  const id = stringField(event.detail.requestParameters, kind === 'snapshot' ? 'snapshotId' : 'imageId');
  return id && id.length > 0 ? id : undefined;
}

/** What the event added and removed; empty sets when the event changed another attribute. */
export function permissionChange(event: CloudTrailEvent, kind: SharedResourceKind): PermissionChange {
  const attribute = field(event.detail.requestParameters, kind === 'snapshot' ? 'createVolumePermission' : 'launchPermission');
  return { added: permissionSet(field(attribute, 'add')), removed: permissionSet(field(attribute, 'remove')) };
}

/** The event made the resource public: it added group `all` (and did not remove it in the same call). */
export function addsPublicGroup(event: CloudTrailEvent, kind: SharedResourceKind): boolean {
  const { added, removed } = permissionChange(event, kind);
  return added.groups.includes('all') && !removed.groups.includes('all');
}

/** Accounts the event shared with that are neither this account nor in `trustedAccounts`. */
function untrustedAccounts(event: CloudTrailEvent, kind: SharedResourceKind, config: Config): string[] {
  const trusted = new Set([...config.trustedAccounts, event.account, event.detail.recipientAccountId].filter((id) => typeof id === 'string'));
  const { added, removed } = permissionChange(event, kind);
  return added.userIds.filter((id) => !trusted.has(id) && !removed.userIds.includes(id));
}

/** Current permissions, from `DescribeSnapshotAttribute` / `DescribeImageAttribute` (`CreateVolumePermissions` / `LaunchPermissions`). */
interface CurrentPermissions {
  readonly groups: readonly string[];
  readonly userIds: readonly string[];
  readonly organizationArns: readonly string[];
  readonly organizationalUnitArns: readonly string[];
}

const LABEL: Readonly<Record<SharedResourceKind, { noun: string; permission: string; inputKey: string; list: string }>> = {
  snapshot: { noun: 'snapshot', permission: 'createVolumePermission', inputKey: 'SnapshotId', list: 'CreateVolumePermissions' },
  image: { noun: 'AMI', permission: 'launchPermission', inputKey: 'ImageId', list: 'LaunchPermissions' },
};

function selectCurrentPermissions(output: unknown, kind: SharedResourceKind): CurrentPermissions {
  const list = field(output, LABEL[kind].list);
  const items = Array.isArray(list) ? list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null) : [];
  const values = (key: string) => items.map((item) => item[key]).filter((value): value is string => typeof value === 'string');
  return { groups: values('Group'), userIds: values('UserId'), organizationArns: values('OrganizationArn'), organizationalUnitArns: values('OrganizationalUnitArn') };
}

function describeCurrent(current: CurrentPermissions): string {
  const parts = [
    ...current.groups.map((g) => `group ${g}`),
    ...current.userIds.map((u) => `account ${u}`),
    ...current.organizationArns,
    ...current.organizationalUnitArns,
  ];
  return parts.length > 0 ? `now shared with ${parts.join(', ')}` : 'now shared with no one';
}

const NOT_FOUND_CODES: Readonly<Record<SharedResourceKind, readonly string[]>> = {
  snapshot: ['InvalidSnapshot.NotFound'],
  // A deregistered AMI answers InvalidAMIID.Unavailable for a while, then NotFound.
  image: ['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'],
};

/** What the lookups know of a snapshot or an AMI: its tags, for the exemption; `null` when it no longer exists. */
type SharedResourceTags = { readonly tags: Tags } | null;

function firstTags(output: unknown, list: 'Snapshots' | 'Images'): SharedResourceTags {
  const resource = (field(output, list) as unknown[] | undefined)?.[0];
  return resource === undefined ? null : { tags: tagsFromList(field(resource, 'Tags')) };
}

/** The snapshot's tags (`DescribeSnapshots`), looked up only for the events `wanted` picks. */
export function snapshotLookup(wanted: (event: CloudTrailEvent) => boolean): KitLookup<SharedResourceTags> {
  return defineLookup(ec2, DescribeSnapshotsCommand, {
    name: 'snapshot',
    input: (event) => {
      const id = sharedResourceId(event, 'snapshot');
      return id && wanted(event) ? { SnapshotIds: [id] } : undefined;
    },
    select: (output) => firstTags(output, 'Snapshots'),
    notFoundCodes: NOT_FOUND_CODES.snapshot,
  });
}

/** The AMI's tags (`DescribeImages`), looked up only for the events `wanted` picks. */
export function imageLookup(wanted: (event: CloudTrailEvent) => boolean): KitLookup<SharedResourceTags> {
  return defineLookup(ec2, DescribeImagesCommand, {
    name: 'image',
    input: (event) => {
      const id = sharedResourceId(event, 'image');
      return id && wanted(event) ? { ImageIds: [id] } : undefined;
    },
    select: (output) => firstTags(output, 'Images'),
    notFoundCodes: NOT_FOUND_CODES.image,
  });
}

/**
 * Who the resource is shared with now (`DescribeSnapshotAttribute` /
 * `DescribeImageAttribute`), judged for one grant, `expect.group` or
 * `expect.userId`: still listed is needed, gone (or the resource itself gone)
 * is done. A grant is there or not: it cannot have changed into another one,
 * so this read never finds the step stale. Unlike the other Describe* calls,
 * these two support resource-level permissions (snapshot, image), which the
 * kit grants on ARNs without an account field.
 */
function sharingProbe(kind: SharedResourceKind): ProbeSpec {
  const { noun, permission, inputKey, list } = LABEL[kind];
  return {
    name: kind === 'snapshot' ? 'snapshotSharing' : 'imageSharing',
    notFoundCodes: NOT_FOUND_CODES[kind],
    judge(output, expected) {
      const id = String(expected['id']);
      if (output === null) return { state: 'done', evidence: `${noun} ${id} no longer exists` };
      const answeredId = field(output, inputKey);
      if (answeredId !== undefined && answeredId !== id) throw new Error(`the answer is about ${String(answeredId)}, not ${id}`);
      if (answeredId === undefined && field(output, list) === undefined) throw new Error(`the answer names neither ${id} nor its ${permission}`);
      const current = selectCurrentPermissions(output, kind);
      const group = expected['group'];
      const grant = typeof group === 'string' ? `group ${group}` : `account ${String(expected['userId'])}`;
      const listed = typeof group === 'string' ? current.groups.includes(group) : current.userIds.includes(String(expected['userId']));
      return listed
        ? { state: 'needed', evidence: `${id} is still shared with ${grant} (${permission})` }
        : { state: 'done', evidence: `${id} is no longer shared with ${grant} (${permission} ${describeCurrent(current)})` };
    },
  };
}

export const snapshotSharingProbe = defineProbe(ec2, DescribeSnapshotAttributeCommand, sharingProbe('snapshot'));
export const imageSharingProbe = defineProbe(ec2, DescribeImageAttributeCommand, sharingProbe('image'));

/** Snapshot and image ARNs name no account: the kit grants these writes only on the deploying account's resources (`aws:ResourceAccount`). */
export const unshareSnapshot = defineAction(ec2, ModifySnapshotAttributeCommand);
export const unshareImage = defineAction(ec2, ModifyImageAttributeCommand);
const reshareSnapshot = defineUndo(ec2, ModifySnapshotAttributeCommand);
const reshareImage = defineUndo(ec2, ModifyImageAttributeCommand);

/** One grant: `{Group: 'all'}` or `{UserId}`, as the Modify*Attribute input and the probe's `expect` name it. */
type Grant = { readonly Group: 'all' } | { readonly UserId: string };

function grantLabel(grant: Grant): string {
  return 'Group' in grant ? `group ${grant.Group}` : `account ${grant.UserId}`;
}

/**
 * Removes exactly one grant from the resource's permission; the undo adds it
 * back. Before: is the grant still listed? After: is it gone? Removing a
 * grant that is not there succeeds silently, so only the read can tell.
 */
function planRemove(kind: SharedResourceKind, id: string, grant: Grant, reason: string, undoReason: string): PlanStep {
  const expected = { id, ...('Group' in grant ? { group: grant.Group } : { userId: grant.UserId }) };
  const before = `shows ${id} still shared with ${grantLabel(grant)}`;
  const after = `shows ${id} no longer shared with ${grantLabel(grant)}`;
  // The resource deleted between the read and the write: nothing is shared any more (the read after confirms).
  const alreadyDoneCodes = NOT_FOUND_CODES[kind];
  if (kind === 'snapshot') {
    const read: DescribeSnapshotAttributeCommandInput = { SnapshotId: id, Attribute: 'createVolumePermission' };
    return unshareSnapshot.step(
      { SnapshotId: id, CreateVolumePermission: { Remove: [grant] } },
      {
        reason,
        undo: reshareSnapshot.undo({ SnapshotId: id, CreateVolumePermission: { Add: [grant] } }, undoReason),
        alreadyDoneCodes,
        precondition: snapshotSharingProbe.check(read, expected, before),
        verification: snapshotSharingProbe.check(read, expected, after),
      },
    );
  }
  const read: DescribeImageAttributeCommandInput = { ImageId: id, Attribute: 'launchPermission' };
  return unshareImage.step(
    { ImageId: id, LaunchPermission: { Remove: [grant] } },
    {
      reason,
      undo: reshareImage.undo({ ImageId: id, LaunchPermission: { Add: [grant] } }, undoReason),
      alreadyDoneCodes,
      precondition: imageSharingProbe.check(read, expected, before),
      verification: imageSharingProbe.check(read, expected, after),
    },
  );
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

/**
 * The exemption gate, and what a lookup said about the resource being gone.
 * A resource deleted since the event is still a violation: the step's read
 * before the write finds the share gone and reports it done.
 */
function gate(lookup: KitLookup<SharedResourceTags>, id: string, facts: Facts, config: Config, findings: readonly Finding[]): { exempt?: Verdict; gone: boolean } {
  const fact = readFact(facts, lookup);
  const gone = fact?.status === 'ok' && fact.value === null;
  const exempt = exemptionReason(tagsFromFact(fact), config);
  return exempt ? { exempt: { kind: 'exempt', reason: `${id} is ${exempt}`, resources: [id], findings }, gone } : { gone };
}

function goneNote(kind: SharedResourceKind, gone: boolean): string {
  return gone ? `; ${kind === 'snapshot' ? 'DescribeSnapshots' : 'DescribeImages'} shows it no longer exists` : '';
}

/** The public-resource rules: the event added group `all`; the plan removes that group and nothing else. */
export function evaluatePublic(kind: SharedResourceKind, lookup: KitLookup<SharedResourceTags>, event: CloudTrailEvent, facts: Facts, config: Config): Verdict {
  const { noun, permission } = LABEL[kind];
  const id = sharedResourceId(event, kind);
  if (!id) return { kind: 'skipped', reason: `the event names no ${noun}` };
  const change = permissionChange(event, kind);
  if (!addsPublicGroup(event, kind)) {
    return { kind: 'compliant', summary: `${id}: ${describeShares(change)}; not made public`, resources: [id] };
  }
  const findings: Finding[] = [
    {
      code: kind === 'snapshot' ? 'public-snapshot' : 'public-ami',
      severity: kind === 'snapshot' ? 'critical' : 'high',
      message:
        kind === 'snapshot'
          ? `Snapshot ${id} was made public: any AWS account can create a volume from it and read its data.`
          : `AMI ${id} was made public: any AWS account can launch it and read its volumes.`,
      subject: `${permission} group all`,
    },
  ];
  const { exempt, gone } = gate(lookup, id, facts, config, findings);
  if (exempt) return exempt;

  const others = change.added.userIds.length > 0 ? ` The accounts it was shared with individually (${change.added.userIds.join(', ')}) keep their access.` : '';
  return {
    kind: 'violation',
    summary: `${noun} ${id} made public (${permission} group all)${goneNote(kind, gone)}`,
    resources: [id],
    findings,
    plan: [
      planRemove(
        kind,
        id,
        { Group: 'all' },
        `Make ${id} private again: remove only the public ${permission} (group all).${others || ' Account-specific shares stay.'}`,
        `Make ${id} public again.`,
      ),
    ],
  };
}

/** The cross-account rules: the event shared with an account outside `trustedAccounts`; one step per account. */
export function evaluateUntrustedShare(kind: SharedResourceKind, lookup: KitLookup<SharedResourceTags>, event: CloudTrailEvent, facts: Facts, config: Config): Verdict {
  const { noun, permission } = LABEL[kind];
  const id = sharedResourceId(event, kind);
  if (!id) return { kind: 'skipped', reason: `the event names no ${noun}` };
  const change = permissionChange(event, kind);
  const accounts = untrustedAccounts(event, kind, config);
  if (accounts.length === 0) {
    const summary = change.added.userIds.length > 0 ? `${id}: shared only with trusted accounts (${change.added.userIds.join(', ')})` : `${id}: shared with no account`;
    return { kind: 'compliant', summary, resources: [id] };
  }
  const findings: Finding[] = accounts.map((account) => ({
    code: kind === 'snapshot' ? 'snapshot-shared-untrusted-account' : 'ami-shared-untrusted-account',
    severity: 'medium',
    message: `${kind === 'image' ? 'AMI' : 'Snapshot'} ${id} was shared with account ${account}, which is not in trustedAccounts.`,
    subject: `${permission} account ${account}`,
  }));
  const { exempt, gone } = gate(lookup, id, facts, config, findings);
  if (exempt) return exempt;

  const stays = `Trusted accounts${change.added.groups.includes('all') ? ' and the public group (its own rule)' : ''} stay.`;
  return {
    kind: 'violation',
    summary: `${noun} ${id} shared with untrusted account${accounts.length > 1 ? 's' : ''} ${accounts.join(', ')}${goneNote(kind, gone)}`,
    resources: [id],
    findings,
    plan: accounts.map((account) =>
      planRemove(
        kind,
        id,
        { UserId: account },
        `Stop sharing ${id} with ${account}: remove only that account from ${permission}. ${stays}`,
        `Share ${id} with ${account} again.`,
      ),
    ),
  };
}
