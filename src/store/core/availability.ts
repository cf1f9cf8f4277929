import { BridgeError } from '../../errors.js';
import { isStoreUnavailable, type ToStoreError } from './errors.js';

/** An answer now or later: an adapter on a synchronous driver answers at once. */
export type Awaitable<T> = T | Promise<T>;

/**
 * Whether the store can answer: once closed, nothing; and after a write that
 * failed because the store could not answer, readiness knows it until a write
 * succeeds again (reads keep working on a full disk, a held write lock or a
 * database that failed over to a standby, so `ping` then tries a write).
 */
export interface Availability {
  /** Runs a read; its failure is the store's own error. */
  read<T>(doing: string, task: () => Awaitable<T>): Promise<T>;
  /** Runs a write (or a read and write under one lock); its outcome is what readiness knows of writes. */
  write<T>(doing: string, task: () => Awaitable<T>): Promise<T>;
  /** Whether the last write failed with STORE_UNAVAILABLE and none has succeeded since. */
  writesFailing(): boolean;
  /** From now on every read and write fails with STORE_UNAVAILABLE. */
  close(): void;
}

export function createAvailability(store: string, toStoreError: ToStoreError): Availability {
  let closed = false;
  let failing: BridgeError | undefined;
  const closedError = (doing: string) => new BridgeError('STORE_UNAVAILABLE', `the ${store} store cannot ${doing}: it is closed`);
  return {
    async read(doing, task) {
      if (closed) throw closedError(doing);
      try {
        return await task();
      } catch (err) {
        throw toStoreError(err, doing);
      }
    },
    async write(doing, task) {
      try {
        if (closed) throw closedError(doing);
        const result = await task();
        failing = undefined;
        return result;
      } catch (err) {
        const mapped = toStoreError(err, doing);
        if (isStoreUnavailable(mapped)) failing = mapped;
        throw mapped;
      }
    },
    writesFailing: () => failing !== undefined,
    close() {
      closed = true;
    },
  };
}
