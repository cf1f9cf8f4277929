import Database from './driver.js';
import { BridgeError } from '../../errors.js';
import { storeErrors, type DriverFailure } from '../core/errors.js';
import { retrying, type ContentionPolicy } from '../retry.js';

/**
 * The driver's failures that mean the store cannot answer now (SQLITE_BUSY,
 * SQLITE_FULL, SQLITE_IOERR, a closed connection, ...): whoever asked should
 * try again later. Anything else is a bug and passes unchanged.
 */
export const sqliteFailure: DriverFailure = (err) => {
  if (err instanceof Database.SqliteError) return { code: 'STORE_UNAVAILABLE', detail: ` (${err.code})` };
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) return { code: 'STORE_UNAVAILABLE', detail: '' };
  return undefined;
};

/**
 * The core's mapping of those failures to STORE_UNAVAILABLE, for the code that
 * runs beside the core: opening the file, and the writer, whose errors must
 * be the store's own before they cross the writer thread.
 */
export const { toStoreError, guarded } = storeErrors('SQLite', sqliteFailure);

/** Another connection holds the lock (the CLI, an operator's sqlite3 shell): worth a few more tries. */
export function isLockContention(err: unknown): boolean {
  const cause = err instanceof BridgeError ? err.cause : err;
  return cause instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(cause.code);
}

/** Failures that fail every write alike: retrying each write of a group alone cannot help. */
export function failsEveryWrite(err: unknown): boolean {
  return err instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|NOMEM|CORRUPT|NOTADB)/.test(err.code);
}

/**
 * Waits between tries while another connection holds the write lock. The
 * connection's own busy_timeout is kept tiny because it waits synchronously,
 * freezing the event loop; these waits are asynchronous. About half a second in
 * all, then the caller hears STORE_UNAVAILABLE (a webhook answers 503).
 */
const CONTENTION: ContentionPolicy = { waitsMs: [5, 10, 20, 40, 80, 160, 240], retriable: isLockContention };

export const retryingContention = <T>(task: () => Promise<T>): Promise<T> => retrying(CONTENTION, task);
