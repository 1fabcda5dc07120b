import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { CheckStore } from '../../lambdas/adapters/check-store';
import { DiditClient } from '../../lambdas/adapters/didit-client';
import { DiditSessionEraser } from '../../lambdas/adapters/didit-session-eraser';
import { EventPublisher } from '../../lambdas/adapters/event-publisher';
import { PacerStateStore } from '../../lambdas/adapters/pacer-state-store';
import { UploadReader, UploadRemover } from '../../lambdas/adapters/upload-reader';
import type { CheckRecord } from '../../lambdas/core/check';
import type { DiditLivenessRequest } from '../../lambdas/core/didit-types';
import { prepareImageForDidit } from '../../lambdas/core/image-pipeline';
import { step } from '../../lambdas/core/lifecycle/transitions';
import type { DiditPort } from '../../lambdas/core/ports';
import { DiditAuthError, DiditRateLimitedError, DiditUnavailableError } from '../../lambdas/errors';
import { CheckEraser } from '../../lambdas/services/check-eraser';
import { CheckProcessor, type ProcessorPorts, type ProcessorSettings } from '../../lambdas/services/check-processor';
import { CheckSweeper } from '../../lambdas/services/check-sweeper';
import { DiditPacer } from '../../lambdas/services/didit-pacer';
import { emulatorClientConfig } from '../../local/aws-env';
import { DiditSimulator } from '../../local/didit-simulator';
import { type LocalResources, provisionLocalResources } from '../../local/provision';
import { awaitingCheck, processorSettings } from '../fakes/processor-fakes';

// Ending and erasing checks with the real adapters against moto (S3, DynamoDB, EventBridge → SQS) and the Didit
// simulator (the passive-liveness call and the session deletion over undici).
const API_KEY = 'erasure-test-key';
const LEASE_SECONDS = 60;
const TIMEOUTS = { connectTimeoutMs: 2000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000 };
let resources: LocalResources;
let s3: S3Client;
let dynamo: DynamoDBClient;
let documents: DynamoDBDocumentClient;
let store: CheckStore;
let publisher: EventPublisher;
let didit: DiditSimulator;
let diditClient: DiditClient;
let sessionEraser: DiditSessionEraser;
let selfie: Buffer;
let clockOffsetMs = 0;
const clock = () => new Date(Date.now() + clockOffsetMs);
/** Every bus event seen so far (the event queue is drained into it). */
const seen: Array<{ 'detail-type': string; detail: Record<string, unknown> }> = [];

beforeAll(async () => {
  const endpoint = inject('motoEndpoint');
  didit = new DiditSimulator({ apiKey: API_KEY });
  await didit.start();
  resources = await provisionLocalResources(endpoint, {
    prefix: `erase-${randomUUID().slice(0, 8)}`,
    diditApiKey: API_KEY,
  });
  const aws = emulatorClientConfig(endpoint);
  s3 = new S3Client({ ...aws, forcePathStyle: true });
  dynamo = new DynamoDBClient(aws);
  documents = DynamoDBDocumentClient.from(dynamo);
  store = new CheckStore(dynamo, resources.tableName);
  publisher = new EventPublisher(new EventBridgeClient(aws), resources.eventBusName);
  diditClient = new DiditClient({ baseUrl: didit.url, ...TIMEOUTS }, async () => API_KEY);
  sessionEraser = new DiditSessionEraser({ baseUrl: didit.url, ...TIMEOUTS }, async () => API_KEY);
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await diditClient?.close();
  await sessionEraser?.close();
  await didit?.stop();
});

beforeEach(() => {
  clockOffsetMs = 0;
  didit.clear();
});

