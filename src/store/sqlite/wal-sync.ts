import { closeSync, fdatasync, fstatSync, openSync, statSync } from 'node:fs';
import { BridgeError } from '../../errors.js';

/** Makes what the connection has committed so far durable; `close` once nothing more is asked. */
export interface WalSync {
  durable(): Promise<void>;
  /** Syncs completed so far. */
  completed(): number;
  close(): Promise<void>;
}

/**
 * `store.synchronous: full` without the fsync on the event loop. The
 * connection runs at SQLite's `synchronous=NORMAL` — in WAL mode a commit is
 * then written but not synced, and checkpoints still sync the WAL before
 * copying it and the database before the WAL is reused (sqlite.org/pragma.html#pragma_synchronous)
 * — and a commit's caller is answered only after this fdatasync of the WAL,
 * which runs on libuv's thread pool while the event loop serves other
 * requests. What that sync covers is what `synchronous=FULL` would have synced
 * inside the commit: every frame written before it, header included. Commits
 * waiting together share one sync; one asked for while a sync runs waits for
 * the next, since the running one may have started before its frames were written.
 */
export function createWalSync(dbPath: string): WalSync {
  const walPath = `${dbPath}-wal`;
  let fd: number | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  let completed = 0;

  /**
   * The WAL is removed only when the last connection to the file closes (ours is open for the store's
   * lifetime), but a file that was replaced under the same name would take our syncs with it unnoticed: check.
   */
  function walDescriptor(): number {
    if (fd !== undefined && fstatSync(fd).ino === statSync(walPath).ino) return fd;
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    fd = openSync(walPath, 'r');
    return fd;
  }

  function syncOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        fdatasync(walDescriptor(), (err) => {
          if (err) return reject(unavailable(err));
          completed++;
          resolve();
        });
      } catch (err) {
        reject(unavailable(err as Error));
      }
    });
  }

  function durable(): Promise<void> {
    if (running === undefined) {
      running = syncOnce().finally(() => {
        running = undefined;
      });
      return running;
    }
    const after = () => {
      next = undefined;
      return durable();
    };
    next ??= running.then(after, after);
    return next;
  }

  return {
    durable,
    completed: () => completed,
    async close() {
      await Promise.allSettled([running, next]);
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

function unavailable(err: Error): BridgeError {
  const code = (err as NodeJS.ErrnoException).code;
  return new BridgeError('STORE_UNAVAILABLE', `the SQLite store cannot sync its write-ahead log${code ? ` (${code})` : ''}: ${err.message}`, { cause: err });
}
