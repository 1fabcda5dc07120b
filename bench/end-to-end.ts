import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SynthesizedWorkflows } from '../local/synthesized-workflows';
import type { E2eChildConfig, E2eEvent } from './e2e-child';
import type { MotoFlavour } from './moto';
import { type Summary, summarize } from './stats';

/**
 * Section 4: a client's view of a check on the local stack: create → presigned POST upload → COMPLETED, one at a
 * time and 20 at once, against the fixed Didit latency. Completion time is the check's own updated_at when it
 * became COMPLETED (read from its terminal event), so no polling load is added and no polling interval is measured.
 */

export interface E2eVariant {
  readonly name: string;
  readonly moto: MotoFlavour;
  readonly pump: 'stock' | 'concurrent';
}

export interface E2eScenario {
  readonly input: string;
  readonly bytes: Buffer;
  readonly mime: string;
  readonly inFlight: number;
  /** Checks measured (a multiple of inFlight: that many waves of inFlight checks started together). */
  readonly checks: number;
}

export interface E2eRow {
  readonly variant: string;
  readonly input: string;
  readonly inFlight: number;
  /** create → COMPLETED written. */
  readonly latency: Summary;
  /** create → terminal event read off the bus by the client side. */
  readonly observed: Summary;
  readonly create: Summary;
  readonly upload: Summary;
  /** upload answered → COMPLETED: S3 notification, queue, processor, Didit. */
  readonly afterUpload: Summary;
  readonly failed: number;
  /** Adapter call durations inside the local stack during the measured checks (median per call). */
  readonly calls: Record<string, Summary>;
  /** CPU per measured check: the Node process running API + handlers, and moto (undefined without /proc). */
  readonly stackCpuMsPerCheck: number;
  readonly motoCpuMsPerCheck?: number;
  /** Wall time of the measured checks, all waves. */
  readonly wallMs: number;
}

export interface E2eResult {
  readonly diditLatencyMs: number;
  readonly rows: E2eRow[];
}

const CHILD = fileURLToPath(new URL('./e2e-child.ts', import.meta.url));

/** CPU milliseconds spent by the stack's Node process and by moto between two `phases` requests. */
interface CpuUsed {
  readonly stackMs: number;
  readonly motoMs?: number;
}

type ChildMessage =
  | { readonly type: 'ready'; readonly apiUrl: string; readonly apiKey: string }
  | { readonly type: 'phases'; readonly phases: Record<string, number[]>; readonly cpu: CpuUsed }
  | E2eEvent;
const EVENT_TIMEOUT_MS = 60_000;

interface RunningStack {
  readonly apiUrl: string;
  readonly apiKey: string;
  waitFor(id: string): Promise<E2eEvent>;
  /** The adapter call durations and CPU the stack collected since the last call. */
  phases(): Promise<{ phases: Record<string, number[]>; cpu: CpuUsed }>;
  stop(): Promise<void>;
}

