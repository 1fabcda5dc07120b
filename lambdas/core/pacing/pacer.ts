import type { DiditRateLimit } from '../didit-types';

/**
 * One shared budget for every Didit call, from every concurrent function: the rules, pure. The adapter keeps the
 * state in one DynamoDB item and changes it only with atomic operations, so a burst of callers never contends.
 *
 * Pacing hands out tickets: an atomic counter gives each caller a number n, and ticket n's slot is
 * `anchor + n × interval`. Slots therefore go out in the order callers ask, exactly one interval apart, and a caller
 * whose slot is ahead waits for it without calling Didit (it keeps its ticket and asks again at its slot). When the
 * schedule has fallen behind the clock (nobody asked for a while) the next caller moves the anchor so its slot is now,
 * allowing a burst of about one second's worth of calls; that is the only write callers can race on.
 *
 * Backing off together: a 429 (or `X-RateLimit-Remaining` at 0) moves the anchor — every slot not yet used — past
 * Didit's `Retry-After` / `X-RateLimit-Reset`, and nobody goes before that time. Remaining under 15 % of the limit
 * spreads the rest of the window until the reset. Slots keep their order: a waiting check simply waits longer.
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
  /** Tickets handed out so far (an atomic counter). */
  readonly ticket: number;
  /** Ticket n's slot is `anchor_ms + n × interval`; undefined until the first caller sets it. */
  readonly anchor_ms?: number;
  /** No call before this, epoch ms: Didit asked every caller to back off. */
  readonly paused_until_ms?: number;
  readonly circuit: CircuitState;
  /** When the circuit opened, epoch ms (while open). */
  readonly circuit_opened_at_ms?: number;
  /** The next probe may go at this time, epoch ms (while open). */
  readonly probe_at_ms?: number;
}

export const INITIAL_PACER_STATE: PacerState = { ticket: 0, circuit: 'closed' };

/** Why a check waits without calling Didit. */
export type WaitReason = 'PACED' | 'DIDIT_THROTTLED' | 'OUT_OF_CREDITS' | 'DEPENDENCY_THROTTLED';

export type Permit =
  | { readonly kind: 'go'; readonly probe: boolean }
  | {
      readonly kind: 'wait';
      readonly reason: Exclude<WaitReason, 'DEPENDENCY_THROTTLED'>;
      readonly untilMs: number;
      /** The ticket to ask again with at `untilMs` (paced and throttled waits keep their place in line). */
      readonly ticket?: number;
    };

/** What an answer (or a refusal) from Didit tells every caller. */
export type PacerSignal =
  | { readonly kind: 'answered'; readonly rateLimit: DiditRateLimit | undefined }
  | { readonly kind: 'throttled'; readonly rateLimit: DiditRateLimit | undefined }
  | { readonly kind: 'out_of_credits' };

/**
 * A change to the state, made only if `expect` still holds (each field equal; undefined: absent), else refused with
 * the state as it is.
 */
export interface PacerChange {
  readonly expect: Readonly<Partial<Record<keyof PacerState, number | string | undefined>>>;
  readonly set: Readonly<Partial<PacerState>>;
  readonly remove?: ReadonlyArray<keyof PacerState>;
}

/** What a caller holding a ticket does next. */
export type Decision =
  | { readonly kind: 'permit'; readonly permit: Permit }
  /** Another caller may be doing the same: make the change; if it lands, `onSuccess` (when given) is the permit, else decide again on the state it leaves. */
  | { readonly kind: 'change'; readonly change: PacerChange; readonly onSuccess?: Permit }
  /** A fresh ticket whose slot is already behind later tickets' (others decided first): take another. */
  | { readonly kind: 'retake' };

/** Begin spreading calls when fewer than this share of Didit's limit is left (Didit's own guidance). */
export const LOW_REMAINING_SHARE = 0.15;
/** A 429 without usable headers pauses everyone this long. */
export const DEFAULT_THROTTLE_PAUSE_MS = 5_000;
/**
 * The longest shared pause one answer can impose. Didit's window is a minute, so its Retry-After and reset stay well
 * under this and are honoured by every caller as sent; a longer value (a proxy's, or a bogus header) stops everyone
 * for at most this, while the check that received it still waits all of it.
 */
