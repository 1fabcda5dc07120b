import {
  acquire,
  observe,
  type PacerSettings,
  type PacerSignal,
  type PacerState,
  type Permit,
  type Reservation,
} from '../core/pacing/pacer';
import type { DiditPacerPort, PacerStatePort } from '../core/ports';
import { DependencyThrottledError } from '../errors';

/** Writers racing for the one pacer record; each lost race hands back the winner's state, so no read is wasted. */
const MAX_TRIES = 25;

/**
 * The shared Didit budget (core/pacing/pacer.ts) over its stored state: read, decide, write over the version read,
 * and decide again with what is stored when another caller won the race. Every concurrent function sees one budget.
 */
export class DiditPacer implements DiditPacerPort {
  constructor(
    private readonly state: PacerStatePort,
    private readonly settings: PacerSettings,
  ) {}

  async acquire(now: Date, held?: Reservation): Promise<Permit> {
    return this.update((current) => {
      const { permit, next } = acquire(current, now.getTime(), this.settings, held);
      return { next, out: permit };
    });
  }

  async report(now: Date, signal: PacerSignal): Promise<PacerState> {
    return this.update((current) => {
      const next = observe(current, now.getTime(), this.settings, signal);
      return { next, out: next ?? current };
    });
  }

  current(): Promise<PacerState> {
    return this.state.read();
  }

  private async update<T>(decide: (current: PacerState) => { next: PacerState | undefined; out: T }): Promise<T> {
    let current = await this.state.read();
    for (let tries = 1; tries <= MAX_TRIES; tries++) {
      const { next, out } = decide(current);
      if (!next) return out;
      const versioned = { ...next, version: current.version + 1 };
      const written = await this.state.replace(versioned, current.version);
      if (written.written) return out === next ? (versioned as T) : out;
      current = written.current;
    }
    throw new DependencyThrottledError(`The Didit budget record stayed contended for ${MAX_TRIES} tries`);
  }
}
