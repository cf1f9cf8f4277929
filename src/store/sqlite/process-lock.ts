import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from './driver.js';
import { BridgeError } from '../../errors.js';
import { toStoreError } from './errors.js';

/**
 * Claims the SQLite file for one serving process: an exclusive lock on the side
 * file `<path>.lock`, held for the life of the process. The operating system
 * drops the lock when the process dies, however it dies, so a crash never
 * leaves it behind. The database itself stays unlocked, so the CLI's
 * `deliveries` and `retry` keep working beside a running bridge.
 */
export function lockForServing(path: string): { release(): void } {
  const lockPath = `${path}.lock`;
  mkdirSync(dirname(lockPath), { recursive: true }); // before the database, which would create it too
  const lock = new Database(lockPath);
  try {
    lock.pragma('busy_timeout = 0');
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    lock.close();
    if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY')) {
      throw new BridgeError(
        'STORE_LOCKED',
        `another audian-bridge process is serving ${path} (it holds ${lockPath}); two processes on one SQLite file would both ` +
          'dispatch and send events twice. Stop the other one, or give this one its own store.path.',
        { cause: err },
      );
    }
    throw toStoreError(err, `lock ${lockPath}`);
  }
  return {
    release() {
      if (lock.open) lock.close();
    },
  };
}
