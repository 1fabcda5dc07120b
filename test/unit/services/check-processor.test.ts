import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { ClaimLostError } from '../../../lambdas/core/lifecycle/conflicts';
import {
  DependencyThrottledError,
  DiditAuthError,
  DiditChargedAnswerError,
  DiditOutOfCreditsError,
  DiditRateLimitedError,
  DiditUnavailableError,
} from '../../../lambdas/errors';
import { PACE_LEAD_MS } from '../../../lambdas/services/check-evaluator';
import { CheckProcessor, type ProcessorPorts, type ProcessorSettings } from '../../../lambdas/services/check-processor';
import type { DiditPacer } from '../../../lambdas/services/didit-pacer';
import { MemoryCheckStore } from '../../fakes/memory-check-store';
import { type MemoryPacerState, memoryPacer } from '../../fakes/memory-pacer';
import {
  awaitingCheck,
  diditAnswer,
  FixedFaces,
  fakePrepareImage,
  MemoryUploads,
  processorSettings,
  ScriptedDidit,
} from '../../fakes/processor-fakes';
import { ManualClock, RecordingEvents, RecordingMetrics, RecordingRetries } from '../../fakes/recorders';

// The processor service over in-memory fakes of its ports: every rule of an attempt, in milliseconds. The same
// service runs against moto and the loopback simulators in test/integration/check-processor.test.ts.
const LEASE = 60;
const HORIZON = 3600;
let store: MemoryCheckStore;
let uploads: MemoryUploads;
let didit: ScriptedDidit;
let events: RecordingEvents;
let retries: RecordingRetries;
let clock: ManualClock;
let pacer: DiditPacer;
let pacerState: MemoryPacerState;

beforeEach(() => {
  ({ pacer, state: pacerState } = memoryPacer());
  store = new MemoryCheckStore();
  uploads = new MemoryUploads();
  didit = new ScriptedDidit();
  events = new RecordingEvents();
  retries = new RecordingRetries();
  clock = new ManualClock();
});

function processor(overrides: Partial<ProcessorPorts> = {}, settings: Partial<ProcessorSettings> = {}): CheckProcessor {
  return new CheckProcessor(
    {
      store,
      uploads,
      prepareImage: fakePrepareImage,
      didit,
      pacer,
      events,
      retries,
      uploadRemover: uploads,
      clock: clock.now,
      newToken: randomUUID,
      random: () => 0,
      sleep: async (ms: number) => clock.advance(ms / 1000),
      ...overrides,
    },
    processorSettings({ leaseSeconds: LEASE, failureHorizonSeconds: HORIZON, ...settings }),
  );
}

async function uploaded(bytes = 'selfie', extra = {}): Promise<string> {
  const id = randomUUID();
  await store.create(awaitingCheck(id, clock.now(), extra));
  uploads.objects.set(`uploads/${id}`, Buffer.from(bytes));
  return id;
}

const unavailable = (retryAfterSeconds?: number) => () => {
  throw new DiditUnavailableError('Didit answered HTTP 503', 503, retryAfterSeconds ? { retryAfterSeconds } : {});
};

