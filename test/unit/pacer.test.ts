import { describe, expect, it } from 'vitest';
import {
  burst,
  DEFAULT_THROTTLE_PAUSE_MS,
  decide,
  INITIAL_PACER_STATE,
  intervalMs,
  MAX_PAUSE_MS,
  observe,
  type PacerChange,
  type PacerSettings,
  type PacerState,
  type Permit,
} from '../../lambdas/core/pacing/pacer';
import { DiditPacer } from '../../lambdas/services/didit-pacer';
import { MemoryPacerState } from '../fakes/memory-pacer';

// The shared Didit budget: tickets from an atomic counter, slots one interval apart, global back-off, and the
// out-of-credits circuit. The pure rules run here through DiditPacer over the in-memory item (same contract as the
// DynamoDB one, which test/integration/pacer-state-store.test.ts runs on moto).
const SETTINGS: PacerSettings = { requestsPerMinute: 120, probeIntervalMs: 60_000 };
const T0 = 1_800_000_000_000;
const at = (ms: number) => new Date(T0 + ms);
type Wait = Extract<Permit, { kind: 'wait' }>;

function pacerOver(state: PacerState = INITIAL_PACER_STATE) {
  const store = new MemoryPacerState();
  store.state = state;
  return { store, pacer: new DiditPacer(store, SETTINGS) };
}

async function askAll(pacer: DiditPacer, n: number, now = at(0)): Promise<Permit[]> {
  const permits: Permit[] = [];
  for (let i = 0; i < n; i++) permits.push(await pacer.acquire(now));
  return permits;
}

function apply(state: PacerState, change: PacerChange | undefined): PacerState {
  if (!change) return state;
  const next: Record<string, unknown> = { ...state, ...change.set };
  for (const key of change.remove ?? []) delete next[key];
  return next as unknown as PacerState;
}

