import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { contractDocuments } from '../contracts/documents';
import type { OpenApiInputs } from '../contracts/openapi';
import { DEFAULT_SETTINGS } from '../lib/settings';

/**
 * Writes every generated contract: api/openapi.json, schemas/events/*.json and schemas/webhook-payload.json, all from
 * the zod schemas in lambdas/core (`npm run contracts`; `npm run openapi` writes the OpenAPI document alone).
 * The drift tests regenerate them in memory and fail when a committed file differs.
 */

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the documents depend on besides the schemas: the package version and the stack's default threshold. */
export function contractInputs(): OpenApiInputs {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  return { version: pkg.version, defaultDeclineThreshold: DEFAULT_SETTINGS.defaultDeclineThreshold };
}

/** Writes the named documents (all of them by default) and formats them as `npm run lint` expects. */
export function writeContracts(only?: (path: string) => boolean): string[] {
  const written: string[] = [];
  for (const [path, document] of Object.entries(contractDocuments(contractInputs()))) {
    if (only && !only(path)) continue;
    const file = join(REPO_ROOT, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
    written.push(path);
  }
  // Biome decides the layout of JSON (short arrays on one line); formatting here keeps `biome check` green.
  execFileSync(join(REPO_ROOT, 'node_modules/.bin/biome'), ['format', '--write', ...written], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return written;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const path of writeContracts()) console.log(`wrote ${path}`);
}
