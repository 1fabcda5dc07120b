import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CheckStore } from '../lambdas/adapters/check-store';
import { DiditClient } from '../lambdas/adapters/didit-client';
import { EventPublisher } from '../lambdas/adapters/event-publisher';
import { PacerStateStore } from '../lambdas/adapters/pacer-state-store';
import { cachedSecret } from '../lambdas/adapters/secret-value';
import { UploadPresigner } from '../lambdas/adapters/upload-presigner';
import { UploadReader, UploadRemover } from '../lambdas/adapters/upload-reader';
import { loadCreateCheckConfig, loadProcessorConfig } from '../lambdas/config';
import type { CheckRecord } from '../lambdas/core/check';
import { toCheckView } from '../lambdas/core/check-view';
import { prepareImageForDidit } from '../lambdas/core/image-pipeline';
import type { TransitionName } from '../lambdas/core/lifecycle/transitions';
import type { CheckStorePort } from '../lambdas/core/ports';
import { CheckCreator } from '../lambdas/services/check-creator';
import { CheckProcessor, type ProcessorPorts } from '../lambdas/services/check-processor';
import { DiditPacer } from '../lambdas/services/didit-pacer';
import { emulatorClientConfig } from '../local/aws-env';
import { provisionLocalResources } from '../local/provision';
import type { DiditFloor } from './didit-floor';
import { dynamoItemBytes } from './dynamo-size';
import type { BenchInput, InputName } from './inputs';
import { median, type Summary, summarize } from './stats';

/**
 * Section 2: what the processor adds to a check beyond Didit's own time. The service is built with its real adapters
 * against moto (as test/integration/check-processor.test.ts builds it) and calls the fixed-latency Didit; every port
 * is timed, and the overhead is the whole processUpload minus the time spent inside the Didit call.
 */

export const PHASES = [
  'claim',
  'read',
  'image',
  'didit',
  'saveAnswer',
  'complete',
  'publish',
  'markPublished',
] as const;
export type Phase = (typeof PHASES)[number];

export interface ProcessorRow {
  readonly input: InputName;
  readonly inputBytes: number;
  readonly total: Summary;
  readonly overhead: Summary;
  readonly phases: Record<Phase | 'other', Summary>;
  /** The Didit call as the client saw it minus the time the proxy held it: multipart encoding and loopback. */
  readonly diditClientSide: Summary;
  /** Request body bytes Didit received (the multipart form around the JPEG). */
  readonly bytesSentToDidit: number;
}

/** One check's DynamoDB item after each write the code makes (approximate billed size, bytes). */
export interface ItemSizes {
  readonly created: number;
  readonly claimed: number;
  readonly answerSaved: number;
  readonly completed: number;
  readonly published: number;
}

export interface ProcessorResult {
  readonly diditLatencyMs: number;
  readonly rows: ProcessorRow[];
  /** Service time of the create path (validate, presign, PutItem) and of one GET (GetItem, view). */
  readonly create: Summary;
  readonly get: Summary;
  readonly diditCalls: number;
  readonly diditConnections: number;
  readonly secretsManagerCalls: number;
  readonly checksProcessed: number;
  readonly itemSizes: ItemSizes;
  /** DynamoDB calls one successful check makes, by kind, counted on the client. */
  readonly dynamoCallsPerCheck: Record<string, number>;
}

interface Harness {
  readonly creator: CheckCreator;
  readonly store: CheckStore;
  readonly s3: S3Client;
  readonly bucketName: string;
  readonly ports: ProcessorPorts;
  readonly settings: ConstructorParameters<typeof CheckProcessor>[1];
  readonly diditClient: DiditClient;
  readonly counts: { secrets: number; dynamo: Record<string, number> };
  close(): Promise<void>;
}

