import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BridgeConfig } from '../config/load.js';
import type { CanonicalEvent } from '../dialects/index.js';
import { BridgeError } from '../errors.js';
import { parseTime, type Query } from '../ops/operations.js';
import type { ExpiringSecret } from '../verify/index.js';
import { storeLookup } from './activity.js';
import type { SubscriptionsAdmin } from './admin-routes.js';
import { createProviderClients } from './index.js';
import { reconcileSubscription } from './reconcile.js';
import { resolveSecretFile } from './secrets-file.js';
import { createSecretFileWatcher } from './secret-watch.js';
import { createSilenceWatch } from './silence.js';

/**
 * What the serving process does for its subscriptions: it keeps each
 * subscription's secrets file read (secret-watch.ts) and hands the secrets of
 * the files naming a source to that source's verification; it tells when a
 * source has been silent for longer than `expect_within` (silence.ts); and it
 * serves the admin API's provider routes. A reload puts the new config in
 * force with `update`.
 */

export interface ProviderSideDeps {
  readonly config: BridgeConfig;
  readonly logger: Logger;
  /** The store's two reads of the provider's side. */
  readonly store: {
    lastReceivedAt(source: string, exceptTypes: readonly string[]): Promise<number | undefined>;
    storedEventIds(source: string, ids: readonly string[]): Promise<ReadonlySet<string>>;
  };
  readonly registry: Registry;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  /** How often the secrets files are compared when watching tells nothing (default 1 s). */
  readonly pollMs?: number;
}

/** Per source, the resolved secrets files of the subscriptions naming it. */
function filesBySource(config: BridgeConfig): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const subscription of config.subscriptions) {
    if (subscription.secret_file === undefined) continue;
    files.set(subscription.source, [...(files.get(subscription.source) ?? []), resolveSecretFile(subscription.secret_file)]);
  }
  return files;
}

export function createProviderSide(deps: ProviderSideDeps) {
  const now = deps.now ?? Date.now;
  const watcher = createSecretFileWatcher({ logger: deps.logger, ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }) });
  let config = deps.config;
  let files = new Map<string, string[]>();
  const lookup = storeLookup(deps.store);
  const silence = createSilenceWatch({ config: () => config, lastStored: (source) => lookup.lastReceivedAt(source), registry: deps.registry, now });

  function update(next: BridgeConfig): void {
    config = next;
    files = filesBySource(next);
    watcher.track([...files.values()].flat());
  }
  update(deps.config);

  const admin: SubscriptionsAdmin = {
    async list() {
      const rows = await silence.report(true);
      return {
        subscriptions: rows.map((row) => ({
          ...row,
          lastReceivedAt: row.lastReceivedAt === undefined ? null : new Date(row.lastReceivedAt).toISOString(),
          expectWithinMs: row.expectWithinMs ?? null,
        })),
      };
    },
    async reconcile(name: string, query: Query) {
      const subscription = config.subscriptions.find((item) => item.name === name);
      if (!subscription) throw new BridgeError('NOT_FOUND', `no subscription named "${name}" (configured: ${config.subscriptions.map((item) => item.name).join(', ') || 'none'})`);
      const unknown = Object.keys(query).find((key) => key !== 'since' && query[key] !== undefined);
      if (unknown) throw new BridgeError('INVALID_REQUEST', `unknown parameter "${unknown}" (use since)`);
      const provider = config.provider as NonNullable<BridgeConfig['provider']>;
      const clients = createProviderClients(provider, deps.fetch ? { fetch: deps.fetch } : {});
      return reconcileSubscription({ subscription, api: clients.webhooks, lookup, since: parseTime(query.since ?? '24h', 'since', now()), now });
    },
  };

  return {
    /** The secrets the files of `source`'s subscriptions hold now, each with its expiry; read on every request. */
    secretsOf(source: string): readonly ExpiringSecret[] {
      const paths = files.get(source);
      return paths === undefined ? [] : paths.flatMap((path) => watcher.entries(path));
    },
    /** Told of each event this process stores. */
    seen(event: CanonicalEvent): void {
      silence.seen(event);
    },
    /** For /readyz's body: subscriptions whose source is silent past `expect_within` (readiness itself is not changed). */
    async readinessWarnings(): Promise<string[]> {
      try {
        return await silence.warnings();
      } catch (err) {
        deps.logger.warn({ err: (err as Error).message }, 'could not tell whether the subscriptions\' sources are silent');
        return [];
      }
    },
    admin,
    update,
    close(): void {
      watcher.close();
    },
  };
}

export type ProviderSide = ReturnType<typeof createProviderSide>;
