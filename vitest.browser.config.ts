import { defineConfig } from 'vitest/config';

/**
 * The console's tests in a real Chromium (`npm run test:browser`), apart from
 * `npm test`: CI runs them once, not on each Node version. One file at a time,
 * with room for a busy two-core machine.
 */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    allowOnly: false,
  },
});
