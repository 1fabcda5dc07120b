import { CheckStore } from '../lambdas/adapters/check-store';
import { DiditClient } from '../lambdas/adapters/didit-client';
import { EventPublisher } from '../lambdas/adapters/event-publisher';
import { UploadReader } from '../lambdas/adapters/upload-reader';
import { startLocalStack } from '../local/local-stack';
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
  /** Kept for older result files: local/queue-pump.ts now keeps receiving while messages are in flight. */
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
