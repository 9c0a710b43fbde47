/**
 * sg-open-ingress: a security group opened to the internet on a port that should not be.
 *
 * Triggers: `AuthorizeSecurityGroupIngress` (nested `ipPermissions`, the older
 * flat `cidrIp` form, and `securityGroupRuleSet` rule ids in the response) and
 * `ModifySecurityGroupRules` (wrapped request).
 *
 * Changes: revokes exactly the offending ingress rules, one call per rule, by
 * rule id when the event lists them, otherwise by an exact `IpPermissions`
 * match. Each revoke first reads the rule and runs only if it still grants the
 * range and ports the event granted (a rule set back to a private range is
 * left alone, and the decision is `stale`); afterwards the rule is read again.
 * Never touches: compliant ranges added in the same call, egress rules,
 * references to other security groups or prefix lists, or the group itself.
 * Permissions: `ec2:RevokeSecurityGroupIngress` on security groups;
 * `ec2:DescribeSecurityGroups` and `ec2:DescribeSecurityGroupRules` to look up
 * tags and rule direction, and to read each rule before and after its revoke.
 */
import * as z from 'zod/mini';
import { opensToInternet, parseCidr } from '../../engine/cidr.js';
import { field, items, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList } from '../../engine/exemption.js';
import { deepFreeze } from '../../engine/frozen.js';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { checkedBothWays, type Facts, type Finding, type Plan, type RuleContext, type StateCheck, type Verdict } from '../../engine/types.js';
import { defineAction, defineLookup, defineProbe, defineRule, defineUndo, factValue, readFact } from '../../rulekit/index.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { AllowedPortsSchema, forbiddenPorts, normaliseProtocol, port, sameCidr, type Protocol } from './open-ingress.js';

const SgOpenIngressSettingsSchema = z.strictObject({
  /** Ports that may be open to the internet. */
  allowedPorts: AllowedPortsSchema,
  /** IPv4 ranges wider than this prefix (and not entirely private) count as the internet. */
  ipv4MinPrefix: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(32)), 8),
  ipv6MinPrefix: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(128)), 32),
});
type SgOpenIngressSettings = z.infer<typeof SgOpenIngressSettingsSchema>;

/** One CIDR the event granted ingress to, in a protocol and port range. */
interface IngressRange {
  readonly groupId?: string;
  /** Protocol exactly as sent (`tcp`, `6`, `-1`), reused verbatim in the revoke. */
  readonly ipProtocol: string;
  readonly protocol: Protocol;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly cidr: string;
  readonly family: 4 | 6;
  readonly description?: string;
  readonly ruleId?: string;
}

function range(
  base: { groupId?: string; ipProtocol: unknown; fromPort: unknown; toPort: unknown; ruleId?: unknown; description?: unknown },
  cidr: unknown,
  family: 4 | 6,
): IngressRange | undefined {
  if (typeof cidr !== 'string' || (typeof base.ipProtocol !== 'string' && typeof base.ipProtocol !== 'number')) return undefined;
  const ipProtocol = String(base.ipProtocol);
  const fromPort = port(base.fromPort);
  const toPort = port(base.toPort);
  return {
    ...(base.groupId ? { groupId: base.groupId } : {}),
    ipProtocol,
    protocol: normaliseProtocol(ipProtocol),
    ...(fromPort !== undefined ? { fromPort } : {}),
    ...(toPort !== undefined ? { toPort } : {}),
    cidr,
    family,
    ...(typeof base.description === 'string' ? { description: base.description } : {}),
    ...(typeof base.ruleId === 'string' && base.ruleId.startsWith('sgr-') ? { ruleId: base.ruleId } : {}),
  };
}

/** A list or a single object: CloudTrail serialises one-element lists either way. */
function listOf(value: unknown): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

function modifyRequest(event: CloudTrailEvent): Record<string, unknown> | undefined {
  const request = field(event.detail.requestParameters, 'ModifySecurityGroupRulesRequest');
  return typeof request === 'object' && request !== null ? (request as Record<string, unknown>) : undefined;
}

