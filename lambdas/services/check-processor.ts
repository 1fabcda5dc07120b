import type { CheckRecord, CheckResult } from '../core/check';
import { checkIdFromKey, isTerminal } from '../core/check';
import type { ImageConfig } from '../core/image-pipeline';
import { CheckConflictError } from '../core/lifecycle/conflicts';
import { type Step, step } from '../core/lifecycle/transitions';
import { METRICS, type MetricsPort, NO_METRICS } from '../core/metrics';
import type { CheckStorePort, Clock, EventSinkPort, RetrySchedulerPort } from '../core/ports';
import { type AttemptResult, type RetryRoundInput, roundInput } from '../core/retry-round';
import { asLivenessError, RetryableError } from '../errors';
import { logger } from '../observability';
import { CheckEvaluator, type EvaluatorPorts } from './check-evaluator';
import { EventOutbox } from './event-outbox';

/** What the processor needs from the outside world (lambdas/core/ports.ts); adapters implement these. */
export interface ProcessorPorts extends Omit<EvaluatorPorts, 'metrics'> {
  readonly store: CheckStorePort;
  readonly events: EventSinkPort;
  /** Starts the Step Functions round that owns retries (idempotent per check and round). */
  readonly retries: RetrySchedulerPort;
  readonly clock: Clock;
  readonly newToken: () => string;
  /** Where checks started/finished, Didit calls and image sizes are counted. @default NO_METRICS */
  readonly metrics?: MetricsPort;
}

export interface ProcessorSettings {
  readonly uploadPrefix: string;
  readonly image: ImageConfig;
  /** How long a claim protects a check from a second processor; longer than the function timeout. */
  readonly leaseSeconds: number;
  /** How long a RETRYING check may stay quiet before the sweeper restarts its round (longer than the schedule). */
  readonly retryDueSeconds: number;
}

export type ProcessOutcome =
  | 'COMPLETED'
  | 'FAILED'
  | 'RETRYING'
  | 'DUPLICATE'
  | 'REPUBLISHED'
  | 'NOT_A_CHECK'
  | 'UNKNOWN_CHECK';

/**
 * One uploaded object → one terminal check. Claim first so a duplicate S3 event cannot call Didit twice; complete the
 * check with Didit's answer the moment it arrives (and if that write fails, keep the answer on the check so the next
 * attempt finishes without calling Didit again); hand retryable failures to the Step Functions workflow; publish the
 * event through the outbox.
 */
export class CheckProcessor {
  private readonly metrics: MetricsPort;
  private readonly evaluator: CheckEvaluator;
  private readonly outbox: EventOutbox;

  constructor(
    private readonly ports: ProcessorPorts,
    private readonly settings: ProcessorSettings,
  ) {
    this.metrics = ports.metrics ?? NO_METRICS;
    this.evaluator = new CheckEvaluator({ ...ports, metrics: this.metrics }, settings.image);
    this.outbox = new EventOutbox(ports, settings.leaseSeconds);
  }

  /** The S3 path: first attempt for a freshly uploaded image. */
  async processUpload(key: string): Promise<ProcessOutcome> {
    const id = checkIdFromKey(this.settings.uploadPrefix, key);
    if (!id) {
      logger.warn('Ignoring an object that does not belong to a check', { keyLength: key.length });
      return 'NOT_A_CHECK';
    }
    const token = this.ports.newToken();
    const claim = await this.ports.store.attempt(id, step('claimUpload', this.claim(token)));
    if (!claim.applied) return this.handleUnclaimed(id, claim.current);
    this.metrics.record(METRICS.checksStarted, 1);
    return this.withCheckKey(id, async () => {
      const finished = await this.run(claim.record, token, true);
      this.recordOutcome(finished);
      if (finished.status === 'RETRYING') {
        await this.ports.retries.startRound(roundInput(finished));
        return 'RETRYING';
      }
      await this.outbox.publish(finished);
      return finished.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED';
    });
  }

