import type { Logger } from 'pino';
import type { ProbeResult, SendResult } from '../sdk/index.js';
import { healthAt, type ClaimedDelivery, type ConnectorHealthRecord, type OutboxStore } from '../store/index.js';

/**
 * Connector health, apart from each delivery's retries. A failure that is the
 * connector's (`SendResult.fault`) judges the connector, not the delivery:
 * - `unreachable` (and a send aborted at `send_timeout`): down at once;
 * - `server`: down after `SERVER_FAULTS` in a row spanning `SERVER_FAULT_CALLS`
 *   calls (one 5xx may be one payload's; until then each spends its attempt);
 * - `throttled`: the whole connector held until the target's `Retry-After`.
 * While down or held the worker claims nothing, and the sends that found the
 * fault end `held`: pending as they were, no attempt counted or kept in the
 * history. While down, one process at a time (the one that takes the probe
 * slot in the store) probes every `probeIntervalMs`, with jitter; when it
 * answers, the connector is up and the store makes every waiting delivery due
 * at once with a fresh budget. A target that goes down again soon after
 * coming up (`flapWindowMs`) is probed less and less often, doubling up to
 * `maxProbeIntervalMs`, so a flapping target cannot thrash. Pause stays the
 * operator's: it is kept in its own table and checked by the claim.
 */
export interface HealthOptions {
  /** Between probes of a connector that is down (with jitter of a fifth either way). */
  readonly probeIntervalMs: number;
  /** The longest a flapping target's probe interval grows to. */
  readonly maxProbeIntervalMs: number;
  /** Down again within this of coming up counts as a flap. */
  readonly flapWindowMs: number;
}

export const DEFAULT_HEALTH: HealthOptions = { probeIntervalMs: 1_000, maxProbeIntervalMs: 60_000, flapWindowMs: 60_000 };

/** 5xx answers in a row that make a connector down, and how many calls they must span. */
export const SERVER_FAULTS = 3;
export const SERVER_FAULT_CALLS = 2;
/** A `throttled` failure that names no wait holds the connector this long. */
const DEFAULT_HOLD_MS = 1_000;

export type Verdict = { readonly kind: 'down'; readonly reason: string } | { readonly kind: 'held'; readonly until: number; readonly reason: string } | undefined;

/**
 * Judges a worker's batches, in the order they end: what their failures say
 * of the connector. Keeps the run of 5xx between batches; a delivered or
 * permanently failed delivery ends the run (the server answered sensibly).
 */
export function createFaultJudge() {
  let serverRun = 0;
  const serverCalls = new Set<string>();
  return (batch: readonly ClaimedDelivery[], results: readonly (SendResult | undefined)[], now: number): Verdict => {
    let down: string | undefined;
    let held: { until: number; reason: string } | undefined;
    batch.forEach((due, index) => {
      const result = results[index];
      if (!result) return;
      if (result.ok || !result.retriable) {
        serverRun = 0;
        serverCalls.clear();
        return;
      }
      if (result.fault === 'unreachable') down ??= result.error;
      else if (result.fault === 'throttled') {
        const until = now + (result.retryAfterMs ?? DEFAULT_HOLD_MS);
        if (!held || until > held.until) held = { until, reason: result.error };
      } else if (result.fault === 'server') {
        serverRun += 1;
        serverCalls.add(due.event.subject === undefined ? `#${due.id}` : `${due.event.source}\u0000${due.event.subject}`);
        if (serverRun >= SERVER_FAULTS && serverCalls.size >= SERVER_FAULT_CALLS) down ??= `${result.error} (${serverRun} server errors in a row)`;
      }
    });
    if (down !== undefined) {
      serverRun = 0;
      serverCalls.clear();
      return { kind: 'down', reason: down };
    }
    return held ? { kind: 'held', ...held } : undefined;
  };
}

/** The wait before the next probe: the interval doubled per flap, capped, with jitter of a fifth either way. */
export function probeDelayMs(flaps: number, options: HealthOptions, random: number): number {
  const base = Math.min(options.maxProbeIntervalMs, options.probeIntervalMs * 2 ** Math.min(flaps, 30));
  return Math.round(base * (0.8 + 0.4 * random));
}

/** The records each transition writes over `previous`; undefined where there is nothing to change. */
export const transitions = {
  down(connector: string, previous: ConnectorHealthRecord | undefined, reason: string, now: number, options: HealthOptions, random: number): ConnectorHealthRecord | undefined {
    if (healthAt(previous, now).state === 'down') return undefined;
    const flapped = previous?.state === 'up' && now - previous.since < options.flapWindowMs;
    const flaps = flapped ? previous.flaps + 1 : previous?.state === 'held' ? previous.flaps : 0;
    return { connector, state: 'down', since: now, reason, until: now + probeDelayMs(flaps, options, random), flaps, version: (previous?.version ?? 0) + 1 };
  },
  held(connector: string, previous: ConnectorHealthRecord | undefined, until: number, reason: string, now: number): ConnectorHealthRecord | undefined {
    const current = healthAt(previous, now);
    if (current.state === 'down' || (current.state === 'held' && (current.until ?? 0) >= until)) return undefined;
    const since = current.state === 'held' ? (current.since ?? now) : now;
    return { connector, state: 'held', since, reason, until, flaps: previous?.flaps ?? 0, version: (previous?.version ?? 0) + 1 };
  },
  up(previous: ConnectorHealthRecord | undefined, now: number): ConnectorHealthRecord | undefined {
    if (previous?.state !== 'down') return undefined;
    return { ...previous, state: 'up', since: now, reason: null, until: null, version: previous.version + 1 };
  },
  /** Takes the next probe: due, and no other process took it first. */
  probeSlot(previous: ConnectorHealthRecord | undefined, now: number, options: HealthOptions, random: number): ConnectorHealthRecord | undefined {
    if (previous?.state !== 'down' || (previous.until ?? 0) > now) return undefined;
    return { ...previous, until: now + probeDelayMs(previous.flaps, options, random), version: previous.version + 1 };
  },
};

