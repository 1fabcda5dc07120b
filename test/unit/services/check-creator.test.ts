import { describe, expect, it } from 'vitest';
import type { UploadPresignerPort } from '../../../lambdas/core/ports';
import { RequestValidationError } from '../../../lambdas/errors';
import { CheckCreator, UPLOAD_GRACE_SECONDS } from '../../../lambdas/services/check-creator';
import { MemoryCheckStore } from '../../fakes/memory-check-store';

// Creating a check over in-memory fakes; the real presigned POST is decoded in upload-presigner.test.ts.
const NOW = new Date('2026-11-26T12:00:00.000Z');
const presigner: UploadPresignerPort = {
  async presign(key, contentType, ttlSeconds, now) {
    return {
      url: 'https://bucket.s3.amazonaws.com/',
      fields: { key, 'Content-Type': contentType },
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

describe('creating a check', () => {
  it('stores it AWAITING_UPLOAD, due for expiry shortly after its upload URL, and hands out the upload', async () => {
    const store = new MemoryCheckStore();
    const creator = new CheckCreator(
      store,
      presigner,
      settings,
      () => NOW,
      () => 'a-new-id',
    );
    const created = await creator.create(JSON.stringify({ vendor_data: 'user-1', content_type: 'image/png' }));
    expect(created).toMatchObject({
      id: 'a-new-id',
      status: 'AWAITING_UPLOAD',
      upload: { fields: { key: 'uploads/a-new-id' } },
    });
    const expiresAt = Math.floor(NOW.getTime() / 1000) + 300;
    expect(await store.get('a-new-id')).toMatchObject({
      status: 'AWAITING_UPLOAD',
      upload_key: 'uploads/a-new-id',
      content_type: 'image/png',
      face_liveness_score_decline_threshold: 30,
      due_at: expiresAt + UPLOAD_GRACE_SECONDS,
      expires_at: Math.floor(NOW.getTime() / 1000) + 30 * 86_400,
    });
  });

  it('refuses a bad request naming the field, and stores nothing', async () => {
    const store = new MemoryCheckStore();
    const creator = new CheckCreator(
      store,
      presigner,
      settings,
      () => NOW,
      () => 'x',
    );
    await expect(creator.create('{"face_liveness_score_decline_threshold":101}')).rejects.toBeInstanceOf(
      RequestValidationError,
    );
    expect(store.items.size).toBe(0);
  });
});
