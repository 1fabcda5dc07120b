import type { ClaimOutcome } from '../adapters/check-store';
import { ClaimLostError } from '../adapters/check-store';
import type { DomainEvent } from '../adapters/event-publisher';
import type { ImageConfig } from '../config';
import type { CheckError, CheckRecord, CheckResult } from '../core/check';
import { checkIdFromKey, isTerminal } from '../core/check';
import { terminalEventFor } from '../core/check-events';
import { decisionFrom } from '../core/didit-response';
import type { DiditLiveness, DiditLivenessRequest, DiditPassiveLivenessResponse } from '../core/didit-types';
import type { PreparedImage } from '../core/image-pipeline';
import {
  asLivenessError,
  DependencyThrottledError,
  DiditAuthError,
  DiditBadResponseError,
  DiditRejectedRequestError,
  DiditUnavailableError,
  RetryableError,
} from '../errors';
import { logger } from '../observability';
import { METRICS, type MetricsPort, NO_METRICS } from './metrics';

/** Input of one retry-workflow execution; the same for every start of one round, so a second start is a no-op. */
export interface RetryRoundInput {
  readonly check_id: string;
  readonly round: number;
  /** Attempts that already failed in this check's life when the round starts (≥ 1). */
  readonly attempt: number;
  readonly retry_after_seconds: number;
}

/** What the workflow's Attempt task returns: its next state input plus the outcome the Choice state branches on. */
export interface AttemptResult extends RetryRoundInput {
  readonly outcome: 'COMPLETED' | 'FAILED' | 'RETRY' | 'SKIPPED';
}

/** What the processor needs from the outside world; adapters implement these. */
export interface ProcessorPorts {
  readonly store: {
    claim(id: string, token: string, now: Date, leaseSeconds: number): Promise<ClaimOutcome>;
    claimRetry(id: string, round: number, token: string, now: Date, leaseSeconds: number): Promise<ClaimOutcome>;
    saveDiditAnswer(id: string, token: string, result: CheckResult, now: Date): Promise<void>;
    complete(id: string, token: string, result: CheckResult, now: Date): Promise<CheckRecord>;
    fail(id: string, token: string, error: CheckError, now: Date): Promise<CheckRecord>;
    deferRetry(
      id: string,
      token: string,
      failure: { error: CheckError; retryAfterSeconds: number | undefined; newRound: boolean },
      now: Date,
      dueInSeconds: number,
    ): Promise<CheckRecord>;
    giveUp(id: string, round: number, now: Date): Promise<CheckRecord>;
    get(id: string): Promise<CheckRecord | undefined>;
    claimPendingEvent(id: string, status: CheckRecord['status'], now: Date, leaseSeconds: number): Promise<boolean>;
    markEventPublished(id: string, status: CheckRecord['status']): Promise<void>;
  };
  readonly uploads: { read(key: string): Promise<Uint8Array> };
  readonly prepareImage: (input: Uint8Array, config: ImageConfig) => Promise<PreparedImage>;
  /** Present only when the Rekognition pre-screen is enabled. */
  readonly faces?: { countFaces(jpeg: Uint8Array): Promise<number> } | undefined;
  readonly didit: { checkLiveness(request: DiditLivenessRequest): Promise<DiditPassiveLivenessResponse> };
  readonly events: { publish(events: readonly DomainEvent[]): Promise<void> };
  /** Starts the Step Functions round that owns retries (idempotent per check and round). */
  readonly retries: { startRound(input: RetryRoundInput): Promise<void> };
  readonly clock: () => Date;
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

/** Writing the answer we paid Didit for gets a few quick tries before the attempt gives up on it. */
const RESULT_WRITE_TRIES = 3;

/**
 * One uploaded object → one terminal check. Claim first so a duplicate S3 event cannot call Didit twice; write
 * Didit's answer before anything else can fail; hand retryable failures to the Step Functions workflow; publish
 * the terminal event after the write and let a later delivery republish it if publishing failed (`event_pending`).
 */
export class CheckProcessor {
  private readonly metrics: MetricsPort;

  constructor(
    private readonly ports: ProcessorPorts,
    private readonly settings: ProcessorSettings,
  ) {
    this.metrics = ports.metrics ?? NO_METRICS;
  }

