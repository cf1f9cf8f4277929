import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { createLogThrottle, REFUSAL_LOG_INTERVAL_MS } from './log-throttle.js';

export interface HttpServerOptions {
  /** The whole request, headers and body, must arrive within this long; else 408 and the socket is closed. */
  readonly requestTimeoutMs: number;
  /** The request head must arrive within this long of the connection opening (or the request starting); default `requestTimeoutMs`. */
  readonly headersTimeoutMs?: number;
  /** Open connections at most. */
  readonly maxConnections: number;
  /**
   * At the cap, close a connection with no request in progress to make room
   * (never used first, else idle longest) instead of refusing the new one:
   * connections that never send a request cannot lock everyone else out.
   */
  readonly evictIdle?: boolean;
  readonly logger: Logger;
}

/** How often Node checks requests against `requestTimeout` (its default, 30 s, would let a late one run long). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Longer than common load balancers' idle timeouts, so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * The receiver's socket layer: bounded time for each request and a cap on
 * connections, so slow or idle clients cannot pile up. Reading a body is
 * bounded separately (`body_timeout`, `max_inflight_body`) in the app.
 */
export function createHttpServer(app: Koa, options: HttpServerOptions): Server {
  const server = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS }, app.callback());
  server.requestTimeout = options.requestTimeoutMs;
  server.headersTimeout = Math.min(options.headersTimeoutMs ?? options.requestTimeoutMs, options.requestTimeoutMs);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  if (options.evictIdle) evictIdleAtCap(server, options.maxConnections, options.logger);
  else refuseAtCap(server, options.maxConnections, options.logger);
  return server;
}

/** A flood past the cap is reported at most every REFUSAL_LOG_INTERVAL_MS, with the count, not once per connection. */
function refuseAtCap(server: Server, maxConnections: number, logger: Logger): void {
  server.maxConnections = maxConnections;
  const turn = createLogThrottle(REFUSAL_LOG_INTERVAL_MS);
  server.on('drop', () => {
    const now = turn();
    if (now) logger.warn({ dropped: now.suppressed + 1, maxConnections }, 'connections refused: server.max_connections reached');
  });
}

/**
 * The cap kept by hand, so a new connection can take the place of an idle
 * one: `fresh` connections have sent no request yet, `kept` ones are kept
 * alive between requests; each set iterates oldest first. A connection with
 * a request in progress is in neither and is never closed to make room.
 */
function evictIdleAtCap(server: Server, maxConnections: number, logger: Logger): void {
  const open = new Set<Socket>();
  const fresh = new Set<Socket>();
  const kept = new Set<Socket>();
  const turn = createLogThrottle(REFUSAL_LOG_INTERVAL_MS);
  const forget = (socket: Socket) => {
    open.delete(socket);
    fresh.delete(socket);
    kept.delete(socket);
  };
  server.on('connection', (socket: Socket) => {
    if (open.size >= maxConnections) {
      const idle = fresh.values().next().value ?? kept.values().next().value;
      const now = turn();
      if (now) logger.warn({ times: now.suppressed + 1, maxConnections }, idle ? 'connections at the cap: idle ones closed to make room' : 'connections refused: every one is busy');
      if (!idle) {
        socket.destroy();
        return;
      }
      forget(idle);
      idle.destroy();
    }
    open.add(socket);
    fresh.add(socket);
    socket.once('close', () => forget(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    fresh.delete(socket);
    kept.delete(socket);
    res.once('close', () => {
      if (open.has(socket) && !socket.destroyed) kept.add(socket);
    });
  });
}
