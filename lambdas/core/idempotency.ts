import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { CheckOptions } from './check';

/**
 * `Idempotency-Key` on `POST /v1/liveness-checks`: a client that retries a create after a network error gets the same
 * check back instead of paying for a second one. The key is the caller's (two callers' equal keys never meet), lives
 * 24 hours, and is bound to the request it came with: the same key with another body is a conflict.
 */

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** How long a key keeps answering with its check. */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;
/** Printable ASCII, 1–255 characters (a UUID is the usual choice). */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * What an erased check's record keeps instead of its fingerprint: the request's hash covers vendor_data, metadata and
 * callback_url, so DELETE does not leave it behind. The key still answers 409 (deleted) until its window ends.
 */
export const ERASED_FINGERPRINT = 'erased';

/** The record that binds a caller's key to the check it created, stored beside the checks (never a check). */
export interface IdempotencyRecord {
  /** `idem#` + SHA-256 of caller and key: the raw key (which may carry meaning) is not stored. */
  readonly id: string;
  readonly check_id: string;
  /** SHA-256 of the canonical request options: the same key may only ever mean this request. */
  readonly fingerprint: string;
  readonly created_at: string;
  /** Epoch seconds; the table's TTL removes the record after the window. */
  readonly expires_at: number;
}

/** Whether the header's value can be a key; the handler names the header in the 400 otherwise. */
export function isIdempotencyKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

export function idempotencyRecordId(caller: string, key: string): string {
  return `idem#${createHash('sha256').update(`${caller}\n${key}`).digest('hex')}`;
}

/** The request as validated, with defaults applied: two bodies that mean the same options have the same fingerprint. */
export function requestFingerprint(options: CheckOptions): string {
  return createHash('sha256').update(canonicalJson(options)).digest('hex');
}