/** The group the event changed: `groupId` (or `GroupId` in wrapped requests); `groupName` for default-VPC calls. */
function targetGroup(event: CloudTrailEvent): { groupId?: string; groupName?: string } {
  const params = event.detail.requestParameters;
  const groupId = stringField(params, 'groupId') ?? stringField(modifyRequest(event), 'GroupId');
  const groupName = stringField(params, 'groupName');
  return { ...(groupId ? { groupId } : {}), ...(groupName ? { groupName } : {}) };
}

/**
 * Every CIDR range the event granted, read from whichever shape the record has.
 * The response's `securityGroupRuleSet` is the truth when present: it lists
 * exactly the rules created, with their ids.
 */
function grantedRanges(event: CloudTrailEvent): readonly IngressRange[] {
  const { requestParameters, responseElements } = event.detail;
  const cached = grantedByEvent.get(event);
  if (cached && cached.requestParameters === requestParameters && cached.responseElements === responseElements) return cached.ranges;
  const ranges = deepFreeze(readGrantedRanges(event));
  grantedByEvent.set(event, { requestParameters, responseElements, ranges });
  return ranges;
}

/**
 * Both lookups and the evaluation read the ranges: an event's are read once,
 * frozen, and read again if the event's request or response was replaced.
 */
const grantedByEvent = new WeakMap<CloudTrailEvent, { readonly requestParameters: unknown; readonly responseElements: unknown; readonly ranges: readonly IngressRange[] }>();

function readGrantedRanges(event: CloudTrailEvent): IngressRange[] {
  const { groupId } = targetGroup(event);
  const modify = modifyRequest(event);
  if (modify) {
    return listOf(modify['SecurityGroupRule']).flatMap((update) => {
      const rule = field(update, 'SecurityGroupRule');
      const base = {
        ...(groupId ? { groupId } : {}),
        ruleId: update['SecurityGroupRuleId'],
        ipProtocol: field(rule, 'IpProtocol'),
        fromPort: field(rule, 'FromPort'),
        toPort: field(rule, 'ToPort'),
        description: field(rule, 'Description'),
      };
      return [range(base, field(rule, 'CidrIpv4'), 4), range(base, field(rule, 'CidrIpv6'), 6)].filter((r) => r !== undefined);
    });
  }

  const requested = requestedRanges(event, groupId);
  const ruleSet = items(field(event.detail.responseElements, 'securityGroupRuleSet')).filter((rule) => rule['isEgress'] !== true);
  if (ruleSet.length > 0) {
    // The response lists what was created, with ids but without descriptions: take those from the request, so an undo restores them too.
    const descriptions = new Map(requested.map((r) => [rangeKey(r), r.description]));
    return ruleSet.flatMap((rule) => {
      const base = {
        groupId: stringField(rule, 'groupId') ?? groupId,
        ruleId: rule['securityGroupRuleId'],
        ipProtocol: rule['ipProtocol'],
        fromPort: rule['fromPort'],
        toPort: rule['toPort'],
      };
      return [range(base, rule['cidrIpv4'], 4), range(base, rule['cidrIpv6'], 6)]
        .filter((r) => r !== undefined)
        .map((r) => {
          const description = stringField(rule, 'description') ?? descriptions.get(rangeKey(r));
          return description === undefined ? r : { ...r, description };
        });
    });
  }
  return requested;
}

function rangeKey(r: IngressRange): string {
  return `${r.protocol}|${r.fromPort ?? ''}|${r.toPort ?? ''}|${r.cidr}`;
}

