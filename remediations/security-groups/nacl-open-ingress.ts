/**
 * nacl-open-ingress: a network ACL entry that lets the whole internet in on a
 * port that should not face it.
 *
 * Triggers: `CreateNetworkAclEntry` and `ReplaceNetworkAclEntry`
 * (`ec2.amazonaws.com`). CloudTrail records their requests unwrapped, in
 * lowerCamelCase: `networkAclId`, `ruleNumber`, `egress`, `ruleAction`,
 * `aclProtocol` (the protocol number as a string, `-1` for all), `cidrBlock`
 * or `ipv6CidrBlock`, `portRange {from, to}`, `icmpTypeCode`.
 * Violation: an ingress (`egress` false) `allow` entry from any `/0` (IPv4 or
 * IPv6) for all traffic (`-1`), or for tcp or udp ports outside `allowedPorts`
 * (the setting `sg-open-ingress` has, parsed the same way).
 *
 * Changes (`remediate`; `propose` by default): deletes exactly that entry,
 * `DeleteNetworkAclEntry {NetworkAclId, RuleNumber, Egress: false}`, only
 * while `DescribeNetworkAcls` shows the entry with that number still allowing
 * the event's CIDR, protocol and ports (gone: already done; another entry
 * under the number since: `stale`, nothing deleted); read again afterwards.
 * Undo: `CreateNetworkAclEntry` of the entry exactly as the event made it.
 * Never touches: egress entries, deny entries, entries from narrower ranges,
 * other rule numbers, the network ACL itself and its subnet associations.
 * Exemption: the network ACL's exemption tag (`DescribeNetworkAcls`, read
 * only when the entry offends).
 * Permissions: `ec2:DeleteNetworkAclEntry` on network ACLs (in `remediate`
 * mode); `ec2:DescribeNetworkAcls` (no resource type: `*`).
 */
import * as z from 'zod/mini';
import { CreateNetworkAclEntryCommand, DeleteNetworkAclEntryCommand, DescribeNetworkAclsCommand } from '@aws-sdk/client-ec2';
import { parseCidr } from '../../engine/cidr.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList } from '../../engine/exemption.js';
import { checkedBothWays, type Facts, type Finding, type RuleContext, type Verdict } from '../../engine/types.js';
import { defineAction, defineLookup, defineProbe, defineRule, defineUndo, field, readFact, text } from '../../rulekit/index.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { AllowedPortsSchema, forbiddenPorts, normaliseProtocol, port, sameCidr, type Protocol } from './open-ingress.js';

const NaclOpenIngressSettingsSchema = z.strictObject({
  /** Ports that may be open to the internet, as for `sg-open-ingress`. */
  allowedPorts: AllowedPortsSchema,
});
type NaclOpenIngressSettings = z.infer<typeof NaclOpenIngressSettingsSchema>;

/** The entry an event created (or replaced), read from its request. */
interface AclEntry {
  readonly networkAclId: string;
  readonly ruleNumber: number;
  readonly egress: boolean;
  readonly ruleAction: string;
  /** As sent (`6`, `-1`, or a name such as `tcp`), reused verbatim by the undo. */
  readonly rawProtocol: string;
  readonly protocol: Protocol;
  readonly cidr: string;
  readonly family: 4 | 6;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

function flag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return undefined;
}

function integer(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^-?\d{1,6}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) ? number : undefined;
}

