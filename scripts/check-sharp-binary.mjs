#!/usr/bin/env node
/**
 * Fails the CDK synth when a Lambda asset does not hold a sharp binary that Lambda can load.
 *
 * Usage: node scripts/check-sharp-binary.mjs <asset-dir> <arm64|x64>
 *
 * Bundling installs sharp with npm_config_os/cpu/libc set to the function's platform. When npm cannot fetch the
 * platform package (offline, cold cache, wrong flags) it skips the optional `@img/*` packages without an error, and
 * the function only fails at its first cold start with "Could not load the sharp module". This check turns that
 * into a synth failure: the native addon and libvips must exist and be ELF 64-bit little-endian for the right CPU.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';

/** ELF e_machine values (offset 18, little-endian u16). */
const E_MACHINE = { arm64: 0xb7, x64: 0x3e };
const MACHINE_NAMES = new Map([
  [0xb7, 'aarch64'],
  [0x3e, 'x86-64'],
  [0x28, 'arm'],
  [0x03, 'x86'],
]);

const [assetDir, cpu] = process.argv.slice(2);

if (!assetDir || !cpu || !(cpu in E_MACHINE)) {
  fail('usage: check-sharp-binary.mjs <asset-dir> <arm64|x64>', 2);
}

const modules = path.join(assetDir, 'node_modules');
const addonPackage = path.join(modules, '@img', `sharp-linux-${cpu}`);
const libvipsPackage = path.join(modules, '@img', `sharp-libvips-linux-${cpu}`);
const hint =
  `npm skipped or mis-targeted the optional package. Make sure npm's cache holds @img/sharp-linux-${cpu} ` +
  `(run \`npm install --os=linux --cpu=${cpu} --libc=glibc sharp\` once with network access) and that ` +
  `npm_config_cpu=${cpu} reaches the bundling step.`;

if (!existsSync(path.join(modules, 'sharp', 'package.json'))) {
  fail(`${modules}/sharp is missing: the function imports sharp but the asset does not contain it.`);
}
if (!existsSync(path.join(addonPackage, 'package.json'))) {
  fail(`@img/sharp-linux-${cpu} is missing from ${modules}. ${hint}`);
}

// sharp 0.34 names the addon lib/sharp-linux-<cpu>.node; 0.35 adds its version: lib/sharp-linux-<cpu>-0.35.5.node.
const addonPattern = new RegExp(`^sharp-linux-${cpu}(-[0-9][\\w.-]*)?\\.node$`);
const addon = listFiles(path.join(addonPackage, 'lib')).find((name) => addonPattern.test(name));
if (!addon) {
  fail(`${addonPackage}/lib holds no sharp-linux-${cpu}[-<version>].node addon. ${hint}`);
}
expectElf(path.join(addonPackage, 'lib', addon), cpu);

if (!existsSync(path.join(libvipsPackage, 'package.json'))) {
  fail(`@img/sharp-libvips-linux-${cpu} is missing from ${modules}. ${hint}`);
}
const libvips = listFiles(path.join(libvipsPackage, 'lib')).find((name) => name.startsWith('libvips-cpp.so'));
if (!libvips) {
  fail(`${libvipsPackage}/lib holds no libvips-cpp.so. ${hint}`);
}
expectElf(path.join(libvipsPackage, 'lib', libvips), cpu);

process.stdout.write(`check-sharp-binary: ok, ${addon} and ${libvips} are ELF ${MACHINE_NAMES.get(E_MACHINE[cpu])}\n`);

function listFiles(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function expectElf(file, wantedCpu) {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  let read;
  try {
    read = readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  const relative = path.relative(assetDir, file);
  if (read < header.length || header.readUInt32BE(0) !== 0x7f454c46) {
    fail(`${relative} is not an ELF file, so it cannot load on Lambda (Linux).`);
  }
  if (header[4] !== 2 || header[5] !== 1) {
    fail(`${relative} is not a 64-bit little-endian ELF file.`);
  }
  const machine = header.readUInt16LE(18);
  if (machine !== E_MACHINE[wantedCpu]) {
    const found = MACHINE_NAMES.get(machine) ?? `e_machine 0x${machine.toString(16)}`;
    fail(
      `${relative} is built for ${found}, but the function runs on ${MACHINE_NAMES.get(E_MACHINE[wantedCpu])}. ${hint}`,
    );
  }
}

function fail(message, code = 1) {
  process.stderr.write(`check-sharp-binary: ${message}\n`);
  process.exit(code);
}
