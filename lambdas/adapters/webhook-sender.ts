import { performance } from 'node:perf_hooks';
import type { Agent, Dispatcher } from 'undici';
import type { WebhookSenderPort } from '../core/ports';
import {
  assertDeliverableUrl,
  type CallbackPolicy,
  CallbackRefusedError,
  createCallbackAgent,
  type HostResolver,
} from './callback-guard';

/**
 * One attempt to deliver a signed webhook to a client's callback URL. Build one sender per container so connections
 * to a busy receiver are reused between deliveries.
 *
 * The sender reports what happened and decides nothing: a status code (any, including 3xx: redirects are never
 * followed, since a redirect could point anywhere after the URL was checked), a CallbackRefusedError (the URL may
 * never be called) or a WebhookTransportError (the network failed; retryable). {@link classifyDelivery} turns the
 * status into the next step. Nothing from the response body is kept or logged.
 */

export type WebhookTransportCode =
  | 'TIMEOUT'
  | 'CONNECTION_RESET'
  | 'CONNECTION_REFUSED'
  | 'DNS'
  | 'UNREACHABLE'
  | 'TLS'
  | 'PROTOCOL'
  | 'ABORTED';

/** The delivery did not get an HTTP answer; a later attempt may. */
export class WebhookTransportError extends Error {
  override readonly name = 'WebhookTransportError';
  readonly retryable = true;
  constructor(
    readonly code: WebhookTransportCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type DeliveryOutcome = 'delivered' | 'retry' | 'give_up';

/**
 * 2xx delivered; 408, 429 and 5xx say "later"; any other status (other 4xx, a 3xx we will not follow) will not change
 * by sending the same request again.
 */
export function classifyDelivery(statusCode: number): DeliveryOutcome {
  if (statusCode >= 200 && statusCode <= 299) return 'delivered';
  if (statusCode === 408 || statusCode === 429 || (statusCode >= 500 && statusCode <= 599)) return 'retry';
  return 'give_up';
}

export interface WebhookSenderOptions {
  /** Local stack only: allow `http://localhost` / loopback receivers. */
  readonly allowLoopbackHttp: boolean;
  /** Origins whose callbacks may use a port other than 443. @default [] */
  readonly allowedOrigins?: readonly string[];
  /**
   * DNS lookup, TCP connect and TLS handshake together.
   * @default 5000
   */
  readonly connectTimeoutMs?: number;
  /**
   * From sending the request to the end of the response headers: how long the receiver may take to answer.
   * @default 10000
   */
  readonly headersTimeoutMs?: number;
  /**
   * Longest wait for the next chunk of the response body, and for the (capped) body as a whole.
   * @default 5000
   */
  readonly bodyTimeoutMs?: number;
  /**
   * `User-Agent` of every delivery.
   * @default 'didit-liveness-webhooks/1'
   */
  readonly userAgent?: string;
  /**
   * Hostname resolution, for tests.
   * @default dns.lookup
   */
  readonly resolveHost?: HostResolver;
}

export interface DeliveryResult {
  readonly statusCode: number;
  /** From sending the request to receiving the response headers. */
  readonly latencyMs: number;
}

export interface DeliverOptions {
  /** Aborts the attempt, e.g. shortly before the Lambda deadline; surfaces as WebhookTransportError ABORTED. */
  readonly signal?: AbortSignal;
}

/** Receivers answer with a few bytes; reading past this only costs us. */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
const DEFAULT_BODY_TIMEOUT_MS = 5_000;
const DEFAULT_USER_AGENT = 'didit-liveness-webhooks/1';

const TRANSPORT_CODES: Readonly<Record<string, WebhookTransportCode>> = {
  UND_ERR_CONNECT_TIMEOUT: 'TIMEOUT',
  UND_ERR_HEADERS_TIMEOUT: 'TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'TIMEOUT',
  ETIMEDOUT: 'TIMEOUT',
  ECONNRESET: 'CONNECTION_RESET',
  EPIPE: 'CONNECTION_RESET',
  ECONNABORTED: 'CONNECTION_RESET',
  // undici's "other side closed": the receiver closed the socket without answering.
  UND_ERR_SOCKET: 'CONNECTION_RESET',
  UND_ERR_CLOSED: 'CONNECTION_RESET',
  ECONNREFUSED: 'CONNECTION_REFUSED',
  ENOTFOUND: 'DNS',
  EAI_AGAIN: 'DNS',
  EAI_FAIL: 'DNS',
  EAI_NONAME: 'DNS',
  EAI_NODATA: 'DNS',
  ENODATA: 'DNS',
  ENETUNREACH: 'UNREACHABLE',
  EHOSTUNREACH: 'UNREACHABLE',
  ENETDOWN: 'UNREACHABLE',
  EHOSTDOWN: 'UNREACHABLE',
  EPROTO: 'TLS',
  CERT_HAS_EXPIRED: 'TLS',
  CERT_NOT_YET_VALID: 'TLS',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS',
  UND_ERR_ABORTED: 'ABORTED',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'PROTOCOL',
  UND_ERR_INFO: 'PROTOCOL',
};

export class WebhookSender implements WebhookSenderPort {
  private readonly agent: Agent;
  private readonly policy: CallbackPolicy;
  private readonly bodyTimeoutMs: number;
  private readonly userAgent: string;

  constructor(options: WebhookSenderOptions) {
    this.policy = { allowLoopbackHttp: options.allowLoopbackHttp, allowedOrigins: options.allowedOrigins ?? [] };
    this.bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.agent = createCallbackAgent({
      allowLoopbackHttp: options.allowLoopbackHttp,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: this.bodyTimeoutMs,
      ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}),
    });
  }

