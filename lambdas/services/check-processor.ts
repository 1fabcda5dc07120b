import type { ClaimOutcome } from '../adapters/check-store';
import { ClaimLostError } from '../adapters/check-store';
import type { DomainEvent } from '../adapters/event-publisher';
import type { ImageConfig } from '../config';
import type { CheckRecord, CheckResult } from '../core/check';
import { checkIdFromKey } from '../core/check';
import { terminalEventFor } from '../core/check-events';
import { decisionFrom } from '../core/didit-response';
import type { DiditLiveness, DiditLivenessRequest, DiditPassiveLivenessResponse } from '../core/didit-types';
import type { PreparedImage } from '../core/image-pipeline';
import { asLivenessError, type LivenessError } from '../errors';
import { logger } from '../observability';

/** What the processor needs from the outside world; adapters implement these, tests may pass the real ones. */
export interface ProcessorPorts {
  readonly store: {
    claim(id: string, token: string, now: Date, leaseSeconds: number): Promise<ClaimOutcome>;
    complete(id: string, token: string, result: CheckResult, now: Date): Promise<CheckRecord>;
    fail(
      id: string,
      token: string,
      error: { code: LivenessError['code']; message: string },
      now: Date,
    ): Promise<CheckRecord>;
    claimPendingEvent(id: string, status: CheckRecord['status'], now: Date, leaseSeconds: number): Promise<boolean>;
    markEventPublished(id: string, status: CheckRecord['status']): Promise<void>;
  };
  readonly uploads: { read(key: string): Promise<Uint8Array> };
  readonly prepareImage: (input: Uint8Array, config: ImageConfig) => Promise<PreparedImage>;
  /** Present only when the Rekognition pre-screen is enabled. */
  readonly faces?: { countFaces(jpeg: Uint8Array): Promise<number> } | undefined;
  readonly didit: { checkLiveness(request: DiditLivenessRequest): Promise<DiditPassiveLivenessResponse> };
  readonly events: { publish(events: readonly DomainEvent[]): Promise<void> };
  readonly clock: () => Date;
  readonly newToken: () => string;
}

export interface ProcessorSettings {
  readonly uploadPrefix: string;
  readonly image: ImageConfig;
  /** How long a claim protects a check from a second processor; longer than the function timeout. */
  readonly leaseSeconds: number;
}

export type ProcessOutcome = 'COMPLETED' | 'FAILED' | 'DUPLICATE' | 'REPUBLISHED' | 'NOT_A_CHECK' | 'UNKNOWN_CHECK';

/**
 * One uploaded object → one terminal check. Claim first so a duplicate S3 event cannot call Didit twice; every
 * failure ends in a terminal status with a specific code; the terminal event is published after the write and
 * republished by a later delivery if publishing failed (the `event_pending` outbox flag).
 */
export class CheckProcessor {
  constructor(
    private readonly ports: ProcessorPorts,
    private readonly settings: ProcessorSettings,
  ) {}

  async processUpload(key: string): Promise<ProcessOutcome> {
    const id = checkIdFromKey(this.settings.uploadPrefix, key);
    if (!id) {
      logger.warn('Ignoring an object that does not belong to a check', { keyLength: key.length });
      return 'NOT_A_CHECK';
    }
    const token = this.ports.newToken();
    const claim = await this.ports.store.claim(id, token, this.ports.clock(), this.settings.leaseSeconds);
    if (!claim.claimed) return this.handleUnclaimed(id, claim.current);

    const record = claim.record;
    logger.appendKeys({ checkId: id });
    try {
      const finished = await this.run(record, key, token);
      await this.publishTerminal(finished);
      return finished.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED';
    } finally {
      logger.removeKeys(['checkId']);
    }
  }

  private async run(record: CheckRecord, key: string, token: string): Promise<CheckRecord> {
    let result: CheckResult;
    try {
      result = await this.evaluate(record, key);
    } catch (thrown) {
      const error = asLivenessError(thrown);
      logger.warn('Check failed', { code: error.code, retryable: error.retryable, errorName: errorName(thrown) });
      return this.finishOrExplain(() =>
        this.ports.store.fail(record.id, token, { code: error.code, message: error.message }, this.ports.clock()),
      );
    }
    return this.finishOrExplain(() => this.ports.store.complete(record.id, token, result, this.ports.clock()));
  }

  private async evaluate(record: CheckRecord, key: string): Promise<CheckResult> {
    const original = await this.ports.uploads.read(key);
    const image = await this.ports.prepareImage(original, this.settings.image);
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
      if (faceCount === 0) return noFaceResult();
    }

    const started = Date.now();
    const response = await this.ports.didit.checkLiveness({
      image: image.jpeg,
      faceLivenessScoreDeclineThreshold: record.face_liveness_score_decline_threshold,
      rotateImage: record.rotate_image,
      saveApiRequest: record.save_api_request,
      vendorData: record.vendor_data,
      metadata: record.metadata,
    });
    logger.info('Didit answered', { diditLatencyMs: Date.now() - started, livenessStatus: response.liveness.status });
    return {
      request_id: response.request_id,
      liveness: response.liveness,
      decision: decisionFrom(response.liveness),
      didit_created_at: response.created_at ?? null,
      ...(faceCount !== undefined ? { prescreen_face_count: faceCount } : {}),
    };
  }

  private async finishOrExplain(write: () => Promise<CheckRecord>): Promise<CheckRecord> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof ClaimLostError) logger.warn('Another attempt took over this check; dropping this one');
      throw error;
    }
  }

  private async handleUnclaimed(id: string, current: CheckRecord | undefined): Promise<ProcessOutcome> {
    if (!current) {
      logger.warn('Upload for an unknown check', { checkId: id });
      return 'UNKNOWN_CHECK';
    }
    if (
      current.event_pending &&
      (await this.ports.store.claimPendingEvent(id, current.status, this.ports.clock(), this.settings.leaseSeconds))
    ) {
      // The attempt that wrote the terminal state died before its event got out; finish its job.
      await this.publishTerminal(current);
      return 'REPUBLISHED';
    }
    logger.info('Duplicate or late upload event ignored', { checkId: id, status: current.status });
    return 'DUPLICATE';
  }

  private async publishTerminal(record: CheckRecord): Promise<void> {
    const event = terminalEventFor(record);
    if (!event) return;
    await this.ports.events.publish([event]);
    await this.ports.store.markEventPublished(record.id, record.status);
  }
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

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
