#!/usr/bin/env node
// `npx liveness`: the CLI is TypeScript like the rest of the repository, and tsx's loader runs it without a build step.
import { tsImport } from 'tsx/esm/api';

await tsImport('./liveness.ts', import.meta.url);