export const MAX_PAUSE_MS = 5 * 60_000;

export function intervalMs(settings: PacerSettings): number {
  return 60_000 / settings.requestsPerMinute;
}

/** Calls allowed back to back after a quiet spell: about one second's worth, at least one. */
export function burst(settings: PacerSettings): number {
  return Math.max(1, Math.ceil(settings.requestsPerMinute / 60));
}

/** When ticket n may call, or undefined before the schedule has an anchor. */
export function slotOf(state: PacerState, ticket: number, settings: PacerSettings): number | undefined {
  return state.anchor_ms === undefined ? undefined : state.anchor_ms + ticket * intervalMs(settings);
}

/**
 * What the holder of `ticket` does at `nowMs`; `held` when the caller waited with the ticket (rather than taking it
 * just now).
 */
export function decide(
  state: PacerState,
  ticket: number,
  nowMs: number,
  settings: PacerSettings,
  held = false,
): Decision {
  if (state.circuit === 'open') {
    const probeAt = state.probe_at_ms ?? nowMs;
    if (nowMs < probeAt) return wait('OUT_OF_CREDITS', probeAt);
    // One probe per interval: only the caller whose change lands goes.
    return {
      kind: 'change',
      change: {
        expect: { circuit: 'open', probe_at_ms: state.probe_at_ms },
        set: { probe_at_ms: nowMs + settings.probeIntervalMs },
      },
      onSuccess: { kind: 'go', probe: true },
    };
  }
  const paused = (state.paused_until_ms ?? 0) > nowMs;
  const floor = paused ? (state.paused_until_ms as number) : nowMs;
  // A slot this far behind the floor still counts as on time: the burst allowed after a quiet spell.
  const earliest = floor - (burst(settings) - 1) * intervalMs(settings);
  // A holder back a little late (up to another second's worth) still uses its own slot: it was not given to anyone.
  const lateGrace = held ? burst(settings) * intervalMs(settings) : 0;
  const slot = slotOf(state, ticket, settings);
  if (slot !== undefined && slot >= earliest - lateGrace) {
    if (slot > nowMs || paused) return wait(paused ? 'DIDIT_THROTTLED' : 'PACED', Math.max(slot, floor), ticket);
    return { kind: 'permit', permit: { kind: 'go', probe: false } };
  }
  const latest = slotOf(state, state.ticket, settings);
  if (latest === undefined || latest < earliest) {
    // The whole schedule is behind the clock (first use, a quiet spell, the end of a pause): the latest ticket's slot
    // becomes the earliest allowed moment and the tickets after it follow one interval apart. The anchor moves only
    // later here, so no slot already handed out comes sooner.
    return {
      kind: 'change',
      change: {
        expect: { anchor_ms: state.anchor_ms },
        set: { anchor_ms: earliest - state.ticket * intervalMs(settings) },
      },
    };
  }
  // The slot went by and later tickets hold the slots after it. A fresh ticket simply takes another (it lost nothing).
  if (!held) return { kind: 'retake' };
  // A check that waited its turn and came back late (a cold start, a busy host) keeps its turn: it goes now and
  // every slot not yet used moves back one interval, so the budget still holds.
  if (paused) return wait('DIDIT_THROTTLED', floor, ticket);
  return {
    kind: 'change',
    change: {
      expect: { anchor_ms: state.anchor_ms },
      set: { anchor_ms: (state.anchor_ms as number) + intervalMs(settings) },
    },
    onSuccess: { kind: 'go', probe: false },
  };
}