/** The ranges of the request: nested `ipPermissions` and the older flat form. */
function requestedRanges(event: CloudTrailEvent, groupId: string | undefined): IngressRange[] {
  const params = event.detail.requestParameters;
  const nested = items(field(params, 'ipPermissions')).flatMap((permission) => {
    const base = {
      ...(groupId ? { groupId } : {}),
      ipProtocol: permission['ipProtocol'],
      fromPort: permission['fromPort'],
      toPort: permission['toPort'],
    };
    return [
      ...items(permission['ipRanges']).map((r) => range({ ...base, description: r['description'] }, r['cidrIp'], 4)),
      ...items(permission['ipv6Ranges']).map((r) => range({ ...base, description: r['description'] }, r['cidrIpv6'], 6)),
    ].filter((r) => r !== undefined);
  });
  const flat = range(
    { ...(groupId ? { groupId } : {}), ipProtocol: field(params, 'ipProtocol'), fromPort: field(params, 'fromPort'), toPort: field(params, 'toPort') },
    field(params, 'cidrIp'),
    4,
  );
  return flat ? [...nested, flat] : nested;
}

function describePorts(r: IngressRange): string {
  if (r.protocol === 'all') return 'all traffic';
  const from = r.fromPort ?? 0;
  const to = r.toPort ?? 65535;
  return `${r.protocol}/${from === to ? from : `${from}-${to}`}`;
}

/** Why this range violates, or `undefined` when it does not. */
function offence(r: IngressRange, settings: SgOpenIngressSettings): string | undefined {
  const cidr = parseCidr(r.cidr);
  if (!cidr || !opensToInternet(cidr, settings)) return undefined;
  const where = `open to ${r.cidr}${cidr.prefix === 0 ? ' (the whole internet)' : ' (public address space)'}`;
  if (r.protocol === 'all') return `all traffic ${where}`;
  if (r.protocol === 'other') return undefined;
  const from = r.fromPort === undefined || r.fromPort < 0 ? 0 : r.fromPort;
  const to = r.toPort === undefined || r.toPort < 0 ? 65535 : r.toPort;
  const example = forbiddenPorts(r.protocol, from, to, settings.allowedPorts);
  if (example === undefined) return undefined;
  return `${describePorts(r)} ${where} includes ports outside the allowed list (${example})`;
}

/** EC2 `IpPermissions` for the given ranges, grouped by protocol and ports, IPv4 in `IpRanges` and IPv6 in `Ipv6Ranges`. */
function ipPermissions(ranges: readonly IngressRange[], withDescriptions: boolean): IpPermission[] {
  const groups = new Map<string, { head: IngressRange; v4: { CidrIp: string; Description?: string }[]; v6: { CidrIpv6: string; Description?: string }[] }>();
  for (const r of ranges) {
    const key = `${r.ipProtocol}|${r.fromPort ?? ''}|${r.toPort ?? ''}`;
    const group = groups.get(key) ?? { head: r, v4: [], v6: [] };
    const description = withDescriptions && r.description ? { Description: r.description } : {};
    if (r.family === 4) group.v4.push({ CidrIp: r.cidr, ...description });
    else group.v6.push({ CidrIpv6: r.cidr, ...description });
    groups.set(key, group);
  }
  return [...groups.values()].map(({ head, v4, v6 }) => ({
    IpProtocol: head.ipProtocol,
    ...(head.protocol !== 'all' && head.fromPort !== undefined ? { FromPort: head.fromPort } : {}),
    ...(head.protocol !== 'all' && head.toPort !== undefined ? { ToPort: head.toPort } : {}),
    ...(v4.length > 0 ? { IpRanges: v4 } : {}),
    ...(v6.length > 0 ? { Ipv6Ranges: v6 } : {}),
  }));
}

/** Protocols as EC2 answers them (`tcp`, `udp`, `icmp`, `-1`), whatever form the event used. */
/** Protocol numbers and `all` as EC2 answers them; a Map, so `constructor` or `__proto__` in an event stays a string. */
const PROTOCOL_NAMES: ReadonlyMap<string, string> = new Map([
  ['6', 'tcp'],
  ['17', 'udp'],
  ['1', 'icmp'],
  ['58', 'icmpv6'],
  ['all', '-1'],
]);

function canonicalProtocol(raw: unknown): string {
  const value = String(raw).toLowerCase();
  return PROTOCOL_NAMES.get(value) ?? value;
}

/** What a revoke step expects to find, and what the read before and after it compares against. */
type ExpectedIngress = {
  readonly ruleId?: string;
  readonly cidr: string;
  readonly ipProtocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
};

