import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { RekognitionClient } from '@aws-sdk/client-rekognition';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { CheckStore } from '../../lambdas/adapters/check-store';
import { DiditClient } from '../../lambdas/adapters/didit-client';
import { EventPublisher } from '../../lambdas/adapters/event-publisher';
import { RekognitionFaceDetector } from '../../lambdas/adapters/face-detector';
import { PacerStateStore } from '../../lambdas/adapters/pacer-state-store';
import { UploadReader, UploadRemover } from '../../lambdas/adapters/upload-reader';
import { loadProcessorConfig } from '../../lambdas/config';
import type { CheckRecord } from '../../lambdas/core/check';
import { prepareImageForDidit } from '../../lambdas/core/image-pipeline';
import { ClaimLostError } from '../../lambdas/core/lifecycle/conflicts';
import { step } from '../../lambdas/core/lifecycle/transitions';
import type { MetricsPort } from '../../lambdas/core/metrics';
import type { DomainEvent } from '../../lambdas/core/ports';
import type { RetryRoundInput } from '../../lambdas/core/retry-round';
import { MAX_UPLOAD_BYTES } from '../../lambdas/core/upload-rules';
import { CheckProcessor, type ProcessorPorts, type ProcessorSettings } from '../../lambdas/services/check-processor';
import { DiditPacer } from '../../lambdas/services/didit-pacer';
import { emulatorClientConfig } from '../../local/aws-env';
import { DiditSimulator } from '../../local/didit-simulator';
import { type LocalResources, provisionLocalResources } from '../../local/provision';
import { RekognitionSimulator } from '../../local/rekognition-simulator';
import { awaitingCheck, processorSettings } from '../fakes/processor-fakes';

// The processor service with its real adapters against moto and the loopback simulators. Crashes are simulated the
// way Lambda crashes: an attempt stops between two steps and a later delivery of the same S3 event finds the state
// it left behind.
const LEASE_SECONDS = 60;
let resources: LocalResources;
let s3: S3Client;
let store: CheckStore;
let dynamo: DynamoDBClient;
/** Each test has its own Didit budget record: a 429 in one test must not pause the next. */
let pacerId = '';
let didit: DiditSimulator;
let diditClient: DiditClient;
let rekognition: RekognitionSimulator;
let publisher: EventPublisher;
let selfie: Buffer;
let clockOffsetMs = 0;
/** Rounds the processor asked Step Functions to start (the workflow itself runs in retry-faults.test.ts). */
let startedRounds: RetryRoundInput[] = [];
const config = () =>
  loadProcessorConfig({
    TABLE_NAME: resources.tableName,
    BUCKET_NAME: resources.bucketName,
    EVENT_BUS_NAME: resources.eventBusName,
    DIDIT_API_KEY_SECRET_ID: resources.diditApiKeySecretId,
    DIDIT_BASE_URL: didit.url,
    RETRY_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:unused',
  });

beforeAll(async () => {
  const endpoint = inject('motoEndpoint');
  didit = new DiditSimulator({ apiKey: 'processor-test-key' });
  await didit.start();
  rekognition = new RekognitionSimulator();
  await rekognition.start();
  resources = await provisionLocalResources(endpoint, {
    prefix: `proc-${randomUUID().slice(0, 8)}`,
    diditApiKey: 'processor-test-key',
  });
  const aws = emulatorClientConfig(endpoint);
  s3 = new S3Client({ ...aws, forcePathStyle: true });
  dynamo = new DynamoDBClient(aws);
  store = new CheckStore(dynamo, resources.tableName);
  publisher = new EventPublisher(new EventBridgeClient(aws), resources.eventBusName);
  diditClient = new DiditClient(config().didit, async () => 'processor-test-key');
  selfie = await sharp(readFileSync(new URL('../fixtures/astronaut.png', import.meta.url)))
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await diditClient?.close();
  await didit?.stop();
  await rekognition?.stop();
});

beforeEach(() => {
  clockOffsetMs = 0;
  pacerId = `pacer#${randomUUID()}`;
  startedRounds = [];
  didit.clear();
});

