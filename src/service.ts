import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { CONNECTORS } from '../connectors/index.js';
import { createAcceptor, type Acceptor } from './accept/acceptor.js';
import { createMissedCallWatcher } from './accept/missed-call-watcher.js';
import { createSummaryWatcher } from './accept/summary-watcher.js';
import type { BridgeConfig } from './config/load.js';
import { redactConfig } from './config/redact.js';
import { describeStore, storeOptionsOf } from './config/store.js';
import { createConsole } from './console/index.js';
import type { CanonicalEvent, DialectId } from './dialects/index.js';
import { createDispatcher, type Dispatcher, type DispatchTarget } from './dispatch/dispatcher.js';
import type { RetryPolicy } from './dispatch/retry.js';
import { createActivityStreams, type ActivityStreams } from './http/activity-stream.js';
import { createAdminApp, createAdminServer, type AdminAppDeps } from './http/admin.js';
import { createHttpApp, type HttpAppDeps, type HttpSource } from './http/app.js';
import { createBodyBudget } from './http/body.js';
import { createHttpServer } from './http/server.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createActivityFeed, type ActivityFeed } from './ops/activity.js';
import { createMinuteCounts, type MinuteCounts } from './ops/minute-counts.js';
import { createOperations } from './ops/operations.js';
import { createRecentActivity, type RecentActivity } from './ops/recent-activity.js';
import { createProviderSide } from './provider/bridge-side.js';
import { createReloader, type ReloadAnswer, type Reloader } from './reload.js';
import { createRouter, type Router } from './routing/router.js';
import { healthAt, openStore, type Store, type UpkeepStore } from './store/index.js';
import { createVerifier, type ExpiringSecret } from './verify/index.js';

export interface ServiceDeps {
  readonly logger?: Logger;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  /** The store to use instead of opening the configured one; `stop` closes it. */
  readonly store?: Store;
  /** Reads and validates the config file again, for a reload (SIGHUP, `POST /admin/reload`); without it a reload answers NOT_IMPLEMENTED. */
  readonly loadConfig?: () => Promise<BridgeConfig>;
}

export interface RunningService {
  /** Base URL the receiver listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Base URL of the admin API, when `admin.token` turned it on. */
  readonly adminUrl?: string;
  readonly store: Store;
  /** Reloads the config file: the new one in force if it is valid and changes nothing that cannot change live. */
  reload(trigger?: string): Promise<ReloadAnswer>;
  /** Graceful stop: no new requests, in-flight requests and sends finished, store closed. */
  stop(): Promise<void>;
}

/** Rows forgotten per store call, so pruning a large backlog never holds the store for long. */
const PRUNE_BATCH = 1000;
/** Store calls per pass: a backlog is worked off over several `prune_interval`s, never in one long burst. */
const PRUNE_BATCHES_PER_PASS = 50;
/** `store.audit_ttl`'s default, for a pruner started without it. */
const AUDIT_TTL_MS = 90 * 24 * 3600_000;

/** The retry policy of `dispatch`, with a connector's own `dispatch:` keys over it. */
export function retryPolicyOf(dispatch: BridgeConfig['dispatch'], own: { retry_schedule?: number[]; max_age?: number; max_attempts?: number } = {}): RetryPolicy {
  const maxAttempts = own.max_attempts ?? dispatch.max_attempts;
  return {
    schedule: own.retry_schedule ?? dispatch.retry_schedule,
    maxAgeMs: own.max_age ?? dispatch.max_age,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  };
}

/** Turns the configured connectors into what the dispatcher drives; each connector keeps its state in `store`. */
export function buildConnectors(
  config: BridgeConfig,
  store: Store,
  context: { logger: Logger; fetch: typeof fetch; now: () => number },
): Map<string, DispatchTarget> {
  const connectors = new Map<string, DispatchTarget>();
  for (const [name, { dispatch, ...options }] of Object.entries(config.connectors)) {
    const definition = CONNECTORS[options.type];
    if (!definition) throw new Error(`unknown connector type ${options.type}`); // the schema already refused it
    const connector = definition.create(name, options, { ...context, state: store.connectorState(name, context.now) });
    connectors.set(name, {
      connector,
      batchSize: definition.batchSize,
      maxPerCall: definition.maxPerCall ?? 1,
      ...(dispatch ? { retry: retryPolicyOf(config.dispatch, dispatch) } : {}),
    });
  }
  return connectors;
}

/**
 * Turns the configured sources into the receiver's routes, each with its
 * verifier; `fileSecrets` adds, to an HMAC source, the secrets of the
 * subscriptions' secrets files naming it (src/provider/bridge-side.ts).
 */
