import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import Database from './driver.js';
import { BridgeError } from '../../errors.js';
import { MIGRATIONS } from './migrations.js';

export type Db = BetterSqlite3.Database;

const BUSY_TIMEOUT_MS = 10;

/**
 * How hard a commit holds on before it resolves. In WAL mode `full` syncs the
 * log on every commit: an acknowledged event survives power loss. `normal`
 * syncs only at checkpoints: it survives a crash of the process, not of the
 * machine. The default is `full`, because a 200 promises the event is kept.
 */
export type Synchronous = 'full' | 'normal';

/**
 * Whether the store keeps `full` itself, syncing the WAL off the event loop
 * before each answer (wal-sync.ts), over SQLite's NORMAL: on a file, at `full`.
 */
export function syncsWalItself(path: string, synchronous: Synchronous | undefined): boolean {
  return path !== ':memory:' && synchronous !== 'normal';
}

export interface OpenOptions {
  readonly create?: boolean;
  readonly synchronous?: Synchronous;
}

/**
 * Opens (creating if needed) the SQLite file and brings its schema up to date.
 * WAL lets the dispatcher read while the receiver writes.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (options.create === false && path !== ':memory:' && !existsSync(path)) {
    throw new BridgeError('STORE_NOT_FOUND', `no database at ${path}: is store.path right, and has the bridge run here yet? (nothing was created)`);
  }
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'normal' || syncsWalItself(path, options.synchronous) ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = ON');
  // Waiting for a lock blocks the event loop, so only briefly here; the store retries asynchronously.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[],
  );
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
    })();
  }
}