function processor(overrides: Partial<ProcessorPorts> = {}, settings: Partial<ProcessorSettings> = {}): CheckProcessor {
  const cfg = config();
  return new CheckProcessor(
    {
      store,
      uploads: new UploadReader(s3, resources.bucketName),
      uploadRemover: new UploadRemover(s3, resources.bucketName),
      prepareImage: prepareImageForDidit,
      didit: diditClient,
      pacer: new DiditPacer(new PacerStateStore(dynamo, resources.tableName, pacerId), {
        requestsPerMinute: 60_000,
        probeIntervalMs: 60_000,
      }),
      events: publisher,
      retries: { startRound: async (input) => void startedRounds.push(input) },
      clock: () => new Date(Date.now() + clockOffsetMs),
      newToken: randomUUID,
      ...overrides,
    },
    processorSettings({ uploadPrefix: cfg.uploadPrefix, image: cfg.image, leaseSeconds: LEASE_SECONDS, ...settings }),
  );
}

async function newCheck(body: Uint8Array | undefined, fields: Partial<CheckRecord> = {}): Promise<string> {
  const id = randomUUID();
  await store.create(awaitingCheck(id, new Date(), fields));
  if (body) await s3.send(new PutObjectCommand({ Bucket: resources.bucketName, Key: `uploads/${id}`, Body: body }));
  return id;
}

async function busEvents(): Promise<Array<{ 'detail-type': string; detail: { id: string } }>> {
  const sqs = new SQSClient(emulatorClientConfig(inject('motoEndpoint')));
  const out = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: resources.eventQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  sqs.destroy();
  return (out.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}'));
}