export interface HealthDeps {
  readonly connector: string;
  readonly store: Pick<OutboxStore, 'connectorHealth' | 'recordHealth'>;
  readonly log: Logger;
  readonly now: () => number;
  readonly random: () => number;
  readonly options: HealthOptions;
  /** How often a connector that is up looks at the store for another process's judgement. */
  readonly refreshMs: number;
}

/** The record as this process last read or wrote it, and how to read it again or write over it. */
interface HealthView {
  readonly deps: HealthDeps;
  /** The record last read or written; undefined: none (up). */
  record(): ConnectorHealthRecord | undefined;
  /** Reads the record again once it may have changed elsewhere (or at once with `force`). */
  current(force?: boolean): Promise<ConnectorHealthRecord | undefined>;
  /** Writes what `next` makes of the record; after a lost race, reads again and asks `next` again. True once written. */
  write(next: (previous: ConnectorHealthRecord | undefined) => ConnectorHealthRecord | undefined): Promise<boolean>;
}

function createHealthView(deps: HealthDeps): HealthView {
  let record: ConnectorHealthRecord | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  async function current(force = false): Promise<ConnectorHealthRecord | undefined> {
    const now = deps.now();
    // Every probe interval while not up: another process's probe may have brought it back.
    const every = healthAt(record, now).state === 'up' ? deps.refreshMs : deps.options.probeIntervalMs;
    if (force || now - readAt >= every || now < readAt) {
      record = (await deps.store.connectorHealth()).find((row) => row.connector === deps.connector);
      readAt = now;
    }
    return record;
  }
  return {
    deps,
    record: () => record,
    current,
    async write(next) {
      for (let tries = 0; tries < 3; tries++) {
        const wanted = next(record);
        if (!wanted) return false;
        if (await deps.store.recordHealth(wanted, deps.now())) {
          record = wanted;
          return true;
        }
        await current(true);
      }
      return false;
    },
  };
}

/** Judges a batch's results into the record; true when the connector is down or held (its retriable failures spend nothing). */
async function judgeBatch(view: HealthView, verdict: Verdict, now: number): Promise<boolean> {
  const { connector, options, log, random } = view.deps;
  if (verdict?.kind === 'down') {
    if (await view.write((previous) => transitions.down(connector, previous, verdict.reason, now, options, random()))) {
      const record = view.record();
      log.warn({ reason: verdict.reason, flaps: record?.flaps, nextProbeInMs: (record?.until ?? now) - now }, 'connector down: its deliveries wait without spending attempts; probing it');
    }
    return true;
  }
  if (verdict?.kind === 'held') {
    if (await view.write((previous) => transitions.held(connector, previous, verdict.until, verdict.reason, now))) {
      log.info({ reason: verdict.reason, heldForMs: verdict.until - now }, 'connector held: the target asked to wait; no attempt is spent');
    }
    return true;
  }
  return healthAt(view.record(), now).state !== 'up';
}

/** One probe, when it is due and this process took its slot; up when it answers. */
async function probeOnce(view: HealthView, probe: () => Promise<ProbeResult>): Promise<void> {
  const { now, options, random, log } = view.deps;
  if (!(await view.write((previous) => transitions.probeSlot(previous, now(), options, random())))) return;
  const downSince = view.record()?.since ?? now();
  const result = await probe().catch((err: unknown): ProbeResult => ({ ok: false, reason: (err as Error).message }));
  if (result.ok) {
    if (await view.write((previous) => transitions.up(previous, now()))) log.info({ downForMs: now() - downSince }, 'connector up again: its waiting deliveries are due now');
    return;
  }
  log.debug({ reason: result.reason }, 'connector still down');
  if (result.reason !== view.record()?.reason) {
    await view.write((previous) => (previous?.state === 'down' ? { ...previous, reason: result.reason, version: previous.version + 1 } : undefined));
  }
}

/** One worker's view of its connector's health: kept in the store, read again now and then. */
export function createHealthGate(deps: HealthDeps) {
  const view = createHealthView(deps);
  const judgeFaults = createFaultJudge();
  return {
    /** Whether the worker may claim: the connector is up (or its hold has ended). */
    async admits(): Promise<boolean> {
      return healthAt(await view.current(), deps.now()).state === 'up';
    },
    /**
     * Judges a batch's results (in the order batches end). True when the
     * connector is down or held: the batch's retriable failures spend nothing.
     */
    judge(batch: readonly ClaimedDelivery[], results: readonly (SendResult | undefined)[]): Promise<boolean> {
      const now = deps.now();
      return judgeBatch(view, judgeFaults(batch, results, now), now);
    },
    /** While down or held: probes when due (and this process's turn), else sleeps until the next look. */
    async whileUnavailable(sleep: (ms: number) => Promise<void>, probe: () => Promise<ProbeResult>): Promise<void> {
      const now = deps.now();
      const health = healthAt(view.record(), now);
      if (health.state === 'up') return;
      const until = health.until ?? now;
      if (health.state === 'held' || until > now) {
        await sleep(Math.max(5, Math.min(until - now, deps.options.probeIntervalMs)));
        return;
      }
      await probeOnce(view, probe);
    },
  };
}

export type HealthGate = ReturnType<typeof createHealthGate>;