function processor(overrides: Partial<ProcessorPorts> = {}, settings: Partial<ProcessorSettings> = {}) {
  return new CheckProcessor(
    {
      store,
      uploads: new UploadReader(s3, resources.bucketName),
      uploadRemover: new UploadRemover(s3, resources.bucketName),
      prepareImage: prepareImageForDidit,
      didit: diditClient,
      pacer: new DiditPacer(new PacerStateStore(dynamo, resources.tableName, `pacer#${randomUUID()}`), {
        requestsPerMinute: 60_000,
        probeIntervalMs: 60_000,
      }),
      events: publisher,
      retries: { startRound: async () => {} },
      clock,
      newToken: randomUUID,
      ...overrides,
    },
    processorSettings({ leaseSeconds: LEASE_SECONDS, ...settings }),
  );
}

const eraser = () =>
  new CheckEraser(
    { store, uploads: new UploadRemover(s3, resources.bucketName), events: publisher, clock },
    { uploadPrefix: 'uploads/', leaseSeconds: LEASE_SECONDS },
  );

const sweeper = () =>
  new CheckSweeper(
    {
      store,
      events: publisher,
      retries: { startRound: async () => {} },
      uploads: new UploadRemover(s3, resources.bucketName),
      diditSessions: sessionEraser,
      clock,
    },
    {
      batchSize: 25,
      leaseSeconds: LEASE_SECONDS,
      retryDueSeconds: 900,
      uploadPrefix: 'uploads/',
      keepUploadsUntilLifecycle: false,
    },
  );

/** A check AWAITING_UPLOAD whose selfie is in the bucket; returns its id and the object's ETag. */
async function uploaded(fields: Partial<CheckRecord> = {}, body: Uint8Array = selfie) {
  const id = randomUUID();
  await store.create(
    awaitingCheck(id, new Date(), {
      owner: 'apikey:test',
      vendor_data: 'user-4711',
      metadata: { email: 'someone@example.com' },
      ...fields,
    }),
  );
  const put = await s3.send(new PutObjectCommand({ Bucket: resources.bucketName, Key: `uploads/${id}`, Body: body }));
  return { id, etag: put.ETag as string };
}

async function inBucket(id: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: resources.bucketName, Key: `uploads/${id}` }));
    return true;
  } catch (error) {
    if (
      (error as Error).name === 'NotFound' ||
      (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
    ) {
      return false;
    }
    throw error;
  }
}

/** The item as DynamoDB holds it, every attribute. */
async function rawItem(id: string): Promise<Record<string, unknown> | undefined> {
  const out = await documents.send(
    new GetCommand({ TableName: resources.tableName, Key: { id }, ConsistentRead: true }),
  );
  return out.Item;
}

/** The bus events of one check, once `wanted` arrived or after `polls` one-second polls that brought too few. */
async function eventsFor(
  id: string,
  wanted: number,
  polls = 10,
): Promise<Array<{ 'detail-type': string; detail: Record<string, unknown> }>> {
  const sqs = new SQSClient(emulatorClientConfig(inject('motoEndpoint')));
  try {
    for (let i = 0; i < polls && seen.filter((e) => e.detail.id === id).length < wanted; i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: resources.eventQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of out.Messages ?? []) seen.push(JSON.parse(m.Body ?? '{}'));
    }
  } finally {
    sqs.destroy();
  }
  return seen.filter((e) => e.detail.id === id);
}

/** Makes a tombstone due now (as if its retry delay had passed): the sweeper then tries Didit again. */
async function makeDue(id: string): Promise<void> {
  await documents.send(
    new UpdateCommand({
      TableName: resources.tableName,
      Key: { id },
      UpdateExpression: 'SET due_at = :past',
      ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 1 },
    }),
  );
}

