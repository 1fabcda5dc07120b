import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { type ImageConfig, loadProcessorConfig } from '../lambdas/config';
import { FIRST_QUALITY, prepareImageForDidit } from '../lambdas/core/image-pipeline';
import type { BenchInput, InputName } from './inputs';
import { interleaved, type Summary, summarize } from './stats';

/**
 * Section 1: the image step against two baselines measured in the same run. The native floor is libvips' own C
 * command line doing the same box resize (its process time minus the time to spawn it at all); the naive pipeline
 * decodes every pixel before resizing, which is what skipping shrink-on-load costs.
 */

/** The deployed defaults, read through the same loader the processor uses (dummy names for the required vars). */
export const IMAGE_CONFIG: ImageConfig = loadProcessorConfig({
  TABLE_NAME: 'bench',
  BUCKET_NAME: 'bench',
  EVENT_BUS_NAME: 'bench',
  DIDIT_API_KEY_SECRET_ID: 'bench',
  RETRY_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench',
}).image;

export interface OutputShape {
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
}

export interface ImageStepRow {
  readonly input: InputName;
  readonly label: string;
  readonly inputBytes: number;
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly ours: Summary;
  /** CPU milliseconds (user + system, all threads) per run of ours: what Lambda's CPU share has to cover. */
  readonly oursCpu: Summary;
  readonly oursOutput: OutputShape & { readonly quality: number; readonly encodes: number };
  readonly naive: Summary;
  readonly naiveOutput: OutputShape;
  /** Single pipeline straight to JPEG (no raw round trip): a candidate change to the pipeline, measured here. */
  readonly direct: Summary;
  readonly directOutput: OutputShape;
  /** vipsthumbnail process time; undefined when the CLI is not installed. */
  readonly vipsProcess?: Summary;
  /** vipsthumbnail process time minus the median `--vips-version` spawn. */
  readonly vipsWork?: number;
  /** vipsthumbnail CPU time (user + system, all its threads) minus that of the `--vips-version` spawn. */
  readonly vipsCpuWork?: number;
  readonly vipsOutput?: OutputShape;
}

export interface ImageStepResult {
  readonly vips: { readonly installed: boolean; readonly version?: string; readonly spawn?: Summary };
  readonly sharpVersions: Record<string, string>;
  readonly sharpConcurrency: number;
  readonly rows: ImageStepRow[];
}

export async function runImageStep(
  inputs: readonly BenchInput[],
  reps: number,
  warmups: number,
): Promise<ImageStepResult> {
  const vipsVersion = vipsthumbnailVersion();
  const dir = mkdtempSync(join(tmpdir(), 'liveness-bench-'));
  const rows: ImageStepRow[] = [];
  let spawnSamples: number[] = [];
  try {
    for (const input of inputs) {
      const inputPath = join(dir, `${input.name}.${input.extension}`);
      const outputPath = join(dir, `${input.name}.out.jpg`);
      writeFileSync(inputPath, input.bytes);

      const cpu: number[] = [];
      const vipsCpu: number[] = [];
      const spawnCpu: number[] = [];
      const variants = {
        ours: async () => {
          const before = process.cpuUsage();
          await prepareImageForDidit(input.bytes, IMAGE_CONFIG);
          const used = process.cpuUsage(before);
          cpu.push((used.user + used.system) / 1000);
        },
        naive: () => naivePipeline(input.bytes, IMAGE_CONFIG),
        direct: () => directPipeline(input.bytes, IMAGE_CONFIG),
        ...(vipsVersion
          ? {
              vips: async () => void vipsCpu.push(vipsthumbnail(inputPath, outputPath, IMAGE_CONFIG.maxLongEdge)),
              spawn: async () => void spawnCpu.push(vipsthumbnailSpawnOnly()),
            }
          : {}),
      };
      const samples = await interleaved<string>(variants, reps, warmups);
      const prepared = await prepareImageForDidit(input.bytes, IMAGE_CONFIG);
      const naive = await shapeOf(await naivePipeline(input.bytes, IMAGE_CONFIG));
      const direct = await shapeOf(await directPipeline(input.bytes, IMAGE_CONFIG));
      spawnSamples = spawnSamples.concat(samples.spawn ?? []);
      const row: ImageStepRow = {
        input: input.name,
        label: input.label,
        inputBytes: input.bytes.byteLength,
        inputWidth: input.width,
        inputHeight: input.height,
        ours: summarize(samples.ours ?? []),
        oursCpu: summarize(cpu.slice(-reps)),
        oursOutput: {
          bytes: prepared.outputBytes,
          width: prepared.width,
          height: prepared.height,
          quality: prepared.quality,
          encodes: encodesFor(prepared.quality),
        },
        naive: summarize(samples.naive ?? []),
        naiveOutput: naive,
        direct: summarize(samples.direct ?? []),
        directOutput: direct,
      };
      if (vipsVersion) {
        const vipsProcess = summarize(samples.vips ?? []);
        const spawn = summarize(samples.spawn ?? []);
        rows.push({
          ...row,
          vipsProcess,
          vipsWork: Math.max(0, vipsProcess.median - spawn.median),
          vipsCpuWork: Math.max(0, summarize(vipsCpu.slice(-reps)).median - summarize(spawnCpu.slice(-reps)).median),
          vipsOutput: await shapeOf(readFileSync(outputPath)),
        });
      } else {
        rows.push(row);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    vips: vipsVersion
      ? { installed: true, version: vipsVersion, spawn: summarize(spawnSamples) }
      : { installed: false },
    sharpVersions: { ...sharp.versions },
    sharpConcurrency: sharp.concurrency(),
    rows,
  };
}

/** Encodes the pipeline made: one per 10 quality points below the first guess (the shrink fallback aside). */
function encodesFor(quality: number): number {
  return Math.round((FIRST_QUALITY - quality) / 10) + 1;
}

async function shapeOf(jpeg: Buffer): Promise<OutputShape> {
  const meta = await sharp(jpeg).metadata();
  return { bytes: jpeg.byteLength, width: meta.width, height: meta.height };
}

/** Every pixel decoded at full size first, then resized: the cost of not letting the decoder shrink. */
export async function naivePipeline(input: Buffer, config: ImageConfig): Promise<Buffer> {
  const full = await sharp(input, { failOn: 'error', limitInputPixels: config.maxInputPixels, pages: 1 })
    .autoOrient()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels } })
    .resize({ width: config.maxLongEdge, height: config.maxLongEdge, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: FIRST_QUALITY, chromaSubsampling: '4:2:0' })
    .toBuffer();
}

