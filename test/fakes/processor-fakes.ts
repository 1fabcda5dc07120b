import type { CheckRecord } from '../../lambdas/core/check';
import type { DiditAnswer, DiditLivenessRequest, DiditPassiveLivenessResponse } from '../../lambdas/core/didit-types';
import type { ImageConfig, PreparedImage } from '../../lambdas/core/image-pipeline';
import type {
  DiditPort,
  DiditSessionEraserPort,
  DiditSessionErasure,
  FaceCounterPort,
  UploadReaderPort,
  UploadRemoverPort,
} from '../../lambdas/core/ports';
import { ImageRejectedError, UploadReplacedError } from '../../lambdas/errors';
import type { ProcessorSettings } from '../../lambdas/services/check-processor';

/** Fakes of the processor's inward ports: uploads, the image step, Didit and the face counter. */

/** Uploads in memory, with S3's meaning: each put gets a new ETag, a read pinned to another ETag is refused. */
export class MemoryUploads implements UploadReaderPort, UploadRemoverPort {
  readonly objects = new Map<string, Uint8Array>();
  readonly etags = new Map<string, string>();
  readonly removed: string[] = [];
  private puts = 0;

  /** Stores an object as an upload would; returns its ETag. */
  put(key: string, bytes: Uint8Array): string {
    const etag = `etag-${++this.puts}`;
    this.objects.set(key, bytes);
    this.etags.set(key, etag);
    return etag;
  }

  async read(key: string, etag?: string): Promise<Uint8Array> {
    const bytes = this.objects.get(key);
    if (!bytes) throw new ImageRejectedError('IMAGE_NOT_FOUND', 'The uploaded object no longer exists');
    if (etag !== undefined && this.etags.has(key) && this.etags.get(key) !== etag) throw new UploadReplacedError();
    return bytes;
  }

  async remove(key: string): Promise<void> {
    this.objects.delete(key);
    this.etags.delete(key);
    this.removed.push(key);
  }
}

/** Didit's session deletion scripted call by call: each entry answers or throws; past the script, DELETED. */
export class ScriptedSessionEraser implements DiditSessionEraserPort {
  readonly sessions: string[] = [];
  private readonly script: Array<() => DiditSessionErasure> = [];

  answer(...answers: Array<() => DiditSessionErasure>): this {
    this.script.push(...answers);
    return this;
  }

  async deleteSession(sessionId: string): Promise<DiditSessionErasure> {
    this.sessions.push(sessionId);
    return (this.script.shift() ?? (() => 'DELETED' as const))();
  }
}

/** Stands in for sharp: an upload starting with "corrupt" is refused, anything else becomes a tiny "JPEG". */
export async function fakePrepareImage(input: Uint8Array, _config: ImageConfig): Promise<PreparedImage> {
  if (Buffer.from(input).toString('latin1').startsWith('corrupt')) {
    throw new ImageRejectedError('CORRUPT_IMAGE', 'The image could not be decoded');
  }
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from(input)]);
  return {
    jpeg,
    width: 640,
    height: 480,
    inputType: 'jpeg',
    inputBytes: input.byteLength,
    outputBytes: jpeg.byteLength,
    quality: 82,
  };
}

export function diditAnswer(requestId: string, status = 'Approved', score = 91.5): DiditPassiveLivenessResponse {
  return {
    request_id: requestId,
    liveness: {
      status,
      method: 'PASSIVE',
      score,
      user_image: null,
      warnings: [],
      face_quality: 80,
      face_luminance: 60,
    },
    vendor_data: null,
    metadata: null,
    created_at: '2026-11-26T12:00:00.000Z',
  };
}

/** Didit scripted call by call: each entry answers or throws; past the script every call is approved. */
export class ScriptedDidit implements DiditPort {
  readonly requests: DiditLivenessRequest[] = [];
  private readonly script: Array<() => DiditPassiveLivenessResponse | DiditAnswer> = [];

  answer(...answers: Array<() => DiditPassiveLivenessResponse | DiditAnswer>): this {
    this.script.push(...answers);
    return this;
  }

  async checkLiveness(request: DiditLivenessRequest): Promise<DiditAnswer> {
    this.requests.push(request);
    const next = this.script.shift();
    const out = next ? next() : diditAnswer(`session-${this.requests.length}`);
    return 'response' in out ? out : { response: out, rateLimit: undefined };
  }

  get calls(): number {
    return this.requests.length;
  }
}

export class FixedFaces implements FaceCounterPort {
  calls = 0;
  constructor(private readonly faces: number) {}
  async countFaces(): Promise<number> {
    this.calls++;
    return this.faces;
  }
}

/** A check as create-check stores it, AWAITING_UPLOAD. */
export function awaitingCheck(id: string, now: Date, extra: Partial<CheckRecord> = {}): CheckRecord {
  const iso = now.toISOString();
  return {
    id,
    status: 'AWAITING_UPLOAD',
    upload_key: `uploads/${id}`,
    created_at: iso,
    updated_at: iso,
    upload_expires_at: new Date(now.getTime() + 300_000).toISOString(),
    expires_at: Math.floor(now.getTime() / 1000) + 86_400,
    face_liveness_score_decline_threshold: 30,
    rotate_image: false,
    save_api_request: true,
    content_type: 'image/jpeg',
    due_shard: 'due',
    due_at: Math.floor(now.getTime() / 1000) + 360,
    ...extra,
  };
}

/** The processor's settings as the stack's defaults set them; a test overrides what it is about. */
export function processorSettings(overrides: Partial<ProcessorSettings> = {}): ProcessorSettings {
  return {
    uploadPrefix: 'uploads/',
    image: { maxLongEdge: 1920, maxOutputBytes: 500_000, maxInputPixels: 40_000_000 },
    leaseSeconds: 60,
    retryDueSeconds: 900,
    failureHorizonSeconds: 3600,
    probeIntervalMs: 60_000,
    waitDueGraceSeconds: 300,
    keepUploadsUntilLifecycle: false,
    storeFaceAttributes: false,
    ...overrides,
  };
}
