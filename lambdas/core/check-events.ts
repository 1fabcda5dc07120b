import type { FailureCode } from '../errors';
import type { CheckRecord, CheckStatus, Decision, Tombstone } from './check';

/** `source` of every event the service publishes. */
export const EVENT_SOURCE = 'liveness.service';

export const DETAIL_TYPES = {
  completed: 'Liveness Check Completed',
  failed: 'Liveness Check Failed',
  expired: 'Liveness Check Expired',
  updated: 'Liveness Check Updated',
  deleted: 'Liveness Check Deleted',
  webhookDeliveryFailed: 'Liveness Webhook Delivery Failed',
} as const;

/** The events a check's callback_url receives; the stack's rule and the local stack's rule share this pattern. */
export const WEBHOOK_DELIVERY_PATTERN = {
  source: [EVENT_SOURCE],
  'detail-type': [DETAIL_TYPES.completed, DETAIL_TYPES.failed, DETAIL_TYPES.expired, DETAIL_TYPES.updated],
  detail: { has_callback: [true] },
};

const TERMINAL_DETAIL_TYPES = {
  COMPLETED: DETAIL_TYPES.completed,
  FAILED: DETAIL_TYPES.failed,
  EXPIRED: DETAIL_TYPES.expired,
} as const;

/**
 * Version of the check events' `detail` shape, carried in every detail as `schema_version`. 2: `warnings` are
 * `{ risk, log_type }` objects (1, unversioned: bare risk codes). docs/contracts.md has the migration.
 */
export const CHECK_EVENT_SCHEMA_VERSION = 2;

/** A Didit warning as events carry it: the risk code and its kind (`error`, `warning`, `information`, or null). */
export interface CheckEventWarning {
  readonly risk: string;
  readonly log_type: string | null;
}

/** The `detail` of every check event: ids, the decision and codes; never image bytes or Didit's face entities. */
export interface CheckEventDetail {
  readonly id: string;
  readonly status: CheckStatus;
  readonly decision: Decision | null;
  readonly score: number | null;
  readonly warnings: readonly CheckEventWarning[];
  readonly vendor_data: string | null;
  readonly metadata: Record<string, unknown> | null;
  readonly didit_request_id: string | null;
  readonly error: { readonly code: FailureCode; readonly message: string } | null;
  /** True when the check has a callback_url: the webhook delivery rule matches on it (the URL itself stays out). */
  readonly has_callback: boolean;
  readonly occurred_at: string;
  readonly schema_version: typeof CHECK_EVENT_SCHEMA_VERSION;
}

/** The terminal event for a check, or undefined when its status has none. */
export function terminalEventFor(record: CheckRecord): { detailType: string; detail: CheckEventDetail } | undefined {
  if (record.status !== 'COMPLETED' && record.status !== 'FAILED' && record.status !== 'EXPIRED') return undefined;
  return {
    detailType: record.pending_event_type ?? TERMINAL_DETAIL_TYPES[record.status],
    detail: checkEventDetail(record),
  };
}

/** The event detail for a check's current state (terminal events and "Liveness Check Updated" alike). */
export function checkEventDetail(record: CheckRecord): CheckEventDetail {
  const liveness = record.result?.liveness;
  return {
    id: record.id,
    status: record.status,
    decision: record.result?.decision ?? null,
    score: liveness?.score ?? null,
    warnings: liveness?.warnings.map((w) => ({ risk: w.risk, log_type: w.log_type ?? null })) ?? [],
    vendor_data: record.vendor_data ?? null,
    metadata: record.metadata ?? null,
    didit_request_id: record.result?.request_id ?? null,
    error: record.error ?? null,
    has_callback: Boolean(record.callback_url),
    occurred_at: record.updated_at,
    schema_version: CHECK_EVENT_SCHEMA_VERSION,
  };
}

/** Version of the "Liveness Check Deleted" detail (its own schema: a deleted check has nothing else to say). */
export const DELETED_EVENT_SCHEMA_VERSION = 1;

/**
 * The `detail` of "Liveness Check Deleted": the id and when, and whether Didit still holds a copy to erase. No personal
 * data: no vendor_data, metadata or result (the check no longer has them).
 */
export interface CheckDeletedDetail {
  readonly id: string;
  readonly deleted_at: string;
  /** PENDING: Didit kept the request (save_api_request) and is being asked to delete it; NOT_NEEDED: it kept none. */
  readonly didit_erasure: 'PENDING' | 'DONE' | 'NOT_NEEDED';
  readonly schema_version: typeof DELETED_EVENT_SCHEMA_VERSION;
}

export function checkDeletedEvent(tombstone: Tombstone): { detailType: string; detail: CheckDeletedDetail } {
  return {
    detailType: DETAIL_TYPES.deleted,
    detail: {
      id: tombstone.id,
      deleted_at: tombstone.deleted_at,
      didit_erasure: tombstone.didit_erasure ?? 'NOT_NEEDED',
      schema_version: DELETED_EVENT_SCHEMA_VERSION,
    },
  };
}
