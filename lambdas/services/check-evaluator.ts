import { setTimeout as sleep } from 'node:timers/promises';
import type { CheckRecord, CheckResult } from '../core/check';
import { decisionFrom } from '../core/didit-response';
import type { DiditAnswer, DiditLiveness } from '../core/didit-types';
import type { ImageConfig, PreparedImage } from '../core/image-pipeline';
import { METRICS, type MetricsPort } from '../core/metrics';
import type { PacerState, Permit, WaitReason } from '../core/pacing/pacer';
import type { Clock, DiditPacerPort, DiditPort, FaceCounterPort, UploadReaderPort } from '../core/ports';
import {
  DiditAuthError,
  DiditBadResponseError,
  DiditChargedAnswerError,
  DiditOutOfCreditsError,
  DiditRateLimitedError,
  DiditRejectedRequestError,
  DiditUnavailableError,
} from '../errors';
import { logger } from '../observability';

export interface EvaluatorPorts {
  readonly uploads: UploadReaderPort;
  readonly prepareImage: (input: Uint8Array, config: ImageConfig) => Promise<PreparedImage>;
  /** Present only when the Rekognition pre-screen is enabled. */
  readonly faces?: FaceCounterPort | undefined;
  readonly didit: DiditPort;
  /** The one budget every Didit call draws from. */
  readonly pacer: DiditPacerPort;
  readonly clock: Clock;
  readonly metrics: MetricsPort;
  /** Spreads out-of-credit waits over the probe interval. @default Math.random */
  readonly random?: () => number;
  /** Waits in-process for a slot less than PACE_LEAD_MS away. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * A slot this close is waited for in-process rather than through the workflow; and a check that waits longer wakes
 * this much before its slot and waits out the rest in-process, so Step Functions' timing never costs it the slot.
 */
export const PACE_LEAD_MS = 2_000;
/** In-process waits per evaluation, at most (a pause reported meanwhile can push the slot again). */
const MAX_IN_PROCESS_WAITS = 3;

export interface EvaluatorSettings {
  readonly image: ImageConfig;
  /** While the circuit is open, waiting checks wake spread over this interval after the next probe time. */
  readonly probeIntervalMs: number;
}

/** What one evaluation came to: a result to complete the check with, or a reason to wait without calling Didit. */
export type Evaluation =
  | { readonly kind: 'result'; readonly result: CheckResult; readonly rawAnswer?: string }
  | {
      readonly kind: 'wait';
      readonly reason: WaitReason;
      readonly until: Date;
      /** The pacer ticket to come back with (its place in the line). */
      readonly ticket?: number;
      /** True when Didit (not our own budget) is the reason: the failure horizon counts from the first such wait. */
      readonly outage: boolean;
    };

/**
 * One evaluation of an uploaded check: read the image, make the JPEG Didit gets, optionally count faces, take a permit
 * from the shared budget, ask Didit, and tell the budget what Didit's answer means. The first attempt prepares the
 * image before asking for a permit (a bad upload fails without spending one); later attempts ask first (a check that
 * must keep waiting costs no image work). Throws the named error of whatever failed; the processor decides what that
 * means for the check.
 */
export class CheckEvaluator {
  constructor(
    private readonly ports: EvaluatorPorts,
    private readonly settings: EvaluatorSettings,
  ) {}

  async evaluate(record: CheckRecord, firstAttempt: boolean): Promise<Evaluation> {
    let permit: Permit | undefined;
    if (!firstAttempt) {
      permit = await this.ports.pacer.acquire(this.ports.clock(), record.wait_ticket);
      if (permit.kind === 'wait' && !this.waitsInProcess(permit)) return this.waitFor(permit);
    }
    // The image is ready (and the faces counted) before the slot comes, so the call goes out at the slot.
    const image = await this.prepare(record);
    let faceCount: number | undefined;
    if (this.ports.faces) {
      faceCount = await this.ports.faces.countFaces(image.jpeg);
      logger.info('Pre-screen done', { faceCount });
      if (faceCount === 0) {
        this.ports.metrics.record(METRICS.prescreenRejections, 1);
        return { kind: 'result', result: noFaceResult() };
      }
    }
    permit = await this.untilSlot(permit ?? (await this.ports.pacer.acquire(this.ports.clock())));
    if (permit.kind === 'wait') return this.waitFor(permit);
    this.ports.metrics.record(METRICS.diditPermits, 1, permit.probe ? 'probe' : 'paced');
    return this.callDidit(record, image.jpeg, faceCount);
  }

