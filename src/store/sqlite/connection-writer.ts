import type { Worker } from 'node:worker_threads';
import { syncsWalItself, type Db, type Synchronous } from './db.js';
import { failsEveryWrite, guarded, retryingContention } from './errors.js';
import { createGroupCommit } from './group-commit.js';
import { createWalSync } from './wal-sync.js';
import { createNamedWrites, WRITE_LABELS, type WriteName, type WriteRequest, type WriteResult, type Writes } from './named-writes.js';

/**
 * Runs the store's writes (named-writes.ts) and answers each once it is durable.
 * Every write asked for during one turn of the event loop shares one
 * transaction and one sync: concurrent webhooks, and the dispatcher's outcomes
 * beside them (group commit). Errors are the store's own (`STORE_UNAVAILABLE`
 * after the contention retries), so they can cross a thread unchanged.
 */
export interface Writer {
  write<K extends WriteName>(name: K, ...args: Parameters<Writes[K]>): Promise<WriteResult<K>>;
  /** Waits for writes in progress, then lets go of what the writer holds (the connection stays the caller's). */
  close(): Promise<void>;
  /** The thread the writes run on, while one runs (thread-writer.ts); absent for a writer on the caller's thread. */
  readonly thread?: () => Worker | undefined;
}

export interface WriterOptions {
  readonly path: string;
  readonly synchronous?: Synchronous;
  /** On the writer thread: how long writes asked for while others are in flight may wait to join the next group (write-gatherer.ts). */
  readonly commitWindowMs?: number;
}

/**
 * The writer on `db`, in the caller's thread. At `full` on a file, nothing is
 * answered before the WAL holding it is synced, off the event loop (wal-sync.ts).
 */
export function createConnectionWriter(db: Db, options: WriterOptions): Writer {
  const walSync = syncsWalItself(options.path, options.synchronous) ? createWalSync(options.path) : undefined;
  const writes = createNamedWrites(db);
  const run = (request: WriteRequest): unknown => (writes[request.name] as (...args: readonly unknown[]) => unknown)(...request.args);
  const group = createGroupCommit(db, run, failsEveryWrite, () => walSync?.durable() ?? Promise.resolve());
  return {
    write<K extends WriteName>(name: K, ...args: Parameters<Writes[K]>): Promise<WriteResult<K>> {
      const request = { name, args } as WriteRequest;
      return retryingContention(() => guarded(WRITE_LABELS[name], () => group(request) as Promise<WriteResult<K>>));
    },
    async close() {
      // Writes already queued for the group finish first: their callers were promised an answer.
      await new Promise((resolve) => setImmediate(resolve));
      await walSync?.close();
    },
  };
}
