import { type LookupAddress, lookup as systemLookup } from 'node:dns';
import { BlockList, isIP, isIPv4, isIPv6, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';

/**
 * Callback URLs come from API clients, so every outgoing delivery is an SSRF risk: a URL naming (or a hostname
 * resolving to) the instance metadata service, a VPC address or loopback would make us call it with our network
 * position. Two gates:
 *
 * 1. {@link assertDeliverableUrl} when the URL is accepted and again before each delivery: `https:` only (plain
 *    `http:` to loopback for the local stack), no credentials, no literal non-public address;
 * 2. {@link createCallbackAgent}, whose connector resolves the hostname itself and refuses the connection before it is
 *    opened when any resolved address is not public. The check runs on the address actually dialled, at connect
 *    time, so a DNS answer that changes between the URL check and the connection (rebinding) cannot slip through.
 *    A kept-alive socket stays on the address that was checked.
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

export type CallbackRefusalReason = 'invalid_url' | 'scheme_not_allowed' | 'credentials_in_url' | 'address_not_allowed';

/** The callback target may never be called: retrying cannot help until its URL changes. */
export class CallbackRefusedError extends Error {
  override readonly name = 'CallbackRefusedError';
  readonly code = 'CALLBACK_REFUSED';
  readonly retryable = false;
  constructor(
    readonly reason: CallbackRefusalReason,
    message: string,
    /** The class of the refused address, when an address was the reason. */
    readonly addressClass?: AddressClass,
  ) {
    super(message);
  }
}

export interface CallbackPolicy {
  /** Local stack only: also allow loopback, and plain `http:` to it. Never set in AWS. */
  readonly allowLoopbackHttp: boolean;
}

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

/** Whether a callback may connect to this resolved address under the policy. */
export function isAllowedAddress(address: string, policy: CallbackPolicy): boolean {
  const kind = classifyAddress(address);
  return kind === 'public' || (policy.allowLoopbackHttp && kind === 'loopback');
}

/**
 * The callback URL, parsed, if it may be called: `https:` to a name or a public address; on the local stack also
 * `http:`/`https:` to `localhost` or a loopback address. Hostnames are resolved and checked again at connect time by
 * {@link createCallbackAgent}; this check alone does not stop a name that resolves to a private address.
 *
 * @throws CallbackRefusedError
 */
export function assertDeliverableUrl(url: string | URL, policy: CallbackPolicy): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CallbackRefusedError('invalid_url', 'callback URL is not a valid URL');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new CallbackRefusedError('credentials_in_url', 'callback URL must not carry credentials');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new CallbackRefusedError('scheme_not_allowed', 'callback URL must use https');
  }
  // The URL parser has already turned 0x7f.1, 2130706433 and friends into dotted IPv4, and lower-cased the name.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (host === '') throw new CallbackRefusedError('invalid_url', 'callback URL has no host');
  const literal = isIP(host) !== 0;
  // RFC 6761: localhost and its subdomains always resolve to loopback.
  const kind: AddressClass | undefined = literal
    ? classifyAddress(host)
    : host === 'localhost' || host.endsWith('.localhost')
      ? 'loopback'
      : undefined;

  const loopbackAllowed = policy.allowLoopbackHttp && kind === 'loopback';
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopbackAllowed)) {
    throw new CallbackRefusedError('scheme_not_allowed', 'callback URL must use https');
  }
  if (kind !== undefined && kind !== 'public' && !loopbackAllowed) {
    throw new CallbackRefusedError('address_not_allowed', `callback URL names a ${kind} address`, kind);
  }
  return parsed;
}

/** Resolves a hostname to every address it has; injectable so tests can play a rebinding DNS server. */
export type HostResolver = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface CallbackAgentOptions extends CallbackPolicy {
  /** Covers the DNS lookup, the TCP connection and the TLS handshake. */
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /**
   * How long an idle connection is kept for the next delivery to the same origin.
   * @default 10000
   */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Resolves hostnames before connecting.
   * @default dns.lookup with all addresses
   */
  readonly resolveHost?: HostResolver;
}

const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 10_000;

/**
 * An undici Agent that only ever opens connections to allowed addresses: IP literals are checked before dialling,
 * hostnames through a lookup that refuses the whole name when any of its addresses is not allowed (a name mixing
 * public and private addresses is not a legitimate callback), and the connected socket's remote address once more.
 * Plain `http:` connections are only opened to loopback, and only with `allowLoopbackHttp`.
 *
 * The agent follows no redirects and uses no proxy from the environment.
 */
export function createCallbackAgent(options: CallbackAgentOptions): Agent {
  const resolve = options.resolveHost ?? resolveWithSystem;
  const httpsAllowed = (address: string) => isAllowedAddress(address, options);
  const httpAllowed = (address: string) => options.allowLoopbackHttp && classifyAddress(address) === 'loopback';
  const base = { timeout: options.connectTimeoutMs };
  const dialHttps = buildConnector({ ...base, lookup: guardedLookup(resolve, httpsAllowed) });
  const dialHttp = buildConnector({ ...base, lookup: guardedLookup(resolve, httpAllowed) });

  const connect: buildConnector.connector = (connectOptions, callback) => {
    const https = connectOptions.protocol === 'https:';
    if (!https && !(connectOptions.protocol === 'http:' && options.allowLoopbackHttp)) {
      callback(new CallbackRefusedError('scheme_not_allowed', 'callback connection must use https'), null);
      return;
    }
    const allowed = https ? httpsAllowed : httpAllowed;
    const host = connectOptions.hostname.replace(/^\[(.*)\]$/, '$1');
    // net.connect skips the lookup for an IP literal, so the literal is judged here.
    if (isIP(host) !== 0 && !allowed(host)) {
      callback(refusal(host), null);
      return;
    }
    (https ? dialHttps : dialHttp)(connectOptions, (error, socket) => {
      if (error !== null || socket === null) {
        callback(error ?? new Error('connector returned no socket'), null);
        return;
      }
      const remote = socket.remoteAddress;
      if (remote === undefined || !allowed(remote)) {
        socket.destroy();
        callback(refusal(remote ?? ''), null);
        return;
      }
      callback(null, socket);
    });
  };

  return new Agent({
    connect,
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    keepAliveMaxTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  });
}

function refusal(address: string): CallbackRefusedError {
  const kind = classifyAddress(address);
  return new CallbackRefusedError('address_not_allowed', `callback host resolves to a ${kind} address`, kind);
}

/**
 * A `lookup` for net/tls.connect that resolves every address of the name and refuses all of them if any one is not
 * allowed. Node asks for one address or, with autoSelectFamily (the default since Node 20), for all of them.
 */
function guardedLookup(resolve: HostResolver, allowed: (address: string) => boolean): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const family = lookupOptions.family;
        const usable = family === 4 || family === 6 ? addresses.filter((entry) => entry.family === family) : addresses;
        const first = usable[0];
        if (first === undefined) {
          callback(Object.assign(new Error('DNS lookup returned no address'), { code: 'ENOTFOUND' }), '');
          return;
        }
        const refused = addresses.find((entry) => !allowed(entry.address));
        if (refused !== undefined) {
          callback(refusal(refused.address), '');
          return;
        }
        if (lookupOptions.all) callback(null, [...usable]);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

function resolveWithSystem(hostname: string): Promise<readonly LookupAddress[]> {
  return new Promise((resolve, reject) => {
    systemLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });
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
