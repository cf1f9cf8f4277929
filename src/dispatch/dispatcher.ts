import type { Logger } from 'pino';
import type { Connector, Delivery, SendResult } from '../sdk/index.js';
import type { Metrics } from '../metrics.js';
import type { ClaimedDelivery, DeliveryOutcome, Store } from '../store/index.js';
import { decideRetry, type RetryPolicy } from './retry.js';

export interface DispatchOptions {
  /** Retries and giving up, unless a connector has its own (`DispatchTarget.retry`). */
  readonly retry: RetryPolicy;
  /** Longest sleep between looks at the outbox when nothing wakes the worker. */
  readonly pollIntervalMs: number;
  /** A send still running after this is aborted and counted as a retriable failure. */
  readonly sendTimeoutMs: number;
}

/** A connector as the dispatcher drives it. */
export interface DispatchTarget {
  readonly connector: Connector;
  /** Most deliveries handed over in one `send`. */
  readonly batchSize: number;
  /** Most deliveries of one call in one batch: 1 unless the connector keeps their order within a batch. */
  readonly maxPerCall: number;
  /** The connector's own retry policy (`connectors.<name>.dispatch`), else the dispatcher's. */
  readonly retry?: RetryPolicy;
}

/** Beyond `send_timeout`, how long a claim lasts: time to write the outcomes after a send that used all of it. */
const LEASE_MARGIN_MS = 30_000;

export interface DispatcherDeps {
  readonly store: Store;
  readonly connectors: ReadonlyMap<string, DispatchTarget>;
  readonly options: DispatchOptions;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
  readonly random?: () => number;
}

