import { Agent } from 'undici';
import { errorForDiditStatus } from '../core/didit-response';
import type { DiditSessionEraserPort, DiditSessionErasure } from '../core/ports';
import { traceRemoteCall } from '../observability';
import { type DiditClientOptions, transportError } from './didit-client';

/** Enough of an error body for its `detail`; the rest is not read. */
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** Didit session ids are UUIDs; anything else is never put into a URL path. */
const SESSION_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Asks Didit to delete a saved session: `DELETE /v3/session/{id}/delete/` with the API key. 204 means deleted; 404
 * means Didit has no such session (already deleted, or never saved): either way nothing of it is left there. Every
 * other answer leaves as the named error core/didit-response.ts gives it (401/403 DiditAuthError, 429
 * DiditRateLimitedError, 5xx DiditUnavailableError, …), and network failures as DiditUnavailableError; the sweeper
 * records the error on the tombstone and tries again later.
 */
export class DiditSessionEraser implements DiditSessionEraserPort {
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly basePath: string;

  constructor(
    config: DiditClientOptions,
    private readonly apiKey: () => Promise<string>,
  ) {
    const base = new URL(config.baseUrl);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.agent = new Agent({
      connect: { timeout: config.connectTimeoutMs },
      headersTimeout: config.headersTimeoutMs,
      bodyTimeout: config.bodyTimeoutMs,
    });
  }

  async deleteSession(sessionId: string): Promise<DiditSessionErasure> {
    if (!SESSION_ID.test(sessionId)) throw new TypeError('Not a Didit session id');
    const apiKey = await this.apiKey();
    const path = `${this.basePath}/v3/session/${encodeURIComponent(sessionId)}/delete/`;
    return traceRemoteCall(
      { origin: this.origin, path: `${this.basePath}/v3/session/{id}/delete/`, method: 'DELETE' },
      async (trace) => {
        let response: Awaited<ReturnType<Agent['request']>>;
        try {
          response = await this.agent.request({
            origin: this.origin,
            path,
            method: 'DELETE',
            headers: { 'x-api-key': apiKey, accept: 'application/json' },
          });
        } catch (error) {
          throw transportError(error);
        }
        const { statusCode, headers, body } = response;
        trace.status(statusCode);
        if (statusCode >= 200 && statusCode <= 299) {
          await discard(body);
          return 'DELETED';
        }
        if (statusCode === 404) {
          await discard(body);
          return 'ALREADY_GONE';
        }
        const text = await readText(body).catch(() => '');
        await discard(body);
        throw errorForDiditStatus(statusCode, text, headers);
      },
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Reads what is left of a body and drops it, so the connection goes back to the pool (never throws). */
async function discard(body: { dump(): Promise<void> }): Promise<void> {
  await body.dump().catch(() => undefined);
}

async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= MAX_ERROR_BODY_BYTES) break;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY_BYTES);
}