/** The entry of the request, or why it cannot be read. */
function requestedEntry(event: CloudTrailEvent): AclEntry | string {
  const params = event.detail.requestParameters;
  const networkAclId = text(field(params, 'networkAclId'));
  if (!networkAclId) return 'the event names no network ACL';
  const ruleNumber = integer(field(params, 'ruleNumber'));
  const egress = flag(field(params, 'egress'));
  // CloudTrail names the protocol `aclProtocol`; `protocol` is the API's name, accepted too.
  const protocolValue = field(params, 'aclProtocol') ?? field(params, 'protocol');
  const rawProtocol = typeof protocolValue === 'number' ? String(protocolValue) : text(protocolValue);
  const ruleAction = text(field(params, 'ruleAction'));
  const v4 = text(field(params, 'cidrBlock'));
  const v6 = text(field(params, 'ipv6CidrBlock'));
  const cidr = v4 ?? v6;
  if (ruleNumber === undefined || egress === undefined || !rawProtocol || !ruleAction || !cidr) {
    return `the request of ${networkAclId} lacks the rule number, direction, protocol, action or CIDR block`;
  }
  const fromPort = port(field(params, 'portRange', 'from'));
  const toPort = port(field(params, 'portRange', 'to'));
  const icmpType = integer(field(params, 'icmpTypeCode', 'type'));
  const icmpCode = integer(field(params, 'icmpTypeCode', 'code'));
  return {
    networkAclId,
    ruleNumber,
    egress,
    ruleAction: ruleAction.toLowerCase(),
    rawProtocol,
    protocol: normaliseProtocol(rawProtocol),
    cidr,
    family: v4 ? 4 : 6,
    ...(fromPort !== undefined ? { fromPort } : {}),
    ...(toPort !== undefined ? { toPort } : {}),
    ...(icmpType !== undefined ? { icmpType } : {}),
    ...(icmpCode !== undefined ? { icmpCode } : {}),
  };
}

function describePorts(entry: Pick<AclEntry, 'protocol' | 'rawProtocol' | 'fromPort' | 'toPort'>): string {
  if (entry.protocol === 'all') return 'all traffic';
  if (entry.protocol === 'other') return `protocol ${entry.rawProtocol}`;
  const from = entry.fromPort ?? 0;
  const to = entry.toPort ?? 65535;
  return `${entry.protocol}/${from === to ? from : `${from}-${to}`}`;
}

/** Why this entry violates, or `undefined` when it does not. */
function offence(entry: AclEntry, settings: NaclOpenIngressSettings): string | undefined {
  if (entry.egress || entry.ruleAction !== 'allow') return undefined;
  const cidr = parseCidr(entry.cidr);
  if (!cidr || cidr.prefix !== 0) return undefined;
  const where = `open to ${entry.cidr} (the whole internet)`;
  if (entry.protocol === 'all') return `all traffic ${where}`;
  if (entry.protocol === 'other') return undefined;
  // EC2 requires a port range for tcp and udp; a record without one is read as every port.
  const from = entry.fromPort === undefined || entry.fromPort < 0 ? 0 : entry.fromPort;
  const to = entry.toPort === undefined || entry.toPort < 0 ? 65535 : entry.toPort;
  const example = forbiddenPorts(entry.protocol, from, to, settings.allowedPorts);
  return example === undefined ? undefined : `${describePorts(entry)} ${where} includes ports outside the allowed list (${example})`;
}

const PROTOCOL_NUMBERS: ReadonlyMap<string, string> = new Map([['tcp', '6'], ['udp', '17'], ['icmp', '1'], ['icmpv6', '58'], ['all', '-1']]);
const PROTOCOL_NAMES: ReadonlyMap<string, string> = new Map([['6', 'tcp'], ['17', 'udp']]);

/** Protocols as `DescribeNetworkAcls` answers them: numbers as strings (`6`, `17`, `-1`). */
function protocolNumber(raw: unknown): string {
  const value = String(raw).toLowerCase();
  return PROTOCOL_NUMBERS.get(value) ?? value;
}

/** What the reads before and after the delete compare against. */
function expectedOf(entry: AclEntry): Readonly<Record<string, unknown>> {
  const ports = entry.protocol === 'tcp' || entry.protocol === 'udp';
  return {
    networkAclId: entry.networkAclId,
    ruleNumber: entry.ruleNumber,
    cidr: entry.cidr,
    protocol: protocolNumber(entry.rawProtocol),
    ...(ports && entry.fromPort !== undefined ? { fromPort: entry.fromPort } : {}),
    ...(ports && entry.toPort !== undefined ? { toPort: entry.toPort } : {}),
  };
}

