import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { S3Event } from 'aws-lambda';
import { generateWebhookSecret } from '../lambdas/core/standard-webhooks';
import { deliveryRequestFor } from '../lambdas/core/webhook-payload';
import { type ApiHandler, createApiServer } from './api-server';
import { fakeLambdaArn } from './asl-from-template';
import { LOCAL_REGION } from './aws-env';
import { DEFAULT_CLIENT_APP, type LocalClientApp, localApiKeyId } from './client-apps';
import type { QuotaOptions } from './didit-quota';
import { DiditSimulator } from './didit-simulator';
import { DiditWebhookEmitter, type DiditWebhookEmitterOptions } from './didit-webhook-emitter';
import { type Moto, startMoto } from './moto';
import { type LocalResources, provisionLocalResources, UPLOAD_PREFIX } from './provision';
import { QueuePump } from './queue-pump';
import { RekognitionSimulator } from './rekognition-simulator';
import { LocalStepFunctions, type TaskHandler } from './step-functions';
import { startStepFunctionsServer } from './step-functions-server';
import { type SynthesizedWorkflows, synthesizeWorkflows } from './synthesized-workflows';
import { startWebClient } from './web-client';

const LOCAL_RETRY_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:liveness-retry';
const LOCAL_DELIVERY_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:liveness-webhook-delivery';

export interface LocalStackOptions {
  /** API port; 0 picks a free one. @default 3000 */
  readonly port?: number;
  /** The key clients send as `x-api-key` (the "default" client app's). @default 'local-dev-key' */
  readonly apiKey?: string;
  /**
   * Every client app with its key (`LIVENESS_API_KEYS`); each owns the checks its key creates and gets its own
   * signing secret. Replaces `apiKey`. @default [{ app: 'default', apiKey }]
   */
  readonly clientApps?: readonly LocalClientApp[];
  /** A real Didit API key; when absent the Didit simulator runs on loopback. */
  readonly diditApiKey?: string;
  /** Where Didit is; overrides the real endpoint or the simulator alike. */
  readonly diditBaseUrl?: string;
  /** Run the Rekognition DetectFaces pre-screen (against the loopback simulator). @default false */
  readonly prescreen?: boolean;
  /** The simulator's request limit and credit balance. @default 300 per 60 s, unlimited credits */
  readonly diditQuota?: QuotaOptions;
  /** What the simulator answers when out of credits. @default 402 */
  readonly diditOutOfCreditsStatus?: 402 | 403;
  /** Reuse a running moto_server instead of starting one. */
  readonly motoEndpoint?: string;
  /** Prefix of every resource name in the emulator. @default 'liveness-local' */
  readonly resourcePrefix?: string;
  /** Extra settings for the handlers (e.g. short Didit timeouts in tests). */
  readonly handlerEnv?: Record<string, string>;
  /** Called with every event that reaches the bus (EventBridge envelope). */
  readonly onEvent?: (event: BusEvent) => void;
  /** Multiplies every Step Functions wait and retry interval (1 = real time; tests use ~0.001). @default 1 */
  readonly timeScale?: number;
  /** How often the sweeper runs; 0 disables it (tests call `sweep()`). @default 5000 */
  readonly sweepIntervalMs?: number;
  /** The state machines `cdk synth` renders; synthesized here when not given (takes a few seconds). */
  readonly workflows?: SynthesizedWorkflows;
  /** Didit's webhook secret_shared_key for `POST /v1/webhooks/didit`. @default a random local value */
  readonly diditWebhookSecret?: string;
  /** The `whsec_…` secret that signs the first client app's callbacks. @default a newly generated one */
  readonly webhookSigningSecret?: string;
  /**
   * The Didit simulator sends Didit's signed status.updated webhooks for saved requests to this stack's
   * `/v1/webhooks/didit` (`diditSimulator.webhooks`); timing as given. Off when absent, or with a real Didit.
   */
  readonly diditWebhooks?: Omit<DiditWebhookEmitterOptions, 'url' | 'secret'>;
  readonly log?: (line: string) => void;
}

export interface BusEvent {
  /** EventBridge's id of this event: a second PutEvents gets a new one, a queue's redelivery keeps it. */
  readonly id?: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly detail: Record<string, unknown>;
}

