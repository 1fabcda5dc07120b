/**
 * One exit code per outcome, so a shell script or CI job can branch on the result without parsing output. The table
 * is documented in docs/clients.md; keep the two in step.
 */
export const EXIT_CODES = {
  /** The check COMPLETED and Didit approved the selfie. */
  Approved: 0,
  /** Bad flags or arguments, or the API refused a field of the request (400 VALIDATION_FAILED). */
  USAGE_ERROR: 1,
  /** The check COMPLETED and the selfie was declined. */
  Declined: 2,
  /** The check ended FAILED (the error code says why, e.g. CORRUPT_IMAGE, DIDIT_UNAVAILABLE). */
  FAILED: 3,
  /** The check EXPIRED, or it was still pending when --timeout ran out. */
  EXPIRED: 4,
  TIMEOUT: 4,
  /** The API refused the key (401/403). */
  AUTH_FAILED: 5,
  /** The API or the upload URL could not be reached (refused, DNS, TLS, timeout). */
  API_UNREACHABLE: 6,
  /** The file is missing, unreadable, empty, larger than 5 MiB, or not a JPEG/PNG/WebP/TIFF/HEIC. */
  BAD_INPUT_FILE: 7,
  /** Any other unexpected answer: a 5xx, a non-JSON body, a wrong URL (404), or S3 refusing the upload. */
  API_ERROR: 8,
} as const;

export type Outcome = keyof typeof EXIT_CODES;