/**
 * Moves deliveries from the outbox to connectors: one worker per connector, so
 * a slow or failing connector never holds up the others. Each batch is
 * claimed under a lease longer than the send timeout, and its outcomes are
 * written back in one write before the next batch: delivered, retry later, or
 * dead. A store that cannot answer is logged and tried again, never fatal.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { store, options } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const logger = deps.logger.child({ component: 'dispatch' });
  const workers = new Map<string, ReturnType<typeof createWorker>>();

  /** `after`: the worker it replaces has stopped claiming; this one claims nothing before. */
  function createWorker(name: string, target: DispatchTarget, after: Promise<void> = Promise.resolve()) {
    const { connector, batchSize, maxPerCall } = target;
    const policy = target.retry ?? options.retry;
    const { maxAttempts: _noLimitWhilePaused, ...unlimited } = policy;
    const log = logger.child({ connector: name });
    const leaseMs = options.sendTimeoutMs + LEASE_MARGIN_MS;
    let stopping = false;
    let wake: (() => void) | undefined;
    let woken = false;
    const abort = new AbortController();
    /** Aborted when the worker stops: a `start()` still running is no longer waited for. */
    const halt = new AbortController();
    let settleReady!: (ok: boolean) => void;
    const ready = new Promise<boolean>((resolve) => (settleReady = resolve));

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

    /**
     * What becomes of one delivery after this attempt; logged and counted here.
     * `paused`: the connector was paused while the batch was in flight, and
     * nothing goes dead while paused, so a retriable failure is retried whatever
     * its budget (which starts over at the resume anyway).
     */
    function outcomeOf(delivery: ClaimedDelivery, result: SendResult | undefined, at: number, durationMs: number, paused: boolean): DeliveryOutcome {
      const { id, lease, event } = delivery;
      const attempt = delivery.attempts + 1;
      const context = { deliveryId: id, eventId: event.id, type: event.type, source: event.source, callId: event.subject, route: delivery.route, attempt };
      // Final like a delivery: the connector chose not to send, and says why.
      if (result?.ok && 'skipped' in result) {
        deps.metrics?.deliveries.inc({ connector: name, outcome: 'skipped' });
        log.info({ ...context, reason: result.skipped }, 'delivery skipped');
        return { id, lease, outcome: 'skipped', reason: result.skipped, durationMs };
      }
      if (result?.ok) {
        log.info(context, 'delivered');
        return { id, lease, outcome: 'delivered', durationMs };
      }
      const error = result?.error ?? 'the connector returned no result for this delivery';
      const retriable = result?.retriable ?? true;
      const decision = retriable
        ? decideRetry(paused ? unlimited : policy, { attempt, since: paused ? at : delivery.since, at, retryAfterMs: result?.retryAfterMs }, random())
        : ({ retry: false, reason: 'permanent failure' } as const);
      if (!decision.retry) {
        deps.metrics?.deliveries.inc({ connector: name, outcome: 'dead' });
        log.error({ ...context, error }, `delivery dead: ${decision.reason}`);
        return { id, lease, outcome: 'dead', error, durationMs };
      }
      deps.metrics?.deliveries.inc({ connector: name, outcome: 'retry' });
      log.warn({ ...context, retryInMs: decision.at - at, error }, 'delivery failed; will retry');
      return { id, lease, outcome: 'retry', at: decision.at, error, durationMs };
    }

    /**
     * Writes the outcomes, trying again for as long as the store cannot answer:
     * forgetting them would send the batch again. Only a stop gives up (the
     * restarted process then sends it again: at-least-once).
     */
    async function settle(outcomes: readonly DeliveryOutcome[]): Promise<void> {
      for (let failures = 0; ; failures++) {
        try {
          const { refused } = await store.settle(outcomes, now());
          if (refused.length > 0) log.warn({ deliveryIds: refused }, 'lease lost before the outcome was written; another claim owns these deliveries');
          if (failures > 0) log.info({ deliveries: outcomes.length }, 'delivery outcomes recorded after the store recovered');
          return;
        } catch (err) {
          if (stopping) {
            log.error({ err }, 'could not record delivery outcomes before stopping; they will be sent again after a restart');
            return;
          }
          if (failures === 0) log.error({ err }, 'could not record delivery outcomes; trying again until the store answers');
          await sleep(options.pollIntervalMs);
        }
      }
    }

    /** Whether the connector is paused now; a store that cannot tell counts as not paused. */
    async function pausedNow(): Promise<boolean> {
      try {
        return (await store.paused()).some((pause) => pause.connector === name);
      } catch {
        return false;
      }
    }

    async function sendBatch(batch: ClaimedDelivery[]): Promise<void> {
      const deliveries: Delivery[] = batch.map((due) => ({ id: due.id, route: due.route, attempt: due.attempts + 1, event: due.event, ...(due.replay > 0 ? { replay: due.replay } : {}) }));
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
      const durationMs = performance.now() - started;
      deps.metrics?.sendSeconds.observe({ connector: name }, durationMs / 1000);
      const failedRetriably = batch.some((_, index) => results[index]?.ok !== true && (results[index] as { retriable?: boolean } | undefined)?.retriable !== false);
      const paused = failedRetriably && (await pausedNow());
      const at = now();
      const outcomes = batch.map((due, index) => outcomeOf(due, results[index], at, durationMs, paused));
      const delivered = outcomes.filter((outcome) => outcome.outcome === 'delivered').length;
      if (delivered > 0) deps.metrics?.deliveries.inc({ connector: name, outcome: 'delivered' }, delivered);
      await settle(outcomes);
    }

    /**
     * Claims and sends until stopped. Up to `connector.concurrency` batches are
     * in flight at once, so a call whose target hangs holds one slot, not the
     * connector: the other calls keep flowing. One call's deliveries still never
     * overlap, because a call with a claimed delivery is not claimed again.
     */
    async function run(): Promise<void> {
      await after;
      if (stopping || !(await startConnector())) return;
      const slots = Math.max(1, connector.concurrency ?? 1);
      const inFlight = new Set<Promise<void>>();
      while (!stopping) {
        try {
          if (inFlight.size >= slots) {
            await Promise.race(inFlight);
            continue;
          }
          const batch = await store.claim(name, now(), { limit: batchSize, leaseMs, maxPerCall });
          if (batch.length > 0) {
            const sending: Promise<void> = sendBatch(batch)
              .catch((err: unknown) => log.error({ err }, 'sending a batch failed unexpectedly; its deliveries are retried when their lease ends'))
              .finally(() => {
                inFlight.delete(sending);
                // The batch's calls may have their next delivery due now.
                wakeUp();
              });
            inFlight.add(sending);
            continue;
          }
          // Something due that the claim did not hand out is held: by a lease (a batch of ours in flight wakes this
          // worker when it ends; another replica's ends on its own) or behind an earlier delivery of its call that
          // waits for a retry. Looking again before the poll interval would only spin.
          const nextDue = await store.nextDueAt(name);
          const wait = nextDue === undefined ? options.pollIntervalMs : nextDue - now();
          await sleep(wait <= 0 ? options.pollIntervalMs : Math.min(options.pollIntervalMs, Math.max(5, wait)));
        } catch (err) {
          log.error({ err }, 'cannot read the outbox; trying again shortly');
          await sleep(options.pollIntervalMs);
        }
      }
      await Promise.all(inFlight);
    }

    /**
     * Starts the connector; true once it has. Nothing is claimed before, so
     * while a connector cannot connect its deliveries wait in the outbox with
     * no attempt spent. A stop does not wait for a `start()` that hangs (a
     * broker that accepts connections and never answers).
     */
    async function startConnector(): Promise<boolean> {
      try {
        await raceAbort(connector.start(), halt.signal);
      } catch (err) {
        if (stopping) return false;
        log.error({ err }, 'connector failed to start; deliveries will be retried');
      }
      settleReady(true);
      return !stopping;
    }

    function wakeUp(): void {
      if (wake) wake();
      else woken = true;
    }

    let done: Promise<void> = Promise.resolve();
    let halted: Promise<void> | undefined;
    let closed: Promise<void> | undefined;
    /** Stops claiming: the batches in flight finish (up to `graceMs`, then are aborted). */
    function haltWorker(graceMs: number): Promise<void> {
      halted ??= (async () => {
        stopping = true;
        halt.abort(new Error('stopping'));
        wake?.();
        const timer = setTimeout(() => abort.abort(new Error('shutting down')), graceMs);
        await after;
        await done;
        clearTimeout(timer);
        settleReady(false);
      })();
      return halted;
    }
    return {
      start() {
        if (!stopping) done = run();
      },
      notify: wakeUp,
      /** Settles true once the connector has started (or failed to, and sends are tried), false if stopped before. */
      ready,
      halt: haltWorker,
      /** Halts, then stops the connector. */
      stop(graceMs: number): Promise<void> {
        closed ??= haltWorker(graceMs).then(() => connector.stop().catch((err: unknown) => log.error({ err }, 'connector failed to stop cleanly')));
        return closed;
      },
    };
  }

  for (const [name, target] of deps.connectors) workers.set(name, createWorker(name, target));
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
      const worker = createWorker(name, target, retire(name));
      workers.set(name, worker);
      if (started) worker.start();
      return worker.ready;
    },
    /** Stops driving connector `name`; its deliveries stay in the outbox. Resolves once it claims no more. */
    remove(name: string): Promise<void> {
      return retire(name);
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
