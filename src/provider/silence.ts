import { Gauge, type Registry } from 'prom-client';
import type { BridgeConfig } from '../config/load.js';
import type { CanonicalEvent } from '../dialects/index.js';
import { DERIVED_TYPES } from './activity.js';

/**
 * When each subscription's source last received an event, and whether it has
 * been silent for longer than its `expect_within`: a metric, and a warning in
 * /readyz's body (which stays 200: a quiet provider is no reason to take a
 * replica out of the load balancer). This process's own events are seen as
 * they are stored; the store is asked only when they say "silent" (another
 * replica may have received one), at most every `storeEveryMs` per source.
 */

export interface SubscriptionActivity {
  readonly name: string;
  readonly source: string;
  readonly api: 'webhooks' | 'accounts';
  /** ms; undefined when nothing from the source is stored. */
  readonly lastReceivedAt: number | undefined;
  readonly expectWithinMs: number | undefined;
  /** Silent for longer than `expect_within` (counted from start when nothing was ever received). */
  readonly silent: boolean;
}

export interface SilenceWatchDeps {
  readonly config: () => BridgeConfig;
  /** The store's answer (derived types left out); it may throw while the store is unavailable. */
  readonly lastStored: (sourceName: string) => Promise<number | undefined>;
  readonly registry: Registry;
  readonly now?: () => number;
  readonly storeEveryMs?: number;
}

export function createSilenceWatch(deps: SilenceWatchDeps) {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const storeEveryMs = deps.storeEveryMs ?? 30_000;
  const seenHere = new Map<string, number>();
  const fromStore = new Map<string, { at: number | undefined; readAt: number }>();

  async function storeValue(source: string, fresh: boolean): Promise<number | undefined> {
    const cached = fromStore.get(source);
    if (!fresh && cached && now() - cached.readAt < storeEveryMs) return cached.at;
    try {
      const at = await deps.lastStored(source);
      fromStore.set(source, { at, readAt: now() });
      return at;
    } catch {
      return cached?.at;
    }
  }

  /** The newest of what this process saw and what the store says; the store is read when the first does not settle it. */
  async function lastReceivedAt(source: string, expectWithinMs: number | undefined, fresh: boolean): Promise<number | undefined> {
    const here = seenHere.get(source);
    if (!fresh && here !== undefined && expectWithinMs !== undefined && now() - here <= expectWithinMs) return here;
    const stored = await storeValue(source, fresh);
    return here === undefined ? stored : stored === undefined ? here : Math.max(here, stored);
  }

  async function report(fresh = false): Promise<SubscriptionActivity[]> {
    return Promise.all(
      deps.config().subscriptions.map(async (subscription) => {
        const last = await lastReceivedAt(subscription.source, subscription.expect_within, fresh);
        const since = last ?? startedAt;
        const silent = subscription.expect_within !== undefined && now() - Math.max(since, startedAt) > subscription.expect_within;
        return { name: subscription.name, source: subscription.source, api: subscription.api, lastReceivedAt: last, expectWithinMs: subscription.expect_within, silent };
      }),
    );
  }

  new Gauge({
    name: 'audian_bridge_subscription_last_event_timestamp_seconds',
    help: "When the source of each subscription last received an event (derived events left out), in unix seconds; absent until one is stored.",
    labelNames: ['subscription', 'source'] as const,
    registers: [deps.registry],
    async collect() {
      const rows = await report();
      this.reset();
      for (const row of rows) if (row.lastReceivedAt !== undefined) this.set({ subscription: row.name, source: row.source }, row.lastReceivedAt / 1000);
    },
  });
  new Gauge({
    name: 'audian_bridge_subscription_silent',
    help: "1 while a subscription's source has received nothing for longer than its expect_within, else 0 (subscriptions with expect_within only).",
    labelNames: ['subscription', 'source'] as const,
    registers: [deps.registry],
    async collect() {
      const rows = await report();
      this.reset();
      for (const row of rows) if (row.expectWithinMs !== undefined) this.set({ subscription: row.name, source: row.source }, row.silent ? 1 : 0);
    },
  });

  return {
    /** Told of each event stored by this process; derived ones are not the provider's. */
    seen(event: CanonicalEvent): void {
      if (DERIVED_TYPES.includes(event.type) || !event.source.startsWith('audian/')) return;
      seenHere.set(event.source.slice('audian/'.length), now());
    },
    report,
    /** One line per silent subscription, for /readyz's body. */
    async warnings(): Promise<string[]> {
      return (await report())
        .filter((row) => row.silent)
        .map((row) => `subscription ${row.name}: source ${row.source} received nothing for longer than expect_within (${Math.round((row.expectWithinMs ?? 0) / 1000)} s)${row.lastReceivedAt === undefined ? '' : `; last event at ${new Date(row.lastReceivedAt).toISOString()}`}`);
    },
  };
}

export type SilenceWatch = ReturnType<typeof createSilenceWatch>;
