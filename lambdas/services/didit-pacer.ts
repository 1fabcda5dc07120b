import {
  decide,
  observe,
  type PacerSettings,
  type PacerSignal,
  type PacerState,
  type Permit,
} from '../core/pacing/pacer';
import type { DiditPacerPort, PacerStatePort } from '../core/ports';
import { DependencyThrottledError } from '../errors';

/**
 * Changes to the shared state race only at rare moments (a quiet spell ends, Didit pushes back, the circuit turns);
 * each refused change hands back the state as it is, so a few tries always settle it.
 */
const MAX_TRIES = 10;

/**
 * The shared Didit budget (core/pacing/pacer.ts) over its stored state. A caller takes a ticket (an atomic counter:
 * no contention however many callers arrive together), and the pure rules say whether its slot has come; the few
 * changes the rules ask for are conditional, and a refused one is decided again on the state it hands back.
 */
export class DiditPacer implements DiditPacerPort {
  constructor(
    private readonly state: PacerStatePort,
    private readonly settings: PacerSettings,
  ) {}

  async acquire(now: Date, heldTicket?: number): Promise<Permit> {
    const nowMs = now.getTime();
    let held = heldTicket !== undefined;
    let { ticket, state } = held
      ? { ticket: heldTicket as number, state: await this.state.read() }
      : await this.state.takeTicket();
    for (let tries = 1; tries <= MAX_TRIES; tries++) {
      const decision = decide(state, ticket, nowMs, this.settings, held);
      if (decision.kind === 'permit') return decision.permit;
      if (decision.kind === 'retake') {
        ({ ticket, state } = await this.state.takeTicket());
        held = false;
        continue;
      }
      const result = await this.state.change(decision.change);
      if (result.ok && decision.onSuccess) return decision.onSuccess;
      state = result.ok ? result.state : result.current;
    }
    throw new DependencyThrottledError(`The Didit budget record stayed contended for ${MAX_TRIES} tries`);
  }

  async report(now: Date, signal: PacerSignal): Promise<PacerState> {
    let state = await this.state.read();
    for (let tries = 1; tries <= MAX_TRIES; tries++) {
      const change = observe(state, now.getTime(), this.settings, signal);
      if (!change) return state;
      const result = await this.state.change(change);
      if (result.ok) return result.state;
      state = result.current;
    }
    throw new DependencyThrottledError(`The Didit budget record stayed contended for ${MAX_TRIES} tries`);
  }

  current(): Promise<PacerState> {
    return this.state.read();
  }
}
