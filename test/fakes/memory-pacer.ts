import {
  INITIAL_PACER_STATE,
  type PacerChange,
  type PacerSettings,
  type PacerState,
} from '../../lambdas/core/pacing/pacer';
import type { PacerChangeResult, PacerStatePort } from '../../lambdas/core/ports';
import { DiditPacer } from '../../lambdas/services/didit-pacer';

/** The pacer's state in memory, with the DynamoDB item's contract: an atomic counter and conditional changes. */
export class MemoryPacerState implements PacerStatePort {
  state: PacerState = INITIAL_PACER_STATE;
  /** Conditional changes made (tickets not counted). */
  changes = 0;
  /** Conditional changes refused because another caller got there first. */
  refused = 0;

  async takeTicket(): Promise<{ ticket: number; state: PacerState }> {
    this.state = { ...this.state, ticket: this.state.ticket + 1 };
    return { ticket: this.state.ticket, state: this.state };
  }

  async read(): Promise<PacerState> {
    return this.state;
  }

  async change(change: PacerChange): Promise<PacerChangeResult> {
    const holds = Object.entries(change.expect).every(
      ([key, expected]) => this.state[key as keyof PacerState] === expected,
    );
    if (!holds) {
      this.refused++;
      return { ok: false, current: this.state };
    }
    const next: Record<string, unknown> = { ...this.state, ...change.set };
    for (const key of change.remove ?? []) delete next[key];
    this.state = next as unknown as PacerState;
    this.changes++;
    return { ok: true, state: this.state };
  }
}

/** A pacer over memory; generous by default so tests that do not pace are not paced. */
export function memoryPacer(settings: Partial<PacerSettings> = {}): { pacer: DiditPacer; state: MemoryPacerState } {
  const state = new MemoryPacerState();
  return {
    state,
    pacer: new DiditPacer(state, { requestsPerMinute: 60_000, probeIntervalMs: 60_000, ...settings }),
  };
}
