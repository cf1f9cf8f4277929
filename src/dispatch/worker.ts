import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { ActivityFeed } from '../ops/activity.js';
import { retriable, type Connector, type Delivery, type ProbeResult, type SendResult } from '../sdk/index.js';
import type { ClaimedDelivery, DeliveryOutcome, OutboxStore } from '../store/index.js';
import { createHealthGate, type HealthGate, type HealthOptions } from './health.js';
import { createOutcomeJudge, heldOutcome, type OutcomeOf } from './outcomes.js';
import type { RetryPolicy } from './retry.js';
import { createGatheredWake, createWakeableSleep, type WakeableSleep } from './wakeable-sleep.js';

export interface DispatchOptions {
  /** Retries and giving up, unless a connector has its own (`DispatchTarget.retry`). */
  readonly retry: RetryPolicy;
  /** Longest sleep between looks at the outbox when nothing wakes the worker. */
  readonly pollIntervalMs: number;
  /** A send still running after this is aborted and counted as a retriable failure. */
  readonly sendTimeoutMs: number;
  /**
   * After new deliveries are committed, how long the worker waits before claiming (0: at once), so the deliveries
   * of the commits meanwhile share one claim, one send and one outcome write; a batch that was not full waits as long.
   */
  readonly batchWindowMs?: number;
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

/** What every worker of a dispatcher shares. */
export interface WorkerDeps {
  readonly store: OutboxStore;
  readonly options: DispatchOptions;
  /** The dispatcher's logger; each worker names its connector. */
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly now: () => number;
  readonly random: () => number;
  readonly activity?: Pick<ActivityFeed, 'publish'>;
  /** Connector health (health.ts): probing, flapping. */
  readonly health: HealthOptions;
}

/** Beyond `send_timeout`, how long a claim lasts: time to write the outcomes after a send that used all of it. */
const LEASE_MARGIN_MS = 30_000;

/** One worker's own parts, handed to the steps below. */
interface Worker {
  readonly name: string;
  readonly target: DispatchTarget;
  readonly deps: WorkerDeps;
  readonly log: Logger;
  readonly outcomeOf: OutcomeOf;
  readonly health: HealthGate;
  readonly sleep: WakeableSleep;
  /** Wakes the worker once the batch window has passed: news of new deliveries, gathered (`batchWindowMs`). */
  readonly wakeGathered: () => void;
  /** Aborts the sends in flight, once a stop's grace is over. */
  readonly abort: AbortController;
  /** Aborted when the worker stops: a `start()` still running is no longer waited for. */
  readonly halt: AbortController;
  /** Settles the worker's `ready`. */
  readonly settleReady: (ok: boolean) => void;
  readonly stopping: () => boolean;
  /** Deliveries claimed and not yet settled (the admin API's `inFlight`). */
  readonly sending: { count: number };
}

/**
 * Drives one connector: starts it, then claims its due deliveries, sends them
 * and writes their outcomes back, until stopped. A slow or failing connector
 * holds up only its own worker. `after`: the worker it replaces has stopped
 * claiming; this one claims nothing before.
 */
export function createWorker(name: string, target: DispatchTarget, deps: WorkerDeps, after: Promise<void> = Promise.resolve()) {
  let stopping = false;
  let settleReady!: (ok: boolean) => void;
  const ready = new Promise<boolean>((resolve) => (settleReady = resolve));
  const log = deps.logger.child({ connector: name });
  const policy = target.retry ?? deps.options.retry;
  const sleep = createWakeableSleep();
  const worker: Worker = {
    name,
    target,
    deps,
    log,
    outcomeOf: createOutcomeJudge({ connector: name, policy, log, ...(deps.metrics ? { metrics: deps.metrics } : {}), random: deps.random }),
    health: createHealthGate({ connector: name, store: deps.store, log, now: deps.now, random: deps.random, options: deps.health, refreshMs: deps.options.pollIntervalMs }),
    sleep,
    wakeGathered: createGatheredWake(() => sleep.wake(), deps.options.batchWindowMs ?? 0),
    abort: new AbortController(),
    halt: new AbortController(),
    settleReady,
    stopping: () => stopping,
    sending: { count: 0 },
  };
  let done: Promise<void> = Promise.resolve();
  let halted: Promise<void> | undefined;
  let closed: Promise<void> | undefined;
  /** Stops claiming: the batches in flight finish (up to `graceMs`, then are aborted). */
  function halt(graceMs: number): Promise<void> {
    halted ??= (async () => {
      stopping = true;
      worker.halt.abort(new Error('stopping'));
      worker.sleep.interrupt();
      const timer = setTimeout(() => worker.abort.abort(new Error('shutting down')), graceMs);
      await after;
      await done;
      clearTimeout(timer);
      settleReady(false);
    })();
    return halted;
  }
  return {
    start() {
      if (!stopping) done = run(worker, after);
    },
    /** New deliveries are waiting: look once the batch window has passed (at once without one). */
    notify: () => worker.wakeGathered(),
    /** Deliveries claimed and not yet settled. */
    inFlight: () => worker.sending.count,
    /** Settles true once the connector has started (or failed to, and sends are tried), false if stopped before. */
    ready,
    halt,
    /** Halts, then stops the connector. */
    stop(graceMs: number): Promise<void> {
      closed ??= halt(graceMs).then(() => target.connector.stop().catch((err: unknown) => log.error({ err }, 'connector failed to stop cleanly')));
      return closed;
    },
  };
}

/**
 * Claims and sends until stopped, once the connector has started. Up to
 * `connector.concurrency` batches are in flight at once, so a call whose
 * target hangs holds one slot, not the connector: the other calls keep
 * flowing. One call's deliveries still never overlap, because a call with a
 * claimed delivery is not claimed again.
 */
async function run(worker: Worker, after: Promise<void>): Promise<void> {
  await after;
  if (worker.stopping() || !(await startConnector(worker))) return;
  const slots = Math.max(1, worker.target.connector.concurrency ?? 1);
  const inFlight = new Set<Promise<void>>();
  while (!worker.stopping()) {
    try {
      if (inFlight.size >= slots) await Promise.race(inFlight);
      else if (await worker.health.admits()) await claimOnce(worker, inFlight);
      // Down or held: nothing is claimed; probes when due.
      else await worker.health.whileUnavailable((ms) => worker.sleep.sleep(ms), () => probe(worker));
    } catch (err) {
      worker.log.error({ err }, 'cannot read the outbox; trying again shortly');
      await worker.sleep.sleep(worker.deps.options.pollIntervalMs);
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
async function startConnector(worker: Worker): Promise<boolean> {
  try {
    await raceAbort(worker.target.connector.start(), worker.halt.signal);
  } catch (err) {
    if (worker.stopping()) return false;
    worker.log.error({ err }, 'connector failed to start; deliveries will be retried');
  }
  worker.settleReady(true);
  return !worker.stopping();
}

/** One claim: a batch goes out (joining `inFlight`), or the worker sleeps until something may be due. */
async function claimOnce(worker: Worker, inFlight: Set<Promise<void>>): Promise<void> {
  const { store, options, now } = worker.deps;
  const { batchSize: limit, maxPerCall } = worker.target;
  const batch = await store.claim(worker.name, now(), { limit, leaseMs: options.sendTimeoutMs + LEASE_MARGIN_MS, maxPerCall });
  if (batch.length > 0) {
    worker.sending.count += batch.length;
    const sending: Promise<void> = sendBatch(worker, batch)
      .catch((err: unknown) => worker.log.error({ err }, 'sending a batch failed unexpectedly; its deliveries are retried when their lease ends'))
      .finally(() => {
        worker.sending.count -= batch.length;
        inFlight.delete(sending);
        // The batch's calls may have their next delivery due now. After a batch that was not full, what arrives
        // next is gathered first, as news of new deliveries is: a full one says a backlog is being drained.
        if (batch.length >= limit) worker.sleep.wake();
        else worker.wakeGathered();
      });
    inFlight.add(sending);
    return;
  }
  // Something due that the claim did not hand out is held: by a lease (a batch of ours in flight wakes this
  // worker when it ends; another replica's ends on its own) or behind an earlier delivery of its call that
  // waits for a retry. Looking again before the poll interval would only spin.
  const nextDue = await store.nextDueAt(worker.name);
  const wait = nextDue === undefined ? options.pollIntervalMs : nextDue - now();
  await worker.sleep.sleep(wait <= 0 ? options.pollIntervalMs : Math.min(options.pollIntervalMs, Math.max(5, wait)));
}

/** What one send of a batch came to, before any judgement. */
interface Attempt {
  readonly results: readonly (SendResult | undefined)[];
  readonly durationMs: number;
}

async function sendBatch(worker: Worker, batch: ClaimedDelivery[]): Promise<void> {
  const attempt = await attemptBatch(worker, batch);
  const hold = await worker.health.judge(batch, attempt.results).catch((err: unknown) => {
    worker.log.error({ err }, 'cannot record connector health; the batch is judged as usual');
    return false;
  });
  await record(worker, batch, attempt, hold);
}

/**
 * Sends a batch and times it. A send the dispatcher aborts at `send_timeout`
 * is the connector's (`unreachable`): the target never answered; one aborted
 * by a stop is nobody's.
 */
async function attemptBatch(worker: Worker, batch: readonly ClaimedDelivery[]): Promise<Attempt> {
  const { options, metrics } = worker.deps;
  const deliveries: Delivery[] = batch.map((due) => ({ id: due.id, route: due.route, attempt: due.attempts + 1, event: due.event, ...(due.replay > 0 ? { replay: due.replay } : {}) }));
  const timeout = AbortSignal.timeout(options.sendTimeoutMs);
  const signal = AbortSignal.any([worker.abort.signal, timeout]);
  const started = performance.now();
  let results: readonly (SendResult | undefined)[];
  try {
    results = await raceAbort(worker.target.connector.send(deliveries, signal), signal);
  } catch (err) {
    const timedOut = timeout.aborted && !worker.abort.signal.aborted;
    const failure = retriable(timedOut ? `send timed out after ${options.sendTimeoutMs} ms` : (err as Error).message, undefined, timedOut ? 'unreachable' : undefined);
    results = batch.map(() => failure);
  }
  // A stop's abort says nothing of the target.
  if (worker.stopping()) results = results.map((result) => (result && !result.ok && result.fault !== undefined ? retriable(result.error, result.retryAfterMs) : result));
  const durationMs = performance.now() - started;
  metrics?.sendSeconds.observe({ connector: worker.name }, durationMs / 1000);
  return { results, durationMs };
}

/** Judges and writes each delivery's outcome; `hold`: the connector is down or held, so a retriable failure spends nothing. */
async function record(worker: Worker, batch: readonly ClaimedDelivery[], attempt: Attempt, hold: boolean): Promise<void> {
  const { metrics, now } = worker.deps;
  const { results, durationMs } = attempt;
  const failedRetriably = batch.some((_, index) => results[index]?.ok !== true && (results[index] as { retriable?: boolean } | undefined)?.retriable !== false);
  const paused = failedRetriably && !hold && (await pausedNow(worker));
  const at = now();
  const outcomes = batch.map((due, index) => {
    const result = results[index];
    if (hold && result && !result.ok && result.retriable) return heldOutcome(due, result, durationMs, worker.log, metrics);
    return worker.outcomeOf(due, result, at, durationMs, paused);
  });
  const delivered = outcomes.filter((outcome) => outcome.outcome === 'delivered').length;
  if (delivered > 0) metrics?.deliveries.inc({ connector: worker.name, outcome: 'delivered' }, delivered);
  await settle(worker, outcomes);
  if (worker.deps.activity) publishOutcomes(worker.deps.activity, worker.name, batch, outcomes, at);
}

/** Each attempt's outcome on the activity feed; its latency from when the delivery's budget started (its event's arrival, unless replayed or resumed since). */
function publishOutcomes(feed: Pick<ActivityFeed, 'publish'>, connector: string, batch: readonly ClaimedDelivery[], outcomes: readonly DeliveryOutcome[], at: number): void {
  batch.forEach((due, index) => {
    const outcome = outcomes[index]!;
    const { event } = due;
    feed.publish({
      kind: 'delivery',
      at,
      connector,
      route: due.route,
      deliveryId: due.id,
      ...(event.source.startsWith('audian/') ? { source: event.source.slice('audian/'.length) } : {}),
      eventId: event.id,
      type: event.type,
      callId: event.subject ?? '',
      attempt: due.attempts + 1,
      outcome: outcome.outcome,
      ...('error' in outcome ? { error: outcome.error } : 'reason' in outcome ? { error: outcome.reason } : {}),
      latencyMs: Math.max(0, at - due.since),
    });
  });
}

/**
 * Whether a connector that is down answers again: its own probe, or where it
 * has none, a trial send of the oldest waiting delivery that spends nothing
 * unless the target answers (a failure that is the connector's is held).
 */
async function probe(worker: Worker): Promise<ProbeResult> {
  const { connector } = worker.target;
  if (connector.probe) {
    const signal = AbortSignal.any([worker.abort.signal, AbortSignal.timeout(worker.deps.options.sendTimeoutMs)]);
    return raceAbort(connector.probe(signal), signal);
  }
  const { store, options, now } = worker.deps;
  const batch = await store.claim(worker.name, now(), { limit: 1, leaseMs: options.sendTimeoutMs + LEASE_MARGIN_MS, maxPerCall: 1 });
  if (batch.length === 0) return { ok: true, detail: 'nothing waiting to try' };
  const attempt = await attemptBatch(worker, batch);
  const fault = attempt.results.find((result) => result !== undefined && !result.ok && result.fault !== undefined);
  await record(worker, batch, attempt, fault !== undefined);
  return fault && !fault.ok ? { ok: false, reason: fault.error } : { ok: true, detail: 'a trial send was answered' };
}

/**
 * Writes the outcomes, trying again for as long as the store cannot answer:
 * forgetting them would send the batch again. Only a stop gives up (the
 * restarted process then sends it again: at-least-once).
 */
async function settle(worker: Worker, outcomes: readonly DeliveryOutcome[]): Promise<void> {
  const { store, now, options } = worker.deps;
  for (let failures = 0; ; failures++) {
    try {
      const { refused } = await store.settle(outcomes, now());
      if (refused.length > 0) worker.log.warn({ deliveryIds: refused }, 'lease lost before the outcome was written; another claim owns these deliveries');
      if (failures > 0) worker.log.info({ deliveries: outcomes.length }, 'delivery outcomes recorded after the store recovered');
      return;
    } catch (err) {
      if (worker.stopping()) {
        worker.log.error({ err }, 'could not record delivery outcomes before stopping; they will be sent again after a restart');
        return;
      }
      if (failures === 0) worker.log.error({ err }, 'could not record delivery outcomes; trying again until the store answers');
      await worker.sleep.sleep(options.pollIntervalMs);
    }
  }
}

/** Whether the connector is paused now; a store that cannot tell counts as not paused. */
async function pausedNow(worker: Worker): Promise<boolean> {
  try {
    return (await worker.deps.store.paused()).some((pause) => pause.connector === worker.name);
  } catch {
    return false;
  }
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
