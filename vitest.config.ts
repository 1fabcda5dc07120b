import { defineConfig } from 'vitest/config';

export default defineConfig({
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
