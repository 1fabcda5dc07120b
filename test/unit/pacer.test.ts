import { describe, expect, it } from 'vitest';
import {
  acquire,
  burst,
  DEFAULT_THROTTLE_PAUSE_MS,
  INITIAL_PACER_STATE,
  intervalMs,
  observe,
  type PacerSettings,
  type PacerState,
  type Permit,
} from '../../lambdas/core/pacing/pacer';
import { DiditPacer } from '../../lambdas/services/didit-pacer';
import { MemoryPacerState } from '../fakes/memory-pacer';

// The shared Didit budget's rules, pure: a reserving GCRA, global back-off, and the out-of-credits circuit.
const SETTINGS: PacerSettings = { requestsPerMinute: 120, probeIntervalMs: 60_000 };
const T0 = 1_800_000_000_000;

/** Asks `n` times at `now`, threading the state; returns the permits and the final state. */
function askAll(n: number, now: number, state: PacerState = INITIAL_PACER_STATE) {
  const permits: Permit[] = [];
  let current = state;
  for (let i = 0; i < n; i++) {
    const { permit, next } = acquire(current, now, SETTINGS);
    permits.push(permit);
    if (next) current = next;
  }
  return { permits, state: current };
}

describe('pacing', () => {
  it('lets a burst of about one second of calls go at once, then hands out slots one interval apart', () => {
    expect(burst(SETTINGS)).toBe(2);
    expect(intervalMs(SETTINGS)).toBe(500);
    const { permits } = askAll(6, T0);
    expect(permits.slice(0, 2)).toEqual([
      { kind: 'go', probe: false },
      { kind: 'go', probe: false },
    ]);
    const slots = permits.slice(2).map((p) => (p.kind === 'wait' ? p.untilMs - T0 : -1));
    expect(slots).toEqual([500, 1000, 1500, 2000]);
    expect(permits.slice(2).every((p) => p.kind === 'wait' && p.reason === 'PACED')).toBe(true);
  });

  it('never lets more than the budget through in any minute, however many ask', () => {
    let state = INITIAL_PACER_STATE;
    const callTimes: number[] = [];
    // 1,000 callers ask at random times within 30 s; each calls at once or at its reserved slot.
    for (let i = 0; i < 1000; i++) {
      const now = T0 + Math.floor(((i * 7919) % 1000) * 30);
      const { permit, next } = acquire(state, now, SETTINGS);
      if (next) state = next;
      callTimes.push(permit.kind === 'go' ? now : (permit as { untilMs: number }).untilMs);
    }
    callTimes.sort((a, b) => a - b);
    for (let i = 0; i < callTimes.length; i++) {
      const windowEnd = (callTimes[i] ?? 0) + 60_000;
      const inWindow = callTimes.slice(i).filter((t) => t < windowEnd).length;
      expect(inWindow).toBeLessThanOrEqual(SETTINGS.requestsPerMinute + burst(SETTINGS));
    }
  });

  it('a held reservation is used at its slot without taking another', () => {
    const { permits, state } = askAll(3, T0);
    const third = permits[2] as Extract<Permit, { kind: 'wait' }>;
    const early = acquire(state, third.untilMs - 1, SETTINGS, third.reservation);
    expect(early).toEqual({
      permit: { kind: 'wait', reason: 'PACED', untilMs: third.untilMs, reservation: third.reservation },
      next: undefined,
    });
    expect(acquire(state, third.untilMs, SETTINGS, third.reservation)).toEqual({
      permit: { kind: 'go', probe: false },
      next: undefined,
    });
  });
});

