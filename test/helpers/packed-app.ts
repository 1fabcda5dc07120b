import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LockEntry, lockSubset, readLock } from '../../scripts/lock-subset';

/**
 * A scratch npm project installed the way a customer installs the package, but offline: `npm ci --offline` from a
 * lock file assembled here out of the repository's own lock (so every dependency is one `npm ci` of this repository
 * already put in npm's cache), plus the packed tarball. Tests may reach nothing but 127.0.0.1, and `npm ci` fetches
 * tarballs by integrity only, where `npm install` would ask the registry for package metadata first.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const repoLock = () => readLock(REPO_ROOT);

/** The version the repository locks for a top-level package. */
export function lockedVersion(name: string): string {
  const version = repoLock()[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in package-lock.json`);
  return version;
}

export interface PackedTarball {
  readonly file: string;
  readonly integrity: string;
  readonly version: string;
  readonly dependencies: Record<string, string>;
  readonly peerDependencies: Record<string, string>;
  /** npm ci links bins from the lock entry, so it must say what package.json says. */
  readonly bin: Record<string, string>;
}

/**
 * Writes package.json and package-lock.json for a project depending on the tarball and on `registryDependencies`
 * (names the repository locks, at its versions), with everything they need copied from the repository's lock.
 */
export function writeScratchProject(
  dir: string,
  tarball: PackedTarball,
  registryDependencies: readonly string[],
): void {
  const source = repoLock();
  const rootDependencies: Record<string, string> = {};
  for (const name of registryDependencies) rootDependencies[name] = lockedVersion(name);
  const relativeTarball = path.relative(dir, tarball.file).split(path.sep).join('/');
  rootDependencies['didit-liveness-service'] = `file:${relativeTarball}`;
  const packages: Record<string, LockEntry> = {
    // The tarball's own dependencies resolve from the repository's top-level copies.
    ...lockSubset(source, [...registryDependencies, ...Object.keys(tarball.dependencies)]),
    'node_modules/didit-liveness-service': {
      version: tarball.version,
      resolved: `file:${relativeTarball}`,
      integrity: tarball.integrity,
      license: 'Apache-2.0',
      dependencies: tarball.dependencies,
      peerDependencies: tarball.peerDependencies,
      bin: tarball.bin,
    },
  };

  const project = { name: 'scratch-cdk-app', version: '1.0.0', private: true, dependencies: rootDependencies };
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(project, null, 2)}\n`);
  const lock = {
    name: project.name,
    version: project.version,
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: project.name, version: project.version, dependencies: rootDependencies }, ...packages },
  };
  writeFileSync(path.join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a command to completion (asynchronously, so vitest's timers keep running). */
export function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // A non-zero exit puts the number in error.code; a failure to spawn puts a string there (ENOENT, EACCES).
        const code: unknown = error ? (error as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** `npm ci` from the cache only: any package the repository's `npm ci` did not fetch fails the install. */
export function npmCiOffline(dir: string): Promise<Run> {
  return run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], dir, {
    npm_config_update_notifier: 'false',
  });
}
