import type { Owner } from '../core/caller';
import type { CheckRecord, Tombstone } from '../core/check';
import { isTombstone, uploadKeyFor } from '../core/check';
import { checkDeletedEvent } from '../core/check-events';
import { CheckChangedError } from '../core/lifecycle/conflicts';
import { step } from '../core/lifecycle/transitions';
import type { CheckStorePort, Clock, EventSinkPort, IdempotencyStorePort, UploadRemoverPort } from '../core/ports';
import { DependencyThrottledError } from '../errors';
import { logger } from '../observability';
import { CheckFinder } from './check-finder';

export interface EraserPorts {
  readonly store: CheckStorePort;
  readonly uploads: UploadRemoverPort;
  readonly events: EventSinkPort;
  readonly clock: Clock;
  /** Where the Idempotency-Key records are: the one that created the check loses its request fingerprint. */
  readonly idempotency?: IdempotencyStorePort | undefined;
}

export interface EraserSettings {
  readonly uploadPrefix: string;
  /** How long the eraser may still be finishing (upload, event) before the sweeper takes over. */
  readonly leaseSeconds: number;
}

/** `DELETE`'s answer: the check was erased now, was erased before (the tombstone is still there), or is not the caller's. */
export type EraseOutcome = 'DELETED' | 'ALREADY_DELETED' | 'NOT_FOUND';

/** Reads before giving up on a check that keeps changing under the erasure (each change is one processing step). */
const MAX_READS = 5;

/**
 * Erases one check on request (GDPR Art. 17, BIPA destruction): the record becomes a tombstone (id, owner,
 * `deleted_at` and the Didit erasure owed) in one conditional write, then the upload is deleted and "Liveness Check
 * Deleted" is published (the tombstone's outbox flag: the sweeper finishes both if this dies). Didit's copy is erased
 * by the sweeper (DiditErasure), which retries until Didit confirms.
 */
export class CheckEraser {
  private readonly finisher: DeletionFinisher;
  private readonly finder: CheckFinder;

  constructor(
    private readonly ports: EraserPorts,
    private readonly settings: EraserSettings,
  ) {
    this.finisher = new DeletionFinisher(ports, settings.uploadPrefix);
    // The same finder GET uses: whoever may not see a check cannot erase it either.
    this.finder = new CheckFinder({ store: ports.store });
  }

  /** Erases `id` if `owner` may see it; a check of another owner answers NOT_FOUND, like one that does not exist. */
  async erase(id: string, owner: Owner): Promise<EraseOutcome> {
    for (let read = 1; ; read++) {
      const found = await this.finder.findStored(id, owner);
      if (!found) return 'NOT_FOUND';
      if (isTombstone(found)) {
        // A retried DELETE whose first try died between the tombstone and the event finishes the job.
        if (found.event_pending) await this.finisher.finish(found);
        return 'ALREADY_DELETED';
      }
      let tombstone: Tombstone;
      try {
        tombstone = (await this.ports.store.execute(
          id,
          step('erase', {
            seen: found,
            now: this.ports.clock(),
            leaseSeconds: this.settings.leaseSeconds,
          }),
        )) as unknown as Tombstone;
      } catch (error) {
        if (!(error instanceof CheckChangedError)) throw error;
        // The processor moved the check on between our read and our write: erase what it is now.
        if (read >= MAX_READS) {
          throw new DependencyThrottledError('The check kept changing while it was being deleted', { cause: error });
        }
        continue;
      }
      logger.info('Check deleted', { checkId: id, diditErasure: tombstone.didit_erasure ?? 'NOT_NEEDED' });
      await this.finisher.finish(tombstone);
      return 'DELETED';
    }
  }
}

/**
 * The deletion's outbox: removes the upload (whatever state the check was in, and whatever the audit setting says: an
 * erasure request wins) and the request fingerprint of the Idempotency-Key that created the check (a hash over
 * vendor_data and metadata), publishes "Liveness Check Deleted", then clears the flag. Run by the eraser and, for an eraser
 * that died, by the sweeper.
 */
export class DeletionFinisher {
  constructor(
    private readonly ports: Pick<EraserPorts, 'store' | 'uploads' | 'events' | 'clock' | 'idempotency'>,
    private readonly uploadPrefix: string,
  ) {}

  async finish(tombstone: Tombstone): Promise<void> {
    await this.ports.uploads.remove(uploadKeyFor(this.uploadPrefix, tombstone.id));
    if (tombstone.idempotency_id !== undefined) {
      await this.ports.idempotency?.forgetRequest(tombstone.idempotency_id, tombstone.id);
    }
    await this.ports.events.publish([checkDeletedEvent(tombstone)]);
    let seen: CheckRecord | undefined = tombstone as unknown as CheckRecord;
    for (let read = 1; seen && isTombstone(seen) && seen.event_pending; read++) {
      try {
        await this.ports.store.execute(tombstone.id, step('markDeletionPublished', { seen, now: this.ports.clock() }));
        return;
      } catch (error) {
        // Another finisher cleared it first, or a late processor added a Didit erasure meanwhile: read again.
        if (!(error instanceof CheckChangedError) || read >= MAX_READS) throw error;
        seen = await this.ports.store.get(tombstone.id);
      }
    }
  }
}
