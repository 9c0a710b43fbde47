/**
 * CIDR arithmetic for "is this range the internet?". Addresses are BigInts so
 * IPv4 and IPv6 share one code path.
 */

interface Cidr {
  readonly family: 4 | 6;
  /** Network address with host bits cleared. */
  readonly network: bigint;
  readonly prefix: number;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  let address = text;
  // An embedded IPv4 tail (::ffff:192.0.2.1) is rewritten as its two hex groups.
  if (address.includes('.')) {
    const lastColon = address.lastIndexOf(':');
    const v4 = lastColon >= 0 ? parseIpv4(address.slice(lastColon + 1)) : undefined;
    if (v4 === undefined) return undefined;
    address = `${address.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const split = (part: string | undefined) => (part === undefined || part === '' ? [] : part.split(':'));
  const left = split(halves[0]);
  const right = split(halves[1]);
  let groups = left;
  if (halves.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

/** Parses `a.b.c.d/n` or an IPv6 CIDR; a bare address is a host route. Host bits are cleared: `203.0.113.9/0` is `0.0.0.0/0`. */
export function parseCidr(text: string): Cidr | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  if (rest.length > 0) return undefined;
  const family = address.includes(':') ? 6 : 4;
  const bits = family === 4 ? 32 : 128;
  const value = family === 4 ? parseIpv4(address) : parseIpv6(address);
  if (value === undefined) return undefined;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > bits) return undefined;
  }
  const hostBits = BigInt(bits - prefix);
  const network = (value >> hostBits) << hostBits;
  return { family, network, prefix };
}

const PRIVATE_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8'];
const PRIVATE_V6 = ['fc00::/7', 'fe80::/10', '::1/128'];
const privateBlocks = [...PRIVATE_V4, ...PRIVATE_V6].map((text) => parseCidr(text)).filter((cidr): cidr is Cidr => cidr !== undefined);

/** True when every address of `inner` lies inside `outer`. */
function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const bits = outer.family === 4 ? 32 : 128;
  const shift = BigInt(bits - outer.prefix);
  return inner.network >> shift === outer.network >> shift;
}

/** True when the range lies entirely within private, loopback, link-local or shared address space. */
function isEntirelyPrivate(cidr: Cidr): boolean {
  return privateBlocks.some((block) => cidrContains(block, cidr));
}

interface InternetThresholds {
  /** IPv4 ranges with a prefix shorter than this (wider) count as the internet. */
  readonly ipv4MinPrefix: number;
  readonly ipv6MinPrefix: number;
}

/**
 * A range "opens to the internet" when it covers public address space and is
 * wider than the threshold. Every `/0` is the whole internet, whatever its address.
 */
export function opensToInternet(cidr: Cidr, thresholds: InternetThresholds): boolean {
  if (cidr.prefix === 0) return true;
  const minPrefix = cidr.family === 4 ? thresholds.ipv4MinPrefix : thresholds.ipv6MinPrefix;
  return cidr.prefix < minPrefix && !isEntirelyPrivate(cidr);
}
