import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The package's exports point at the build (dist/); tests run what the package is built from, the source. The
    // built package itself is installed and synthesized by test/infra/packed-package.test.ts.
    alias: [
      { find: /^didit-liveness-service$/, replacement: fileURLToPath(new URL('./lib/index.ts', import.meta.url)) },
      {
        find: /^didit-liveness-service\/contracts$/,
        replacement: fileURLToPath(new URL('./contracts/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    pool: 'forks',
    // Two cores: two test files at a time keeps the emulator and sharp from starving each other.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: {
      CDK_VALIDATION: 'false',
      // Handlers log JSON lines; keep the test output readable (a test that inspects logs sets its own level).
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      // The SDK warns on every client that Node 20 support ends; Lambda runs 22+.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  },
});
