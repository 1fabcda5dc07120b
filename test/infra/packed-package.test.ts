import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHeic } from '../helpers/heic-images';
import { npmCiOffline, REPO_ROOT, type Run, run, writeScratchProject } from '../helpers/packed-app';

// The package as a customer gets it: `npm pack` (which builds it), installed from the tarball into a scratch
// plain-JavaScript CDK app with `npm ci --offline`, synthesized by the CDK CLI with no esbuild, TypeScript or Docker in
// reach; then examples/embed (TypeScript) synthesized against the same installed package, cdk-nag included.

const EM_AARCH64 = 0xb7;
const EM_X86_64 = 0x3e;
const FUNCTIONS = ['create-check', 'get-check', 'sweep-checks', 'deliver-webhook', 'didit-webhook'];
const CDK_CLI = path.join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

interface PackResult {
  readonly filename: string;
  readonly integrity: string;
  readonly version: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string }[];
}

let work: string;
let app: string;
let packed: PackResult;
const timings: Record<string, number> = {};

function timed(step: string, result: Run): Run {
  timings[step] = result.ms;
  if (result.code !== 0) throw new Error(`${step} failed (${result.code}):\n${result.stderr.slice(-4000)}`);
  return result;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'liveness-packed-'));
  app = path.join(work, 'app');
  mkdirSync(app);

  // prepack runs `npm run build`: the tarball holds what a fresh build makes, not a stale dist/.
  const pack = timed(
    'npm pack (build included)',
    await run('npm', ['pack', '--json', '--pack-destination', work], REPO_ROOT),
  );
  packed = (JSON.parse(pack.stdout) as PackResult[])[0] as PackResult;

  const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    bin: Record<string, string>;
  };
  writeScratchProject(
    app,
    {
      file: path.join(work, packed.filename),
      integrity: packed.integrity,
      version: packed.version,
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies,
      bin: manifest.bin,
    },
    // What a CDK app has anyway (the peers), and cdk-nag for the example.
    ['aws-cdk-lib', 'constructs', 'cdk-nag'],
  );
  timed('npm ci --offline', await npmCiOffline(app));
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  mkdirSync(path.join(REPO_ROOT, 'test-output'), { recursive: true });
  writeFileSync(
    path.join(REPO_ROOT, 'test-output', 'packed-package.json'),
    `${JSON.stringify({ tarball: packed && { size: packed.size, unpackedSize: packed.unpackedSize, files: packed.files.length }, timings }, null, 2)}\n`,
  );
});

function elfMachine(file: string): number | undefined {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return header.readUInt32BE(0) === 0x7f454c46 ? header.readUInt16LE(18) : undefined;
}

/** The processor's asset directory in a synthesized stack, found through its template. */
function processorAsset(outdir: string, stack: string): string {
  const template = JSON.parse(readFileSync(path.join(outdir, `${stack}.template.json`), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: { Handler?: string }; Metadata?: Record<string, string> }>;
  };
  const processor = Object.entries(template.Resources).find(
    ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.includes('ProcessUpload'),
  );
  const assetPath = processor?.[1].Metadata?.['aws:asset:path'];
  if (!assetPath) throw new Error(`${stack} has no processor asset`);
  return path.join(outdir, assetPath);
}

