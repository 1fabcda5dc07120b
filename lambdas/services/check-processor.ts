import type { CheckError, CheckRecord, CheckResult } from '../core/check';
import { checkIdFromKey, isTerminal, isTombstone } from '../core/check';
import { rawAnswerWithoutFaceAttributes, withoutFaceAttributes } from '../core/face-attributes';
import type { FailureCode } from '../core/failure-codes';
import type { ImageConfig } from '../core/image-pipeline';
import { CheckConflictError } from '../core/lifecycle/conflicts';
import { type Step, step } from '../core/lifecycle/transitions';
import { METRICS, type MetricsPort, NO_METRICS } from '../core/metrics';
import type { CheckStorePort, Clock, EventSinkPort, RetrySchedulerPort, UploadRemoverPort } from '../core/ports';
import { type AttemptResult, type RetryRoundInput, roundInput } from '../core/retry-round';
import {
  asLivenessError,
  DependencyThrottledError,
  DiditChargedAnswerError,
  type LivenessError,
  RetryableError,
} from '../errors';
import { logger } from '../observability';
import { CheckEvaluator, type Evaluation, type EvaluatorPorts } from './check-evaluator';
import { EventOutbox } from './event-outbox';

/** What the processor needs from the outside world (lambdas/core/ports.ts); adapters implement these. */
export interface ProcessorPorts extends Omit<EvaluatorPorts, 'metrics'> {
  readonly store: CheckStorePort;
  readonly events: EventSinkPort;
  /** Starts the Step Functions round that owns retries (idempotent per check and round). */
  readonly retries: RetrySchedulerPort;
  /** Deletes uploads: an ended check's (unless kept for an audit) and any that arrives for an ended or deleted check. */
  readonly uploadRemover: UploadRemoverPort;
  readonly clock: Clock;
  readonly newToken: () => string;
  /** Jitter for waits. @default Math.random */
  readonly random?: () => number;
  /** Waits in-process for a pacing slot less than PACE_LEAD_MS (check-evaluator.ts) away. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
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
  /** A check that Didit keeps failing (5xx, timeouts, no credits) for this long ends FAILED; waiting for pace never. */
  readonly failureHorizonSeconds: number;
  /** While out of credits, one probe call per this long. */
  readonly probeIntervalMs: number;
  /** How long past its resume time a WAITING check may stay quiet before the sweeper restarts its round. */
  readonly waitDueGraceSeconds: number;
  /** Keep an ended check's upload until the bucket's lifecycle rule removes it (customers who must audit). */
  readonly keepUploadsUntilLifecycle: boolean;
  /** Store Didit's age, gender and race/ethnicity estimates with the result (off: only box and confidence). */
  readonly storeFaceAttributes: boolean;
}

export type ProcessOutcome =
  | 'COMPLETED'
  | 'FAILED'
  | 'WAITING'
  | 'RETRYING'
  | 'DUPLICATE'
  | 'REPUBLISHED'
  | 'NOT_A_CHECK'
  | 'UNKNOWN_CHECK'
  | 'DELETED';

