import type { CheckRecord, DeliveryAttempt } from '../core/check';
import { DETAIL_TYPES } from '../core/check-events';
import { METRICS, type MetricsPort, NO_METRICS } from '../core/metrics';
import type { CheckStorePort, Clock, EventSinkPort, WebhookSenderPort } from '../core/ports';
import { signWebhook, WebhookSecretFormatError } from '../core/standard-webhooks';
import {
  type DeliveryRequest,
  deliveryRequestFor,
  storedWebhookPayload,
  type WebhookPayload,
} from '../core/webhook-payload';
import { logger } from '../observability';
import { recordDeliveryAttempt } from './delivery-log';

/**
 * What started the delivery: the bus event's id, kind and time, and the check id (core/webhook-payload.ts
 * `DeliveryRequest`, the state machine's input). Anything else an event carries is never read.
 */
export type BusEvent = DeliveryRequest;

/** State carried between the delivery workflow's tasks. */
export interface DeliveryState {
  readonly event: BusEvent;
  /** Attempts made so far. */
  readonly attempt: number;
  readonly outcome?: 'skip' | 'pending' | 'delivered' | 'retry' | 'give_up' | 'exhausted';
}

export interface DelivererPorts {
  readonly store: CheckStorePort;
  readonly sender: WebhookSenderPort;
  /** Current signing secret first; during rotation the previous one too (both signatures are sent). */
  readonly signingSecrets: () => Promise<string[]>;
  /** Maps a transport failure to a short code, or undefined if the error is not a transport failure. */
  readonly transportErrorCode: (error: unknown) => string | undefined;
  /**
   * The signing secrets of one check's owner (its client app's own secret), current first. @default signingSecrets
   */
  readonly signingSecretsFor?: (check: CheckRecord) => Promise<string[]>;
  /** True when the URL may never be delivered to (SSRF guard). */
  readonly isRefusedCallback: (error: unknown) => boolean;
  readonly classify: (statusCode: number) => 'delivered' | 'retry' | 'give_up';
  readonly events: EventSinkPort;
  readonly clock: Clock;
  /** Where each attempt's outcome and each failed delivery are counted. @default NO_METRICS */
  readonly metrics?: MetricsPort;
}

export interface DelivererSettings {
  /** Give up retrying once this long has passed since the event. */
  readonly horizonSeconds: number;
  /** Give up after this many attempts even within the horizon (the state machine has one wait cap per attempt). */
  readonly maxAttempts: number;
}

/**
 * Delivers one check event to the check's callback_url, signed per Standard Webhooks with the secret of the check's
 * owner. The body is built from the check as stored at send time (core/webhook-payload.ts), never from the event: an
 * event the stored check does not bear out (forged, or stale) is skipped. The webhook-id comes from the event id, so
 * every retry of one delivery carries the same id (a receiver dedupes on it); each attempt signs with its own
 * timestamp. Every attempt is recorded on the check.
 */
export class WebhookDeliverer {
  constructor(
    private readonly ports: DelivererPorts,
    private readonly settings: DelivererSettings,
  ) {}

  /** First task: skips events whose check has no callback, or whose delivery already succeeded (a duplicate event). */
  async prepare(received: BusEvent): Promise<DeliveryState> {
    // Whatever the input held beyond ids is dropped here: the workflow carries ids only.
    const event = deliveryRequestFor(received);
    const check = await this.ports.store.get(event.detail.id);
    const id = webhookId(event);
    const done = check?.deliveries?.some((d) => d.webhook_id === id && d.outcome === 'delivered');
    if (!check?.callback_url || done) return { event, attempt: 0, outcome: 'skip' };
    if (!storedWebhookPayload(check, event['detail-type'])) {
      logger.warn('Event not borne out by the stored check: no webhook', {
        checkId: check.id,
        eventType: event['detail-type'],
        status: check.status,
      });
      return { event, attempt: 0, outcome: 'skip' };
    }
    return { event, attempt: 0, outcome: 'pending' };
  }

