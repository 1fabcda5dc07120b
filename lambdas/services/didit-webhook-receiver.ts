import type { CheckResult } from '../core/check';
import { decisionFrom } from '../core/didit-response';
import type { DiditWarning } from '../core/didit-types';
import { type DiditWebhookLivenessResult, type ReceiveOutcome, verifyDiditWebhook } from '../core/didit-webhook';
import { CheckChangedError } from '../core/lifecycle/conflicts';
import { step } from '../core/lifecycle/transitions';
import type { CheckStorePort, Clock, EventSinkPort, SecretSource } from '../core/ports';
import { logger } from '../observability';
import { EventOutbox } from './event-outbox';

export interface ReceiverPorts {
  readonly store: CheckStorePort;
  readonly events: EventSinkPort;
  /** Didit's webhook `secret_shared_key`. */
  readonly secret: SecretSource;
  readonly clock: Clock;
}

/** Thrown when a concurrent change refused the update: the handler answers 5xx and Didit sends the webhook again. */
export class DiditUpdateConflictError extends Error {
  override readonly name = 'DiditUpdateConflictError';
}

/**
 * Didit's `status.updated` webhooks: verified first (signature + freshness; the verifier throws for 400/401 before
 * anything is read or written), then applied to the check that Didit session belongs to, keeping the replaced result
 * in the check's history, and announced as "Liveness Check Updated" (which the webhook echo delivers onward).
 */
export class DiditWebhookReceiver {
  private readonly outbox: EventOutbox;

  constructor(private readonly ports: ReceiverPorts) {
    // Didit's own retries are the takeover path here, so the outbox lease does not matter: publish straight away.
    this.outbox = new EventOutbox(ports, 0);
  }

  async receive(rawBody: string, headers: Record<string, string | undefined>): Promise<ReceiveOutcome> {
    const now = this.ports.clock();
    const verified = verifyDiditWebhook(rawBody, headers, await this.ports.secret(), { now });
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
    // Only what the signature covers is used: after a Simple-only verification that is the status alone.
    const eventId =
      verified.verifiedBy !== 'simple' && typeof verified.trusted.event_id === 'string'
        ? verified.trusted.event_id
        : `${sessionId}:${status}:${timestamp}`;
    if (check.didit_event_ids?.includes(eventId)) {
      if (check.event_pending) await this.outbox.publish(check);
      return 'DUPLICATE';
    }
    const liveness =
      verified.verifiedBy === 'simple'
        ? undefined
        : (verified.trusted.decision?.liveness ?? verified.trusted.decision?.passive_liveness ?? undefined);
    const result = updatedResult(check.result, status, liveness);
    let updated: Awaited<ReturnType<CheckStorePort['execute']>>;
    try {
      updated = await this.ports.store.execute(
        checkId,
        step('applyDiditUpdate', { seen: check, eventId, result, now }),
      );
    } catch (error) {
      // The check changed since it was read (another webhook); Didit retries undelivered webhooks.
      if (error instanceof CheckChangedError) {
        throw new DiditUpdateConflictError('The check changed concurrently; retry', { cause: error });
      }
      throw error;
    }
    logger.info('Didit status update applied', { checkId, decision: result.decision });
    await this.outbox.publish(updated);
    return 'UPDATED';
  }
}

function updatedResult(
  previous: CheckResult,
  status: string,
  liveness: DiditWebhookLivenessResult | null | undefined,
): CheckResult {
  // Only the documented warning fields are kept: whatever else Didit adds stays out of the stored result and GET.
  const warnings = Array.isArray(liveness?.warnings)
    ? liveness.warnings.flatMap((w): DiditWarning[] => {
        if (typeof w === 'string') return [{ risk: w }];
        if (!w || typeof w !== 'object' || typeof (w as { risk?: unknown }).risk !== 'string') return [];
        const { risk, log_type, short_description, long_description } = w as Record<string, unknown>;
        return [
          {
            risk: risk as string,
            ...(typeof log_type === 'string' ? { log_type } : {}),
            ...(typeof short_description === 'string' ? { short_description } : {}),
            ...(typeof long_description === 'string' ? { long_description } : {}),
          },
        ];
      })
    : previous.liveness.warnings;
  const next = {
    ...previous.liveness,
    status,
    score: typeof liveness?.score === 'number' ? liveness.score : previous.liveness.score,
    warnings,
  };
  return { ...previous, liveness: next, decision: decisionFrom(next) };
}