  /** The workflow's Attempt task: one more try within a round. */
  async attempt(input: RetryRoundInput): Promise<AttemptResult> {
    const token = this.ports.newToken();
    const claim = await this.ports.store.attempt(
      input.check_id,
      step('claimRetry', { round: input.round, ...this.claim(token) }),
    );
    if (!claim.applied) {
      if (claim.current && isTerminal(claim.current.status)) await this.outbox.republishIfPending(claim.current);
      logger.info('Retry attempt skipped', { checkId: input.check_id, status: claim.current?.status });
      return { ...input, outcome: 'SKIPPED' };
    }
    return this.withCheckKey(input.check_id, async () => {
      const finished = await this.run(claim.record, token, false);
      this.recordOutcome(finished);
      if (finished.status === 'RETRYING') {
        return {
          ...input,
          attempt: input.attempt + 1,
          retry_after_seconds: finished.retry_after_seconds ?? 0,
          outcome: 'RETRY',
        };
      }
      await this.outbox.publish(finished);
      return { ...input, outcome: finished.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED' };
    });
  }

  /** The workflow's GiveUp task: the schedule is exhausted, the last retryable error becomes the check's error. */
  async giveUp(input: Pick<RetryRoundInput, 'check_id' | 'round'>): Promise<{ outcome: 'FAILED' | 'SKIPPED' }> {
    const given = await this.ports.store.attempt(
      input.check_id,
      step('giveUp', { round: input.round, now: this.ports.clock() }),
    );
    if (!given.applied) {
      if (given.current && isTerminal(given.current.status)) await this.outbox.republishIfPending(given.current);
      return { outcome: 'SKIPPED' };
    }
    logger.warn('Retries exhausted', { checkId: input.check_id, code: given.record.error?.code });
    this.recordOutcome(given.record);
    await this.outbox.publish(given.record);
    return { outcome: 'FAILED' };
  }

  private claim(token: string) {
    return { token, now: this.ports.clock(), leaseSeconds: this.settings.leaseSeconds };
  }

  /** One attempt of a claimed check, to the state it leaves it in (COMPLETED, FAILED or RETRYING). */
  private async run(record: CheckRecord, token: string, firstAttempt: boolean): Promise<CheckRecord> {
    let result: CheckResult;
    try {
      if (record.pending_result) {
        // An earlier attempt got Didit's answer and could not store it: finish with it, never call Didit again.
        logger.info('Finishing with the Didit answer an earlier attempt saved');
        result = record.pending_result;
      } else {
        result = await this.evaluator.evaluate(record);
      }
    } catch (thrown) {
      const error = asLivenessError(thrown);
      logger.warn('Attempt failed', { code: error.code, retryable: error.retryable, errorName: errorName(thrown) });
      const failure = { code: error.code, message: error.message };
      const now = this.ports.clock();
      return this.write(
        record.id,
        error instanceof RetryableError
          ? step('deferRetry', {
              token,
              error: failure,
              retryAfterSeconds: error.retryAfterSeconds,
              newRound: firstAttempt,
              now,
              dueInSeconds: this.settings.retryDueSeconds,
            })
          : step('fail', { token, error: failure, now }),
      );
    }
    try {
      return await this.write(record.id, step('complete', { token, result, now: this.ports.clock() }));
    } catch (error) {
      if (error instanceof CheckConflictError) throw error;
      // We paid for this answer: keep it on the check so whoever finishes the check uses it instead of a new call.
      await this.write(record.id, step('saveDiditAnswer', { token, result, now: this.ports.clock() }));
      throw error;
    }
  }

  private async write(id: string, transition: Step): Promise<CheckRecord> {
    try {
      return await this.ports.store.execute(id, transition);
    } catch (error) {
      if (error instanceof CheckConflictError) logger.warn('Another attempt took over this check; dropping this one');
      throw error;
    }
  }

  private async handleUnclaimed(id: string, current: CheckRecord | undefined): Promise<ProcessOutcome> {
    if (!current) {
      logger.warn('Upload for an unknown check', { checkId: id });
      return 'UNKNOWN_CHECK';
    }
    if (current.status === 'RETRYING' && current.retry_round !== undefined) {
      // The attempt that deferred may have died before starting its round; starting it again is a no-op if it runs.
      await this.ports.retries.startRound(roundInput(current));
    }
    if (await this.outbox.republishIfPending(current)) return 'REPUBLISHED';
    logger.info('Duplicate or late upload event ignored', { checkId: id, status: current.status });
    return 'DUPLICATE';
  }

  /** Counts this attempt's own transition; a republished or skipped check was counted by the attempt that wrote it. */
  private recordOutcome(record: CheckRecord): void {
    if (record.status === 'RETRYING') {
      this.metrics.record(METRICS.checksRetrying, 1);
    } else if (record.status === 'COMPLETED') {
      this.metrics.record(METRICS.checksCompleted, 1);
      if (record.result?.decision === 'Approved') this.metrics.record(METRICS.checksApproved, 1);
      if (record.result?.decision === 'Declined') this.metrics.record(METRICS.checksDeclined, 1);
    } else if (record.status === 'FAILED') {
      this.metrics.record(METRICS.checksFailed, 1, record.error?.code ?? 'UNKNOWN');
    }
  }

  private async withCheckKey<T>(id: string, work: () => Promise<T>): Promise<T> {
    logger.appendKeys({ checkId: id });
    try {
      return await work();
    } finally {
      logger.removeKeys(['checkId']);
    }
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
