import type { CheckView, CreatedCheck } from '../lambdas/core/check-view';
import { type ApiTarget, apiUrl } from './api-target';
import { CliError } from './cli-error';
import { describeNetworkError } from './network-error';

/** One page of `GET /v1/liveness-checks?vendor_data=…`. */
export interface CheckPage {
  readonly items: readonly CheckView[];
  readonly next_cursor: string | null;
}

/** The body of `POST /v1/liveness-checks` the CLI can send; every field is optional. */
export interface CreateCheckBody {
  readonly content_type: string;
  readonly face_liveness_score_decline_threshold?: number;
  readonly vendor_data?: string;
}

interface ApiErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string; readonly fields?: readonly FieldProblem[] };
  /** API Gateway's own default responses carry only `message`. */
  readonly message?: string;
}

interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

const REQUEST_TIMEOUT_MS = 15_000;
/** 429 (usage plan) and 503 (a throttled dependency) say "come back shortly"; a few tries ride out a burst. */
const BUSY_RETRIES = 3;
const MAX_RETRY_AFTER_MS = 10_000;

/** The two API calls a client makes, with every failure turned into a CliError that says what to do about it. */
export class LivenessApiClient {
  constructor(private readonly target: ApiTarget) {}

  createCheck(body: CreateCheckBody): Promise<CreatedCheck> {
    return this.request<CreatedCheck>('POST', 'v1/liveness-checks', 201, body);
  }

  getCheck(id: string): Promise<CheckView> {
    return this.request<CheckView>('GET', `v1/liveness-checks/${encodeURIComponent(id)}`, 200);
  }

  /** One page of the caller's own checks for a vendor_data, newest first. */
  listChecks(vendorData: string, limit: number, cursor?: string): Promise<CheckPage> {
    const query = new URLSearchParams({ vendor_data: vendorData, limit: String(limit), ...(cursor ? { cursor } : {}) });
    return this.request<CheckPage>('GET', `v1/liveness-checks?${query}`, 200);
  }

  /** Erases the check; 204 (also when it was already erased). A check that does not exist is an API_ERROR (404). */
  async deleteCheck(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `v1/liveness-checks/${encodeURIComponent(id)}`, 204);
  }

  private async request<T>(method: string, path: string, expected: number, body?: unknown): Promise<T> {
    const url = apiUrl(this.target, path);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: {
            'x-api-key': this.target.apiKey,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        const { code, reason } = describeNetworkError(error);
        throw new CliError('API_UNREACHABLE', `cannot reach the API at ${this.target.baseUrl}: ${reason}`, {
          code,
          hint: `Is the API URL right (from ${this.target.source})? For the local stack run \`npm start\` first.`,
          cause: error,
        });
      }
      const text = await res.text();
      if (res.status === expected) return expected === 204 ? (undefined as T) : parseJson<T>(text, res, url);
      if ((res.status === 429 || res.status === 503) && attempt < BUSY_RETRIES) {
        await sleep(retryAfterMs(res.headers.get('retry-after'), attempt));
        continue;
      }
      throw this.errorFor(res, text, method, url);
    }
  }

  private errorFor(res: Response, text: string, method: string, url: string): CliError {
    const body = tryJson<ApiErrorBody>(text);
    const code = body?.error?.code ?? `HTTP_${res.status}`;
    const message = body?.error?.message ?? body?.message ?? (text.slice(0, 200) || res.statusText);
    if (res.status === 401 || res.status === 403) {
      return new CliError('AUTH_FAILED', `the API refused the key (${res.status} ${code}): ${message}`, {
        code,
        hint:
          'Check --key or LIVENESS_API_KEY. The local stack uses local-dev-key; for a deployed stack read the key ' +
          'with: aws apigateway get-api-key --api-key <ApiKeyId output> --include-value --query value --output text',
      });
    }
    if (res.status === 400 && body?.error?.fields) {
      const fields = body.error.fields.map((f) => `${f.field} ${f.message}`).join('; ');
      return new CliError('USAGE_ERROR', `the API refused the request: ${fields}`, { code });
    }
    if (body === undefined) {
      return new CliError('API_ERROR', `${method} ${url} answered ${res.status} without a JSON body`, {
        code,
        hint: 'Is this the liveness API? A deployed URL includes the stage, e.g. https://…/prod/',
      });
    }
    return new CliError('API_ERROR', `${method} ${url} answered ${res.status} ${code}: ${message}`, {
      code,
      ...(res.status === 404 ? { hint: 'A deployed URL includes the stage, e.g. https://…/prod/' } : {}),
    });
  }
}

function parseJson<T>(text: string, res: Response, url: string): T {
  const parsed = tryJson<T>(text);
  if (parsed === undefined) {
    throw new CliError('API_ERROR', `${url} answered ${res.status} without a JSON body`, {
      hint: 'Is this the liveness API? A deployed URL includes the stage, e.g. https://…/prod/',
    });
  }
  return parsed;
}

function tryJson<T>(text: string): T | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}

function retryAfterMs(header: string | null, attempt: number): number {
  const seconds = Number(header);
  const fallback = 500 * 2 ** attempt;
  return Math.min(Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : fallback, MAX_RETRY_AFTER_MS);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