/**
 * One uploaded object → one terminal check. Claim first so a duplicate S3 event cannot call Didit twice; complete the
 * check with Didit's answer the moment it arrives (and if that write fails, keep the answer on the check so the next
 * attempt finishes without calling Didit again); hand retryable failures to the Step Functions workflow; publish the
 * event through the outbox.
 *
 * Over the house limit of ~300 lines: the two ways in (an S3 event, a Step Functions retry round) share the claim, the
 * lease, the deleted-while-running and erasure handling and the outcome metrics; apart, each half would re-derive them.
 * What a check becomes is decided elsewhere (core/lifecycle, check-evaluator.ts); this class only sequences it.
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
    this.evaluator = new CheckEvaluator(
      { ...ports, metrics: this.metrics },
      { image: settings.image, probeIntervalMs: settings.probeIntervalMs },
    );
    this.outbox = new EventOutbox(
      { ...ports, endedUploads: settings.keepUploadsUntilLifecycle ? undefined : ports.uploadRemover },
      settings.leaseSeconds,
    );
  }

  /**
   * The S3 path: first attempt for a freshly uploaded image. `etag` is the S3 event's: every read of the upload is
   * pinned to it, so a second upload with the same presigned POST cannot swap the image under the check.
   */
  async processUpload(key: string, etag?: string): Promise<ProcessOutcome> {
    const id = checkIdFromKey(this.settings.uploadPrefix, key);
    if (!id) {
      logger.warn('Ignoring an object that does not belong to a check', { keyLength: key.length });
      return 'NOT_A_CHECK';
    }
    const token = this.ports.newToken();
    const claim = await this.ports.store.attempt(id, step('claimUpload', { ...this.claim(token), etag }));
    if (!claim.applied) return this.handleUnclaimed(id, key, claim.current);
    this.metrics.record(METRICS.checksStarted, 1);
    return this.withCheckKey(id, async () => {
      const finished = await this.run(claim.record, token, true);
      if (isTombstone(finished)) return 'DELETED';
      this.recordOutcome(finished);
      if (finished.status === 'RETRYING' || finished.status === 'WAITING') {
        await this.ports.retries.startRound(roundInput(finished));
        return finished.status;
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
      if (isTombstone(finished)) return { ...input, outcome: 'SKIPPED' };
      this.recordOutcome(finished);
      if (finished.status === 'WAITING') {
        return { ...input, resume_at: finished.resume_at ?? this.ports.clock().toISOString(), outcome: 'WAIT' };
      }
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

  /**
   * One attempt of a claimed check, to the state it leaves it in (COMPLETED, FAILED, WAITING or RETRYING), or the
   * tombstone when the check was deleted meanwhile: every write is then refused and nothing is written back, but a
   * session Didit saved for this attempt is owed an erasure.
   */
  private async run(record: CheckRecord, token: string, firstAttempt: boolean): Promise<CheckRecord> {
    let answered: CheckResult | undefined;
    try {
      return await this.runClaimed(record, token, firstAttempt, (result) => {
        answered = result;
      });
    } catch (error) {
      if (!(error instanceof CheckConflictError && error.current && isTombstone(error.current))) throw error;
      logger.info('The check was deleted while it was processed; nothing is written back', { checkId: record.id });
      const session = record.save_api_request ? answered?.request_id : undefined;
      if (session && !error.current.didit_erasure) {
        await this.ports.store.attempt(
          record.id,
          step('requestDiditErasure', { seen: error.current, session, now: this.ports.clock() }),
        );
      }
      return error.current;
    }
  }

  private async runClaimed(
    record: CheckRecord,
    token: string,
    firstAttempt: boolean,
    onAnswer: (result: CheckResult) => void,
  ): Promise<CheckRecord> {
    let evaluation: Evaluation;
    try {
      evaluation = record.pending_result
        ? // An earlier attempt got Didit's answer and could not store it: finish with it, never call Didit again.
          { kind: 'result', result: record.pending_result }
        : await this.evaluator.evaluate(record, firstAttempt);
    } catch (thrown) {
      return this.afterFailure(record, token, firstAttempt, asLivenessError(thrown), thrown);
    }
    if (evaluation.kind === 'wait') return this.waitOrGiveUp(record, token, firstAttempt, evaluation);
    const result = this.settings.storeFaceAttributes ? evaluation.result : withoutFaceAttributes(evaluation.result);
    const rawAnswer =
      evaluation.rawAnswer === undefined || this.settings.storeFaceAttributes
        ? evaluation.rawAnswer
        : rawAnswerWithoutFaceAttributes(evaluation.rawAnswer);
    onAnswer(result);
    try {
      return await this.write(record.id, step('complete', { token, result, now: this.ports.clock(), rawAnswer }));
    } catch (error) {
      if (error instanceof CheckConflictError) throw error;
      // We paid for this answer: keep it on the check so whoever finishes the check uses it instead of a new call.
      await this.write(record.id, step('saveDiditAnswer', { token, result, now: this.ports.clock() }));
      throw error;
    }
  }

  /**
   * What a thrown error means for the check: a throttled AWS dependency waits (no attempt spent); a real Didit failure
   * is retried by the workflow; both until the failure horizon. Anything else is permanent.
   */
  private async afterFailure(
    record: CheckRecord,
    token: string,
    firstAttempt: boolean,
    error: LivenessError,
    thrown: unknown,
  ): Promise<CheckRecord> {
    logger.warn('Attempt failed', { code: error.code, retryable: error.retryable, errorName: errorName(thrown) });
    const now = this.ports.clock();
    const failure: CheckError = { code: error.code, message: error.message };
    if (error instanceof DependencyThrottledError) {
      return this.waitOrGiveUp(
        record,
        token,
        firstAttempt,
        {
          kind: 'wait',
          reason: 'DEPENDENCY_THROTTLED',
          until: new Date(now.getTime() + this.throttleBackoffMs(record, now)),
          outage: true,
        },
        failure,
      );
    }
    if (error instanceof RetryableError) {
      const horizon = this.pastHorizon(record, now, error.code);
      if (horizon) return this.write(record.id, step('fail', { token, error: horizon, now }));
      return this.write(
        record.id,
        step('deferRetry', {
          token,
          error: failure,
          retryAfterSeconds: error.retryAfterSeconds,
          newRound: firstAttempt,
          now,
          dueInSeconds: this.settings.retryDueSeconds,
        }),
      );
    }
    const raw = thrown instanceof DiditChargedAnswerError ? thrown.rawBody : undefined;
    const rawAnswer =
      raw === undefined || this.settings.storeFaceAttributes ? raw : rawAnswerWithoutFaceAttributes(raw);
    return this.write(record.id, step('fail', { token, error: failure, now, rawAnswer }));
  }

  private async waitOrGiveUp(
    record: CheckRecord,
    token: string,
    firstAttempt: boolean,
    wait: Extract<Evaluation, { kind: 'wait' }>,
    cause?: CheckError,
  ): Promise<CheckRecord> {
    const now = this.ports.clock();
    const code: FailureCode = wait.reason === 'OUT_OF_CREDITS' ? 'DIDIT_OUT_OF_CREDITS' : 'DEPENDENCY_THROTTLED';
    const horizon = wait.outage ? this.pastHorizon(record, now, code, cause) : undefined;
    if (horizon) return this.write(record.id, step('fail', { token, error: horizon, now }));
    this.metrics.record(METRICS.checksWaiting, 1, wait.reason);
    logger.info('Waiting without calling Didit', { reason: wait.reason, resumeAt: wait.until.toISOString() });
    return this.write(
      record.id,
      step('wait', {
        token,
        reason: wait.reason,
        resumeAt: wait.until,
        ticket: wait.ticket,
        outage: wait.outage,
        newRound: firstAttempt,
        now,
        dueGraceSeconds: this.settings.waitDueGraceSeconds,
      }),
    );
  }

  /** The error a check ends with once Didit (or a dependency) has failed it for longer than the horizon. */
  private pastHorizon(record: CheckRecord, now: Date, code: FailureCode, cause?: CheckError): CheckError | undefined {
    if (!record.outage_since) return undefined;
    const minutes = (now.getTime() - Date.parse(record.outage_since)) / 60_000;
    if (minutes * 60 < this.settings.failureHorizonSeconds) return undefined;
    const what: Partial<Record<FailureCode, string>> = {
      DIDIT_OUT_OF_CREDITS: 'Didit could not charge checks (out of credits)',
      DEPENDENCY_THROTTLED: 'An AWS dependency kept throttling',
    };
    const last = cause?.message ?? record.last_error?.message;
    return {
      code,
      message:
        `${what[code] ?? 'Didit kept failing'} for ${Math.round(minutes)} minutes, past the failure horizon` +
        (last ? ` (last: ${last})` : ''),
    };
  }

  /** Waits after AWS throttling grow with how long it has lasted: 2 s at first, up to a minute, jittered. */
  private throttleBackoffMs(record: CheckRecord, now: Date): number {
    const lasted = record.outage_since ? now.getTime() - Date.parse(record.outage_since) : 0;
    const cap = Math.min(60_000, Math.max(2_000, lasted / 2));
    return Math.round(cap / 2 + ((this.ports.random ?? Math.random)() * cap) / 2);
  }

  private async write(id: string, transition: Step): Promise<CheckRecord> {
    try {
      return await this.ports.store.execute(id, transition);
    } catch (error) {
      if (error instanceof CheckConflictError) logger.warn('Another attempt took over this check; dropping this one');
      throw error;
    }
  }

  private async handleUnclaimed(id: string, key: string, current: CheckRecord | undefined): Promise<ProcessOutcome> {
    if (!current) {
      logger.warn('Upload for an unknown check', { checkId: id });
      return 'UNKNOWN_CHECK';
    }
    if (isTombstone(current)) {
      // Uploaded with the presigned POST after the check was deleted: erased at once.
      await this.ports.uploadRemover.remove(key);
      logger.info('Upload for a deleted check removed', { checkId: id });
      return 'DELETED';
    }
    if (isTerminal(current.status) && !this.settings.keepUploadsUntilLifecycle) {
      // A second upload after the check ended (or a late duplicate event): nothing will ever read it.
      await this.ports.uploadRemover.remove(key);
    }
    if ((current.status === 'RETRYING' || current.status === 'WAITING') && current.retry_round !== undefined) {
      // The attempt that deferred may have died before starting its round; starting it again is a no-op if it runs.
      await this.ports.retries.startRound(roundInput(current));
    }
    if (await this.outbox.republishIfPending(current)) return 'REPUBLISHED';
    logger.info('Duplicate or late upload event ignored', { checkId: id, status: current.status });
    return 'DUPLICATE';
  }

  /** Counts this attempt's own transition; a republished or skipped check was counted by the attempt that wrote it. */
  private recordOutcome(record: CheckRecord): void {
    if (record.status === 'WAITING') {
      // Counted by reason where the wait is decided (waitOrGiveUp).
    } else if (record.status === 'RETRYING') {
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
