import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/**
 * Verifying Didit's incoming webhooks. Didit signs each delivery three ways, all HMAC-SHA256 (hex) keyed with the
 * webhook `secret_shared_key` as UTF-8:
 *
 * - `X-Signature-V2`: over the canonical JSON of the parsed body (see {@link canonicalJson}), so it survives a proxy
 *   or framework that re-encodes the JSON. Didit's docs call it "ASCII-escaped" while their samples keep Unicode as
 *   is, so both forms are tried;
 * - `X-Signature`: over the raw body bytes;
 * - `X-Signature-Simple`: over `{timestamp}:{session_id}:{status}:{webhook_type}` only. When only this one matches,
 *   every other field (decision, vendor_data…) is unauthenticated and is not returned.
 *
 * During a rotation of the secret, the current and the previous one are both tried (each method with every secret,
 * before the next method). Freshness is judged on the body's `timestamp`, which every method signs; the
 * `X-Timestamp` header is signed by none of them, so it is ignored.
 *
 * Over the house limit of ~300 lines: three signature schemes, a rotation, the replay window and the payload's parsing
 * all answer one question (is this delivery Didit's, and what does it say), and each needs the others' inputs.
 */

export const DIDIT_WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * The static address Didit sends webhooks from (docs.didit.me, Webhooks: "Didit delivers webhooks from the static IP
 * 18.203.201.92 with User-Agent: DiditWebhook/2.0"). Only a documented value: the `diditWebhookSourceIps` setting is
 * what restricts the route, so a new address needs no release.
 */
export const DIDIT_WEBHOOK_SOURCE_IP = '18.203.201.92';

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** What `POST /v1/webhooks/didit` did with a verified delivery (the `outcome` of its 200 answer). */
export type ReceiveOutcome =
  | 'UPDATED'
  | 'UNCHANGED'
  | 'STALE'
  | 'DUPLICATE'
  | 'UNKNOWN_SESSION'
  | 'IGNORED_TYPE'
  | 'NOT_COMPLETED';

/** Longest `event_id` used as the dedupe key; a longer one falls back to the signed session/status/timestamp. */
const MAX_EVENT_ID_CHARS = 200;

export type DiditWebhookMalformedReason = 'not_utf8' | 'not_json' | 'not_an_object' | 'invalid_field';
export type DiditWebhookSignatureReason = 'missing_signature' | 'signature_mismatch' | 'stale_timestamp';

/** The body is not a Didit webhook we can read: answer 400. */
export class DiditWebhookMalformedError extends Error {
  override readonly name = 'DiditWebhookMalformedError';
  readonly httpStatus = 400;
  constructor(
    readonly reason: DiditWebhookMalformedReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** No signature matches, or the signed timestamp is outside the tolerance: answer 401 and do not act on the body. */
export class DiditWebhookSignatureError extends Error {
  override readonly name = 'DiditWebhookSignatureError';
  readonly httpStatus = 401;
  constructor(
    readonly reason: DiditWebhookSignatureReason,
    message: string,
  ) {
    super(message);
  }
}

/** The four fields `X-Signature-Simple` covers. */
export interface DiditWebhookSignedCore {
  /** Unix seconds when Didit sent the event. */
  readonly timestamp: number;
  readonly session_id: string;
  readonly status: string;
  readonly webhook_type: string;
}

/** A liveness result inside `decision`; fields other than these are passed through unread. */
export interface DiditWebhookLivenessResult {
  readonly status?: string;
  readonly score?: number | null;
  readonly warnings?: readonly unknown[] | null;
  readonly [field: string]: unknown;
}

export interface DiditWebhookDecision {
  readonly liveness?: DiditWebhookLivenessResult | null;
  readonly passive_liveness?: DiditWebhookLivenessResult | null;
  /** Session (workflow) decisions list one result per liveness step. */
  readonly liveness_checks?: readonly DiditWebhookLivenessResult[] | null;
  readonly [field: string]: unknown;
}

/** The `status.updated` fields we read. Unknown fields are kept (typed `unknown`) rather than refused. */
export interface DiditStatusUpdatedPayload extends DiditWebhookSignedCore {
  readonly event_id?: string;
  readonly vendor_data?: string | null;
  readonly decision?: DiditWebhookDecision | null;
  readonly [field: string]: unknown;
}

/**
 * What the signature proves. Read `trusted` only: after `simple`, it holds the four signed fields and nothing else,
 * so an unsigned `decision` or `vendor_data` cannot be used by mistake.
 */
export type DiditWebhookVerification = (
  | { readonly verifiedBy: 'v2' | 'raw'; readonly trusted: DiditStatusUpdatedPayload }
  | { readonly verifiedBy: 'simple'; readonly trusted: DiditWebhookSignedCore }
) & {
  /** Which of the secrets matched: 0 the current one, 1 the previous one (during a rotation). */
  readonly secretIndex: number;
  /**
   * One key per Didit event, whichever signature verified it: the body's `event_id` when it has one, else
   * `{session_id}:{status}:{timestamp}`. After a Simple-only verification the `event_id` is unsigned; it is used as a
   * key and nothing else, and an event replayed under another id is still refused by its signed timestamp.
   */
  readonly dedupeKey: string;
};

export interface VerifyDiditWebhookOptions {
  /**
   * The receiver's clock.
   * @default new Date()
   */
  readonly now?: Date;
  /**
   * How far the body's `timestamp` may be from `now`, in either direction.
   * @default 300
   */
  readonly toleranceSeconds?: number;
}

/**
 * Verifies one Didit webhook delivery: V2 first, then the raw-body signature, then Simple.
 *
 * @param rawBody The body exactly as received (decode API Gateway's base64 first).
 * @param headers Request headers; names in any case.
 * @param secrets Didit's `secret_shared_key` for the webhook destination, or the current one and then the previous
 * one during a rotation (see {@link parseDiditWebhookSecrets}).
 * @throws DiditWebhookMalformedError (→ 400) when the body is not UTF-8 JSON of the documented shape.
 * @throws DiditWebhookSignatureError (→ 401) when no signature matches or the timestamp is stale.
 */
export function verifyDiditWebhook(
  rawBody: string | Uint8Array,
  headers: Readonly<Record<string, string | undefined>>,
  secrets: string | readonly string[],
  options: VerifyDiditWebhookOptions = {},
): DiditWebhookVerification {
  const { now = new Date(), toleranceSeconds = DIDIT_WEBHOOK_TOLERANCE_SECONDS } = options;
  const keys = typeof secrets === 'string' ? [secrets] : secrets;
  if (keys.length === 0 || keys.some((secret) => secret.length === 0)) {
    throw new TypeError('the Didit webhook secret is empty');
  }

  const bytes = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const body = parseBody(bytes);

  const v2 = header(headers, 'x-signature-v2');
  const raw = header(headers, 'x-signature');
  const simple = header(headers, 'x-signature-simple');
  if (v2 === undefined && raw === undefined && simple === undefined) {
    throw new DiditWebhookSignatureError('missing_signature', 'no Didit signature header');
  }

  // Each method with every secret before the next method: a V2 or raw match trusts more than a Simple one.
  const candidates: Array<[DiditWebhookVerification['verifiedBy'], string | undefined, () => Uint8Array[]]> = [
    ['v2', v2, () => canonicalForms(body)],
    ['raw', raw, () => [bytes]],
    ['simple', simple, () => simpleMessage(body)],
  ];
  let verifiedBy: DiditWebhookVerification['verifiedBy'] | undefined;
  let secretIndex = -1;
  for (const [method, signature, messages] of candidates) {
    if (signature === undefined) continue;
    const signed = messages();
    secretIndex = keys.findIndex((secret) => signed.some((message) => hmacMatches(secret, message, signature)));
    if (secretIndex >= 0) {
      verifiedBy = method;
      break;
    }
  }
  if (verifiedBy === undefined) {
    throw new DiditWebhookSignatureError('signature_mismatch', 'no Didit signature matches the body');
  }

  // Only now is the body worth validating: until a signature matched, it was anyone's.
  const core = signedCore(body);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (Math.abs(nowSeconds - core.timestamp) > toleranceSeconds) {
    throw new DiditWebhookSignatureError('stale_timestamp', 'Didit webhook timestamp is outside the tolerance');
  }

  const dedupeKey = dedupeKeyOf(body, core);
  if (verifiedBy === 'simple') return { verifiedBy, trusted: core, secretIndex, dedupeKey };
  return { verifiedBy, trusted: statusUpdatedPayload(body), secretIndex, dedupeKey };
}

/**
 * The secret value as stored: the current `secret_shared_key`, then during a rotation the previous one, separated by
 * whitespace (a space or a newline), as the callback signing secret is.
 */
export function parseDiditWebhookSecrets(value: string): string[] {
  return value.split(/\s+/).filter(Boolean);
}

function dedupeKeyOf(body: Record<string, unknown>, core: DiditWebhookSignedCore): string {
  const eventId = body.event_id;
  if (typeof eventId === 'string' && eventId.length > 0 && eventId.length <= MAX_EVENT_ID_CHARS) return eventId;
  return `${core.session_id}:${core.status}:${core.timestamp}`;
}

/** The canonical JSON as UTF-8, Unicode kept and ASCII-escaped (the same bytes when the body is ASCII). */
function canonicalForms(body: Record<string, unknown>): Uint8Array[] {
  let unescaped: string;
  try {
    unescaped = canonicalJson(body);
  } catch {
    return [];
  }
  const escaped = canonicalJson(body, { ensureAscii: true });
  const forms = [Buffer.from(unescaped, 'utf8')];
  if (escaped !== unescaped) forms.push(Buffer.from(escaped, 'utf8'));
  return forms;
}

/**
 * Didit's Simple string. Fields must be an integer and three strings without `:`: otherwise the string could be split
 * back into different fields than the ones Didit signed.
 */
function simpleMessage(body: Record<string, unknown>): Uint8Array[] {
  const { timestamp, session_id, status, webhook_type } = body;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) return [];
  const fields = [session_id, status, webhook_type];
  if (!fields.every((field): field is string => typeof field === 'string' && !field.includes(':'))) return [];
  return [Buffer.from([String(timestamp), ...fields].join(':'), 'utf8')];
}

function hmacMatches(secret: string, message: Uint8Array, signatureHex: string): boolean {
  if (!HEX_SHA256.test(signatureHex)) return false;
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(message).digest();
  return timingSafeEqual(expected, Buffer.from(signatureHex, 'hex'));
}

function parseBody(bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    // Fatal: replacing invalid bytes with U+FFFD would let the parsed fields differ from the signed bytes.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw new DiditWebhookMalformedError('not_utf8', 'Didit webhook body is not UTF-8', { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DiditWebhookMalformedError('not_json', 'Didit webhook body is not JSON', { cause: error });
  }
  if (!isRecord(parsed)) throw new DiditWebhookMalformedError('not_an_object', 'Didit webhook body is not an object');
  return parsed;
}

function signedCore(body: Record<string, unknown>): DiditWebhookSignedCore {
  const { timestamp } = body;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) {
    throw invalidField('timestamp', 'an integer number of seconds');
  }
  return {
    timestamp,
    session_id: requiredString(body, 'session_id'),
    status: requiredString(body, 'status'),
    webhook_type: requiredString(body, 'webhook_type'),
  };
}

