import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { context } from 'esbuild';
import type { StaticFile } from './api-server';

/**
 * The browser sample (web/), served at the API's origin so it calls the API without CORS. `web/app.ts` imports the
 * service's own rules from lambdas/core, so it is bundled — here, in memory, when the stack starts, which is why
 * `npm start` and `npm test` need no build step and no generated file is committed. Every request for `/app.js`
 * rebuilds incrementally (milliseconds), so an edit shows on reload without restarting the stack, as for index.html.
 */
export interface WebClient {
  readonly files: readonly StaticFile[];
  dispose(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Bundles web/app.ts once (failing here, with esbuild's message, when it does not build) and serves the pages. */
export async function startWebClient(): Promise<WebClient> {
  const bundler = await context({
    absWorkingDir: REPO_ROOT,
    entryPoints: ['web/app.ts'],
    outfile: 'app.js',
    bundle: true,
    write: false,
    format: 'esm',
    // A browser bundle: an import of a Node built-in (node:fs, Buffer's module, …) is a build error, not a shim.
    platform: 'browser',
    target: 'es2022',
    // Left unminified and with the TypeScript sources inline, so the page stays readable in the browser's devtools.
    sourcemap: 'inline',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const rebuild = async (): Promise<Uint8Array> => {
    const result = await bundler.rebuild();
    const output = result.outputFiles?.[0];
    if (!output) throw new Error('esbuild produced no output for web/app.ts');
    return output.contents;
  };
  // Requests that arrive while a rebuild runs share it rather than queue more on the one context.
  let pending: Promise<Uint8Array> | undefined;
  const build = (): Promise<Uint8Array> => {
    pending ??= rebuild().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  try {
    await build();
  } catch (error) {
    await bundler.dispose();
    throw new Error(`The browser sample web/app.ts does not build: ${(error as Error).message}`, { cause: error });
  }
  return {
    files: [
      { path: '/', read: () => readFile(webFile('index.html')), contentType: 'text/html; charset=utf-8' },
      { path: '/app.js', read: build, contentType: 'text/javascript; charset=utf-8' },
      // The API's contract, generated from the handlers' own schemas (npm run openapi).
      {
        path: '/openapi.json',
        read: () => readFile(fileURLToPath(new URL('../api/openapi.json', import.meta.url))),
        contentType: 'application/json; charset=utf-8',
      },
    ],
    dispose: () => bundler.dispose(),
  };
}

function webFile(name: string): string {
  return fileURLToPath(new URL(`../web/${name}`, import.meta.url));
}
