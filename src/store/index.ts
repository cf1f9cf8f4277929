import { createSqliteStore } from './sqlite/index.js';
import type { Store, StoreOptions } from './types.js';

/** A `postgres://` or `postgresql://` URL names a PostgreSQL database; anything else leaves the store on SQLite. */
export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Opens the store the options name: PostgreSQL at `url` when it is one, else
 * SQLite at `path`. Creating (unless `create: false`) and migrating it as
 * needed; a network store connects first, hence the promise.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const shared = {
    ...(options.create === undefined ? {} : { create: options.create }),
    ...(options.maxPendingCommits === undefined ? {} : { maxPendingCommits: options.maxPendingCommits }),
    ...(options.keepRaw === undefined ? {} : { keepRaw: options.keepRaw }),
  };
  if (isPostgresUrl(options.url)) {
    // Loaded only when used: a SQLite deployment never loads the PostgreSQL client.
    const { createPostgresStore } = await import('./postgres/index.js');
    return createPostgresStore(options.url, {
      ...shared,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
    });
  }
  return createSqliteStore(options.path, {
    exclusive: options.serving === true,
    ...shared,
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    ...(options.commitWindowMs === undefined ? {} : { commitWindowMs: options.commitWindowMs }),
  });
}

export { dedupeKeyOf } from '../lifecycle/dedupe.js';
export type * from './types.js';
export type * from './operator-reads.js';
export { digitsOf } from './operator-reads.js';
export type { AuditAction, AuditActor, AuditEntry, AuditPage, AuditRecord, AuditStore } from './audit.js';
export { REDACTED, RAW_HEADER_BYTES, type KeptRaw } from './raw.js';
export { healthAt, type HealthNow } from './connector-health.js';