  async attempt(state: DeliveryState): Promise<DeliveryState> {
    const { event } = state;
    const attempt = state.attempt + 1;
    const check = await this.ports.store.get(event.detail.id);
    if (!check?.callback_url) return { event, attempt, outcome: 'give_up' };
    // Read again at send time: the body says what the table says now.
    const payload = storedWebhookPayload(check, event['detail-type']);
    if (!payload) return { event, attempt, outcome: 'give_up' };

    const now = this.ports.clock();
    const body = webhookBody(payload);
    let outcome: 'delivered' | 'retry' | 'give_up';
    let statusCode: number | null = null;
    let latencyMs = 0;
    let error: string | undefined;
    try {
      const headers = {
        ...signWebhook(
          await (this.ports.signingSecretsFor?.(check) ?? this.ports.signingSecrets()),
          webhookId(event),
          Math.floor(now.getTime() / 1000),
          body,
        ),
        'content-type': 'application/json',
        'user-agent': 'liveness-service-webhooks/1',
      };
      const response = await this.ports.sender.deliver(check.callback_url, body, headers);
      statusCode = response.statusCode;
      latencyMs = response.latencyMs;
      outcome = this.ports.classify(statusCode);
    } catch (thrown) {
      latencyMs = this.ports.clock().getTime() - now.getTime();
      if (this.ports.isRefusedCallback(thrown)) {
        outcome = 'give_up';
        error = 'CALLBACK_REFUSED';
      } else if (thrown instanceof WebhookSecretFormatError) {
        // An operator must fix the secret: retrying for a day would only hide it. The failure event and alarm tell.
        outcome = 'give_up';
        error = 'SIGNING_SECRET_INVALID';
      } else {
        const code = this.ports.transportErrorCode(thrown);
        if (!code) throw thrown;
        outcome = 'retry';
        error = code;
      }
    }
    const record: DeliveryAttempt = {
      webhook_id: webhookId(event),
      event_type: event['detail-type'],
      attempt,
      at: now.toISOString(),
      status_code: statusCode,
      latency_ms: latencyMs,
      outcome,
      ...(error ? { error } : {}),
    };
    await recordDeliveryAttempt(this.ports.store, event.detail.id, check, record);
    logger.info('Webhook attempt', { checkId: event.detail.id, attempt, outcome, statusCode, latencyMs, error });
    (this.ports.metrics ?? NO_METRICS).record(METRICS.webhookAttempts, 1, outcome);

    const ageSeconds = (now.getTime() - Date.parse(event.time)) / 1000;
    if (outcome === 'retry' && (attempt >= this.settings.maxAttempts || ageSeconds >= this.settings.horizonSeconds)) {
      return { event, attempt, outcome: 'exhausted' };
    }
    return { event, attempt, outcome };
  }

  /** Last task of a delivery that did not succeed: tells subscribers, once. */
  async report(state: DeliveryState): Promise<DeliveryState> {
    const check = await this.ports.store.get(state.event.detail.id);
    const last = check?.deliveries?.filter((d) => d.webhook_id === webhookId(state.event)).at(-1);
    await this.ports.events.publish([
      {
        detailType: DETAIL_TYPES.webhookDeliveryFailed,
        detail: {
          id: state.event.detail.id,
          webhook_id: webhookId(state.event),
          event_type: state.event['detail-type'],
          attempts: state.attempt,
          reason: state.outcome === 'give_up' ? 'REFUSED_BY_RECEIVER' : 'RETRIES_EXHAUSTED',
          last_status_code: last?.status_code ?? null,
          last_error: last?.error ?? null,
          occurred_at: this.ports.clock().toISOString(),
        },
      },
    ]);
    (this.ports.metrics ?? NO_METRICS).record(METRICS.webhookDeliveryFailures, 1);
    return state;
  }
}

/** Stable for every retry of one delivery: derived from the EventBridge event id. */
export function webhookId(event: BusEvent): string {
  return `msg_${event.id}`;
}

/** The body bytes: the stored check's payload (core/webhook-payload.ts) as JSON. */
export function webhookBody(payload: WebhookPayload): string {
  return JSON.stringify({ type: payload.type, timestamp: payload.timestamp, data: payload.data });
}