describe('an upload', () => {
  it('is claimed, decided by one Didit call, completed and announced: three writes, one event', async () => {
    const id = await uploaded();
    expect(await processor().processUpload(`uploads/${id}`)).toBe('COMPLETED');
    expect(store.writes).toEqual(['create', 'claimUpload', 'complete', 'markEventPublished']);
    expect(await store.get(id)).toMatchObject({ status: 'COMPLETED', result: { decision: 'Approved' } });
    expect(events.types(id)).toEqual(['Liveness Check Completed']);
    expect(didit.calls).toBe(1);
    expect(didit.requests[0]).toMatchObject({ faceLivenessScoreDeclineThreshold: 30, saveApiRequest: true });
  });

  it('delivered twice calls Didit once: the second finds the check claimed or finished', async () => {
    const id = await uploaded();
    await processor().processUpload(`uploads/${id}`);
    expect(await processor().processUpload(`uploads/${id}`)).toBe('DUPLICATE');
    expect(didit.calls).toBe(1);
    expect(events.types(id)).toHaveLength(1);
  });

  it('that cannot be decoded ends FAILED with its code, without a Didit call', async () => {
    const id = await uploaded('corrupt bytes');
    expect(await processor().processUpload(`uploads/${id}`)).toBe('FAILED');
    expect(await store.get(id)).toMatchObject({ status: 'FAILED', error: { code: 'CORRUPT_IMAGE' } });
    expect(events.types(id)).toEqual(['Liveness Check Failed']);
    expect(didit.calls).toBe(0);
  });

  it('that Didit refuses permanently ends FAILED at once, never retried', async () => {
    const id = await uploaded();
    didit.answer(() => {
      throw new DiditAuthError('Didit answered HTTP 401', 401);
    });
    expect(await processor().processUpload(`uploads/${id}`)).toBe('FAILED');
    expect(await store.get(id)).toMatchObject({ error: { code: 'DIDIT_AUTH_FAILED' } });
    expect(retries.started).toEqual([]);
  });

  it('outside the uploads prefix, or for no stored check, is ignored', async () => {
    expect(await processor().processUpload('other/x')).toBe('NOT_A_CHECK');
    expect(await processor().processUpload(`uploads/${randomUUID()}`)).toBe('UNKNOWN_CHECK');
    expect(didit.calls).toBe(0);
  });

  it('with the pre-screen finding no face is declined without a Didit call', async () => {
    const id = await uploaded();
    const faces = new FixedFaces(0);
    expect(await processor({ faces }).processUpload(`uploads/${id}`)).toBe('COMPLETED');
    expect(await store.get(id)).toMatchObject({
      result: { decision: 'Declined', request_id: null, prescreen_face_count: 0 },
    });
    expect(didit.calls).toBe(0);
    expect(faces.calls).toBe(1);
  });
});

describe('retries', () => {
  it('a retryable failure starts round 1 with Didit’s Retry-After; the round’s attempt completes the check', async () => {
    const id = await uploaded();
    didit.answer(unavailable(7));
    expect(await processor().processUpload(`uploads/${id}`)).toBe('RETRYING');
    expect(retries.started).toEqual([{ check_id: id, round: 1, attempt: 1, retry_after_seconds: 7 }]);
    expect(await store.get(id)).toMatchObject({ status: 'RETRYING', last_error: { code: 'DIDIT_UNAVAILABLE' } });

    const result = await processor().attempt({ check_id: id, round: 1, attempt: 1, retry_after_seconds: 7 });
    expect(result.outcome).toBe('COMPLETED');
    expect(didit.calls).toBe(2);
    expect(events.types(id)).toEqual(['Liveness Check Completed']);
  });

  it('a failed attempt within a round asks for another, counting it', async () => {
    const id = await uploaded();
    didit.answer(unavailable(), unavailable(3));
    await processor().processUpload(`uploads/${id}`);
    const result = await processor().attempt({ check_id: id, round: 1, attempt: 1, retry_after_seconds: 0 });
    expect(result).toMatchObject({ outcome: 'RETRY', attempt: 2, retry_after_seconds: 3 });
    expect(await store.get(id)).toMatchObject({ retry_round: 1, retry_attempt: 2 });
  });

  it('giving up fails the check with the last retryable error, once; a late give-up is skipped', async () => {
    const id = await uploaded();
    didit.answer(unavailable());
    await processor().processUpload(`uploads/${id}`);
    expect(await processor().giveUp({ check_id: id, round: 1 })).toEqual({ outcome: 'FAILED' });
    expect(await store.get(id)).toMatchObject({ status: 'FAILED', error: { code: 'DIDIT_UNAVAILABLE' } });
    expect(await processor().giveUp({ check_id: id, round: 1 })).toEqual({ outcome: 'SKIPPED' });
    expect(events.types(id)).toEqual(['Liveness Check Failed']);
  });

  it('an attempt of a round that is over is skipped without calling Didit', async () => {
    const id = await uploaded();
    didit.answer(unavailable());
    await processor().processUpload(`uploads/${id}`);
    const stale = await processor().attempt({ check_id: id, round: 7, attempt: 2, retry_after_seconds: 0 });
    expect(stale.outcome).toBe('SKIPPED');
    expect(didit.calls).toBe(1);
  });

  it('a duplicate upload of a RETRYING check restarts its round (a no-op when it runs)', async () => {
    const id = await uploaded();
    didit.answer(unavailable());
    await processor().processUpload(`uploads/${id}`);
    expect(await processor().processUpload(`uploads/${id}`)).toBe('DUPLICATE');
    expect(retries.started).toHaveLength(2);
    expect(retries.started[1]).toEqual(retries.started[0]);
  });
});

