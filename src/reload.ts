import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { BridgeConfig } from './config/load.js';
import type { DispatchTarget } from './dispatch/dispatcher.js';
import { BridgeError, ConfigError, type ErrorCode } from './errors.js';
import type { Metrics } from './metrics.js';
import type { OperationsStore } from './store/index.js';

/**
 * Sections read once at start: the listeners, the store, the logger, the
 * call lifecycle timers and the dispatcher's defaults. A reload that changes
 * one of them is refused by name, and the running config stays.
 */
export const LIVE_ONLY_KEYS = ['server', 'store', 'admin', 'log', 'lifecycle', 'dispatch'] as const;

export interface ConnectorPlan {
  readonly added: string[];
  /** Same name, other options: the running one finishes its batch in flight, then the new one takes over. */
  readonly replaced: string[];
  readonly removed: string[];
  /** Same options: kept running as it is, not restarted. */
  readonly kept: string[];
}

export type ReloadAnswer =
  | {
      readonly reloaded: true;
      readonly connectors: ConnectorPlan;
      readonly sources: string[];
      readonly routes: string[];
      /** Removed connectors whose deliveries stay in the outbox, and how many are waiting. */
      readonly orphaned: { connector: string; pending: number }[];
      /** Added or replaced connectors not started yet when the reload answered: their deliveries wait in the outbox until they do. */
      readonly starting: string[];
    }
  | {
      readonly reloaded: false;
      /** `issues`: the file's (`ConfigError.issues`), or one per refused key, `{ path, code, message }`. */
      readonly error: { code: ErrorCode; message: string; issues: readonly unknown[] };
    };

/** JSON with object keys sorted, so two configs compare by content, not by key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}

/**
 * The keys of the live-only sections that differ between the running config
 * and the next one, as deep as both are objects (`server.port`, not
 * `server`), so the refusal names the key to put back.
 */
export function refusedKeys(running: BridgeConfig, next: BridgeConfig): string[] {
  return LIVE_ONLY_KEYS.flatMap((key) => changedPaths(running[key], next[key], key));
}

function changedPaths(before: unknown, after: unknown, path: string): string[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(before) || !isObject(after)) return [path];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((key) => changedPaths(before[key], after[key], `${path}.${key}`));
}

/** Which connectors a reload adds, replaces, removes and keeps; options (`dispatch` included) compared by content. */
export function planConnectors(running: BridgeConfig, next: BridgeConfig): ConnectorPlan {
  const plan: ConnectorPlan = { added: [], replaced: [], removed: [], kept: [] };
  for (const [name, options] of Object.entries(next.connectors)) {
    const old = Object.hasOwn(running.connectors, name) ? running.connectors[name] : undefined;
    if (old === undefined) plan.added.push(name);
    else if (canonicalJson(old) === canonicalJson(options)) plan.kept.push(name);
    else plan.replaced.push(name);
  }
  for (const name of Object.keys(running.connectors)) if (!Object.hasOwn(next.connectors, name)) plan.removed.push(name);
  return plan;
}

export interface ReloadDeps<Built extends { readonly connectors: ReadonlyMap<string, DispatchTarget> }> {
  readonly running: BridgeConfig;
  /** Reads and validates the config file again; throws `ConfigError`. Absent: reloading is not possible. */
  readonly load?: () => Promise<BridgeConfig>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly store: Pick<OperationsStore, 'pendingStats'>;
  /** `put` settles once the new connector has started, `remove` once the old one claims no more; neither is waited for long. */
  readonly dispatcher: { put(name: string, target: DispatchTarget): Promise<unknown>; remove(name: string): Promise<void> };
  /** Builds, with the builders used at start, the connectors named (no I/O) and everything else `next` needs. */
  readonly build: (next: BridgeConfig, connectors: readonly string[]) => Built;
  /** Puts the built sources and routes in force; requests in flight finish on what they started with. */
  readonly swap: (built: Built, next: BridgeConfig) => void;
  readonly now?: () => number;
  /** How long a reload waits for the connectors it starts and stops before it answers (default HANDOVER_WAIT_MS). */
  readonly handoverWaitMs?: number;
}

/**
 * How long a reload waits for its connectors to start and stop. A connector
 * that cannot start yet (a broker that accepts connections and never answers)
 * does not hold the reload, nor the reloads after it: it is reported, and
 * starts when it can.
 */
export const HANDOVER_WAIT_MS = 1_000;