/** A client app of the running stack: its key and the secret its callbacks are signed with. */
export interface RunningClientApp extends LocalClientApp {
  readonly webhookSigningSecret: string;
}

export interface LocalStack {
  readonly apiUrl: string;
  /** The first client app's key. */
  readonly apiKey: string;
  /** Every client app, the first one first. */
  readonly clientApps: readonly RunningClientApp[];
  readonly motoEndpoint: string;
  readonly diditBaseUrl: string;
  readonly resources: LocalResources;
  /** Present when the Didit simulator runs (no real key given). */
  readonly diditSimulator: DiditSimulator | undefined;
  readonly rekognitionSimulator: RekognitionSimulator | undefined;
  /** The local Step Functions runtime executing the synthesized retry and delivery state machines. */
  readonly stepFunctions: LocalStepFunctions;
  readonly retryStateMachineArn: string;
  readonly deliveryStateMachineArn: string;
  readonly diditWebhookSecret: string;
  /** The first client app's signing secret (also signs for owners that are no client app). */
  readonly webhookSigningSecret: string;
  /** Runs the sweeper once, now. */
  sweep(): Promise<unknown>;
  /**
   * True when nothing is left to happen without new input: every queue (uploads, bus tail, deliveries) is empty and
   * its pump holds no message, no execution runs, no handler call or sweep is in flight, and none started while the
   * queues were read. Tests poll it to know that whatever could still happen already has.
   */
  isIdle(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * The whole service on 127.0.0.1: moto for S3/DynamoDB/EventBridge/SQS/Secrets Manager, the Didit simulator (unless a
 * real key is given), the API on a local port running the deployed handlers, and the bucket's ObjectCreated
 * notifications driving the same processor handler. Handlers read their config from process.env at import, as in
 * Lambda, so one process hosts one local stack.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  // Lambda runs Node 22+; the SDK's warning about this machine's Node 20 is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const log = options.log ?? (() => {});
  const clientApps: readonly LocalClientApp[] = options.clientApps?.length
    ? options.clientApps
    : [{ app: DEFAULT_CLIENT_APP, apiKey: options.apiKey ?? 'local-dev-key' }];
  const apiKey = (clientApps[0] as LocalClientApp).apiKey;
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
  };

