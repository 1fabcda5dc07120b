import type { CheckRecord } from '../core/check';
import { CheckChangedError } from '../core/lifecycle/conflicts';
import { step } from '../core/lifecycle/transitions';
import type { CheckStorePort, Clock, DiditPacerPort, DiditSessionEraserPort } from '../core/ports';
import { DiditRateLimitedError, LivenessError } from '../errors';
import { logger } from '../observability';

export interface DiditErasurePorts {
  readonly store: CheckStorePort;
  readonly didit: DiditSessionEraserPort;
  /** The shared Didit budget (services/didit-pacer.ts); without it (tests of the erasure alone) calls go unpaced. */
  readonly pacer?: DiditPacerPort | undefined;
  readonly clock: Clock;
  /** Waits in-process for a pacing slot at most MAX_PACED_WAIT_MS away. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A slot further away than this is not waited for: the tombstone stays due and the next sweep asks again. */
export const MAX_PACED_WAIT_MS = 5_000;

/** The first retry after a minute, doubling per failed attempt, never more than an hour apart. */
export const ERASURE_RETRY_BASE_SECONDS = 60;
export const ERASURE_RETRY_MAX_SECONDS = 3600;

export function erasureRetryDelaySeconds(failedAttempts: number): number {
  return Math.min(ERASURE_RETRY_MAX_SECONDS, ERASURE_RETRY_BASE_SECONDS * 2 ** Math.min(failedAttempts, 16));
}

/** PACED: the shared budget had no slot soon enough; nothing was called or spent, the next sweep asks again. */
export type ErasureOutcome = 'DONE' | 'RETRY' | 'PACED' | 'SKIPPED';

/**
 * Erases Didit's copy of a deleted check (the session Didit saved with `save_api_request`), run by the sweeper for each
 * tombstone whose erasure is PENDING and due. Didit's 204 or 404 ends it (DONE, recorded on the tombstone); any
 * failure — a named Didit error (401/403 a wrong key, 429, 5xx) or the network — is recorded (attempts, last error)
 * and tried again with a growing delay, for as long as the tombstone lasts (core/lifecycle/transitions.ts `erase`).
 *
 * Each call takes a permit from the shared Didit budget, like a check's (Didit's 300 calls a minute count DELETEs
 * too), and a 429 backs every caller off. While the out-of-credits circuit is open no check calls Didit, so an erasure
 * (which Didit does not charge for) goes without a permit and never takes the circuit's probe; its answer tells the
 * budget nothing about credits.
 */
export class DiditErasure {
  constructor(private readonly ports: DiditErasurePorts) {}

  async run(tombstone: CheckRecord): Promise<ErasureOutcome> {
    const session = tombstone.didit_erasure_session;
    if (tombstone.didit_erasure !== 'PENDING' || !session) return 'SKIPPED';
    if (!(await this.permitted())) return 'PACED';
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
      if (error instanceof DiditRateLimitedError) {
        await this.ports.pacer?.report(this.ports.clock(), { kind: 'throttled', rateLimit: error.rateLimit });
      }
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

  /** Whether the shared budget lets this erasure call Didit now (after a short in-process wait for its slot). */
  private async permitted(): Promise<boolean> {
    const pacer = this.ports.pacer;
    if (!pacer) return true;
    // Checks are not calling while the circuit is open: the budget is idle, and the probe stays theirs.
    if ((await pacer.current()).circuit === 'open') return true;
    const now = this.ports.clock();
    const permit = await pacer.acquire(now);
    if (permit.kind === 'go') return true;
    const waitMs = permit.untilMs - now.getTime();
    if (permit.ticket === undefined || waitMs > MAX_PACED_WAIT_MS) return false;
    await (this.ports.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))))(Math.max(0, waitMs));
    return (await pacer.acquire(this.ports.clock(), permit.ticket)).kind === 'go';
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
