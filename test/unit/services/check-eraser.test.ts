import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CheckRecord } from '../../../lambdas/core/check';
import { ERASED_FINGERPRINT } from '../../../lambdas/core/idempotency';
import type { Step } from '../../../lambdas/core/lifecycle/transitions';
import { epochSeconds } from '../../../lambdas/core/lifecycle/transitions';
import type { DiditPort } from '../../../lambdas/core/ports';
import { DiditAuthError, DiditRateLimitedError, DiditUnavailableError } from '../../../lambdas/errors';
import { CheckEraser } from '../../../lambdas/services/check-eraser';
import { CheckFinder } from '../../../lambdas/services/check-finder';
import { CheckProcessor } from '../../../lambdas/services/check-processor';
import { CheckSweeper } from '../../../lambdas/services/check-sweeper';
import { erasureRetryDelaySeconds, MAX_PACED_WAIT_MS } from '../../../lambdas/services/didit-erasure';
import type { DiditPacer } from '../../../lambdas/services/didit-pacer';
import { MemoryCheckStore } from '../../fakes/memory-check-store';
import { memoryPacer } from '../../fakes/memory-pacer';
import {
  awaitingCheck,
  diditAnswer,
  fakePrepareImage,
  MemoryUploads,
  processorSettings,
  ScriptedDidit,
  ScriptedSessionEraser,
} from '../../fakes/processor-fakes';
import { ManualClock, RecordingEvents, RecordingRetries } from '../../fakes/recorders';

// The eraser, the sweeper's part of an erasure and the processor's respect for a tombstone, over in-memory fakes.
// test/integration/erasure.test.ts runs the same flows against moto and the Didit simulator.
let store: MemoryCheckStore;
let uploads: MemoryUploads;
let events: RecordingEvents;
let retries: RecordingRetries;
let sessions: ScriptedSessionEraser;
let clock: ManualClock;

beforeEach(() => {
  store = new MemoryCheckStore();
  uploads = new MemoryUploads();
  events = new RecordingEvents();
  retries = new RecordingRetries();
  sessions = new ScriptedSessionEraser();
  clock = new ManualClock();
});

const eraser = (over: MemoryCheckStore = store) =>
  new CheckEraser({ store: over, uploads, events, clock: clock.now }, { uploadPrefix: 'uploads/', leaseSeconds: 60 });

const sweeper = (diditPacer?: DiditPacer) =>
  new CheckSweeper(
    {
      store,
      events,
      retries,
      uploads,
      diditSessions: sessions,
      clock: clock.now,
      diditPacer,
      // A wait for a pacing slot moves the clock, as time would.
      sleep: async (ms) => clock.advance(ms / 1000),
    },
    {
      batchSize: 10,
      leaseSeconds: 60,
      retryDueSeconds: 900,
      uploadPrefix: 'uploads/',
      keepUploadsUntilLifecycle: false,
    },
  );

function processor(didit: DiditPort = new ScriptedDidit(), pacer = memoryPacer().pacer) {
  return new CheckProcessor(
    {
      store,
      uploads,
      uploadRemover: uploads,
      prepareImage: fakePrepareImage,
      didit,
      pacer,
      events,
      retries,
      clock: clock.now,
      newToken: randomUUID,
      random: () => 0,
    },
    processorSettings(),
  );
}

async function uploaded(extra: Partial<CheckRecord> = {}): Promise<{ id: string; etag: string }> {
  const id = randomUUID();
  await store.create(
    awaitingCheck(id, clock.now(), {
      owner: 'apikey:a',
      vendor_data: 'user-9',
      metadata: { email: 'x@y.z' },
      ...extra,
    }),
  );
  return { id, etag: uploads.put(`uploads/${id}`, Buffer.from('selfie')) };
}

describe('finding a check for a caller', () => {
  it('GET finds a check, never a tombstone; DELETE finds both; another owner finds neither and cannot erase', async () => {
    const { id } = await uploaded({ owner: 'apikey:a' });
    const finder = new CheckFinder({ store });
    expect(await finder.find(id, 'apikey:a')).toMatchObject({ id, status: 'AWAITING_UPLOAD' });
    expect(await eraser().erase(id, 'apikey:b')).toBe('NOT_FOUND');
    expect(store.items.get(id)?.status).toBe('AWAITING_UPLOAD');
    expect(await eraser().erase(id, 'apikey:a')).toBe('DELETED');
    expect(await finder.find(id, 'apikey:a')).toBeUndefined();
    expect(await finder.findStored(id, 'apikey:a')).toMatchObject({ id, status: 'DELETED', owner: 'apikey:a' });
    expect(await finder.findStored(id, 'apikey:b')).toBeUndefined();
    expect(await eraser().erase(id, 'apikey:b')).toBe('NOT_FOUND');
    expect(await eraser().erase(id, 'apikey:a')).toBe('ALREADY_DELETED');
  });
});

