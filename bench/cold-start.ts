import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin, type PluginBuild } from 'esbuild';
import { AWS_SDK_IN_RUNTIME, IMAGE_DECODER_MODULES } from '../lib/parts/node-function';
import { type ProfileSummary, profilesIn, summarizeProfile } from './cpu-profile';
import { type Summary, summarize } from './stats';

/**
 * Section 3: what a cold start costs before the first event. Each handler is bundled exactly as
 * lib/parts/node-function.ts has CDK bundle it (esbuild, CJS, minified, node24 target, external source map, the
 * runtime's AWS SDK external, sharp and libheif-js external for the processor), then loaded in a fresh Node process with the
 * environment its config needs set to dummy values, as Lambda's init phase would load it.
 */

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Under the repository so `require` finds the externals in node_modules, as NODE_PATH does in Lambda. */
const OUT_DIR = path.join(REPO_ROOT, 'test-output', 'bench', 'bundles');

/** Functions created with `includeSharp: true` (lib/parts/processor.ts): sharp ships beside the bundle. */
const WITH_SHARP = new Set(['process-upload']);

/** Every variable any handler's config requires, with dummy values, plus what Lambda sets for Powertools. */
const DUMMY_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
  TABLE_NAME: 'bench-checks',
  BUCKET_NAME: 'bench-uploads',
  EVENT_BUS_NAME: 'bench-bus',
  DIDIT_API_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-didit',
  DIDIT_WEBHOOK_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-webhook',
  WEBHOOK_SIGNING_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-signing',
  RETRY_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench',
  POWERTOOLS_LOG_LEVEL: 'WARN',
};

export interface BundleRow {
  readonly handler: string;
  readonly bytes: number;
  readonly mapBytes: number;
  readonly sharpExternal: boolean;
  /** The largest contributors to the minified output, by package (or "(our code)"). */
  readonly top: { readonly name: string; readonly bytes: number }[];
  /** Milliseconds from `require()` of the bundle to its return, in a fresh process, as deployed (source maps on). */
  readonly requireMs: Summary;
  /** The same without NODE_OPTIONS=--enable-source-maps. */
  readonly requireNoMapsMs: Summary;
  /** Whole `node -e "require(bundle)"` process wall time. */
  readonly processMs: Summary;
}

export interface ColdStartResult {
  readonly nodeBaseline: Summary;
  readonly rows: BundleRow[];
}

export function handlerEntries(): string[] {
  return readdirSync(path.join(REPO_ROOT, 'lambdas', 'handlers'))
    .filter((file) => file.endsWith('.ts') && file !== 'http.ts')
    .map((file) => file.replace(/\.ts$/, ''))
    .sort();
}

async function bundle(handler: string): Promise<{ file: string; metafile: Metafile }> {
  const outdir = path.join(OUT_DIR, handler);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const file = path.join(outdir, 'index.js');
  const result = await build({
    entryPoints: [path.join(REPO_ROOT, 'lambdas', 'handlers', `${handler}.ts`)],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: [...AWS_SDK_IN_RUNTIME, ...(WITH_SHARP.has(handler) ? IMAGE_DECODER_MODULES : [])],
    outfile: file,
    metafile: true,
    logLevel: 'silent',
  });
  return { file, metafile: result.metafile };
}

function topContributors(metafile: Metafile, file: string): { name: string; bytes: number }[] {
  const output = Object.entries(metafile.outputs).find(([out]) => path.resolve(out) === file)?.[1];
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const name = match?.[1] ?? '(our code)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return [...byPackage.entries()]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 4);
}

/** `require()` time as the loaded process measures it itself, so process start-up is not in it. */
function requireOnce(file: string, sourceMaps: boolean): { requireMs: number; processMs: number } {
  const script =
    'const t=process.hrtime.bigint();require(process.argv[1]);' +
    'process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))';
  const started = performance.now();
  const out = spawnSync(process.execPath, ['-e', script, file], {
    cwd: path.dirname(file),
    env: { PATH: process.env.PATH ?? '', ...DUMMY_ENV, NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '' },
    encoding: 'utf8',
  });
  const processMs = performance.now() - started;
  if (out.status !== 0) throw new Error(`loading ${file} failed: ${out.stderr}`);
  return { requireMs: Number(out.stdout), processMs };
}

function nodeBaselineOnce(): number {
  const started = performance.now();
  const out = spawnSync(process.execPath, ['-e', '0'], { env: { PATH: process.env.PATH ?? '' } });
  if (out.status !== 0) throw new Error('node -e 0 failed');
  return performance.now() - started;
}

