import { BridgeError } from '../../errors.js';

/**
 * How an adapter tells its driver's failures apart: for one that means the
 * store cannot answer now (a lost connection, a full disk, a held lock), the
 * detail that names it and a hint for the operator; for anything else (a bug)
 * undefined, and the failure passes on unchanged.
 */
export type DriverFailure = (err: unknown) => { readonly detail: string; readonly hint?: string } | undefined;

/** Turns a driver's failure into the project's own error, for what the store was doing. */
export type ToStoreError = (err: unknown, doing: string) => unknown;

/**
 * The store's errors for the database called `store` ("SQLite",
 * "PostgreSQL"): what crosses the store's interface is a `BridgeError`
 * (`STORE_UNAVAILABLE`: try again later), never the driver's own.
 */
export function storeErrors(store: string, failure: DriverFailure) {
  const toStoreError: ToStoreError = (err, doing) => {
    if (err instanceof BridgeError) return err;
    const known = failure(err);
    if (!known) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new BridgeError('STORE_UNAVAILABLE', `the ${store} store cannot ${doing}${known.detail}: ${message}${known.hint ?? ''}`, { cause: err });
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