function expectedOf(r: IngressRange): ExpectedIngress {
  return {
    ...(r.ruleId ? { ruleId: r.ruleId } : {}),
    cidr: r.cidr,
    ipProtocol: canonicalProtocol(r.ipProtocol),
    ...(r.protocol !== 'all' && r.fromPort !== undefined ? { fromPort: r.fromPort } : {}),
    ...(r.protocol !== 'all' && r.toPort !== undefined ? { toPort: r.toPort } : {}),
  };
}

function describeExpected(expected: Readonly<Record<string, unknown>>): string {
  const protocol = String(expected['ipProtocol']);
  if (protocol === '-1') return `all traffic from ${String(expected['cidr'])}`;
  const from = expected['fromPort'];
  const to = expected['toPort'];
  return `${String(expected['cidr'])} on ${protocol}/${from === to ? String(from) : `${String(from)}-${String(to)}`}`;
}

/** Whether a rule (or permission) as EC2 describes it grants the same protocol and ports. */
function samePorts(expected: Readonly<Record<string, unknown>>, protocol: unknown, from: unknown, to: unknown): boolean {
  if (canonicalProtocol(protocol) !== expected['ipProtocol']) return false;
  if (expected['ipProtocol'] === '-1') return true;
  return (expected['fromPort'] ?? -1) === (from ?? -1) && (expected['toPort'] ?? -1) === (to ?? -1);
}

/**
 * One rule by id, as `DescribeSecurityGroupRules` answers now: gone (done),
 * still granting the offending range and ports (needed), or changed since the
 * event, for example set back to a private range (changed: nothing is revoked).
 */
const ingressRuleProbe = defineProbe(ec2, DescribeSecurityGroupRulesCommand, {
  name: 'ingressRule',
  notFoundCodes: ['InvalidSecurityGroupRuleId.NotFound'],
  judge(output, expected) {
    const id = String(expected['ruleId']);
    const rule = ((field(output, 'SecurityGroupRules') as unknown[] | undefined) ?? []).find((r) => field(r, 'SecurityGroupRuleId') === id);
    if (rule === undefined) return { state: 'done', evidence: `${id} no longer exists` };
    const cidr = field(rule, 'CidrIpv4') ?? field(rule, 'CidrIpv6');
    const now = `${typeof cidr === 'string' ? cidr : 'no CIDR (a group or prefix list reference)'} on ${String(field(rule, 'IpProtocol'))}/${String(field(rule, 'FromPort'))}-${String(field(rule, 'ToPort'))}`;
    if (field(rule, 'IsEgress') === true) return { state: 'changed', evidence: `${id} is an egress rule, not the ingress rule the event opened` };
    if (sameCidr(cidr, expected['cidr']) && samePorts(expected, field(rule, 'IpProtocol'), field(rule, 'FromPort'), field(rule, 'ToPort'))) {
      return { state: 'needed', evidence: `${id} still allows ${describeExpected(expected)}` };
    }
    return { state: 'changed', evidence: `${id} now allows ${now}, not ${describeExpected(expected)} as the event set it: nothing revoked` };
  },
});

/**
 * A group's ingress as `DescribeSecurityGroups` answers now, for events that
 * name no rule ids (older records, default-VPC groups by name): is a
 * permission with this protocol, these ports and this CIDR still there?
 */
const groupIngressProbe = defineProbe(ec2, DescribeSecurityGroupsCommand, {
  name: 'groupIngress',
  notFoundCodes: ['InvalidGroup.NotFound', 'InvalidGroupId.NotFound'],
  judge(output, expected) {
    const group = (field(output, 'SecurityGroups') as unknown[] | undefined)?.[0];
    if (group === undefined) return { state: 'done', evidence: `security group ${String(expected['group'])} no longer exists` };
    const permissions = (field(group, 'IpPermissions') as unknown[] | undefined) ?? [];
    const open = permissions.some(
      (permission) =>
        samePorts(expected, field(permission, 'IpProtocol'), field(permission, 'FromPort'), field(permission, 'ToPort')) &&
        [...((field(permission, 'IpRanges') as unknown[] | undefined) ?? []), ...((field(permission, 'Ipv6Ranges') as unknown[] | undefined) ?? [])].some(
          (range) => sameCidr(field(range, 'CidrIp') ?? field(range, 'CidrIpv6'), expected['cidr']),
        ),
    );
    return open
      ? { state: 'needed', evidence: `${String(expected['group'])} still allows ${describeExpected(expected)}` }
      : { state: 'done', evidence: `${String(expected['group'])} no longer allows ${describeExpected(expected)}` };
  },
});

