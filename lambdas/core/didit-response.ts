import {
  DiditAuthError,
  DiditBadResponseError,
  DiditOutOfCreditsError,
  DiditRateLimitedError,
  DiditRejectedRequestError,
  DiditUnavailableError,
  type LivenessError,
} from '../errors';
import type { Decision } from './check';
import type {
  DiditFaceEntity,
  DiditLiveness,
  DiditPassiveLivenessResponse,
  DiditRateLimit,
  DiditWarning,
} from './didit-types';
import { storedWarning, WARNING_LIMITS } from './didit-warnings';

/**
 * Reading Didit's answers: the response shape, HTTP error statuses and the decision. Pure, so every branch is
 * unit-tested without a server.
 *
 * Error messages name fields and statuses only. Didit echoes vendor_data and metadata, and its error bodies may quote
 * what we sent, so no value from a body is copied into a message except a short `detail` string.
 *
 * Just over the house limit of ~300 lines: the answer's shape, each HTTP status's error class and the decision are
 * one contract (docs.didit.me's passive-liveness page) and are tested as one.
 */

type Json = Record<string, unknown>;

/**
 * Validates a 2xx body against the documented shape and returns a copy holding only the documented fields, so an
 * unexpected extra field can never reach the check record.
 *
 * Fields the decision depends on (request_id, liveness.status) are required. Nullable fields may also be absent, and
 * warnings may be absent or null: omitting an empty value is not a different meaning, and a DiditBadResponseError
 * would make the check retry for nothing.
 */
export function parseDiditResponse(body: unknown): DiditPassiveLivenessResponse {
  const root = object(body, 'body');
  const liveness = object(root.liveness, 'liveness');
  return {
    request_id: nonEmptyString(root.request_id, 'request_id'),
    liveness: {
      status: nonEmptyString(liveness.status, 'liveness.status'),
      // The endpoint only does passive liveness; an older payload without the field means the same thing.
      method: liveness.method === undefined ? 'PASSIVE' : nonEmptyString(liveness.method, 'liveness.method'),
      score: nullableNumber(liveness.score, 'liveness.score'),
      user_image: userImage(liveness.user_image),
      warnings: warnings(liveness.warnings),
      face_quality: nullableNumber(liveness.face_quality, 'liveness.face_quality'),
      face_luminance: nullableNumber(liveness.face_luminance, 'liveness.face_luminance'),
    },
    vendor_data: nullableString(root.vendor_data, 'vendor_data'),
    metadata: root.metadata === undefined || root.metadata === null ? null : object(root.metadata, 'metadata'),
    created_at: nonEmptyString(root.created_at, 'created_at'),
  };
}

/** Approved only on Didit's explicit Approved: "In Review", a new status or a changed case must never approve. */
export function decisionFrom(liveness: Pick<DiditLiveness, 'status'>): Decision {
  return liveness.status === 'Approved' ? 'Approved' : 'Declined';
}

export function warningCodes(liveness: Pick<DiditLiveness, 'warnings'>): string[] {
  return liveness.warnings.map((warning) => warning.risk);
}

/**
 * The named error for a non-2xx answer. 429: the request budget (every caller backs off, not a failure of the check).
 * 402, and a 403 whose body says the balance is insufficient: out of credits (an outage until a top-up). Other
 * 401/403: the API key is wrong. 408/5xx: Didit was failing, so the step may run again, not before `Retry-After`.
 * 400/413/422 and other 4xx: the request itself is wrong, sending it again cannot help.
 */