describe('claims and crashes', () => {
  it('a processor that died after claiming is taken over only once its lease has run out', async () => {
    const id = await newCheck(selfie);
    const crashed = await store.attempt(
      id,
      step('claimUpload', { token: 'crashed-attempt', now: new Date(), leaseSeconds: LEASE_SECONDS }),
    );
    expect(crashed.applied).toBe(true);

    expect(await processor().processUpload(`uploads/${id}`)).toBe('DUPLICATE');
    expect(didit.calls).toBe(0);

    clockOffsetMs = (LEASE_SECONDS + 1) * 1000;
    expect(await processor().processUpload(`uploads/${id}`)).toBe('COMPLETED');
    expect(didit.successfulCalls).toBe(1);

    // The crashed attempt waking up late cannot overwrite the result.
    await expect(
      store.execute(
        id,
        step('fail', { token: 'crashed-attempt', error: { code: 'INTERNAL_ERROR', message: 'late' }, now: new Date() }),
      ),
    ).rejects.toBeInstanceOf(ClaimLostError);
    expect((await store.get(id))?.status).toBe('COMPLETED');
  });

  it('a terminal event that failed to publish is republished by a later delivery, once', async () => {
    const id = await newCheck(selfie);
    let failPublish = true;
    const flakyEvents = {
      publish: async (events: readonly DomainEvent[]) => {
        if (failPublish) throw new Error('EventBridge unreachable');
        await publisher.publish(events);
      },
    };
    await expect(processor({ events: flakyEvents }).processUpload(`uploads/${id}`)).rejects.toThrow(
      'EventBridge unreachable',
    );
    const written = await store.get(id);
    expect(written).toMatchObject({ status: 'COMPLETED', event_pending: true });

    failPublish = false;
    // Within the writer's lease the writer may still be publishing: a duplicate delivery must not publish too.
    expect(await processor({ events: flakyEvents }).processUpload(`uploads/${id}`)).toBe('DUPLICATE');

    clockOffsetMs = (LEASE_SECONDS + 1) * 1000;
    expect(await processor({ events: flakyEvents }).processUpload(`uploads/${id}`)).toBe('REPUBLISHED');
    expect(await processor({ events: flakyEvents }).processUpload(`uploads/${id}`)).toBe('DUPLICATE');
    expect((await store.get(id))?.event_pending).toBeUndefined();
    expect(didit.successfulCalls).toBe(1);

    const published = (await busEvents()).filter((e) => e.detail.id === id);
    expect(published.map((e) => e['detail-type'])).toEqual(['Liveness Check Completed']);
  });

  it('an attempt whose completing write fails after Didit answered is finished without a second Didit call', async () => {
    const id = await newCheck(selfie);
    let crash = true;
    const dyingStore: ProcessorPorts['store'] = Object.assign(Object.create(store), {
      execute: async (...args: Parameters<CheckStore['execute']>) => {
        if (crash && args[1].transition === 'complete') {
          crash = false;
          throw new Error('DynamoDB unreachable: the write timed out');
        }
        return store.execute(...args);
      },
    });
    await expect(processor({ store: dyingStore }).processUpload(`uploads/${id}`)).rejects.toThrow('timed out');
    const left = await store.get(id);
    expect(left?.status).toBe('PROCESSING');
    expect(left?.pending_result?.request_id).toBeTruthy();

    clockOffsetMs = (LEASE_SECONDS + 1) * 1000;
    expect(await processor().processUpload(`uploads/${id}`)).toBe('COMPLETED');
    const done = await store.get(id);
    expect(done?.result?.request_id).toBe(left?.pending_result?.request_id);
    expect(done?.pending_result).toBeUndefined();
    expect(didit.successfulCalls).toBe(1);
  });

  it('a real failure hands the check to a workflow round, whose next attempt completes it', async () => {
    const id = await newCheck(selfie);
    didit.injectFaults({ type: 'status', status: 503, retryAfter: '7' }, 1);
    expect(await processor().processUpload(`uploads/${id}`)).toBe('RETRYING');
    expect(await store.get(id)).toMatchObject({
      status: 'RETRYING',
      retry_round: 1,
      retry_attempt: 1,
      retry_after_seconds: 7,
      last_error: { code: 'DIDIT_UNAVAILABLE' },
      outage_since: expect.any(String),
    });
    expect(startedRounds).toEqual([{ check_id: id, round: 1, attempt: 1, retry_after_seconds: 7 }]);

    // A duplicate S3 event meanwhile changes nothing and calls nobody.
    expect(await processor().processUpload(`uploads/${id}`)).toBe('DUPLICATE');
    const result = await processor().attempt({ check_id: id, round: 1, attempt: 1, retry_after_seconds: 7 });
    expect(result.outcome).toBe('COMPLETED');
    expect(await store.get(id)).toMatchObject({ status: 'COMPLETED', result: { decision: expect.any(String) } });
    expect(didit.calls).toBe(2);
    expect(didit.successfulCalls).toBe(1);
  });

  it('a 429 is not a failure: the check WAITS without spending an attempt and every caller backs off', async () => {
    const id = await newCheck(selfie);
    const other = await newCheck(selfie);
    didit.injectFaults({ type: 'status', status: 429, retryAfter: '7' }, 1);
    const refusedAt = Date.now();
    expect(await processor().processUpload(`uploads/${id}`)).toBe('WAITING');
    const waiting = await store.get(id);
    expect(waiting).toMatchObject({ status: 'WAITING', wait_reason: 'DIDIT_THROTTLED', retry_round: 1 });
    expect(waiting?.retry_attempt).toBeUndefined();
    expect(waiting?.outage_since).toBeUndefined();
    expect(Date.parse(waiting?.resume_at ?? '')).toBeGreaterThanOrEqual(refusedAt + 7000);
    expect(startedRounds).toEqual([
      { check_id: id, round: 1, attempt: 0, retry_after_seconds: 0, resume_at: waiting?.resume_at },
    ]);

    // Another check uploaded meanwhile does not call Didit either: the back-off is global.
    expect(await processor().processUpload(`uploads/${other}`)).toBe('WAITING');
    expect(await store.get(other)).toMatchObject({ wait_reason: 'DIDIT_THROTTLED' });
    expect(didit.calls).toBe(1);

    // After the back-off, the round's attempt goes straight through.
    clockOffsetMs = 8000;
    const resumed = await processor().attempt({
      ...startedRounds[0],
      resume_at: waiting?.resume_at,
    } as RetryRoundInput);
    expect(resumed.outcome).toBe('COMPLETED');
    expect(didit.calls).toBe(2);
    expect(didit.successfulCalls).toBe(1);
  });

  it("Didit's X-RateLimit-Remaining under 15 % of the limit spreads what is left: no call is refused", async () => {
    // A Didit that allows 10 calls a minute, and a budget far above it: only Didit's headers can slow the callers.
    const limited = new DiditSimulator({ apiKey: 'processor-test-key', quota: { limit: 10, windowSeconds: 60 } });
    await limited.start();
    const client = new DiditClient({ ...config().didit, baseUrl: limited.url }, async () => 'processor-test-key');
    try {
      const outcomes: string[] = [];
      let last = '';
      for (let i = 0; i < 10; i++) {
        last = await newCheck(selfie);
        outcomes.push(await processor({ didit: client }).processUpload(`uploads/${last}`));
      }
      // After the 9th call 1 of 10 is left (< 15 %): the rest of the window is spread over what is left, so the
      // 10th check waits its paced slot, about a minute away, instead of spending Didit's last call or a 429.
      expect(outcomes).toEqual([...Array(9).fill('COMPLETED'), 'WAITING']);
      const waiting = await store.get(last);
      expect(waiting).toMatchObject({ status: 'WAITING', wait_reason: 'PACED' });
      expect(Date.parse(waiting?.resume_at ?? '')).toBeGreaterThan(Date.now() + 40_000);
      expect(limited.successfulCalls).toBe(9);
      expect(limited.quota.throttled).toBe(0);
    } finally {
      await client.close();
      await limited.stop();
    }
  });

  it('an attempt for a round that is over is skipped without calling Didit', async () => {
    const id = await newCheck(selfie);
    didit.injectFaults({ type: 'status', status: 503 }, 1);
    await processor().processUpload(`uploads/${id}`);
    const stale = await processor().attempt({ check_id: id, round: 7, attempt: 2, retry_after_seconds: 0 });
    expect(stale.outcome).toBe('SKIPPED');
    expect(didit.calls).toBe(1);
  });

  it('ignores objects that do not belong to a check, and uploads for unknown checks', async () => {
    expect(await processor().processUpload('uploads/not-a-check.jpg')).toBe('NOT_A_CHECK');
    expect(await processor().processUpload(`other/${randomUUID()}`)).toBe('NOT_A_CHECK');
    expect(await processor().processUpload(`uploads/${randomUUID()}`)).toBe('UNKNOWN_CHECK');
    expect(didit.calls).toBe(0);
  });
});

