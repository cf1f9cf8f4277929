import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { baseConfig, postWebhook } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge } from '../helpers/child-bridge.js';
import { createDatabase, postgresEnv, skipNote, withClient, type TestDatabase } from '../helpers/postgres.js';

/**
 * README "Stores and replicas": the user of store.url needs the right to create
 * tables at the first start and at upgrades that migrate, not beyond. A bridge
 * process whose user has only the rights to use the tables starts on a migrated
 * schema; on an empty one it stops with one line naming the right it lacks.
 */

const { url: adminUrl, skipReason } = postgresEnv();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/**
 * A login role on `database` with USAGE on schema public, DML on its tables and USAGE on its sequences, and
 * nothing else (PUBLIC's CREATE on public is revoked too, as PostgreSQL before 15 grants it); its store.url.
 */
async function dmlOnlyRole(database: TestDatabase): Promise<{ name: string; url: string }> {
  const name = `audian_dml_${randomBytes(4).toString('hex')}`;
  await withClient(adminUrl!, (client) => client.query(`CREATE ROLE ${name} LOGIN`));
  // The role is cluster-wide: its rights on the database go first (cleanups run before the database is dropped).
  cleanups.push(async () => {
    await withClient(database.url, (client) => client.query(`DROP OWNED BY ${name}`));
    await withClient(adminUrl!, (client) => client.query(`DROP ROLE ${name}`));
  });
  await withClient(database.url, async (client) => {
    await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await client.query(`GRANT USAGE ON SCHEMA public TO ${name}`);
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${name}`);
    await client.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${name}`);
  });
  const url = new URL(database.url);
  url.username = name;
  url.password = '';
  return { name, url: url.toString() };
}

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createDatabase(adminUrl!, 'audian_privilege');
  cleanups.push(() => database.drop());
  return database;
}

/** A config file for one bridge process on `storeUrl`. */
function configOn(storeUrl: string): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-privilege-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'bridge.yaml');
  writeFileSync(path, YAML.stringify(baseConfig(dir, { store: { url: storeUrl } })));
  return { path, dir };
}

describe.skipIf(adminUrl === null)(`a PostgreSQL user with only the rights to use the tables${skipNote(skipReason)}`, () => {
  it('starts a bridge process on a migrated schema, which accepts a webhook', async () => {
    const database = await freshDatabase();
    // The first start, as a user that may create tables.
    await (await createPostgresStore(database.url)).close();
    const role = await dmlOnlyRole(database);
    // The role really cannot create anything: otherwise this test would prove nothing.
    const refused = await withClient(role.url, (client) => client.query('CREATE TABLE probe (id integer)').then(() => undefined, (err: { code?: string }) => err.code));
    expect(refused).toBe('42501');

    const bridge = await startChildBridge(configOn(role.url).path, { timeoutMs: 30_000 });
    cleanups.push(async () => void (await stopChildBridge(bridge, 'SIGKILL')));
    const answer = await postWebhook(`${bridge.url}/webhooks/audian`, { id: 'evt_dml_1', timestamp: new Date().toISOString(), event: 'call.initiated', data: { call_id: 'call_dml' } });
    expect([answer.status, answer.body.duplicate]).toEqual([200, undefined]);
    expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
    const stored = await withClient(database.url, (client) => client.query<{ id: string }>('SELECT id FROM events'));
    expect(stored.rows).toEqual([{ id: 'evt_dml_1' }]);
    expect(await stopChildBridge(bridge)).toBe(0);
  }, 60_000);

  it('on an empty database, the bridge process exits non-zero with one line naming the right it lacks, and creates nothing', async () => {
    const database = await freshDatabase();
    const role = await dmlOnlyRole(database);

    const failure = await startChildBridge(configOn(role.url).path, { timeoutMs: 30_000 }).then(
      async (bridge) => {
        cleanups.push(async () => void (await stopChildBridge(bridge, 'SIGKILL')));
        return 'it started';
      },
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/^bridge exited \(1\) before listening/);
    const lines = failure.split('\n').filter((line) => line.startsWith('audian-bridge:') || /^\s+at /.test(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('STORE_PERMISSION_DENIED');
    expect(lines[0]).toContain('CREATE on schema public');
    const { rows } = await withClient(database.url, (client) => client.query("SELECT to_regclass('schema_migrations')::text AS found"));
    expect(rows).toEqual([{ found: null }]);
  }, 60_000);

  it('without the rights on the tables of a migrated schema, opening the store names the table and the rights', async () => {
    const database = await freshDatabase();
    await (await createPostgresStore(database.url)).close();
    const role = await dmlOnlyRole(database);
    await withClient(database.url, (client) => client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role.name}`));

    const err = await createPostgresStore(role.url).then(
      async (store) => void (await store.close()),
      (error: unknown) => error,
    );
    expect(err).toMatchObject({ code: 'STORE_PERMISSION_DENIED' });
    expect((err as Error).message).toContain('SELECT, INSERT, UPDATE and DELETE on table schema_migrations');
    expect((err as Error).message).not.toContain('\n');
  });
});