describe('the eraser', () => {
  it('erases the check it read again when the processor moved it between the read and the write', async () => {
    const { id } = await uploaded({ save_api_request: true });
    let moved = false;
    // The first erase write finds the check changed (the processor completed it meanwhile).
    const racing: MemoryCheckStore = Object.assign(Object.create(store), {
      execute: async (checkId: string, s: Step) => {
        if (s.transition === 'erase' && !moved) {
          moved = true;
          const current = store.items.get(checkId) as CheckRecord;
          store.items.set(checkId, {
            ...current,
            status: 'COMPLETED',
            updated_at: new Date(clock.now().getTime() + 1).toISOString(),
            didit_session_id: 'session-late',
          });
        }
        return store.execute(checkId, s);
      },
    });
    expect(await eraser(racing).erase(id, 'apikey:a')).toBe('DELETED');
    expect(moved).toBe(true);
    // The erasure owed at Didit is the session of the check as it was when erased.
    expect(store.items.get(id)).toMatchObject({ status: 'DELETED', didit_erasure_session: 'session-late' });
  });

  it('that dies after the tombstone leaves the upload and the event to the sweeper, which finishes them', async () => {
    const { id } = await uploaded({ save_api_request: false });
    events.failures = 1;
    await expect(eraser().erase(id, 'apikey:a')).rejects.toThrow('EventBridge unreachable');
    expect(store.items.get(id)).toMatchObject({ status: 'DELETED', event_pending: true });
    // Not before its lease is over: the eraser may still be finishing.
    expect(await sweeper().sweep()).toMatchObject({ REPUBLISHED: 0 });
    clock.advance(61);
    expect(await sweeper().sweep()).toMatchObject({ REPUBLISHED: 1 });
    expect(uploads.objects.has(`uploads/${id}`)).toBe(false);
    expect(events.types(id)).toEqual(['Liveness Check Deleted']);
    expect(store.items.get(id)?.event_pending).toBeUndefined();
    expect(store.items.get(id)?.due_at).toBeUndefined();
  });

  it("erases the request fingerprint of the Idempotency-Key that created the check, the sweeper's if the eraser died", async () => {
    const fingerprints = new Map<string, { check_id: string; fingerprint: string }>([
      ['idem#k1', { check_id: 'unknown-yet', fingerprint: 'f'.repeat(64) }],
    ]);
    const idempotency = {
      claim: async () => ({ claimed: true as const }),
      forgetRequest: async (recordId: string, checkId: string) => {
        const record = fingerprints.get(recordId);
        if (record?.check_id === checkId) fingerprints.set(recordId, { ...record, fingerprint: ERASED_FINGERPRINT });
      },
    };
    const { id } = await uploaded({ save_api_request: false, idempotency_id: 'idem#k1' });
    fingerprints.set('idem#k1', { check_id: id, fingerprint: 'f'.repeat(64) });
    events.failures = 1;
    const dying = new CheckEraser(
      { store, uploads, events, clock: clock.now, idempotency: { ...idempotency, forgetRequest: async () => {} } },
      { uploadPrefix: 'uploads/', leaseSeconds: 60 },
    );
    await expect(dying.erase(id, 'apikey:a')).rejects.toThrow();
    expect(store.items.get(id)).toMatchObject({ status: 'DELETED', idempotency_id: 'idem#k1' });

    clock.advance(61);
    const finishing = new CheckSweeper(
      { store, events, retries, uploads, diditSessions: sessions, clock: clock.now, idempotency },
      {
        batchSize: 10,
        leaseSeconds: 60,
        retryDueSeconds: 900,
        uploadPrefix: 'uploads/',
        keepUploadsUntilLifecycle: false,
      },
    );
    expect(await finishing.sweep()).toMatchObject({ REPUBLISHED: 1 });
    expect(fingerprints.get('idem#k1')).toEqual({ check_id: id, fingerprint: ERASED_FINGERPRINT });
    expect(store.items.get(id)?.idempotency_id).toBeUndefined();
  });

  it('a retried DELETE of a tombstone whose event is still pending publishes it (once)', async () => {
    const { id } = await uploaded({ save_api_request: false });
    events.failures = 1;
    await expect(eraser().erase(id, 'apikey:a')).rejects.toThrow();
    expect(await eraser().erase(id, 'apikey:a')).toBe('ALREADY_DELETED');
    expect(await eraser().erase(id, 'apikey:a')).toBe('ALREADY_DELETED');
    expect(events.types(id)).toEqual(['Liveness Check Deleted']);
  });
});

