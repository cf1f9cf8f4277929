import Database from 'better-sqlite3';
import { BridgeError } from '../../errors.js';

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

/** Runs a synchronous driver call and settles as the store's asynchronous answer, its errors mapped. */
export async function guarded<T>(doing: string, task: () => T): Promise<T> {
  try {
    return task();
  } catch (err) {
    throw toStoreError(err, doing);
  }
}