describe('a check that ends', () => {
  it('loses its upload: COMPLETED, and nothing of the selfie is left in the bucket', async () => {
    const { id, etag } = await uploaded();
    expect(await inBucket(id)).toBe(true);
    expect(await processor().processUpload(`uploads/${id}`, etag)).toBe('COMPLETED');
    expect(await inBucket(id)).toBe(false);
  });

  it('loses its upload when it FAILED too (an image that cannot be decoded)', async () => {
    const { id, etag } = await uploaded({}, Buffer.from('not an image at all'));
    expect(await processor().processUpload(`uploads/${id}`, etag)).toBe('FAILED');
    expect((await store.get(id))?.error?.code).toBe('UNSUPPORTED_IMAGE_TYPE');
    expect(await inBucket(id)).toBe(false);
  });

  it('keeps its upload until the lifecycle rule when the audit setting says so', async () => {
    const { id, etag } = await uploaded();
    expect(await processor({}, { keepUploadsUntilLifecycle: true }).processUpload(`uploads/${id}`, etag)).toBe(
      'COMPLETED',
    );
    expect(await inBucket(id)).toBe(true);
  });

  it('stores no age, gender or race by default, though Didit sent age and gender; keeps box and confidence', async () => {
    const { id, etag } = await uploaded();
    await processor().processUpload(`uploads/${id}`, etag);
    const entity = ((await rawItem(id))?.result as CheckRecord['result'])?.liveness.user_image?.entities[0];
    expect(entity).toEqual({ bbox: expect.any(Array), confidence: expect.any(Number) });
    // Not vacuous: the simulator does send the estimates, and the setting keeps them.
    const kept = await uploaded();
    await processor({}, { storeFaceAttributes: true }).processUpload(`uploads/${kept.id}`, kept.etag);
    const full = ((await rawItem(kept.id))?.result as CheckRecord['result'])?.liveness.user_image?.entities[0];
    expect(full).toMatchObject({ age: expect.any(Number), gender: expect.any(String) });
  });
});

describe('the read is pinned to the S3 event ETag', () => {
  it('an upload replaced after its event ends the check FAILED UPLOAD_REPLACED without calling Didit', async () => {
    const { id, etag } = await uploaded();
    const other = await sharp(selfie).flip().jpeg().toBuffer();
    await s3.send(new PutObjectCommand({ Bucket: resources.bucketName, Key: `uploads/${id}`, Body: other }));
    expect(await processor().processUpload(`uploads/${id}`, etag)).toBe('FAILED');
    expect(await store.get(id)).toMatchObject({
      status: 'FAILED',
      upload_etag: etag,
      error: { code: 'UPLOAD_REPLACED', message: expect.stringContaining('replaced') },
    });
    expect(didit.calls).toBe(0);
  });

  it('the same ETag reads the image (quoted as S3 returns it, or bare as the S3 event carries it)', async () => {
    const { id, etag } = await uploaded();
    expect(await processor().processUpload(`uploads/${id}`, etag.replaceAll('"', ''))).toBe('COMPLETED');
    expect(didit.successfulCalls).toBe(1);
  });
});

