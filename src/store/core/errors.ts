import { BridgeError } from '../../errors.js';

/**
 * How an adapter reads its driver's failures. One that means the store cannot
 * answer now (a lost connection, a full disk, a held lock) is
 * STORE_UNAVAILABLE, with the detail that names it and a hint for the
 * operator; one where the database refuses the store's user a right it needs
 * is STORE_PERMISSION_DENIED, naming that user and the right. Anything else
 * (a bug) is undefined, and the failure passes on unchanged.
 */
export type DriverFailure = (err: unknown) =>
  | { readonly code: 'STORE_UNAVAILABLE'; readonly detail: string; readonly hint?: string }
  | { readonly code: 'STORE_PERMISSION_DENIED'; readonly user: string; readonly right: string }
  | undefined;

/** Turns a driver's failure into the project's own error, for what the store was doing. */
export type ToStoreError = (err: unknown, doing: string) => unknown;

/**
 * The store's errors for the database called `store` ("SQLite",
 * "PostgreSQL"): what crosses the store's interface is a `BridgeError`, never
 * the driver's own, and each says in one line what the store was doing.
 */
export function storeErrors(store: string, failure: DriverFailure) {
  const toStoreError: ToStoreError = (err, doing) => {
    if (err instanceof BridgeError) return err;
    const known = failure(err);
    if (!known) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (known.code === 'STORE_PERMISSION_DENIED') {
      return new BridgeError(known.code, `${known.user} lacks ${known.right} (${store}, asked to ${doing}: ${message})`, { cause: err });
    }
    return new BridgeError(known.code, `the ${store} store cannot ${doing}${known.detail}: ${message}${known.hint ?? ''}`, { cause: err });
  };
  return {
    toStoreError,
    /** Runs a driver call and settles with its answer, its failures mapped. */
    async guarded<T>(doing: string, task: () => T | Promise<T>): Promise<T> {
      try {
        return await task();
      } catch (err) {
        throw toStoreError(err, doing);
      }
    },
  };
}

/** Whether `err` says the store cannot answer now. */
export function isStoreUnavailable(err: unknown): err is BridgeError {
  return err instanceof BridgeError && err.code === 'STORE_UNAVAILABLE';
}
