// The three calls a client makes: create a check, upload the selfie straight to S3 with the presigned POST (the image
// never passes through the API), and follow the check until it ends. Every failure becomes a ClientError that says
// what to do next.

import type { z } from 'zod';
import type { apiErrorSchema, checkListSchema, checkViewSchema, createdCheckSchema } from '../contracts/api';
import { TERMINAL_STATUSES } from '../lambdas/core/check';
import type { AcceptedContentType } from '../lambdas/core/upload-rules';
import { ClientError } from './client-error';

// The API's answers as its published contract defines them: the schemas api/openapi.json is generated from. Only
// the types are imported, so nothing of zod reaches the page.
export type CreatedCheck = z.output<typeof createdCheckSchema>;
export type Check = z.output<typeof checkViewSchema>;
export type PresignedUpload = CreatedCheck['upload'];
export type CheckList = z.output<typeof checkListSchema>;
type ApiErrorBody = z.output<typeof apiErrorSchema>;

/** The fields of `POST /v1/liveness-checks` this page sends; the rest keep the stack's defaults. */
export interface CheckRequest {
  readonly content_type: AcceptedContentType;
  readonly face_liveness_score_decline_threshold?: number;
  readonly vendor_data?: string;
}

export interface ApiSettings {
  /** Ends with a slash, so a deployed stage path (…/prod/) is kept when paths are joined onto it. */
  readonly base: URL;
  readonly key: string;
}

/** The retry workflow can take a few minutes when Didit is down; the check goes on if the page stops waiting. */
const WAIT_TIMEOUT_MS = 5 * 60 * 1000;

export function createCheck(api: ApiSettings, request: CheckRequest): Promise<CreatedCheck> {
  return callApi<CreatedCheck>(api, 'POST', 'v1/liveness-checks', request, 201);
}

export function getCheck(api: ApiSettings, id: string): Promise<Check> {
  return callApi<Check>(api, 'GET', `v1/liveness-checks/${encodeURIComponent(id)}`, undefined, 200);
}

/** The caller's own checks for one vendor_data, newest first (one page of at most `limit`). */
export function listChecks(api: ApiSettings, vendorData: string, limit = 20): Promise<CheckList> {
  const query = new URLSearchParams({ vendor_data: vendorData, limit: String(limit) });
  return callApi<CheckList>(api, 'GET', `v1/liveness-checks?${query}`, undefined, 200);
}

/** Erases the check (record, selfie, Didit's copy); 204, also when it was erased before. */
export async function deleteCheck(api: ApiSettings, id: string): Promise<void> {
  await callApi<undefined>(api, 'DELETE', `v1/liveness-checks/${encodeURIComponent(id)}`, undefined, 204);
}

async function callApi<T>(
  api: ApiSettings,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body: object | undefined,
  expectedStatus: number,
): Promise<T> {
  const url = new URL(path, api.base);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { 'x-api-key': api.key, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : null,
    });
  } catch {
    throw new ClientError(
      `Cannot reach the API at ${api.base}. Is it running, and does it allow this page's origin (CORS)?`,
    );
  }
  const text = await res.text();
  if (res.status === expectedStatus && expectedStatus === 204) return undefined as T;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ClientError(`The API answered ${res.status} without JSON. Is ${api.base} the liveness API URL?`);
  }
  // Trusted as the contract says: the page only displays these values, always as text.
  if (res.status === expectedStatus) return json as T;
  const error: ApiErrorBody['error'] = (json as Partial<ApiErrorBody> | null)?.error ?? {
    code: `HTTP_${res.status}`,
    message: (json as { message?: string } | null)?.message ?? res.statusText,
  };
  if (res.status === 401 || res.status === 403) {
    throw new ClientError(`The API refused the key (${res.status} ${error.code}). Check the API key.`);
  }
  if (res.status === 400 && Array.isArray(error.fields)) {
    throw new ClientError(
      `The API refused the request: ${error.fields.map((f) => `${f.field} ${f.message}`).join('; ')}`,
    );
  }
  throw new ClientError(`The API answered ${res.status} ${error.code}: ${error.message}`);
}

/**
 * XMLHttpRequest rather than fetch because only XHR reports upload progress. Every policy field goes first and the file
 * last: S3 ignores fields after the file. The bucket's CORS rule must allow this page's origin for POST.
 */
export function uploadToS3(
  upload: PresignedUpload,
  photo: { readonly blob: Blob; readonly name: string },
  contentType: AcceptedContentType,
  onProgress: (sent: number, total: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append('file', new Blob([photo.blob], { type: contentType }), photo.name);

    const xhr = new XMLHttpRequest();
    xhr.open('POST', upload.url);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(Math.min(event.loaded, photo.blob.size), photo.blob.size);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      const code = /<Code>([^<]*)<\/Code>/.exec(xhr.responseText)?.[1] ?? `HTTP ${xhr.status}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText)?.[1] ?? '';
      reject(new ClientError(`S3 refused the upload (${code}${message ? `: ${message}` : ''}).`));
    });
    xhr.addEventListener('error', () => {
      reject(
        new ClientError(
          "The upload to S3 failed: a network error, or the bucket's CORS rule does not allow this origin.",
        ),
      );
    });
    xhr.addEventListener('timeout', () => reject(new ClientError('The upload to S3 timed out.')));
    xhr.timeout = 120_000;
    xhr.send(form);
  });
}

/** Why a WAITING check is not at Didit yet, for the person at the page. */
const WAIT_REASONS: Record<NonNullable<Check['wait']>['reason'], string> = {
  PACED: 'queued for Didit',
  DIDIT_THROTTLED: 'Didit is busy; trying again shortly',
  OUT_OF_CREDITS: 'the service is waiting for Didit credits',
  DEPENDENCY_THROTTLED: 'busy; trying again shortly',
};

/**
 * Polls until the check reaches one of the service's terminal statuses (COMPLETED, FAILED, EXPIRED), backing off to
 * one request every 2 s. `onStatus` hears each new status, with why it waits while WAITING and the retry round while
 * Didit is being retried.
 */
export async function waitForDecision(api: ApiSettings, id: string, onStatus: (seen: string) => void): Promise<Check> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  let interval = 250;
  let last = '';
  for (;;) {
    const check = await getCheck(api, id);
    const seen = check.wait
      ? `${check.status} (${WAIT_REASONS[check.wait.reason]})`
      : check.retry
        ? `${check.status} (retry round ${check.retry.round})`
        : check.status;
    if (seen !== last) {
      last = seen;
      onStatus(seen);
    }
    if (TERMINAL_STATUSES.includes(check.status)) return check;
    if (Date.now() > deadline) {
      throw new ClientError(`Still ${check.status} after 5 minutes; the check goes on: look it up later by id ${id}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(interval * 1.5, 2000);
  }
}
