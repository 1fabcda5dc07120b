/**
 * `npm run build` (and `npm pack`, through `prepack`): the package a CDK app installs.
 *
 *   dist/lib/, dist/contracts/, dist/lambdas/core/   the construct and the subscriber contracts as CommonJS (esbuild,
 *                                                    file by file) with declarations (tsc)
 *   dist/functions/<name>/index.js                   every handler bundled exactly as the source synth bundles it
 *   dist/functions/process-upload-<arm64|x86_64>/    the image processor per CPU, with sharp's Linux binaries and
 *                                                    libheif-js installed next to it (checked: ELF for that CPU)
 *   dist/cli/liveness.mjs                            the `liveness` CLI, one file
 *
 * So a consumer's synth needs neither esbuild, TypeScript, Docker nor the network: NodeFunction takes these
 * directories as they are when it runs from dist/ (lib/parts/node-function.ts). npm installs sharp for both CPUs from
 * its cache (`--prefer-offline`), so a machine that ran `npm ci` once builds offline.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as esbuild from 'esbuild';
import {
  AWS_SDK_IN_RUNTIME,
  IMAGE_DECODER_MODULES,
  npmCpu,
  prebuiltFunctionName,
  REPO_ROOT,
} from '../lib/parts/node-function';
import { PROCESS_UPLOAD_ENTRY } from '../lib/parts/processor';
import { SWEEP_CHECKS_ENTRY } from '../lib/parts/sweeper';
import { CREATE_CHECK_ENTRY, DELETE_CHECK_ENTRY, GET_CHECK_ENTRY } from '../lib/parts/upload-api';
import { DELIVER_WEBHOOK_ENTRY, DIDIT_WEBHOOK_ENTRY } from '../lib/parts/webhooks';
import { lockSubset, readLock } from './lock-subset';

const DIST = path.join(REPO_ROOT, 'dist');
const ENTRY_POINTS = ['lib/index.ts', 'contracts/index.ts'];

/** Every function the construct creates; the packed-package test synthesizes it, so a missing one fails there. */
export const FUNCTIONS: readonly { readonly entry: string; readonly includeSharp?: boolean }[] = [
  { entry: CREATE_CHECK_ENTRY },
  { entry: GET_CHECK_ENTRY },
  { entry: DELETE_CHECK_ENTRY },
  { entry: PROCESS_UPLOAD_ENTRY, includeSharp: true },
  { entry: SWEEP_CHECKS_ENTRY },
  { entry: DELIVER_WEBHOOK_ENTRY },
  { entry: DIDIT_WEBHOOK_ENTRY },
];
const ARCHITECTURES = [lambda.Architecture.ARM_64, lambda.Architecture.X86_64];

function log(line: string): void {
  process.stderr.write(`build: ${line}\n`);
}