describe('Didit erasure by the sweeper', () => {
  it('backs off a minute, doubling, at most an hour apart, and never gives up', async () => {
    expect([0, 1, 2, 5, 6, 40].map(erasureRetryDelaySeconds)).toEqual([60, 120, 240, 1920, 3600, 3600]);
  });

  it('records each failure (a wrong key too) and finishes on 204', async () => {
    const { id } = await uploaded({ save_api_request: true });
    await processor().processUpload(`uploads/${id}`);
    const session = store.items.get(id)?.didit_session_id as string;
    await eraser().erase(id, 'apikey:a');
    sessions.answer(
      () => {
        throw new DiditAuthError('Didit answered HTTP 403', 403);
      },
      () => {
        throw new DiditUnavailableError('Didit answered HTTP 503', 503);
      },
    );
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASURE_RETRY: 1 });
    expect(store.items.get(id)).toMatchObject({
      didit_erasure_attempts: 1,
      didit_erasure_error: 'DIDIT_AUTH_FAILED (HTTP 403)',
      due_at: epochSeconds(clock.now()) + 60,
    });
    clock.advance(60);
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASURE_RETRY: 1 });
    expect(store.items.get(id)).toMatchObject({ didit_erasure_attempts: 2, due_at: epochSeconds(clock.now()) + 120 });
    clock.advance(119);
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASURE_RETRY: 0, DIDIT_ERASED: 0 });
    clock.advance(1);
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASED: 1 });
    expect(sessions.sessions).toEqual([session, session, session]);
    expect(store.items.get(id)).toMatchObject({ didit_erasure: 'DONE', didit_erasure_attempts: 3 });
  });

  /** A deleted check whose Didit session is owed an erasure, due now (its eraser's lease over). */
  async function owedErasure(): Promise<string> {
    const { id } = await uploaded({ save_api_request: true });
    await processor().processUpload(`uploads/${id}`);
    await eraser().erase(id, 'apikey:a');
    clock.advance(60);
    expect(store.items.get(id)).toMatchObject({ didit_erasure: 'PENDING' });
    return id;
  }

  /** Takes every slot the budget has now, as a burst of checks would. */
  async function exhaust(pacer: DiditPacer): Promise<void> {
    for (let i = 0; i < 10_000; i++) if ((await pacer.acquire(clock.now())).kind === 'wait') return;
    throw new Error('the budget never ran out');
  }

  it('takes a permit from the shared Didit budget: with no slot soon it calls nothing, spends nothing, and goes later', async () => {
    const id = await owedErasure();
    const { pacer } = memoryPacer({ requestsPerMinute: 6 }); // a slot every 10 s: more than the erasure waits
    await exhaust(pacer);

    expect(await sweeper(pacer).sweep()).toMatchObject({ DIDIT_ERASED: 0, DIDIT_ERASURE_RETRY: 0 });
    expect(sessions.sessions).toEqual([]);
    expect(store.items.get(id)).toMatchObject({ didit_erasure: 'PENDING' });
    expect(store.items.get(id)?.didit_erasure_attempts ?? 0).toBe(0);

    clock.advance(60);
    expect(await sweeper(pacer).sweep()).toMatchObject({ DIDIT_ERASED: 1 });
    expect(store.items.get(id)).toMatchObject({ didit_erasure: 'DONE' });
  });

  it(`waits in-process for a slot at most ${MAX_PACED_WAIT_MS / 1000} s away, then calls once`, async () => {
    const id = await owedErasure();
    const { pacer } = memoryPacer({ requestsPerMinute: 60 }); // a slot every second
    await exhaust(pacer);
    const before = clock.now().getTime();

    expect(await sweeper(pacer).sweep()).toMatchObject({ DIDIT_ERASED: 1 });
    expect(sessions.sessions).toHaveLength(1);
    expect(clock.now().getTime() - before).toBeGreaterThan(0);
    expect(clock.now().getTime() - before).toBeLessThanOrEqual(MAX_PACED_WAIT_MS);
    expect(store.items.get(id)).toMatchObject({ didit_erasure: 'DONE' });
  });

  it('a 429 on an erasure backs every Didit caller off for its Retry-After', async () => {
    await owedErasure();
    const { pacer, state } = memoryPacer();
    sessions.answer(() => {
      throw new DiditRateLimitedError('Didit answered HTTP 429', { retryAfterSeconds: 20 });
    });
    expect(await sweeper(pacer).sweep()).toMatchObject({ DIDIT_ERASURE_RETRY: 1 });
    expect(state.state.paused_until_ms).toBe(clock.now().getTime() + 20_000);
    expect((await pacer.acquire(clock.now())).kind).toBe('wait');
  });

  it('while the out-of-credits circuit is open an erasure still goes, and never takes the probe meant for checks', async () => {
    const id = await owedErasure();
    const { pacer, state } = memoryPacer();
    const probeAt = clock.now().getTime() - 1; // the probe is due: a check should get it
    state.state = { ...state.state, circuit: 'open', probe_at_ms: probeAt };
    expect(await sweeper(pacer).sweep()).toMatchObject({ DIDIT_ERASED: 1 });
    expect(store.items.get(id)).toMatchObject({ didit_erasure: 'DONE' });
    expect(state.state).toMatchObject({ circuit: 'open', probe_at_ms: probeAt });
  });
});