describe('DELETE erases a check', () => {
  it('leaves only the tombstone in the table, nothing in the bucket, and one "Liveness Check Deleted" without personal data', async () => {
    const { id, etag } = await uploaded({}, selfie);
    // A completed check with a history, a delivery and its selfie kept for an audit: everything must go.
    await processor({}, { keepUploadsUntilLifecycle: true }).processUpload(`uploads/${id}`, etag);
    const completed = (await store.get(id)) as CheckRecord;
    await store.execute(
      id,
      step('recordDelivery', {
        seen: completed,
        attempt: {
          webhook_id: 'msg_1',
          event_type: 'x',
          attempt: 1,
          at: new Date().toISOString(),
          status_code: 200,
          latency_ms: 3,
          outcome: 'delivered',
        },
      }),
    );
    expect(await inBucket(id)).toBe(true);

    expect(await eraser().erase(id, 'apikey:test')).toBe('DELETED');

    const item = await rawItem(id);
    expect(Object.keys(item ?? {}).sort()).toEqual(
      [
        'id',
        'status',
        'owner',
        'deleted_at',
        'expires_at',
        'didit_erasure',
        'didit_erasure_session',
        'didit_erasure_attempts',
        'due_shard',
        'due_at',
      ].sort(),
    );
    expect(item).toMatchObject({
      status: 'DELETED',
      didit_erasure: 'PENDING',
      didit_erasure_session: completed.didit_session_id,
    });
    expect(JSON.stringify(item)).not.toMatch(/user-4711|someone@example\.com|deliveries|result/);
    expect(await inBucket(id)).toBe(false);
    expect(await store.findBySessionId(completed.didit_session_id as string)).toBeUndefined();

    const deleted = (await eventsFor(id, 2)).filter((e) => e['detail-type'] === 'Liveness Check Deleted');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]?.detail).toEqual({
      id,
      deleted_at: item?.deleted_at,
      didit_erasure: 'PENDING',
      schema_version: 1,
    });

    // A second DELETE finds the tombstone: the same answer, no second event.
    expect(await eraser().erase(id, 'apikey:test')).toBe('ALREADY_DELETED');
    // (Two seconds of polling for a third event that must not come.)
    expect((await eventsFor(id, 3, 2)).filter((e) => e['detail-type'] === 'Liveness Check Deleted')).toHaveLength(1);
    expect(await eraser().erase(randomUUID(), 'apikey:test')).toBe('NOT_FOUND');
  });

  it('asks Didit to delete its copy until Didit answers 204, and shows each attempt on the tombstone', async () => {
    const { id, etag } = await uploaded();
    await processor().processUpload(`uploads/${id}`, etag);
    const session = (await store.get(id))?.didit_session_id as string;
    expect(didit.savedSessions.has(session)).toBe(true);
    // Earlier tests' tombstones are erased first, so the faults below reach this check's requests.
    await sweeper().sweep();
    didit.clear();
    await eraser().erase(id, 'apikey:test');

    // Didit fails twice (503, then the connection resets), then deletes: each sweep tries once when due.
    didit.injectFaults({ type: 'status', status: 503 });
    await makeDue(id);
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASURE_RETRY: 1 });
    const first = await rawItem(id);
    expect(first).toMatchObject({
      didit_erasure: 'PENDING',
      didit_erasure_attempts: 1,
      didit_erasure_error: 'DIDIT_UNAVAILABLE (HTTP 503)',
    });
    // Not due again before its delay (a minute after the first failure).
    expect(first?.due_at).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 55);
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASURE_RETRY: 0, DIDIT_ERASED: 0 });

    didit.injectFaults({ type: 'reset' });
    await makeDue(id);
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASURE_RETRY: 1 });
    expect(await rawItem(id)).toMatchObject({ didit_erasure_attempts: 2, didit_erasure_error: 'DIDIT_UNAVAILABLE' });

    await makeDue(id);
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASED: 1 });
    expect(didit.deletedSessions).toEqual([session]);
    expect(didit.savedSessions.has(session)).toBe(false);
    const done = await rawItem(id);
    expect(done).toMatchObject({ status: 'DELETED', didit_erasure: 'DONE', didit_erasure_attempts: 3 });
    expect(done?.didit_erasure_session).toBeUndefined();
    expect(done?.due_at).toBeUndefined();

    // Nothing more is asked of Didit.
    expect(await sweeper().sweep()).toMatchObject({ DIDIT_ERASED: 0, DIDIT_ERASURE_RETRY: 0 });
  });

  it('asks Didit nothing for a check Didit did not save (save_api_request false)', async () => {
    const { id, etag } = await uploaded({ save_api_request: false });
    await processor().processUpload(`uploads/${id}`, etag);
    await eraser().erase(id, 'apikey:test');
    const item = await rawItem(id);
    expect(item?.didit_erasure).toBeUndefined();
    expect(item?.due_at).toBeUndefined();
    expect(didit.deletedSessions).toEqual([]);
  });

  it('a check deleted while PROCESSING is not written back, and the session Didit saved meanwhile is erased', async () => {
    const { id, etag } = await uploaded();
    // Didit answers only after the check was deleted (the DELETE arrives while the processor waits for Didit).
    const slowDidit: DiditPort = {
      checkLiveness: async (request: DiditLivenessRequest) => {
        expect(await eraser().erase(id, 'apikey:test')).toBe('DELETED');
        return diditClient.checkLiveness(request);
      },
    };
    expect(await processor({ didit: slowDidit }).processUpload(`uploads/${id}`, etag)).toBe('DELETED');

    const item = await rawItem(id);
    expect(item).toMatchObject({ status: 'DELETED', didit_erasure: 'PENDING' });
    expect(item?.result).toBeUndefined();
    expect(item?.vendor_data).toBeUndefined();
    const session = item?.didit_erasure_session as string;
    expect(didit.savedSessions.has(session)).toBe(true);
    expect((await eventsFor(id, 1)).map((e) => e['detail-type'])).toEqual(['Liveness Check Deleted']);

    // A duplicate S3 event, or a later upload with the same presigned POST, cannot bring it back either.
    await s3.send(new PutObjectCommand({ Bucket: resources.bucketName, Key: `uploads/${id}`, Body: selfie }));
    expect(await processor().processUpload(`uploads/${id}`)).toBe('DELETED');
    expect(await inBucket(id)).toBe(false);
    expect((await rawItem(id))?.status).toBe('DELETED');

    await sweeper().sweep();
    expect(didit.deletedSessions).toContain(session);
    expect((await rawItem(id))?.didit_erasure).toBe('DONE');
  });

  it('a check deleted while RETRYING is not resurrected by its retry round', async () => {
    const { id, etag } = await uploaded();
    didit.injectFaults({ type: 'status', status: 503 });
    expect(await processor().processUpload(`uploads/${id}`, etag)).toBe('RETRYING');
    expect(await inBucket(id)).toBe(true); // RETRYING keeps its selfie for the next attempt
    const retrying = (await store.get(id)) as CheckRecord;

    expect(await eraser().erase(id, 'apikey:test')).toBe('DELETED');
    expect(await inBucket(id)).toBe(false);
    const round = { check_id: id, round: retrying.retry_round as number, attempt: 1, retry_after_seconds: 0 };
    expect(await processor().attempt(round)).toMatchObject({ outcome: 'SKIPPED' });
    expect(await processor().giveUp(round)).toEqual({ outcome: 'SKIPPED' });
    expect((await rawItem(id))?.status).toBe('DELETED');
    expect(didit.successfulCalls).toBe(0);
  });
});