function statusUpdatedPayload(body: Record<string, unknown>): DiditStatusUpdatedPayload {
  signedCore(body);
  if (body.event_id !== undefined && typeof body.event_id !== 'string') throw invalidField('event_id', 'a string');
  const { vendor_data, decision } = body;
  if (vendor_data !== undefined && vendor_data !== null && typeof vendor_data !== 'string') {
    throw invalidField('vendor_data', 'a string or null');
  }
  if (decision !== undefined && decision !== null) {
    if (!isRecord(decision)) throw invalidField('decision', 'an object or null');
    livenessResult(decision.liveness, 'decision.liveness');
    livenessResult(decision.passive_liveness, 'decision.passive_liveness');
    const checks = decision.liveness_checks;
    if (checks !== undefined && checks !== null) {
      if (!Array.isArray(checks)) throw invalidField('decision.liveness_checks', 'an array or null');
      checks.forEach((check, index) => {
        if (check === null) throw invalidField(`decision.liveness_checks[${index}]`, 'an object');
        livenessResult(check, `decision.liveness_checks[${index}]`);
      });
    }
  }
  return body as DiditStatusUpdatedPayload;
}

/** Checks the fields the type promises, when present; everything else in the result is left to the caller. */
function livenessResult(value: unknown, path: string): void {
  if (value === undefined || value === null) return;
  if (!isRecord(value)) throw invalidField(path, 'an object or null');
  if (value.status !== undefined && typeof value.status !== 'string') throw invalidField(`${path}.status`, 'a string');
  const { score, warnings } = value;
  if (score !== undefined && score !== null && typeof score !== 'number') {
    throw invalidField(`${path}.score`, 'a number or null');
  }
  if (warnings !== undefined && warnings !== null && !Array.isArray(warnings)) {
    throw invalidField(`${path}.warnings`, 'an array or null');
  }
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) throw invalidField(field, 'a non-empty string');
  return value;
}

/** Names the field and the expected type only: values may be personal data. */
function invalidField(path: string, expected: string): DiditWebhookMalformedError {
  return new DiditWebhookMalformedError('invalid_field', `Didit webhook field ${path} must be ${expected}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  let value = headers[name];
  if (value === undefined) {
    for (const [key, candidate] of Object.entries(headers)) {
      if (candidate !== undefined && key.toLowerCase() === name) {
        value = candidate;
        break;
      }
    }
  }
  const trimmed = value?.trim();
  return trimmed === '' ? undefined : trimmed;
}

export { canonicalJson };
