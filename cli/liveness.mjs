#!/usr/bin/env node
// `npx liveness`: in the repository the CLI is TypeScript like the rest, and tsx's loader runs it without a build step;
// in the installed package (no TypeScript shipped) it is the single file `npm run build` bundled into dist/cli.
import { existsSync } from 'node:fs';

const source = new URL('./liveness.ts', import.meta.url);
if (existsSync(source)) {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport('./liveness.ts', import.meta.url);
} else {
  await import('../dist/cli/liveness.mjs');
}