/** The read that shows whether one offending range is still open: by its rule id when the event gave one, else in the group's permissions. */
function ingressCheck(group: { groupId?: string; groupName?: string }, r: IngressRange): StateCheck {
  const expected = expectedOf(r);
  if (r.ruleId && group.groupId) {
    return ingressRuleProbe.check({ SecurityGroupRuleIds: [r.ruleId] }, expected, `${r.ruleId} still allows ${describeExpected(expected)}`);
  }
  const label = group.groupId ?? group.groupName ?? '';
  return groupIngressProbe.check(
    group.groupId ? { GroupIds: [group.groupId] } : { GroupNames: group.groupName ? [group.groupName] : [] },
    { ...expected, group: label },
    `${label} still allows ${describeExpected(expected)}`,
  );
}

const revoke = defineAction(ec2, RevokeSecurityGroupIngressCommand);
const reauthorize = defineUndo(ec2, AuthorizeSecurityGroupIngressCommand);

/**
 * Revokes exactly the offending ranges, one step each: by rule id when the
 * event lists ids, else by an exact `IpPermissions` match. One rule per call
 * makes AWS's "not found" unambiguous, and each step reads the rule before
 * (is it still open as the event set it?) and after (is it gone?).
 */
function planRevoke(group: { groupId?: string; groupName?: string }, offending: readonly IngressRange[]): Plan {
  const groupRef = group.groupId ? { GroupId: group.groupId } : { GroupName: group.groupName };
  return offending.map((r) => {
    const byId = r.ruleId !== undefined && group.groupId !== undefined;
    return revoke.step(byId ? { GroupId: group.groupId, SecurityGroupRuleIds: [r.ruleId ?? ''] } : { ...groupRef, IpPermissions: ipPermissions([r], false) }, {
      reason: `Close ${r.ruleId ? `${r.ruleId} (${describePorts(r)} from ${r.cidr})` : `${describePorts(r)} from ${r.cidr}`}, open to the internet on a forbidden port; compliant rules stay.`,
      undo: reauthorize.undo({ ...groupRef, IpPermissions: ipPermissions([r], true) }, 'Re-open the revoked ingress exactly as it was granted.'),
      alreadyDoneCodes: ['InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound'],
      // A default-VPC revoke that matches nothing succeeds and lists what it did not find.
      noChangeWhen: ['UnknownIpPermissions'],
      ...checkedBothWays(ingressCheck(group, r)),
    });
  });
}

const securityGroupLookup = defineLookup(ec2, DescribeSecurityGroupsCommand, {
  name: 'securityGroup',
  input: (event, earlier, context?: RuleContext<SgOpenIngressSettings>) => {
    // The group's tags only matter for an exemption: an event that opens nothing forbidden needs no call.
    if (context && offendingRanges(event, earlier, context.settings).length === 0) return undefined;
    const { groupId, groupName } = targetGroup(event);
    if (groupId) return { GroupIds: [groupId] };
    return groupName ? { GroupNames: [groupName] } : undefined;
  },
  select: (output) => {
    const group = (field(output, 'SecurityGroups') as unknown[] | undefined)?.[0];
    return group === undefined ? null : { tags: tagsFromList(field(group, 'Tags')) };
  },
  notFoundCodes: ['InvalidGroup.NotFound', 'InvalidGroupId.NotFound'],
});