describe('refusals end in a terminal status with a specific code and no Didit call', () => {
  it('an object over 5 MiB that arrived without the POST policy → IMAGE_TOO_LARGE', async () => {
    const id = await newCheck(Buffer.alloc(MAX_UPLOAD_BYTES + 1, 0xff));
    expect(await processor().processUpload(`uploads/${id}`)).toBe('FAILED');
    expect(await store.get(id)).toMatchObject({ status: 'FAILED', error: { code: 'IMAGE_TOO_LARGE' } });
    expect(didit.calls).toBe(0);
  });

  it('a check whose object is gone → IMAGE_NOT_FOUND', async () => {
    const id = await newCheck(undefined);
    expect(await processor().processUpload(`uploads/${id}`)).toBe('FAILED');
    expect(await store.get(id)).toMatchObject({ status: 'FAILED', error: { code: 'IMAGE_NOT_FOUND' } });
  });

  it('Didit refusing our key → DIDIT_AUTH_FAILED', async () => {
    const id = await newCheck(selfie);
    const wrongKey = new DiditClient(config().didit, async () => 'not-the-key');
    try {
      expect(await processor({ didit: wrongKey }).processUpload(`uploads/${id}`)).toBe('FAILED');
    } finally {
      await wrongKey.close();
    }
    expect(await store.get(id)).toMatchObject({ status: 'FAILED', error: { code: 'DIDIT_AUTH_FAILED' } });
  });
});

