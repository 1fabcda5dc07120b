/**
 * Every stable `error.code` a check can end with: the one list the error classes, the API contract, the CLI and the
 * browser sample share. Pure, safe to bundle into a browser.
 */
export const FAILURE_CODES = [
  'IMAGE_EMPTY',
  'IMAGE_TOO_LARGE',
  'IMAGE_TOO_MANY_PIXELS',
  'UNSUPPORTED_IMAGE_TYPE',
  'CORRUPT_IMAGE',
  'IMAGE_NOT_FOUND',
  'UPLOAD_REPLACED',
  'DIDIT_REJECTED_REQUEST',
  'DIDIT_AUTH_FAILED',
  'DIDIT_UNAVAILABLE',
  'DIDIT_OUT_OF_CREDITS',
  'DIDIT_BAD_RESPONSE',
  'PRESCREEN_FAILED',
  'DEPENDENCY_THROTTLED',
  'UPLOAD_EXPIRED',
  'INTERNAL_ERROR',
] as const;

export type FailureCode = (typeof FAILURE_CODES)[number];

/** Codes of failures that were retried before the check failed: sending the same image again later may succeed. */
export const RETRIED_FAILURE_CODES: readonly FailureCode[] = [
  'DIDIT_UNAVAILABLE',
  'DIDIT_OUT_OF_CREDITS',
  'DIDIT_BAD_RESPONSE',
  'DEPENDENCY_THROTTLED',
];
