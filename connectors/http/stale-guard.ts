import { skipped, type ConnectorState, type Delivery, type SendResult } from '../../src/sdk/index.js';

/** How long the stale guard remembers a call's last delivered update. */
export const STALE_GUARD_TTL_MS = 30 * 24 * 3600_000;

/** Where an update stands in its call's order: event time, then acceptance order (the outbox id). */
interface Mark {
  readonly time: number;
  readonly order: number;
}

function isOlder(mark: Mark, than: Mark): boolean {
  return mark.time < than.time || (mark.time === than.time && mark.order < than.order);
}

/** A delivery the guard let through: call `delivered` once the target took it. */
export type Admitted = { readonly stale: SendResult } | { readonly delivered: () => Promise<void> };

export interface StaleGuard {
  /** Skips an update older than the last one delivered for its call (`stale`), unless an operator replays it. */
  admit(delivery: Delivery): Promise<Admitted>;
}

/**
 * The `stale_guard` option: remembers, per call, the newest update delivered
 * (in the connector's state), and skips an older one that arrives after it.
 * With `enabled` false it admits everything and remembers nothing.
 */
export function createStaleGuard(enabled: boolean, state: ConnectorState, now: () => number): StaleGuard {
  const nothing = async () => {};
  return {
    async admit({ event, id, replay = 0 }) {
      const key = enabled && event.subject !== undefined ? `stale-guard\u0000${event.source}\u0000${event.subject}` : undefined;
      if (key === undefined) return { delivered: nothing };
      const mark: Mark = { time: Date.parse(event.time), order: id };
      const value = await state.get(key);
      const last = value === undefined ? undefined : (JSON.parse(value) as Mark);
      // An operator's replay is sent whatever its age: resending an old update is what was asked for.
      if (last && replay === 0 && isOlder(mark, last)) {
        return { stale: skipped(`stale: ${event.type} of ${event.time} is older than the update of ${new Date(last.time).toISOString()} already delivered for call ${event.subject}`) };
      }
      return {
        // The mark only moves forward (a replay of an old update leaves it).
        delivered: async () => {
          if (!last || isOlder(last, mark)) await state.set(key, JSON.stringify(mark), now() + STALE_GUARD_TTL_MS);
        },
      };
    },
  };
}
