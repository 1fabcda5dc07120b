/**
 * Rekognition simulator: a loopback server speaking the AWS JSON 1.1 protocol for `RekognitionService.DetectFaces`,
 * because moto does not implement Rekognition. The real @aws-sdk/client-rekognition works against it with `endpoint`
 * set to start()'s URL and any credentials (requests must be signed, the signature is not checked).
 *
 * Face rule (deterministic, from the decoded pixels of Image.Bytes):
 *   - near-uniform image (mean colour-channel standard deviation below 8 on a 0–255 scale, e.g. a solid colour)
 *       → 0 faces
 *   - image at least twice as wide as it is tall (after EXIF orientation) → 2 faces, left and right
 *   - any other image → 1 face, centred
 *   - bytes that are not a decodable image → 400 InvalidImageFormatException; more than 5 MiB → 400
 *     ImageTooLargeException; Image.S3Object → 400 InvalidParameterException (only Bytes is simulated)
 * Faults: injectFaults('throttling' | 'provisioned-throughput' | 'internal-error', n) makes the next n requests answer
 * 400 ThrottlingException, 400 ProvisionedThroughputExceededException or 500 InternalServerError.
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import sharp from 'sharp';
import { LoopbackServer } from './loopback-server';

/** A colour-channel stdev below this means the image has no detail, so it cannot show a face. */
export const NEAR_UNIFORM_MAX_STDEV = 8;

/** Rekognition's limit for Image.Bytes. */
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
/** Base64 of the largest image plus JSON framing; anything bigger is refused before parsing. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

export interface ImageTraits {
  readonly width: number;
  readonly height: number;
  /** Mean of the colour-channel standard deviations, 0–255. */
  readonly stdev: number;
  readonly nearUniform: boolean;
  /** Mean brightness, 0–100. */
  readonly luminance: number;
  readonly faceCount: 0 | 1 | 2;
}

/** The pixel facts both simulators derive their answers from, so the pre-screen and Didit agree on an image. */
export async function analyseImage(bytes: Uint8Array): Promise<ImageTraits> {
  const image = sharp(bytes);
  const [metadata, stats] = await Promise.all([image.metadata(), image.stats()]);
  const colour = metadata.hasAlpha ? stats.channels.slice(0, -1) : stats.channels;
  const stdev = average(colour.map((c) => c.stdev));
  const luminance = (average(colour.map((c) => c.mean)) / 255) * 100;
  const { width, height } = metadata.autoOrient;
  // One pixel has no deviation at all (sharp reports NaN): it cannot show a face either.
  const nearUniform = !Number.isFinite(stdev) || width * height < 2 || stdev < NEAR_UNIFORM_MAX_STDEV;
  const faceCount = nearUniform ? 0 : width >= 2 * height ? 2 : 1;
  return { width, height, stdev, nearUniform, luminance, faceCount };
}

function average(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, v) => sum + v, 0) / values.length;
}

export type RekognitionFault = 'throttling' | 'provisioned-throughput' | 'internal-error';

const FAULT_RESPONSES: Record<RekognitionFault, { status: number; type: string; message: string }> = {
  throttling: { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' },
  'provisioned-throughput': {
    status: 400,
    type: 'ProvisionedThroughputExceededException',
    message: 'Provisioned rate exceeded',
  },
  'internal-error': { status: 500, type: 'InternalServerError', message: 'Internal server error' },
};

export interface RekognitionSimulatorOptions {
  /** 0 (default) lets the kernel choose. */
  readonly port?: number;
}

export class RekognitionSimulator {
  /** Every request received, faults included. */
  calls = 0;
  /** DetectFaces requests answered 200. */
  successfulCalls = 0;

  private readonly faults: RekognitionFault[] = [];

  private readonly http: LoopbackServer;

  constructor(options: RekognitionSimulatorOptions = {}) {
    this.http = new LoopbackServer(
      'RekognitionSimulator',
      (req, res) => {
        this.handle(req, res).catch(() => {
          if (!res.headersSent) sendError(res, 500, 'InternalServerError', 'Simulator failure');
          else res.destroy();
        });
      },
      options.port,
    );
  }

  /** Starts listening on 127.0.0.1 and returns the endpoint URL. */
  async start(): Promise<string> {
    return this.http.start();
  }

  get url(): string {
    return this.http.url;
  }

  async stop(): Promise<void> {
    await this.http.stop();
  }

  /** The next `times` requests answer with this fault instead of detecting faces. */
  injectFaults(fault: RekognitionFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  /** Drops pending faults and zeroes the counters. */
  clear(): void {
    this.faults.length = 0;
    this.calls = 0;
    this.successfulCalls = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.calls++;
    const body = await readBody(req, MAX_REQUEST_BYTES);
    if (body === undefined) {
      sendError(res, 413, 'SerializationException', 'Request body too large');
      return;
    }
    const fault = this.faults.shift();
    if (fault) {
      const { status, type, message } = FAULT_RESPONSES[fault];
      sendError(res, status, type, message);
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, 'UnknownOperationException', 'Only POST is supported');
      return;
    }
    if (!req.headers.authorization) {
      sendError(res, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
      return;
    }
    const target = req.headers['x-amz-target'];
    if (target !== 'RekognitionService.DetectFaces') {
      sendError(res, 400, 'UnknownOperationException', 'Only RekognitionService.DetectFaces is simulated');
      return;
    }
    let input: unknown;
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      sendError(res, 400, 'SerializationException', 'Request body is not JSON');
      return;
    }
    const image = (input as { Image?: { Bytes?: unknown; S3Object?: unknown } } | null)?.Image;
    if (image?.S3Object !== undefined) {
      sendError(res, 400, 'InvalidParameterException', 'The simulator only accepts Image.Bytes');
      return;
    }
    if (typeof image?.Bytes !== 'string' || image.Bytes.length === 0) {
      sendError(res, 400, 'InvalidParameterException', 'Image.Bytes is required');
      return;
    }
    const bytes = Buffer.from(image.Bytes, 'base64');
    if (bytes.byteLength > MAX_IMAGE_BYTES) {
      sendError(res, 400, 'ImageTooLargeException', 'Image size is too large');
      return;
    }
    let traits: ImageTraits;
    try {
      traits = await analyseImage(bytes);
    } catch {
      sendError(res, 400, 'InvalidImageFormatException', 'Request has invalid image format');
      return;
    }
    this.successfulCalls++;
    sendJson(res, 200, { FaceDetails: faceDetails(traits) });
  }
}

function faceDetails(traits: ImageTraits): unknown[] {
  const face = (left: number, width: number) => ({
    BoundingBox: { Width: width, Height: 0.7, Left: left, Top: 0.15 },
    Landmarks: [],
    Pose: { Roll: 0, Yaw: 0, Pitch: 0 },
    Quality: { Brightness: Math.round(traits.luminance * 100) / 100, Sharpness: 90 },
    Confidence: 99.9,
  });
  if (traits.faceCount === 0) return [];
  if (traits.faceCount === 2) return [face(0.1, 0.3), face(0.6, 0.3)];
  return [face(0.25, 0.5)];
}

/** The whole body, or undefined once it passes `limit` (the rest is drained so the connection stays usable). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.setHeader('x-amzn-errortype', type);
  sendJson(res, status, { __type: type, message });
}
