import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/local-stack';

/**
 * The local stack as integration tests run it: a free port, the run's shared moto_server and synthesized state
 * machines, resources named uniquely per test file, time compressed and the sweeper run by hand (`stack.sweep()`),
 * and a Didit budget far above what a test calls (pacing tests set their own).
 */
export function startTestStack(name: string, options: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    port: 0,
    motoEndpoint: inject('motoEndpoint'),
    workflows: inject('workflows'),
    resourcePrefix: `${name}-${randomUUID().slice(0, 8)}`,
    timeScale: 0.001,
    sweepIntervalMs: 0,
    ...options,
    // The shared Didit budget is exercised by the pacing tests; elsewhere it must not pace a test's handful of calls.
    handlerEnv: { DIDIT_REQUESTS_PER_MINUTE: '6000', ...options.handlerEnv },
  });
}
