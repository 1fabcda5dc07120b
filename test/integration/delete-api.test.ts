import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorClientConfig } from '../../local/aws-env';
import type { BusEvent, LocalStack } from '../../local/local-stack';
import { ApiClient } from '../helpers/api-client';
import { eventually } from '../helpers/eventually';
import { startTestStack } from '../helpers/test-stack';

// DELETE /v1/liveness-checks/{id} and the life of a selfie through the real API, handlers, moto and the Didit
// simulator, wired as `npm start` wires them.
let stack: LocalStack;
let api: ApiClient;
let s3: S3Client;
let documents: DynamoDBDocumentClient;
const events: BusEvent[] = [];
let selfie: Buffer;

beforeAll(async () => {
  stack = await startTestStack('delete', { onEvent: (event) => events.push(event) });
  api = new ApiClient(stack.apiUrl, stack.apiKey);
  const aws = emulatorClientConfig(stack.motoEndpoint);
  s3 = new S3Client({ ...aws, forcePathStyle: true });
  documents = DynamoDBDocumentClient.from(new DynamoDBClient(aws));
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg({ quality: 90 })
    .toBuffer();
});

afterAll(async () => {
  await stack?.stop();
});

async function inBucket(id: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: stack.resources.bucketName, Key: `uploads/${id}` }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

async function rawItem(id: string): Promise<Record<string, unknown> | undefined> {
  const out = await documents.send(
    new GetCommand({ TableName: stack.resources.tableName, Key: { id }, ConsistentRead: true }),
  );
  return out.Item;
}

async function completedCheck(body: Record<string, unknown>) {
  const created = await api.createCheck(body);
  await ApiClient.upload(created.upload, selfie, 'image/jpeg');
  const check = await api.waitForTerminal(created.id);
  expect(check.status).toBe('COMPLETED');
  return check;
}

describe('a check through the API', () => {
  it('ends without its selfie in the bucket, and GET shows no age, gender or race', async () => {
    const check = await completedCheck({ vendor_data: 'user-1' });
    await eventually('the upload to be deleted', async () => !(await inBucket(check.id)));
    const entities = check.result.liveness.user_image.entities as Array<Record<string, unknown>>;
    expect(entities.length).toBeGreaterThan(0);
    for (const entity of entities) expect(Object.keys(entity).sort()).toEqual(['bbox', 'confidence']);
    expect(JSON.stringify(check)).not.toMatch(/"(age|gender|race)"/);
  });

  it('DELETE → 204; GET → 404; a second DELETE → 204; only the tombstone is left; Didit erases its copy', async () => {
    const check = await completedCheck({ vendor_data: 'user-2', metadata: { email: 'two@example.com' } });
    const session = check.result.request_id as string;
    expect(stack.diditSimulator?.savedSessions.has(session)).toBe(true);

    const deleted = await api.request('DELETE', `/v1/liveness-checks/${check.id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBeUndefined();
    expect((await api.getCheck(check.id)).status).toBe(404);
    expect((await api.request('DELETE', `/v1/liveness-checks/${check.id}`)).status).toBe(204);
    expect((await api.request('DELETE', '/v1/liveness-checks/not-a-uuid')).status).toBe(400);
    expect((await api.request('DELETE', '/v1/liveness-checks/3f0c2f7e-3c1b-4d8e-9a51-0a4c1e9b7d21')).status).toBe(404);

    const item = await rawItem(check.id);
    expect(item).toMatchObject({ id: check.id, status: 'DELETED', didit_erasure: 'PENDING' });
    expect(JSON.stringify(item)).not.toMatch(/user-2|two@example\.com|result|deliveries|history/);
    expect(await inBucket(check.id)).toBe(false);

    const deletedEvent = await eventually('the Deleted event', () =>
      events.find((e) => e.detail.id === check.id && e['detail-type'] === 'Liveness Check Deleted'),
    );
    expect(deletedEvent.detail).toEqual({
      id: check.id,
      deleted_at: item?.deleted_at,
      didit_erasure: 'PENDING',
      schema_version: 1,
    });

    await stack.sweep();
    expect(stack.diditSimulator?.deletedSessions).toContain(session);
    expect(await rawItem(check.id)).toMatchObject({ status: 'DELETED', didit_erasure: 'DONE' });
  });

  it('DELETE also erases what the Idempotency-Key record kept of the request; the key then answers 409 (deleted)', async () => {
    const key = `erase-${Date.now()}`;
    const body = { vendor_data: 'user-3', metadata: { email: 'three@example.com' }, content_type: 'image/jpeg' };
    const created = await api.request('POST', '/v1/liveness-checks', body, { 'idempotency-key': key });
    expect(created.status).toBe(201);
    const recordId = (await rawItem(created.body.id))?.idempotency_id as string;
    expect(recordId).toMatch(/^idem#[0-9a-f]{64}$/);
    const before = await rawItem(recordId);
    expect(before).toMatchObject({ check_id: created.body.id, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });

    expect((await api.request('DELETE', `/v1/liveness-checks/${created.body.id}`)).status).toBe(204);

    // The hash over vendor_data and metadata is gone; the record keeps only the key's hash and the check's id.
    expect(await rawItem(recordId)).toEqual({ ...before, fingerprint: 'erased' });
    const tombstone = await rawItem(created.body.id);
    expect(tombstone).toMatchObject({ status: 'DELETED' });
    expect(tombstone?.idempotency_id).toBeUndefined();
    const again = await api.request('POST', '/v1/liveness-checks', body, { 'idempotency-key': key });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(again.body.error.message).toMatch(/deleted/);
  });
});