async function harness(motoEndpoint: string, floor: DiditFloor): Promise<Harness> {
  const resources = await provisionLocalResources(motoEndpoint, {
    prefix: `bench-${randomUUID().slice(0, 8)}`,
    diditApiKey: floor.apiKey,
  });
  const env = {
    TABLE_NAME: resources.tableName,
    BUCKET_NAME: resources.bucketName,
    EVENT_BUS_NAME: resources.eventBusName,
    DIDIT_API_KEY_SECRET_ID: resources.diditApiKeySecretId,
    DIDIT_BASE_URL: floor.url,
    RETRY_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:unused',
    S3_FORCE_PATH_STYLE: 'true',
  };
  const config = loadProcessorConfig(env);
  const aws = emulatorClientConfig(motoEndpoint);
  const counts = { secrets: 0, dynamo: {} as Record<string, number> };

  const secrets = new SecretsManagerClient(aws);
  secrets.middlewareStack.add(
    (next) => async (args) => {
      counts.secrets++;
      return next(args);
    },
    { step: 'initialize', name: 'benchCountSecretCalls' },
  );
  const dynamo = new DynamoDBClient(aws);
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      counts.dynamo[command] = (counts.dynamo[command] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchCountDynamoCalls' },
  );

  const s3 = new S3Client({ ...aws, forcePathStyle: true });
  const store = new CheckStore(dynamo, config.tableName);
  const diditClient = new DiditClient(
    config.didit,
    cachedSecret(secrets, config.didit.apiKeySecretId, config.secretCacheSeconds),
  );
  const creator = new CheckCreator(
    { store, presigner: new UploadPresigner(s3, config.bucketName) },
    loadCreateCheckConfig({ ...env, ALLOW_INSECURE_CALLBACKS: 'true' }),
  );
  return {
    creator,
    store,
    s3,
    bucketName: config.bucketName,
    ports: {
      store,
      uploads: new UploadReader(s3, config.bucketName),
      uploadRemover: new UploadRemover(s3, config.bucketName),
      prepareImage: prepareImageForDidit,
      didit: diditClient,
      // A budget far above the bench's calls: the bench measures the processor, not the pacing.
      pacer: new DiditPacer(new PacerStateStore(dynamo, config.tableName), {
        requestsPerMinute: 1_000_000,
        probeIntervalMs: 60_000,
      }),
      events: new EventPublisher(new EventBridgeClient(aws), config.eventBusName),
      retries: { startRound: async () => {} },
      clock: () => new Date(),
      newToken: randomUUID,
    },
    settings: {
      uploadPrefix: config.uploadPrefix,
      image: config.image,
      leaseSeconds: config.claimLeaseSeconds,
      retryDueSeconds: config.retryDueSeconds,
      failureHorizonSeconds: config.pacing.failureHorizonSeconds,
      probeIntervalMs: config.pacing.probeIntervalSeconds * 1000,
      waitDueGraceSeconds: config.waitDueGraceSeconds,
      keepUploadsUntilLifecycle: config.keepUploadsUntilLifecycle,
      storeFaceAttributes: config.storeFaceAttributes,
    },
    diditClient,
    counts,
    close: async () => {
      await diditClient.close();
      s3.destroy();
      dynamo.destroy();
      secrets.destroy();
    },
  };
}

/** Store writes the bench times and sizes, by the transition they run. */
const STORE_PHASES: Partial<Record<TransitionName, Phase>> = {
  claimUpload: 'claim',
  saveDiditAnswer: 'saveAnswer',
  complete: 'complete',
  markEventPublished: 'markPublished',
};
const STORE_SIZES: Partial<Record<TransitionName, keyof ItemSizes>> = {
  claimUpload: 'claimed',
  saveDiditAnswer: 'answerSaved',
  complete: 'completed',
  markEventPublished: 'published',
};

/** The store with every transition it runs passed through `around`. */
function byTransition(
  store: CheckStorePort,
  around: <R>(transition: TransitionName, call: () => Promise<R>) => Promise<R>,
): CheckStorePort {
  return {
    create: (record) => store.create(record),
    get: (id) => store.get(id),
    findDue: (now, limit) => store.findDue(now, limit),
    findBySessionId: (sessionId) => store.findBySessionId(sessionId),
    waitingSummary: (limit) => store.waitingSummary(limit),
    execute: (id, step) => around(step.transition, () => store.execute(id, step)),
    attempt: (id, step) => around(step.transition, () => store.attempt(id, step)),
  };
}

/** The same ports with every call timed into `sink` under its phase name. */
function timedPorts(ports: ProcessorPorts, sink: Partial<Record<Phase, number>>): ProcessorPorts {
  const time =
    <A extends unknown[], R>(phase: Phase, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      try {
        return await call(...args);
      } finally {
        sink[phase] = (sink[phase] ?? 0) + performance.now() - started;
      }
    };
  return {
    ...ports,
    store: byTransition(ports.store, (transition, call) => {
      const phase = STORE_PHASES[transition];
      return phase ? time(phase, call)() : call();
    }),
    uploads: { read: time('read', ports.uploads.read.bind(ports.uploads)) },
    prepareImage: time('image', ports.prepareImage),
    didit: { checkLiveness: time('didit', ports.didit.checkLiveness.bind(ports.didit)) },
    events: { publish: time('publish', ports.events.publish.bind(ports.events)) },
  };
}

async function newUploadedCheck(h: Harness, input: BenchInput): Promise<string> {
  const outcome = await h.creator.create(JSON.stringify({ content_type: input.mime, vendor_data: 'bench' }));
  if (outcome.kind === 'replayed-check') throw new Error('a create without a key is never a replay');
  const { created } = outcome;
  await h.s3.send(new PutObjectCommand({ Bucket: h.bucketName, Key: `uploads/${created.id}`, Body: input.bytes }));
  return created.id;
}

