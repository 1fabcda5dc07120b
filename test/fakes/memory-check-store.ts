import { type CheckRecord, DUE_SHARD } from '../../lambdas/core/check';
import { CheckConflictError, conflictFor } from '../../lambdas/core/lifecycle/conflicts';
import { applyChanges, holds } from '../../lambdas/core/lifecycle/expressions';
import { CREATION, epochSeconds, type Step } from '../../lambdas/core/lifecycle/transitions';
import type { Attempted, CheckStorePort, WaitingSummary } from '../../lambdas/core/ports';

/**
 * The check store in memory, with the meaning DynamoDB gives the same transitions (test/integration/check-store.test.ts
 * holds the two to the same cases). For fast service tests; `writes` lists every transition executed, in order.
 */
export class MemoryCheckStore implements CheckStorePort {
  readonly items = new Map<string, CheckRecord>();
  readonly writes: string[] = [];
  /** Throws this from the next write of the named transition (once), before anything is stored. */
  private readonly failures = new Map<string, Error>();

  failNext(transition: string, error: Error): void {
    this.failures.set(transition, error);
  }

  async create(record: CheckRecord): Promise<void> {
    const failure = this.failures.get('create');
    if (failure) {
      this.failures.delete('create');
      throw failure;
    }
    const current = this.items.get(record.id);
    if (!holds(CREATION.condition, current)) throw conflictFor('create', CREATION.refusal, current);
    this.items.set(record.id, structuredClone(record));
    this.writes.push('create');
  }

  async get(id: string): Promise<CheckRecord | undefined> {
    const item = this.items.get(id);
    return item && structuredClone(item);
  }

  async execute(id: string, step: Step): Promise<CheckRecord> {
    const failure = this.failures.get(step.transition);
    if (failure) {
      this.failures.delete(step.transition);
      throw failure;
    }
    const current = this.items.get(id);
    if (!holds(step.condition, current)) {
      throw conflictFor(step.transition, step.refusal, current && structuredClone(current));
    }
    const next = applyChanges(current as CheckRecord, structuredClone(step.changes));
    this.items.set(id, next);
    this.writes.push(step.transition);
    return structuredClone(next);
  }

  async attempt(id: string, step: Step): Promise<Attempted> {
    try {
      return { applied: true, record: await this.execute(id, step) };
    } catch (error) {
      if (error instanceof CheckConflictError) return { applied: false, current: error.current };
      throw error;
    }
  }

  async findDue(now: Date, limit: number): Promise<CheckRecord[]> {
    return [...this.items.values()]
      .filter((r) => r.due_shard === DUE_SHARD && r.due_at !== undefined && r.due_at <= epochSeconds(now))
      .sort((a, b) => (a.due_at ?? 0) - (b.due_at ?? 0))
      .slice(0, limit)
      .map((r) => structuredClone(r));
  }

  async waitingSummary(countLimit: number): Promise<WaitingSummary> {
    const waiting = [...this.items.values()]
      .filter((r) => r.waiting_shard !== undefined && r.wait_since !== undefined)
      .map((r) => r.wait_since as string)
      .sort();
    return {
      count: Math.min(waiting.length, countLimit),
      capped: waiting.length > countLimit,
      oldestSince: waiting[0],
    };
  }

  async findBySessionId(sessionId: string): Promise<string | undefined> {
    return [...this.items.values()].find((r) => r.didit_session_id === sessionId)?.id;
  }
}
