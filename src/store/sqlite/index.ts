import type { StoreAdapter } from '../core/adapter.js';
import { createStoreCore } from '../core/index.js';
import type { Store } from '../types.js';
import { createAuditReads } from './audit.js';
import { createCallReads } from './calls.js';
import { createConnectionWriter, type Writer } from './connection-writer.js';
import { createConnectorState } from './connector-state.js';
import { openDatabase, syncsWalItself, type Db, type Synchronous } from './db.js';
import { sqliteFailure, toStoreError } from './errors.js';
import { createLeases } from './leases.js';
import { createSqliteCalls } from './commits.js';
import { createSqliteOperations } from './operations.js';
import { createOutboxReads } from './outbox-reads.js';
import { lockForServing } from './process-lock.js';
import { startThreadWriter } from './thread-writer.js';

/** The store on one SQLite file, for one process. */
export interface SqliteStore extends Store {
  /** The connection itself, for tests and maintenance only: code above the store uses `Store`. */
  readonly db: Db;
  /** At `full` on a file: the store syncs the WAL itself before each answer (SQLite itself then runs at NORMAL). */
  readonly syncsWal: boolean;
  /** Where the writes run: on the writer thread (thread-writer.ts, `writer.thread` is set) or on this connection. For tests. */
  readonly writer: Writer;
}

export interface SqliteStoreOptions {
  /** For the process that serves from the file: refuse to open while another one does (STORE_LOCKED). */
  readonly exclusive?: boolean;
  /** `false` opens an existing file only (the CLI's inspection commands): a missing one is `STORE_NOT_FOUND`. */
  readonly create?: boolean;
  /** `full` (the default): an acknowledged event survives power loss; `normal`: a crash of the process only. */
  readonly synchronous?: Synchronous;
  /** Commits waiting at once (for their call, their read, their write) beyond which `commit` answers OVERLOADED at once. */
  readonly maxPendingCommits?: number;
  /** Keep the request each event arrived in with it (default true). */
  readonly keepRaw?: boolean;
  /**
   * Writes from a thread of their own, on a connection of their own, so the
   * caller's event loop never runs a commit (default: for the serving process,
   * on a file). Without it they run on the caller's connection.
   */
  readonly writerThread?: boolean;
  /** On the writer thread: how long a write asked for while others are in flight may wait to share their successors' group (ms). */
  readonly commitWindowMs?: number;
}

export function createSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const lock = options.exclusive && path !== ':memory:' ? lockForServing(path) : undefined;
  let db: Db;
  try {
    db = openDatabase(path, options);
  } catch (err) {
    lock?.release();
    throw toStoreError(err, `open ${path}`);
  }
  const threaded = (options.writerThread ?? options.exclusive === true) && path !== ':memory:';
  const writerOptions = {
    path,
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    ...(options.commitWindowMs === undefined ? {} : { commitWindowMs: options.commitWindowMs }),
  };
  // At `full`, nothing is answered before the WAL holding it is synced; the sync runs off the event loop.
  const writer: Writer = threaded ? startThreadWriter(writerOptions) : createConnectionWriter(db, writerOptions);
  const adapter = createSqliteAdapter(db, path, writer, () => lock?.release());
  const core = createStoreCore(adapter, options);
  return { ...core, db, syncsWal: syncsWalItself(path, options.synchronous), writer };
}

/**
 * What SQLite adds to the store core: reads on the caller's connection, every
 * write through the writer (one transaction and one sync for the writes of a
 * turn), calls locked by a queue in this process, leases in memory.
 */
function createSqliteAdapter(db: Db, path: string, writer: Writer, unlock: () => void): StoreAdapter {
  const callReads = createCallReads(db);
  const reads = createOutboxReads(db);
  const leases = createLeases(db);
  const calls = createSqliteCalls(db, callReads, writer);
  const ping = db.prepare('SELECT 1');
  const auditReads = createAuditReads(db);
  return {
    name: 'SQLite',
    failure: sqliteFailure,
    calls,
    outbox: {
      claimWrites: false,
      claim: (connector, now, claimOptions) => (reads.isPaused(connector) ? [] : leases.claim(connector, now, claimOptions)),
      async settle(outcomes, now) {
        const { accepted, refused } = leases.acceptOutcomes(outcomes);
        let written = false;
        try {
          if (accepted.length > 0) await writer.write('outcomes', accepted, now);
          written = true;
        } finally {
          leases.release(accepted, written);
        }
        return { written: accepted.length, refused };
      },
      nextDueAt: (connector) => reads.nextDueAt(connector),
      connectorHealth: () => reads.connectorHealth(),
      recordHealth: (next, now) => writer.write('recordHealth', next, now),
    },
    operations: createSqliteOperations(db, path, callReads, reads, writer),
    connectorState: createConnectorState(db, writer),
    audit: {
      record: async (entry) => {
        await writer.write('audit', entry);
      },
      log: (page) => auditReads.log(page),
      prune: (olderThan, limit) => writer.write('pruneAudit', olderThan, limit),
    },
    async prune(cut) {
      const removed = await writer.write('prune', cut);
      // Which calls went is not told; the calls of the next events are read again.
      if (removed.calls > 0) calls.forget();
      return removed;
    },
    ping: () => ping.get(),
    probe: (now) => writer.write('probe', now),
    // Commits already queued for the group finish first: their callers were promised an answer.
    drain: () => writer.close(),
    release() {
      if (db.open) db.close();
      unlock();
    },
  };
}