export function errorForDiditStatus(
  status: number,
  bodyText: string,
  headers: Readonly<Record<string, string | readonly string[] | undefined>> = {},
  now: Date = new Date(),
): LivenessError {
  const detail = describeErrorBody(bodyText);
  const message = `Didit answered HTTP ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 429) return new DiditRateLimitedError(message, parseRateLimit(headers, now));
  if (status === 402 || (status === 403 && saysOutOfCredits(bodyText)))
    return new DiditOutOfCreditsError(message, status);
  if (status === 401 || status === 403) return new DiditAuthError(message, status);
  if (status === 408 || (status >= 500 && status <= 599)) {
    const retryAfterSeconds = parseRetryAfter(headers['retry-after'], now);
    return new DiditUnavailableError(
      message,
      status,
      retryAfterSeconds === undefined ? undefined : { retryAfterSeconds },
    );
  }
  // A redirect means the base URL or path is wrong; following it would resend the image somewhere unexpected.
  if (status >= 300 && status <= 499) return new DiditRejectedRequestError(message, status);
  return new DiditBadResponseError(`${message} (not an error status)`);
}

/** Body `code` values (and, lacking one, `detail` wording) that mean the balance could not pay, not a bad key. */
const OUT_OF_CREDITS_CODES = new Set([
  'insufficient_credits',
  'insufficient_balance',
  'not_enough_credits',
  'no_credits',
]);

function saysOutOfCredits(bodyText: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return false;
  }
  if (!isObject(parsed)) return false;
  const code = parsed.code ?? parsed.error_code;
  if (typeof code === 'string') return OUT_OF_CREDITS_CODES.has(code.trim().toLowerCase());
  const detail = parsed.detail ?? parsed.message;
  return typeof detail === 'string' && /\b(insufficient|not enough|no) (credits?|balance|funds)\b/i.test(detail);
}

/**
 * Didit's budget headers on any answer: `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds) and `Retry-After`.
 * Malformed values are left out rather than guessed; undefined when none is present.
 */