  /** The S3 path: first attempt for a freshly uploaded image. */
  async processUpload(key: string): Promise<ProcessOutcome> {
    const id = checkIdFromKey(this.settings.uploadPrefix, key);
    if (!id) {
      logger.warn('Ignoring an object that does not belong to a check', { keyLength: key.length });
      return 'NOT_A_CHECK';
    }
    const token = this.ports.newToken();
    const claim = await this.ports.store.claim(id, token, this.ports.clock(), this.settings.leaseSeconds);
    if (!claim.claimed) return this.handleUnclaimed(id, claim.current);
    this.metrics.record(METRICS.checksStarted, 1);
    return this.withCheckKey(id, async () => {
      const finished = await this.run(claim.record, token, true);
      this.recordOutcome(finished);
      if (finished.status === 'RETRYING') {
        await this.ports.retries.startRound(roundInput(finished));
        return 'RETRYING';
      }
      await this.publishTerminal(finished);
      return finished.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED';
    });
  }

  /** The workflow's Attempt task: one more try within a round. */
  async attempt(input: RetryRoundInput): Promise<AttemptResult> {
    const token = this.ports.newToken();
    const claim = await this.ports.store.claimRetry(
      input.check_id,
      input.round,
      token,
      this.ports.clock(),
      this.settings.leaseSeconds,
    );
    if (!claim.claimed) {
      if (claim.current && isTerminal(claim.current.status)) await this.republishIfPending(claim.current);
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
      await this.publishTerminal(finished);
      return { ...input, outcome: finished.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED' };
    });
  }

  /** The workflow's GiveUp task: the schedule is exhausted, the last retryable error becomes the check's error. */
  async giveUp(input: Pick<RetryRoundInput, 'check_id' | 'round'>): Promise<{ outcome: 'FAILED' | 'SKIPPED' }> {
    let failed: CheckRecord;
    try {
      failed = await this.ports.store.giveUp(input.check_id, input.round, this.ports.clock());
    } catch (error) {
      if (!(error instanceof ClaimLostError)) throw error;
      const current = await this.ports.store.get(input.check_id);
      if (current && isTerminal(current.status)) await this.republishIfPending(current);
      return { outcome: 'SKIPPED' };
    }
    logger.warn('Retries exhausted', { checkId: input.check_id, code: failed.error?.code });
    this.recordOutcome(failed);
    await this.publishTerminal(failed);
    return { outcome: 'FAILED' };
  }

  private async run(record: CheckRecord, token: string, firstAttempt: boolean): Promise<CheckRecord> {
    let result: CheckResult;
    try {
      if (record.pending_result) {
        // An earlier attempt got Didit's answer and died before finishing: finish with it, never call Didit again.
        logger.info('Finishing with the Didit answer an earlier attempt saved');
        result = record.pending_result;
      } else {
        result = await this.evaluate(record, token);
      }
    } catch (thrown) {
      const error = asLivenessError(thrown);
      logger.warn('Attempt failed', { code: error.code, retryable: error.retryable, errorName: errorName(thrown) });
      if (error instanceof RetryableError) {
        return this.write(() =>
          this.ports.store.deferRetry(
            record.id,
            token,
            {
              error: { code: error.code, message: error.message },
              retryAfterSeconds: error.retryAfterSeconds,
              newRound: firstAttempt,
            },
            this.ports.clock(),
            this.settings.retryDueSeconds,
          ),
        );
      }
      return this.write(() =>
        this.ports.store.fail(record.id, token, { code: error.code, message: error.message }, this.ports.clock()),
      );
    }
    // Didit's answer is stored before anything else that could fail; the write gets quick retries of its own.
    return this.write(
      () => this.ports.store.complete(record.id, token, result, this.ports.clock()),
      RESULT_WRITE_TRIES,
    );
  }

