import {
  DetectFacesCommand,
  InternalServerError,
  LimitExceededException,
  ProvisionedThroughputExceededException,
  type RekognitionClient,
  RekognitionServiceException,
  ThrottlingException,
} from '@aws-sdk/client-rekognition';
import type { FaceCounterPort } from '../core/ports';
import { DependencyThrottledError, PermanentError } from '../errors';

/**
 * The optional pre-screen: counts faces with Rekognition DetectFaces so an image without a face is declined without
 * spending a Didit call. The client is injected (one per container, and a simulator endpoint in tests).
 */
export class RekognitionFaceDetector implements FaceCounterPort {
  constructor(private readonly client: RekognitionClient) {}

  async countFaces(jpeg: Uint8Array): Promise<number> {
    try {
      const output = await this.client.send(
        new DetectFacesCommand({ Image: { Bytes: jpeg }, Attributes: ['DEFAULT'] }),
      );
      return output.FaceDetails?.length ?? 0;
    } catch (error) {
      throw classify(error);
    }
  }
}

/** Network failures the SDK gave up retrying; like throttling, they say nothing about the image. */
const TRANSIENT_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

function classify(error: unknown): Error {
  const name = error instanceof Error ? error.name : 'unknown error';
  if (
    error instanceof ThrottlingException ||
    error instanceof ProvisionedThroughputExceededException ||
    // Rekognition's concurrency limit: another invocation's call has to finish first.
    error instanceof LimitExceededException ||
    error instanceof InternalServerError ||
    (error instanceof RekognitionServiceException && (error.$metadata.httpStatusCode ?? 0) >= 500) ||
    isTransientNetworkError(error)
  ) {
    return new DependencyThrottledError(`Rekognition DetectFaces is unavailable (${name})`, { cause: error });
  }
  // InvalidImageFormat, ImageTooLarge, AccessDenied...: the same call cannot succeed later.
  return new PermanentError('PRESCREEN_FAILED', `Rekognition DetectFaces failed (${name})`, { cause: error });
}

function isTransientNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // The SDK's request handler names its own socket and connection timeouts TimeoutError.
  if (error.name === 'TimeoutError') return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code);
}
