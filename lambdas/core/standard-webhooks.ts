import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signing and verifying webhook deliveries per the Standard Webhooks specification (https://www.standardwebhooks.com):
 *
 * - `webhook-id`: the message id, the same on every retry of one message, so receivers can deduplicate;
 * - `webhook-timestamp`: unix seconds of this attempt;
 * - `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` entries over `{id}.{timestamp}.{body}`;
 * - the secret is `whsec_` + base64 of the HMAC key (24–64 random bytes).
 *
 * This file is what we hand to receivers: it depends on `node:crypto` only and can be copied as is.
 */

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** Replays older (or clocks further ahead) than this are refused unless the receiver says otherwise. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The spec's bounds on the decoded key; a shorter key would be guessable, a longer one is no stronger. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const GENERATED_KEY_BYTES = 32;

/** Whole seconds only: a sign, a fraction or an exponent in the header is a different sender, not a clock. */
const TIMESTAMP_PATTERN = /^[0-9]{1,15}$/;
/** Canonical base64 (padding included), which is what `digest('base64')` writes and the spec shows. */
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/**
 * A message id goes into the signed string before a `.`; an id holding `.` would let one signed string be read as a
 * different id/timestamp/body split. Printable ASCII also keeps it a valid header value.
 */
const MESSAGE_ID_PATTERN = /^[\x21-\x2d\x2f-\x7e]{1,256}$/;

export type WebhookVerificationFailure =
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature'
  | 'invalid_payload';

/** The delivery is not authentic or not fresh: answer it with 401 (or 400 for `invalid_payload`) and do not act on it. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason: WebhookVerificationFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A signing secret is not `whsec_` + canonical base64 of 24–64 bytes: a configuration mistake, not a bad delivery. */
export class WebhookSecretFormatError extends Error {
  override readonly name = 'WebhookSecretFormatError';
}

/** A type, not an interface, so it can be passed wherever a plain header record is expected. */
export type StandardWebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

export interface VerifyWebhookOptions {
  /**
   * How far `webhook-timestamp` may be from `now`, in either direction.
   * @default 300
   */
  readonly toleranceSeconds?: number;
  /**
   * The receiver's clock.
   * @default new Date()
   */
  readonly now?: Date;
}

/** A fresh signing secret: `whsec_` + base64 of 32 random bytes. Show it to the receiver once; store it as a secret. */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(GENERATED_KEY_BYTES).toString('base64')}`;
}

/**
 * The three headers of one delivery attempt.
 *
 * @param secret One `whsec_` secret, or several while rotating: each adds a `v1,` entry, so receivers holding either
 * the old or the new secret accept the delivery.
 * @param id The message id; keep it the same on every retry of the same message.
 * @param timestampSeconds Unix seconds of this attempt (not of the event): receivers refuse old timestamps.
 * @param body The exact bytes that will be sent.
 */
export function signWebhook(
  secret: string | readonly string[],
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): StandardWebhookHeaders {
  if (!MESSAGE_ID_PATTERN.test(id)) {
    throw new TypeError('webhook id must be 1-256 printable ASCII characters without "."');
  }
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new TypeError('webhook timestamp must be a non-negative integer number of seconds');
  }
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookSecretFormatError('at least one signing secret is required');
  const timestamp = String(timestampSeconds);
  const signatures = secrets.map((s) => `v1,${signature(decodeSecret(s), id, timestamp, body)}`);
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

/**
 * Verifies one delivery and returns its parsed JSON body.
 *
 * Pass the body exactly as received (before any JSON parsing), the request headers (names in any case), and every
 * secret currently valid for the endpoint: during a rotation, both the old and the new one. Signature entries other
 * than `v1` (for example the asymmetric `v1a`) are ignored.
 *
 * Throws {@link WebhookVerificationError} when the delivery must be refused (its `reason` says why), and
 * {@link WebhookSecretFormatError} when a configured secret is malformed.
 *
 * @example
 * ```ts
 * import { verifyWebhook, WebhookVerificationError } from './standard-webhooks';
 *
 * // An API Gateway HTTP API (payload 2.0) handler; any framework works if it gives you the raw body.
 * const secrets = [process.env.WEBHOOK_SECRET, process.env.WEBHOOK_SECRET_PREVIOUS].filter((s) => s !== undefined);
 *
 * export async function handler(event: APIGatewayProxyEventV2) {
 *   const body = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64') : (event.body ?? '');
 *   let payload: unknown;
 *   try {
 *     payload = verifyWebhook(body, event.headers, secrets);
 *   } catch (error) {
 *     if (error instanceof WebhookVerificationError) return { statusCode: 401 };
 *     throw error;
 *   }
 *   // A retried message keeps its webhook-id: deduplicate on it before acting on `payload`.
 *   return { statusCode: 204 };
 * }
 * ```
 */
export function verifyWebhook(
  body: string | Uint8Array,
  headers: Readonly<Record<string, string | undefined>>,
  secrets: readonly string[],
  options: VerifyWebhookOptions = {},
): unknown {
  const { toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now = new Date() } = options;
  if (secrets.length === 0) throw new WebhookSecretFormatError('at least one verification secret is required');
  // Decoded up front so that a malformed secret fails loudly even when another secret would have matched.
  const keys = secrets.map(decodeSecret);

  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (id === undefined || timestamp === undefined || signatures === undefined) {
    throw new WebhookVerificationError('missing_header', 'missing webhook-id, webhook-timestamp or webhook-signature');
  }

  if (!TIMESTAMP_PATTERN.test(timestamp)) {
    throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not whole unix seconds');
  }
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const sentAt = Number(timestamp);
  if (nowSeconds - sentAt > toleranceSeconds) {
    throw new WebhookVerificationError('timestamp_too_old', 'webhook-timestamp is too old');
  }
  if (sentAt - nowSeconds > toleranceSeconds) {
    throw new WebhookVerificationError('timestamp_too_new', 'webhook-timestamp is too far in the future');
  }

  const candidates = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'utf8'));
  const expected = keys.map((key) => Buffer.from(signature(key, id, timestamp, body), 'utf8'));
  // Every candidate is compared with every expected value, so the time taken reveals neither which one matched nor
  // how much of one matched.
  let matched = false;
  for (const candidate of candidates) {
    for (const value of expected) {
      if (candidate.length === value.length && timingSafeEqual(candidate, value)) matched = true;
    }
  }
  if (!matched) throw new WebhookVerificationError('no_matching_signature', 'no webhook-signature entry matches');

  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new WebhookVerificationError('invalid_payload', 'webhook body is not JSON', { cause: error });
  }
}

/** The HMAC key inside a `whsec_` secret. */
function decodeSecret(secret: string): Buffer {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new WebhookSecretFormatError(`webhook secret must start with ${WEBHOOK_SECRET_PREFIX}`);
  }
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  // Buffer.from(…, 'base64') skips characters it does not know; a typo would silently become a different key.
  if (!BASE64_PATTERN.test(encoded))
    throw new WebhookSecretFormatError('webhook secret is not base64 after the prefix');
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new WebhookSecretFormatError(`webhook secret key must be ${MIN_KEY_BYTES}-${MAX_KEY_BYTES} bytes`);
  }
  return key;
}

function signature(key: Buffer, id: string, timestamp: string, body: string | Uint8Array): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest('base64');
}

/** Header names are case-insensitive; frameworks differ in how they spell them. */
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