  /** A paced wait this short is spent in-process (the workflow round trip would cost more than it saves). */
  private waitsInProcess(permit: Extract<Permit, { kind: 'wait' }>): boolean {
    return permit.ticket !== undefined && permit.untilMs - this.ports.clock().getTime() <= PACE_LEAD_MS;
  }

  /** Waits in-process for a paced slot that is (almost) here, asking again with the same ticket at the slot. */
  private async untilSlot(first: Permit): Promise<Permit> {
    let permit = first;
    for (let waits = 0; waits < MAX_IN_PROCESS_WAITS && permit.kind === 'wait'; waits++) {
      if (!this.waitsInProcess(permit)) break;
      await (this.ports.sleep ?? sleep)(Math.max(0, permit.untilMs - this.ports.clock().getTime()));
      permit = await this.ports.pacer.acquire(this.ports.clock(), permit.ticket);
    }
    return permit;
  }

  private async prepare(record: CheckRecord): Promise<PreparedImage> {
    const original = await this.ports.uploads.read(record.upload_key, record.upload_etag);
    const image = await this.ports.prepareImage(original, this.settings.image);
    this.ports.metrics.record(METRICS.imageBytesIn, image.inputBytes);
    this.ports.metrics.record(METRICS.imageBytesOut, image.outputBytes);
    logger.info('Image prepared', {
      inputType: image.inputType,
      inputBytes: image.inputBytes,
      outputBytes: image.outputBytes,
      width: image.width,
      height: image.height,
    });
    return image;
  }

  private async callDidit(record: CheckRecord, jpeg: Uint8Array, faceCount: number | undefined): Promise<Evaluation> {
    const started = this.ports.clock().getTime();
    const elapsed = () => this.ports.clock().getTime() - started;
    let answer: DiditAnswer;
    try {
      answer = await this.ports.didit.checkLiveness({
        image: jpeg,
        faceLivenessScoreDeclineThreshold: record.face_liveness_score_decline_threshold,
        rotateImage: record.rotate_image,
        saveApiRequest: record.save_api_request,
        vendorData: record.vendor_data,
        metadata: record.metadata,
      });
    } catch (error) {
      this.recordDiditCall(elapsed(), error);
      return this.afterRefusal(error, faceCount);
    }
    this.recordDiditCall(elapsed(), undefined);
    logger.info('Didit answered', { diditLatencyMs: elapsed(), livenessStatus: answer.response.liveness.status });
    await this.tellPacer({ kind: 'answered', rateLimit: answer.rateLimit });
    return { kind: 'result', result: toResult(answer.response, faceCount) };
  }

