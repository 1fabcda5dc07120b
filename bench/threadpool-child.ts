import sharp from 'sharp';
import { prepareImageForDidit } from '../lambdas/core/image-pipeline';
import { IMAGE_CONFIG } from './image-step';
import { benchInputs } from './inputs';
import { median } from './stats';

/**
 * One UV_THREADPOOL_SIZE setting (it is read once, when the pool first starts, so each setting needs its own
 * process): rounds of `inFlight` 12 MP images prepared at once, as the local stack does with many checks in flight.
 */
const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? '4');
const rounds = Number(process.env.BENCH_ROUNDS ?? '3');
if (process.env.BENCH_SHARP_CONCURRENCY) sharp.concurrency(Number(process.env.BENCH_SHARP_CONCURRENCY));

const input = (await benchInputs()).find((i) => i.name === 'jpeg-12mp-exif6');
if (!input) throw new Error('no 12 MP input');
await prepareImageForDidit(input.bytes, IMAGE_CONFIG);
const samples: number[] = [];
for (let round = 0; round < rounds; round++) {
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, () => prepareImageForDidit(input.bytes, IMAGE_CONFIG)));
  samples.push(performance.now() - started);
}
const roundMs = median(samples);
process.stdout.write(JSON.stringify({ roundMs, imagesPerSecond: (inFlight * 1000) / roundMs }));
