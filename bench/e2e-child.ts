import { DeleteMessageCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CheckStore } from '../lambdas/adapters/check-store';
import { DiditClient } from '../lambdas/adapters/didit-client';
import { EventPublisher } from '../lambdas/adapters/event-publisher';
import { UploadReader } from '../lambdas/adapters/upload-reader';
import { startLocalStack } from '../local/local-stack';
import { QueuePump } from '../local/queue-pump';
import type { SynthesizedWorkflows } from '../local/synthesized-workflows';
import { startDiditFloor } from './didit-floor';
import { type MotoFlavour, motoCpuMs, startBenchMoto } from './moto';

/**
 * The service half of the end-to-end measurement: one local stack (moto, the fixed-latency Didit, the API and the
 * handlers) in its own process, so the load generator in the parent never shares an event loop with the handlers.
 * Each terminal event on the bus is reported to the parent with the time the check reached COMPLETED.
 */

export interface E2eChildConfig {
  readonly type: 'start';
  readonly latencyMs: number;
  readonly moto: MotoFlavour;
  /** `stock`: local/queue-pump.ts as written; `concurrent`: the proposed fix, patched in for this process only. */
  readonly pump: 'stock' | 'concurrent';
  readonly workflows: SynthesizedWorkflows;
}

export interface E2eEvent {
  readonly type: 'event';
  readonly id: string;
  readonly status: string;
  /** The check's updated_at when it reached its terminal state (ISO). */
  readonly occurredAt: string;
  /** Date.now() when the event came off the bus's tail queue. */
  readonly receivedAt: number;
}

/** How many messages the patched pump works on at once (Lambda's S3 trigger has no batch barrier at all). */
const PUMP_CONCURRENCY = 64;

/**
 * The proposed change to QueuePump.run: receive again as soon as a batch is handed out instead of after its slowest
 * message finished, so one check's Didit wait no longer holds back the uploads that arrived behind it.
 */
function patchQueuePump(): void {
  type PumpInternals = {
    running: boolean;
    sqs: SQSClient;
    queueUrl: string;
    onMessage: (body: string) => Promise<void>;
    onError: (error: unknown) => void;
  };
  const prototype = QueuePump.prototype as unknown as { run: (this: PumpInternals) => Promise<void> };
  prototype.run = async function run(this: PumpInternals): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const handle = async (message: Message) => {
      try {
        await this.onMessage(message.Body ?? '');
        await this.sqs.send(
          new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      } catch (error) {
        this.onError(error);
      }
    };
    while (this.running) {
      try {
        while (inFlight.size >= PUMP_CONCURRENCY) await Promise.race(inFlight);
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: Math.min(10, PUMP_CONCURRENCY - inFlight.size),
            WaitTimeSeconds: 1,
            VisibilityTimeout: 10,
          }),
        );
        for (const message of out.Messages ?? []) {
          const task = handle(message).finally(() => inFlight.delete(task));
          inFlight.add(task);
        }
      } catch (error) {
        if (!this.running) break;
        this.onError(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    await Promise.all(inFlight);
  };
}

/** Call durations of the adapters the handlers use, by name, since the last `phases` request. */
const phaseSamples = new Map<string, number[]>();

/**
 * Times every call of the adapters' prototype methods. The handlers build their adapters at import, so patching the
 * prototypes is the only way in without changing them; the cost is two performance.now() calls per call.
 */
function timeAdapterCalls(): void {
  const targets: Array<[string, object, string[]]> = [
    ['store', CheckStore.prototype, ['create', 'get', 'claim', 'saveDiditAnswer', 'complete', 'markEventPublished']],
    ['s3', UploadReader.prototype, ['read']],
    ['didit', DiditClient.prototype, ['checkLiveness']],
    ['events', EventPublisher.prototype, ['publish']],
  ];
  for (const [prefix, prototype, methods] of targets) {
    const table = prototype as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const method of methods) {
      const original = table[method];
      if (!original) continue;
      table[method] = async function timed(this: unknown, ...args: unknown[]) {
        const started = performance.now();
        try {
          return await original.apply(this, args);
        } finally {
          const name = `${prefix}.${method}`;
          const samples = phaseSamples.get(name) ?? [];
          samples.push(performance.now() - started);
          phaseSamples.set(name, samples);
        }
      };
    }
  }
}

const config = await new Promise<E2eChildConfig>((resolve) => {
  process.once('message', (message: E2eChildConfig) => resolve(message));
});
if (config.pump === 'concurrent') patchQueuePump();
timeAdapterCalls();

const moto = await startBenchMoto(config.moto);
const floor = await startDiditFloor(config.latencyMs);
const stack = await startLocalStack({
  port: 0,
  motoEndpoint: moto.endpoint,
  diditApiKey: floor.apiKey,
  diditBaseUrl: floor.url,
  timeScale: 0.001,
  sweepIntervalMs: 0,
  workflows: config.workflows,
  resourcePrefix: 'bench-e2e',
  log: (line) => process.stderr.write(`[local stack] ${line}\n`),
  onEvent: (event) => {
    const detail = event.detail as { id: string; status: string; occurred_at: string };
    const message: E2eEvent = {
      type: 'event',
      id: detail.id,
      status: detail.status,
      occurredAt: detail.occurred_at,
      receivedAt: Date.now(),
    };
    process.send?.(message);
  },
});
process.send?.({ type: 'ready', apiUrl: stack.apiUrl, apiKey: stack.apiKey });

/** CPU used since the last `phases` request: this process (API, handlers, pumps) and moto. */
let cpuMark = { stack: process.cpuUsage(), moto: motoCpuMs(moto.port) };

process.on('message', async (message: { type: string }) => {
  if (message.type === 'phases') {
    const stack = process.cpuUsage(cpuMark.stack);
    const motoNow = motoCpuMs(moto.port);
    const cpu = {
      stackMs: (stack.user + stack.system) / 1000,
      ...(motoNow !== undefined && cpuMark.moto !== undefined ? { motoMs: motoNow - cpuMark.moto } : {}),
    };
    process.send?.({ type: 'phases', phases: Object.fromEntries(phaseSamples), cpu });
    phaseSamples.clear();
    cpuMark = { stack: process.cpuUsage(), moto: motoNow };
    return;
  }
  if (message.type !== 'stop') return;
  await stack.stop();
  await floor.stop();
  await moto.stop();
  // Handles the stack leaves behind (keep-alive sockets, timers) must not keep a finished benchmark alive.
  process.exit(0);
});
