import type { DiditRateLimit } from '../didit-types';

/**
 * One shared budget for every Didit call, from every concurrent function: the rules, pure. The state is one small
 * record (stored by the adapter as one DynamoDB item, updated with optimistic concurrency); every decision is a
 * function of that state and the clock.
 *
 * Pacing is a reserving GCRA (generic cell rate algorithm): `next_slot_ms` is the theoretical arrival time of the
 * next call. A caller either goes now (within a small burst tolerance) or gets a reservation — a slot in the future
 * that is its alone — and waits for it without calling Didit. Slots are handed out in the order callers ask, so
 * waiting checks resume in arrival order at exactly the configured rate.
 *
 * Backing off together: a 429 (or `X-RateLimit-Remaining` under 15 % of the limit at 0) pauses every caller until
 * Didit's `Retry-After` / `X-RateLimit-Reset`; a low Remaining spreads the rest of the window until the reset. A pause
 * voids the reservations already handed out (the epoch changes); their holders ask again when they wake.
 *
 * Out of credits opens a circuit: no calls but one probe per interval; the first answer Didit gives after a top-up
 * closes it and callers resume at the paced rate.
 */

export interface PacerSettings {
  /** The budget: calls per minute, all callers together (a little under Didit's 300). */
  readonly requestsPerMinute: number;
  /** While the circuit is open, one probe call per this long. */
  readonly probeIntervalMs: number;
}

export type CircuitState = 'closed' | 'open';

export interface PacerState {
  /** When the next call would be on pace (GCRA theoretical arrival time), epoch ms. */
  readonly next_slot_ms: number;
  /** No call before this, epoch ms: Didit asked every caller to back off. */
  readonly paused_until_ms: number;
  /** Changes whenever reservations handed out so far stop being valid (a pause, the circuit opening). */
  readonly epoch: number;
  readonly circuit: CircuitState;
  /** When the circuit opened, epoch ms (while open). */
  readonly circuit_opened_at_ms?: number;
  /** The next probe may go at this time, epoch ms (while open). */
  readonly probe_at_ms?: number;
  /** Optimistic-concurrency version; the adapter writes only over the version it read. */
  readonly version: number;
}

export const INITIAL_PACER_STATE: PacerState = {
  next_slot_ms: 0,
  paused_until_ms: 0,
  epoch: 0,
  circuit: 'closed',
  version: 0,
};

/** A slot handed to one caller: it may call at `at_ms` if the epoch is still the same. */
export interface Reservation {
  readonly at_ms: number;
  readonly epoch: number;
}

/** Why a check waits without calling Didit. */
export type WaitReason = 'PACED' | 'DIDIT_THROTTLED' | 'OUT_OF_CREDITS' | 'DEPENDENCY_THROTTLED';

export type Permit =
  | { readonly kind: 'go'; readonly probe: boolean }
  | {
      readonly kind: 'wait';
      readonly reason: Exclude<WaitReason, 'DEPENDENCY_THROTTLED'>;
      readonly untilMs: number;
      readonly reservation?: Reservation;
    };

/** What an answer (or a refusal) from Didit tells every caller. */
export type PacerSignal =
  | { readonly kind: 'answered'; readonly rateLimit: DiditRateLimit | undefined }
  | { readonly kind: 'throttled'; readonly rateLimit: DiditRateLimit | undefined }
  | { readonly kind: 'out_of_credits' };

/** Begin spreading calls when fewer than this share of Didit's limit is left (Didit's own guidance). */
export const LOW_REMAINING_SHARE = 0.15;
/** A 429 without usable headers pauses everyone this long. */
export const DEFAULT_THROTTLE_PAUSE_MS = 5_000;
/** Didit's sliding window; no pause needs to outlast it. */
const MAX_PAUSE_MS = 60_000;

export function intervalMs(settings: PacerSettings): number {
  return 60_000 / settings.requestsPerMinute;
}

/** Calls allowed back to back before pacing spaces them: about one second's worth, at least one. */
export function burst(settings: PacerSettings): number {
  return Math.max(1, Math.ceil(settings.requestsPerMinute / 60));
}

/**
 * Asks for a permit. `held` is the reservation the caller got earlier (undefined on a first ask): still valid, it is
 * used without taking another slot. Returns the permit, and the new state to write (undefined: nothing changed).
 */
