import type { CheckRecord, Tombstone } from '../core/check';
import { isTerminal, isTombstone } from '../core/check';
import { CheckConflictError } from '../core/lifecycle/conflicts';
import { epochSeconds, step } from '../core/lifecycle/transitions';
import { METRICS, type MetricsPort, NO_METRICS } from '../core/metrics';
import type {
  CheckStorePort,
  Clock,
  DiditPacerPort,
  DiditSessionEraserPort,
  EventSinkPort,
  IdempotencyStorePort,
  PacerStatePort,
  RetrySchedulerPort,
  UploadRemoverPort,
} from '../core/ports';
import { roundInput } from '../core/retry-round';
import { logger } from '../observability';
import { DeletionFinisher } from './check-eraser';
import { DiditErasure } from './didit-erasure';
import { EventOutbox } from './event-outbox';

export interface SweeperPorts {
  readonly store: CheckStorePort;
  readonly events: EventSinkPort;
  readonly retries: RetrySchedulerPort;
  /** Deletes uploads: an ended check's whose event it republishes, and a deleted check's. */
  readonly uploads: UploadRemoverPort;
  /** Where a deleted check's Idempotency-Key record loses its request fingerprint, if its eraser died first. */
  readonly idempotency?: IdempotencyStorePort;
  /** Asks Didit to delete the saved sessions of deleted checks. */
  readonly diditSessions: DiditSessionEraserPort;
  /** The shared Didit budget: every erasure call at Didit takes a permit from it, as every check's call does. */
  readonly diditPacer?: DiditPacerPort;
  /** The shared Didit budget's state, read for the circuit-state metric. */
  readonly pacerState?: Pick<PacerStatePort, 'read'>;
  readonly clock: Clock;
  /** Waits in-process for an erasure's pacing slot a few seconds away. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Where each run's counts and the age of the oldest due check go. @default NO_METRICS */
  readonly metrics?: MetricsPort;
}

export interface SweeperSettings {
  /** Checks handled per run; the rest wait for the next run. */
  readonly batchSize: number;
  readonly leaseSeconds: number;
  readonly retryDueSeconds: number;
  readonly uploadPrefix: string;
  /** Keep ended checks' uploads until the lifecycle rule (audits); a deleted check's upload goes regardless. */
  readonly keepUploadsUntilLifecycle: boolean;
}

/** Counting WAITING checks stops here (about 10 index pages); the metric then reads "at least". */
const WAITING_COUNT_LIMIT = 100_000;

export type SweepAction = 'EXPIRED' | 'HANDED_OFF' | 'REPUBLISHED' | 'DIDIT_ERASED' | 'DIDIT_ERASURE_RETRY' | 'SKIPPED';

/**
 * The safety net behind "nothing stays stuck": runs on a schedule and looks only at checks past their due time in
 * the sparse due index. An upload that never came → EXPIRED; a processor or workflow round that went quiet → a new
 * Step Functions round; a terminal event whose writer died → republished.
 */
export class CheckSweeper {
  private readonly outbox: EventOutbox;
  private readonly deletions: DeletionFinisher;
  private readonly diditErasure: DiditErasure;
  /** The shared Didit budget had no slot for an erasure during the current sweep. */
  private erasuresPaced = false;

  constructor(
    private readonly ports: SweeperPorts,
    private readonly settings: SweeperSettings,
  ) {
    this.outbox = new EventOutbox(
      { ...ports, endedUploads: settings.keepUploadsUntilLifecycle ? undefined : ports.uploads },
      settings.leaseSeconds,
    );
    this.deletions = new DeletionFinisher(ports, settings.uploadPrefix);
    this.diditErasure = new DiditErasure({
      store: ports.store,
      didit: ports.diditSessions,
      pacer: ports.diditPacer,
      clock: ports.clock,
      ...(ports.sleep ? { sleep: ports.sleep } : {}),
    });
  }

  async sweep(): Promise<Record<SweepAction, number>> {
    const counts: Record<SweepAction, number> = {
      EXPIRED: 0,
      HANDED_OFF: 0,
      REPUBLISHED: 0,
      DIDIT_ERASED: 0,
      DIDIT_ERASURE_RETRY: 0,
      SKIPPED: 0,
    };
    const now = this.ports.clock();
    this.erasuresPaced = false;
    const due = await this.ports.store.findDue(now, this.settings.batchSize);
    const metrics = this.ports.metrics ?? NO_METRICS;
    // Emitted on every run, 0 included: the stuck-checks alarm treats a missing value as a sweeper that stopped.
    metrics.record(METRICS.oldestDueCheckAge, oldestDueAgeSeconds(due, now));
    for (const record of due) {
      try {
        counts[await this.handle(record)]++;
      } catch (error) {
        if (!(error instanceof CheckConflictError)) throw error;
        // Someone else moved the check between the query and the write: nothing to do.
        counts.SKIPPED++;
      }
    }
    if (due.length > 0) logger.info('Sweep done', { ...counts });
    metrics.record(METRICS.checksExpired, counts.EXPIRED);
    metrics.record(METRICS.checksHandedOff, counts.HANDED_OFF);
    metrics.record(METRICS.eventsRepublished, counts.REPUBLISHED);
    metrics.record(METRICS.diditErasureFailures, counts.DIDIT_ERASURE_RETRY);
    await this.reportWaiting(now, metrics);
    return counts;
  }

