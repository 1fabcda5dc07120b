import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProxyStats } from './delay-proxy';

/**
 * The fixed-latency Didit: the loopback simulator behind a delaying proxy, in a child process. Every call takes
 * `latencyMs` from the proxy's point of view, which is the floor the processor and end-to-end figures are held to.
 */
export interface DiditFloor {
  readonly url: string;
  readonly apiKey: string;
  readonly latencyMs: number;
  stats(): Promise<ProxyStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./didit-floor-child.ts', import.meta.url));

export async function startDiditFloor(latencyMs: number, apiKey = 'bench-didit-key'): Promise<DiditFloor> {
  const child: ChildProcess = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_DIDIT_API_KEY: apiKey, BENCH_DIDIT_LATENCY_MS: String(latencyMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`Didit floor exited with ${code} before it was ready`)));
    child.once('message', (message: { type: string; url: string }) => resolve(message.url));
  });

  const ask = <T>(type: 'stats' | 'reset'): Promise<T> =>
    new Promise((resolve) => {
      const onMessage = (message: { type: string } & T) => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.send({ type });
    });

  return {
    url,
    apiKey,
    latencyMs,
    stats: async () => (await ask<{ stats: ProxyStats }>('stats')).stats,
    reset: async () => void (await ask('reset')),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
