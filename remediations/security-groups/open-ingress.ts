/**
 * What the security-groups family's rules share about ingress open to the
 * internet (security groups and network ACLs): the `allowedPorts` setting (its
 * schema and its parsing), protocols as EC2 records them (`tcp`, `6`, `-1`),
 * ports as CloudTrail records them, the forbidden ports a range contains,
 * named for a person, and CIDR equality (`engine/cidr.ts` parses).
 */
import * as z from 'zod/mini';
import { parseCidr } from '../../engine/cidr.js';
import { deepFreeze } from '../../engine/frozen.js';

/** `tcp/443`, `udp/53` or a range `tcp/8000-8080`: ports 0-65535, a range from low to high. */
const PortSpecSchema = z.string().check(
  z.regex(/^(tcp|udp)\/\d{1,5}(-\d{1,5})?$/, { error: 'a port is "tcp/443", "udp/53" or a range "tcp/8000-8080"', abort: true }),
  z.refine((spec) => spec.split('/')[1]?.split('-').every((port) => Number(port) <= 65535) ?? false, 'a port is a number from 0 to 65535'),
  z.refine((spec) => {
    const [from = 0, to = from] = (spec.split('/')[1] ?? '').split('-').map(Number);
    return from <= to;
  }, 'a port range goes from the lower port to the higher one, e.g. "tcp/80-443"'),
);

/** Ports that may be open to the internet: by default HTTP and HTTPS. */
export const AllowedPortsSchema = z._default(z.array(PortSpecSchema), ['tcp/80', 'tcp/443']);

export type Protocol = 'tcp' | 'udp' | 'all' | 'other';

/** A protocol by name or number, as security groups (`tcp`, `-1`) and network ACLs (`6`, `-1`) record it. */
export function normaliseProtocol(raw: string): Protocol {
  const value = raw.toLowerCase();
  if (value === '-1' || value === 'all') return 'all';
  if (value === 'tcp' || value === '6') return 'tcp';
  if (value === 'udp' || value === '17') return 'udp';
  return 'other';
}

/** Ports arrive as numbers or, in some exports, numeric strings. */
export function port(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^-?\d{1,5}$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) && number >= -1 && number <= 65535 ? number : undefined;
}

const WELL_KNOWN_PORTS: Readonly<Record<number, string>> = {
  20: 'ftp-data', 21: 'ftp', 22: 'ssh', 23: 'telnet', 25: 'smtp', 53: 'dns', 135: 'msrpc', 137: 'netbios',
  139: 'netbios', 445: 'smb', 1433: 'mssql', 1521: 'oracle', 2049: 'nfs', 2375: 'docker', 2379: 'etcd',
  3306: 'mysql', 3389: 'rdp', 5432: 'postgres', 5601: 'kibana', 5900: 'vnc', 6379: 'redis', 8888: 'jupyter',
  9200: 'elasticsearch', 11211: 'memcached', 27017: 'mongodb',
};

interface PortRange {
  readonly protocol: 'tcp' | 'udp';
  readonly from: number;
  readonly to: number;
}

/** The settings' port lists, parsed once each: a replay checks thousands of ranges against the same list. */
const parsedSpecs = new WeakMap<readonly string[], readonly PortRange[]>();

function parsePortSpecs(specs: readonly string[]): readonly PortRange[] {
  let parsed = parsedSpecs.get(specs);
  if (!parsed) {
    parsed = deepFreeze(readPortSpecs(specs));
    parsedSpecs.set(specs, parsed);
  }
  return parsed;
}

function readPortSpecs(specs: readonly string[]): PortRange[] {
  return specs.map((spec) => {
    const [protocol, ports = ''] = spec.split('/') as ['tcp' | 'udp', string];
    const [from, to = from] = ports.split('-').map(Number) as [number, number?];
    return { protocol, from, to };
  });
}

function allows(allowed: readonly PortRange[], protocol: 'tcp' | 'udp', port: number): boolean {
  return allowed.some((r) => r.protocol === protocol && r.from <= port && port <= r.to);
}

/** The first port in [from, to] that no allowed range of that protocol covers. */
function firstForbiddenPort(protocol: 'tcp' | 'udp', from: number, to: number, allowed: readonly PortRange[]): number | undefined {
  let next = from;
  for (const r of [...allowed].filter((a) => a.protocol === protocol).sort((a, b) => a.from - b.from)) {
    if (r.from > next) break;
    next = Math.max(next, r.to + 1);
  }
  return next <= to ? next : undefined;
}

/**
 * The ports of [from, to] outside `allowedPorts`, for a person: up to three
 * well-known ones (`22/ssh, 3389/rdp`), else the first forbidden port;
 * `undefined` when every port of the range is allowed.
 */
export function forbiddenPorts(protocol: 'tcp' | 'udp', from: number, to: number, allowedPorts: readonly string[]): string | undefined {
  const allowed = parsePortSpecs(allowedPorts);
  const first = firstForbiddenPort(protocol, from, to, allowed);
  if (first === undefined) return undefined;
  const named = Object.keys(WELL_KNOWN_PORTS)
    .map(Number)
    .filter((p) => from <= p && p <= to && !allows(allowed, protocol, p))
    .slice(0, 3)
    .map((p) => `${p}/${WELL_KNOWN_PORTS[p]}`);
  return named.length > 0 ? named.join(', ') : String(first);
}

/** Whether two CIDRs name the same range, whatever their spelling (`203.0.113.9/0` is `0.0.0.0/0`). */
export function sameCidr(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const left = parseCidr(a);
  const right = parseCidr(b);
  return left !== undefined && right !== undefined && left.family === right.family && left.network === right.network && left.prefix === right.prefix;
}
