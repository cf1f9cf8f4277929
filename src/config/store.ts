import type { BridgeConfig } from './schema.js';

/**
 * The `store` section in the words of `openStore` (src/store/index.ts): the
 * serving process and the CLI's operator commands open the same store from
 * one config. Written here as a plain shape, so config imports nothing of the
 * store it configures.
 */
export interface StoreConnection {
  readonly path: string;
  /** Selects PostgreSQL; SQLite at `path` without it. */
  readonly url?: string;
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized: boolean };
  readonly poolSize?: number;
  readonly synchronous: 'full' | 'normal';
  readonly maxPendingCommits: number;
  readonly keepRaw: boolean;
  readonly commitWindowMs: number;
}

export function storeOptionsOf(store: BridgeConfig['store']): StoreConnection {
  const { tls } = store;
  return {
    path: store.path,
    ...(store.url === undefined
      ? {}
      : {
          url: store.url,
          poolSize: store.pool_size,
          ...(tls === undefined
            ? {}
            : {
                tls: {
                  ...(tls.ca === undefined ? {} : { ca: tls.ca }),
                  ...(tls.cert === undefined ? {} : { cert: tls.cert }),
                  ...(tls.key === undefined ? {} : { key: tls.key }),
                  rejectUnauthorized: tls.reject_unauthorized,
                },
              }),
        }),
    synchronous: store.synchronous,
    maxPendingCommits: store.max_pending_commits,
    keepRaw: store.keep_raw,
    commitWindowMs: store.commit_window,
  };
}

/** One line naming the store for people (`check`, the start log): the database without its password, or the file. */
export function describeStore(store: BridgeConfig['store']): string {
  if (store.url === undefined) return `SQLite ${store.path} (synchronous ${store.synchronous})`;
  let where: string;
  try {
    const url = new URL(store.url);
    if (url.password) url.password = '***';
    url.search = '';
    where = url.toString();
  } catch {
    where = 'postgres://(unparsed URL)';
  }
  const tls = store.tls === undefined ? 'no TLS' : store.tls.reject_unauthorized ? 'TLS, verified' : 'TLS, NOT verified';
  return `PostgreSQL ${where} (pool ${store.pool_size}, ${tls})`;
}
