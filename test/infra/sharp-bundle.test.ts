import { spawnSync } from 'node:child_process';
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
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeFunction, REPO_ROOT } from '../../lib/parts/node-function';
import { PROCESS_UPLOAD_ENTRY } from '../../lib/parts/processor';

const CHECK_SCRIPT = path.join(REPO_ROOT, 'scripts', 'check-sharp-binary.mjs');
const EM_AARCH64 = 0xb7;
const EM_X86_64 = 0x3e;

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'liveness-sharp-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

/** e_machine of an ELF file, or undefined if it is not ELF. */
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

/** A minimal 64-bit little-endian ELF header for the given machine. */
function fakeElf(machine: number): Buffer {
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2;
  header[5] = 1;
  header.writeUInt16LE(machine, 18);
  return header;
}

/** Lays out node_modules the way npm installs sharp for `cpu`, with files of the given machine. */
function fakeAsset(cpu: 'arm64' | 'x64', machine: number, options: { libvips?: boolean } = {}): string {
  const dir = tmpDir();
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, 'sharp'), { recursive: true });
  writeFileSync(path.join(modules, 'sharp', 'package.json'), '{"name":"sharp"}');
  const addon = path.join(modules, '@img', `sharp-linux-${cpu}`);
  mkdirSync(path.join(addon, 'lib'), { recursive: true });
  writeFileSync(path.join(addon, 'package.json'), `{"name":"@img/sharp-linux-${cpu}"}`);
  writeFileSync(path.join(addon, 'lib', `sharp-linux-${cpu}-0.35.5.node`), fakeElf(machine));
  if (options.libvips ?? true) {
    const libvips = path.join(modules, '@img', `sharp-libvips-linux-${cpu}`);
    mkdirSync(path.join(libvips, 'lib'), { recursive: true });
    writeFileSync(path.join(libvips, 'package.json'), `{"name":"@img/sharp-libvips-linux-${cpu}"}`);
    writeFileSync(path.join(libvips, 'lib', 'libvips-cpp.so.8.18.7'), fakeElf(machine));
  }
  return dir;
}

function runCheck(dir: string, cpu: string) {
  const result = spawnSync(process.execPath, [CHECK_SCRIPT, dir, cpu], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('scripts/check-sharp-binary.mjs', () => {
  it('fails when the asset has no sharp at all', () => {
    const result = runCheck(tmpDir(), 'arm64');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/sharp is missing/);
  });

  it('fails when sharp is there but its arm64 binary package is not', () => {
    const dir = fakeAsset('x64', EM_X86_64);
    const result = runCheck(dir, 'arm64');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/@img\/sharp-linux-arm64 is missing/);
  });

  it('fails when the arm64 package holds an x86-64 binary', () => {
    const dir = fakeAsset('arm64', EM_X86_64);
    const result = runCheck(dir, 'arm64');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/built for x86-64, but the function runs on aarch64/);
  });

  it('fails on the real x86-64 binary of this machine when arm64 is wanted', () => {
    const dir = fakeAsset('arm64', EM_AARCH64);
    const realLib = path.join(REPO_ROOT, 'node_modules/@img/sharp-linux-x64/lib');
    const real = readdirSync(realLib).find((name) => name.endsWith('.node'));
    expect(real).toBeDefined();
    copyFileSync(
      path.join(realLib, real as string),
      path.join(dir, 'node_modules/@img/sharp-linux-arm64/lib/sharp-linux-arm64-0.35.5.node'),
    );
    const result = runCheck(dir, 'arm64');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/x86-64/);
  });

  it('fails when libvips is missing', () => {
    const result = runCheck(fakeAsset('arm64', EM_AARCH64, { libvips: false }), 'arm64');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/@img\/sharp-libvips-linux-arm64 is missing/);
  });

  it('passes a complete arm64 layout and a complete x64 layout', () => {
    expect(runCheck(fakeAsset('arm64', EM_AARCH64), 'arm64')).toMatchObject({ status: 0 });
    expect(runCheck(fakeAsset('x64', EM_X86_64), 'x64')).toMatchObject({ status: 0 });
  });

  it('rejects an unknown cpu argument as a usage error', () => {
    expect(runCheck(tmpDir(), 'sparc')).toMatchObject({ status: 2, stderr: expect.stringMatching(/usage/) });
  });
});

describe('processor bundle (real esbuild + npm, no Docker)', () => {
  function bundleProcessor(architecture: lambda.Architecture): string {
    const outdir = tmpDir();
    const app = new App({ outdir });
    const stack = new Stack(app, 'ProcessorBundle');
    new NodeFunction(stack, 'ProcessUpload', { entry: PROCESS_UPLOAD_ENTRY, architecture, includeSharp: true });
    app.synth();
    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    return path.join(outdir, assets[0] as string);
  }

  it('ships the arm64 sharp binary (ELF aarch64) next to the handler', { timeout: 120_000 }, () => {
    const asset = bundleProcessor(lambda.Architecture.ARM_64);
    const lib = path.join(asset, 'node_modules/@img/sharp-linux-arm64/lib');
    const addon = readdirSync(lib).find((name) => name.endsWith('.node'));
    expect(addon).toBeDefined();
    expect(elfMachine(path.join(lib, addon as string))).toBe(EM_AARCH64);
    expect(existsSync(path.join(asset, 'node_modules/@img/sharp-libvips-linux-arm64/package.json'))).toBe(true);
    expect(existsSync(path.join(asset, 'node_modules/@img/sharp-linux-x64'))).toBe(false);
    expect(statSync(path.join(asset, 'index.js')).size).toBeGreaterThan(0);
    // The HEIC decoder beside the bundle (loaded on the first HEIC), not inlined into it.
    expect(existsSync(path.join(asset, 'node_modules/libheif-js/libheif-wasm/libheif-bundle.js'))).toBe(true);
    expect(readFileSync(path.join(asset, 'index.js'), 'utf8')).toContain('libheif-js/libheif-wasm/libheif-bundle.js');
    expect(statSync(path.join(asset, 'index.js')).size).toBeLessThan(1024 * 1024);
  });

  it('ships the x64 sharp binary (ELF x86-64) for an x86_64 function', { timeout: 120_000 }, () => {
    const asset = bundleProcessor(lambda.Architecture.X86_64);
    const lib = path.join(asset, 'node_modules/@img/sharp-linux-x64/lib');
    const addon = readdirSync(lib).find((name) => name.endsWith('.node'));
    expect(elfMachine(path.join(lib, addon as string))).toBe(EM_X86_64);
    expect(existsSync(path.join(asset, 'node_modules/@img/sharp-linux-arm64'))).toBe(false);
  });
});