  /** Didit did not decide: back everyone off, wait for credits, keep what a charged answer still tells, or throw. */
  private async afterRefusal(error: unknown, faceCount: number | undefined): Promise<Evaluation> {
    if (error instanceof DiditRateLimitedError) {
      const state = await this.tellPacer({ kind: 'throttled', rateLimit: error.rateLimit });
      const now = this.ports.clock().getTime();
      const until = Math.max(state?.paused_until_ms ?? 0, now + (error.retryAfterSeconds ?? 1) * 1000);
      return { kind: 'wait', reason: 'DIDIT_THROTTLED', until: new Date(until), outage: false };
    }
    if (error instanceof DiditOutOfCreditsError) {
      const state = await this.tellPacer({ kind: 'out_of_credits' });
      this.ports.metrics.record(METRICS.diditOutOfCredits, 1);
      logger.error('Didit could not charge the check: out of credits; checks wait until a top-up', {
        httpStatus: error.httpStatus,
      });
      const probeAt = state?.probe_at_ms ?? this.ports.clock().getTime() + this.settings.probeIntervalMs;
      return { kind: 'wait', reason: 'OUT_OF_CREDITS', until: this.spread(probeAt), outage: true };
    }
    if (error instanceof DiditChargedAnswerError) {
      // Didit answered, so the balance pays: a charged answer closes an open circuit like any other.
      await this.tellPacer({ kind: 'answered', rateLimit: undefined });
      if (!error.usable) throw error;
      logger.warn('Didit answer kept leniently: it failed strict parsing', { reason: error.message });
      const result = { ...toResult(error.usable, faceCount), parse_issue: error.message };
      return { kind: 'result', result, rawAnswer: error.rawBody };
    }
    throw error;
  }

  private waitFor(permit: Extract<Permit, { kind: 'wait' }>): Evaluation {
    const until =
      permit.reason === 'OUT_OF_CREDITS'
        ? this.spread(permit.untilMs)
        : new Date(permit.ticket !== undefined ? permit.untilMs - PACE_LEAD_MS : permit.untilMs);
    return {
      kind: 'wait',
      reason: permit.reason,
      until,
      ...(permit.ticket !== undefined ? { ticket: permit.ticket } : {}),
      outage: permit.reason === 'OUT_OF_CREDITS',
    };
  }

  /** Waiting checks wake spread over one probe interval after the probe time, so one of them probes, not all. */
  private spread(atMs: number): Date {
    return new Date(atMs + Math.floor((this.ports.random ?? Math.random)() * this.settings.probeIntervalMs));
  }

  /** The budget learns from every answer; a failure to record it must not cost the answer we paid for. */
  private async tellPacer(signal: Parameters<DiditPacerPort['report']>[1]): Promise<PacerState | undefined> {
    try {
      return await this.ports.pacer.report(this.ports.clock(), signal);
    } catch (error) {
      logger.warn('Could not record what Didit said about its budget', { errorName: (error as Error).name });
      return undefined;
    }
  }

  /** One Didit call: its latency and status (`error` undefined = a 2xx answer). Other errors are not Didit's. */
  private recordDiditCall(latencyMs: number, error: unknown): void {
    const status = diditStatusOf(error);
    if (status === undefined) return;
    const metrics = this.ports.metrics;
    metrics.record(METRICS.diditCalls, 1, status);
    metrics.record(METRICS.diditLatency, latencyMs);
    // A 403 that says the balance is short is an out-of-credits outage (its own metric), not a key to fix.
    const authFailure = (status === '401' || status === '403') && !(error instanceof DiditOutOfCreditsError);
    if (authFailure) metrics.record(METRICS.diditAuthFailures, 1);
    if (status === '429') metrics.record(METRICS.diditThrottled, 1);
  }
}

function toResult(response: DiditAnswer['response'], faceCount: number | undefined): CheckResult {
  return {
    request_id: response.request_id || null,
    liveness: response.liveness,
    decision: decisionFrom(response.liveness),
    didit_created_at: response.created_at || null,
    ...(faceCount !== undefined ? { prescreen_face_count: faceCount } : {}),
  };
}

/** The result of a pre-screen that found no face: declined without a Didit call. */
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
  if (
    error instanceof DiditAuthError ||
    error instanceof DiditRejectedRequestError ||
    error instanceof DiditRateLimitedError ||
    error instanceof DiditOutOfCreditsError
  ) {
    return String(error.httpStatus);
  }
  if (error instanceof DiditUnavailableError) {
    return error.httpStatus === undefined ? 'NETWORK' : String(error.httpStatus);
  }
  if (error instanceof DiditChargedAnswerError || error instanceof DiditBadResponseError) return 'BAD_RESPONSE';
  return undefined;
}