export function parseRateLimit(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  now: Date = new Date(),
): DiditRateLimit | undefined {
  const integer = (name: string): number | undefined => {
    const value = headers[name];
    const raw = (typeof value === 'string' ? value : value?.[0])?.trim();
    return raw && /^\d{1,12}$/.test(raw) ? Number(raw) : undefined;
  };
  const limit = integer('x-ratelimit-limit');
  const remaining = integer('x-ratelimit-remaining');
  const reset = integer('x-ratelimit-reset');
  const retryAfterSeconds = parseRetryAfter(headers['retry-after'], now);
  if (limit === undefined && remaining === undefined && reset === undefined && retryAfterSeconds === undefined) {
    return undefined;
  }
  return {
    ...(limit !== undefined ? { limit } : {}),
    ...(remaining !== undefined ? { remaining } : {}),
    ...(reset !== undefined ? { resetAtMs: reset * 1000 } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  };
}

/**
 * What can still be read from a charged 2xx body that failed strict parsing: Didit's liveness status is the least a
 * decision needs; score, warnings, request_id and created_at are taken when they have the right type. Undefined when
 * there is no liveness status to decide on.
 */
export function salvageDiditResponse(body: unknown): DiditPassiveLivenessResponse | undefined {
  if (!isObject(body) || !isObject(body.liveness)) return undefined;
  const liveness = body.liveness;
  if (typeof liveness.status !== 'string' || liveness.status.trim() === '') return undefined;
  const number = (value: unknown) => (isFiniteNumber(value) ? value : null);
  const usableWarnings = Array.isArray(liveness.warnings)
    ? liveness.warnings.flatMap((item, i): DiditWarning[] => {
        try {
          return [warning(item, `liveness.warnings[${i}]`)];
        } catch {
          return [];
        }
      })
    : [];
  return {
    request_id: typeof body.request_id === 'string' ? body.request_id : '',
    liveness: {
      status: liveness.status,
      method: typeof liveness.method === 'string' ? liveness.method : 'PASSIVE',
      score: number(liveness.score),
      user_image: null,
      warnings: usableWarnings,
      face_quality: number(liveness.face_quality),
      face_luminance: number(liveness.face_luminance),
    },
    vendor_data: null,
    metadata: null,
    created_at: typeof body.created_at === 'string' ? body.created_at : '',
  };
}

/**
 * `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in whole seconds from `now`; a date in the past
 * means "now" (0). Anything unparseable is ignored rather than guessed.
 */
export function parseRetryAfter(
  header: string | readonly string[] | null | undefined,
  now: Date = new Date(),
): number | undefined {
  const raw = (typeof header === 'string' ? header : header?.[0])?.trim();
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw);
  // Date.parse also accepts bare numbers and ISO strings; all three HTTP-date forms start with the weekday.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i.test(raw)) return undefined;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

const MAX_DETAIL_CHARS = 200;

/**
 * A short, safe summary of an error body: Didit's `detail`/`message`/`error` string when it sends one (these describe
 * the failure, e.g. "Invalid API key"), else the names of the fields a validation error is about. Never raw body text.
 */
function describeErrorBody(bodyText: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  for (const key of ['detail', 'message', 'error']) {
    const value = parsed[key];
    if (typeof value === 'string' && value.trim()) {
      const text = value.trim().replace(/\s+/g, ' ');
      return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
    }
  }
  const fields = Object.keys(parsed).filter((key) => /^[A-Za-z0-9_.-]{1,64}$/.test(key));
  return fields.length > 0 ? `invalid fields ${fields.slice(0, 10).join(', ')}` : undefined;
}

function userImage(value: unknown): DiditLiveness['user_image'] {
  if (value === undefined || value === null) return null;
  const image = object(value, 'liveness.user_image');
  if (!Array.isArray(image.entities)) throw bad('liveness.user_image.entities', 'an array');
  return {
    entities: image.entities.map((entity, i) => faceEntity(entity, `liveness.user_image.entities[${i}]`)),
    best_angle: nullableNumber(image.best_angle, 'liveness.user_image.best_angle'),
  };
}

function faceEntity(value: unknown, path: string): DiditFaceEntity {
  const entity = object(value, path);
  const bbox = entity.bbox;
  if (!Array.isArray(bbox) || !bbox.every(isFiniteNumber)) throw bad(`${path}.bbox`, 'an array of numbers');
  const confidence = entity.confidence;
  if (!isFiniteNumber(confidence)) throw bad(`${path}.confidence`, 'a number');
  return {
    bbox: [...bbox],
    confidence,
    age: nullableNumber(entity.age, `${path}.age`),
    gender: nullableString(entity.gender, `${path}.gender`),
    race: nullableString(entity.race, `${path}.race`),
  };
}

/** The first `maxWarnings` warnings, each checked, then kept as didit-warnings.ts stores them (capped). */
function warnings(value: unknown): DiditWarning[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw bad('liveness.warnings', 'an array');
  return value.slice(0, WARNING_LIMITS.maxWarnings).map((item, i) => warning(item, `liveness.warnings[${i}]`));
}

/**
 * Older payloads list bare risk codes; everything downstream reads `risk`, so both become objects. A text field of
 * the wrong type is a bad answer; `additional_data` and unknown fields are dropped.
 */
function warning(value: unknown, path: string): DiditWarning {
  if (typeof value === 'string' && value.trim()) return storedWarning(value) as DiditWarning;
  const item = object(value, path);
  nonEmptyString(item.risk, `${path}.risk`);
  for (const key of ['log_type', 'short_description', 'long_description', 'feature'] as const) {
    const text = item[key];
    if (text !== undefined && text !== null && typeof text !== 'string') throw bad(`${path}.${key}`, 'a string');
  }
  return storedWarning(item) as DiditWarning;
}

function object(value: unknown, path: string): Json {
  if (!isObject(value)) throw bad(path, 'an object');
  return value;
}

function nonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) throw bad(path, 'a non-empty string');
  return value;
}

function nullableString(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw bad(path, 'a string or null');
  return value;
}

function nullableNumber(value: unknown, path: string): number | null {
  if (value === undefined || value === null) return null;
  if (!isFiniteNumber(value)) throw bad(path, 'a number or null');
  return value;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function bad(path: string, expected: string): DiditBadResponseError {
  return new DiditBadResponseError(`Didit response field ${path} is not ${expected}`);
}
