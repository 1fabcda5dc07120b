import type { FailureCode } from '../errors';
import type { DiditLiveness } from './didit-types';
import type { WaitReason } from './pacing/pacer';
import type { AcceptedContentType } from './upload-rules';

export const CHECK_STATUSES = [
  'AWAITING_UPLOAD',
  'PROCESSING',
  'WAITING',
  'RETRYING',
  'COMPLETED',
  'FAILED',
  'EXPIRED',
  'DELETED',
] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export const TERMINAL_STATUSES: readonly CheckStatus[] = ['COMPLETED', 'FAILED', 'EXPIRED'];

/** Every status but DELETED: a check that still exists (a DELETED item is only a tombstone, see `Tombstone`). */
export const LIVE_STATUSES: readonly CheckStatus[] = CHECK_STATUSES.filter((s) => s !== 'DELETED');

export type Decision = 'Approved' | 'Declined';

/** The result stored on a COMPLETED check: Didit's answer plus our decision. */
export interface CheckResult {
  /** Didit's session id; null when the pre-screen declined without calling Didit. */
  readonly request_id: string | null;
  readonly liveness: DiditLiveness;
  readonly decision: Decision;
  /** Faces the optional Rekognition pre-screen counted; absent when the pre-screen is off. */
  readonly prescreen_face_count?: number;
  readonly didit_created_at?: string | null;
  /**
   * Set when Didit's answer (charged) did not match the documented shape and this result was read from it leniently:
   * says what was wrong. The answer itself is kept on the check, capped at 64 KiB.
   */
  readonly parse_issue?: string;
}

export interface CheckError {
  readonly code: FailureCode;
  readonly message: string;
}

/** Options the client chose when creating the check; forwarded to Didit. */
export interface CheckOptions {
  readonly face_liveness_score_decline_threshold: number;
  readonly rotate_image: boolean;
  readonly save_api_request: boolean;
  readonly content_type: AcceptedContentType;
  readonly vendor_data?: string;
  readonly metadata?: Record<string, unknown>;
  readonly callback_url?: string;
}

/** A check as stored in DynamoDB (partition key `id`). */
export interface CheckRecord extends CheckOptions {
  readonly id: string;
  /** Who created the check and alone may see it (core/caller.ts); absent on checks stored before owners existed. */
  readonly owner?: string;
  /** Key of the by-owner-vendor index: a hash of owner and vendor_data; only on checks with both. */
  readonly owner_vendor_key?: string;
  /** The id of the Idempotency-Key record that created it (`idem#…`, a hash): DELETE erases that record's fingerprint. */
  readonly idempotency_id?: string;
  readonly status: CheckStatus;
  readonly upload_key: string;
  readonly created_at: string;
  readonly updated_at: string;
  /** When the presigned POST stops working; a check still AWAITING_UPLOAD after this can never be uploaded. */
  readonly upload_expires_at: string;
  /** Epoch seconds after which DynamoDB TTL may delete the item. */
  readonly expires_at: number;
  readonly result?: CheckResult;
  readonly error?: CheckError;
  /** Token of the processing attempt that holds the claim. */
  readonly claim_token?: string;
  /** The terminal event for this status is not yet on the bus (an outbox flag; cleared after PutEvents). */
  readonly event_pending?: boolean;
  /** Epoch seconds until which a later delivery owns republishing the pending event. */
  readonly event_claimed_until?: number;
  /** Epoch seconds when the processing claim lapses and another attempt may take over. */
  readonly claim_expires_at?: number;
  /** Workflow round (one Step Functions execution each) and attempt within it. */
  readonly retry_round?: number;
  readonly retry_attempt?: number;
  /** The retryable failure that sent the check to RETRYING; becomes `error` if retries run out. */
  readonly last_error?: CheckError;
  /** Didit's Retry-After for the last failure: the lower bound of the next wait. */
  readonly retry_after_seconds?: number;
  /** Sparse index for the sweeper: present only while the check is not terminal. */
  readonly due_shard?: string;
  readonly due_at?: number;
  /** Didit's answer, saved the moment it arrived and until the check is COMPLETED with it. */
  readonly pending_result?: CheckResult;
  /** WAITING: why the check waits without calling Didit, and until when. */
  readonly wait_reason?: WaitReason;
  readonly resume_at?: string;
  /** When the check first had to wait (kept until it ends: the API and the oldest-wait metric read it). */
  readonly wait_since?: string;
  /** PACED or DIDIT_THROTTLED: the pacer ticket the check holds, its place in the line for Didit. */
  readonly wait_ticket?: number;
  /** Sparse index of WAITING checks (present only while WAITING): count and oldest wait for the sweeper's metrics. */
  readonly waiting_shard?: string;
  /** When Didit first failed for real (5xx, timeouts, no credits) for this check: the failure horizon counts from it. */
  readonly outage_since?: string;
  /** A charged Didit answer that failed strict parsing, as received (at most 64 KiB). */
  readonly didit_raw_answer?: string;
  /** Didit's session id (`result.request_id`), indexed so Didit's webhooks find the check. */
  readonly didit_session_id?: string;
  /** Every attempt to deliver a webhook to `callback_url`. */
  readonly deliveries?: readonly DeliveryAttempt[];
  /** Earlier results replaced by Didit `status.updated` webhooks, oldest first. */
  readonly history?: readonly HistoryEntry[];
  /** Didit webhook event ids already applied (a redelivered webhook changes nothing). */
  readonly didit_event_ids?: readonly string[];
  /** Didit's signed `timestamp` (unix seconds) of the last status.updated applied: an older or equal one is ignored. */
  readonly didit_updated_at?: number;
  /**
   * Didit's signed `timestamp` of the newest status.updated that changed nothing: an event sent before it is ignored
   * (a late retry of a change Didit has since undone), one sent at the same second is still applied.
   */
  readonly didit_seen_at?: number;
  /** The detail-type of the pending event when it is not the status's own (a "Liveness Check Updated"). */
  readonly pending_event_type?: string;
  /** The S3 ETag of the upload the check was claimed for: every read of the upload is pinned to it (`IfMatch`). */
  readonly upload_etag?: string;
  /** Replaced results dropped from `history` (oldest first) to keep it within HISTORY_CAP. */
  readonly history_dropped?: number;
  /** Delivery attempts ever recorded; `deliveries` keeps the newest DELIVERIES_CAP of them. */
  readonly deliveries_total?: number;
  /** Delivery attempts dropped from `deliveries` (oldest first) to keep it within DELIVERIES_CAP. */
  readonly deliveries_dropped?: number;

