import { readFile } from 'node:fs/promises';
import { RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RekognitionFaceDetector } from '../../lambdas/adapters/face-detector';
import { DependencyThrottledError, PermanentError } from '../../lambdas/errors';
import { RekognitionSimulator } from '../../local/rekognition-simulator';

let sim: RekognitionSimulator;
let endpoint: string;
let clients: RekognitionClient[] = [];
let selfie: Buffer;
let blank: Buffer;
let twoFaces: Buffer;

function detector(maxAttempts: number): RekognitionFaceDetector {
  const client = new RekognitionClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts,
  });
  clients.push(client);
  return new RekognitionFaceDetector(client);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  const astronaut = await readFile(new URL('../fixtures/astronaut.png', import.meta.url));
  selfie = await sharp(astronaut).jpeg({ quality: 85 }).toBuffer();
  blank = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#d0c0b0' } })
    .jpeg()
    .toBuffer();
  const face = await sharp(astronaut).resize(500, 500).toBuffer();
  twoFaces = await sharp({ create: { width: 1200, height: 500, channels: 3, background: '#404040' } })
    .composite([
      { input: face, left: 50, top: 0 },
      { input: face, left: 650, top: 0 },
    ])
    .jpeg()
    .toBuffer();
  sim = new RekognitionSimulator();
  endpoint = await sim.start();
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  clients = [];
  await sim?.stop();
});

beforeEach(() => {
  sim.clear();
});

describe('RekognitionFaceDetector with the real SDK against the Rekognition simulator', () => {
  it('counts 1 face in a selfie', async () => {
    // Act
    const count = await detector(1).countFaces(selfie);

    // Assess
    expect(count).toBe(1);
    expect(sim.successfulCalls).toBe(1);
  });

  it('counts 0 faces in an image without detail', async () => {
    expect(await detector(1).countFaces(blank)).toBe(0);
  });

  it('counts 2 faces in an image twice as wide as tall', async () => {
    expect(await detector(1).countFaces(twoFaces)).toBe(2);
  });

  it.each([
    ['throttling', 'ThrottlingException'],
    ['provisioned-throughput', 'ProvisionedThroughputExceededException'],
    ['internal-error', 'InternalServerError'],
  ] as const)('turns %s into DependencyThrottledError', async (fault, errorName) => {
    sim.injectFaults(fault);

    const error = await rejection(detector(1).countFaces(selfie));

    expect(error).toBeInstanceOf(DependencyThrottledError);
    expect(error).toMatchObject({ code: 'DEPENDENCY_THROTTLED', retryable: true });
    expect((error as Error).cause).toMatchObject({ name: errorName });
    expect(sim.calls).toBe(1);
  });

  it('lets the SDK retry absorb a single throttle', async () => {
    sim.injectFaults('throttling');

    const count = await detector(3).countFaces(selfie);

    expect(count).toBe(1);
    expect(sim.calls).toBe(2);
  });

  it('turns an image Rekognition cannot read into PermanentError PRESCREEN_FAILED', async () => {
    const error = await rejection(detector(1).countFaces(Buffer.from('not an image at all')));

    expect(error).toBeInstanceOf(PermanentError);
    expect(error).not.toBeInstanceOf(DependencyThrottledError);
    expect(error).toMatchObject({ code: 'PRESCREEN_FAILED', retryable: false });
    expect((error as Error).cause).toMatchObject({ name: 'InvalidImageFormatException' });
  });
});
