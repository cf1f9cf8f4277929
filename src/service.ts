import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { CONNECTORS } from '../connectors/index.js';
import type { Connector } from '../connectors/types.js';
import { createAcceptor } from './accept.js';
import type { BridgeConfig } from './config/load.js';
import type { DialectId } from './dialects/index.js';
import { createDispatcher } from './dispatch/dispatcher.js';
import { createHttpApp } from './http/app.js';
import { createMissedCallWatcher } from './lifecycle/missed-call-watcher.js';
import { createMetrics } from './metrics.js';
import { createRouter } from './routing/router.js';
import { createStore, type Store } from './store/index.js';
import { createVerifier } from './verify/index.js';

export interface ServiceDeps {
  readonly logger?: Logger;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export interface RunningService {
  /** Base URL the receiver listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly store: Store;
  /** Graceful stop: no new requests, in-flight requests and sends finished, database closed. */
  stop(): Promise<void>;
}

const PRUNE_INTERVAL_MS = 15 * 60_000;

/** Wires the stages together and starts listening; see DESIGN.md "The data flow". */
export async function startService(config: BridgeConfig, deps: ServiceDeps = {}): Promise<RunningService> {
  const logger = deps.logger ?? pino({ level: config.log.level });
  const now = deps.now ?? Date.now;
  const store = createStore(config.store.path);
  let accepting = false;
  const metrics = createMetrics({ store: () => (store.db.open ? store : undefined) });

  const connectors = new Map<string, { connector: Connector; batchSize: number }>();
  for (const [name, options] of Object.entries(config.connectors)) {
    const definition = CONNECTORS[options.type];
    if (!definition) throw new Error(`unknown connector type ${options.type}`); // the schema already refused it
    const state = store.connectorState.scope(name, now);
    const connector = definition.create(name, options, { logger, fetch: deps.fetch ?? globalThis.fetch, now, state });
    connectors.set(name, { connector, batchSize: definition.batchSize });
  }

  const dispatcher = createDispatcher({
    store,
    connectors,
    logger,
    metrics,
    now,
    options: {
      maxAttempts: config.dispatch.max_attempts,
      retryInitialMs: config.dispatch.retry_initial,
      retryMaxMs: config.dispatch.retry_max,
      pollIntervalMs: config.dispatch.poll_interval,
      sendTimeoutMs: config.dispatch.send_timeout,
    },
  });
  const router = createRouter(config.routes, logger.child({ component: 'routing' }), (route) => metrics.routeErrors.inc({ route }));
  const lifecycle = { graceMs: config.lifecycle.missed_call_grace, unknownDirection: config.lifecycle.unknown_direction };
  const acceptor = createAcceptor({ store, router, lifecycle, logger, now, onCommitted: (names) => dispatcher.notify(names) });
  const watcher = createMissedCallWatcher({ store, acceptor, graceMs: lifecycle.graceMs, logger, now });

  const sources = config.sources.map((source) => {
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

  const app = createHttpApp({
    sources,
    acceptor,
    bodyLimit: config.server.body_limit,
    metrics,
    logger,
    now,
    readiness: () => {
      if (!accepting) return { ready: false, reason: 'starting or shutting down' };
      if (!store.db.open) return { ready: false, reason: 'store closed' };
      try {
        store.ping();
      } catch (err) {
        return { ready: false, reason: `store: ${(err as Error).message}` };
      }
      return { ready: true };
    },
  });

  const prune = () => {
    try {
      const removed = store.prune(now(), config.store.dedupe_ttl);
      if (removed.events + removed.calls > 0) logger.info(removed, 'pruned records past dedupe_ttl');
    } catch (err) {
      logger.error({ err }, 'pruning failed');
    }
  };
  prune();
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  pruneTimer.unref();

  dispatcher.start();
  watcher.start();
  const server: Server = createServer(app.callback());
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  accepting = true;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, sources: sources.map((source) => source.path), connectors: [...connectors.keys()] }, 'audian-bridge listening');

  let stopping: Promise<void> | undefined;
  async function stop(): Promise<void> {
    const grace = config.server.shutdown_timeout;
    accepting = false;
    logger.info('shutting down');
    clearInterval(pruneTimer);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), grace);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
    await watcher.stop();
    await dispatcher.stop(grace);
    store.close();
    logger.info('stopped');
  }

  return {
    url,
    store,
    stop: () => (stopping ??= stop()),
  };
}
