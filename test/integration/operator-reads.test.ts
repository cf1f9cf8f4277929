import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { countWalkSql, SQL, walkSql } from '../../src/store/sqlite/operator-reads.js';
import { describeOperatorReadsContract } from '../contract/operator-reads.js';
import { createDatabase, postgresEnv, skipNote, withClient, type TestDatabase } from '../helpers/postgres.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

// On a real file, the writes on the writer thread, as the serving process runs them.
describeOperatorReadsContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-reads-'));
  const store = createSqliteStore(join(dir, 'bridge.db'), { writerThread: true });
  return {
    store,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite: the operator reads use indexes', () => {
  it('no read scans a table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-reads-plan-'));
    const store = createSqliteStore(join(dir, 'bridge.db'));
    try {
      const plans = Object.fromEntries(
        Object.entries(SQL).map(([name, sql]) => {
          const params = /@\w/.test(sql)
            ? [{ statuses: null, connector: null, route: null, type: null, source: null, event: 'e', call: 'c', since: null, until: null, before: null, limit: 10, digits: '1' }]
            : ['c', 10].slice(0, (sql.match(/\?/g) ?? []).length);
          const rows = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
          return [name, rows.map((row) => row.detail).join('; ')];
        }),
      );
      for (const [name, plan] of Object.entries(plans)) {
        if (name === 'eventsWalk') continue;
        // "SCAN sources" reads the recursive list of sources, one index seek per source.
        expect(plan, name).not.toMatch(/SCAN (events|deliveries|calls|d|e|m|c)\b(?! USING)/);
      }
      // The newest-first walk, with and without filters, is a range of the primary key below the cursor.
      for (const search of [{}, { statuses: ['dead', 'skipped'] as const, connector: 'c', type: 't', since: 1, until: 2 }]) {
        const walk = store.db.prepare(`EXPLAIN QUERY PLAN ${walkSql(search)}`).all({ before: 10, limit: 10, connector: 'c', type: 't', since: 1, until: 2 }) as { detail: string }[];
        expect(walk.map((row) => row.detail).join('; ')).not.toMatch(/SCAN (d|e)\b(?! USING)/);
      }
      // A bulk replay's count down the ids is narrowed by the same indexes as the walk when it names a status or a connector.
      for (const search of [{ statuses: ['dead'] as const }, { connector: 'c' }, { statuses: ['pending'] as const, type: 't' }]) {
        const count = store.db.prepare(`EXPLAIN QUERY PLAN ${countWalkSql(search)}`).all({ connector: 'c', type: 't' }) as { detail: string }[];
        expect(count.map((row) => row.detail).join('; '), JSON.stringify(search)).not.toMatch(/SCAN (d|e)\b(?! USING)/);
      }
      // The events list walks the events newest first, stopped by its limit; by call it seeks the call's events.
      expect(plans.eventsWalk).toMatch(/SCAN e\b/);
      expect(plans.eventsByCall).toMatch(/events_call|events_subject/);
      expect(plans.callsWithNumber).toMatch(/calls_from_digits/);
      expect(plans.callsWithNumber).toMatch(/calls_to_digits/);
      expect(plans.lastError).toMatch(/deliveries_errors/);
      expect(plans.byCall).toMatch(/events_call/);
      expect(plans.byEvent).toMatch(/events_id/);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const server = postgresEnv();
if (!server.url) skipOrFail('PostgreSQL operator reads', server.skipReason ?? 'no PostgreSQL server');
let database: Promise<TestDatabase> | undefined;
let schemas = 0;
afterAll(async () => {
  if (database) await (await database).drop();
});

describe.skipIf(!server.url)(`postgres${skipNote(server.url ? null : server.skipReason)}`, () => {
  // One database for the file, a fresh schema per test.
  describeOperatorReadsContract('postgres', async () => {
    database ??= createDatabase(server.url as string, 'audian_reads');
    const base = (await database).url;
    const schema = `s${++schemas}`;
    await withClient(base, (client) => client.query(`CREATE SCHEMA ${schema}`));
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const store = await createPostgresStore(url.toString());
    return {
      store,
      async dispose() {
        await store.close();
        await withClient(base, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`));
      },
    };
  });
});
