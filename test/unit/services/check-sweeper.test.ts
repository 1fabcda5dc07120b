import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { type CheckRecord, DUE_SHARD } from '../../../lambdas/core/check';
import { epochSeconds } from '../../../lambdas/core/lifecycle/transitions';
import { DiditUnavailableError } from '../../../lambdas/errors';
import { CheckSweeper } from '../../../lambdas/services/check-sweeper';
import { MemoryCheckStore } from '../../fakes/memory-check-store';
import { MemoryUploads, ScriptedSessionEraser } from '../../fakes/processor-fakes';
import { ManualClock, RecordingEvents, RecordingMetrics, RecordingRetries } from '../../fakes/recorders';
import { storedCheck } from '../../helpers/transition-cases';

// The sweeper over in-memory fakes: what it does to each kind of due check (moto runs it in the integration tests).
let store: MemoryCheckStore;
let events: RecordingEvents;
let retries: RecordingRetries;
let metrics: RecordingMetrics;
let clock: ManualClock;
let uploads: MemoryUploads;
let diditSessions: ScriptedSessionEraser;

beforeEach(() => {
  store = new MemoryCheckStore();
  events = new RecordingEvents();
  retries = new RecordingRetries();
  metrics = new RecordingMetrics();
  clock = new ManualClock(new Date('2026-11-26T12:00:00.000Z'));
  uploads = new MemoryUploads();
  diditSessions = new ScriptedSessionEraser();
});

const sweeper = (over: MemoryCheckStore = store) =>
  new CheckSweeper(
    { store: over, events, retries, uploads, diditSessions, clock: clock.now, metrics },
    {
      batchSize: 10,
      leaseSeconds: 60,
      retryDueSeconds: 900,
      uploadPrefix: 'uploads/',
      keepUploadsUntilLifecycle: false,
    },
  );

async function stored(status: CheckRecord['status'], extra: Partial<CheckRecord> = {}): Promise<string> {
  const id = randomUUID();
  await store.create(storedCheck(id, status, extra));
  return id;
}

describe('a sweep', () => {
  it('expires an upload that never came and announces it', async () => {
    const id = await stored('AWAITING_UPLOAD');
    expect(await sweeper().sweep()).toMatchObject({ EXPIRED: 1 });
    expect(await store.get(id)).toMatchObject({ status: 'EXPIRED', error: { code: 'UPLOAD_EXPIRED' } });
    expect(events.types(id)).toEqual(['Liveness Check Expired']);
    expect((await store.get(id))?.due_at).toBeUndefined();
  });

  it('hands a check whose processor died to a new retry round', async () => {
    const nowEpoch = epochSeconds(clock.now());
    const id = await stored('PROCESSING', { claim_expires_at: nowEpoch - 5, due_at: nowEpoch - 1 });
    expect(await sweeper().sweep()).toMatchObject({ HANDED_OFF: 1 });
    expect(await store.get(id)).toMatchObject({ status: 'RETRYING', retry_round: 1, retry_attempt: 1 });
    expect(retries.started).toEqual([{ check_id: id, round: 1, attempt: 1, retry_after_seconds: 0 }]);
  });

  it('leaves a PROCESSING check whose lease still runs', async () => {
    const nowEpoch = epochSeconds(clock.now());
    const id = await stored('PROCESSING', { claim_expires_at: nowEpoch + 30, due_at: nowEpoch - 1 });
    expect(await sweeper().sweep()).toMatchObject({ SKIPPED: 1, HANDED_OFF: 0 });
    expect((await store.get(id))?.status).toBe('PROCESSING');
  });

  it('restarts a retry round that went quiet as the next round', async () => {
    const id = await stored('RETRYING', { retry_round: 2 });
    await sweeper().sweep();
    expect(retries.started).toEqual([{ check_id: id, round: 3, attempt: 1, retry_after_seconds: 0 }]);
  });

  it('republishes a terminal event whose writer died, once', async () => {
    const id = await stored('COMPLETED', { event_pending: true });
    expect(await sweeper().sweep()).toMatchObject({ REPUBLISHED: 1 });
    expect(await sweeper().sweep()).toMatchObject({ REPUBLISHED: 0 });
    expect(events.types(id)).toEqual(['Liveness Check Completed']);
  });

  it('skips a check another writer moved between the query and the write', async () => {
    const id = await stored('AWAITING_UPLOAD');
    const racing: MemoryCheckStore = Object.assign(Object.create(store), {
      findDue: async (now: Date, limit: number) => {
        const due = await store.findDue(now, limit);
        const current = store.items.get(id);
        if (current) store.items.set(id, { ...current, status: 'PROCESSING' });
        return due;
      },
    });
    const counts = await sweeper(racing).sweep();
    expect(counts).toMatchObject({ SKIPPED: 1, EXPIRED: 0 });
    expect(events.published).toEqual([]);
  });

  it('reports how overdue the oldest due check is on every run, 0 when none is', async () => {
    await sweeper().sweep();
    expect(metrics.points.find((p) => p.name === 'OldestDueCheckAge')?.value).toBe(0);
    await stored('AWAITING_UPLOAD', { due_at: epochSeconds(clock.now()) - 120 });
    await sweeper().sweep();
    expect(metrics.points.filter((p) => p.name === 'OldestDueCheckAge').map((p) => p.value)).toEqual([0, 120]);
  });

  it('counts the Didit erasures refused in each run (the DiditErasuresFailing alarm reads it), 0 included', async () => {
    await store.create({
      id: randomUUID(),
      status: 'DELETED',
      deleted_at: clock.now().toISOString(),
      due_shard: DUE_SHARD,
      due_at: epochSeconds(clock.now()) - 1,
      didit_erasure: 'PENDING',
      didit_erasure_session: 'session-1',
      didit_erasure_attempts: 0,
    } as unknown as CheckRecord);
    diditSessions.answer(() => {
      throw new DiditUnavailableError('Didit answered HTTP 503', 503);
    });
    await sweeper().sweep();
    clock.advance(3600);
    await sweeper().sweep();
    expect(metrics.points.filter((p) => p.name === 'DiditErasureFailures').map((p) => p.value)).toEqual([1, 0]);
  });
});
