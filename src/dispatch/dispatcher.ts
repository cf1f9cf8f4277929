import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { ActivityFeed } from '../ops/activity.js';
import type { OutboxStore } from '../store/index.js';
import { DEFAULT_HEALTH, type HealthOptions } from './health.js';
import { createWorker, type DispatchOptions, type DispatchTarget, type WorkerDeps } from './worker.js';

export type { DispatchOptions, DispatchTarget } from './worker.js';

export interface DispatcherDeps {
  readonly store: OutboxStore;
  readonly connectors: ReadonlyMap<string, DispatchTarget>;
  readonly options: DispatchOptions;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Told of each attempt's outcome once written: the live tails and the per-minute counts read it. */
  readonly activity?: Pick<ActivityFeed, 'publish'>;
  /** Connector health's probing (health.ts); the defaults probe every second. */
  readonly health?: Partial<HealthOptions>;
}

/**
 * Moves deliveries from the outbox to connectors: one worker per connector
 * (worker.ts), so a slow or failing connector never holds up the others. Each
 * batch is claimed under a lease longer than the send timeout, and its
 * outcomes are written back in one write before the next batch: delivered,
 * retry later, or dead; or held, spending nothing, while the connector is
 * down or held (health.ts: probed, and up again once it answers). A store that cannot answer is logged and tried again,
 * never fatal.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { options } = deps;
  const shared: WorkerDeps = {
    store: deps.store,
    options,
    logger: deps.logger.child({ component: 'dispatch' }),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    now: deps.now ?? Date.now,
    random: deps.random ?? Math.random,
    ...(deps.activity ? { activity: deps.activity } : {}),
    health: { ...DEFAULT_HEALTH, ...deps.health },
  };
  const workers = new Map<string, ReturnType<typeof createWorker>>();
  for (const [name, target] of deps.connectors) workers.set(name, createWorker(name, target, shared));
  let started = false;
  /** Connectors taken out by a reload and still stopping; a stop of the dispatcher waits for them too. */
  const retiring = new Set<Promise<void>>();

  /**
   * Takes connector `name`'s worker out: it claims nothing more, its batch in
   * flight finishes (up to `send_timeout`), then its connector stops. Resolves
   * once it has stopped claiming; the connector's own stop goes on behind.
   */
  function retire(name: string): Promise<void> {
    const worker = workers.get(name);
    if (!worker) return Promise.resolve();
    workers.delete(name);
    const stopped = worker.stop(options.sendTimeoutMs);
    retiring.add(stopped);
    void stopped.finally(() => retiring.delete(stopped));
    return worker.halt(options.sendTimeoutMs);
  }

  return {
    start(): void {
      started = true;
      for (const worker of workers.values()) worker.start();
    },
    /**
     * Drives `target` as connector `name` from now on (a config reload). A
     * connector of that name already driven finishes its batch in flight and
     * stops claiming first, so the new one never claims beside it. Returns at
     * once with what the new worker's `ready` settles to: whether its
     * connector started; a reload waits for it a bounded time only.
     */
    put(name: string, target: DispatchTarget): Promise<boolean> {
      const worker = createWorker(name, target, shared, retire(name));
      workers.set(name, worker);
      if (started) worker.start();
      return worker.ready;
    },
    /** Stops driving connector `name`; its deliveries stay in the outbox. Resolves once it claims no more. */
    remove(name: string): Promise<void> {
      return retire(name);
    },
    /** Per connector driven: deliveries claimed and being sent, not yet settled. */
    inFlight(): Map<string, number> {
      return new Map([...workers].map(([name, worker]) => [name, worker.inFlight()]));
    },
    /** Wakes the workers of these connectors (all when omitted): new deliveries are waiting. */
    notify(connectors?: Iterable<string>): void {
      for (const name of connectors ?? workers.keys()) workers.get(name)?.notify();
    },
    async stop(graceMs: number): Promise<void> {
      await Promise.all([...[...workers.values()].map((worker) => worker.stop(graceMs)), ...retiring]);
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
