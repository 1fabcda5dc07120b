import { expect } from 'vitest';
import { isTerminal } from '../../lambdas/core/check';
import { eventually } from './eventually';

/** A minimal client for the liveness API as a client app would use it: JSON in, presigned POST upload, polling. */
export class ApiClient {
  constructor(
    readonly apiUrl: string,
    readonly apiKey: string,
  ) {}

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: { 'x-api-key': this.apiKey, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  async createCheck(body: Record<string, unknown> = {}) {
    const res = await this.request('POST', '/v1/liveness-checks', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as {
      id: string;
      status: string;
      upload: { url: string; fields: Record<string, string>; expires_at: string; max_bytes: number };
      created_at: string;
    };
  }

  /** Uploads exactly as a browser or `curl -F` would: policy fields first, the file last. */
  static async upload(upload: { url: string; fields: Record<string, string> }, bytes: Uint8Array, type: string) {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append('file', new Blob([bytes], { type }), 'selfie');
    const res = await fetch(upload.url, { method: 'POST', body: form });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
  }

  async getCheck(id: string) {
    return this.request('GET', `/v1/liveness-checks/${id}`);
  }

  /**
   * Polls until the check reaches COMPLETED, FAILED or EXPIRED, or fails the test after `timeoutMs`. A terminal
   * view is read twice and returned only when both reads agree: moto applies an UpdateItem to the stored item one
   * attribute at a time, so a read racing the write can see `status: FAILED` before its `error`.
   */
  async waitForTerminal(id: string, timeoutMs = 20_000) {
    return eventually(
      `check ${id} to reach a terminal status`,
      async () => {
        const res = await this.getCheck(id);
        if (!isTerminal(res.body?.status)) throw new Error(`still ${res.body?.status}`);
        const again = await this.getCheck(id);
        if (JSON.stringify(again.body) !== JSON.stringify(res.body)) throw new Error('still being written');
        return again.body;
      },
      { timeoutMs },
    );
  }
}