/** The change Didit's answer calls for, made against `state` (undefined: none). */
export function observe(
  state: PacerState,
  nowMs: number,
  settings: PacerSettings,
  signal: PacerSignal,
): PacerChange | undefined {
  switch (signal.kind) {
    case 'out_of_credits':
      // Opened once; while open, the probe that just failed already pushed the next probe out by an interval.
      if (state.circuit === 'open') return undefined;
      return {
        expect: { circuit: state.circuit },
        set: { circuit: 'open', circuit_opened_at_ms: nowMs, probe_at_ms: nowMs + settings.probeIntervalMs },
      };
    case 'throttled':
      return pauseUntil(state, nowMs, nowMs + throttlePauseMs(signal.rateLimit, nowMs));
    case 'answered': {
      if (state.circuit === 'open') {
        // Didit answered a call: the balance pays again. Tickets taken while the circuit was open were never used, so
        // the schedule restarts as after a quiet spell: a burst, then callers resume at the paced rate.
        return {
          expect: { circuit: 'open' },
          set: { circuit: 'closed', anchor_ms: nowMs - (state.ticket + burst(settings)) * intervalMs(settings) },
          remove: ['circuit_opened_at_ms', 'probe_at_ms'],
        };
      }
      return slowDown(state, nowMs, settings, signal.rateLimit);
    }
  }
}

/** How long a 429 stops everyone: Didit's Retry-After or its reset time, whichever is later, up to MAX_PAUSE_MS. */
export function throttlePauseMs(rateLimit: DiditRateLimit | undefined, nowMs: number): number {
  const retryAfter = rateLimit?.retryAfterSeconds !== undefined ? rateLimit.retryAfterSeconds * 1000 : 0;
  const untilReset = rateLimit?.resetAtMs !== undefined ? rateLimit.resetAtMs - nowMs : 0;
  const asked = Math.max(retryAfter, untilReset);
  return Math.min(MAX_PAUSE_MS, asked > 0 ? asked : DEFAULT_THROTTLE_PAUSE_MS);
}

/** Nobody calls before `until`: every slot not yet used moves back by as much as the pause adds. */
function pauseUntil(state: PacerState, nowMs: number, until: number): PacerChange | undefined {
  const pausedUntil = Math.max(nowMs, state.paused_until_ms ?? 0);
  if (until <= pausedUntil) return undefined;
  const shift = until - pausedUntil;
  return {
    expect: { anchor_ms: state.anchor_ms, paused_until_ms: state.paused_until_ms },
    set: { paused_until_ms: until, ...(state.anchor_ms !== undefined ? { anchor_ms: state.anchor_ms + shift } : {}) },
  };
}

/**
 * Under 15 % of the limit left: spread what is left until the reset (no two calls closer than the time left divided
 * by the calls left), by moving the next unused slot back; nothing left: pause until the reset.
 */
function slowDown(
  state: PacerState,
  nowMs: number,
  settings: PacerSettings,
  rateLimit: DiditRateLimit | undefined,
): PacerChange | undefined {
  const { limit, remaining, resetAtMs } = rateLimit ?? {};
  if (limit === undefined || remaining === undefined || resetAtMs === undefined || limit <= 0) return undefined;
  if (remaining >= limit * LOW_REMAINING_SHARE || resetAtMs <= nowMs) return undefined;
  if (remaining === 0) return pauseUntil(state, nowMs, Math.min(nowMs + MAX_PAUSE_MS, resetAtMs));
  const spacing = (resetAtMs - nowMs) / remaining;
  const next = slotOf(state, state.ticket + 1, settings);
  if (spacing <= intervalMs(settings) || next === undefined || next >= nowMs + spacing) return undefined;
  return {
    expect: { anchor_ms: state.anchor_ms },
    set: { anchor_ms: (state.anchor_ms as number) + (nowMs + spacing - next) },
  };
}

function wait(reason: Exclude<WaitReason, 'DEPENDENCY_THROTTLED'>, untilMs: number, ticket?: number): Decision {
  return { kind: 'permit', permit: { kind: 'wait', reason, untilMs, ...(ticket !== undefined ? { ticket } : {}) } };
}
