import { isIP } from 'node:net';
import { z } from 'zod';
import { type FieldError, RequestValidationError } from '../errors';
import { classifyAddress } from './address-classes';
import type { CheckOptions } from './check';
import { ACCEPTED_CONTENT_TYPES } from './upload-rules';

/** Limits chosen so a check item stays far below DynamoDB's 400 KB and an event below EventBridge's 256 KB. */
export const VENDOR_DATA_MAX_LENGTH = 1024;
export const METADATA_MAX_BYTES = 8 * 1024;
/**
 * DynamoDB refuses items nested deeper than 32 levels, and measuring a deeper value with JSON.stringify overflows the
 * stack long before a 10 MiB body runs out (a 100 KB body nests 20 000 levels); labels need nowhere near this many.
 */
export const METADATA_MAX_DEPTH = 16;
export const CALLBACK_URL_MAX_LENGTH = 2048;

export interface CreateRequestRules {
  readonly defaultDeclineThreshold: number;
  /** Allow http:// and loopback callbacks (the local stack). */
  readonly allowInsecureCallbacks: boolean;
  /** Origins whose callbacks may use a port other than 443 (`callbackAllowedOrigins`). @default [] */
  readonly callbackAllowedOrigins?: readonly string[];
}

/** The single source of truth for `POST /v1/liveness-checks`; the OpenAPI document is generated from it. */
export function createCheckRequestSchema(rules: CreateRequestRules) {
  return z.strictObject({
    face_liveness_score_decline_threshold: z
      .number({ error: 'must be a number from 0 to 100' })
      .min(0, 'must be a number from 0 to 100')
      .max(100, 'must be a number from 0 to 100')
      .default(rules.defaultDeclineThreshold),
    rotate_image: z.boolean({ error: 'must be true or false' }).default(false),
    save_api_request: z.boolean({ error: 'must be true or false' }).default(true),
    vendor_data: z
      .string({ error: 'must be a string' })
      .min(1, 'must not be empty')
      .max(VENDOR_DATA_MAX_LENGTH, `must be at most ${VENDOR_DATA_MAX_LENGTH} characters`)
      // A lone surrogate cannot be encoded as UTF-8: DynamoDB and Didit would each store something other than what
      // the client sent, and matching Didit's echo against the check would fail.
      .refine((value) => !LONE_SURROGATE.test(value), 'must be valid Unicode text')
      .optional(),
    metadata: z
      // Runs on the parsed JSON as sent: the record below drops a "__proto__" key silently, and its size check
      // would overflow the stack on a value nested thousands of levels deep.
      .preprocess(
        (value, ctx) => {
          const problem = metadataShapeProblem(value);
          if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
          return value;
        },
        z
          .record(z.string(), z.unknown(), { error: 'must be a JSON object' })
          .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= METADATA_MAX_BYTES, {
            error: `must be at most ${METADATA_MAX_BYTES} bytes as JSON`,
          }),
      )
      .optional(),
    callback_url: z
      .string({ error: 'must be a URL string' })
      .max(CALLBACK_URL_MAX_LENGTH, `must be at most ${CALLBACK_URL_MAX_LENGTH} characters`)
      .superRefine((value, ctx) => {
        const problem = callbackUrlProblem(value, rules.allowInsecureCallbacks, rules.callbackAllowedOrigins);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    content_type: z
      .enum(ACCEPTED_CONTENT_TYPES, { error: `must be one of ${ACCEPTED_CONTENT_TYPES.join(', ')}` })
      .default('image/jpeg'),
  });
}

/**
 * Validates a raw request body (the string API Gateway hands over) and returns the options with defaults applied.
 * Throws RequestValidationError naming every bad field.
 */
export function parseCreateCheckRequest(rawBody: string | null | undefined, rules: CreateRequestRules): CheckOptions {
  let body: unknown = {};
  if (rawBody !== null && rawBody !== undefined && rawBody.trim() !== '') {
    try {
      body = JSON.parse(rawBody);
    } catch {
      throw new RequestValidationError([{ field: 'body', message: 'must be valid JSON' }]);
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  }
  const parsed = createCheckRequestSchema(rules).safeParse(body);
  if (parsed.success) return parsed.data;
  throw new RequestValidationError(toFieldErrors(parsed.error));
}

/** Matches a UTF-16 surrogate that is not half of a pair (the `u` flag reads a valid pair as one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * What makes a metadata object unstorable or not round-trippable, checked without recursion: nesting past
 * METADATA_MAX_DEPTH, a "__proto__" key (dropped by the validator and by DynamoDB unmarshalling, so the client would
 * read back something else), or text that is not valid Unicode. Undefined when fine or not an object at all (the
 * record schema names that).
 */
function metadataShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 1 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { node, depth } = item;
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) return 'must be valid Unicode text';
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth > METADATA_MAX_DEPTH) return `must be nested at most ${METADATA_MAX_DEPTH} levels deep`;
    for (const [key, child] of Object.entries(node)) {
      if (key === '__proto__') return 'must not contain the key "__proto__"';
      if (LONE_SURROGATE.test(key)) return 'must be valid Unicode text';
      pending.push({ node: child, depth: depth + 1 });
    }
  }
  return undefined;
}

function toFieldErrors(error: z.ZodError): FieldError[] {
  const fields: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) fields.push({ field: key, message: 'is not a known field' });
      continue;
    }
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
    // Keep one message per top-level field: metadata.x problems are reported as metadata.
    const top = field.split('.')[0] ?? field;
    if (fields.some((f) => f.field === top)) continue;
    fields.push({ field: top, message: issue.message });
  }
  return fields;
}

/**
 * Why a callback URL is refused, or undefined when it is acceptable. The delivery step re-checks resolved addresses
 * (adapters/callback-guard.ts).
 *
 * - `https` to a named public host on port 443; another port only for an origin in `allowedOrigins`
 *   (`callbackAllowedOrigins`, e.g. `https://hooks.example.com:8443`);
 * - no credentials, no IP literal, no `localhost`, `*.internal` or single-label name;
 * - the local stack (`allowInsecure`) also allows `http` or `https` to loopback (`127.0.0.0/8`, `::1`, `localhost`) on
 *   any port, and nothing else that is not public: link-local and metadata addresses (169.254.0.0/16, fe80::/10,
 *   fd00:ec2::254, `metadata.google.internal`) stay refused there too.
 */
export function callbackUrlProblem(
  value: string,
  allowInsecure: boolean,
  allowedOrigins: readonly string[] = [],
): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https';
  // A fully qualified name may end in dots ("localhost.", "metadata.google.internal."): they name the same host.
  const host = url.hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.+$/, '');
  const literal = isIP(host) !== 0 || isIpLiteral(host);
  const loopback = literal ? classifyAddress(host) === 'loopback' : host === 'localhost' || host.endsWith('.localhost');
  if (allowInsecure && loopback) return undefined;
  if (literal || loopback || host.endsWith('.internal')) {
    return allowInsecure
      ? 'must name loopback or a public host, never a link-local, private or metadata address'
      : 'must name a public host, not an IP address or local name';
  }
  if (url.protocol !== 'https:') return 'must use https';
  if (!host.includes('.')) return 'must name a public host';
  // The URL parser drops the default port, so an empty port is 443.
  if (url.port !== '' && !allowedOrigins.includes(url.origin)) {
    return 'must use port 443 (other ports only for origins in the callbackAllowedOrigins setting)';
  }
  return undefined;
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}