/**
 * The production pipeline's first attempt as one libvips pipeline: decode with shrink-on-load, orient, resize and
 * encode without copying the resized pixels into a JS buffer and back. Same settings, so the same output bytes.
 */
export async function directPipeline(input: Buffer, config: ImageConfig): Promise<Buffer> {
  await sharp(input, { failOn: 'error', limitInputPixels: false, pages: 1 }).metadata();
  return sharp(input, { failOn: 'error', limitInputPixels: config.maxInputPixels, pages: 1 })
    .autoOrient()
    .resize({ width: config.maxLongEdge, height: config.maxLongEdge, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .jpeg({ quality: FIRST_QUALITY, chromaSubsampling: '4:2:0' })
    .toBuffer();
}

/** The CLI to measure; VIPSTHUMBNAIL overrides it (e.g. a newer build, or a missing name to test the fallback). */
export const VIPSTHUMBNAIL = process.env.VIPSTHUMBNAIL || 'vipsthumbnail';

export function vipsthumbnailVersion(): string | undefined {
  const out = spawnSync(VIPSTHUMBNAIL, ['--vips-version'], { encoding: 'utf8' });
  if (out.error || out.status !== 0) return undefined;
  return out.stdout.trim();
}

/**
 * Runs vipsthumbnail under bash so bash's `times` can report the child's CPU time (user + system, every thread);
 * the spawn baseline goes through bash too, so the shell's start-up cancels out of "work".
 */
function timedVips(args: readonly string[]): number {
  const out = spawnSync('bash', ['-c', 'vipsthumbnail "$@" >/dev/null && times', 'bench', ...args], {
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`vipsthumbnail failed: ${out.stderr || out.error?.message}`);
  // Second line of `times`: the children's user and system time, e.g. "0m0.171s 0m0.012s".
  const children = out.stdout.trim().split('\n').at(-1) ?? '';
  return [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, m) => sum + Number(m[1]) * 60_000 + Number(m[2]) * 1000,
    0,
  );
}

/**
 * The same job in C: fit inside the long-edge box, shrink only (`>`), EXIF auto-rotate (the default), no metadata,
 * quality and Huffman optimisation as sharp's JPEG defaults, 4:2:0 as libjpeg's default at this quality.
 * Returns its CPU milliseconds.
 */
function vipsthumbnail(inputPath: string, outputPath: string, longEdge: number): number {
  rmSync(outputPath, { force: true });
  const cpu = timedVips([
    inputPath,
    '--size',
    `${longEdge}x${longEdge}>`,
    '-o',
    `${outputPath}[Q=${FIRST_QUALITY},strip,optimize_coding]`,
  ]);
  if (statSync(outputPath, { throwIfNoEntry: false }) === undefined) throw new Error('vipsthumbnail wrote nothing');
  return cpu;
}

function vipsthumbnailSpawnOnly(): number {
  return timedVips(['--vips-version']);
}
