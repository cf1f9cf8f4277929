import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { CONNECTORS } from '../connectors/index.js';
import { createAcceptor } from './accept/acceptor.js';
import { createMissedCallWatcher } from './accept/missed-call-watcher.js';
import { createSummaryWatcher } from './accept/summary-watcher.js';
import type { BridgeConfig } from './config/load.js';
import { describeStore, storeOptionsOf } from './config/store.js';
import type { DialectId } from './dialects/index.js';
import { createDispatcher, type DispatchTarget } from './dispatch/dispatcher.js';
import type { RetryPolicy } from './dispatch/retry.js';
import { createAdminApp, createAdminServer } from './http/admin.js';
import { createHttpApp, type HttpSource } from './http/app.js';
import { createBodyBudget } from './http/body.js';
import { createHttpServer } from './http/server.js';
import { createMetrics } from './metrics.js';
import { createOperations } from './ops/operations.js';
import { createReloader, type ReloadAnswer } from './reload.js';
import { createRouter, type Router } from './routing/router.js';
import { openStore, type Store } from './store/index.js';
import { createVerifier } from './verify/index.js';

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

/** Turns the configured sources into the receiver's routes, each with its verifier. */
export function buildSources(config: BridgeConfig, logger: Logger): HttpSource[] {
  return config.sources.map((source) => {
    if (source.verify.none) {
      logger.warn({ source: source.name }, `source "${source.name}" accepts UNSIGNED webhooks (verify: none); anyone who can reach it can inject events`);
    }
    const verify = source.verify.hmac
      ? createVerifier({ hmac: { secrets: source.verify.hmac.secrets, toleranceSeconds: source.verify.hmac.tolerance / 1000 } })
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
 */
export function startPruner(store: Store, ttlMs: number, logger: Logger, now: () => number, intervalMs = 15 * 60_000) {
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
  let accepting = false;
  let closed = false;
  // Both are changed in place by a reload: metrics and operations read them on each use.
  const connectorNames = Object.keys(config.connectors);
  const knownConnectors = new Set(connectorNames);
  const metrics = createMetrics({ store: () => (closed ? undefined : store), connectors: connectorNames });

  const connectorContext = { logger, fetch: deps.fetch ?? globalThis.fetch, now };
  const connectors = buildConnectors(config, store, connectorContext);
  const dispatcher = createDispatcher({
    store,
    connectors,
    logger,
    metrics,
    now,
    options: {
      retry: retryPolicyOf(config.dispatch),
      pollIntervalMs: config.dispatch.poll_interval,
      sendTimeoutMs: config.dispatch.send_timeout,
    },
  });
  const routerFor = (bridge: BridgeConfig) => createRouter(bridge.routes, logger.child({ component: 'routing' }), (route) => metrics.routeErrors.inc({ route }));
  // A reload replaces the router; a commit in flight routes with whichever is in force when it gets there.
  let router: Router = routerFor(config);
  const lifecycle = {
    graceMs: config.lifecycle.missed_call_grace,
    unknownDirection: config.lifecycle.unknown_direction,
    maxCallAgeMs: config.lifecycle.max_call_age,
  };
  const acceptor = createAcceptor({
    store,
    router: { route: (event) => router.route(event) },
    lifecycle,
    transcriptEvents: config.lifecycle.transcript_event,
    logger,
    now,
    onCommitted: (names) => dispatcher.notify(names),
    onStored: (event) => metrics.countEvent(event),
  });
  const watcher = createMissedCallWatcher({ store, acceptor, graceMs: lifecycle.graceMs, logger, now });
  const summaries = createSummaryWatcher({ store, acceptor, graceMs: lifecycle.graceMs, logger, now });

  const sources = buildSources(config, logger);
  // One budget across the apps a reload builds: requests on the old one still count.
  const bodyBudget = createBodyBudget(config.server.max_inflight_body);
  const appFor = (current: HttpSource[]) => createHttpApp({
    sources: current,
    bodyBudget,
    acceptor,
    bodyLimit: config.server.body_limit,
    bodyTimeoutMs: config.server.body_timeout,
    maxInflightBody: config.server.max_inflight_body,
    metrics,
    serveMetrics: config.server.metrics,
    logger,
    now,
    accepting: () => accepting,
    readiness: async () => {
      if (!accepting) return { ready: false, reason: 'starting or shutting down' };
      try {
        await store.ping();
      } catch (err) {
        return { ready: false, reason: `store: ${(err as Error).message}` };
      }
      return { ready: true };
    },
  });

  const pruner = startPruner(store, config.store.dedupe_ttl, logger, now, config.store.prune_interval);
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
    build: (next, names) => ({
      connectors: buildConnectors({ ...next, connectors: Object.fromEntries(names.map((name) => [name, next.connectors[name]!])) }, store, connectorContext),
      router: routerFor(next),
      app: appFor(buildSources(next, logger)),
    }),
    swap: (built, next) => {
      router = built.router;
      // Requests in flight finish on the app that took them; new ones reach the new sources.
      server.removeAllListeners('request');
      server.on('request', built.app.callback());
      connectorNames.splice(0, connectorNames.length, ...Object.keys(next.connectors));
      knownConnectors.clear();
      for (const name of connectorNames) knownConnectors.add(name);
    },
  });
  const admin = config.admin.token ? await startAdmin(config, config.admin.token) : undefined;
  accepting = true;
  logger.info({ url, store: describeStore(config.store), sources: sources.map((source) => source.path), connectors: [...connectors.keys()] }, 'audian-bridge listening');

  /** The admin API on its own listener (`admin.host`, 127.0.0.1 unless exposed on purpose). */
  async function startAdmin(bridge: BridgeConfig, token: string) {
    const operations = createOperations({ store, connectors: knownConnectors, now, onQueued: (names) => dispatcher.notify(names) });
    const adminServer = createAdminServer(createAdminApp({ operations, metrics, token, logger, reload: () => reloader.reload('admin') }), {
      requestTimeoutMs: bridge.server.request_timeout,
      logger: logger.child({ component: 'admin' }),
    });
    const adminUrl = await listen(adminServer, bridge.admin.host, bridge.admin.port);
    logger.info({ url: adminUrl }, 'admin API listening');
    return { server: adminServer, url: adminUrl };
  }

  async function stop(): Promise<void> {
    // One budget for the whole stop: requests in flight first, then the sends in flight.
    const deadline = Date.now() + config.server.shutdown_timeout;
    const remaining = () => Math.max(0, deadline - Date.now());
    accepting = false;
    logger.info('shutting down');
    await reloader.close();
    await Promise.all([closeServer(server, remaining()), admin ? closeServer(admin.server, remaining()) : undefined]);
    await pruner.stop();
    await watcher.stop();
    await summaries.stop();
    await dispatcher.stop(remaining());
    closed = true;
    await store.close();
    logger.info('stopped');
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    ...(admin ? { adminUrl: admin.url } : {}),
    store,
    reload: (trigger = 'api') => reloader.reload(trigger),
    stop: () => (stopping ??= stop()),
  };
}