export async function runProcessorOverhead(options: {
  motoEndpoint: string;
  floor: DiditFloor;
  inputs: readonly BenchInput[];
  reps: number;
  warmups: number;
}): Promise<ProcessorResult> {
  const { floor, inputs, reps, warmups } = options;
  const h = await harness(options.motoEndpoint, floor);
  try {
    const rows: ProcessorRow[] = [];
    const createSamples: number[] = [];
    const getSamples: number[] = [];
    let checksProcessed = 0;
    let dynamoCallsPerCheck: Record<string, number> = {};
    await floor.reset();
    const secretsBefore = h.counts.secrets;

    for (const input of inputs) {
      const totals: number[] = [];
      const phaseSamples: Record<Phase | 'other', number[]> = Object.fromEntries(
        [...PHASES, 'other'].map((p) => [p, [] as number[]]),
      ) as Record<Phase | 'other', number[]>;
      const diditClientSide: number[] = [];
      let bytesSent: number[] = [];

      for (let run = 0; run < warmups + reps; run++) {
        const createStarted = performance.now();
        const id = await newUploadedCheck(h, input);
        const createMs = performance.now() - createStarted;
        const phases: Partial<Record<Phase, number>> = {};
        const processor = new CheckProcessor(timedPorts(h.ports, phases), h.settings);
        await floor.reset();
        const dynamoBefore = { ...h.counts.dynamo };

        const started = performance.now();
        const outcome = await processor.processUpload(`uploads/${id}`);
        const total = performance.now() - started;
        if (outcome !== 'COMPLETED') throw new Error(`check ${id} ended ${outcome}, not COMPLETED`);
        checksProcessed++;
        dynamoCallsPerCheck = diff(h.counts.dynamo, dynamoBefore);

        const getStarted = performance.now();
        const record = await h.store.get(id);
        if (record) toCheckView(record);
        const getMs = performance.now() - getStarted;
        const stats = await floor.stats();
        if (run < warmups) continue;

        createSamples.push(createMs);
        getSamples.push(getMs);
        totals.push(total);
        let accounted = 0;
        for (const phase of PHASES) {
          const value = phases[phase] ?? 0;
          phaseSamples[phase].push(value);
          accounted += value;
        }
        phaseSamples.other.push(total - accounted);
        diditClientSide.push((phases.didit ?? 0) - (stats.heldMs[0] ?? 0));
        bytesSent = bytesSent.concat(stats.requestBytes);
      }

      const overheads = totals.map((t, i) => t - (phaseSamples.didit[i] ?? 0));
      rows.push({
        input: input.name,
        inputBytes: input.bytes.byteLength,
        total: summarize(totals),
        overhead: summarize(overheads),
        phases: Object.fromEntries(Object.entries(phaseSamples).map(([k, v]) => [k, summarize(v)])) as Record<
          Phase | 'other',
          Summary
        >,
        diditClientSide: summarize(diditClientSide),
        bytesSentToDidit: median(bytesSent),
      });
    }

    // Reuse is judged over one uninterrupted series of calls on one client, as a warm container makes them.
    await floor.reset();
    const seriesInput = inputs[0];
    if (!seriesInput) throw new Error('no inputs');
    const seriesCalls = Math.max(3, reps);
    for (let i = 0; i < seriesCalls; i++) {
      const id = await newUploadedCheck(h, seriesInput);
      await new CheckProcessor(h.ports, h.settings).processUpload(`uploads/${id}`);
      checksProcessed++;
    }
    const series = await floor.stats();

    return {
      diditLatencyMs: floor.latencyMs,
      rows,
      create: summarize(createSamples),
      get: summarize(getSamples),
      diditCalls: series.requests,
      diditConnections: series.connections,
      secretsManagerCalls: h.counts.secrets - secretsBefore,
      checksProcessed,
      itemSizes: await measureItemSizes(h, seriesInput),
      dynamoCallsPerCheck,
    };
  } finally {
    await h.close();
  }
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

/** An untimed pass that reads the item back after every write, for the cost model's write-unit sizes. */
async function measureItemSizes(h: Harness, input: BenchInput): Promise<ItemSizes> {
  const sizes: Partial<Record<keyof ItemSizes, number>> = {};
  const size = async (id: string) => {
    const item = (await h.store.get(id)) as (CheckRecord & Record<string, unknown>) | undefined;
    return item ? dynamoItemBytes(item) : 0;
  };
  const id = await newUploadedCheck(h, input);
  sizes.created = await size(id);
  const ports: ProcessorPorts = {
    ...h.ports,
    store: byTransition(h.ports.store, async (transition, call) => {
      const out = await call();
      const key = STORE_SIZES[transition];
      if (key) sizes[key] = await size(id);
      return out;
    }),
  };
  await new CheckProcessor(ports, h.settings).processUpload(`uploads/${id}`);
  return {
    created: sizes.created ?? 0,
    claimed: sizes.claimed ?? 0,
    answerSaved: sizes.answerSaved ?? 0,
    completed: sizes.completed ?? 0,
    published: sizes.published ?? 0,
  };
}
