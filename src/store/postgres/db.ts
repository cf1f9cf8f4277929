import pg from 'pg';
import { isUnavailable } from './errors.js';
import { MIGRATIONS } from './migrations.js';

/** What a query needs: the pool (one statement, its own transaction) or a client inside a transaction. */
export interface Sql {
  query<Row extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
}

export interface PoolOptions {
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized?: boolean };
  readonly poolSize?: number;
}

const INT8_OID = 20;
/** How long a query waits for a free connection (or a new one) before the store is reported unavailable. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A pool of connections to `url`. bigint columns (times in ms, ids) come back as
 * numbers, as the SQLite store returns them: node-postgres gives int8 as a
 * string by default, because it can exceed 2^53; these never do.
 */
export function createPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.tls ? withoutTlsParameters(url) : url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...(options.tls ? { ssl: { ...options.tls } } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection the server ended (a restart, pg_terminate_backend) is dropped by the pool, which
  // opens a new one when next needed; without a listener the event would end the process.
  pool.on('error', () => undefined);
  // A connection can also report its end while checked out, or again after the pool let it go (a server
  // shutting down sends 57P01, then the socket closes): the pool listens only while it is idle, so every
  // connection carries a listener of its own for its whole life. The query that was running fails and says so.
  pool.on('connect', (client) => client.on('error', ignoreClientError));
  return pool;
}

/** node-postgres lets the URL's `sslmode`, `sslrootcert`, ... override `ssl`: with `tls` given, it alone decides. */
function withoutTlsParameters(url: string): string {
  const parsed = new URL(url);
  for (const name of [...parsed.searchParams.keys()]) if (name.startsWith('ssl')) parsed.searchParams.delete(name);
  return parsed.toString();
}

/** A connection lost between queries is reported on the client; the next query then fails and says so. */
function ignoreClientError(): void {}

/**
 * A connection with a transaction begun. An idle connection the server ended
 * before the pool heard of it fails at BEGIN, before anything was done: one
 * more try on a new connection then answers instead of a needless
 * STORE_UNAVAILABLE.
 */
async function begin(pool: pg.Pool): Promise<pg.PoolClient> {
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      return client;
    } catch (err) {
      client.release(err as Error);
      if (attempt > 0 || !isUnavailable(err)) throw err;
    }
  }
}

/**
 * Runs `task` in one transaction on one connection: COMMIT when it resolves,
 * ROLLBACK when it throws. A connection that failed is discarded rather than
 * returned to the pool.
 */
export async function inTransaction<T>(pool: pg.Pool, task: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await begin(pool);
  let broken: Error | undefined;
  try {
    const result = await task(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (isUnavailable(err)) broken = err as Error;
    else await client.query('ROLLBACK').catch((rollbackErr: unknown) => (broken = rollbackErr as Error));
    throw err;
  } finally {
    client.release(broken);
  }
}

/** One transaction that runs only where no other replica runs the same periodic task (`lock`, of `LOCKS`) right now; else `idle`. */
export function exclusively<T>(pool: pg.Pool, lock: number, idle: T, task: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [lock]);
    return rows[0]?.locked ? task(client) : idle;
  });
}

/** Advisory lock keys of this store (one database, any number of replicas). */
export const LOCKS = {
  migrate: 0x6175_6d00,
  prune: 0x6175_6d01,
  missedSweep: 0x6175_6d02,
  summarySweep: 0x6175_6d03,
  /** With a key's hash as the second half (the two-key form, a space of its own): one claimer of an ordering key at a time. */
  claimClass: 0x6175_6d04,
} as const;

/**
 * Brings the schema up to date. What is applied is read first, and a start that
 * finds everything applied creates nothing: the rights to use the tables are
 * then enough (docs/stores.md: CREATE is needed at the first start and at upgrades).
 * Each missing migration runs in its own transaction holding a
 * transaction-level advisory lock, and checks again under it whether it was
 * applied: replicas starting at once wait for each other, and the migration
 * runs once.
 */
export async function migrate(pool: pg.Pool): Promise<void> {
  const applied = await appliedMigrations(pool);
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    await inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.migrate]);
      if ((await appliedMigrations(client)).has(migration.version)) return;
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [migration.version, Date.now()]);
    });
  }
}

/** The versions applied, read without creating anything: none while `schema_migrations` does not exist. */
async function appliedMigrations(sql: Sql): Promise<Set<number>> {
  // The catalog itself, not to_regclass: under the lock this must see the table a replica created meanwhile, and
  // to_regclass can answer from the connection's cache of names, which still says there is none.
  const { rows } = await sql.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relname = 'schema_migrations' AND n.nspname = ANY (current_schemas(false))) AS found`,
  );
  if (!rows[0]?.found) return new Set();
  const applied = await sql.query<{ version: number }>('SELECT version FROM schema_migrations');
  return new Set(applied.rows.map((row) => row.version));
}