/** Every window of a minute holds at most this many of `times`. */
function busiestMinute(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] as number) <= (sorted[i] as number) - 60_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('pacing', () => {
  it('lets a burst of about one second of calls go at once, then hands out slots one interval apart', async () => {
    expect(burst(SETTINGS)).toBe(2);
    expect(intervalMs(SETTINGS)).toBe(500);
    const { pacer } = pacerOver();
    const permits = await askAll(pacer, 6);
    expect(permits.slice(0, 2)).toEqual([
      { kind: 'go', probe: false },
      { kind: 'go', probe: false },
    ]);
    expect(permits.slice(2)).toEqual([
      { kind: 'wait', reason: 'PACED', untilMs: T0 + 500, ticket: 3 },
      { kind: 'wait', reason: 'PACED', untilMs: T0 + 1000, ticket: 4 },
      { kind: 'wait', reason: 'PACED', untilMs: T0 + 1500, ticket: 5 },
      { kind: 'wait', reason: 'PACED', untilMs: T0 + 2000, ticket: 6 },
    ]);
  });

  it('a held ticket goes at its slot without taking another', async () => {
    const { pacer, store } = pacerOver();
    const third = (await askAll(pacer, 3))[2] as Wait;
    expect(await pacer.acquire(new Date(third.untilMs - 1), third.ticket)).toEqual(third);
    expect(await pacer.acquire(new Date(third.untilMs), third.ticket)).toEqual({ kind: 'go', probe: false });
    expect(store.state.ticket).toBe(3);
  });

  it('a holder back late keeps its turn: it goes at once and every slot not yet used moves back one interval', async () => {
    const { pacer, store } = pacerOver();
    const permits = await askAll(pacer, 8); // tickets 3..8 wait until +500 .. +3000
    const third = permits[2] as Wait;
    // Ticket 3 comes back 2 s late (a cold start): its slot went by unused; tickets 4..8 hold the slots after it.
    expect(await pacer.acquire(at(2500), third.ticket)).toEqual({ kind: 'go', probe: false });
    expect(store.state.ticket).toBe(8);
    // Ticket 8's slot moved from +3000 to +3500; the next newcomer queues behind it.
    expect(await pacer.acquire(at(2500), 8)).toEqual({ kind: 'wait', reason: 'PACED', untilMs: T0 + 3500, ticket: 8 });
    expect(await pacer.acquire(at(2500))).toMatchObject({ untilMs: T0 + 4000, ticket: 9 });
    // Long after everyone went, a late holder finds the line empty and goes at once.
    expect(await pacer.acquire(at(60_000), 4)).toEqual({ kind: 'go', probe: false });
  });

  it('a fresh ticket whose slot others already passed takes another instead of crowding them', () => {
    const state: PacerState = { ticket: 9, circuit: 'closed', anchor_ms: T0 - 1000 }; // ticket 9 at +3500
    expect(decide(state, 2, T0 + 2500, SETTINGS)).toEqual({ kind: 'retake' });
    expect(decide(state, 2, T0 + 2500, SETTINGS, true)).toMatchObject({ kind: 'change', onSuccess: { kind: 'go' } });
  });

  it('never lets more than the budget through in any minute, with callers arriving at random and coming back late', async () => {
    const { pacer } = pacerOver();
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    // 600 callers within 30 s (20 a second against a budget of 2). Each comes back a little after its slot (within the
    // burst tolerance, as a Step Functions Wait does), one in five up to 3 s late (a cold start, a busy host).
    const queue: { at: number; ticket?: number; caller: number }[] = Array.from({ length: 600 }, (_, caller) => ({
      at: Math.floor(random() * 30_000),
      caller,
    }));
    const calls: number[] = [];
    const went = new Set<number>();
    while (queue.length > 0) {
      queue.sort((a, b) => a.at - b.at);
      const next = queue.shift() as (typeof queue)[number];
      const permit = await pacer.acquire(at(next.at), next.ticket);
      if (permit.kind === 'go') {
        calls.push(next.at);
        went.add(next.caller);
        continue;
      }
      const late = random() < 0.2 ? Math.floor(random() * 3_000) : Math.floor(random() * 400);
      queue.push({ at: permit.untilMs - T0 + late, ticket: permit.ticket, caller: next.caller });
    }
    expect(went.size).toBe(600);
    // The burst after a quiet spell and the late holders' grace: at most two seconds' worth over the budget.
    expect(busiestMinute(calls)).toBeLessThanOrEqual(SETTINGS.requestsPerMinute + 2 * burst(SETTINGS));
    // And the budget is used: 600 calls at 2 a second take 300 s; only holders later than the grace lose a slot.
    expect(Math.max(...calls)).toBeLessThan(300_000 / 0.9);
  });

  it('callers arriving together after a quiet spell get distinct slots one interval apart, in whatever order they decide', () => {
    // Ten tickets taken at once on a schedule left far behind; the holders decide in the worst order (last first).
    let state: PacerState = { ticket: 10, circuit: 'closed', anchor_ms: T0 - 3_600_000 };
    const slots: number[] = [];
    const pending = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    for (let guard = 0; pending.length > 0 && guard < 100; guard++) {
      const ticket = pending.shift() as number;
      const decision = decide(state, ticket, T0, SETTINGS);
      if (decision.kind === 'change') {
        state = apply(state, decision.change);
        pending.unshift(ticket);
      } else if (decision.kind === 'retake') {
        state = { ...state, ticket: state.ticket + 1 };
        pending.push(state.ticket);
      } else {
        const permit = decision.permit;
        slots.push(permit.kind === 'go' ? T0 : (permit as Wait).untilMs);
      }
    }
    expect(slots).toHaveLength(10);
    slots.sort((a, b) => a - b);
    expect(slots.filter((s) => s === T0)).toHaveLength(burst(SETTINGS));
    expect(new Set(slots).size).toBe(9); // two in the burst, then one per interval
    expect(slots.at(-1)).toBe(T0 + 8 * 500);
  });

  it('a burst of concurrent callers never contends: one ticket each, and only the first re-anchors', async () => {
    const { pacer, store } = pacerOver({ ticket: 0, circuit: 'closed', anchor_ms: T0 - 3_600_000 });
    const permits = await Promise.all(Array.from({ length: 50 }, () => pacer.acquire(at(0))));
    const slots = permits.map((p) => (p.kind === 'wait' ? p.untilMs : T0)).sort((a, b) => a - b);
    expect(slots.filter((s) => s === T0)).toHaveLength(2);
    expect(new Set(slots).size).toBe(49);
    expect(store.changes).toBe(1);
  });
});

