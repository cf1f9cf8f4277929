import { setTimeout as sleep } from 'node:timers/promises';

/** How a store runs again an operation that lost to another writer (a held lock, a deadlock). */
export interface ContentionPolicy {
  /** The wait before each new try; once they are spent, the failure stands. */
  readonly waitsMs: readonly number[];
  /** The failures worth another try. */
  readonly retriable: (err: unknown) => boolean;
  /** Up to this fraction of each wait is added at random, so contenders do not meet again in step; default 0. */
  readonly jitter?: number;
}

/** Runs `task`, and again after each of the policy's waits while it fails with a retriable failure. */
export async function retrying<T>(policy: ContentionPolicy, task: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await task();
    } catch (err) {
      const wait = policy.waitsMs[attempt];
      if (wait === undefined || !policy.retriable(err)) throw err;
      await sleep(wait + Math.random() * wait * (policy.jitter ?? 0));
    }
  }
}
