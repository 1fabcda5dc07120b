import type { CheckRecord } from '../core/check';
import { CheckChangedError } from '../core/lifecycle/conflicts';
import { step } from '../core/lifecycle/transitions';
import type { CheckStorePort, Clock, DiditSessionEraserPort } from '../core/ports';
import { LivenessError } from '../errors';
import { logger } from '../observability';

export interface DiditErasurePorts {
  readonly store: CheckStorePort;
  readonly didit: DiditSessionEraserPort;
  readonly clock: Clock;
}

/** The first retry after a minute, doubling per failed attempt, never more than an hour apart. */
export const ERASURE_RETRY_BASE_SECONDS = 60;
export const ERASURE_RETRY_MAX_SECONDS = 3600;

export function erasureRetryDelaySeconds(failedAttempts: number): number {
  return Math.min(ERASURE_RETRY_MAX_SECONDS, ERASURE_RETRY_BASE_SECONDS * 2 ** Math.min(failedAttempts, 16));
}

export type ErasureOutcome = 'DONE' | 'RETRY' | 'SKIPPED';

/**
 * Erases Didit's copy of a deleted check (the session Didit saved with `save_api_request`), run by the sweeper for each
 * tombstone whose erasure is PENDING and due. Didit's 204 or 404 ends it (DONE, recorded on the tombstone); any
 * failure — a named Didit error (401/403 a wrong key, 429, 5xx) or the network — is recorded (attempts, last error)
 * and tried again with a growing delay, for as long as it takes: an erasure owed is never given up.
 */
export class DiditErasure {
  constructor(private readonly ports: DiditErasurePorts) {}

  async run(tombstone: CheckRecord): Promise<ErasureOutcome> {
    const session = tombstone.didit_erasure_session;
    if (tombstone.didit_erasure !== 'PENDING' || !session) return 'SKIPPED';
    try {
      const answer = await this.ports.didit.deleteSession(session);
      await this.ports.store.execute(
        tombstone.id,
        step('diditErasureDone', { seen: tombstone, now: this.ports.clock() }),
      );
      logger.info('Didit session erased', { checkId: tombstone.id, answer });
      return 'DONE';
    } catch (error) {
      if (error instanceof CheckChangedError) return 'SKIPPED';
      const described = describe(error);
      if (described === undefined) throw error;
      const attempts = tombstone.didit_erasure_attempts ?? 0;
      const retryInSeconds = erasureRetryDelaySeconds(attempts);
      try {
        await this.ports.store.execute(
          tombstone.id,
          step('diditErasureFailed', { seen: tombstone, error: described, now: this.ports.clock(), retryInSeconds }),
        );
      } catch (conflict) {
        if (conflict instanceof CheckChangedError) return 'SKIPPED';
        throw conflict;
      }
      logger.warn('Didit session erasure failed; retrying later', {
        checkId: tombstone.id,
        error: described,
        attempt: attempts + 1,
        retryInSeconds,
      });
      return 'RETRY';
    }
  }
}

/** A short, personal-data-free description of a failed attempt; undefined for a bug (rethrown). */
function describe(error: unknown): string | undefined {
  if (error instanceof LivenessError) {
    const status = (error as { httpStatus?: unknown }).httpStatus;
    return typeof status === 'number' ? `${error.code} (HTTP ${status})` : error.code;
  }
  return undefined;
}
