import { Agent, type Dispatcher, FormData } from 'undici';
import { errorForDiditStatus, parseDiditResponse, parseRateLimit, salvageDiditResponse } from '../core/didit-response';
import type { DiditAnswer, DiditLivenessRequest } from '../core/didit-types';
import type { DiditPort } from '../core/ports';
import { DiditChargedAnswerError, DiditUnavailableError, LivenessError } from '../errors';
import { traceRemoteCall } from '../observability';

/** Where Didit is and how long each phase of a call may take (the processor's config provides them). */
export interface DiditClientOptions {
  readonly baseUrl: string;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

/**
 * Didit passive liveness over one keep-alive connection pool. Build it once per container: the TLS handshake to Didit
 * then happens once, not on every check.
 *
 * Every failure leaves as a named error (core/didit-response.ts decides which): DiditRejectedRequestError /
 * DiditAuthError (permanent), DiditRateLimitedError (429), DiditOutOfCreditsError (402, or a 403 whose body says so),
 * DiditUnavailableError (timeouts, resets, 408/5xx before an answer arrived), or DiditChargedAnswerError: a 2xx — so
 * the check was paid for — whose body did not arrive whole or is not the documented shape, with the body kept (capped)
 * and whatever is usable in it. Each answer's budget headers come back with it. Messages never hold the image, the API
 * key or vendor data.
 */

const PASSIVE_LIVENESS_PATH = '/v3/passive-liveness/';
/** The documented response is about 1 KB; what is kept of a charged body that cannot be parsed. */
const MAX_KEPT_ANSWER_BYTES = 64 * 1024;
/** Enough of an error body for its `detail`; the rest (an HTML error page, say) is dropped. */
const MAX_ERROR_BODY_BYTES = 16 * 1024;

/**
 * Idle sockets are kept long enough to span the gap between invocations on a warm container, and closed well before
 * the 60 s idle timeout common on load balancers so that we, not the server, close them. A socket the server closed
 * while the container was frozen still fails its next request: that surfaces as DiditUnavailableError and is retried.
 * A `Keep-Alive: timeout=` hint from Didit takes precedence (up to the maximum).
 */
const KEEP_ALIVE_TIMEOUT_MS = 15_000;
const KEEP_ALIVE_MAX_TIMEOUT_MS = 50_000;

/** Error codes (on the error or its causes) that mean the network or Didit failed, not our request. */
const TRANSIENT_CODES: Readonly<Record<string, string>> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
  UND_ERR_SOCKET: 'socket closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_ABORTED: 'request aborted',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'truncated response',
  ECONNRESET: 'connection reset',
  ECONNREFUSED: 'connection refused',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'network timeout',
  ENOTFOUND: 'DNS lookup failed',
  EAI_AGAIN: 'DNS lookup failed',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  ENETDOWN: 'network down',
};

export interface CheckLivenessOptions {
  /** Aborts the call, e.g. shortly before the Lambda deadline; surfaces as DiditUnavailableError. */
  readonly signal?: AbortSignal;
}

export class DiditClient implements DiditPort {
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly path: string;

  constructor(
    config: DiditClientOptions,
    private readonly apiKey: () => Promise<string>,
  ) {
    const base = new URL(config.baseUrl);
    this.origin = base.origin;
    // A base URL with a path (a proxy in front of Didit) keeps it.
    this.path = `${base.pathname.replace(/\/+$/, '')}${PASSIVE_LIVENESS_PATH}`;
    this.agent = new Agent({
      connect: { timeout: config.connectTimeoutMs },
      headersTimeout: config.headersTimeoutMs,
      bodyTimeout: config.bodyTimeoutMs,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MAX_TIMEOUT_MS,
    });
  }

