/**
 * Named errors decide what happens to a check: a RetryableError may succeed if the same step runs again later,
 * a PermanentError never will. Callers branch with `instanceof`, never on message text.
 * Every error carries a stable `code` that ends up on a FAILED check as `error.code`.
 */

import type { DiditPassiveLivenessResponse, DiditRateLimit } from './core/didit-types';
import type { FailureCode } from './core/failure-codes';

export type { FailureCode };

export abstract class LivenessError extends Error {
  abstract readonly retryable: boolean;
  readonly code: FailureCode;

  constructor(code: FailureCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The same input will fail the same way: the check ends FAILED with this code. */
export class PermanentError extends LivenessError {
  readonly retryable = false;
}

/** A dependency was unavailable or throttled; running the step again later may succeed. */
export class RetryableError extends LivenessError {
  readonly retryable = true;
  /** Lower bound for the next attempt, from a `Retry-After` header when the dependency sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: FailureCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(code, message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The uploaded object is not an image we accept (size, type, pixels, corruption). */
export class ImageRejectedError extends PermanentError {}

/**
 * The object under the check's key is no longer the one S3 announced (its ETag changed: a second upload with the same
 * presigned POST replaced it). The check was claimed for the first image and must not judge another one.
 */
export class UploadReplacedError extends ImageRejectedError {
  constructor(options?: { cause?: unknown }) {
    super(
      'UPLOAD_REPLACED',
      'The upload was replaced by another one after it arrived; create a new check for the new image',
      options,
    );
  }
}

/** Didit refused the request itself (400, 413): sending it again cannot help. */
export class DiditRejectedRequestError extends PermanentError {
  constructor(
    message: string,
    readonly httpStatus: number,
    options?: { cause?: unknown },
  ) {
    super('DIDIT_REJECTED_REQUEST', message, options);
  }
}

/** Didit refused our API key (401, 403): an operator must fix the secret. */
export class DiditAuthError extends PermanentError {
  constructor(
    message: string,
    readonly httpStatus: number,
  ) {
    super('DIDIT_AUTH_FAILED', message);
  }
}

/** Didit was failing, slow or unreachable (5xx, 408, timeouts, resets): a real failure, retried until the horizon. */
export class DiditUnavailableError extends RetryableError {
  constructor(
    message: string,
    readonly httpStatus: number | undefined,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super('DIDIT_UNAVAILABLE', message, options);
  }
}

/** Didit refused the call for the request budget (429): not a failure of the check; every caller backs off. */
export class DiditRateLimitedError extends RetryableError {
  readonly httpStatus = 429;
  constructor(
    message: string,
    readonly rateLimit: DiditRateLimit | undefined,
  ) {
    super('DIDIT_UNAVAILABLE', message, { retryAfterSeconds: rateLimit?.retryAfterSeconds });
  }
}

/** Didit could not charge the check (402, or 403 whose body says the balance is empty): an outage until a top-up. */
export class DiditOutOfCreditsError extends RetryableError {
  constructor(
    message: string,
    readonly httpStatus: number,
  ) {
    super('DIDIT_OUT_OF_CREDITS', message);
  }
}

/** Didit answered with an error status we could not read as anything else (e.g. a 1xx/3xx-like oddity). */
export class DiditBadResponseError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DIDIT_BAD_RESPONSE', message, options);
  }
}

/**
 * Didit answered 2xx — the check was charged — with a body that did not arrive whole or is not the documented shape.
 * Never retried (that would pay twice): `rawBody` (at most 64 KiB) is kept on the check, and `usable` holds what could
 * still be read from it (Didit's liveness status at least), if anything.
 */
export class DiditChargedAnswerError extends PermanentError {
  constructor(
    message: string,
    readonly rawBody: string,
    readonly usable: DiditPassiveLivenessResponse | undefined,
    options?: { cause?: unknown },
  ) {
    super('DIDIT_BAD_RESPONSE', message, options);
  }
}

/** An AWS dependency throttled us (DynamoDB, Rekognition, EventBridge). */
export class DependencyThrottledError extends RetryableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DEPENDENCY_THROTTLED', message, options);
  }
}

/** Configuration is missing or invalid; thrown once at cold start. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** One bad field of an API request. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** An API request failed validation; names every bad field. */
export class RequestValidationError extends Error {
  override readonly name = 'RequestValidationError';
  constructor(readonly fields: readonly FieldError[]) {
    super(`Request validation failed: ${fields.map((f) => f.field).join(', ')}`);
  }
}

/** The Idempotency-Key was already used, within its window, for a request with another body: answer 409. */
export class IdempotencyConflictError extends Error {
  override readonly name = 'IdempotencyConflictError';
}

/** API Gateway handed over a request without an identity the service can own checks by: answer 401. */
export class CallerUnknownError extends Error {
  override readonly name = 'CallerUnknownError';
}

/** Normalises anything thrown into a LivenessError so a check can always end with a specific code. */
export function asLivenessError(error: unknown): LivenessError {
  if (error instanceof LivenessError) return error;
  return new PermanentError('INTERNAL_ERROR', 'Unexpected internal error', { cause: error });
}
