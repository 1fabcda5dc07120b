import { DiditClient } from '../lambdas/adapters/didit-client';
import { DETAIL_TYPES } from '../lambdas/core/check-events';
import { CheckSweeper, type SweepAction } from '../lambdas/services/check-sweeper';
import type { BusEvent } from '../local/local-stack';
import { indexOfVendorData } from './inputs';

const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set([
  DETAIL_TYPES.completed,
  DETAIL_TYPES.failed,
  DETAIL_TYPES.expired,
]);

export interface TerminalEvent {
  readonly detailType: string;
  readonly occurredAt: string;
  /** EventBridge's event id: the service publishing twice makes two, the tail's queue redelivering one makes one. */
  readonly eventId: string;
}

export interface DiditCalls {
  /** checkLiveness resolved: Didit's answer was a documented decision. */
  ok: number;
  /** checkLiveness threw: a fault, a refusal or a transport error. */
  failed: number;
}

/**
 * What the service did, seen from inside the process that hosts it: terminal events per check (the bus tail), Didit
 * calls per check, sweeper actions. The driver only sees the API, so this is what tells a lost or doubled event and a
 * second Didit call apart from a slow check.
 */
export class Ledger {
  readonly events = new Map<string, TerminalEvent[]>();
  /** Bus events that are not a check's terminal event (Updated, webhook failures): none are expected here. */
  readonly otherEvents = new Map<string, number>();
  /**
   * The same bus event (same EventBridge id) received again by the tail: SQS delivers at least once, so this is the
   * harness's queue, not the service publishing twice; counted apart, and the copy is not a second terminal event.
   */
  tailRedeliveries = 0;
  /** Keyed by check index (from the vendor_data tag), not id: the processor knows only what Didit is sent. */
  readonly didit = new Map<number, DiditCalls>();
  readonly sweeps: Record<SweepAction, number> = {
    EXPIRED: 0,
    HANDED_OFF: 0,
    REPUBLISHED: 0,
    DIDIT_ERASED: 0,
    DIDIT_ERASURE_RETRY: 0,
    SKIPPED: 0,
  };
  sweepRuns = 0;
  sweepFailures = 0;
  readonly stackLog: string[] = [];
  private readonly waiters = new Map<string, Set<() => void>>();

  onEvent = (event: BusEvent): void => {
    const detailType = event['detail-type'];
    const id = typeof event.detail.id === 'string' ? event.detail.id : '';
    if (!TERMINAL_EVENT_TYPES.has(detailType)) {
      this.otherEvents.set(detailType, (this.otherEvents.get(detailType) ?? 0) + 1);
      return;
    }
    const list = this.events.get(id) ?? [];
    const eventId = String(event.id ?? '');
    if (eventId !== '' && list.some((seen) => seen.eventId === eventId)) {
      this.tailRedeliveries++;
      return;
    }
    list.push({ detailType, occurredAt: String(event.detail.occurred_at), eventId });
    this.events.set(id, list);
    for (const wake of this.waiters.get(id) ?? []) wake();
  };

  onStackLog = (line: string): void => {
    this.stackLog.push(line);
    process.stderr.write(`[local stack] ${line}\n`);
  };

  terminalEvents(id: string): number {
    return this.events.get(id)?.length ?? 0;
  }

  /** Resolves when a terminal event for `id` arrives or after `ms`, whichever is first: the poller's pacing. */
  eventOrTimeout(id: string, ms: number): Promise<void> {
    if (this.terminalEvents(id) > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      this.waiters.set(id, set);
    });
  }

  /**
   * Patches the prototypes the handlers' adapters use (they are built at import, so this is the only way in without
   * changing them), as bench/e2e-child.ts does. Call once, before the first check.
   */
  instrument(): void {
    const ledger = this;
    const didit = DiditClient.prototype as unknown as {
      checkLiveness: (this: DiditClient, ...args: Parameters<DiditClient['checkLiveness']>) => Promise<unknown>;
    };
    const checkLiveness = didit.checkLiveness;
    didit.checkLiveness = async function counted(this: DiditClient, request, options) {
      const index = indexOfVendorData(request.vendorData);
      const calls = index === undefined ? undefined : (ledger.didit.get(index) ?? { ok: 0, failed: 0 });
      if (index !== undefined && calls) ledger.didit.set(index, calls);
      try {
        const answer = await checkLiveness.call(this, request, options);
        if (calls) calls.ok++;
        return answer;
      } catch (error) {
        if (calls) calls.failed++;
        throw error;
      }
    };

    const sweeper = CheckSweeper.prototype;
    const sweep = sweeper.sweep;
    sweeper.sweep = async function counted(this: CheckSweeper) {
      ledger.sweepRuns++;
      try {
        const counts = await sweep.call(this);
        for (const [action, n] of Object.entries(counts) as Array<[SweepAction, number]>) ledger.sweeps[action] += n;
        return counts;
      } catch (error) {
        ledger.sweepFailures++;
        throw error;
      }
    };
  }
}