  /**
   * POSTs `body` (JSON) once. Resolves with any HTTP status; rejects with CallbackRefusedError or
   * WebhookTransportError when there is no HTTP answer.
   *
   * @param headers The signature headers (and any others); `content-type` defaults to application/json.
   */
  async deliver(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
    options: DeliverOptions = {},
  ): Promise<DeliveryResult> {
    const target = assertDeliverableUrl(url, this.policy);
    const requestHeaders: Record<string, string> = { 'content-type': 'application/json', 'user-agent': this.userAgent };
    // Lower-cased so a caller's Content-Type replaces the default instead of travelling beside it.
    for (const [name, value] of Object.entries(headers)) requestHeaders[name.toLowerCase()] = value;

    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await this.agent.request({
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers: requestHeaders,
        body,
        signal: options.signal ?? null,
      });
    } catch (error) {
      throw deliveryError(error);
    }
    const latencyMs = Math.round(performance.now() - started);
    await discard(response.body, this.bodyTimeoutMs);
    return { statusCode: response.statusCode, latencyMs };
  }

  /** Closes pooled connections; in-flight deliveries finish first. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * Reads and drops the response body so the connection can carry the next delivery. A body past the cap, or one that
 * trickles in for longer than the body timeout, is cut off instead: that costs the connection, never the result,
 * because the status has already been received.
 */
async function discard(body: Dispatcher.ResponseData['body'], deadlineMs: number): Promise<void> {
  const timer = setTimeout(() => body.destroy(), deadlineMs);
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > MAX_RESPONSE_BODY_BYTES) break;
    }
  } catch {
    // A reset or timeout while reading the body does not change the answer we already have.
  } finally {
    clearTimeout(timer);
    body.destroy();
  }
}

/** Refusals stay refusals; network failures become WebhookTransportError; anything else (a bug) is rethrown. */
function deliveryError(error: unknown): unknown {
  const chain = causeChain(error);
  const refused = chain.find((link) => link instanceof CallbackRefusedError);
  if (refused !== undefined) return refused;
  for (const link of chain) {
    const { code, name } = link as { code?: unknown; name?: unknown };
    const transport = typeof code === 'string' ? transportCode(code) : undefined;
    if (transport !== undefined) {
      return new WebhookTransportError(transport, `webhook delivery failed: ${transport} (${String(code)})`, {
        cause: error,
      });
    }
    if (name === 'AbortError' || name === 'TimeoutError') {
      const reason = name === 'TimeoutError' ? 'TIMEOUT' : 'ABORTED';
      return new WebhookTransportError(reason, `webhook delivery failed: ${reason} (${name})`, { cause: error });
    }
  }
  return error;
}

/** undici and net wrap socket errors (and AggregateErrors, one per address tried); the telling one may sit deeper. */
function causeChain(error: unknown): object[] {
  const chain: object[] = [];
  let current: unknown = error;
  while (chain.length < 5 && typeof current === 'object' && current !== null) {
    chain.push(current);
    const { errors, cause } = current as { errors?: unknown; cause?: unknown };
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : cause;
  }
  return chain;
}

function transportCode(code: string): WebhookTransportCode | undefined {
  const known = TRANSPORT_CODES[code];
  if (known !== undefined) return known;
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) return 'TLS';
  // llhttp could not parse the answer: not HTTP, or a broken connection.
  if (code.startsWith('HPE_')) return 'PROTOCOL';
  return undefined;
}
