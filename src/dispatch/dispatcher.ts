import type { Logger } from 'pino';
import type { Connector, Delivery, SendResult } from '../../connectors/types.js';
import type { Metrics } from '../metrics.js';
import type { DueDelivery, Store } from '../store/index.js';
import { backoffDelay } from './backoff.js';

export interface DispatchOptions {
  readonly maxAttempts: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** Longest sleep between looks at the outbox when nothing wakes the worker. */
  readonly pollIntervalMs: number;
  /** A send still running after this is aborted and counted as a retriable failure. */
  readonly sendTimeoutMs: number;
}

export interface DispatcherDeps {
  readonly store: Store;
  readonly connectors: ReadonlyMap<string, { readonly connector: Connector; readonly batchSize: number }>;
  readonly options: DispatchOptions;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
  readonly random?: () => number;
}

/**
 * Moves deliveries from the outbox to connectors: one worker per connector, so
 * a slow or failing connector never holds up the others. Every outcome is
 * written back before the next batch: delivered, retry later, or dead.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { store, options } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const logger = deps.logger.child({ component: 'dispatch' });
  const workers = new Map<string, ReturnType<typeof createWorker>>();

  function createWorker(name: string, connector: Connector, batchSize: number) {
    const log = logger.child({ connector: name });
    let stopping = false;
    let wake: (() => void) | undefined;
    let woken = false;
    const abort = new AbortController();

    function sleep(ms: number): Promise<void> {
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          woken = false;
          resolve();
        }
        wake = done;
      });
    }

    function record(delivery: DueDelivery, result: SendResult | undefined, at: number): void {
      const attempt = delivery.attempts + 1;
      if (result?.ok) return;
      const error = result?.error ?? 'the connector returned no result for this delivery';
      const retriable = result?.retriable ?? true;
      if (!retriable || attempt >= options.maxAttempts) {
        store.deliveries.markDead(delivery.id, error, at);
        deps.metrics?.deliveries.inc({ connector: name, outcome: 'dead' });
        log.error({ deliveryId: delivery.id, eventId: delivery.event.id, route: delivery.route, attempt, error }, retriable ? 'delivery dead: attempts exhausted' : 'delivery dead: permanent failure');
        return;
      }
      const wait = result?.retryAfterMs ?? backoffDelay(attempt, { initialMs: options.retryInitialMs, maxMs: options.retryMaxMs }, random());
      store.deliveries.markRetry(delivery.id, at + Math.min(wait, options.retryMaxMs), error, at);
      deps.metrics?.deliveries.inc({ connector: name, outcome: 'retry' });
      log.warn({ deliveryId: delivery.id, eventId: delivery.event.id, attempt, retryInMs: wait, error }, 'delivery failed; will retry');
    }

    async function sendBatch(batch: DueDelivery[]): Promise<void> {
      const deliveries: Delivery[] = batch.map((due) => ({ id: due.id, route: due.route, attempt: due.attempts + 1, event: due.event }));
      const timeout = AbortSignal.timeout(options.sendTimeoutMs);
      const signal = AbortSignal.any([abort.signal, timeout]);
      const started = performance.now();
      let results: SendResult[];
      try {
        results = await raceAbort(connector.send(deliveries, signal), signal);
      } catch (err) {
        const reason = timeout.aborted ? `send timed out after ${options.sendTimeoutMs} ms` : (err as Error).message;
        results = batch.map(() => ({ ok: false, retriable: true, error: reason }));
      }
      deps.metrics?.sendSeconds.observe({ connector: name }, (performance.now() - started) / 1000);
      const at = now();
      const delivered = batch.filter((_, index) => results[index]?.ok).map((due) => due.id);
      store.deliveries.markDelivered(delivered, at);
      if (delivered.length > 0) deps.metrics?.deliveries.inc({ connector: name, outcome: 'delivered' }, delivered.length);
      batch.forEach((due, index) => record(due, results[index], at));
    }

    async function run(): Promise<void> {
      try {
        await connector.start();
      } catch (err) {
        log.error({ err }, 'connector failed to start; deliveries will be retried');
      }
      while (!stopping) {
        let batch: DueDelivery[];
        try {
          batch = store.deliveries.due(name, now(), batchSize);
        } catch (err) {
          log.error({ err }, 'cannot read the outbox');
          await sleep(options.pollIntervalMs);
          continue;
        }
        if (batch.length > 0) {
          await sendBatch(batch);
          continue;
        }
        const nextDue = store.deliveries.nextDueAt(name);
        const wait = nextDue === undefined ? options.pollIntervalMs : Math.min(options.pollIntervalMs, Math.max(5, nextDue - now()));
        await sleep(wait);
      }
    }

    let done: Promise<void> = Promise.resolve();
    return {
      start() {
        done = run();
      },
      notify() {
        if (wake) wake();
        else woken = true;
      },
      /** Lets the batch in flight finish (up to `graceMs`, then aborts it), then stops the connector. */
      async stop(graceMs: number) {
        stopping = true;
        wake?.();
        const timer = setTimeout(() => abort.abort(new Error('shutting down')), graceMs);
        await done;
        clearTimeout(timer);
        await connector.stop().catch((err: unknown) => log.error({ err }, 'connector failed to stop cleanly'));
      },
    };
  }

  for (const [name, { connector, batchSize }] of deps.connectors) workers.set(name, createWorker(name, connector, batchSize));

  return {
    start(): void {
      for (const worker of workers.values()) worker.start();
    },
    /** Wakes the workers of these connectors (all when omitted): new deliveries are waiting. */
    notify(connectors?: Iterable<string>): void {
      for (const name of connectors ?? workers.keys()) workers.get(name)?.notify();
    },
    async stop(graceMs: number): Promise<void> {
      await Promise.all([...workers.values()].map((worker) => worker.stop(graceMs)));
    },
  };
}

/** A connector that ignores its signal must not hold the worker past the timeout. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