describe("Didit's answer is paid for once", () => {
  it('a completing write that fails keeps the answer; the next attempt finishes with it, no second call', async () => {
    const id = await uploaded();
    store.failNext('complete', new Error('DynamoDB unreachable'));
    await expect(processor().processUpload(`uploads/${id}`)).rejects.toThrow('unreachable');
    const left = await store.get(id);
    expect(left).toMatchObject({ status: 'PROCESSING', pending_result: { request_id: 'session-1' } });

    clock.advance(LEASE + 1);
    expect(await processor().processUpload(`uploads/${id}`)).toBe('COMPLETED');
    expect(await store.get(id)).toMatchObject({ result: { request_id: 'session-1' } });
    expect((await store.get(id))?.pending_result).toBeUndefined();
    expect(didit.calls).toBe(1);
  });

  it('a completing write refused because another attempt took over drops this attempt without saving', async () => {
    const id = await uploaded();
    const takenOver: MemoryCheckStore = Object.assign(Object.create(store), {
      execute: async (checkId: string, s: Parameters<MemoryCheckStore['execute']>[1]) => {
        // Another attempt claimed the check while this one waited for Didit.
        const current = store.items.get(checkId);
        if (s.transition === 'complete' && current) store.items.set(checkId, { ...current, claim_token: 'other' });
        return store.execute(checkId, s);
      },
    });
    await expect(processor({ store: takenOver }).processUpload(`uploads/${id}`)).rejects.toBeInstanceOf(ClaimLostError);
    expect(store.writes).not.toContain('saveDiditAnswer');
    expect(await store.get(id)).toMatchObject({ status: 'PROCESSING', claim_token: 'other' });
  });
});

describe('the outbox', () => {
  it('an event that failed to publish is republished by a later delivery after the writer’s lease, once', async () => {
    const id = await uploaded();
    events.failures = 1;
    await expect(processor().processUpload(`uploads/${id}`)).rejects.toThrow('EventBridge unreachable');
    expect(await store.get(id)).toMatchObject({ status: 'COMPLETED', event_pending: true });

    expect(await processor().processUpload(`uploads/${id}`)).toBe('DUPLICATE');
    clock.advance(LEASE + 1);
    expect(await processor().processUpload(`uploads/${id}`)).toBe('REPUBLISHED');
    expect(await processor().processUpload(`uploads/${id}`)).toBe('DUPLICATE');
    expect(events.types(id)).toEqual(['Liveness Check Completed']);
    expect(didit.calls).toBe(1);
  });
});

