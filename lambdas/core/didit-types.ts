/** Didit `POST /v3/passive-liveness/` response, as documented in the seed contract. */

export interface DiditFaceEntity {
  readonly bbox: readonly number[];
  readonly confidence: number;
  readonly age?: number | null;
  readonly gender?: string | null;
  readonly race?: string | null;
}

/**
 * Didit warnings are objects with a `risk` code; older payloads may carry bare strings, normalised on read. Only these
 * text fields are kept, each capped (didit-warnings.ts); Didit's `additional_data` is never stored.
 */
export interface DiditWarning {
  readonly risk: string;
  /** `error`, `warning` or `information`: tells a warning that declines from one that only informs. */
  readonly log_type?: string;
  readonly short_description?: string;
  readonly long_description?: string;
  /** The Didit feature that raised it, e.g. `LIVENESS` (webhook decisions). */
  readonly feature?: string;
}

export interface DiditLiveness {
  readonly status: string;
  readonly method: string;
  readonly score: number | null;
  readonly user_image: { readonly entities: readonly DiditFaceEntity[]; readonly best_angle?: number | null } | null;
  readonly warnings: readonly DiditWarning[];
  readonly face_quality: number | null;
  readonly face_luminance: number | null;
}

export interface DiditPassiveLivenessResponse {
  readonly request_id: string;
  readonly liveness: DiditLiveness;
  readonly vendor_data: string | null;
  readonly metadata: Record<string, unknown> | null;
  readonly created_at: string;
}

/** What Didit is sent for one check (the image travels separately as bytes). */
export interface DiditLivenessRequest {
  readonly image: Uint8Array;
  readonly faceLivenessScoreDeclineThreshold: number;
  readonly rotateImage: boolean;
  readonly saveApiRequest: boolean;
  readonly vendorData?: string | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
}

/** What Didit said about the request budget on one answer (its `X-RateLimit-*` and `Retry-After` headers). */
export interface DiditRateLimit {
  readonly limit?: number;
  readonly remaining?: number;
  /** When the window frees up (`X-RateLimit-Reset`, epoch seconds), in epoch milliseconds. */
  readonly resetAtMs?: number;
  readonly retryAfterSeconds?: number;
}

/** One answered call: the decision and what Didit said about the budget. */
export interface DiditAnswer {
  readonly response: DiditPassiveLivenessResponse;
  readonly rateLimit: DiditRateLimit | undefined;
}
