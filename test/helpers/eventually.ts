import { vi } from 'vitest';
import type { LocalStack } from '../../local/local-stack';

/** What a probe returns while the awaited state has not come yet. */
export type NotYet = undefined | null | false;

export interface EventuallyOptions {
  /** Give up after this long; below vitest's 30 s test timeout, so the failure names what was awaited. @default 20_000 */
  readonly timeoutMs?: number;
  /** Time between probes (a probe still running is not started again). @default 50 */
  readonly intervalMs?: number;
}

const EVENTUALLY_TIMEOUT_MS = 20_000;
const EVENTUALLY_INTERVAL_MS = 50;

/**
 * The one way tests wait for state: polls `probe` with vitest's `vi.waitFor` and resolves with its first value that is
 * not `undefined`, `null` or `false`. A probe may also throw (an `expect` that does not hold yet, or an error saying
 * what it saw); it is asked again, and on timeout the failure names `what` was awaited and carries the last error.
 *
 * Waiting proves something happened, never that something did not: to show nothing more happens, wait for a signal
 * that necessarily comes after it (see `waitForStackIdle`), then count.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | NotYet | Promise<T | NotYet>,
  options: EventuallyOptions = {},
): Promise<Exclude<T, NotYet>> {
  const timeoutMs = options.timeoutMs ?? EVENTUALLY_TIMEOUT_MS;
  // Made now, so a timeout points at the test line that waited rather than at a timer callback.
  const failure = new Error(`waiting for ${what}`);
  Error.captureStackTrace(failure, eventually);
  let last: unknown;
  try {
    return await vi.waitFor(
      async () => {
        let value: T | NotYet;
        try {
          value = await probe();
        } catch (error) {
          last = error;
          throw error;
        }
        last = undefined;
        if (value === undefined || value === null || value === false) throw new Error(`not yet: ${what}`);
        return value as Exclude<T, NotYet>;
      },
      { timeout: timeoutMs, interval: options.intervalMs ?? EVENTUALLY_INTERVAL_MS },
    );
  } catch {
    failure.message = `Timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last: ${firstLine(last)})`}`;
    if (last !== undefined) failure.cause = last;
    throw failure;
  }
}

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
}

/**
 * Waits until whatever the test set going has run to the end (`stack.isIdle()`): every S3 event processed, every
 * published event received from the bus, every delivery and workflow execution finished. What did not happen by then
 * will not happen, so a test counts calls, events or deliveries after this, never after a fixed sleep.
 */
export async function waitForStackIdle(stack: LocalStack, options?: EventuallyOptions): Promise<void> {
  await eventually(
    'the local stack to be idle (queues empty, no execution, handler call or sweep running)',
    () => stack.isIdle(),
    options,
  );
}
