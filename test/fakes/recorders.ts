import type { Metric, MetricsPort } from '../../lambdas/core/metrics';
import type { DomainEvent, EventSinkPort, RetrySchedulerPort } from '../../lambdas/core/ports';
import type { RetryRoundInput } from '../../lambdas/core/retry-round';

/** Fakes of the ports that only carry things out of a service: they record what was sent. */

export class RecordingEvents implements EventSinkPort {
  readonly published: DomainEvent[] = [];
  /** Fails the next `n` publishes, as an unreachable bus would. */
  failures = 0;

  async publish(events: readonly DomainEvent[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('EventBridge unreachable');
    }
    this.published.push(...events);
  }

  types(id?: string): string[] {
    return this.published
      .filter((e) => id === undefined || (e.detail as { id?: string }).id === id)
      .map((e) => e.detailType);
  }
}

export class RecordingRetries implements RetrySchedulerPort {
  readonly started: RetryRoundInput[] = [];
  async startRound(input: RetryRoundInput): Promise<void> {
    this.started.push(input);
  }
}

export class RecordingMetrics implements MetricsPort {
  readonly points: Array<{ name: string; value: number; breakdown: string | undefined }> = [];
  record(metric: Metric, value: number, breakdown?: string): void {
    this.points.push({ name: metric.name, value, breakdown });
  }
  names(): string[] {
    return this.points.map((p) => (p.breakdown ? `${p.name}:${p.breakdown}` : p.name));
  }
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(private current = new Date('2026-11-26T12:00:00.000Z')) {}
  readonly now = (): Date => new Date(this.current);
  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}
