/** Wrong tokens from one address within `WINDOW_MS` before its sign-ins are refused. */
export const MAX_FAILURES = 5;
export const WINDOW_MS = 15 * 60_000;
/** Addresses remembered at most; past it the one whose window began first is forgotten. */
const MAX_ADDRESSES = 10_000;

interface Failures {
  /** When the first counted failure happened (ms); the window runs from it. */
  readonly since: number;
  count: number;
}

/**
 * Failed sign-ins per client address: after `MAX_FAILURES` wrong tokens
 * within `WINDOW_MS`, every sign-in from that address (a right token too) is
 * refused until the window is over, so guessing costs a window per few tries.
 */
export function createSignInLimit(now: () => number) {
  const failures = new Map<string, Failures>();

  function current(address: string): Failures | undefined {
    const entry = failures.get(address);
    if (entry && now() - entry.since >= WINDOW_MS) {
      failures.delete(address);
      return undefined;
    }
    return entry;
  }

  return {
    /** Seconds until `address` may try again, or 0 when it may now. */
    retryAfter(address: string): number {
      const entry = current(address);
      if (!entry || entry.count < MAX_FAILURES) return 0;
      return Math.max(1, Math.ceil((entry.since + WINDOW_MS - now()) / 1000));
    },
    failed(address: string): void {
      const entry = current(address);
      if (entry) {
        entry.count++;
        return;
      }
      if (failures.size >= MAX_ADDRESSES) failures.delete(failures.keys().next().value as string);
      failures.set(address, { since: now(), count: 1 });
    },
    succeeded(address: string): void {
      failures.delete(address);
    },
  };
}

export type SignInLimit = ReturnType<typeof createSignInLimit>;
