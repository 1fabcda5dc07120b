import { describe, expect, it } from 'vitest';
import { ERASED_FINGERPRINT, type IdempotencyRecord } from '../../../lambdas/core/idempotency';
import { step } from '../../../lambdas/core/lifecycle/transitions';
import type { IdempotencyStorePort, UploadPresignerPort } from '../../../lambdas/core/ports';
import { IdempotencyConflictError, RequestValidationError } from '../../../lambdas/errors';
import { CheckCreator, type CreateOutcome, UPLOAD_GRACE_SECONDS } from '../../../lambdas/services/check-creator';
import { MemoryCheckStore } from '../../fakes/memory-check-store';
import { ManualClock } from '../../fakes/recorders';

// Creating a check over in-memory fakes; the real presigned POST is decoded in upload-presigner.test.ts, and the
// idempotency record's conditional write runs on moto in the local-stack tests.
const presigner: UploadPresignerPort = {
  async presign(key, contentType, ttlSeconds, now) {
    return {
      url: 'https://bucket.s3.amazonaws.com/',
      fields: { key, 'Content-Type': contentType, Policy: `signed-at-${now.toISOString()}` },
      expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      max_bytes: 5 * 1024 * 1024,
    };
  },
};
const settings = {
  uploadPrefix: 'uploads/',
  uploadUrlTtlSeconds: 300,
  defaultDeclineThreshold: 30,
  checkRetentionDays: 30,
  allowInsecureCallbacks: false,
};

class MemoryIdempotency implements IdempotencyStorePort {
  readonly records = new Map<string, IdempotencyRecord>();
  async claim(record: IdempotencyRecord, now: Date) {
    const current = this.records.get(record.id);
    if (current && current.expires_at >= Math.floor(now.getTime() / 1000)) return { claimed: false as const, current };
    this.records.set(record.id, record);
    return { claimed: true as const };
  }
  async forgetRequest(recordId: string, checkId: string) {
    const current = this.records.get(recordId);
    if (current?.check_id === checkId) this.records.set(recordId, { ...current, fingerprint: ERASED_FINGERPRINT });
  }
}

function setUp() {
  const store = new MemoryCheckStore();
  const clock = new ManualClock(new Date('2026-11-26T12:00:00.000Z'));
  let ids = 0;
  const creator = new CheckCreator(
    { store, presigner, idempotency: new MemoryIdempotency(), clock: clock.now, newId: () => `check-${++ids}` },
    settings,
  );
  return { store, clock, creator };
}

const createdOf = (outcome: CreateOutcome) => {
  if (outcome.kind === 'replayed-check') throw new Error('expected an upload');
  return outcome.created;
};

describe('creating a check', () => {
  it('stores it AWAITING_UPLOAD, due for expiry shortly after its upload URL, and hands out the upload', async () => {
    const { store, clock, creator } = setUp();
    const outcome = await creator.create(JSON.stringify({ vendor_data: 'user-1', content_type: 'image/png' }));
    expect(outcome).toMatchObject({
      kind: 'created',
      created: { id: 'check-1', status: 'AWAITING_UPLOAD', upload: { fields: { key: 'uploads/check-1' } } },
    });
    const now = Math.floor(clock.now().getTime() / 1000);
    expect(await store.get('check-1')).toMatchObject({
      status: 'AWAITING_UPLOAD',
      upload_key: 'uploads/check-1',
      content_type: 'image/png',
      face_liveness_score_decline_threshold: 30,
      due_at: now + 300 + UPLOAD_GRACE_SECONDS,
      expires_at: now + 30 * 86_400,
    });
  });

  it('refuses a bad request naming the field, and stores nothing', async () => {
    const { store, creator } = setUp();
    await expect(creator.create('{"face_liveness_score_decline_threshold":101}')).rejects.toBeInstanceOf(
      RequestValidationError,
    );
    expect(store.items.size).toBe(0);
  });
});