  // A tombstone (status DELETED) carries only these, besides `id`, the owner, `status` and its outbox fields.
  /** When `DELETE /v1/liveness-checks/{id}` erased the check. */
  readonly deleted_at?: string;
  /** Didit's copy of the saved request: PENDING until Didit confirmed it deleted the session (204, or 404: gone). */
  readonly didit_erasure?: DiditErasureState;
  /** The Didit session still to delete (removed once done). */
  readonly didit_erasure_session?: string;
  readonly didit_erasure_attempts?: number;
  /** The last failed attempt's named error (code and HTTP status), never a body. */
  readonly didit_erasure_error?: string;
  readonly didit_erased_at?: string;
}

export type DiditErasureState = 'PENDING' | 'DONE';

/**
 * What is left of a check after `DELETE`: its id, owner and deletion time, and the state of the erasure at Didit.
 * Stored in the checks table as an item with status DELETED (so a late processor, retry round or Didit webhook finds
 * the check ended and cannot write it back), until `expires_at`.
 */
export interface Tombstone {
  readonly id: string;
  readonly status: 'DELETED';
  readonly owner?: string;
  readonly deleted_at: string;
  readonly expires_at?: number;
  readonly event_pending?: boolean;
  readonly due_shard?: string;
  readonly due_at?: number;
  readonly didit_erasure?: DiditErasureState;
  readonly didit_erasure_session?: string;
  readonly didit_erasure_attempts?: number;
  readonly didit_erasure_error?: string;
  readonly didit_erased_at?: string;
  /** Until the deletion is finished: the Idempotency-Key record whose request fingerprint is still to be erased. */
  readonly idempotency_id?: string;
}

/** Whether a stored item is a deleted check's tombstone rather than a check. */
export function isTombstone(record: Pick<CheckRecord, 'status'> | Tombstone): record is Tombstone {
  return record.status === 'DELETED';
}

/** Newest replaced results kept on a check (each ≈ 1–3 KB); older ones are dropped and counted. */
export const HISTORY_CAP = 10;
/**
 * Newest applied Didit webhook event ids kept on a check for dedupe. An older event is refused by its signed timestamp
 * anyway (`didit_updated_at`), so the ids only need to cover redeliveries of recent ones; a check never grows past this.
 */
export const DIDIT_EVENT_IDS_CAP = 20;
/** Newest delivery attempts kept on a check (each ≈ 250 B); older ones are dropped and counted. */
export const DELIVERIES_CAP = 50;

export const DUE_INDEX_NAME = 'by-due';
export const DUE_SHARD = 'due';
export const DIDIT_SESSION_INDEX_NAME = 'by-didit-session';
export const WAITING_INDEX_NAME = 'by-waiting';
export const WAITING_SHARD = 'waiting';
/** The caller's checks for one `vendor_data`, newest first (partition `owner_vendor_key`, sort `created_at`). */
export const OWNER_VENDOR_INDEX_NAME = 'by-owner-vendor';

export interface DeliveryAttempt {
  readonly webhook_id: string;
  readonly event_type: string;
  readonly attempt: number;
  readonly at: string;
  readonly status_code: number | null;
  readonly latency_ms: number;
  readonly outcome: 'delivered' | 'retry' | 'give_up';
  readonly error?: string;
}

export interface HistoryEntry {
  readonly replaced_at: string;
  /** What replaced it, e.g. `didit:status.updated`. */
  readonly replaced_by: string;
  readonly result: CheckResult;
}

export function isTerminal(status: CheckStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Check ids are UUID v4; the upload key embeds the id so the processor can find the check. */
const CHECK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isCheckId(value: string): boolean {
  return CHECK_ID.test(value);
}

export function uploadKeyFor(prefix: string, checkId: string): string {
  return `${prefix}${checkId}`;
}

/** Returns the check id an S3 key belongs to, or undefined when the key is not one of ours. */
export function checkIdFromKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const id = key.slice(prefix.length);
  return isCheckId(id) ? id : undefined;
}
