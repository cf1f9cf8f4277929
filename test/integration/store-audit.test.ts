import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { describeAuditContract } from '../contract/audit.js';
import { createDatabase, postgresEnv, skipNote, withClient, type TestDatabase } from '../helpers/postgres.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/** A trigger that refuses every audit row: the action it belongs to must then be undone with it. */
const REFUSE_AUDIT_SQLITE = `CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END`;

// On a real file, the writes on the writer thread, as the serving process runs them.
describeAuditContract('sqlite, writer thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-audit-'));
  const store = createSqliteStore(join(dir, 'bridge.db'), { writerThread: true });
  return {
    store,
    async failAuditWrites() {
      store.db.exec(REFUSE_AUDIT_SQLITE);
    },
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// The writes on the caller's connection, as the CLI runs them.
describeAuditContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-audit-cli-'));
  const store = createSqliteStore(join(dir, 'bridge.db'));
  return {
    store,
    async failAuditWrites() {
      store.db.exec(REFUSE_AUDIT_SQLITE);
    },
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const server = postgresEnv();
if (!server.url) skipOrFail('PostgreSQL audit', server.skipReason ?? 'no PostgreSQL server');
let database: Promise<TestDatabase> | undefined;
let schemas = 0;
afterAll(async () => {
  if (database) await (await database).drop();
});

describe.skipIf(!server.url)(`postgres${skipNote(server.url ? null : server.skipReason)}`, () => {
  // One database for the file, a fresh schema per test.
  describeAuditContract('postgres', async () => {
    database ??= createDatabase(server.url as string, 'audian_audit');
    const base = (await database).url;
    const schema = `s${++schemas}`;
    await withClient(base, (client) => client.query(`CREATE SCHEMA ${schema}`));
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const store = await createPostgresStore(url.toString());
    return {
      store,
      async failAuditWrites() {
        await store.pool.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`);
        await store.pool.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()');
      },
      async dispose() {
        await store.close();
        await withClient(base, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`));
      },
    };
  });
});
