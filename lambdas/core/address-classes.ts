import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * What kind of address an IP literal is, from the IANA special-purpose registries. The SSRF guard
 * (adapters/callback-guard.ts) and the create-time callback rules (create-request.ts) let callbacks reach `public`
 * addresses only (and loopback on the local stack). IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address
 * they carry.
 */

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link_local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  | 'invalid';

/** IANA IPv4 special-purpose registry, most specific first (broadcast sits inside 240/4). */
const IPV4_RANGES: readonly (readonly [string, number, AddressClass])[] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link_local'],
  ['172.16.0.0', 12, 'private'],
  // IETF protocol assignments (DS-Lite, NAT64 discovery…)
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  // Retired 6to4 relay anycast: a packet there may be tunnelled anywhere.
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
];

/**
 * IPv6 blocks inside global unicast 2000::/3 that are not public; everything outside 2000::/3 is refused anyway.
 * IPv4-mapped and NAT64 addresses are judged by the IPv4 address they carry, before this list.
 */
const IPV6_RANGES: readonly (readonly [string, number, AddressClass])[] = [
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
  ['2001:2::', 48, 'benchmarking'],
  // IETF protocol assignments, including Teredo 2001::/32 (carries an obfuscated IPv4 address).
  ['2001::', 23, 'reserved'],
  // 6to4: carries an IPv4 address that a relay would dial.
  ['2002::', 16, 'reserved'],
];
/** Named outside 2000::/3 so the class is more telling than "reserved". */
const IPV6_OUTSIDE_GLOBAL: readonly (readonly [string, number, AddressClass])[] = [
  ['fc00::', 7, 'private'],
  ['fec0::', 10, 'private'],
  ['fe80::', 10, 'link_local'],
  ['ff00::', 8, 'multicast'],
];

/**
 * One BlockList per class, and separate lists per family: a BlockList also matches IPv4 addresses against IPv6
 * subnets through their mapped form, which would blur the two tables.
 */
function compile(ranges: readonly (readonly [string, number, AddressClass])[], family: 'ipv4' | 'ipv6') {
  return ranges.map(([network, prefix, kind]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, family);
    return { list, kind };
  });
}
const IPV4_LISTS = compile(IPV4_RANGES, 'ipv4');
const IPV6_LISTS = compile([...IPV6_RANGES, ...IPV6_OUTSIDE_GLOBAL], 'ipv6');
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');

/**
 * The kind of address a literal IP is. Only `public` may receive callbacks (and `loopback` on the local stack).
 * Anything that is not an IP literal, or carries an IPv6 zone, is `invalid`.
 */
export function classifyAddress(address: string): AddressClass {
  if (isIPv4(address)) return classifyIpv4(address);
  if (!isIPv6(address) || address.includes('%')) return 'invalid';
  const groups = ipv6Groups(address);
  if (groups === undefined) return 'invalid';
  if (groups.every((group) => group === 0)) return 'unspecified';
  if (groups.slice(0, 7).every((group) => group === 0) && groups[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d reaches a.b.c.d itself; 64:ff9b::a.b.c.d reaches it through the NAT64 gateway.
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
  if (mapped || nat64) return classifyIpv4(embeddedIpv4(groups));
  for (const { list, kind } of IPV6_LISTS) if (list.check(address, 'ipv6')) return kind;
  return GLOBAL_UNICAST.check(address, 'ipv6') ? 'public' : 'reserved';
}

function classifyIpv4(address: string): AddressClass {
  for (const { list, kind } of IPV4_LISTS) if (list.check(address, 'ipv4')) return kind;
  return 'public';
}

/** The eight 16-bit groups of an IPv6 address already validated by `isIPv6`. */
function ipv6Groups(address: string): number[] | undefined {
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0] ?? '');
  const tail = groupsOf(halves[1] ?? '');
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function groupsOf(part: string): number[] | undefined {
  if (part === '') return [];
  const groups: number[] = [];
  for (const piece of part.split(':')) {
    if (isIPv4(piece)) {
      const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
      groups.push(Number.parseInt(piece, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function embeddedIpv4(groups: readonly number[]): string {
  const high = groups[6] ?? 0;
  const low = groups[7] ?? 0;
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