describe('the packed tarball', () => {
  it('holds the built JavaScript, declarations and pre-built functions, and none of the TypeScript sources', () => {
    const files = packed.files.map((file) => file.path);

    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'LICENSE',
        'README.md',
        'dist/lib/index.js',
        'dist/lib/index.d.ts',
        'dist/contracts/index.js',
        'dist/cli/liveness.mjs',
        'cli/liveness.mjs',
        ...FUNCTIONS.map((name) => `dist/functions/${name}/index.js`),
        'dist/functions/process-upload-arm64/index.js',
        'dist/functions/process-upload-x86_64/index.js',
        'dist/functions/process-upload-arm64/node_modules/@img/sharp-linux-arm64/package.json',
        'dist/functions/process-upload-x86_64/node_modules/@img/sharp-linux-x64/package.json',
        'dist/functions/process-upload-arm64/node_modules/libheif-js/libheif-wasm/libheif-bundle.js',
      ]),
    );
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((file) => /^(test|lambdas|local|bench|scripts)\//.test(file))).toEqual([]);
    // Two CPUs of sharp's libvips (~8 MB compressed each) are most of it.
    expect(packed.size).toBeLessThan(30 * 1024 * 1024);
  });

  it('installs into a CDK app without esbuild, TypeScript, tsx or Docker tooling', () => {
    const installed = readdirSync(path.join(app, 'node_modules'));
    expect(installed).toEqual(expect.arrayContaining(['didit-liveness-service', 'aws-cdk-lib', 'constructs']));
    for (const tool of ['esbuild', 'typescript', 'tsx', 'ts-node']) expect(installed).not.toContain(tool);
  });
});

describe('a plain-JavaScript CDK app using the installed package', () => {
  let outdir: string;

  beforeAll(async () => {
    writeFileSync(
      path.join(app, 'app.js'),
      [
        "const { App, Stack } = require('aws-cdk-lib');",
        "const lambda = require('aws-cdk-lib/aws-lambda');",
        "const { LivenessService } = require('didit-liveness-service');",
        '',
        'const app = new App();',
        "new LivenessService(new Stack(app, 'LivenessArm'), 'Liveness', {});",
        "new LivenessService(new Stack(app, 'LivenessX86'), 'Liveness', { architecture: lambda.Architecture.X86_64 });",
        'app.synth();',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(app, 'cdk.json'),
      JSON.stringify({ app: 'node app.js', notices: false, context: { 'cli-telemetry': false } }),
    );
    timed(
      'cdk synth (JavaScript app)',
      await run(process.execPath, [CDK_CLI, 'synth', '--quiet', '--output', 'cdk.out'], app, {
        CDK_VALIDATION: 'false',
      }),
    );
    outdir = path.join(app, 'cdk.out');
  }, 300_000);

  it("synthesizes every function from the package's pre-built code (the processor byte for byte)", () => {
    for (const stack of ['LivenessArm', 'LivenessX86']) {
      const template = JSON.parse(readFileSync(path.join(outdir, `${stack}.template.json`), 'utf8')) as {
        Resources: Record<string, { Type: string; Properties: { Runtime?: string; Handler?: string } }>;
      };
      const functions = Object.values(template.Resources).filter(
        (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Runtime === 'nodejs24.x',
      );
      expect(functions.map((fn) => fn.Properties.Handler)).toEqual(Array(7).fill('index.handler'));
    }
    const arm = processorAsset(outdir, 'LivenessArm');
    const packagedProcessor = path.join(app, 'node_modules/didit-liveness-service/dist/functions/process-upload-arm64');
    expect(
      readFileSync(path.join(arm, 'index.js')).equals(readFileSync(path.join(packagedProcessor, 'index.js'))),
    ).toBe(true);
  });

  it.each([
    ['LivenessArm', 'arm64', EM_AARCH64],
    ['LivenessX86', 'x64', EM_X86_64],
  ] as const)('%s ships sharp for linux-%s (ELF machine checked) and the HEIC decoder', (stack, cpu, machine) => {
    const asset = processorAsset(outdir, stack);
    const addonDir = path.join(asset, 'node_modules', '@img', `sharp-linux-${cpu}`, 'lib');
    const addon = readdirSync(addonDir).find((name) => name.endsWith('.node'));
    expect(addon).toBeDefined();
    expect(elfMachine(path.join(addonDir, addon as string))).toBe(machine);
    const libvipsDir = path.join(asset, 'node_modules', '@img', `sharp-libvips-linux-${cpu}`, 'lib');
    const libvips = readdirSync(libvipsDir).find((name) => name.startsWith('libvips-cpp.so'));
    expect(elfMachine(path.join(libvipsDir, libvips as string))).toBe(machine);
    const other = cpu === 'arm64' ? 'x64' : 'arm64';
    expect(existsSync(path.join(asset, 'node_modules', '@img', `sharp-linux-${other}`))).toBe(false);
    expect(existsSync(path.join(asset, 'node_modules', 'libheif-js', 'libheif-wasm', 'libheif-bundle.js'))).toBe(true);
  });

  it('the x86_64 processor asset decodes a phone HEIC with its own libheif-js and sharp (this machine is x86-64)', async () => {
    const asset = processorAsset(outdir, 'LivenessX86');
    const heic = path.join(work, 'phone.heic');
    writeFileSync(heic, readHeic('astronaut-12mp.heic'));
    const script = [
      "const sharp = require('sharp');",
      "const factory = require('libheif-js/libheif-wasm/libheif-bundle.js');",
      '(async () => {',
      '  const lib = factory(); await lib.ready;',
      '  const context = lib.heif_context_alloc();',
      `  lib.heif_context_read_from_memory(context, require('fs').readFileSync(${JSON.stringify(heic)}));`,
      '  const handle = lib.heif_js_context_get_primary_image_handle(context);',
      '  const image = lib.heif_js_decode_image2(handle, lib.heif_colorspace.heif_colorspace_RGB, lib.heif_chroma.heif_chroma_interleaved_RGB);',
      '  const plane = image.channels[0];',
      '  const jpeg = await sharp(Buffer.from(plane.data), { raw: { width: plane.width, height: plane.height, channels: 3 } }).resize(1920, 1920, { fit: "inside" }).jpeg().toBuffer({ resolveWithObject: true });',
      '  console.log(JSON.stringify({ width: jpeg.info.width, height: jpeg.info.height, bytes: jpeg.data.length }));',
      '})();',
    ].join('\n');
    const result = await run(process.execPath, ['-e', script], asset);

    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ width: 1440, height: 1920 });
  });

  it('exports the subscriber contracts and runs the CLI from the package', async () => {
    const contracts = await run(
      process.execPath,
      ['-e', "const c = require('didit-liveness-service/contracts'); console.log(typeof c.verifyWebhook)"],
      app,
    );
    expect(contracts.stdout.trim()).toBe('function');

    const cli = await run(path.join(app, 'node_modules', '.bin', 'liveness'), ['--help'], app);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout + cli.stderr).toMatch(/liveness verify/);
  });
});

