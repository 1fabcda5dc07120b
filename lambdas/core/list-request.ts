import { createHash } from 'node:crypto';
import { type FieldError, RequestValidationError } from '../errors';
import type { Owner } from './caller';
import { isCheckId } from './check';
import { VENDOR_DATA_MAX_LENGTH } from './create-request';

/** `GET /v1/liveness-checks?vendor_data=…&limit=…&cursor=…`: the caller's own checks for one end user. */

export const LIST_DEFAULT_LIMIT = 20;
export const LIST_MAX_LIMIT = 100;
const LIST_PARAMETERS = ['vendor_data', 'limit', 'cursor'] as const;

/** Where the next page starts: the last check of this page (its creation time and id). */
export interface ListPosition {
  readonly created_at: string;
  readonly id: string;
}

export interface ListRequest {
  readonly vendorData: string;
  readonly limit: number;
  readonly after: ListPosition | undefined;
}

/**
 * The index key of a caller's checks for one vendor_data. A hash, so the key stays 64 characters whatever the length of
 * an IAM ARN and a 1024-character vendor_data, and the pair cannot be split ambiguously.
 */
export function ownerVendorKey(owner: Owner, vendorData: string): string {
  return createHash('sha256')
    .update(JSON.stringify([owner, vendorData]))
    .digest('hex');
}

/**
 * Validates the query string; every refused parameter is named (unknown ones too). The cursor is opaque to clients:
 * base64url of the last check's creation time and id. It carries no owner or index key: the server always queries the
 * caller's own partition, so a forged cursor can only move the start inside the caller's own list.
 */
export function parseListRequest(query: Record<string, string | undefined> | null | undefined): ListRequest {
  const params = query ?? {};
  const fields: FieldError[] = [];
  for (const name of Object.keys(params)) {
    if (!(LIST_PARAMETERS as readonly string[]).includes(name))
      fields.push({ field: name, message: 'is not a known parameter' });
  }
  const vendorData = params.vendor_data;
  if (vendorData === undefined || vendorData === '') {
    fields.push({ field: 'vendor_data', message: 'is required: the end user whose checks to list' });
  } else if (vendorData.length > VENDOR_DATA_MAX_LENGTH || /\p{Cs}/u.test(vendorData)) {
    fields.push({
      field: 'vendor_data',
      message: `must be valid text of at most ${VENDOR_DATA_MAX_LENGTH} characters`,
    });
  }
  let limit = LIST_DEFAULT_LIMIT;
  if (params.limit !== undefined) {
    limit = /^\d{1,3}$/.test(params.limit) ? Number(params.limit) : Number.NaN;
    if (!(limit >= 1 && limit <= LIST_MAX_LIMIT)) {
      fields.push({ field: 'limit', message: `must be a whole number from 1 to ${LIST_MAX_LIMIT}` });
    }
  }
  let after: ListPosition | undefined;
  if (params.cursor !== undefined) {
    after = decodeCursor(params.cursor);
    if (!after) fields.push({ field: 'cursor', message: 'must be a next_cursor this API returned' });
  }
  if (fields.length > 0) throw new RequestValidationError(fields);
  return { vendorData: vendorData as string, limit, after };
}

export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.created_at, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [createdAt, id] = value as unknown[];
    if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt)) || typeof id !== 'string')
      return undefined;
    if (!isCheckId(id)) return undefined;
    return { created_at: createdAt, id };
  } catch {
    return undefined;
  }
}