describe('the Didit session eraser (undici against the simulator)', () => {
  async function savedSession(): Promise<string> {
    const answer = await diditClient.checkLiveness({
      image: selfie,
      faceLivenessScoreDeclineThreshold: 30,
      rotateImage: false,
      saveApiRequest: true,
    });
    return answer.response.request_id;
  }

  it('204 deletes, 404 means already gone', async () => {
    const session = await savedSession();
    expect(await sessionEraser.deleteSession(session)).toBe('DELETED');
    expect(await sessionEraser.deleteSession(session)).toBe('ALREADY_GONE');
  });

  it('a wrong key is DiditAuthError (403); no key is refused with 401', async () => {
    const session = await savedSession();
    const wrongKey = new DiditSessionEraser({ baseUrl: didit.url, ...TIMEOUTS }, async () => 'not-the-key');
    await expect(wrongKey.deleteSession(session)).rejects.toMatchObject({ name: 'DiditAuthError', httpStatus: 403 });
    await expect(wrongKey.deleteSession(session)).rejects.toBeInstanceOf(DiditAuthError);
    await wrongKey.close();
    const res = await fetch(`${didit.url}/v3/session/${session}/delete/`, { method: 'DELETE' });
    expect(res.status).toBe(401);
    expect(didit.savedSessions.has(session)).toBe(true);
  });

  it('429 and 5xx are retryable named errors', async () => {
    const session = await savedSession();
    didit.injectFaults({ type: 'status', status: 429, retryAfter: '2' });
    await expect(sessionEraser.deleteSession(session)).rejects.toBeInstanceOf(DiditRateLimitedError);
    didit.injectFaults({ type: 'status', status: 502 });
    await expect(sessionEraser.deleteSession(session)).rejects.toBeInstanceOf(DiditUnavailableError);
    expect(await sessionEraser.deleteSession(session)).toBe('DELETED');
  });
});