/** Why a reload leaves the running config in force: the outcome it is counted as, and the error it answers. */
export interface ReloadFailure {
  readonly outcome: 'invalid' | 'refused';
  readonly code: ErrorCode;
  readonly message: string;
  readonly issues: readonly unknown[];
}

/**
 * Hot reload (SIGHUP, `POST /admin/reload`): the new file is validated
 * whole; a bad one, or one that changes a live-only key, leaves the running
 * config in force and says why. A good one is built completely before
 * anything changes, then put in force: new connectors first, then sources
 * and routes, then replaced and removed connectors, each finishing its batch
 * in flight. Reloads run one at a time; each answers once its connectors
 * have started, or after `handoverWaitMs` naming those still starting.
 */
export function createReloader<Built extends { readonly connectors: ReadonlyMap<string, DispatchTarget> }>(deps: ReloadDeps<Built>) {
  const logger = deps.logger.child({ component: 'reload' });
  const outcomes = createReloadMetrics(deps.metrics, deps.now ?? Date.now);
  const waitMs = deps.handoverWaitMs ?? HANDOVER_WAIT_MS;
  const queue = createQueue();
  let running = deps.running;
  let closed = false;

  function failed({ outcome, code, message, issues }: ReloadFailure): ReloadAnswer {
    outcomes.failed(outcome);
    logger.error({ code, issues }, `config reload ${outcome === 'refused' ? 'refused' : 'failed'}; the running config stays: ${message}`);
    return { reloaded: false, error: { code, message, issues } };
  }

  async function reload(trigger: string): Promise<ReloadAnswer> {
    if (closed) return { reloaded: false, error: { code: 'SHUTTING_DOWN', message: 'the bridge is stopping', issues: [] } };
    if (!deps.load) return { reloaded: false, error: { code: 'NOT_IMPLEMENTED', message: 'this bridge was started without a way to read its config again', issues: [] } };
    logger.info({ trigger }, 'reloading the config');
    const read = await readNext(deps.load, running);
    if ('failure' in read) return failed(read.failure);
    const { next } = read;
    const plan = planConnectors(running, next);
    const made = buildNext(deps.build, next, plan);
    if ('failure' in made) return failed(made.failure);
    const { starts, removals } = handOver(deps.dispatcher, deps.swap, plan, made.built, next);
    running = next;
    const starting = await unsettledWithin(starts, removals, waitMs);

    const orphaned = await orphans(deps.store, plan.removed, logger);
    outcomes.applied();
    const answer: AppliedReload = {
      reloaded: true,
      connectors: plan,
      sources: next.sources.map((source) => source.name),
      routes: next.routes.map((route) => route.name),
      orphaned,
      starting,
    };
    reportApplied(logger, answer, waitMs);
    return answer;
  }

  return {
    /** Reloads once the reload before has finished; never rejects for a bad config. */
    reload(trigger: string): Promise<ReloadAnswer> {
      return queue.run(() => reload(trigger));
    },
    /** Lets the reload under way finish; later ones are refused. */
    async close(): Promise<void> {
      closed = true;
      await queue.idle();
    },
  };
}

type AppliedReload = Extract<ReloadAnswer, { reloaded: true }>;

/**
 * `audian_bridge_config_reloads_total` by outcome, each at 0 from the start,
 * and the time the config in force was loaded: now, and again at each
 * applied reload.
 */
export function createReloadMetrics(metrics: Pick<Metrics, 'registry'>, now: () => number) {
  const registers = [metrics.registry];
  const reloads = new Counter({
    name: 'audian_bridge_config_reloads_total',
    help: 'Config reloads, by outcome: applied, invalid (the file is bad), refused (a key that cannot change live changed).',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of ['applied', 'invalid', 'refused']) reloads.inc({ outcome }, 0);
  const lastSuccess = new Gauge({
    name: 'audian_bridge_config_last_reload_success_timestamp_seconds',
    help: 'When the config in force was loaded (at start or by the last applied reload), in unix seconds.',
    registers,
  });
  lastSuccess.set(now() / 1000);
  return {
    failed(outcome: ReloadFailure['outcome']): void {
      reloads.inc({ outcome });
    },
    applied(): void {
      reloads.inc({ outcome: 'applied' });
      lastSuccess.set(now() / 1000);
    },
  };
}

/** Runs tasks one at a time, each once the one before has settled, whether it failed or not. */
function createQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(task);
      tail = result.catch(() => undefined);
      return result;
    },
    /** Settles once every task run so far has. */
    idle(): Promise<unknown> {
      return tail;
    },
  };
}