function describeExpected(expected: Readonly<Record<string, unknown>>): string {
  const protocol = String(expected['protocol']);
  if (protocol === '-1') return `all traffic from ${String(expected['cidr'])}`;
  const name = PROTOCOL_NAMES.get(protocol) ?? `protocol ${protocol}`;
  const from = expected['fromPort'];
  const to = expected['toPort'];
  const ports = from === undefined ? '' : `/${from === to ? String(from) : `${String(from)}-${String(to)}`}`;
  return `${String(expected['cidr'])} on ${name}${ports}`;
}

function entryLabel(expected: Readonly<Record<string, unknown>>): string {
  return `${String(expected['networkAclId'])} ingress rule ${String(expected['ruleNumber'])}`;
}

/**
 * The entry with this number and direction as `DescribeNetworkAcls` answers
 * now: gone (done), still allowing the event's range, protocol and ports
 * (needed), or another entry under the same number (changed: nothing is deleted).
 */
const ingressEntryProbe = defineProbe(ec2, DescribeNetworkAclsCommand, {
  name: 'networkAclIngressEntry',
  notFoundCodes: ['InvalidNetworkAclID.NotFound'],
  judge(output, expected) {
    const label = entryLabel(expected);
    const acl = (field(output, 'NetworkAcls') as unknown[] | undefined)?.[0];
    if (acl === undefined) return { state: 'done', evidence: `network ACL ${String(expected['networkAclId'])} no longer exists` };
    const entry = ((field(acl, 'Entries') as unknown[] | undefined) ?? []).find(
      (candidate) => field(candidate, 'RuleNumber') === expected['ruleNumber'] && field(candidate, 'Egress') === false,
    );
    if (entry === undefined) return { state: 'done', evidence: `${label} no longer exists` };
    const protocol = protocolNumber(field(entry, 'Protocol'));
    const ports = protocol === '6' || protocol === '17';
    const now = {
      cidr: field(entry, 'CidrBlock') ?? field(entry, 'Ipv6CidrBlock'),
      protocol,
      ...(ports ? { fromPort: field(entry, 'PortRange', 'From'), toPort: field(entry, 'PortRange', 'To') } : {}),
    };
    const action = String(field(entry, 'RuleAction'));
    const same =
      action === 'allow' &&
      sameCidr(now.cidr, expected['cidr']) &&
      protocol === expected['protocol'] &&
      (!ports || (now.fromPort === expected['fromPort'] && now.toPort === expected['toPort']));
    if (same) return { state: 'needed', evidence: `${label} still allows ${describeExpected(expected)}` };
    return { state: 'changed', evidence: `${label} now ${action === 'allow' ? 'allows' : 'denies'} ${describeExpected(now)}, not ${describeExpected(expected)} as the event set it: nothing deleted` };
  },
});

function aclFilter(networkAclId: string) {
  return { Filters: [{ Name: 'network-acl-id', Values: [networkAclId] }] };
}

const deleteEntry = defineAction(ec2, DeleteNetworkAclEntryCommand);
const recreateEntry = defineUndo(ec2, CreateNetworkAclEntryCommand);