/** The construct library: every file the entry points reach, each compiled to CommonJS next to its declarations. */
async function buildLibrary(): Promise<void> {
  const { metafile } = await esbuild.build({
    entryPoints: ENTRY_POINTS,
    outdir: path.join(tmpdir(), 'liveness-closure'),
    bundle: true,
    packages: 'external',
    platform: 'node',
    write: false,
    metafile: true,
    logLevel: 'error',
  });
  const files = Object.keys(metafile.inputs).filter((file) => file.endsWith('.ts'));
  await esbuild.build({
    entryPoints: files,
    outdir: DIST,
    outbase: REPO_ROOT,
    bundle: false,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // node-function.ts reads import.meta.url ?? __filename; in CommonJS the former is empty by design.
    logOverride: { 'empty-import-meta': 'silent' },
    logLevel: 'warning',
  });
  // The repository is "type": "module"; the package's JavaScript is CommonJS, which every CDK app can require().
  writeFileSync(path.join(DIST, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
  log(`library: ${files.length} files`);
}

/**
 * Declarations need a full type check (tsc, the slow step: aws-cdk-lib's types are large), so they are emitted in a
 * child process while the functions are bundled and installed.
 */
function emitDeclarations(): Promise<void> {
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc exited with ${code}`))));
  });
}

async function bundleHandler(entry: string, outdir: string, external: readonly string[]): Promise<void> {
  await esbuild.build({
    entryPoints: [path.join(REPO_ROOT, entry)],
    outfile: path.join(outdir, 'index.js'),
    bundle: true,
    platform: 'node',
    // The runtime of every function (lib/parts/node-function.ts: Node.js 24), as NodejsFunction derives it.
    target: 'node24',
    format: 'cjs',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: [...external],
    logLevel: 'warning',
  });
}

/**
 * sharp for Linux/glibc on `cpu` and libheif-js, installed into `target`/node_modules by `npm ci` from a lock cut out
 * of this repository's (scripts/lock-subset.ts): the exact versions its tests ran, fetched by integrity, from npm's
 * cache when it holds them (`--prefer-offline`: a machine that ran `npm ci` and once bundled each CPU builds offline).
 */
function installImageDecoders(target: string, cpu: 'arm64' | 'x64'): void {
  const scratch = mkdtempSync(path.join(tmpdir(), `liveness-decoders-${cpu}-`));
  try {
    const lock = readLock(REPO_ROOT);
    const binaries = new Set([`@img/sharp-linux-${cpu}`, `@img/sharp-libvips-linux-${cpu}`]);
    const packages = lockSubset(lock, IMAGE_DECODER_MODULES, (name) => binaries.has(name));
    const dependencies = Object.fromEntries(
      IMAGE_DECODER_MODULES.map((name) => [name, packages[`node_modules/${name}`]?.version as string]),
    );
    writeFileSync(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'decoders', private: true, dependencies }),
    );
    writeFileSync(
      path.join(scratch, 'package-lock.json'),
      JSON.stringify({
        name: 'decoders',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'decoders', dependencies }, ...packages },
      }),
    );
    execFileSync(
      'npm',
      [
        'ci',
        '--omit=dev',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--os=linux',
        `--cpu=${cpu}`,
        '--libc=glibc',
      ],
      {
        cwd: scratch,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, npm_config_update_notifier: 'false' },
      },
    );
    cpSync(path.join(scratch, 'node_modules'), path.join(target, 'node_modules'), { recursive: true });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  // libheif-js ships an asm.js build, a separate .wasm and an ES module too; the processor loads only the bundle
  // with the WebAssembly inlined. Its licence and package.json stay, so the LGPL library remains whole and replaceable.
  const libheif = path.join(target, 'node_modules', 'libheif-js');
  for (const unused of [
    'libheif',
    'libheif-wasm/libheif.js',
    'libheif-wasm/libheif.wasm',
    'libheif-wasm/libheif-bundle.mjs',
  ]) {
    rmSync(path.join(libheif, unused), { recursive: true, force: true });
  }
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'check-sharp-binary.mjs'), target, cpu], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function buildFunctions(): Promise<void> {
  for (const { entry, includeSharp } of FUNCTIONS) {
    if (!includeSharp) {
      const name = prebuiltFunctionName(entry, false, lambda.Architecture.ARM_64);
      await bundleHandler(entry, path.join(DIST, 'functions', name), AWS_SDK_IN_RUNTIME);
      log(`function ${name}`);
      continue;
    }
    for (const architecture of ARCHITECTURES) {
      const name = prebuiltFunctionName(entry, true, architecture);
      const outdir = path.join(DIST, 'functions', name);
      await bundleHandler(entry, outdir, [...AWS_SDK_IN_RUNTIME, ...IMAGE_DECODER_MODULES]);
      installImageDecoders(outdir, npmCpu(architecture));
      log(`function ${name} (sharp and libheif-js for linux-${npmCpu(architecture)})`);
    }
  }
}

/** The CLI as one ES module with its dependencies inlined; cli/liveness.mjs runs it where the TypeScript is absent. */
async function buildCli(): Promise<void> {
  await esbuild.build({
    entryPoints: [path.join(REPO_ROOT, 'cli', 'liveness.ts')],
    outfile: path.join(DIST, 'cli', 'liveness.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Dependencies written as CommonJS call require(); an ES module has none of its own.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  log('cli');
}

rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST, { recursive: true });
const started = Date.now();
const declarations = emitDeclarations();
// A failed declaration emit must not leave an unhandled rejection while the other steps run.
declarations.catch(() => undefined);
await buildLibrary();
await buildFunctions();
await buildCli();
await declarations;
log(`declarations; done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