/** For `ModifySecurityGroupRules`, whose request does not say whether a rule is ingress or egress. */
const modifiedRulesLookup = defineLookup(ec2, DescribeSecurityGroupRulesCommand, {
  name: 'modifiedRules',
  input: (event) => {
    const ids = grantedRanges(event).map((r) => r.ruleId).filter((id): id is string => id !== undefined);
    return modifyRequest(event) && ids.length > 0 ? { SecurityGroupRuleIds: [...new Set(ids)] } : undefined;
  },
  // `null` when none of the rules exists any more (`InvalidSecurityGroupRuleId.NotFound`).
  select: (output): { readonly egressRuleIds: readonly string[] } | null => ({
    egressRuleIds: ((field(output, 'SecurityGroupRules') as unknown[] | undefined) ?? [])
      .filter((rule) => field(rule, 'IsEgress') === true)
      .map((rule) => field(rule, 'SecurityGroupRuleId'))
      .filter((id): id is string => typeof id === 'string'),
  }),
  notFoundCodes: ['InvalidSecurityGroupRuleId.NotFound'],
});

function egressRuleIds(facts: Facts): ReadonlySet<string> {
  return new Set(factValue(readFact(facts, modifiedRulesLookup))?.egressRuleIds ?? []);
}

/** The ranges the event grants on ingress: for `ModifySecurityGroupRules`, without the rules a lookup showed to be egress. */
function ingressRanges(event: CloudTrailEvent, facts: Facts) {
  const egress = egressRuleIds(facts);
  return grantedRanges(event).filter((r) => !r.ruleId || !egress.has(r.ruleId));
}

function offendingRanges(event: CloudTrailEvent, facts: Facts, settings: SgOpenIngressSettings) {
  return ingressRanges(event, facts).flatMap((r) => {
    const why = offence(r, settings);
    return why ? [{ range: r, why }] : [];
  });
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<SgOpenIngressSettings>): Verdict {
  const { settings } = context;
  const group = targetGroup(event);
  const groupLabel = group.groupId ?? group.groupName;
  if (!groupLabel) return { kind: 'skipped', reason: 'the event names no security group' };
  const resources = [groupLabel];

  const granted = ingressRanges(event, facts);
  const offending = offendingRanges(event, facts, settings);
  if (offending.length === 0) {
    return {
      kind: 'compliant',
      summary: `${granted.length} CIDR range${granted.length === 1 ? '' : 's'} granted on ${groupLabel}; none opens a forbidden port to the internet`,
      resources,
    };
  }

  const findings: Finding[] = offending.map(({ range: r, why }) => ({
    code: r.protocol === 'all' ? 'all-traffic-open' : 'forbidden-port-open',
    severity: 'high',
    message: `${why}.`,
    subject: `${r.ruleId ? `${r.ruleId} ` : ''}${describePorts(r)} from ${r.cidr}`,
  }));
  // A group that is gone since the event is left to the reads before each revoke: they report it, with the evidence.
  const exempt = exemptionReason(tagsFromFact(readFact(facts, securityGroupLookup)), context.config);
  if (exempt) return { kind: 'exempt', reason: `${groupLabel} is ${exempt}`, resources, findings };

  const first = findings[0]?.subject ?? '';
  return {
    kind: 'violation',
    summary: `${groupLabel}: ${first} open to the internet${findings.length > 1 ? ` (+${findings.length - 1} more)` : ''}`,
    resources,
    findings,
    plan: planRevoke(group, offending.map(({ range: r }) => r)),
  };
}

export const sgOpenIngress = defineRule<SgOpenIngressSettings>({
  id: 'sg-open-ingress',
  title: 'Security group open to the internet',
  severity: 'high',
  rationale:
    'A port such as SSH, RDP or a database listener open to the whole internet is scanned within minutes; only the ports a public service needs (by default HTTP and HTTPS) should face the internet.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules'] }],
  actions: [revoke],
  // modifiedRules first: which modified rules are egress decides whether anything offends.
  lookups: [modifiedRulesLookup, securityGroupLookup],
  probes: [ingressRuleProbe, groupIngressProbe],
  settings: SgOpenIngressSettingsSchema,
  evaluate,
});