/**
 * Reads the config file again through `load` and checks it against the
 * running one: the next config, or why it cannot be put in force (a bad
 * file, or a live-only key changed). Errors other than `ConfigError` are
 * thrown.
 */
export async function readNext(load: () => Promise<BridgeConfig>, running: BridgeConfig): Promise<{ next: BridgeConfig } | { failure: ReloadFailure }> {
  let next: BridgeConfig;
  try {
    next = await load();
  } catch (err) {
    if (err instanceof ConfigError) return { failure: { outcome: 'invalid', code: err.code, message: err.message, issues: err.issues } };
    throw err;
  }
  const refused = refusedKeys(running, next);
  if (refused.length > 0) {
    const issues = refused.map((key) => ({ path: key, code: 'CONFIG_NOT_RELOADABLE', message: 'cannot change while running; restart the bridge to change it' }));
    return { failure: { outcome: 'refused', code: 'CONFIG_NOT_RELOADABLE', message: `${refused.join(', ')} cannot change while running`, issues } };
  }
  return { next };
}

/** Builds what `next` needs, with the connectors `plan` starts; a builder that throws makes the file invalid. */
function buildNext<Built>(build: (next: BridgeConfig, connectors: readonly string[]) => Built, next: BridgeConfig, plan: ConnectorPlan): { built: Built } | { failure: ReloadFailure } {
  try {
    return { built: build(next, [...plan.added, ...plan.replaced]) };
  } catch (err) {
    const message = (err as Error).message;
    const code = err instanceof BridgeError ? err.code : 'CONFIG_INVALID';
    return { failure: { outcome: 'invalid', code, message, issues: [{ path: '(root)', code, message }] } };
  }
}

/**
 * Puts `built` in force: added connectors first, then (`swap`) sources and
 * routes, then replaced and removed connectors. Returns the starts by name
 * and the removals, not waited for.
 */
export function handOver<Built extends { readonly connectors: ReadonlyMap<string, DispatchTarget> }>(
  dispatcher: ReloadDeps<Built>['dispatcher'],
  swap: ReloadDeps<Built>['swap'],
  plan: ConnectorPlan,
  built: Built,
  next: BridgeConfig,
): { starts: Map<string, Promise<unknown>>; removals: Promise<void>[] } {
  const target = (name: string) => built.connectors.get(name) as DispatchTarget;
  // A new worker is in place as soon as `put` returns, so deliveries the new routes make find it.
  const starts = new Map(plan.added.map((name) => [name, dispatcher.put(name, target(name))]));
  swap(built, next);
  for (const name of plan.replaced) starts.set(name, dispatcher.put(name, target(name)));
  const removals = plan.removed.map((name) => dispatcher.remove(name));
  return { starts, removals };
}

/** The names in `starts` whose promise has not settled within `waitMs`; `others` are waited for as long, and not named. */
export async function unsettledWithin(starts: ReadonlyMap<string, Promise<unknown>>, others: readonly Promise<unknown>[], waitMs: number): Promise<string[]> {
  const settled = new Set<string>();
  const all = Promise.allSettled([...[...starts].map(([name, start]) => start.finally(() => settled.add(name))), ...others]);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
  return [...starts.keys()].filter((name) => !settled.has(name));
}

/** The removed connectors that still have pending deliveries; a store that cannot tell reports none. */
async function orphans(store: ReloadDeps<never>['store'], removed: readonly string[], logger: Logger): Promise<{ connector: string; pending: number }[]> {
  if (removed.length === 0) return [];
  try {
    const stats = await store.pendingStats();
    return stats.filter((row) => removed.includes(row.connector) && row.n > 0).map((row) => ({ connector: row.connector, pending: row.n }));
  } catch (err) {
    logger.error({ err, removed }, 'could not count the deliveries left to removed connectors');
    return [];
  }
}

/** Logs an applied reload, then each connector not started yet and each removed one that left deliveries behind. */
function reportApplied(logger: Logger, answer: AppliedReload, waitedMs: number): void {
  logger.info({ connectors: answer.connectors, sources: answer.sources, routes: answer.routes }, 'config reloaded');
  for (const connector of answer.starting) {
    logger.warn({ connector, waitedMs }, 'connector not started yet; its deliveries wait in the outbox until it starts');
  }
  for (const { connector, pending } of answer.orphaned) {
    logger.warn({ connector, pending }, 'connector removed with deliveries still in the outbox; they stay there until a connector of that name is configured again, or they are purged');
  }
}

export type Reloader = ReturnType<typeof createReloader>;