describe('examples/embed against the installed package', () => {
  it('synthesizes (cdk-nag AwsSolutions included) with every function on x86_64', async () => {
    const embed = path.join(app, 'embed');
    mkdirSync(embed);
    for (const file of ['app.ts', 'stack.ts', 'cdk.json']) {
      copyFileSync(path.join(REPO_ROOT, 'examples', 'embed', file), path.join(embed, file));
    }
    // The example's `npx tsx app.ts` with the repository's tsx: the scratch app installs no TypeScript tooling.
    const synth = timed(
      'cdk synth (examples/embed)',
      await run(
        process.execPath,
        [CDK_CLI, 'synth', '--quiet', '--output', 'cdk.out', '--app', `node --import ${TSX_LOADER} app.ts`],
        embed,
        { CDK_VALIDATION: 'false' },
      ),
    );

    expect(synth.stderr).not.toMatch(/AwsSolutions-/);
    const template = JSON.parse(
      readFileSync(path.join(embed, 'cdk.out', 'LivenessEmbedExample.template.json'), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Properties: { Architectures?: string[]; Runtime?: string } }> };
    const functions = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Runtime === 'nodejs24.x',
    );
    expect(functions).toHaveLength(7);
    expect(new Set(functions.map((fn) => fn.Properties.Architectures?.[0]))).toEqual(new Set(['x86_64']));
    const x86 = processorAsset(path.join(embed, 'cdk.out'), 'LivenessEmbedExample');
    expect(existsSync(path.join(x86, 'node_modules', '@img', 'sharp-linux-x64'))).toBe(true);
  }, 300_000);
});
