import { setTimeout as sleep } from 'node:timers/promises';
import { retriable, type SendResult } from '../../src/sdk/index.js';

/** Longest the connector waits in place for its turn (pacing, a rate-limit window) before handing the wait to the outbox. */
export const MAX_WAIT_IN_PLACE_MS = 10_000;

/** When the connector may post next: `min_interval` after each post, and no sooner than Slack's last `Retry-After`. */
export interface Pacer {
  /** Waits for the next post's turn; a retriable result instead when the wait is long or aborted. */
  waitTurn(signal: AbortSignal): Promise<SendResult | undefined>;
  /** No post for `ms` from now (ms), unless one was already held back longer. */
  holdFor(ms: number): void;
}

export function createPacer(now: () => number): Pacer {
  /** No post before this time (ms): pacing and Slack's last `Retry-After`. */
  let nextPostAt = 0;
  return {
    async waitTurn(signal) {
      const wait = nextPostAt - now();
      if (wait <= 0) return undefined;
      // Longer waits come from Slack's own Retry-After: the whole connector waits.
      if (wait > MAX_WAIT_IN_PLACE_MS) return retriable(`Slack rate limit: next post in ${wait} ms`, wait, 'throttled');
      try {
        await sleep(wait, undefined, { signal });
        return undefined;
      } catch {
        return retriable('aborted while waiting for a Slack rate-limit window');
      }
    },
    holdFor(ms) {
      nextPostAt = Math.max(nextPostAt, now() + ms);
    },
  };
}
