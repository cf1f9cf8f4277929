import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { databaseUrl } from '../../scripts/postgres-server.js';
import type { PostgresTestEnv } from '../setup/postgres.js';

export { startScriptPostgres, type ScriptPostgres } from '../../scripts/postgres-server.js';

/** The server test/setup/postgres.ts provides (a superuser URL), or why there is none. */
export function postgresEnv(): PostgresTestEnv {
  return inject('postgres');
}

/** ` — SKIPPED: <reason>` for a describe's title, or nothing when it runs. */
export function skipNote(reason: string | null): string {
  return reason ? ` — SKIPPED: ${reason}` : '';
}

export interface TestDatabase {
  readonly name: string;
  /** The URL of the new database, with the admin URL's credentials. */
  readonly url: string;
  /** Drops it, ending whatever sessions are still on it. */
  drop(): Promise<void>;
}

/** A database of the test's own on the server `adminUrl` names: no other test sees its rows. */
export async function createDatabase(adminUrl: string, prefix = 'audian_test'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: databaseUrl(adminUrl, name),
    drop: () => withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** One client for one job on `url`, always closed. */
export async function withClient<T>(url: string, job: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await job(client);
  } finally {
    await client.end();
  }
}
