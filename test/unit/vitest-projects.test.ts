import { expect, inject, it } from 'vitest';

/**
 * Unit tests run with no global setup (vitest.config.ts, project `unit`): no
 * Kafka broker and no PostgreSQL server is started for them, so nothing the
 * integration setup provides reaches them.
 */
it('the unit project starts no broker and no database server', () => {
  const provided = inject as (key: string) => unknown;
  expect(provided('kafka')).toBeUndefined();
  expect(provided('postgres')).toBeUndefined();
});