function planDelete(entry: AclEntry) {
  const expected = expectedOf(entry);
  return [
    deleteEntry.step(
      { NetworkAclId: entry.networkAclId, RuleNumber: entry.ruleNumber, Egress: false },
      {
        reason: `Delete ${entryLabel(expected)} (allow ${describePorts(entry)} from ${entry.cidr}), open to the internet on a forbidden port; other entries stay.`,
        undo: recreateEntry.undo(
          {
            NetworkAclId: entry.networkAclId,
            RuleNumber: entry.ruleNumber,
            Egress: false,
            Protocol: entry.rawProtocol,
            // Only `allow` entries offend.
            RuleAction: 'allow',
            ...(entry.family === 4 ? { CidrBlock: entry.cidr } : { Ipv6CidrBlock: entry.cidr }),
            ...(entry.fromPort !== undefined && entry.toPort !== undefined ? { PortRange: { From: entry.fromPort, To: entry.toPort } } : {}),
            ...(entry.icmpType !== undefined || entry.icmpCode !== undefined
              ? { IcmpTypeCode: { ...(entry.icmpType !== undefined ? { Type: entry.icmpType } : {}), ...(entry.icmpCode !== undefined ? { Code: entry.icmpCode } : {}) } }
              : {}),
          },
          'Recreate the network ACL entry exactly as the event created it.',
        ),
        alreadyDoneCodes: ['InvalidNetworkAclEntry.NotFound', 'InvalidNetworkAclID.NotFound'],
        ...checkedBothWays(ingressEntryProbe.check(aclFilter(entry.networkAclId), expected, `${entryLabel(expected)} still allows ${describeExpected(expected)}`)),
      },
    ),
  ];
}

const networkAclLookup = defineLookup(ec2, DescribeNetworkAclsCommand, {
  name: 'networkAcl',
  input: (event, _earlier, context?: RuleContext<NaclOpenIngressSettings>) => {
    const entry = requestedEntry(event);
    // The tags only matter for an exemption: an entry that opens nothing forbidden costs no call.
    if (typeof entry === 'string' || (context && offence(entry, context.settings) === undefined)) return undefined;
    return aclFilter(entry.networkAclId);
  },
  select: (output) => {
    const acl = (field(output, 'NetworkAcls') as unknown[] | undefined)?.[0];
    return acl === undefined ? null : { tags: tagsFromList(field(acl, 'Tags')) };
  },
  notFoundCodes: ['InvalidNetworkAclID.NotFound'],
});

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<NaclOpenIngressSettings>): Verdict {
  const entry = requestedEntry(event);
  if (typeof entry === 'string') return { kind: 'skipped', reason: entry };
  const resources = [entry.networkAclId];
  const why = offence(entry, context.settings);
  const label = `${entry.networkAclId} ${entry.egress ? 'egress' : 'ingress'} rule ${entry.ruleNumber}`;
  if (why === undefined) {
    return { kind: 'compliant', summary: `${label} (${entry.ruleAction} ${describePorts(entry)} from ${entry.cidr}) opens no forbidden port to the internet`, resources };
  }
  const findings: Finding[] = [
    {
      code: entry.protocol === 'all' ? 'all-traffic-open' : 'forbidden-port-open',
      severity: 'high',
      message: `${label}: ${why}. Network ACL entries are evaluated by rule number: an entry with a lower number can still deny this traffic first.`,
      subject: `rule ${entry.ruleNumber} ${describePorts(entry)} from ${entry.cidr}`,
    },
  ];
  // A network ACL gone since the event is left to the read before the delete: it reports it, with the evidence.
  const exempt = exemptionReason(tagsFromFact(readFact(facts, networkAclLookup)), context.config);
  if (exempt) return { kind: 'exempt', reason: `${entry.networkAclId} is ${exempt}`, resources, findings };
  return {
    kind: 'violation',
    summary: `${entry.networkAclId}: ingress rule ${entry.ruleNumber} allows ${describePorts(entry)} from ${entry.cidr}`,
    resources,
    findings,
    plan: planDelete(entry),
  };
}

export const naclOpenIngress = defineRule<NaclOpenIngressSettings>({
  id: 'nacl-open-ingress',
  title: 'Network ACL open to the internet',
  severity: 'high',
  rationale:
    'A network ACL entry that allows the whole internet in on SSH, RDP or a database port removes the subnet-wide layer behind the security groups: one group opened by mistake is then enough to expose every instance of the subnet.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['CreateNetworkAclEntry', 'ReplaceNetworkAclEntry'] }],
  actions: [deleteEntry],
  lookups: [networkAclLookup],
  probes: [ingressEntryProbe],
  settings: NaclOpenIngressSettingsSchema,
  evaluate,
});