export function buildSources(config: BridgeConfig, logger: Logger, fileSecrets?: (source: string) => readonly ExpiringSecret[]): HttpSource[] {
  return config.sources.map((source) => {
    if (source.verify.none) {
      logger.warn({ source: source.name }, `source "${source.name}" accepts UNSIGNED webhooks (verify: none); anyone who can reach it can inject events`);
    }
    const verify = source.verify.hmac
      ? createVerifier({
          hmac: {
            secrets: source.verify.hmac.secrets,
            toleranceSeconds: source.verify.hmac.tolerance / 1000,
            ...(fileSecrets ? { expiring: () => fileSecrets(source.name) } : {}),
          },
        })
      : source.verify.header
        ? createVerifier({ header: source.verify.header })
        : createVerifier({ none: true });
    return {
      name: source.name,
      path: source.path,
      verify,
      ...(source.dialects ? { dialects: source.dialects as DialectId[] } : {}),
    };
  });
}

/**
 * Forgets records past `dedupe_ttl` now and every `intervalMs`: a bounded
 * batch per store call, a bounded number of calls per pass. Dead deliveries
 * and their events stay (the store keeps them until replayed or purged).
 * Audit rows go after `auditTtlMs` (`store.audit_ttl`), the same way.
 */
export function startPruner(store: UpkeepStore, ttlMs: number, logger: Logger, now: () => number, intervalMs = 15 * 60_000, auditTtlMs = AUDIT_TTL_MS) {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  async function prune(): Promise<void> {
    const removed = { events: 0, calls: 0 };
    try {
      for (let more = true, batches = 0; more && !stopped && batches < PRUNE_BATCHES_PER_PASS; batches++) {
        const result = await store.prune(now(), ttlMs, PRUNE_BATCH);
        removed.events += result.events;
        removed.calls += result.calls;
        more = result.more;
      }
    } catch (err) {
      logger.error({ err }, 'pruning failed; trying again at the next interval');
    }
    if (removed.events + removed.calls > 0) logger.info(removed, 'pruned records past dedupe_ttl');
    await pruneAudit();
  }
  async function pruneAudit(): Promise<void> {
    let audit = 0;
    try {
      for (let batch = PRUNE_BATCH, batches = 0; batch === PRUNE_BATCH && !stopped && batches < PRUNE_BATCHES_PER_PASS; batches++) {
        batch = await store.pruneAudit(now(), auditTtlMs, PRUNE_BATCH);
        audit += batch;
      }
    } catch (err) {
      logger.error({ err }, 'pruning the audit failed; trying again at the next interval');
    }
    if (audit > 0) logger.info({ audit }, 'pruned audit rows past audit_ttl');
  }
  running = prune();
  const timer = setInterval(() => (running = prune()), intervalMs);
  timer.unref();
  return {
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** Listens on the configured address; resolves with the base URL. */
export async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}`;
}

/** No new connections; idle ones closed now, busy ones once their request ends or `graceMs` is over. */
function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Wires the stages together and starts listening (docs/architecture.md, "The pipeline"). */
export async function startService(config: BridgeConfig, deps: ServiceDeps = {}): Promise<RunningService> {
  const logger = deps.logger ?? pino({ level: config.log.level });
  const now = deps.now ?? Date.now;
  const store = deps.store ?? await openStore({ ...storeOptionsOf(config.store), serving: true });
  const state: ServiceState = { accepting: false, closed: false };
  const names = createConnectorNames(config);
  // What the console and GET /admin/config show: the config in force, replaced by a reload.
  let running = { config, loadedAt: now() };
  const metrics = createMetrics({ store: () => (state.closed ? undefined : store), connectors: names.list });
  const activity = createActivity(logger);
  const delivery = createDelivery(config, { store, logger, metrics, now, fetch: deps.fetch ?? globalThis.fetch, activity: activity.feed });
  const { dispatcher } = delivery;
  const routing = createRouting(config, logger, metrics);
  const providerSide = createProviderSide({ config, logger, store, registry: metrics.registry, now, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  const { acceptor, watcher, summaries } = createAcceptance(config, { store, router: routing, dispatcher, metrics, providerSide, logger, now });
  const sources = buildSources(config, logger, providerSide.secretsOf);
  const accepting = () => state.accepting;
  const readiness = readinessOf(accepting, store, async () => [...(await providerSide.readinessWarnings()), ...(await connectorsDown(store, now()))]);
  const appFor = createReceiverApps(config, { acceptor, metrics, logger, now, accepting, readiness, activity: activity.feed });

  const pruner = startPruner(store, config.store.dedupe_ttl, logger, now, config.store.prune_interval, config.store.audit_ttl);
  dispatcher.start();
  watcher.start();
  summaries.start();
  const server = createHttpServer(appFor(sources), {
    requestTimeoutMs: config.server.request_timeout,
    maxConnections: config.server.max_connections,
    logger: logger.child({ component: 'http' }),
  });
  const url = await listen(server, config.server.host, config.server.port);
  const reloader = createReloader({
    running: config,
    ...(deps.loadConfig ? { load: deps.loadConfig } : {}),
    logger,
    metrics,
    store,
    dispatcher,
    build: (next, connectors) => ({
      connectors: delivery.connectorsFor(next, connectors),
      router: routing.routerFor(next),
      app: appFor(buildSources(next, logger, providerSide.secretsOf)),
    }),
    swap: (built, next) => {
      providerSide.update(next);
      routing.use(built.router);
      // Requests in flight finish on the app that took them; new ones reach the new sources.
      server.removeAllListeners('request');
      server.on('request', built.app.callback());
      names.update(next);
      running = { config: next, loadedAt: now() };
    },
  });
  const admin = config.admin.token
    ? await startAdmin(config, config.admin.token, { store, connectors: names.known, metrics, logger, now, dispatcher, reloader, subscriptions: providerSide.admin, readiness, running: () => running, activity })
    : undefined;
  state.accepting = true;
  logger.info({ url, store: describeStore(config.store), sources: sources.map((source) => source.path), connectors: [...delivery.connectors.keys()] }, 'audian-bridge listening');

  const stop = () => shutDown({
    timeoutMs: config.server.shutdown_timeout,
    state,
    reloader,
    streams: activity.streams,
    servers: admin ? [server, admin.server] : [server],
    background: [() => providerSide.close(), () => pruner.stop(), () => watcher.stop(), () => summaries.stop()],
    dispatcher,
    store,
    logger,
  });
  let stopping: Promise<void> | undefined;
  return {
    url,
    ...(admin ? { adminUrl: admin.url } : {}),
    store,
    reload: (trigger = 'api') => reloadAudited(store, reloader, now, trigger),
    stop: () => (stopping ??= stop()),
  };
}

/** A reload by signal is audited as the API's and the console's are: recorded first, or not done. */
async function reloadAudited(store: Pick<Store, 'recordAudit'>, reloader: Pick<Reloader, 'reload'>, now: () => number, trigger: string): Promise<ReloadAnswer> {
  if (trigger === 'SIGHUP') await store.recordAudit({ at: now(), action: 'reload', actor: { via: 'signal', who: 'SIGHUP' }, count: 1 });
  return reloader.reload(trigger);
}

/** Whether the receiver takes webhooks (not while starting or stopping), and whether the store is closed: metrics then read none. */
export interface ServiceState {
  accepting: boolean;
  closed: boolean;
}

/**
 * The names of the configured connectors, as a list (metrics) and a set
 * (operations). Both are changed in place by `update`, at a reload: their
 * readers hold them from the start and read them on each use.
 */
export function createConnectorNames(config: BridgeConfig) {
  const list = Object.keys(config.connectors);
  const known = new Set(list);
  return {
    list,
    known,
    update(next: BridgeConfig): void {
      list.splice(0, list.length, ...Object.keys(next.connectors));
      known.clear();
      for (const name of list) known.add(name);
    },
  };
}

/** What this process does, as it happens (src/ops/activity.ts), and what reads it: the per-minute counts, the recent ring, the live tails. */
export interface ServiceActivity {
  readonly feed: ActivityFeed;
  readonly counts: MinuteCounts;
  readonly recent: RecentActivity;
  readonly streams: ActivityStreams;
}

function createActivity(logger: Logger): ServiceActivity {
  const feed = createActivityFeed();
  const counts = createMinuteCounts();
  feed.subscribe((activity) => counts.record(activity));
  return { feed, counts, recent: createRecentActivity(feed), streams: createActivityStreams({ feed, logger }) };
}

/** The configured connectors and the dispatcher that sends to them; `connectorsFor` builds, for a reload, the connectors named. */
function createDelivery(config: BridgeConfig, deps: { store: Store; logger: Logger; metrics: Metrics; now: () => number; fetch: typeof fetch; activity: ActivityFeed }) {
  const context = { logger: deps.logger, fetch: deps.fetch, now: deps.now };
  const connectors = buildConnectors(config, deps.store, context);
  const dispatcher = createDispatcher({
    store: deps.store,
    connectors,
    logger: deps.logger,
    metrics: deps.metrics,
    now: deps.now,
    activity: deps.activity,
    options: {
      retry: retryPolicyOf(config.dispatch),
      pollIntervalMs: config.dispatch.poll_interval,
      sendTimeoutMs: config.dispatch.send_timeout,
      batchWindowMs: config.dispatch.batch_window,
    },
  });
  return {
    connectors,
    dispatcher,
    connectorsFor(next: BridgeConfig, names: readonly string[]): Map<string, DispatchTarget> {
      return buildConnectors({ ...next, connectors: Object.fromEntries(names.map((name) => [name, next.connectors[name]!])) }, deps.store, context);
    },
  };
}

/** The routes in force; a reload replaces them, and a commit in flight routes with whichever are in force when it gets there. */
function createRouting(config: BridgeConfig, logger: Logger, metrics: Metrics) {
  const routerFor = (bridge: BridgeConfig) => createRouter(bridge.routes, logger.child({ component: 'routing' }), (route) => metrics.routeErrors.inc({ route }));
  let router: Router = routerFor(config);
  return {
    route: (event: CanonicalEvent) => router.route(event),
    routerFor,
    use(next: Router): void {
      router = next;
    },
  };
}

/** The acceptor, and the watchers that decide, once the grace is over, the missed calls and the summaries it commits. */
function createAcceptance(
  config: BridgeConfig,
  deps: {
    store: Store;
    router: Pick<Router, 'route'>;
    dispatcher: Pick<Dispatcher, 'notify'>;
    metrics: Metrics;
    providerSide: { seen(event: CanonicalEvent): void };
    logger: Logger;
    now: () => number;
  },
) {
  const { store, logger, now } = deps;
  const lifecycle = {
    graceMs: config.lifecycle.missed_call_grace,
    unknownDirection: config.lifecycle.unknown_direction,
    maxCallAgeMs: config.lifecycle.max_call_age,
  };
  const acceptor = createAcceptor({
    store,
    router: deps.router,
    lifecycle,
    transcriptEvents: config.lifecycle.transcript_event,
    logger,
    now,
    onCommitted: (names) => deps.dispatcher.notify(names),
    onStored: (event) => {
      deps.metrics.countEvent(event);
      deps.providerSide.seen(event);
    },
  });
  const watcher = createMissedCallWatcher({ store, acceptor, graceMs: lifecycle.graceMs, logger, now });
  const summaries = createSummaryWatcher({ store, acceptor, graceMs: lifecycle.graceMs, logger, now });
  return { acceptor, watcher, summaries };
}

/** Builds the receiver's app on a set of sources; the apps share one body budget, so requests still on the app a reload replaced count. */
function createReceiverApps(
  config: BridgeConfig,
  deps: { acceptor: Acceptor; metrics: Metrics; logger: Logger; now: () => number; accepting: () => boolean; readiness: HttpAppDeps['readiness']; activity: ActivityFeed },
) {
  const bodyBudget = createBodyBudget(config.server.max_inflight_body);
  return (sources: HttpSource[]) => createHttpApp({
    sources,
    bodyBudget,
    acceptor: deps.acceptor,
    bodyLimit: config.server.body_limit,
    bodyTimeoutMs: config.server.body_timeout,
    maxInflightBody: config.server.max_inflight_body,
    metrics: deps.metrics,
    serveMetrics: config.server.metrics,
    logger: deps.logger,
    now: deps.now,
    accepting: deps.accepting,
    readiness: deps.readiness,
    activity: deps.activity,
  });
}

/** `/readyz`: ready while accepting webhooks and the store answers, with `warnings` that do not change it; otherwise why not. */
export function readinessOf(accepting: () => boolean, store: Pick<Store, 'ping'>, warnings: () => Promise<string[]>): HttpAppDeps['readiness'] {
  return async () => {
    if (!accepting()) return { ready: false, reason: 'starting or shutting down' };
    try {
      await store.ping();
    } catch (err) {
      return { ready: false, reason: `store: ${(err as Error).message}` };
    }
    const found = await warnings();
    return { ready: true, ...(found.length > 0 ? { warnings: found } : {}) };
  };
}

/**
 * For /readyz's body: each connector the dispatcher holds down, since when and
 * why. Intake goes on while a target is away, so it never makes a replica unready.
 */
export async function connectorsDown(store: Pick<Store, 'connectorHealth'>, now: number): Promise<string[]> {
  const records = await store.connectorHealth().catch(() => []);
  return records
    .filter((record) => healthAt(record, now).state === 'down')
    .map((record) => `connector ${record.connector} is down since ${new Date(record.since).toISOString()}: ${record.reason ?? 'unreachable'}; its deliveries wait`);
}

/** The admin API on its own listener (`admin.host`, 127.0.0.1 unless exposed on purpose). */
async function startAdmin(
  config: BridgeConfig,
  token: string,
  deps: {
    store: Store;
    connectors: ReadonlySet<string>;
    metrics: Metrics;
    logger: Logger;
    now: () => number;
    dispatcher: Pick<Dispatcher, 'notify' | 'inFlight'>;
    reloader: Pick<Reloader, 'reload' | 'last'>;
    subscriptions: NonNullable<AdminAppDeps['subscriptions']>;
    readiness: HttpAppDeps['readiness'];
    /** The config in force and when it was loaded: the configuration page shows it redacted. */
    running: () => { readonly config: BridgeConfig; readonly loadedAt: number };
    activity: ServiceActivity;
  },
) {
  const { metrics, logger } = deps;
  const operations = createOperations({
    store: deps.store,
    connectors: deps.connectors,
    now: deps.now,
    onQueued: (names) => deps.dispatcher.notify(names),
    inFlight: () => deps.dispatcher.inFlight(),
    configuration: () => ({ config: redactConfig(deps.running().config, CONNECTORS), loadedAt: new Date(deps.running().loadedAt).toISOString() }),
  });
  // The operators' console (src/console) on the same listener, before the API's bearer check.
  const { activity } = deps;
  const counts = () => {
    const at = deps.now();
    return { lastHour: activity.counts.lastHour(at), hour: activity.counts.series('hour', at), day: activity.counts.series('day', at) };
  };
  const ui = config.admin.ui
    ? createConsole({
        operations,
        token,
        sessionTtlMs: config.admin.session_ttl,
        readiness: deps.readiness,
        logger,
        now: deps.now,
        activity: { recent: activity.recent, streams: activity.streams, counts },
        reload: { run: () => deps.reloader.reload('console'), last: () => deps.reloader.last() },
      })
    : undefined;
  const app = createAdminApp({
    operations,
    metrics,
    token,
    logger,
    reload: () => deps.reloader.reload('admin'),
    subscriptions: deps.subscriptions,
    trustProxy: config.admin.trust_proxy,
    tail: activity.streams,
    counts,
    ...(ui ? { console: ui } : {}),
  });
  const adminServer = createAdminServer(app, { requestTimeoutMs: config.server.request_timeout, logger: logger.child({ component: 'admin' }) });
  const adminUrl = await listen(adminServer, config.admin.host, config.admin.port);
  logger.info({ url: adminUrl, ...(ui ? { console: `${adminUrl}/ui/` } : {}) }, 'admin API listening');
  return { server: adminServer, url: adminUrl };
}

/** What `shutDown` stops, in the order it stops them. */
export interface ShutdownParts {
  /** One budget for the whole stop (`server.shutdown_timeout`): requests in flight first, then the sends in flight. */
  readonly timeoutMs: number;
  readonly state: ServiceState;
  readonly reloader: Pick<Reloader, 'close'>;
  /** Live tails, ended before the listeners close: an open stream would hold its listener's close for the whole budget. */
  readonly streams?: { close(): void };
  /** Closed together: no new connections, requests in flight finished within the budget. */
  readonly servers: readonly Server[];
  /** Stopped one after the other, once no request is in flight. */
  readonly background: readonly (() => void | Promise<void>)[];
  readonly dispatcher: { stop(graceMs: number): Promise<void> };
  readonly store: Pick<Store, 'close'>;
  readonly logger: Logger;
}

/**
 * Graceful stop: webhooks refused at once, the reload under way finished,
 * the live tails ended, the listeners closed, the background work stopped, the sends in flight
 * finished within what is left of the budget, then the store closed.
 */
export async function shutDown(parts: ShutdownParts): Promise<void> {
  const { state, logger } = parts;
  const deadline = Date.now() + parts.timeoutMs;
  const remaining = () => Math.max(0, deadline - Date.now());
  state.accepting = false;
  logger.info('shutting down');
  await parts.reloader.close();
  parts.streams?.close();
  await Promise.all(parts.servers.map((server) => closeServer(server, remaining())));
  for (const stopPart of parts.background) await stopPart();
  await parts.dispatcher.stop(remaining());
  state.closed = true;
  await parts.store.close();
  logger.info('stopped');
}
