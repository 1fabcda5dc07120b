import { isTerminal } from '../lambdas/core/check';
import type { CheckView } from '../lambdas/core/check-view';
import { CliError } from './cli-error';
import { sleep } from './liveness-api-client';

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Called once per status the check passes through, including the terminal one. */
  readonly onStatus?: (check: CheckView) => void;
}

/** A check usually finishes within seconds; polling starts brisk and eases off for the long retry rounds. */
const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 2_000;
/** One dropped poll during a long wait is not worth aborting for; several in a row mean the API is gone. */
const TOLERATED_UNREACHABLE_POLLS = 3;

export interface WaitResult {
  /** The last state seen: terminal, or still pending when the timeout ran out. */
  readonly check: CheckView;
  readonly timedOut: boolean;
}

export async function waitForTerminalCheck(
  getCheck: (id: string) => Promise<CheckView>,
  id: string,
  options: WaitOptions,
): Promise<WaitResult> {
  const deadline = Date.now() + options.timeoutMs;
  let lastStatus: string | undefined;
  let interval = FIRST_POLL_MS;
  let unreachable = 0;
  for (;;) {
    let check: CheckView;
    try {
      check = await getCheck(id);
      unreachable = 0;
    } catch (error) {
      if (!(error instanceof CliError && error.outcome === 'API_UNREACHABLE')) throw error;
      if (++unreachable > TOLERATED_UNREACHABLE_POLLS || Date.now() > deadline) throw error;
      await sleep(interval);
      continue;
    }
    const statusKey = `${check.status}/${check.wait?.reason ?? ''}/${check.retry?.round ?? ''}/${check.retry?.failed_attempts ?? ''}`;
    if (statusKey !== lastStatus) {
      lastStatus = statusKey;
      options.onStatus?.(check);
    }
    if (isTerminal(check.status)) return { check, timedOut: false };
    if (Date.now() >= deadline) return { check, timedOut: true };
    await sleep(Math.min(interval, Math.max(deadline - Date.now(), 0)));
    interval = Math.min(Math.round(interval * 1.5), MAX_POLL_MS);
  }
}
