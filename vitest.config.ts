import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Chromium's tests run once per CI run, by `npm run test:browser` (vitest.browser.config.ts).
    exclude: [...configDefaults.exclude, 'test/browser/**'],
    // Starts a Kafka broker unless KAFKA_BROKERS names one (test/setup/kafka.ts), and a
    // PostgreSQL server unless AUDIAN_TEST_POSTGRES_URL names one (test/setup/postgres.ts).
    globalSetup: ['test/setup/kafka.ts', 'test/setup/postgres.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start servers, brokers and child processes; two cores here.
    maxWorkers: 2,
    // A focused test must never pass CI silently.
    allowOnly: false,
  },
});
