import type { CheckError, CheckRecord, CheckResult, CheckStatus, DeliveryAttempt, HistoryEntry } from './check';
import type { DiditWarning } from './didit-types';
import { storedWarning } from './didit-warnings';
import { withoutFaceAttributes } from './face-attributes';
import type { WaitReason } from './pacing/pacer';

/** What the API hands out: the views of a check and of a new check's upload. Pure types and mapping. */

/** A presigned S3 POST for one check's upload (`upload` in the create response). */
export interface PresignedUpload {
  readonly url: string;
  readonly fields: Record<string, string>;
  readonly expires_at: string;
  readonly max_bytes: number;
}

/** The `201` body of `POST /v1/liveness-checks`. */
export interface CreatedCheck {
  readonly id: string;
  readonly status: 'AWAITING_UPLOAD';
  readonly upload: PresignedUpload;
  readonly created_at: string;
}

/** The public representation returned by `GET /v1/liveness-checks/{id}`. */
export interface CheckView {
  readonly id: string;
  readonly status: CheckStatus;
  readonly vendor_data: string | null;
  readonly metadata: Record<string, unknown> | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly result?: CheckResult;
  readonly error?: CheckError;
  readonly deliveries?: readonly DeliveryAttempt[];
  readonly history?: readonly HistoryEntry[];
  /** Oldest delivery attempts dropped to keep `deliveries` within its cap (absent when none was). */
  readonly deliveries_dropped?: number;
  /** Oldest replaced results dropped to keep `history` within its cap (absent when none was). */
  readonly history_dropped?: number;
  readonly retry?: {
    readonly round: number;
    readonly failed_attempts: number;
    readonly last_error: CheckError | null;
  };
  /** WAITING: why the check is not at Didit yet, since when, and when it tries next. */
  readonly wait?: {
    readonly reason: WaitReason;
    readonly since: string;
    readonly resume_at: string;
  };
}

/** What a view may show. `faceAttributes`: Didit's age/gender/race estimates (the `storeFaceAttributes` setting). */
export interface ViewOptions {
  readonly faceAttributes?: boolean;
}

export function toCheckView(record: CheckRecord, options: ViewOptions = {}): CheckView {
  const viewResult = (result: CheckResult) => {
    const shown = trimmedWarnings(result);
    return options.faceAttributes ? shown : withoutFaceAttributes(shown);
  };
  return {
    id: record.id,
    status: record.status,
    vendor_data: record.vendor_data ?? null,
    metadata: record.metadata ?? null,
    created_at: record.created_at,
    updated_at: record.updated_at,
    ...(record.result ? { result: viewResult(record.result) } : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.retry_attempt !== undefined
      ? {
          retry: {
            round: record.retry_round ?? 1,
            failed_attempts: record.retry_attempt,
            last_error: record.last_error ?? null,
          },
        }
      : {}),
    ...(record.status === 'WAITING' && record.wait_reason && record.resume_at
      ? {
          wait: {
            reason: record.wait_reason,
            since: record.wait_since ?? record.updated_at,
            resume_at: record.resume_at,
          },
        }
      : {}),
    ...(record.deliveries?.length ? { deliveries: record.deliveries } : {}),
    ...(record.deliveries_dropped ? { deliveries_dropped: record.deliveries_dropped } : {}),
    ...(record.history?.length
      ? { history: record.history.map((entry) => ({ ...entry, result: viewResult(entry.result) })) }
      : {}),
    ...(record.history_dropped ? { history_dropped: record.history_dropped } : {}),
  };
}

/** Results stored before warnings were trimmed to their documented fields may still hold Didit's `additional_data`. */
function trimmedWarnings(result: CheckResult): CheckResult {
  const warnings = result.liveness.warnings.map((w): DiditWarning => storedWarning(w) ?? { risk: w.risk });
  return { ...result, liveness: { ...result.liveness, warnings } };
}
