import { decodeHeic } from '../lambdas/core/heic-decoder';
import { prepareImageForDidit } from '../lambdas/core/image-pipeline';
import { readHeic } from '../test/helpers/heic-images';
import { exifRotated12MpJpeg } from '../test/helpers/images';
import { IMAGE_CONFIG } from './image-step';
import { median } from './stats';

/**
 * One input kind per process, so its peak resident memory (getrusage maxRSS) is that path's alone: the 12 MP phone
 * HEIC (8×6 tiles of HEVC, irot, EXIF) or the 12 MP JPEG (EXIF orientation 6), each prepared `reps` times after a
 * first, cold run (which for HEIC includes loading libheif and compiling its WebAssembly).
 */
const kind = process.argv[2] === 'heic' ? 'heic' : 'jpeg';
const reps = Number(process.argv[3] ?? '5');

const input = kind === 'heic' ? readHeic('astronaut-12mp.heic') : await exifRotated12MpJpeg();
const baseRssMb = process.memoryUsage().rss / 1e6;

let started = performance.now();
const first = await prepareImageForDidit(input, IMAGE_CONFIG);
const firstMs = performance.now() - started;
const samples: number[] = [];
for (let i = 0; i < reps; i++) {
  started = performance.now();
  await prepareImageForDidit(input, IMAGE_CONFIG);
  samples.push(performance.now() - started);
}
const decodeSamples: number[] = [];
if (kind === 'heic') {
  for (let i = 0; i < reps; i++) {
    started = performance.now();
    await decodeHeic(input);
    decodeSamples.push(performance.now() - started);
  }
}
process.stdout.write(
  JSON.stringify({
    kind,
    inputBytes: input.byteLength,
    firstMs,
    medianMs: median(samples),
    samples,
    decodeMedianMs: decodeSamples.length > 0 ? median(decodeSamples) : undefined,
    baseRssMb,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    output: { bytes: first.outputBytes, width: first.width, height: first.height, quality: first.quality },
  }),
);