describe('backing off together', () => {
  it("a 429 pauses every caller until Didit's reset and moves every slot not yet used back by as much, in order", async () => {
    const { pacer, store } = pacerOver();
    const permits = await askAll(pacer, 4); // go, go, +500 (ticket 3), +1000 (ticket 4)
    const state = await pacer.report(at(100), {
      kind: 'throttled',
      rateLimit: { retryAfterSeconds: 5, resetAtMs: T0 + 12_000 },
    });
    expect(state.paused_until_ms).toBe(T0 + 12_000);
    const shift = 12_000 - 100;
    // Nobody goes before the reset; the held tickets keep their places, each an interval apart after it.
    expect(await pacer.acquire(at(600), (permits[2] as Wait).ticket)).toEqual({
      kind: 'wait',
      reason: 'DIDIT_THROTTLED',
      untilMs: T0 + 500 + shift,
      ticket: 3,
    });
    expect(await pacer.acquire(at(600), (permits[3] as Wait).ticket)).toMatchObject({ untilMs: T0 + 1000 + shift });
    expect(await pacer.acquire(at(600))).toEqual({
      kind: 'wait',
      reason: 'DIDIT_THROTTLED',
      untilMs: T0 + 1500 + shift,
      ticket: 5,
    });
    // A second 429 reporting the same reset changes nothing more.
    const changes = store.changes;
    await pacer.report(at(700), { kind: 'throttled', rateLimit: { resetAtMs: T0 + 12_000 } });
    expect(store.changes).toBe(changes);
    // At its shifted slot, a ticket goes.
    expect(await pacer.acquire(at(500 + shift), 3)).toEqual({ kind: 'go', probe: false });
  });

  it('a 429 without usable headers pauses everyone a default while', async () => {
    const { pacer } = pacerOver();
    const state = await pacer.report(at(0), { kind: 'throttled', rateLimit: undefined });
    expect(state.paused_until_ms).toBe(T0 + DEFAULT_THROTTLE_PAUSE_MS);
    expect(await pacer.acquire(at(1))).toMatchObject({ kind: 'wait', reason: 'DIDIT_THROTTLED', untilMs: T0 + 5_000 });
  });

  it('a Retry-After past the minute window (90 s) pauses everyone all of it; a bogus one at most 5 minutes', async () => {
    const { pacer } = pacerOver();
    let state = await pacer.report(at(0), { kind: 'throttled', rateLimit: { retryAfterSeconds: 90 } });
    expect(state.paused_until_ms).toBe(T0 + 90_000);
    state = await pacer.report(at(1), { kind: 'throttled', rateLimit: { retryAfterSeconds: 86_400 } });
    expect(state.paused_until_ms).toBe(T0 + 1 + MAX_PAUSE_MS);
    expect(MAX_PAUSE_MS).toBe(300_000);
  });

  it('Remaining under 15 % of the limit spreads the rest of the window until the reset', async () => {
    const { pacer } = pacerOver();
    await askAll(pacer, 1);
    await pacer.report(at(0), { kind: 'answered', rateLimit: { limit: 300, remaining: 10, resetAtMs: T0 + 20_000 } });
    // 10 calls left for 20 s: the next slot moves from +0 to +2 s.
    expect(await pacer.acquire(at(0))).toEqual({ kind: 'wait', reason: 'PACED', untilMs: T0 + 2_000, ticket: 2 });
    expect(await pacer.acquire(at(0))).toMatchObject({ untilMs: T0 + 2_500 });
  });

  it('Remaining at 15 % or more, or spacing already slower than the pace, changes nothing', () => {
    const state: PacerState = { ticket: 1, circuit: 'closed', anchor_ms: T0 - 500 };
    const plenty = { limit: 300, remaining: 45, resetAtMs: T0 + 20_000 };
    expect(observe(state, T0, SETTINGS, { kind: 'answered', rateLimit: plenty })).toBeUndefined();
    const closeToReset = { limit: 300, remaining: 40, resetAtMs: T0 + 1_000 };
    expect(observe(state, T0, SETTINGS, { kind: 'answered', rateLimit: closeToReset })).toBeUndefined();
  });

  it('nothing remaining pauses everyone until the reset', async () => {
    const { pacer } = pacerOver();
    const state = await pacer.report(at(0), {
      kind: 'answered',
      rateLimit: { limit: 300, remaining: 0, resetAtMs: T0 + 9_000 },
    });
    expect(state.paused_until_ms).toBe(T0 + 9_000);
  });
});