describe('metrics', () => {
  it('a completed check: started, image bytes, one 2xx Didit call with its latency, completed, approved', async () => {
    const id = await uploaded();
    const metrics = new RecordingMetrics();
    await processor({ metrics }).processUpload(`uploads/${id}`);
    expect(metrics.names()).toEqual([
      'ChecksStarted',
      'ImageBytesIn',
      'ImageBytesOut',
      'DiditPermits:paced',
      'DiditCalls:2xx',
      'DiditLatency',
      'ChecksCompleted',
      'ChecksApproved',
    ]);
  });

  it('a 429 counts a refused call and a check waiting (not a retry)', async () => {
    const id = await uploaded();
    didit.answer(() => {
      throw new DiditRateLimitedError('Didit answered HTTP 429', { retryAfterSeconds: 3 });
    });
    const metrics = new RecordingMetrics();
    await processor({ metrics }).processUpload(`uploads/${id}`);
    expect(metrics.names()).toEqual(
      expect.arrayContaining(['DiditCalls:429', 'DiditThrottled', 'ChecksWaiting:DIDIT_THROTTLED']),
    );
    expect(metrics.names()).not.toContain('ChecksRetrying');
  });

  // A 403 whose body says the balance is short is an outage (wait for a top-up), not a key to fix: two alarms apart.
  it.each([
    { status: 402, refusal: 'out of credits', counted: 'DiditOutOfCredits', notCounted: 'DiditAuthFailures' },
    { status: 403, refusal: 'out of credits', counted: 'DiditOutOfCredits', notCounted: 'DiditAuthFailures' },
    { status: 401, refusal: 'a bad key', counted: 'DiditAuthFailures', notCounted: 'DiditOutOfCredits' },
    { status: 403, refusal: 'a bad key', counted: 'DiditAuthFailures', notCounted: 'DiditOutOfCredits' },
  ])('HTTP $status for $refusal counts $counted, not $notCounted', async ({ status, refusal, counted, notCounted }) => {
    const id = await uploaded();
    didit.answer(() => {
      throw refusal === 'out of credits'
        ? new DiditOutOfCreditsError(`Didit answered HTTP ${status}: insufficient credits`, status)
        : new DiditAuthError(`Didit answered HTTP ${status}`, status);
    });
    const metrics = new RecordingMetrics();
    await processor({ metrics }).processUpload(`uploads/${id}`);
    expect(metrics.names()).toEqual(expect.arrayContaining([`DiditCalls:${status}`, counted]));
    expect(metrics.names()).not.toContain(notCounted);
  });

  it('a declined decision counts as declined', async () => {
    const id = await uploaded();
    didit.answer(() => diditAnswer('s', 'Declined', 5));
    const metrics = new RecordingMetrics();
    await processor({ metrics }).processUpload(`uploads/${id}`);
    expect(metrics.names()).toContain('ChecksDeclined');
    expect(metrics.names()).not.toContain('ChecksApproved');
  });
});

