import type { CheckRecord } from '../core/check';
import { DETAIL_TYPES } from '../core/check-events';
import { changesResult, reportedLiveness, updatedResult } from '../core/didit-status-update';
import {
  DiditWebhookSignatureError,
  type DiditWebhookVerification,
  parseDiditWebhookSecrets,
  type ReceiveOutcome,
  verifyDiditWebhook,
} from '../core/didit-webhook';
import { CheckChangedError } from '../core/lifecycle/conflicts';
import { step } from '../core/lifecycle/transitions';
import type { CheckStorePort, Clock, EventSinkPort, SecretSource } from '../core/ports';
import { logger } from '../observability';
import { EventOutbox } from './event-outbox';

export interface ReceiverPorts {
  readonly store: CheckStorePort;
  readonly events: EventSinkPort;
  /** Didit's webhook `secret_shared_key`, then (during a rotation) the previous one, whitespace-separated. */
  readonly secret: SecretSource;
  readonly clock: Clock;
}

/** Thrown when a concurrent change refused the update: the handler answers 5xx and Didit sends the webhook again. */
export class DiditUpdateConflictError extends Error {
  override readonly name = 'DiditUpdateConflictError';
}

/**
 * Didit's `status.updated` webhooks: verified first (signature + freshness; the verifier throws for 400/401 before
 * anything is read or written), then applied to the check that Didit session belongs to when, and only when, Didit
 * sent it after the last update applied and it changes the result; the replaced result goes to the check's history
 * and one "Liveness Check Updated" goes out (which the webhook echo delivers onward). Every other verified event is
 * acknowledged and changes nothing. Whatever could succeed on a retry (a concurrent update, a throttled table, the bus
 * down) is thrown, so the handler answers 5xx and Didit, which retries only 5xx and 404, sends the event again.
 */
export class DiditWebhookReceiver {
  private readonly outbox: EventOutbox;

  constructor(private readonly ports: ReceiverPorts) {
    // Didit's own retries are the takeover path here, so the outbox lease does not matter: publish straight away.
    this.outbox = new EventOutbox(ports, 0);
  }

  async receive(rawBody: string, headers: Record<string, string | undefined>): Promise<ReceiveOutcome> {
    const now = this.ports.clock();
    const verified = await this.verify(rawBody, headers, now);
    const { session_id: sessionId, status, webhook_type: type, timestamp } = verified.trusted;
    if (type !== 'status.updated') {
      logger.info('Didit webhook type ignored', { webhookType: type });
      return 'IGNORED_TYPE';
    }
    const checkId = await this.ports.store.findBySessionId(sessionId);
    if (!checkId) {
      logger.info('Didit webhook for a session that is not one of our checks', { verifiedBy: verified.verifiedBy });
      return 'UNKNOWN_SESSION';
    }
    const check = await this.ports.store.get(checkId);
    if (!check?.result || check.status !== 'COMPLETED') return 'NOT_COMPLETED';

    if (check.didit_event_ids?.includes(verified.dedupeKey)) {
      await this.finishPendingUpdate(check);
      return 'DUPLICATE';
    }
    if (
      (check.didit_updated_at !== undefined && timestamp <= check.didit_updated_at) ||
      (check.didit_seen_at !== undefined && timestamp < check.didit_seen_at)
    ) {
      logger.info('Didit webhook older than the last update applied', { checkId });
      await this.finishPendingUpdate(check);
      return 'STALE';
    }
    // Only what the signature covers is used: after a Simple-only verification that is the status alone.
    const reported = verified.verifiedBy === 'simple' ? {} : reportedLiveness(verified.trusted.decision);
    const result = updatedResult(check.result, status, reported);
    if (!changesResult(check.result, result)) {
      logger.info('Didit webhook changes nothing', { checkId });
      await this.note(checkId, timestamp);
      return 'UNCHANGED';
    }

    let updated: CheckRecord;
    try {
      updated = await this.ports.store.execute(
        checkId,
        step('applyDiditUpdate', { seen: check, eventId: verified.dedupeKey, diditTimestamp: timestamp, result, now }),
      );
    } catch (error) {
      if (!(error instanceof CheckChangedError)) throw error;
      // Refused by the write's condition. When the check as refused (DynamoDB hands it back) already holds this event
      // or a later one, the answer is final; otherwise it changed meanwhile, and Didit's retry reads it again.
      const current = error.current;
      if (current?.didit_event_ids?.includes(verified.dedupeKey)) return 'DUPLICATE';
      if (current?.didit_updated_at !== undefined && timestamp <= current.didit_updated_at) return 'STALE';
      if (current?.didit_seen_at !== undefined && timestamp < current.didit_seen_at) return 'STALE';
      throw new DiditUpdateConflictError('The check changed concurrently; retry', { cause: error });
    }
    logger.info('Didit status update applied', { checkId, decision: result.decision });
    // If this throws, the event stays pending on the check and Didit's retry (DUPLICATE) or the sweeper publishes it.
    await this.outbox.publish(updated);
    return 'UPDATED';
  }

  /**
   * Verifies with the secrets as cached; on a signature mismatch, once more with the secret read afresh, since Didit
   * may have started signing with a secret put after this container cached the old one. A webhook answered 401 is
   * never sent again.
   */
  private async verify(
    rawBody: string,
    headers: Record<string, string | undefined>,
    now: Date,
  ): Promise<DiditWebhookVerification> {
    const attempt = async (fresh: boolean) => {
      const secrets = parseDiditWebhookSecrets(await this.ports.secret(fresh ? { fresh } : undefined));
      const verified = verifyDiditWebhook(rawBody, headers, secrets, { now });
      if (verified.secretIndex > 0) {
        logger.info('Didit webhook verified with the previous secret', { verifiedBy: verified.verifiedBy });
      }
      return verified;
    };
    try {
      return await attempt(false);
    } catch (error) {
      if (!(error instanceof DiditWebhookSignatureError && error.reason === 'signature_mismatch')) throw error;
      return attempt(true);
    }
  }

  /** Remembers an event that changed nothing by its timestamp, so an older one arriving later is STALE. */
  private async note(checkId: string, timestamp: number): Promise<void> {
    try {
      await this.ports.store.execute(checkId, step('noteDiditUpdate', { diditTimestamp: timestamp }));
    } catch (error) {
      // A newer update was applied or noted meanwhile (or the check is gone): what it holds already says more.
      if (!(error instanceof CheckChangedError)) throw error;
    }
  }

  /** An Updated event whose publication failed after its write (the answer was a 5xx): Didit's retry publishes it. */
  private async finishPendingUpdate(check: CheckRecord): Promise<void> {
    if (check.event_pending && check.pending_event_type === DETAIL_TYPES.updated) await this.outbox.publish(check);
  }
}