export async function runColdStart(reps: number): Promise<ColdStartResult> {
  const bundles = [];
  for (const handler of handlerEntries()) bundles.push({ handler, ...(await bundle(handler)) });

  const baseline: number[] = [];
  const samples = new Map(
    bundles.map((b) => [b.handler, { req: [] as number[], noMaps: [] as number[], proc: [] as number[] }]),
  );
  // Interleaved, so a burst of load from elsewhere hits every handler and the baseline alike.
  for (let rep = 0; rep < reps + 1; rep++) {
    const base = nodeBaselineOnce();
    if (rep > 0) baseline.push(base);
    for (const b of bundles) {
      const withMaps = requireOnce(b.file, true);
      const withoutMaps = requireOnce(b.file, false);
      if (rep === 0) continue;
      const s = samples.get(b.handler);
      s?.req.push(withMaps.requireMs);
      s?.proc.push(withMaps.processMs);
      s?.noMaps.push(withoutMaps.requireMs);
    }
  }

  return {
    nodeBaseline: summarize(baseline),
    rows: bundles.map((b) => {
      const s = samples.get(b.handler);
      return {
        handler: b.handler,
        bytes: statSync(b.file).size,
        mapBytes: statSync(`${b.file}.map`).size,
        sharpExternal: WITH_SHARP.has(b.handler),
        top: topContributors(b.metafile, b.file),
        requireMs: summarize(s?.req ?? []),
        requireNoMapsMs: summarize(s?.noMaps ?? []),
        processMs: summarize(s?.proc ?? []),
      };
    }),
  };
}

/**
 * Where a handler's init time goes: an unminified bundle (same externals) loaded under `node --cpu-prof` at a 100 µs
 * sampling interval, attributed to packages by the bundle's module markers.
 */
export async function profileInit(handler: string): Promise<ProfileSummary | undefined> {
  const outdir = path.join(REPO_ROOT, 'test-output', 'bench', 'profile-init', handler);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const file = path.join(outdir, 'index.js');
  await build({
    entryPoints: [path.join(REPO_ROOT, 'lambdas', 'handlers', `${handler}.ts`)],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minify: false,
    external: [...AWS_SDK_IN_RUNTIME, ...(WITH_SHARP.has(handler) ? IMAGE_DECODER_MODULES : [])],
    outfile: file,
    logLevel: 'silent',
  });
  const out = spawnSync(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${outdir}`, '-e', 'require(process.argv[1])', file],
    { cwd: outdir, env: { PATH: process.env.PATH ?? '', ...DUMMY_ENV }, encoding: 'utf8' },
  );
  if (out.status !== 0) throw new Error(`profiling ${handler} failed: ${out.stderr}`);
  const [profile] = profilesIn(outdir);
  return profile ? summarizeProfile(profile, [file]) : undefined;
}

export interface BundleExperiment {
  readonly name: string;
  readonly bytes: number;
  readonly requireMs: Summary;
}

/**
 * What the proposed bundle fixes would buy, measured on bundles built here (the handlers are not changed):
 * - undici replaced by a stub of the names the code imports (Agent, FormData, buildConnector) — the size and init time left
 *   once the Didit and webhook clients use node:https or the runtime's built-in fetch instead of the npm package;
 * - zod/mini for a schema shaped like the create-check request, against the classic `zod` import.
 */
export async function runBundleExperiments(reps: number): Promise<BundleExperiment[]> {
  const undiciStub: Plugin = {
    name: 'undici-stub',
    setup(b: PluginBuild) {
      b.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'bench-stub' }));
      b.onLoad({ filter: /.*/, namespace: 'bench-stub' }, () => ({
        contents:
          'export class Agent { constructor(o) { this.o = o; } request() { throw new Error("stub"); } close() {} }\n' +
          'export const FormData = globalThis.FormData;\nexport const request = () => { throw new Error("stub"); };\n' +
          'export const buildConnector = () => () => { throw new Error("stub"); };\n',
        loader: 'js',
      }));
    },
  };
  const variants: { name: string; entry: string; plugins: Plugin[] }[] = [
    { name: 'process-upload, undici stubbed', entry: 'lambdas/handlers/process-upload.ts', plugins: [undiciStub] },
    { name: 'deliver-webhook, undici stubbed', entry: 'lambdas/handlers/deliver-webhook.ts', plugins: [undiciStub] },
    { name: 'zod/mini, create-request-shaped schema alone', entry: 'bench/zod-mini-probe.ts', plugins: [] },
    { name: 'classic zod, create-request.ts alone', entry: 'lambdas/core/create-request.ts', plugins: [] },
  ];
  const out: BundleExperiment[] = [];
  for (const variant of variants) {
    const outdir = path.join(OUT_DIR, 'experiments', variant.name.replace(/[^a-z0-9]+/gi, '-'));
    rmSync(outdir, { recursive: true, force: true });
    mkdirSync(outdir, { recursive: true });
    const file = path.join(outdir, 'index.js');
    await build({
      entryPoints: [path.join(REPO_ROOT, variant.entry)],
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      minify: true,
      external: [...AWS_SDK_IN_RUNTIME, ...IMAGE_DECODER_MODULES],
      outfile: file,
      logLevel: 'silent',
      plugins: variant.plugins,
    });
    const samples: number[] = [];
    for (let i = 0; i < reps; i++) samples.push(requireOnce(file, false).requireMs);
    out.push({ name: variant.name, bytes: statSync(file).size, requireMs: summarize(samples) });
  }
  return out;
}
