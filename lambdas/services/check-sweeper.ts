import type { CheckStore } from '../adapters/check-store';
import { ClaimLostError } from '../adapters/check-store';
import type { DomainEvent } from '../adapters/event-publisher';
import type { CheckRecord } from '../core/check';
import { isTerminal } from '../core/check';
import { terminalEventFor } from '../core/check-events';
import { logger } from '../observability';
import { type RetryRoundInput, roundInput } from './check-processor';
import { METRICS, type MetricsPort, NO_METRICS } from './metrics';

export interface SweeperPorts {
  readonly store: Pick<
    CheckStore,
    'findDue' | 'expire' | 'handOff' | 'claimPendingEvent' | 'markEventPublished' | 'get'
  >;
  readonly events: { publish(events: readonly DomainEvent[]): Promise<void> };
  readonly retries: { startRound(input: RetryRoundInput): Promise<void> };
  readonly clock: () => Date;
  /** Where each run's counts and the age of the oldest due check go. @default NO_METRICS */
  readonly metrics?: MetricsPort;
}

export interface SweeperSettings {
  /** Checks handled per run; the rest wait for the next run. */
  readonly batchSize: number;
  readonly leaseSeconds: number;
  readonly retryDueSeconds: number;
}

export type SweepAction = 'EXPIRED' | 'HANDED_OFF' | 'REPUBLISHED' | 'SKIPPED';

/**
 * The safety net behind "nothing stays stuck": runs on a schedule and looks only at checks past their due time in
 * the sparse due index. An upload that never came → EXPIRED; a processor or workflow round that went quiet → a new
 * Step Functions round; a terminal event whose writer died → republished.
 */
export class CheckSweeper {
  constructor(
    private readonly ports: SweeperPorts,
    private readonly settings: SweeperSettings,
  ) {}

  async sweep(): Promise<Record<SweepAction, number>> {
    const counts: Record<SweepAction, number> = { EXPIRED: 0, HANDED_OFF: 0, REPUBLISHED: 0, SKIPPED: 0 };
    const now = this.ports.clock();
    const due = await this.ports.store.findDue(now, this.settings.batchSize);
    const metrics = this.ports.metrics ?? NO_METRICS;
    // Emitted on every run, 0 included: the stuck-checks alarm treats a missing value as a sweeper that stopped.
    metrics.record(METRICS.oldestDueCheckAge, oldestDueAgeSeconds(due, now));
    for (const record of due) {
      try {
        counts[await this.handle(record)]++;
      } catch (error) {
        if (!(error instanceof ClaimLostError)) throw error;
        // Someone else moved the check between the query and the write: nothing to do.
        counts.SKIPPED++;
      }
    }
    if (due.length > 0) logger.info('Sweep done', { ...counts });
    metrics.record(METRICS.checksExpired, counts.EXPIRED);
    metrics.record(METRICS.checksHandedOff, counts.HANDED_OFF);
    metrics.record(METRICS.eventsRepublished, counts.REPUBLISHED);
    return counts;
  }

  private async handle(record: CheckRecord): Promise<SweepAction> {
    const now = this.ports.clock();
    if (isTerminal(record.status)) {
      if (!record.event_pending) return 'SKIPPED';
      if (!(await this.ports.store.claimPendingEvent(record.id, record.status, now, this.settings.leaseSeconds))) {
        return 'SKIPPED';
      }
      await this.publish(record);
      return 'REPUBLISHED';
    }
    if (record.status === 'AWAITING_UPLOAD') {
      const expired = await this.ports.store.expire(record.id, now);
      await this.publish(expired);
      return 'EXPIRED';
    }
    if (record.status === 'PROCESSING' && (record.claim_expires_at ?? 0) > Math.floor(now.getTime() / 1000)) {
      return 'SKIPPED';
    }
    // PROCESSING with a lapsed lease, or RETRYING whose round went quiet: a new round takes over.
    const handed = await this.ports.store.handOff(record, now, this.settings.retryDueSeconds);
    logger.warn('Check handed to a new retry round', { checkId: record.id, from: record.status });
    await this.ports.retries.startRound(roundInput(handed));
    return 'HANDED_OFF';
  }

  private async publish(record: CheckRecord): Promise<void> {
    const event = terminalEventFor(record);
    if (!event) return;
    await this.ports.events.publish([event]);
    await this.ports.store.markEventPublished(record.id, record.status);
  }
}

/** Seconds the most overdue check is past its due time; the due index is sorted by due_at, but do not rely on it. */
function oldestDueAgeSeconds(due: readonly CheckRecord[], now: Date): number {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  let oldest = nowSeconds;
  for (const record of due) {
    if (record.due_at !== undefined && record.due_at < oldest) oldest = record.due_at;
  }
  return nowSeconds - oldest;
}
