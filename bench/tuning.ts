import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { FIRST_QUALITY, prepareImageForDidit } from '../lambdas/core/image-pipeline';
import { directPipeline, IMAGE_CONFIG, VIPSTHUMBNAIL, vipsthumbnailVersion } from './image-step';
import type { BenchInput } from './inputs';
import { interleaved, type Summary, summarize } from './stats';

/**
 * The tuning notes' measurements: libvips threads per image (sharp.concurrency / VIPS_CONCURRENCY), a long edge that
 * lets the JPEG decoder shrink while decoding, and the libuv pool size with several images in flight.
 */

export interface ImageTuning {
  readonly defaultSharpConcurrency: number;
  /** prepareImageForDidit on the 12 MP JPEG with one libvips thread (sharp's default on glibc Linux). */
  readonly sharpThreads1: Summary;
  readonly sharpThreads2: Summary;
  /** The one-pipeline variant (image-step.ts directPipeline) with 1 and with 2 libvips threads. */
  readonly directThreads1: Summary;
  readonly directThreads2: Summary;
  /** IMAGE_MAX_LONG_EDGE=1344: 4032/1344 = 3, so libjpeg decodes at 1/2 scale (sharp needs a shrink of 3 for that). */
  readonly longEdge1344: Summary;
  readonly longEdge1344Output: { readonly bytes: number; readonly width: number; readonly height: number };
  readonly vipsThreadsDefault?: Summary;
  readonly vipsThreads1?: Summary;
}

export interface ThreadpoolRow {
  readonly uvThreadpoolSize: number;
  readonly inFlight: number;
  readonly roundMs: number;
  readonly imagesPerSecond: number;
}

export async function runImageTuning(input: BenchInput, reps: number, warmups: number): Promise<ImageTuning> {
  const defaultConcurrency = sharp.concurrency();
  const dir = mkdtempSync(join(tmpdir(), 'liveness-tuning-'));
  const inputPath = join(dir, `in.${input.extension}`);
  writeFileSync(inputPath, input.bytes);
  const vips = vipsthumbnailVersion() !== undefined;
  const vipsRun = (env: Record<string, string>) => async () => {
    const out = spawnSync(
      VIPSTHUMBNAIL,
      [
        inputPath,
        '--size',
        `${IMAGE_CONFIG.maxLongEdge}x${IMAGE_CONFIG.maxLongEdge}>`,
        '-o',
        `${join(dir, 'out.jpg')}[Q=${FIRST_QUALITY},strip,optimize_coding]`,
      ],
      { env: { ...process.env, ...env } },
    );
    if (out.status !== 0) throw new Error('vipsthumbnail failed');
  };
  const smaller = { ...IMAGE_CONFIG, maxLongEdge: 1344 };
  try {
    const samples = await interleaved<string>(
      {
        sharpThreads1: async () => {
          sharp.concurrency(1);
          await prepareImageForDidit(input.bytes, IMAGE_CONFIG);
        },
        sharpThreads2: async () => {
          sharp.concurrency(2);
          await prepareImageForDidit(input.bytes, IMAGE_CONFIG);
        },
        directThreads1: async () => {
          sharp.concurrency(1);
          await directPipeline(input.bytes, IMAGE_CONFIG);
        },
        directThreads2: async () => {
          sharp.concurrency(2);
          await directPipeline(input.bytes, IMAGE_CONFIG);
        },
        longEdge1344: async () => {
          sharp.concurrency(defaultConcurrency);
          await prepareImageForDidit(input.bytes, smaller);
        },
        ...(vips ? { vipsThreadsDefault: vipsRun({}), vipsThreads1: vipsRun({ VIPS_CONCURRENCY: '1' }) } : {}),
      },
      reps,
      warmups,
    );
    sharp.concurrency(defaultConcurrency);
    const out = await prepareImageForDidit(input.bytes, smaller);
    return {
      defaultSharpConcurrency: defaultConcurrency,
      sharpThreads1: summarize(samples.sharpThreads1 ?? []),
      sharpThreads2: summarize(samples.sharpThreads2 ?? []),
      directThreads1: summarize(samples.directThreads1 ?? []),
      directThreads2: summarize(samples.directThreads2 ?? []),
      longEdge1344: summarize(samples.longEdge1344 ?? []),
      longEdge1344Output: { bytes: out.outputBytes, width: out.width, height: out.height },
      ...(vips
        ? {
            vipsThreadsDefault: summarize(samples.vipsThreadsDefault ?? []),
            vipsThreads1: summarize(samples.vipsThreads1 ?? []),
          }
        : {}),
    };
  } finally {
    sharp.concurrency(defaultConcurrency);
    rmSync(dir, { recursive: true, force: true });
  }
}

const THREADPOOL_CHILD = fileURLToPath(new URL('./threadpool-child.ts', import.meta.url));

export function runThreadpool(sizes: readonly number[], inFlight: number, rounds: number): ThreadpoolRow[] {
  return sizes.map((size) => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', THREADPOOL_CHILD], {
      env: {
        ...process.env,
        UV_THREADPOOL_SIZE: String(size),
        BENCH_IN_FLIGHT: String(inFlight),
        BENCH_ROUNDS: String(rounds),
      },
      encoding: 'utf8',
    });
    if (out.status !== 0) throw new Error(`threadpool run failed: ${out.stderr}`);
    const result = JSON.parse(out.stdout) as { roundMs: number; imagesPerSecond: number };
    return { uvThreadpoolSize: size, inFlight, ...result };
  });
}