describe('Idempotency-Key', () => {
  const body = JSON.stringify({ vendor_data: 'user-1', metadata: { a: 1, b: [2] } });
  const caller = 'apikey:app-a';

  it('the same key and body return the same check, with a fresh upload URL while it awaits its upload', async () => {
    const { store, clock, creator } = setUp();
    const first = createdOf(await creator.create(body, { caller, idempotencyKey: 'k-1' }));
    clock.advance(240);
    const again = await creator.create(body, { caller, idempotencyKey: 'k-1' });
    expect(again.kind).toBe('replayed');
    const second = createdOf(again);
    expect(second.id).toBe(first.id);
    expect(second.created_at).toBe(first.created_at);
    expect(second.upload.fields.Policy).not.toBe(first.upload.fields.Policy);
    expect(Date.parse(second.upload.expires_at)).toBe(clock.now().getTime() + 300_000);
    // The check stays due until shortly after the new URL expires.
    expect((await store.get(first.id))?.upload_expires_at).toBe(second.upload.expires_at);
    expect([...store.items.keys()]).toEqual([first.id]);
  });

  it('a body with the same meaning (keys in another order, defaults spelt out) is the same request', async () => {
    const { creator } = setUp();
    const first = createdOf(await creator.create(body, { caller, idempotencyKey: 'k-1' }));
    const same = JSON.stringify({ metadata: { b: [2], a: 1 }, vendor_data: 'user-1', content_type: 'image/jpeg' });
    expect(createdOf(await creator.create(same, { caller, idempotencyKey: 'k-1' })).id).toBe(first.id);
  });

  it('the same key with another body is refused (409), and creates nothing', async () => {
    const { store, creator } = setUp();
    await creator.create(body, { caller, idempotencyKey: 'k-1' });
    await expect(
      creator.create(JSON.stringify({ vendor_data: 'user-2' }), { caller, idempotencyKey: 'k-1' }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(store.items.size).toBe(1);
  });

  it('two callers with the same key get their own checks', async () => {
    const { creator } = setUp();
    const a = createdOf(await creator.create(body, { caller, idempotencyKey: 'k-1' }));
    const b = createdOf(await creator.create(body, { caller: 'apikey:app-b', idempotencyKey: 'k-1' }));
    expect(b.id).not.toBe(a.id);
  });

  it('after the upload, a replay answers with the check as it stands (no new upload URL)', async () => {
    const { store, clock, creator } = setUp();
    const first = createdOf(await creator.create(body, { caller, idempotencyKey: 'k-1' }));
    await store.execute(first.id, step('claimUpload', { token: 't', now: clock.now(), leaseSeconds: 60 }));
    const again = await creator.create(body, { caller, idempotencyKey: 'k-1' });
    expect(again).toMatchObject({ kind: 'replayed-check', check: { id: first.id, status: 'PROCESSING' } });
  });

  it('a key past its 24-hour window starts a new check', async () => {
    const { clock, creator } = setUp();
    const first = createdOf(await creator.create(body, { caller, idempotencyKey: 'k-1' }));
    clock.advance(24 * 3600 + 1);
    const later = await creator.create(body, { caller, idempotencyKey: 'k-1' });
    expect(later.kind).toBe('created');
    expect(createdOf(later).id).not.toBe(first.id);
  });

  it('a request that died after claiming the key but before storing the check is finished by its retry', async () => {
    const { store, creator } = setUp();
    store.failNext('create', new Error('DynamoDB unreachable'));
    await expect(creator.create(body, { caller, idempotencyKey: 'k-1' })).rejects.toThrow('unreachable');
    expect(store.items.size).toBe(0);
    const retried = await creator.create(body, { caller, idempotencyKey: 'k-1' });
    expect(retried).toMatchObject({ kind: 'replayed', created: { id: 'check-1' } });
    expect(store.items.has('check-1')).toBe(true);
  });
});
