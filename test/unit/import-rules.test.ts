import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The layering the README declares, enforced by `npm run lint` (Biome noRestrictedImports per folder, biome.json).
// Every case is one file in a scratch copy of the layout, linted with the project's own biome.json in one run: a
// wrong import must be reported with its layer's message, and the imports each layer is meant to use must pass.
const root = fileURLToPath(new URL('../../', import.meta.url));
const biome = join(root, 'node_modules', '.bin', 'biome');

const WRONG: Array<[string, string, RegExp]> = [
  ['lambdas/core/a.ts', '../adapters/check-store', /lambdas\/core is the pure centre/],
  ['lambdas/core/b.ts', '../services/check-processor', /pure centre/],
  ['lambdas/core/lifecycle/a.ts', '../../handlers/get-check', /pure centre/],
  ['lambdas/core/c.ts', '../config', /pure centre/],
  ['lambdas/core/d.ts', '../observability', /pure centre/],
  ['lambdas/core/e.ts', '@aws-sdk/client-dynamodb', /pure centre/],
  ['lambdas/core/f.ts', 'undici', /pure centre/],
  ['lambdas/adapters/a.ts', '../services/check-processor', /An adapter implements a port/],
  ['lambdas/adapters/b.ts', '../handlers/process-upload', /An adapter implements a port/],
  ['lambdas/adapters/c.ts', '../config', /An adapter implements a port/],
  ['lambdas/services/a.ts', '../adapters/check-store', /A service depends on the ports/],
  ['lambdas/services/b.ts', '../handlers/create-check', /A service depends on the ports/],
  ['lambdas/services/c.ts', '@aws-sdk/client-s3', /A service depends on the ports/],
  ['lambdas/observability.ts', './services/check-processor', /shared leaves/],
  ['lib/parts/a.ts', '../../lambdas/services/check-processor', /The construct takes shared names/],
  ['lib/a.ts', '../lambdas/adapters/check-store', /The construct takes shared names/],
  ['lib/b.ts', '../lambdas/config', /The construct takes shared names/],
  ['contracts/a.ts', '../lambdas/services/check-creator', /Contracts and the browser sample/],
  ['web/a.ts', '../lambdas/adapters/upload-presigner', /Contracts and the browser sample/],
];

const ALLOWED: Array<[string, string[]]> = [
  ['lambdas/core/ok.ts', ['./check', './lifecycle/transitions', '../errors', 'sharp', 'zod', 'node:crypto']],
  ['lambdas/adapters/ok.ts', ['../core/ports', '../errors', '../observability', '@aws-sdk/client-dynamodb']],
  ['lambdas/services/ok.ts', ['../core/ports', '../core/lifecycle/transitions', '../errors', '../observability']],
  ['lambdas/handlers/ok.ts', ['../adapters/check-store', '../services/check-processor', '../config']],
  ['lib/parts/ok.ts', ['../../lambdas/core/metrics', 'aws-cdk-lib', '../../contracts/documents']],
  ['web/ok.ts', ['../lambdas/core/upload-rules', '../contracts/api', './client-error']],
];

let scratch: string;
/** noRestrictedImports messages by file path. */
const found = new Map<string, string[]>();

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'import-rules-'));
  writeFileSync(join(scratch, 'biome.json'), readFileSync(join(root, 'biome.json')));
  const files: Array<[string, string[]]> = [...WRONG.map(([path, s]): [string, string[]] => [path, [s]]), ...ALLOWED];
  for (const [path, specifiers] of files) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    const imports = specifiers.map((s, i) => `import { x${i} } from '${s}';`).join('\n');
    writeFileSync(join(scratch, path), `${imports}\nexport const all = [${specifiers.map((_, i) => `x${i}`)}];\n`);
  }
  const out = await promisify(execFile)(biome, ['lint', '--vcs-enabled=false', '--reporter=json', '.'], {
    cwd: scratch,
  }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
  // The JSON report is the first line of stdout.
  const report = JSON.parse(out.stdout.split('\n')[0] ?? '') as {
    diagnostics: Array<{ category: string; message: string; location: { path: string } }>;
  };
  for (const d of report.diagnostics) {
    if (d.category !== 'lint/style/noRestrictedImports') continue;
    found.set(d.location.path, [...(found.get(d.location.path) ?? []), d.message]);
  }
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('a wrong import fails the lint', () => {
  it.each(WRONG)('%s importing %s', (path, _specifier, message) => {
    const messages = found.get(path) ?? [];
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  });
});

describe('the imports each layer is meant to use pass', () => {
  it.each(ALLOWED)('%s', (path) => {
    expect(found.get(path) ?? []).toEqual([]);
  });
});