  /** Every run, 0 included: how many checks wait, the longest wait, and whether Didit's out-of-credits circuit is open. */
  private async reportWaiting(now: Date, metrics: MetricsPort): Promise<void> {
    const waiting = await this.ports.store.waitingSummary(WAITING_COUNT_LIMIT);
    metrics.record(METRICS.waitingChecks, waiting.count);
    const oldest = waiting.oldestSince ? Math.max(0, (now.getTime() - Date.parse(waiting.oldestSince)) / 1000) : 0;
    metrics.record(METRICS.oldestWaitAge, Math.floor(oldest));
    if (this.ports.pacerState) {
      const pacer = await this.ports.pacerState.read();
      metrics.record(METRICS.diditCircuitOpen, pacer.circuit === 'open' ? 1 : 0);
      if (pacer.circuit === 'open') {
        logger.error('Didit is out of credits: checks are waiting; top up the Didit balance', {
          openSince: new Date(pacer.circuit_opened_at_ms ?? now.getTime()).toISOString(),
          waitingChecks: waiting.count,
        });
      }
    }
  }

  private async handle(record: CheckRecord): Promise<SweepAction> {
    const now = this.ports.clock();
    if (isTombstone(record)) return this.finishErasure(record);
    if (isTerminal(record.status)) {
      return (await this.outbox.republishIfPending(record)) ? 'REPUBLISHED' : 'SKIPPED';
    }
    if (record.status === 'AWAITING_UPLOAD') {
      await this.outbox.publish(await this.ports.store.execute(record.id, step('expire', { now })));
      return 'EXPIRED';
    }
    if (record.status === 'PROCESSING' && (record.claim_expires_at ?? 0) > epochSeconds(now)) return 'SKIPPED';
    if (record.status === 'WAITING') {
      // Its round died past the resume time: a new round waits and tries again; the check stays WAITING.
      const resumed = await this.ports.store.execute(
        record.id,
        step('resumeWaiting', { seen: record, now, dueInSeconds: this.settings.retryDueSeconds }),
      );
      logger.warn('Waiting check handed to a new round', { checkId: record.id });
      await this.ports.retries.startRound(roundInput(resumed));
      return 'HANDED_OFF';
    }
    // PROCESSING with a lapsed lease, or RETRYING whose round went quiet: a new round takes over.
    const handed = await this.ports.store.execute(
      record.id,
      step('handOff', { seen: record, now, dueInSeconds: this.settings.retryDueSeconds }),
    );
    logger.warn('Check handed to a new retry round', { checkId: record.id, from: record.status });
    await this.ports.retries.startRound(roundInput(handed));
    return 'HANDED_OFF';
  }

  /**
   * A deleted check still due: its eraser died before the upload was deleted and the event published (finished here),
   * and/or Didit still holds the saved session (asked again, with a growing delay, until Didit confirms).
   */
  private async finishErasure(tombstone: Tombstone): Promise<SweepAction> {
    let action: SweepAction = 'SKIPPED';
    if (tombstone.event_pending) {
      await this.deletions.finish(tombstone);
      action = 'REPUBLISHED';
    }
    // Once the budget had no slot, the rest of this sweep's erasures wait too: each ask would hold a slot for nothing.
    if (tombstone.didit_erasure === 'PENDING' && !this.erasuresPaced) {
      const current = (await this.ports.store.get(tombstone.id)) ?? (tombstone as unknown as CheckRecord);
      const outcome = await this.diditErasure.run(current);
      if (outcome === 'DONE') action = 'DIDIT_ERASED';
      if (outcome === 'RETRY') action = 'DIDIT_ERASURE_RETRY';
      if (outcome === 'PACED') this.erasuresPaced = true;
    }
    return action;
  }
}

/** Seconds the most overdue check is past its due time; the due index is sorted by due_at, but do not rely on it. */
function oldestDueAgeSeconds(due: readonly CheckRecord[], now: Date): number {
  const nowSeconds = epochSeconds(now);
  let oldest = nowSeconds;
  for (const record of due) {
    if (record.due_at !== undefined && record.due_at < oldest) oldest = record.due_at;
  }
  return nowSeconds - oldest;
}