  async checkLiveness(request: DiditLivenessRequest, options: CheckLivenessOptions = {}): Promise<DiditAnswer> {
    const apiKey = await this.apiKey();
    // The subsegment times Didit alone (not the secret lookup), so a slow check shows where its time went.
    return traceRemoteCall({ origin: this.origin, path: this.path, method: 'POST' }, async (trace) => {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.agent.request({
          origin: this.origin,
          path: this.path,
          method: 'POST',
          headers: { 'x-api-key': apiKey, accept: 'application/json' },
          body: multipartBody(request),
          signal: options.signal ?? null,
        });
      } catch (error) {
        throw transportError(error);
      }

      const { statusCode, headers, body } = response;
      trace.status(statusCode);
      const now = new Date();
      if (statusCode < 200 || statusCode > 299) {
        try {
          // The status decides the error; a body that is too large or cannot be read only costs the detail.
          const text = await readText(body, MAX_ERROR_BODY_BYTES).catch(() => undefined);
          throw errorForDiditStatus(statusCode, text?.text ?? '', headers, now);
        } finally {
          body.destroy();
        }
      }
      // From here the check has been charged: whatever goes wrong, it is never retried.
      const rateLimit = parseRateLimit(headers, now);
      let text: { text: string; truncated: boolean };
      try {
        text = await readText(body, MAX_KEPT_ANSWER_BYTES);
      } catch (error) {
        const reason = transientReason(error) ?? (error instanceof Error ? error.name : 'unreadable body');
        throw new DiditChargedAnswerError(
          `Didit answered HTTP ${statusCode} but the body did not arrive (${reason}); charged, not retried`,
          '',
          undefined,
          { cause: error },
        );
      } finally {
        // A body left unread would hold its socket; destroying one already read is a no-op.
        body.destroy();
      }
      let json: unknown;
      try {
        json = JSON.parse(text.text);
      } catch (error) {
        const what = text.truncated ? `larger than ${MAX_KEPT_ANSWER_BYTES} bytes` : 'not JSON';
        throw new DiditChargedAnswerError(
          `Didit answered HTTP ${statusCode} with a body that is ${what}`,
          text.text,
          undefined,
          {
            cause: error,
          },
        );
      }
      try {
        return { response: parseDiditResponse(json), rateLimit };
      } catch (error) {
        if (!(error instanceof LivenessError)) throw error;
        throw new DiditChargedAnswerError(
          `${error.message} (HTTP ${statusCode})`,
          text.text,
          salvageDiditResponse(json),
          {
            cause: error,
          },
        );
      }
    });
  }

  /** Closes pooled connections; in-flight calls finish first. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** The documented multipart form: text fields as strings, the image as a named file, optional fields omitted. */
function multipartBody(request: DiditLivenessRequest): FormData {
  const form = new FormData();
  const type = imageType(request.image);
  form.append('user_image', new Blob([request.image], { type: type.mime }), `selfie.${type.extension}`);
  form.append('face_liveness_score_decline_threshold', String(request.faceLivenessScoreDeclineThreshold));
  form.append('rotate_image', String(request.rotateImage));
  form.append('save_api_request', String(request.saveApiRequest));
  if (request.vendorData !== undefined) form.append('vendor_data', request.vendorData);
  if (request.metadata !== undefined) form.append('metadata', JSON.stringify(request.metadata));
  return form;
}

/** The image pipeline sends JPEG; naming the file by its magic bytes keeps name and type honest for any other input. */
function imageType(bytes: Uint8Array): { mime: string; extension: string } {
  const at = (offset: number, ...sig: number[]) => sig.every((b, i) => bytes[offset + i] === b);
  const starts = (...sig: number[]) => at(0, ...sig);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return { mime: 'image/png', extension: 'png' };
  // RIFF....WEBP
  if (starts(0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return { mime: 'image/webp', extension: 'webp' };
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a))
    return { mime: 'image/tiff', extension: 'tiff' };
  return { mime: 'image/jpeg', extension: 'jpg' };
}

/** The body as UTF-8, up to `limit` bytes (the rest is not read). */
async function readText(
  body: Dispatcher.ResponseData['body'],
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = limit - size;
    if (chunk.byteLength > room) {
      chunks.push(chunk.subarray(0, room));
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    size += chunk.byteLength;
    chunks.push(chunk);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

/** Network and timeout failures become DiditUnavailableError; anything else (a bug) is rethrown unchanged. */
export function transportError(error: unknown): unknown {
  const reason = transientReason(error);
  if (reason === undefined) return error;
  return new DiditUnavailableError(`Didit call failed: ${reason}`, undefined, { cause: error });
}

function transientReason(error: unknown): string | undefined {
  let current: unknown = error;
  // Node wraps socket errors in undici errors and AggregateErrors (one per address tried); the code may sit deeper.
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, name, errors } = current as { code?: unknown; name?: unknown; errors?: unknown };
    if (typeof code === 'string') {
      const reason = TRANSIENT_CODES[code];
      if (reason) return `${reason} (${code})`;
      // llhttp could not parse what came back: a proxy or a broken connection, not our request.
      if (code.startsWith('HPE_')) return `malformed HTTP response (${code})`;
    }
    if (name === 'AbortError' || name === 'TimeoutError') return `request aborted (${name})`;
    if (Array.isArray(errors) && errors.length > 0) {
      current = errors[0];
      continue;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