async function startStack(config: Omit<E2eChildConfig, 'type'> & { cpuProfileDir?: string }): Promise<RunningStack> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: [
      '--import',
      'tsx',
      ...(config.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfileDir}`] : []),
    ],
    // WARN as `npm start` runs: at INFO every check writes log lines to the terminal being measured.
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events = new Map<string, E2eEvent>();
  let phaseReply: ((reply: { phases: Record<string, number[]>; cpu: CpuUsed }) => void) | undefined;
  const waiters = new Map<string, (event: E2eEvent) => void>();
  const ready = new Promise<{ apiUrl: string; apiKey: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`local stack exited with ${code} before it was ready`)));
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        resolve({ apiUrl: message.apiUrl, apiKey: message.apiKey });
      } else if (message.type === 'phases') {
        phaseReply?.({ phases: message.phases, cpu: message.cpu });
      } else if (message.type === 'event') {
        const event = message;
        const waiter = waiters.get(event.id);
        if (waiter) waiter(event);
        else events.set(event.id, event);
      }
    });
  });
  const { cpuProfileDir: _, ...childConfig } = config;
  child.send({ type: 'start', ...childConfig } satisfies E2eChildConfig);
  const { apiUrl, apiKey } = await ready;
  return {
    apiUrl,
    apiKey,
    waitFor: (id) => {
      const seen = events.get(id);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no terminal event for ${id}`)), EVENT_TIMEOUT_MS);
        waiters.set(id, (event) => {
          clearTimeout(timer);
          waiters.delete(id);
          resolve(event);
        });
      });
    },
    phases: () =>
      new Promise((resolve) => {
        phaseReply = resolve;
        child.send({ type: 'phases' });
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface CheckTiming {
  readonly latency: number;
  readonly observed: number;
  readonly create: number;
  readonly upload: number;
  readonly afterUpload: number;
  readonly completed: boolean;
}

/** One check exactly as a client app makes it: JSON create, then the presigned POST with the file last. */
async function oneCheck(stack: RunningStack, bytes: Buffer, mime: string): Promise<CheckTiming> {
  const started = Date.now();
  const res = await fetch(`${stack.apiUrl}/v1/liveness-checks`, {
    method: 'POST',
    headers: { 'x-api-key': stack.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ content_type: mime, vendor_data: 'bench' }),
  });
  const created = (await res.json()) as { id: string; upload: { url: string; fields: Record<string, string> } };
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${JSON.stringify(created)}`);
  const createdAt = Date.now();
  const form = new FormData();
  for (const [name, value] of Object.entries(created.upload.fields)) form.append(name, value);
  form.append('file', new Blob([bytes], { type: mime }), 'selfie');
  const upload = await fetch(created.upload.url, { method: 'POST', body: form });
  await upload.arrayBuffer();
  if (upload.status >= 300) throw new Error(`upload answered ${upload.status}`);
  const uploadedAt = Date.now();
  const event = await stack.waitFor(created.id);
  const completedAt = Date.parse(event.occurredAt);
  return {
    latency: completedAt - started,
    observed: event.receivedAt - started,
    create: createdAt - started,
    upload: uploadedAt - createdAt,
    afterUpload: completedAt - uploadedAt,
    completed: event.status === 'COMPLETED',
  };
}

export async function runEndToEnd(options: {
  latencyMs: number;
  workflows: SynthesizedWorkflows;
  variants: readonly E2eVariant[];
  scenarios: readonly E2eScenario[];
  warmups: number;
  /** Run each variant's stack under `node --cpu-prof`, writing into `<dir>/<variant>`. */
  cpuProfileDir?: string;
}): Promise<E2eResult> {
  const rows: E2eRow[] = [];
  for (const variant of options.variants) {
    const stack = await startStack({
      latencyMs: options.latencyMs,
      moto: variant.moto,
      pump: variant.pump,
      workflows: options.workflows,
      ...(options.cpuProfileDir ? { cpuProfileDir: path.join(options.cpuProfileDir, variant.name) } : {}),
    });
    try {
      for (const scenario of options.scenarios) {
        // Unmeasured: first connections, first S3/DynamoDB calls on this stack, JIT.
        for (let i = 0; i < options.warmups; i++) await oneCheck(stack, scenario.bytes, scenario.mime);
        await stack.phases();
        const timings: CheckTiming[] = [];
        const wallStarted = Date.now();
        const waves = Math.max(1, Math.round(scenario.checks / scenario.inFlight));
        for (let wave = 0; wave < waves; wave++) {
          const batch = await Promise.all(
            Array.from({ length: scenario.inFlight }, () => oneCheck(stack, scenario.bytes, scenario.mime)),
          );
          timings.push(...batch);
        }
        const wallMs = Date.now() - wallStarted;
        const measured = await stack.phases();
        const calls = Object.fromEntries(
          Object.entries(measured.phases).map(([name, samples]) => [name, summarize(samples)]),
        );
        const pick = (key: keyof Omit<CheckTiming, 'completed'>) => summarize(timings.map((t) => t[key]));
        rows.push({
          variant: variant.name,
          input: scenario.input,
          inFlight: scenario.inFlight,
          latency: pick('latency'),
          observed: pick('observed'),
          create: pick('create'),
          upload: pick('upload'),
          afterUpload: pick('afterUpload'),
          failed: timings.filter((t) => !t.completed).length,
          calls,
          stackCpuMsPerCheck: measured.cpu.stackMs / timings.length,
          ...(measured.cpu.motoMs !== undefined ? { motoCpuMsPerCheck: measured.cpu.motoMs / timings.length } : {}),
          wallMs: wallMs,
        });
      }
    } finally {
      await stack.stop();
    }
  }
  return { diditLatencyMs: options.latencyMs, rows };
}
