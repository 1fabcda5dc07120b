#!/usr/bin/env node
/**
 * `prepublishOnly`: refuses `npm publish` while package.json still names the placeholder repository, or the build is
 * missing. Everything else about the package is ready; where it lives is the owner's to fill in.
 */
import { existsSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const problems = [];
for (const field of ['homepage', 'repository', 'bugs']) {
  const value = JSON.stringify(pkg[field] ?? '');
  if (value === '""' || value.includes('/OWNER/')) problems.push(`${field} still names the placeholder OWNER`);
}
for (const file of [pkg.main, pkg.types, 'dist/functions/process-upload-arm64/index.js']) {
  if (!existsSync(new URL(`../${file}`, import.meta.url))) problems.push(`${file} is missing: run npm run build`);
}
if (problems.length > 0) {
  process.stderr.write(`Not publishing:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
