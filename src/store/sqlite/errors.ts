import Database from './driver.js';
import { BridgeError } from '../../errors.js';
import { retrying, type ContentionPolicy } from '../retry.js';

/**
 * The driver's failures (SQLITE_BUSY, SQLITE_FULL, SQLITE_IOERR, a closed
 * connection, ...) as the project's own error: the store cannot answer now,
 * and whoever asked should try again later. Anything else passes unchanged.
 */
export function toStoreError(err: unknown, doing: string): unknown {
  if (err instanceof BridgeError) return err;
  const closed = err instanceof TypeError && /database connection is not open/i.test(err.message);
  if (!(err instanceof Database.SqliteError) && !closed) return err;
  const code = err instanceof Database.SqliteError ? ` (${err.code})` : '';
  return new BridgeError('STORE_UNAVAILABLE', `the SQLite store cannot ${doing}${code}: ${err.message}`, { cause: err });
}

/** Another connection holds the lock (the CLI, an operator's sqlite3 shell): worth a few more tries. */
export function isLockContention(err: unknown): boolean {
  const cause = err instanceof BridgeError ? err.cause : err;
  return cause instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(cause.code);
}

/** Failures that fail every write alike: retrying each write of a group alone cannot help. */
export function failsEveryWrite(err: unknown): boolean {
  return err instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|NOMEM|CORRUPT|NOTADB)/.test(err.code);
}

/** Runs a synchronous driver call and settles as the store's asynchronous answer, its errors mapped. */
export async function guarded<T>(doing: string, task: () => T | Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (err) {
    throw toStoreError(err, doing);
  }
}

/**
 * Waits between tries while another connection holds the write lock. The
 * connection's own busy_timeout is kept tiny because it waits synchronously,
 * freezing the event loop; these waits are asynchronous. About half a second in
 * all, then the caller hears STORE_UNAVAILABLE (a webhook answers 503).
 */
const CONTENTION: ContentionPolicy = { waitsMs: [5, 10, 20, 40, 80, 160, 240], retriable: isLockContention };

export const retryingContention = <T>(task: () => Promise<T>): Promise<T> => retrying(CONTENTION, task);