export function acquire(
  state: PacerState,
  nowMs: number,
  settings: PacerSettings,
  held?: Reservation,
): { permit: Permit; next: PacerState | undefined } {
  if (state.circuit === 'open') {
    const probeAt = state.probe_at_ms ?? nowMs;
    if (nowMs < probeAt)
      return { permit: { kind: 'wait', reason: 'OUT_OF_CREDITS', untilMs: probeAt }, next: undefined };
    return {
      permit: { kind: 'go', probe: true },
      next: { ...state, probe_at_ms: nowMs + settings.probeIntervalMs },
    };
  }
  if (held && held.epoch === state.epoch && nowMs >= state.paused_until_ms) {
    if (nowMs >= held.at_ms) return { permit: { kind: 'go', probe: false }, next: undefined };
    return { permit: { kind: 'wait', reason: 'PACED', untilMs: held.at_ms, reservation: held }, next: undefined };
  }
  const interval = intervalMs(settings);
  const tolerance = (burst(settings) - 1) * interval;
  const tat = Math.max(state.next_slot_ms, nowMs);
  const slot = Math.max(tat - tolerance, nowMs, state.paused_until_ms);
  const next: PacerState = { ...state, next_slot_ms: Math.max(tat, slot) + interval };
  if (slot <= nowMs) return { permit: { kind: 'go', probe: false }, next };
  const reason = state.paused_until_ms > nowMs ? 'DIDIT_THROTTLED' : 'PACED';
  return { permit: { kind: 'wait', reason, untilMs: slot, reservation: { at_ms: slot, epoch: state.epoch } }, next };
}

/** What Didit's answer means for every caller. Returns the new state to write (undefined: nothing changed). */
export function observe(
  state: PacerState,
  nowMs: number,
  settings: PacerSettings,
  signal: PacerSignal,
): PacerState | undefined {
  switch (signal.kind) {
    case 'out_of_credits':
      if (state.circuit === 'open') {
        const probeAt = Math.max(state.probe_at_ms ?? 0, nowMs + settings.probeIntervalMs);
        return probeAt === state.probe_at_ms ? undefined : { ...state, probe_at_ms: probeAt };
      }
      return {
        ...state,
        circuit: 'open',
        circuit_opened_at_ms: nowMs,
        probe_at_ms: nowMs + settings.probeIntervalMs,
        epoch: state.epoch + 1,
      };
    case 'throttled':
      return pause(state, nowMs, throttlePauseMs(signal.rateLimit, nowMs));
    case 'answered': {
      let next = state;
      if (state.circuit === 'open') {
        // Didit answered a call: the balance pays again. Callers resume at the paced rate from now.
        const { circuit_opened_at_ms: _opened, probe_at_ms: _probe, ...closed } = state;
        next = { ...closed, circuit: 'closed', next_slot_ms: Math.max(state.next_slot_ms, nowMs) };
      }
      const slowed = slowDown(next, nowMs, settings, signal.rateLimit);
      return slowed === state ? undefined : slowed;
    }
  }
}

/** How long a 429 stops everyone: Didit's Retry-After or its reset time, whichever is later, within the window. */
export function throttlePauseMs(rateLimit: DiditRateLimit | undefined, nowMs: number): number {
  const retryAfter = rateLimit?.retryAfterSeconds !== undefined ? rateLimit.retryAfterSeconds * 1000 : 0;
  const untilReset = rateLimit?.resetAtMs !== undefined ? rateLimit.resetAtMs - nowMs : 0;
  const asked = Math.max(retryAfter, untilReset);
  return Math.min(MAX_PAUSE_MS, asked > 0 ? asked : DEFAULT_THROTTLE_PAUSE_MS);
}

function pause(state: PacerState, nowMs: number, durationMs: number): PacerState | undefined {
  const until = nowMs + durationMs;
  if (until <= state.paused_until_ms) return undefined;
  // Reservations handed out before the pause are void; their holders ask again, from the end of the pause on.
  return { ...state, paused_until_ms: until, next_slot_ms: until, epoch: state.epoch + 1 };
}

/**
 * Under 15 % of the limit left: spread what is left until the reset (no two calls closer than the time left divided
 * by the calls left); nothing left: pause until the reset.
 */
function slowDown(
  state: PacerState,
  nowMs: number,
  settings: PacerSettings,
  rateLimit: DiditRateLimit | undefined,
): PacerState {
  const { limit, remaining, resetAtMs } = rateLimit ?? {};
  if (limit === undefined || remaining === undefined || resetAtMs === undefined || limit <= 0) return state;
  if (remaining >= limit * LOW_REMAINING_SHARE || resetAtMs <= nowMs) return state;
  if (remaining === 0) return pause(state, nowMs, Math.min(MAX_PAUSE_MS, resetAtMs - nowMs)) ?? state;
  const spacing = (resetAtMs - nowMs) / remaining;
  if (spacing <= intervalMs(settings)) return state;
  const nextSlot = nowMs + spacing;
  return nextSlot > state.next_slot_ms ? { ...state, next_slot_ms: nextSlot } : state;
}