  try {
    let moto: Moto | undefined;
    let motoEndpoint = options.motoEndpoint;
    if (!motoEndpoint) {
      moto = await startMoto();
      motoEndpoint = moto.endpoint;
      stops.push(() => moto?.stop() ?? Promise.resolve());
    }

    let diditSimulator: DiditSimulator | undefined;
    let diditApiKey = options.diditApiKey;
    let diditBaseUrl = options.diditBaseUrl;
    if (!diditApiKey) {
      diditApiKey = `sim-${randomBytes(8).toString('hex')}`;
      diditSimulator = new DiditSimulator({
        apiKey: diditApiKey,
        ...(options.diditQuota ? { quota: options.diditQuota } : {}),
        ...(options.diditOutOfCreditsStatus ? { outOfCreditsStatus: options.diditOutOfCreditsStatus } : {}),
      });
      const simulatorUrl = await diditSimulator.start();
      stops.push(() => diditSimulator?.stop() ?? Promise.resolve());
      diditBaseUrl ??= simulatorUrl;
    }
    diditBaseUrl ??= 'https://verification.didit.me';

    let rekognitionSimulator: RekognitionSimulator | undefined;
    if (options.prescreen) {
      rekognitionSimulator = new RekognitionSimulator();
      await rekognitionSimulator.start();
      stops.push(() => rekognitionSimulator?.stop() ?? Promise.resolve());
    }

    const diditWebhookSecret = options.diditWebhookSecret ?? `local-${randomBytes(16).toString('hex')}`;
    const webhookSigningSecret = options.webhookSigningSecret ?? generateWebhookSecret();
    // Each client app signs with its own secret; the first one's is the stack's default secret.
    const running: RunningClientApp[] = clientApps.map((client, index) => ({
      ...client,
      webhookSigningSecret: index === 0 ? webhookSigningSecret : generateWebhookSecret(),
    }));
    const resources = await provisionLocalResources(motoEndpoint, {
      prefix: options.resourcePrefix ?? 'liveness-local',
      diditApiKey,
      diditWebhookSecret,
      webhookSigningSecret,
      webhookSigningSecrets: Object.fromEntries(running.slice(1).map((c) => [c.app, c.webhookSigningSecret])),
    });
    const signingSecretIds = running.map(
      (c, index) =>
        `${c.app}=${index === 0 ? resources.webhookSigningSecretId : resources.webhookSigningSecretIds[c.app]}`,
    );

    // Step Functions: the synthesized definitions, their Lambda tasks bound to the handlers imported below.
    const workflows = options.workflows ?? synthesizeWorkflows();
    const stepFunctions = new LocalStepFunctions({ timeScale: options.timeScale ?? 1 });
    stops.push(() => stepFunctions.stop());
    const sfnServer = await startStepFunctionsServer(stepFunctions);
    stops.push(() => sfnServer.close());
    const taskHandlers: Record<string, TaskHandler> = {};

    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL: motoEndpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      S3_FORCE_PATH_STYLE: 'true',
      TABLE_NAME: resources.tableName,
      BUCKET_NAME: resources.bucketName,
      EVENT_BUS_NAME: resources.eventBusName,
      UPLOAD_PREFIX,
      DIDIT_BASE_URL: diditBaseUrl,
      DIDIT_API_KEY_SECRET_ID: resources.diditApiKeySecretId,
      PRESCREEN_ENABLED: options.prescreen ? 'true' : 'false',
      ALLOW_INSECURE_CALLBACKS: 'true',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      ...(rekognitionSimulator ? { AWS_ENDPOINT_URL_REKOGNITION: rekognitionSimulator.url } : {}),
      AWS_ENDPOINT_URL_SFN: sfnServer.endpoint,
      RETRY_STATE_MACHINE_ARN: LOCAL_RETRY_ARN,
      DIDIT_WEBHOOK_SECRET_ID: resources.diditWebhookSecretId,
      WEBHOOK_SIGNING_SECRET_ID: resources.webhookSigningSecretId,
      WEBHOOK_SIGNING_SECRET_IDS: signingSecretIds.join(','),
      CLIENT_APP_API_KEY_IDS: clientApps.map((c) => `${c.app}=${localApiKeyId(c.app)}`).join(','),
      ...options.handlerEnv,
    });

    // Imported only now: like Lambda, each handler reads and validates its config once, at module load.
    const [
      { handler: createCheck },
      { handler: getCheck },
      { handler: deleteCheck },
      { handler: processUpload },
      { handler: sweepChecks },
      { handler: deliverWebhook },
      { handler: diditWebhook },
    ] = await Promise.all([
      import('../lambdas/handlers/create-check'),
      import('../lambdas/handlers/get-check'),
      import('../lambdas/handlers/delete-check'),
      import('../lambdas/handlers/process-upload'),
      import('../lambdas/handlers/sweep-checks'),
      import('../lambdas/handlers/deliver-webhook'),
      import('../lambdas/handlers/didit-webhook'),
    ]);

    taskHandlers[fakeLambdaArn(workflows.retry.processorLogicalId)] = processUpload as TaskHandler;
    taskHandlers[fakeLambdaArn(workflows.delivery.deliverLogicalId)] = deliverWebhook as TaskHandler;
    stepFunctions.registerStateMachine({
      name: 'liveness-retry',
      arn: LOCAL_RETRY_ARN,
      definition: workflows.retry.definition,
      taskHandlers,
    });
    stepFunctions.registerStateMachine({
      name: 'liveness-webhook-delivery',
      arn: LOCAL_DELIVERY_ARN,
      definition: workflows.delivery.definition,
      taskHandlers,
    });

    // The browser sample at /: web/app.ts bundled now, so a page that does not build stops the start with the reason.
    const webClient = await startWebClient();
    stops.push(() => webClient.dispose());
    const server = createApiServer(
      [
        { method: 'POST', resource: '/v1/liveness-checks', handler: createCheck as ApiHandler },
        { method: 'GET', resource: '/v1/liveness-checks/{id}', handler: getCheck as ApiHandler },
        // One function reads both, as in the stack (lib/parts/upload-api.ts).
        { method: 'GET', resource: '/v1/liveness-checks', handler: getCheck as ApiHandler },
        { method: 'DELETE', resource: '/v1/liveness-checks/{id}', handler: deleteCheck as ApiHandler },
        { method: 'POST', resource: '/v1/webhooks/didit', handler: diditWebhook as ApiHandler, apiKeyRequired: false },
      ],
      clientApps,
      webClient.files,
    );
    const apiUrl = await listen(server, options.port ?? 3000);
    stops.push(() => close(server));
    if (diditSimulator && options.diditWebhooks) {
      const emitter = new DiditWebhookEmitter({
        ...options.diditWebhooks,
        url: `${apiUrl}/v1/webhooks/didit`,
        secret: diditWebhookSecret,
      });
      diditSimulator.webhooks = emitter;
      stops.push(async () => emitter.stop());
    }

    const uploads = new QueuePump(
      motoEndpoint,
      resources.uploadQueueUrl,
      async (body) => {
        const message = JSON.parse(body) as Partial<S3Event> & { Event?: string };
        if (message.Event === 's3:TestEvent' || !message.Records) return;
        await processUpload(message as S3Event);
      },
      (error) => log(`processor failed; the upload event will be redelivered: ${(error as Error).message}`),
    );
    uploads.start();
    stops.push(() => uploads.stop());

    const tail = new QueuePump(motoEndpoint, resources.eventQueueUrl, async (body) => {
      options.onEvent?.(JSON.parse(body) as BusEvent);
    });
    tail.start();
    stops.push(() => tail.stop());

    // The stack's rule starts the delivery state machine with the event's ids as input (its input transformer);
    // here the rule feeds a queue, and the same ids-only request is made of each event.
    const deliveries = new QueuePump(motoEndpoint, resources.deliveryQueueUrl, async (body) => {
      const input = JSON.stringify(deliveryRequestFor(JSON.parse(body) as Parameters<typeof deliveryRequestFor>[0]));
      stepFunctions.startExecution({ stateMachineArn: LOCAL_DELIVERY_ARN, input });
    });
    deliveries.start();
    stops.push(() => deliveries.stop());

    let sweepsStarted = 0;
    let sweepsRunning = 0;
    const sweep = async () => {
      sweepsStarted++;
      sweepsRunning++;
      try {
        return await sweepChecks();
      } finally {
        sweepsRunning--;
      }
    };
    const sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
    if (sweepIntervalMs > 0) {
      const timer = setInterval(() => {
        sweep().catch((error: unknown) => log(`sweeper failed: ${(error as Error).message}`));
      }, sweepIntervalMs);
      stops.push(async () => clearInterval(timer));
    }

    // In-process work only starts by receiving a message, starting an execution or sweeping, and each counts; so if
    // nothing runs before and after the queues are read and no count moved, nothing ran meanwhile and the queues
    // (which only that work and the caller write to) were empty at the end too.
    const pumps = [uploads, tail, deliveries];
    const activity = () => ({
      busy: sweepsRunning > 0 || !stepFunctions.isIdle() || pumps.some((pump) => pump.busy > 0),
      started: [sweepsStarted, stepFunctions.startedExecutions, ...pumps.map((pump) => pump.received)].join(),
    });
    const isIdle = async () => {
      const before = activity();
      if (before.busy) return false;
      const unfinished = await Promise.all(pumps.map((pump) => pump.unfinished()));
      const after = activity();
      return !after.busy && after.started === before.started && unfinished.every((count) => count === 0);
    };

    return {
      apiUrl,
      apiKey,
      clientApps: running,
      motoEndpoint,
      diditBaseUrl,
      resources,
      diditSimulator,
      rekognitionSimulator,
      stepFunctions,
      retryStateMachineArn: LOCAL_RETRY_ARN,
      deliveryStateMachineArn: LOCAL_DELIVERY_ARN,
      diditWebhookSecret,
      webhookSigningSecret,
      sweep,
      isIdle,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function listen(server: Server, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
