import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Section H: a 12 MP phone HEIC to the JPEG Didit gets, next to the 12 MP JPEG path, time and peak memory. Each path
 * runs in its own process (bench/heic-child.ts) so the peak resident set is that path's alone.
 */
const CHILD = fileURLToPath(new URL('./heic-child.ts', import.meta.url));

export interface HeicPathResult {
  readonly kind: 'heic' | 'jpeg';
  readonly inputBytes: number;
  /** The first image in a fresh process: for HEIC it includes loading libheif and compiling its WebAssembly. */
  readonly firstMs: number;
  readonly medianMs: number;
  readonly samples: number[];
  /** HEIC only: libheif's decode alone (a new WebAssembly instance each time, as the pipeline does). */
  readonly decodeMedianMs?: number;
  readonly baseRssMb: number;
  readonly peakRssMb: number;
  readonly output: { bytes: number; width: number; height: number; quality: number };
}

export interface HeicResult {
  readonly heic: HeicPathResult;
  readonly jpeg: HeicPathResult;
}

function runPath(kind: 'heic' | 'jpeg', reps: number): HeicPathResult {
  const out = spawnSync(process.execPath, ['--import', 'tsx', CHILD, kind, String(reps)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (out.status !== 0) throw new Error(`heic-child ${kind} failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as HeicPathResult;
}

export function runHeicBench(reps: number): HeicResult {
  return { jpeg: runPath('jpeg', reps), heic: runPath('heic', reps) };
}
