import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually, waitForStackIdle } from '../helpers/eventually';
import { passFailureHorizon } from '../helpers/horizon';
import { startTestStack } from '../helpers/test-stack';

// The real handlers, the real emulator (moto) and the Didit simulator, wired exactly as `npm start` wires them.
let stack: LocalStack;
let api: ApiClient;
const events: BusEvent[] = [];
const astronautPng = readFileSync(new URL('../fixtures/astronaut.png', import.meta.url));
let selfieJpeg: Buffer;

beforeAll(async () => {
  stack = await startTestStack('e2e', {
    onEvent: (event) => events.push(event),
  });
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  selfieJpeg = await sharp(astronautPng).jpeg({ quality: 90 }).toBuffer();
});

afterAll(async () => {
  await stack?.stop();
});

function eventFor(id: string, timeoutMs = 10_000): Promise<BusEvent> {
  return eventually(`an event for check ${id} on the bus`, () => events.find((e) => e.detail.id === id), {
    timeoutMs,
  });
}

describe('a selfie goes in and a Didit decision comes out', () => {
  it('create → presigned POST upload → processor → COMPLETED in DynamoDB → event on the bus', async () => {
    const created = await api.createCheck({
      vendor_data: 'sim:score=91',
      metadata: { flow: 'signup' },
      face_liveness_score_decline_threshold: 40,
    });
    expect(created.status).toBe('AWAITING_UPLOAD');
    expect(created.upload.fields.key).toBe(`uploads/${created.id}`);
    const before = stack.diditSimulator?.successfulCalls ?? 0;

    await ApiClient.upload(created.upload, selfieJpeg, 'image/jpeg');
    const check = await api.waitForTerminal(created.id);

    expect(check).toMatchObject({
      id: created.id,
      status: 'COMPLETED',
      vendor_data: 'sim:score=91',
      metadata: { flow: 'signup' },
      result: { decision: 'Approved', liveness: { status: 'Approved', method: 'PASSIVE', score: 91 } },
    });
    expect(check.result.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(check.error).toBeUndefined();
    expect((stack.diditSimulator?.successfulCalls ?? 0) - before).toBe(1);

    const event = await eventFor(created.id);
    expect(event['detail-type']).toBe('Liveness Check Completed');
    expect(event.detail).toMatchObject({
      id: created.id,
      status: 'COMPLETED',
      decision: 'Approved',
      score: 91,
      vendor_data: 'sim:score=91',
      metadata: { flow: 'signup' },
      didit_request_id: check.result.request_id,
    });
    expect(JSON.stringify(event)).not.toContain(selfieJpeg.subarray(0, 64).toString('base64'));
  });

  it('forwards the threshold: a score at or below it is Declined with LOW_LIVENESS_SCORE', async () => {
    const created = await api.createCheck({ vendor_data: 'sim:score=35', face_liveness_score_decline_threshold: 35 });
    await ApiClient.upload(created.upload, selfieJpeg, 'image/jpeg');
    const check = await api.waitForTerminal(created.id);
    expect(check.status).toBe('COMPLETED');
    expect(check.result.decision).toBe('Declined');
    expect(check.result.liveness.warnings.map((w: { risk: string }) => w.risk)).toContain('LOW_LIVENESS_SCORE');
    expect((await eventFor(created.id)).detail).toMatchObject({
      decision: 'Declined',
      warnings: [{ risk: 'LOW_LIVENESS_SCORE', log_type: 'error' }],
    });
  });

  it('a PNG upload is converted and decided', async () => {
    const created = await api.createCheck({ content_type: 'image/png' });
    await ApiClient.upload(created.upload, astronautPng, 'image/png');
    const check = await api.waitForTerminal(created.id);
    expect(check.status).toBe('COMPLETED');
    expect(['Approved', 'Declined']).toContain(check.result.decision);
    expect(check.result.decision === 'Approved').toBe(check.result.liveness.score > 30);
    expect(stack.diditSimulator?.lastRequest?.imageType).toBe('jpeg');
  });

  it('a duplicate S3 event for the same upload does not call Didit twice', async () => {
    const created = await api.createCheck({});
    await ApiClient.upload(created.upload, selfieJpeg, 'image/jpeg');
    const first = await api.waitForTerminal(created.id);
    expect(first.status).toBe('COMPLETED');
    const calls = stack.diditSimulator?.calls ?? 0;

    // The first completion's event must be on the bus before counting events (it travels bus → queue → poller).
    await eventFor(created.id);
    const { handler } = await import('../../lambdas/handlers/process-upload');
    const duplicate = {
      Records: [
        {
          eventName: 'ObjectCreated:Post',
          s3: { bucket: { name: stack.resources.bucketName }, object: { key: `uploads/${created.id}`, size: 1 } },
        },
      ],
    };
    await handler(duplicate as never);
    await handler(duplicate as never);
    // Both calls returned after publishing whatever they publish; idle means the bus tail has received it all.
    await waitForStackIdle(stack);

    expect(stack.diditSimulator?.calls).toBe(calls);
    const after = (await api.getCheck(created.id)).body;
    expect(after.updated_at).toBe(first.updated_at);
    expect(after.result.request_id).toBe(first.result.request_id);
    expect(events.filter((e) => e.detail.id === created.id)).toHaveLength(1);
  });

  it('a corrupt upload ends FAILED with CORRUPT_IMAGE and no Didit call', async () => {
    const created = await api.createCheck({});
    const calls = stack.diditSimulator?.calls ?? 0;
    await ApiClient.upload(created.upload, selfieJpeg.subarray(0, Math.floor(selfieJpeg.length * 0.6)), 'image/jpeg');
    const check = await api.waitForTerminal(created.id);
    expect(check).toMatchObject({ status: 'FAILED', error: { code: 'CORRUPT_IMAGE' } });
    expect(check.result).toBeUndefined();
    expect(stack.diditSimulator?.calls).toBe(calls);
    const event = await eventFor(created.id);
    expect(event['detail-type']).toBe('Liveness Check Failed');
    expect(event.detail).toMatchObject({ status: 'FAILED', error: { code: 'CORRUPT_IMAGE' } });
  });

  it('a non-image sent with an image content type ends FAILED with UNSUPPORTED_IMAGE_TYPE', async () => {
    const created = await api.createCheck({});
    await ApiClient.upload(created.upload, Buffer.from('<html><script>alert(1)</script></html>'), 'image/jpeg');
    const check = await api.waitForTerminal(created.id);
    expect(check).toMatchObject({ status: 'FAILED', error: { code: 'UNSUPPORTED_IMAGE_TYPE' } });
  });

  it('a Didit error status ends FAILED with its code (permanent 400 → DIDIT_REJECTED_REQUEST)', async () => {
    const created = await api.createCheck({ vendor_data: 'sim:status=400' });
    await ApiClient.upload(created.upload, selfieJpeg, 'image/jpeg');
    const check = await api.waitForTerminal(created.id);
    expect(check).toMatchObject({ status: 'FAILED', error: { code: 'DIDIT_REJECTED_REQUEST' } });
  });

  it('a Didit that keeps failing is retried by the workflow until the failure horizon, then FAILED DIDIT_UNAVAILABLE', async () => {
    const calls = stack.diditSimulator?.calls ?? 0;
    const created = await api.createCheck({ vendor_data: 'sim:status=503' });
    await ApiClient.upload(created.upload, selfieJpeg, 'image/jpeg');
    await passFailureHorizon(stack, api, created.id);
    const check = await api.waitForTerminal(created.id);
    expect(check).toMatchObject({
      status: 'FAILED',
      error: { code: 'DIDIT_UNAVAILABLE', message: expect.stringContaining('past the failure horizon') },
      retry: { round: 1 },
    });
    // Every call but the last was a failed attempt of the round; the last one ended the check.
    expect((stack.diditSimulator?.calls ?? 0) - calls).toBe((check.retry?.failed_attempts ?? 0) + 1);
    const event = await eventFor(created.id);
    expect(event['detail-type']).toBe('Liveness Check Failed');
  });
});

describe('the API contract', () => {
  it('refuses a missing or wrong API key with a JSON error', async () => {
    for (const headers of [{ 'x-api-key': '' }, { 'x-api-key': 'wrong' }]) {
      const res = await api.request('POST', '/v1/liveness-checks', {}, headers);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    }
  });

  it('serves the OpenAPI document it implements, without a key', async () => {
    const res = await fetch(`${stack.apiUrl}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/liveness-checks', '/v1/liveness-checks/{id}', '/v1/webhooks/didit']),
    );
  });

  it('answers unknown routes and methods with a JSON 404, as the gateway response does', async () => {
    for (const [method, path] of [
      ['GET', '/v1/nothing-here'],
      ['DELETE', '/v1/liveness-checks'],
    ] as const) {
      const res = await api.request(method, path);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
  });

  it('names every bad field in a 400', async () => {
    const res = await api.request('POST', '/v1/liveness-checks', {
      face_liveness_score_decline_threshold: 101,
      content_type: 'image/gif',
      extra: 1,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.fields.map((f: { field: string }) => f.field).sort()).toEqual([
      'content_type',
      'extra',
      'face_liveness_score_decline_threshold',
    ]);
  });

  it('returns AWAITING_UPLOAD for a fresh check, 404 for an unknown id and 400 for a malformed id', async () => {
    const created = await api.createCheck({ vendor_data: 'user-1' });
    const fresh = await api.getCheck(created.id);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({
      id: created.id,
      status: 'AWAITING_UPLOAD',
      vendor_data: 'user-1',
      metadata: null,
    });
    expect((await api.getCheck(randomUUID())).status).toBe(404);
    const bad = await api.getCheck('not-an-id');
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields[0].field).toBe('id');
  });
});

describe('Idempotency-Key: a client that retries a create never pays for a second check', () => {
  it('the same key and body return the same check with a fresh upload URL; another body is 409; a bad key 400', async () => {
    const key = `retry-${Date.now()}`;
    const body = { vendor_data: 'user-idem', content_type: 'image/jpeg' };
    const first = await api.request('POST', '/v1/liveness-checks', body, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const again = await api.request('POST', '/v1/liveness-checks', body, { 'Idempotency-Key': key });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.upload.fields.key).toBe(first.body.upload.fields.key);

    const other = await api.request(
      'POST',
      '/v1/liveness-checks',
      { vendor_data: 'someone-else' },
      { 'idempotency-key': key },
    );
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', fields: [{ field: 'Idempotency-Key' }] });

    const bad = await api.request('POST', '/v1/liveness-checks', body, { 'idempotency-key': 'has spaces in it' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);

    // Once the image is in, a replay answers with the check itself: still one check, one Didit call.
    const calls = stack.diditSimulator?.calls ?? 0;
    await ApiClient.upload(again.body.upload, selfieJpeg, 'image/jpeg');
    await api.waitForTerminal(first.body.id);
    const after = await api.request('POST', '/v1/liveness-checks', body, { 'idempotency-key': key });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ id: first.body.id, status: 'COMPLETED' });
    expect((stack.diditSimulator?.calls ?? 0) - calls).toBe(1);
  });
});
