import { createSqliteStore } from './sqlite/index.js';
import type { Store, StoreOptions } from './types.js';

/** Opens the store the options name (SQLite at `path`), creating (unless `create: false`) and migrating it as needed. */
export function openStore(options: StoreOptions): Store {
  return createSqliteStore(options.path, {
    exclusive: options.serving === true,
    ...(options.create === undefined ? {} : { create: options.create }),
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    ...(options.maxPendingCommits === undefined ? {} : { maxPendingCommits: options.maxPendingCommits }),
  });
}

export { dedupeKeyOf } from './dedupe.js';
export type * from './types.js';
