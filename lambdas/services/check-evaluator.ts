import type { CheckRecord, CheckResult } from '../core/check';
import { decisionFrom } from '../core/didit-response';
import type { DiditLiveness, DiditPassiveLivenessResponse } from '../core/didit-types';
import type { ImageConfig, PreparedImage } from '../core/image-pipeline';
import { METRICS, type MetricsPort } from '../core/metrics';
import type { Clock, DiditPort, FaceCounterPort, UploadReaderPort } from '../core/ports';
import { DiditAuthError, DiditBadResponseError, DiditRejectedRequestError, DiditUnavailableError } from '../errors';
import { logger } from '../observability';

export interface EvaluatorPorts {
  readonly uploads: UploadReaderPort;
  readonly prepareImage: (input: Uint8Array, config: ImageConfig) => Promise<PreparedImage>;
  /** Present only when the Rekognition pre-screen is enabled. */
  readonly faces?: FaceCounterPort | undefined;
  readonly didit: DiditPort;
  readonly clock: Clock;
  readonly metrics: MetricsPort;
}

/**
 * One evaluation of an uploaded check: read the image, make the JPEG Didit gets, optionally count faces, ask Didit.
 * Throws the named error of whatever failed (an image refusal, Didit's answer, a throttled dependency); the
 * processor decides what that means for the check.
 */
export class CheckEvaluator {
  constructor(
    private readonly ports: EvaluatorPorts,
    private readonly image: ImageConfig,
  ) {}

  async evaluate(record: CheckRecord): Promise<CheckResult> {
    const original = await this.ports.uploads.read(record.upload_key);
    const image = await this.ports.prepareImage(original, this.image);
    this.ports.metrics.record(METRICS.imageBytesIn, image.inputBytes);
    this.ports.metrics.record(METRICS.imageBytesOut, image.outputBytes);
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
        this.ports.metrics.record(METRICS.prescreenRejections, 1);
        return noFaceResult();
      }
    }

    const response = await this.callDidit(record, image.jpeg);
    return {
      request_id: response.request_id,
      liveness: response.liveness,
      decision: decisionFrom(response.liveness),
      didit_created_at: response.created_at ?? null,
      ...(faceCount !== undefined ? { prescreen_face_count: faceCount } : {}),
    };
  }

  private async callDidit(record: CheckRecord, jpeg: Uint8Array): Promise<DiditPassiveLivenessResponse> {
    const started = this.ports.clock().getTime();
    const elapsed = () => this.ports.clock().getTime() - started;
    try {
      const response = await this.ports.didit.checkLiveness({
        image: jpeg,
        faceLivenessScoreDeclineThreshold: record.face_liveness_score_decline_threshold,
        rotateImage: record.rotate_image,
        saveApiRequest: record.save_api_request,
        vendorData: record.vendor_data,
        metadata: record.metadata,
      });
      this.recordDiditCall(elapsed(), undefined);
      logger.info('Didit answered', { diditLatencyMs: elapsed(), livenessStatus: response.liveness.status });
      return response;
    } catch (error) {
      this.recordDiditCall(elapsed(), error);
      throw error;
    }
  }

  /** One Didit call: its latency and status (`error` undefined = a 2xx answer). Other errors are not Didit's. */
  private recordDiditCall(latencyMs: number, error: unknown): void {
    const status = diditStatusOf(error);
    if (status === undefined) return;
    const metrics = this.ports.metrics;
    metrics.record(METRICS.diditCalls, 1, status);
    metrics.record(METRICS.diditLatency, latencyMs);
    if (status === '401' || status === '403') metrics.record(METRICS.diditAuthFailures, 1);
    if (status === '429') metrics.record(METRICS.diditThrottled, 1);
  }
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
  if (error instanceof DiditAuthError || error instanceof DiditRejectedRequestError) return String(error.httpStatus);
  if (error instanceof DiditUnavailableError) {
    return error.httpStatus === undefined ? 'NETWORK' : String(error.httpStatus);
  }
  if (error instanceof DiditBadResponseError) return 'BAD_RESPONSE';
  return undefined;
}
