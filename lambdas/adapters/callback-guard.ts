import { type LookupAddress, lookup as systemLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { type AddressClass, classifyAddress } from './address-classes';

export { type AddressClass, classifyAddress };

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

export type CallbackRefusalReason =
  | 'invalid_url'
  | 'scheme_not_allowed'
  | 'credentials_in_url'
  | 'address_not_allowed'
  | 'port_not_allowed';

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
  /**
   * Origins (`https://host:port`) whose callbacks may use a port other than 443 (`callbackAllowedOrigins`).
   * @default []
   */
  readonly allowedOrigins?: readonly string[];
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
  // The parser drops the default port: an empty port is 443 for https.
  if (!loopbackAllowed && parsed.port !== '' && !(policy.allowedOrigins ?? []).includes(parsed.origin)) {
    throw new CallbackRefusedError('port_not_allowed', 'callback URL must use port 443 unless its origin is allowed');
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