describe('the shared Didit budget', () => {
  const roundOf = (id: string) => {
    const started = retries.started.find((r) => r.check_id === id);
    if (!started) throw new Error(`no round started for ${id}`);
    return started;
  };

  it("past the budget a check WAITS for its ticket's slot, spending no attempt, and goes at that slot", async () => {
    ({ pacer, state: pacerState } = memoryPacer({ requestsPerMinute: 20 }));
    const first = await uploaded();
    const second = await uploaded();
    expect(await processor().processUpload(`uploads/${first}`)).toBe('COMPLETED');
    expect(await processor().processUpload(`uploads/${second}`)).toBe('WAITING');
    const waiting = await store.get(second);
    expect(waiting).toMatchObject({ status: 'WAITING', wait_reason: 'PACED', wait_ticket: 2 });
    expect(waiting?.retry_attempt).toBeUndefined();
    // It wakes PACE_LEAD_MS before its slot (3 s away) and waits out the rest in-process.
    expect(Date.parse(waiting?.resume_at ?? '')).toBe(clock.now().getTime() + 3000 - PACE_LEAD_MS);
    expect(roundOf(second)).toMatchObject({ attempt: 0, resume_at: waiting?.resume_at });
    expect(didit.calls).toBe(1);

    clock.advance((Date.parse(waiting?.resume_at ?? '') - clock.now().getTime()) / 1000);
    const tickets = pacerState.state.ticket;
    expect((await processor().attempt(roundOf(second))).outcome).toBe('COMPLETED');
    expect(pacerState.state.ticket).toBe(tickets); // it went with the ticket it held
    expect(didit.calls).toBe(2);
    expect(clock.now().getTime() - Date.parse(waiting?.resume_at ?? '')).toBe(PACE_LEAD_MS);
  });

  it('a slot less than PACE_LEAD_MS away is waited for in-process, without a round through the workflow', async () => {
    ({ pacer, state: pacerState } = memoryPacer({ requestsPerMinute: 60 }));
    const first = await uploaded();
    const second = await uploaded();
    expect(await processor().processUpload(`uploads/${first}`)).toBe('COMPLETED');
    const before = clock.now().getTime();
    expect(await processor().processUpload(`uploads/${second}`)).toBe('COMPLETED');
    expect(clock.now().getTime() - before).toBe(1000);
    expect(retries.started).toHaveLength(0);
    expect(didit.calls).toBe(2);
  });

  it('checks that arrive together resume in the order they arrived', async () => {
    ({ pacer, state: pacerState } = memoryPacer({ requestsPerMinute: 20 }));
    const ids = [await uploaded(), await uploaded(), await uploaded(), await uploaded()];
    for (const id of ids) await processor().processUpload(`uploads/${id}`);
    const resumeAt = await Promise.all(ids.slice(1).map(async (id) => (await store.get(id))?.resume_at));
    expect(resumeAt).toEqual([...resumeAt].sort());
    expect(new Set(resumeAt).size).toBe(3);
  });

  it('a Didit 429 backs off every caller until Didit says, and costs the check no attempt', async () => {
    const id = await uploaded();
    const other = await uploaded();
    didit.answer(() => {
      throw new DiditRateLimitedError('Didit answered HTTP 429', { retryAfterSeconds: 20 });
    });
    expect(await processor().processUpload(`uploads/${id}`)).toBe('WAITING');
    expect(await processor().processUpload(`uploads/${other}`)).toBe('WAITING');
    expect(await store.get(other)).toMatchObject({ wait_reason: 'DIDIT_THROTTLED' });
    expect(didit.calls).toBe(1);
    expect(pacerState.state.paused_until_ms).toBe(clock.now().getTime() + 20_000);

    clock.advance(20);
    expect((await processor().attempt(roundOf(id))).outcome).toBe('COMPLETED');
    expect((await processor().attempt(roundOf(other))).outcome).toBe('COMPLETED');
    expect(didit.calls).toBe(3);
  });
});

describe('out of credits', () => {
  const outOfCredits = () => {
    throw new DiditOutOfCreditsError('Didit answered HTTP 402: insufficient credits', 402);
  };

  it('opens the circuit: checks wait, one probe per interval, and all resume after a top-up', async () => {
    const id = await uploaded();
    const other = await uploaded();
    didit.answer(outOfCredits, outOfCredits);
    expect(await processor().processUpload(`uploads/${id}`)).toBe('WAITING');
    expect(await store.get(id)).toMatchObject({
      wait_reason: 'OUT_OF_CREDITS',
      outage_since: clock.now().toISOString(),
    });
    expect(pacerState.state.circuit).toBe('open');
    expect(await processor().processUpload(`uploads/${other}`)).toBe('WAITING');
    expect(didit.calls).toBe(1);

    // The probe interval later one check probes (still empty); the other keeps waiting without a call.
    clock.advance(60);
    const round = (checkId: string) => ({ check_id: checkId, round: 1, attempt: 0, retry_after_seconds: 0 });
    expect((await processor().attempt(round(id))).outcome).toBe('WAIT');
    expect((await processor().attempt(round(other))).outcome).toBe('WAIT');
    expect(didit.calls).toBe(2);

    // Topped up: the next probe is answered, the circuit closes, the other check goes at the paced rate.
    clock.advance(60);
    expect((await processor().attempt(round(other))).outcome).toBe('COMPLETED');
    expect(pacerState.state.circuit).toBe('closed');
    expect((await processor().attempt(round(id))).outcome).toBe('COMPLETED');
    expect(didit.calls).toBe(4);
  });

  it('past the failure horizon the check ends FAILED DIDIT_OUT_OF_CREDITS', async () => {
    const id = await uploaded();
    didit.answer(outOfCredits, outOfCredits);
    await processor().processUpload(`uploads/${id}`);
    clock.advance(HORIZON);
    expect((await processor().attempt({ check_id: id, round: 1, attempt: 0, retry_after_seconds: 0 })).outcome).toBe(
      'FAILED',
    );
    const failed = await store.get(id);
    expect(failed?.error?.code).toBe('DIDIT_OUT_OF_CREDITS');
    expect(failed?.error?.message).toMatch(/out of credits\) for 60 minutes/);
    expect(events.types(id)).toEqual(['Liveness Check Failed']);
  });
});

