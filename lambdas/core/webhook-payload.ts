import type { CheckRecord, CheckStatus } from './check';
import { type CheckEventDetail, checkEventDetail, DETAIL_TYPES, EVENT_SOURCE } from './check-events';

/**
 * What a callback receives, built from the check as stored when it is sent, never from the bus event that started
 * the delivery: the event only says which check, and which kind of change, to tell about. An event on the bus is
 * not proof of anything (anyone allowed `events:PutEvents` could put one), the stored check is.
 */

/** The delivery workflow's input: ids and the event's kind only, never vendor_data, metadata or a result. */
export interface DeliveryRequest {
  /** The EventBridge event id: the webhook-id (`msg_<id>`) every retry of this delivery carries. */
  readonly id: string;
  readonly 'detail-type': string;
  readonly time: string;
  readonly detail: { readonly id: string };
}

/** The delivery input for one bus event (what the rule's input transformer and the local stack's rule produce). */
export function deliveryRequestFor(event: {
  readonly id: string;
  readonly source?: string;
  readonly 'detail-type': string;
  readonly time: string;
  readonly detail: { readonly id: string };
}): DeliveryRequest {
  return { id: event.id, 'detail-type': event['detail-type'], time: event.time, detail: { id: event.detail.id } };
}

/** The statuses a check must be in, as stored, for an event of each kind to be told to its callback. */
const STATUS_OF: Readonly<Record<string, CheckStatus>> = {
  [DETAIL_TYPES.completed]: 'COMPLETED',
  [DETAIL_TYPES.updated]: 'COMPLETED',
  [DETAIL_TYPES.failed]: 'FAILED',
  [DETAIL_TYPES.expired]: 'EXPIRED',
};

export interface WebhookPayload {
  readonly type: string;
  readonly timestamp: string;
  readonly data: CheckEventDetail;
}

/**
 * The signed body for a delivery, from the stored check; undefined when the stored check does not bear the event out
 * (a forged or stale event: a "Completed" for a check that is not COMPLETED, an "Updated" for one Didit never
 * updated). `data` is always the check's current state, so a receiver never reads a decision the table does not hold.
 */
export function storedWebhookPayload(check: CheckRecord, claimedType: string): WebhookPayload | undefined {
  const status = STATUS_OF[claimedType];
  if (status === undefined || check.status !== status) return undefined;
  if (claimedType === DETAIL_TYPES.updated && !check.history?.length) return undefined;
  return { type: claimedType, timestamp: check.updated_at, data: checkEventDetail(check) };
}

export { EVENT_SOURCE };
