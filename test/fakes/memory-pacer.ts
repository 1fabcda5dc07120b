import { INITIAL_PACER_STATE, type PacerSettings, type PacerState } from '../../lambdas/core/pacing/pacer';
import type { PacerStatePort } from '../../lambdas/core/ports';
import { DiditPacer } from '../../lambdas/services/didit-pacer';

/** The pacer's state in memory, with the same optimistic-concurrency contract as the DynamoDB item. */
export class MemoryPacerState implements PacerStatePort {
  state: PacerState = INITIAL_PACER_STATE;
  writes = 0;

  async read(): Promise<PacerState> {
    return this.state;
  }

  async replace(next: PacerState, expectedVersion: number) {
    if (this.state.version !== expectedVersion) return { written: false as const, current: this.state };
    this.state = next;
    this.writes++;
    return { written: true as const };
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