describe('real failures, the horizon and charged answers', () => {
  const unavailableFor = (n: number) =>
    Array.from({ length: n }, () => () => {
      throw new DiditUnavailableError('Didit answered HTTP 503', 503);
    });

  it('Didit failing for real is retried, however many attempts, until the horizon; then FAILED DIDIT_UNAVAILABLE', async () => {
    const id = await uploaded();
    didit.answer(...unavailableFor(12));
    await processor().processUpload(`uploads/${id}`);
    let input = { check_id: id, round: 1, attempt: 1, retry_after_seconds: 0 };
    for (let i = 0; i < 10; i++) {
      clock.advance(60);
      const next = await processor().attempt(input);
      expect(next.outcome).toBe('RETRY');
      input = { ...input, attempt: next.attempt };
    }
    expect(await store.get(id)).toMatchObject({ status: 'RETRYING', retry_attempt: 11 });
    clock.advance(HORIZON);
    expect((await processor().attempt(input)).outcome).toBe('FAILED');
    expect(await store.get(id)).toMatchObject({
      status: 'FAILED',
      error: { code: 'DIDIT_UNAVAILABLE', message: expect.stringMatching(/past the failure horizon/) },
    });
    expect(didit.calls).toBe(12);
  });

  it('a charged answer that cannot be read fails the check at once, keeps the body and is never retried', async () => {
    const id = await uploaded();
    didit.answer(() => {
      throw new DiditChargedAnswerError('Didit answered HTTP 200 with a body that is not JSON', '<html>', undefined);
    });
    expect(await processor().processUpload(`uploads/${id}`)).toBe('FAILED');
    expect(await store.get(id)).toMatchObject({
      status: 'FAILED',
      error: { code: 'DIDIT_BAD_RESPONSE' },
      didit_raw_answer: '<html>',
    });
    expect(retries.started).toEqual([]);
    expect(didit.calls).toBe(1);
  });

  it('a charged answer with a usable liveness status completes the check with it, noting what was wrong', async () => {
    const id = await uploaded();
    const usable = diditAnswer('session-9', 'Declined', 12);
    didit.answer(() => {
      throw new DiditChargedAnswerError('Didit response field liveness.face_quality is not a number', '{…}', usable);
    });
    expect(await processor().processUpload(`uploads/${id}`)).toBe('COMPLETED');
    expect(await store.get(id)).toMatchObject({
      result: { decision: 'Declined', request_id: 'session-9', parse_issue: expect.stringContaining('face_quality') },
      didit_raw_answer: '{…}',
    });
  });

  it('a throttled AWS dependency (the Rekognition pre-screen) makes the check wait, not fail', async () => {
    const id = await uploaded();
    let throttle = true;
    const faces = {
      countFaces: async () => {
        if (throttle)
          throw new DependencyThrottledError('Rekognition DetectFaces is unavailable (ThrottlingException)');
        return 1;
      },
    };
    expect(await processor({ faces }).processUpload(`uploads/${id}`)).toBe('WAITING');
    const waiting = await store.get(id);
    expect(waiting).toMatchObject({ wait_reason: 'DEPENDENCY_THROTTLED', outage_since: expect.any(String) });
    expect(waiting?.retry_attempt).toBeUndefined();
    expect(didit.calls).toBe(0);
    throttle = false;
    clock.advance(60);
    const round = { check_id: id, round: 1, attempt: 0, retry_after_seconds: 0 };
    expect((await processor({ faces }).attempt(round)).outcome).toBe('COMPLETED');
  });
});
