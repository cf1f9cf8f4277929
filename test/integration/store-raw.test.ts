import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { describeRawContract } from '../contract/raw.js';
import { createDatabase, postgresEnv, skipNote, withClient, type TestDatabase } from '../helpers/postgres.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

const RAW_ROWS = 'SELECT COUNT(*) AS n FROM events WHERE raw_body IS NOT NULL OR raw_headers IS NOT NULL';

// On a real file, the writes on the writer thread (the body crosses to it), as the serving process runs them.
describeRawContract('sqlite', async (options) => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-raw-'));
  const store = createSqliteStore(join(dir, 'bridge.db'), { writerThread: true, ...options });
  return {
    store,
    rawRows: async () => (store.db.prepare(RAW_ROWS).get() as { n: number }).n,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const server = postgresEnv();
if (!server.url) skipOrFail('PostgreSQL raw requests', server.skipReason ?? 'no PostgreSQL server');
let database: Promise<TestDatabase> | undefined;
let schemas = 0;
afterAll(async () => {
  if (database) await (await database).drop();
});

describe.skipIf(!server.url)(`postgres${skipNote(server.url ? null : server.skipReason)}`, () => {
  describeRawContract('postgres', async (options) => {
    database ??= createDatabase(server.url as string, 'audian_raw');
    const base = (await database).url;
    const schema = `s${++schemas}`;
    await withClient(base, (client) => client.query(`CREATE SCHEMA ${schema}`));
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const store = await createPostgresStore(url.toString(), options);
    return {
      store,
      rawRows: async () => Number((await store.pool.query<{ n: string }>(RAW_ROWS)).rows[0]?.n),
      async dispose() {
        await store.close();
        await withClient(base, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`));
      },
    };
  });
});
