import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start servers, brokers and child processes and mostly wait on them: three
    // files at once keep two cores busy (with two, the run used 1.7 of them).
    maxWorkers: 3,
    // A focused test must never pass CI silently.
    allowOnly: false,
    projects: [
      // Pure code, and SQLite in a temporary file or in memory: no broker, no database server. The
      // contract's rules as pure functions (test/contract/*.test.ts) need none either.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Starts a Kafka broker unless KAFKA_BROKERS names one (test/setup/kafka.ts), and a
          // PostgreSQL server unless AUDIAN_TEST_POSTGRES_URL names one (test/setup/postgres.ts).
          globalSetup: ['test/setup/kafka.ts', 'test/setup/postgres.ts'],
        },
      },
    ],
  },
});
