import { defineConfig } from 'vitest/config';

/**
 * Two tiers. `unit` (`*.unit.test.ts`): no emulator, in-memory adapters, fakes and injected clocks;
 * runs in seconds (`npm run test:unit`). `integration`: everything else, over real HTTP against one
 * AWS emulator that global-setup.ts starts (or AGENTOS_AWS_ENDPOINT names). `npm test` runs both.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 3,
    restoreMocks: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.unit.test.ts'],
          setupFiles: ['test/support/test-env.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.unit.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/aws-test-env.ts'],
        },
      },
    ],
  },
});
