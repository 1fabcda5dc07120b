import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { UploadPresigner } from '../../lambdas/adapters/upload-presigner';
import { MAX_UPLOAD_BYTES } from '../../lambdas/core/upload-rules';

// Signing is local: no request leaves the process, so no emulator is involved. No emulator enforces the policy
// either, which is why its conditions are asserted here one by one.
const s3 = new S3Client({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
});

async function presigned(ttl = 300) {
  const now = new Date();
  const upload = await new UploadPresigner(s3, 'uploads-bucket').presign(
    'uploads/4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21',
    'image/png',
    ttl,
    now,
  );
  const policy = JSON.parse(Buffer.from(upload.fields.Policy ?? '', 'base64').toString('utf8')) as {
    expiration: string;
    conditions: unknown[];
  };
  return { now, upload, policy };
}

describe('presigned upload POST', () => {
  it('pins the exact key', async () => {
    const { upload, policy } = await presigned();
    expect(upload.fields.key).toBe('uploads/4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21');
    expect(policy.conditions).toContainEqual({ key: 'uploads/4f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21' });
    expect(JSON.stringify(policy.conditions)).not.toContain('starts-with');
  });

  it('limits the size to 1 byte … 5 MiB', async () => {
    const { upload, policy } = await presigned();
    expect(policy.conditions).toContainEqual(['content-length-range', 1, MAX_UPLOAD_BYTES]);
    expect(MAX_UPLOAD_BYTES).toBe(5 * 1024 * 1024);
    expect(upload.max_bytes).toBe(MAX_UPLOAD_BYTES);
  });

  it('pins the exact content type', async () => {
    const { upload, policy } = await presigned();
    expect(upload.fields['Content-Type']).toBe('image/png');
    expect(policy.conditions).toContainEqual({ 'Content-Type': 'image/png' });
  });

  it('pins the bucket and signs with SigV4', async () => {
    const { upload, policy } = await presigned();
    expect(policy.conditions).toContainEqual({ bucket: 'uploads-bucket' });
    expect(upload.fields['X-Amz-Algorithm']).toBe('AWS4-HMAC-SHA256');
    expect(upload.fields['X-Amz-Signature']).toMatch(/^[0-9a-f]{64}$/);
    expect(upload.url).toContain('uploads-bucket');
  });

  it('expires within the configured number of seconds (≤ 5 minutes)', async () => {
    const { now, upload, policy } = await presigned(120);
    const expiresMs = Date.parse(policy.expiration) - now.getTime();
    expect(expiresMs).toBeGreaterThan(110_000);
    expect(expiresMs).toBeLessThanOrEqual(121_000);
    expect(Date.parse(upload.expires_at) - now.getTime()).toBe(120_000);
  });
});
