import { createServer, type Server } from 'node:http';
import type Koa from 'koa';
import type { Logger } from 'pino';

export interface HttpServerOptions {
  /** The whole request, headers and body, must arrive within this long; else 408 and the socket is closed. */
  readonly requestTimeoutMs: number;
  /** Open connections at most; more are closed as they arrive. */
  readonly maxConnections: number;
  readonly logger: Logger;
}

/** How often Node checks requests against `requestTimeout` (its default, 30 s, would let a late one run long). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Longer than common load balancers' idle timeouts, so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** A flood past the connection cap is reported at most this often, with the count, not once per connection. */
const DROP_REPORT_INTERVAL_MS = 10_000;

/**
 * The receiver's socket layer: bounded time for each request and a cap on
 * connections, so slow or idle clients cannot pile up. Reading a body is
 * bounded separately (`body_timeout`, `max_inflight_body`) in the app.
 */
export function createHttpServer(app: Koa, options: HttpServerOptions): Server {
  const server = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS }, app.callback());
  server.requestTimeout = options.requestTimeoutMs;
  server.headersTimeout = options.requestTimeoutMs;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = options.maxConnections;
  let dropped = 0;
  let reportedAt = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - reportedAt < DROP_REPORT_INTERVAL_MS) return;
    options.logger.warn({ dropped, maxConnections: options.maxConnections }, 'connections refused: server.max_connections reached');
    reportedAt = now;
    dropped = 0;
  });
  return server;
}