describe('Rekognition pre-screen', () => {
  const faces = () => new RekognitionFaceDetector(new RekognitionClient({ ...emulatorClientConfig(rekognition.url) }));

  it('no face → COMPLETED, Declined, NO_FACE_DETECTED, and Didit is never called', async () => {
    const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080' } })
      .jpeg()
      .toBuffer();
    const id = await newCheck(blank);
    expect(await processor({ faces: faces() }).processUpload(`uploads/${id}`)).toBe('COMPLETED');
    const record = await store.get(id);
    expect(record?.result).toMatchObject({
      decision: 'Declined',
      request_id: null,
      prescreen_face_count: 0,
      liveness: { status: 'Declined', warnings: [{ risk: 'NO_FACE_DETECTED' }] },
    });
    expect(didit.calls).toBe(0);
    expect(rekognition.calls).toBeGreaterThan(0);
  });

  it('several faces are noted and Didit still decides', async () => {
    const wide = await sharp(selfie).resize(1200, 500, { fit: 'fill' }).jpeg().toBuffer();
    const id = await newCheck(wide);
    expect(await processor({ faces: faces() }).processUpload(`uploads/${id}`)).toBe('COMPLETED');
    const record = await store.get(id);
    expect(record?.result?.prescreen_face_count).toBe(2);
    expect(record?.result?.request_id).toBeTruthy();
    expect(didit.successfulCalls).toBe(1);
  });
});

describe('metrics the processor emits (the alarms and dashboard read these names)', () => {
  function recorder() {
    const points: Array<{ name: string; value: number; breakdown: string | undefined }> = [];
    const metrics: MetricsPort = {
      record: (metric, value, breakdown) => void points.push({ name: metric.name, value, breakdown }),
    };
    const names = () => points.map((p) => (p.breakdown ? `${p.name}:${p.breakdown}` : p.name));
    return { metrics, points, names };
  }

  it('a completed check: started, image bytes, one 2xx Didit call with its latency, completed and its decision', async () => {
    const id = await newCheck(selfie, { vendor_data: 'sim:score=88' });
    const { metrics, points, names } = recorder();
    expect(await processor({ metrics }).processUpload(`uploads/${id}`)).toBe('COMPLETED');
    expect(names()).toEqual(
      expect.arrayContaining([
        'ChecksStarted',
        'ImageBytesIn',
        'ImageBytesOut',
        'DiditCalls:2xx',
        'DiditLatency',
        'ChecksCompleted',
        'ChecksApproved',
      ]),
    );
    expect(names()).not.toContain('ChecksDeclined');
    expect(points.find((p) => p.name === 'ImageBytesIn')?.value).toBe(selfie.length);
  });

  it('a Didit that refuses the key: a 401 call, an auth failure (the paging alarm) and a failure by code', async () => {
    const id = await newCheck(selfie);
    const { metrics, names } = recorder();
    const wrongKey = new DiditClient(config().didit, async () => 'not-the-key');
    try {
      await processor({ metrics, didit: wrongKey }).processUpload(`uploads/${id}`);
    } finally {
      await wrongKey.close();
    }
    expect(names()).toEqual(
      expect.arrayContaining(['DiditCalls:401', 'DiditAuthFailures', 'ChecksFailed:DIDIT_AUTH_FAILED']),
    );
  });

  it('a rate-limited Didit: a 429 call, a throttle and a check waiting (not retrying)', async () => {
    const id = await newCheck(selfie);
    didit.injectFaults({ type: 'status', status: 429, retryAfter: '3' }, 1);
    const { metrics, names } = recorder();
    expect(await processor({ metrics }).processUpload(`uploads/${id}`)).toBe('WAITING');
    expect(names()).toEqual(
      expect.arrayContaining(['DiditCalls:429', 'DiditThrottled', 'ChecksWaiting:DIDIT_THROTTLED']),
    );
    expect(names()).not.toContain('ChecksRetrying');
    expect(names()).not.toContain('ChecksCompleted');
  });
});
