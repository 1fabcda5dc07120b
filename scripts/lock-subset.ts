/**
 * A package-lock.json for a small scratch project, cut out of this repository's lock: the named packages and
 * everything they need, at the versions and integrities this repository tested. `npm ci` installs from such a lock by
 * integrity alone, from npm's cache when it holds the tarballs (no registry metadata needed), so the package build and
 * the packed-package test work offline on any machine where `npm ci` ran once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  inBundle?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

export function readLock(repoRoot: string): Record<string, LockEntry> {
  return (
    JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    }
  ).packages;
}

/** Where Node (and npm) find `name` from the package at `from` ('' is the project itself). */
function resolveIn(lock: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock[candidate]) return candidate;
    if (!base) return undefined;
    const parent = base.lastIndexOf('/node_modules/');
    base = parent < 0 ? '' : base.slice(0, parent);
  }
}

/**
 * The lock entries of `roots` (top-level names) and their dependencies, peer dependencies and those optional
 * dependencies `wantOptional` accepts (e.g. only sharp's binaries for one platform). Dev flags are dropped: in the
 * scratch project every entry is a production dependency.
 */
export function lockSubset(
  source: Record<string, LockEntry>,
  roots: readonly string[],
  wantOptional: (name: string) => boolean = () => true,
): Record<string, LockEntry> {
  const packages: Record<string, LockEntry> = {};
  const queue: string[] = [];
  const copy = (key: string) => {
    if (packages[key]) return;
    const { dev, devOptional, ...entry } = source[key] as LockEntry;
    packages[key] = entry;
    queue.push(key);
  };
  for (const name of roots) {
    if (!source[`node_modules/${name}`]) throw new Error(`${name} is not in package-lock.json`);
    copy(`node_modules/${name}`);
  }
  while (queue.length > 0) {
    const key = queue.shift() as string;
    const entry = packages[key] as LockEntry;
    // Bundled dependencies come inside the package's own tarball; their lock entries go along.
    for (const nested of Object.keys(source).filter((k) => k.startsWith(`${key}/node_modules/`))) {
      if (source[nested]?.inBundle) copy(nested);
    }
    const optional = Object.keys(entry.optionalDependencies ?? {}).filter(wantOptional);
    const required = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((name) => !entry.peerDependenciesMeta?.[name]?.optional),
    ];
    for (const name of [...required, ...optional]) {
      const found = resolveIn(source, key, name);
      if (found) copy(found);
      else if (!optional.includes(name)) throw new Error(`${key} needs ${name}, which the repository does not lock`);
    }
    if (entry.optionalDependencies) {
      entry.optionalDependencies = Object.fromEntries(
        Object.entries(entry.optionalDependencies).filter(([name]) => optional.includes(name)),
      );
    }
  }
  return packages;
}