describe('a deleted check is never resurrected', () => {
  it('WAITING: its round wakes up, finds the tombstone and skips', async () => {
    const { id } = await uploaded();
    // Didit's 429 makes the check wait (no attempt spent) for a round of the workflow.
    const waiting = processor(
      new ScriptedDidit().answer(() => {
        throw new DiditRateLimitedError('Didit answered HTTP 429', { retryAfterSeconds: 20 });
      }),
    );
    expect(await waiting.processUpload(`uploads/${id}`)).toBe('WAITING');
    const round = retries.started[0];
    expect(round).toBeDefined();
    await eraser().erase(id, 'apikey:a');
    clock.advance(120);
    expect(await waiting.attempt(round as NonNullable<typeof round>)).toMatchObject({ outcome: 'SKIPPED' });
    expect(store.items.get(id)?.status).toBe('DELETED');
  });

  it('PROCESSING: the answer Didit gave meanwhile is not stored, and its session is owed an erasure', async () => {
    const { id } = await uploaded({ save_api_request: true });
    const didit = new ScriptedDidit();
    let erased = false;
    const deletingDidit: DiditPort = {
      checkLiveness: async (request) => {
        erased = (await eraser().erase(id, 'apikey:a')) === 'DELETED';
        return didit.answer(() => diditAnswer('session-saved')).checkLiveness(request);
      },
    };
    expect(await processor(deletingDidit).processUpload(`uploads/${id}`)).toBe('DELETED');
    expect(erased).toBe(true);
    const item = store.items.get(id) as unknown as Record<string, unknown>;
    expect(item).toMatchObject({ status: 'DELETED', didit_erasure: 'PENDING', didit_erasure_session: 'session-saved' });
    expect(item.result).toBeUndefined();
    expect(events.types(id)).toEqual(['Liveness Check Deleted']);
  });
});

describe('Step Functions executions carry ids only', () => {
  it('a retry round starts with the check id and counters, never vendor_data, metadata or the callback URL', async () => {
    const { id } = await uploaded({ callback_url: 'https://receiver.example/hook' });
    const didit = new ScriptedDidit().answer(() => {
      throw new DiditUnavailableError('Didit answered HTTP 503', 503);
    });
    expect(await processor(didit).processUpload(`uploads/${id}`)).toBe('RETRYING');
    expect(retries.started).toHaveLength(1);
    for (const input of retries.started) {
      expect(
        Object.keys(input).every((key) =>
          ['check_id', 'round', 'attempt', 'retry_after_seconds', 'resume_at'].includes(key),
        ),
      ).toBe(true);
      expect(JSON.stringify(input)).not.toMatch(/user-9|x@y\.z|receiver\.example/);
    }
  });
});