describe('out of credits', () => {
  async function opened() {
    const over = pacerOver();
    await over.pacer.report(at(0), { kind: 'out_of_credits' });
    return over;
  }

  it('opens the circuit: nobody calls before the probe time', async () => {
    const { pacer, store } = await opened();
    expect(store.state).toMatchObject({ circuit: 'open', circuit_opened_at_ms: T0, probe_at_ms: T0 + 60_000 });
    expect(await pacer.acquire(at(59_999))).toEqual({ kind: 'wait', reason: 'OUT_OF_CREDITS', untilMs: T0 + 60_000 });
  });

  it('lets exactly one probe through per interval, however many ask at once', async () => {
    const { pacer } = await opened();
    const permits = await Promise.all(Array.from({ length: 20 }, () => pacer.acquire(at(60_000))));
    expect(permits.filter((p) => p.kind === 'go')).toEqual([{ kind: 'go', probe: true }]);
    expect(permits.filter((p) => p.kind === 'wait' && p.reason === 'OUT_OF_CREDITS')).toHaveLength(19);
    expect(await pacer.acquire(at(60_001))).toMatchObject({ kind: 'wait', untilMs: T0 + 120_000 });
    expect(await pacer.acquire(at(120_000))).toEqual({ kind: 'go', probe: true });
  });

  it('a failed probe keeps it open; an answer closes it and callers resume at the paced rate', async () => {
    const { pacer } = await opened();
    // Fifty waiting checks look in while it is open: they take tickets they never use.
    await Promise.all(Array.from({ length: 50 }, () => pacer.acquire(at(30_000))));
    await pacer.acquire(at(60_000));
    const failed = await pacer.report(at(60_000), { kind: 'out_of_credits' });
    expect(failed).toMatchObject({ circuit: 'open', probe_at_ms: T0 + 120_000, circuit_opened_at_ms: T0 });
    const closed = await pacer.report(at(120_000), { kind: 'answered', rateLimit: undefined });
    expect(closed.circuit).toBe('closed');
    expect(closed.probe_at_ms).toBeUndefined();
    // The schedule restarts at the top-up: those unused tickets delay nobody.
    expect(await askAll(pacer, 3, at(120_000))).toEqual([
      { kind: 'go', probe: false },
      { kind: 'go', probe: false },
      { kind: 'wait', reason: 'PACED', untilMs: T0 + 120_500, ticket: 54 },
    ]);
  });

  it('a report returns the state every caller now sees', async () => {
    const { pacer } = pacerOver();
    const state = await pacer.report(at(0), { kind: 'out_of_credits' });
    expect(state).toMatchObject({ circuit: 'open' });
    expect(await pacer.current()).toEqual(state);
  });
});