  private async evaluate(record: CheckRecord, token: string): Promise<CheckResult> {
    const original = await this.ports.uploads.read(record.upload_key);
    const image = await this.ports.prepareImage(original, this.settings.image);
    this.metrics.record(METRICS.imageBytesIn, image.inputBytes);
    this.metrics.record(METRICS.imageBytesOut, image.outputBytes);
    logger.info('Image prepared', {
      inputType: image.inputType,
      inputBytes: image.inputBytes,
      outputBytes: image.outputBytes,
      width: image.width,
      height: image.height,
    });

    let faceCount: number | undefined;
    if (this.ports.faces) {
      faceCount = await this.ports.faces.countFaces(image.jpeg);
      logger.info('Pre-screen done', { faceCount });
      if (faceCount === 0) {
        this.metrics.record(METRICS.prescreenRejections, 1);
        return noFaceResult();
      }
    }

    const started = Date.now();
    let response: DiditPassiveLivenessResponse;
    try {
      response = await this.ports.didit.checkLiveness({
        image: image.jpeg,
        faceLivenessScoreDeclineThreshold: record.face_liveness_score_decline_threshold,
        rotateImage: record.rotate_image,
        saveApiRequest: record.save_api_request,
        vendorData: record.vendor_data,
        metadata: record.metadata,
      });
    } catch (error) {
      this.recordDiditCall(Date.now() - started, error);
      throw error;
    }
    this.recordDiditCall(Date.now() - started, undefined);
    logger.info('Didit answered', { diditLatencyMs: Date.now() - started, livenessStatus: response.liveness.status });
    const result: CheckResult = {
      request_id: response.request_id,
      liveness: response.liveness,
      decision: decisionFrom(response.liveness),
      didit_created_at: response.created_at ?? null,
      ...(faceCount !== undefined ? { prescreen_face_count: faceCount } : {}),
    };
    // The answer we paid for is stored before anything else can fail (with quick retries of its own).
    await this.write(async () => {
      await this.ports.store.saveDiditAnswer(record.id, token, result, this.ports.clock());
      return record;
    }, RESULT_WRITE_TRIES);
    return result;
  }

  private async write(call: () => Promise<CheckRecord>, tries = 1): Promise<CheckRecord> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof ClaimLostError) {
          logger.warn('Another attempt took over this check; dropping this one');
          throw error;
        }
        if (!(error instanceof DependencyThrottledError) || attempt >= tries) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
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
    if (await this.republishIfPending(current)) return 'REPUBLISHED';
    logger.info('Duplicate or late upload event ignored', { checkId: id, status: current.status });
    return 'DUPLICATE';
  }

  /** Finishes the job of an attempt that wrote a terminal state but died before its event got out. */
  private async republishIfPending(current: CheckRecord): Promise<boolean> {
    if (!current.event_pending) return false;
    const claimed = await this.ports.store.claimPendingEvent(
      current.id,
      current.status,
      this.ports.clock(),
      this.settings.leaseSeconds,
    );
    if (!claimed) return false;
    await this.publishTerminal(current);
    return true;
  }

  private async publishTerminal(record: CheckRecord): Promise<void> {
    const event = terminalEventFor(record);
    if (!event) return;
    await this.ports.events.publish([event]);
    await this.ports.store.markEventPublished(record.id, record.status);
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

  /** One Didit call: its latency and status (`error` undefined = a 2xx answer). Other errors are not Didit's. */
  private recordDiditCall(latencyMs: number, error: unknown): void {
    const status = diditStatusOf(error);
    if (status === undefined) return;
    this.metrics.record(METRICS.diditCalls, 1, status);
    this.metrics.record(METRICS.diditLatency, latencyMs);
    if (status === '401' || status === '403') this.metrics.record(METRICS.diditAuthFailures, 1);
    if (status === '429') this.metrics.record(METRICS.diditThrottled, 1);
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

/** The deterministic execution input for a RETRYING check's current round. */
export function roundInput(record: CheckRecord): RetryRoundInput {
  return {
    check_id: record.id,
    round: record.retry_round ?? 1,
    attempt: Math.max(1, record.retry_attempt ?? 1),
    retry_after_seconds: record.retry_after_seconds ?? 0,
  };
}

function noFaceResult(): CheckResult {
  const liveness: DiditLiveness = {
    status: 'Declined',
    method: 'PASSIVE',
    score: null,
    user_image: null,
    warnings: [
      {
        risk: 'NO_FACE_DETECTED',
        log_type: 'error',
        short_description: 'No face detected',
        long_description: 'The pre-screen found no face in the image, so it was not sent to Didit.',
      },
    ],
    face_quality: null,
    face_luminance: null,
  };
  return { request_id: null, liveness, decision: 'Declined', prescreen_face_count: 0 };
}

/** The `status` breakdown of a Didit call, or undefined when the error did not come from calling Didit. */
function diditStatusOf(error: unknown): string | undefined {
  if (error === undefined) return '2xx';
  if (error instanceof DiditAuthError || error instanceof DiditRejectedRequestError) return String(error.httpStatus);
  if (error instanceof DiditUnavailableError) {
    return error.httpStatus === undefined ? 'NETWORK' : String(error.httpStatus);
  }
  if (error instanceof DiditBadResponseError) return 'BAD_RESPONSE';
  return undefined;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