describe('backing off together', () => {
  it("a 429 pauses every caller until Didit's reset, voiding the reservations handed out", () => {
    const { permits, state } = askAll(4, T0);
    const held = (permits[3] as Extract<Permit, { kind: 'wait' }>).reservation;
    const paused = observe(state, T0 + 100, SETTINGS, {
      kind: 'throttled',
      rateLimit: { retryAfterSeconds: 5, resetAtMs: T0 + 12_000 },
    }) as PacerState;
    expect(paused.paused_until_ms).toBe(T0 + 12_000);
    // Nobody goes before the reset, a reservation from before the pause included.
    const fresh = acquire(paused, T0 + 200, SETTINGS);
    expect(fresh.permit).toMatchObject({ kind: 'wait', reason: 'DIDIT_THROTTLED', untilMs: T0 + 12_000 });
    const stale = acquire(paused, (held?.at_ms ?? 0) + 1, SETTINGS, held);
    expect(stale.permit).toMatchObject({ kind: 'wait', reason: 'DIDIT_THROTTLED' });
  });

  it('a 429 without usable headers pauses everyone a default while', () => {
    const paused = observe(INITIAL_PACER_STATE, T0, SETTINGS, { kind: 'throttled', rateLimit: undefined });
    expect(paused?.paused_until_ms).toBe(T0 + DEFAULT_THROTTLE_PAUSE_MS);
  });

  it('Remaining under 15 % of the limit spreads the rest of the window until the reset', () => {
    const slowed = observe(INITIAL_PACER_STATE, T0, SETTINGS, {
      kind: 'answered',
      rateLimit: { limit: 300, remaining: 10, resetAtMs: T0 + 20_000 },
    }) as PacerState;
    expect(slowed.next_slot_ms).toBe(T0 + 2_000);
    expect(acquire(slowed, T0, SETTINGS).permit).toMatchObject({ kind: 'wait', untilMs: T0 + 1_500 });
  });

  it('Remaining at 15 % or more, or spacing already slower than the pace, changes nothing', () => {
    const plenty = { limit: 300, remaining: 45, resetAtMs: T0 + 20_000 };
    expect(observe(INITIAL_PACER_STATE, T0, SETTINGS, { kind: 'answered', rateLimit: plenty })).toBeUndefined();
    const closeToReset = { limit: 300, remaining: 40, resetAtMs: T0 + 1_000 };
    expect(observe(INITIAL_PACER_STATE, T0, SETTINGS, { kind: 'answered', rateLimit: closeToReset })).toBeUndefined();
  });

  it('nothing remaining pauses everyone until the reset', () => {
    const paused = observe(INITIAL_PACER_STATE, T0, SETTINGS, {
      kind: 'answered',
      rateLimit: { limit: 300, remaining: 0, resetAtMs: T0 + 9_000 },
    });
    expect(paused?.paused_until_ms).toBe(T0 + 9_000);
  });
});

describe('out of credits', () => {
  const open = observe(INITIAL_PACER_STATE, T0, SETTINGS, { kind: 'out_of_credits' }) as PacerState;

  it('opens the circuit: nobody calls before the probe time', () => {
    expect(open).toMatchObject({ circuit: 'open', circuit_opened_at_ms: T0, probe_at_ms: T0 + 60_000 });
    expect(acquire(open, T0 + 59_999, SETTINGS).permit).toEqual({
      kind: 'wait',
      reason: 'OUT_OF_CREDITS',
      untilMs: T0 + 60_000,
    });
  });

  it('lets exactly one probe through per interval', () => {
    const first = acquire(open, T0 + 60_000, SETTINGS);
    expect(first.permit).toEqual({ kind: 'go', probe: true });
    const after = first.next as PacerState;
    expect(acquire(after, T0 + 60_001, SETTINGS).permit).toMatchObject({ kind: 'wait', reason: 'OUT_OF_CREDITS' });
    expect(acquire(after, T0 + 120_000, SETTINGS).permit).toEqual({ kind: 'go', probe: true });
  });

  it('a failed probe keeps it open; an answer closes it and callers resume at the paced rate', () => {
    const failed = observe(open, T0 + 60_000, SETTINGS, { kind: 'out_of_credits' }) as PacerState;
    expect(failed).toMatchObject({ circuit: 'open', probe_at_ms: T0 + 120_000, circuit_opened_at_ms: T0 });
    const closed = observe(failed, T0 + 120_000, SETTINGS, { kind: 'answered', rateLimit: undefined }) as PacerState;
    expect(closed.circuit).toBe('closed');
    expect(closed.probe_at_ms).toBeUndefined();
    expect(askAll(3, T0 + 120_000, closed).permits.map((p) => p.kind)).toEqual(['go', 'go', 'wait']);
  });
});

describe('one budget for concurrent callers (DiditPacer over a versioned record)', () => {
  it('a caller that loses the race decides again on the winner’s state: no slot is handed out twice', async () => {
    const store = new MemoryPacerState();
    const pacer = new DiditPacer(store, SETTINGS);
    const permits = await Promise.all(Array.from({ length: 8 }, () => pacer.acquire(new Date(T0))));
    const slots = permits.map((p) => (p.kind === 'wait' ? p.untilMs : T0)).sort((a, b) => a - b);
    expect(slots).toEqual([T0, T0, T0 + 500, T0 + 1000, T0 + 1500, T0 + 2000, T0 + 2500, T0 + 3000]);
    expect(store.state.version).toBe(8);
  });

  it('a report returns the state every caller now sees', async () => {
    const store = new MemoryPacerState();
    const pacer = new DiditPacer(store, SETTINGS);
    const state = await pacer.report(new Date(T0), { kind: 'out_of_credits' });
    expect(state).toMatchObject({ circuit: 'open', version: 1 });
    expect(await pacer.current()).toEqual(state);
  });
});
