import type { CheckRecord } from './check';

/**
 * The contract between the processor and the retry workflow (lib/parts/retry-workflow.ts): what one execution is
 * started with and what its Attempt task returns. The input is the same for every start of one round, so a second
 * start is refused by Step Functions (the execution is named after check and round).
 */
export interface RetryRoundInput {
  readonly check_id: string;
  readonly round: number;
  /** Attempts that already failed for real in this check's life when the round starts (0 for a waiting check). */
  readonly attempt: number;
  readonly retry_after_seconds: number;
  /** A WAITING check's round starts by waiting until this time (ISO 8601) without calling Didit. */
  readonly resume_at?: string;
}

/** What the workflow's Attempt task returns: its next state input plus the outcome the Choice state branches on. */
export interface AttemptResult extends RetryRoundInput {
  /** WAIT: the check waits until `resume_at` (no attempt spent); RETRY: a real failure, back off and try again. */
  readonly outcome: 'COMPLETED' | 'FAILED' | 'RETRY' | 'WAIT' | 'SKIPPED';
}

/** The deterministic execution input for a RETRYING check's current round. */
export function roundInput(record: CheckRecord): RetryRoundInput {
  return {
    check_id: record.id,
    round: record.retry_round ?? 1,
    attempt: record.retry_attempt ?? 0,
    retry_after_seconds: record.retry_after_seconds ?? 0,
    ...(record.status === 'WAITING' && record.resume_at ? { resume_at: record.resume_at } : {}),
  };
}

/** `<check id>-r<round>`: unique per round, within Step Functions' 80-character limit. */
export function executionName(checkId: string, round: number): string {
  return `${checkId}-r${round}`;
}
