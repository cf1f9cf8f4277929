import type pg from 'pg';
import { BridgeError } from '../../errors.js';
import type { StoreAdapter } from '../core/adapter.js';
import { createStoreCore } from '../core/index.js';
import type { Store } from '../types.js';
import { callQueries } from './calls.js';
import { createPostgresCalls } from './commits.js';
import { createConnectorState } from './connector-state.js';
import { createPool, exclusively, LOCKS, migrate, type PoolOptions } from './db.js';
import { postgresFailure, retryingContention, toStoreError } from './errors.js';
import { createPostgresOutbox } from './leases.js';
import { createPostgresAudit } from './audit.js';
import { createPostgresOperations } from './operations.js';

/** The store on one PostgreSQL database, for any number of processes (replicas) at once. */
export interface PostgresStore extends Store {
  /** The connections themselves, for tests and maintenance only: code above the store uses `Store`. */
  readonly pool: pg.Pool;
}

export interface PostgresStoreOptions extends PoolOptions {
  /** `false` opens a database the bridge has used already (the CLI's inspection commands): one without its schema is `STORE_NOT_FOUND`. */
  readonly create?: boolean;
  /** Commits waiting at once beyond which `commit` answers OVERLOADED at once. */
  readonly maxPendingCommits?: number;
  /** Keep the request each event arrived in with it (default true). */
  readonly keepRaw?: boolean;
}

const PRUNE_EVENTS = `DELETE FROM events WHERE seq IN
  (SELECT seq FROM events ev WHERE received_at < $1
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = ev.seq AND d.status IN ('pending', 'dead'))
      AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.end_event_seq = ev.seq AND c.missed_check_at IS NOT NULL)
      -- A call's summary reads all its events: they stay until it falls due (the watcher takes it then).
      AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.source = ev.source AND c.call_id = ev.subject AND c.summary_check_at > $2)
    ORDER BY received_at LIMIT $3 FOR UPDATE SKIP LOCKED)`;

/** Connects, migrates (once, however many replicas start at the same time) and opens the store on `url`. */
export async function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const pool = createPool(url, options);
  try {
    if (options.create === false) await requireSchema(pool);
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw toStoreError(err, 'connect and migrate');
  }
  const core = createStoreCore(createPostgresAdapter(pool), options);
  return { ...core, pool };
}

async function requireSchema(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ found: string | null }>("SELECT to_regclass('schema_migrations')::text AS found");
  if (rows[0]?.found === null) {
    throw new BridgeError('STORE_NOT_FOUND', 'the database at store.url holds no bridge store: is store.url right, and has the bridge run against it yet? (nothing was created)');
  }
}

/**
 * What PostgreSQL adds to the store core: a call locked by its row, commits
 * grouped into one transaction each, leases in the rows, and periodic work
 * (pruning, the due checks) done by one replica at a time. Each write is a
 * transaction of its own, run again whole after a deadlock.
 */
function createPostgresAdapter(pool: pg.Pool): StoreAdapter {
  const calls = createPostgresCalls(pool);
  return {
    name: 'PostgreSQL',
    failure: postgresFailure,
    calls,
    outbox: createPostgresOutbox(pool),
    operations: createPostgresOperations(pool),
    connectorState: createConnectorState(pool),
    audit: createPostgresAudit(pool),
    prune: (cut) =>
      retryingContention(() =>
        // One replica prunes at a time; the others find the lock taken and leave the round to it.
        exclusively(pool, LOCKS.prune, { events: 0, calls: 0 }, async (client) => {
          const removed = await client.query(PRUNE_EVENTS, [cut.olderThan, cut.now, cut.limit]);
          return { events: removed.rowCount ?? 0, calls: await callQueries.prune(client, cut.olderThan, cut.now, cut.limit) };
        }),
      ),
    ping: () => pool.query('SELECT 1'),
    // Reads work on a standby after a failover, or while the disk is full: a write tells.
    probe: (now) => retryingContention(() => pool.query('INSERT INTO store_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at', [now])),
    // Commits already asked for finish first: their callers were promised an answer.
    drain: () => calls.drained(),
    release: () => pool.end(),
  };
}
