import { defineConfig } from 'vitest/config';

/**
 * Every package's vitest config extends this. Workspace packages resolve to their TypeScript
 * source through the `@zerostate/source` export condition, so tests need no build step. Tests
 * talk to the real Postgres, Redis and NATS; each file isolates itself (own database, own key
 * prefix, own subjects), and files run one at a time per package to keep 2 cores calm.
 */
export default defineConfig({
  resolve: { conditions: ['@zerostate/source'] },
  ssr: { resolve: { conditions: ['@zerostate/source'] } },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: process.env.ZS_TEST_REPORT_DIR ? ['default', 'json'] : ['default'],
    outputFile: process.env.ZS_TEST_REPORT_DIR
      ? { json: `${process.env.ZS_TEST_REPORT_DIR}/${process.cwd().replaceAll('/', '_')}.json` }
      : undefined,
  },
});
