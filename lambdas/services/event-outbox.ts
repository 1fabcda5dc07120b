import type { CheckRecord } from '../core/check';
import { DETAIL_TYPES, terminalEventFor } from '../core/check-events';
import { CheckChangedError } from '../core/lifecycle/conflicts';
import { step } from '../core/lifecycle/transitions';
import type { CheckStorePort, Clock, EventSinkPort, UploadRemoverPort } from '../core/ports';

export interface OutboxPorts {
  readonly store: CheckStorePort;
  readonly events: EventSinkPort;
  readonly clock: Clock;
  /**
   * Where an ended check's upload is deleted before its terminal event goes out; absent for writers that never end a
   * check (the Didit webhook receiver) and when `keepUploadsUntilLifecycle` keeps uploads for an audit.
   */
  readonly endedUploads?: UploadRemoverPort;
}

/**
 * The outbox every writer of a check's event goes through: the write that changes the check marks its event pending,
 * the ended check's upload is deleted, the event goes to the bus, then the flag is cleared. A writer that died in between leaves the flag set, and one
 * later taker (a duplicate delivery, a skipped attempt, the sweeper) publishes it once the writer's lease is over.
 */
export class EventOutbox {
  constructor(
    private readonly ports: OutboxPorts,
    /** How long a writer may still be publishing; no one takes over before. */
    private readonly leaseSeconds: number,
  ) {}

  /** Publishes the pending event of a check the caller just wrote (or took over), then clears the flag. */
  async publish(record: CheckRecord): Promise<void> {
    const event = terminalEventFor(record);
    if (!event) return;
    // The check has ended (COMPLETED, FAILED, EXPIRED): its selfie has no purpose left. Deleted before the event, so
    // a failure leaves the event pending and whoever takes it over (a retry, the sweeper) deletes again (idempotent).
    if (this.ports.endedUploads && event.detailType !== DETAIL_TYPES.updated) {
      await this.ports.endedUploads.remove(record.upload_key);
    }
    await this.ports.events.publish([event]);
    try {
      await this.ports.store.execute(record.id, step('markEventPublished', { status: record.status }));
    } catch (error) {
      // The check moved on (a later update): the newer state owns its own event.
      if (!(error instanceof CheckChangedError)) throw error;
    }
  }

  /** Finishes the job of a writer that died before its event got out; false when there is nothing to take over. */
  async republishIfPending(current: CheckRecord): Promise<boolean> {
    if (!current.event_pending) return false;
    const claimed = await this.ports.store.attempt(
      current.id,
      step('claimPendingEvent', { status: current.status, now: this.ports.clock(), leaseSeconds: this.leaseSeconds }),
    );
    if (!claimed.applied) return false;
    await this.publish(current);
    return true;
  }
}
