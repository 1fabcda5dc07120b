/**
 * fetch and node:http fail with a generic "fetch failed" whose useful part (ECONNREFUSED, ENOTFOUND, a TLS error) is
 * in `cause`, sometimes nested; an aborted timeout is a DOMException. This digs out a code and a phrase a person
 * can act on.
 */
export function describeNetworkError(error: unknown): { code: string; reason: string } {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return { code: 'TIMEOUT', reason: 'no answer in time' };
  }
  let current: unknown = error;
  let innermost = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const { code } = current as NodeJS.ErrnoException;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') {
      return { code, reason: REASONS[code] ? `${REASONS[code]} (${code})` : current.message };
    }
    innermost = current.message;
    current = current.cause;
  }
  // Without a code the deepest message is the specific one ("bad port"); the outer one is just "fetch failed".
  return { code: 'NETWORK_ERROR', reason: innermost };
}

const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused, nothing is listening there',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved right now',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  CERT_HAS_EXPIRED: 'the TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate is self-signed',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate does not match the host name',
};
