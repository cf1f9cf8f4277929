/**
 * What the provider's side reads of the bridge's own side: which events count
 * as received from a source, and how to ask. Derived events (src/lifecycle/:
 * `call.missed`, `call.summary`, `transcript.completed`) are the bridge's
 * own, so they say nothing about what the provider sent.
 */

export const DERIVED_TYPES: readonly string[] = ['call.missed', 'call.summary', 'transcript.completed'];

/** The CloudEvents `source` of events received at a configured source (src/http/app.ts). */
export function cloudEventsSource(sourceName: string): string {
  return `audian/${sourceName}`;
}

/** The bridge's side as the provider commands read it: the local store, or a running bridge's admin API. */
export interface EventLookup {
  /** Whether an event with this id is stored from the source. */
  stored(sourceName: string, eventId: string): Promise<boolean>;
  /** Of these ids, those stored from the source. */
  storedIds(sourceName: string, eventIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** When the source last received an event (ms); undefined when none is stored. */
  lastReceivedAt(sourceName: string): Promise<number | undefined>;
  /** Webhooks the source refused, by error code, when the lookup can tell (the admin API's metrics). */
  rejections?(sourceName: string): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** A lookup on a store (the CLI on the config's store, or the serving process on its own). */
export function storeLookup(store: {
  lastReceivedAt(source: string, exceptTypes: readonly string[]): Promise<number | undefined>;
  storedEventIds(source: string, ids: readonly string[]): Promise<ReadonlySet<string>>;
  close?(): Promise<void>;
}, options: { closeStore?: boolean } = {}): EventLookup {
  return {
    async stored(sourceName, eventId) {
      return (await store.storedEventIds(cloudEventsSource(sourceName), [eventId])).has(eventId);
    },
    storedIds: (sourceName, eventIds) => store.storedEventIds(cloudEventsSource(sourceName), eventIds),
    lastReceivedAt: (sourceName) => store.lastReceivedAt(cloudEventsSource(sourceName), DERIVED_TYPES),
    async close() {
      if (options.closeStore) await store.close?.();
    },
  };
}
