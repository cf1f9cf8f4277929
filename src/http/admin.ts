import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { BridgeError, type ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { activityFilterOf } from '../ops/activity-filter.js';
import type { ActivitySeries, ActivityTotals } from '../ops/minute-counts.js';
import type { Operations, Query } from '../ops/operations.js';
import type { AuditActor } from '../store/index.js';
import { addSubscriptionRoutes, type SubscriptionsAdmin } from '../provider/admin-routes.js';
import type { ReloadAnswer } from '../reload.js';
import type { ActivityStreams } from './activity-stream.js';
import { metricsRoute } from './app.js';
import { checkBodyFraming, parseJsonBody, readRawBody } from './body.js';
import { errorHandler } from './error-handler.js';
import { createLogThrottle, REFUSAL_LOG_INTERVAL_MS } from './log-throttle.js';
import { createHttpServer } from './server.js';

/** Admin requests are small JSON documents: a list of ids at most. */
const BODY_LIMIT = 256 * 1024;
const BODY_TIMEOUT_MS = 10_000;
const MAX_JSON_DEPTH = 8;
/** Operators' tools send a request head at once; a connection that has not within this long is closed (408). */
const HEADERS_TIMEOUT_MS = 5_000;
/** Open admin connections at most; at the cap an idle one makes room (src/http/server.ts). */
const MAX_CONNECTIONS = 64;
/** A reload that did not happen for another reason than a bad file (422). */
const RELOAD_REFUSED_STATUS: Partial<Record<ErrorCode, number>> = { CONFIG_NOT_RELOADABLE: 409, NOT_IMPLEMENTED: 501, SHUTTING_DOWN: 503 };

export interface AdminAppDeps {
  readonly operations: Operations;
  readonly metrics: Metrics;
  /** The bearer token every request must carry. */
  readonly token: string;
  readonly logger: Logger;
  /** Reloads the config (as SIGHUP does); absent: `POST /admin/reload` answers NOT_IMPLEMENTED. */
  readonly reload?: () => Promise<ReloadAnswer>;
  /** The operators' console (src/console), which answers under /ui with its own sign-in; absent with `admin.ui: false`. */
  readonly console?: Koa.Middleware;
  /** `admin.trust_proxy`: believe X-Forwarded-Proto and the last X-Forwarded-For address (the proxy's own view). */
  readonly trustProxy?: boolean;
  /** The provider's routes (`/admin/subscriptions...`); absent: not served. */
  readonly subscriptions?: SubscriptionsAdmin;
  /** `GET /admin/tail`: this process's activity as Server-Sent Events; absent: not served. */
  readonly tail?: Pick<ActivityStreams, 'serve'>;
  /** `GET /admin/counts`: this process's per-minute counts; absent: not served. */
  readonly counts?: () => { readonly lastHour: ActivityTotals; readonly hour: ActivitySeries; readonly day: ActivitySeries };
}

/** Equal length digests, so the comparison takes the same time whatever the token or the guess. */
export function sameToken(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Every request needs the token. A refusal is logged (rate-limited: anyone
 * can cause it at will) with the client's address and never what it
 * presented, and closes the connection: a client without the token holds
 * no connection beyond its one answer.
 */
function requireToken(token: string, logger: Logger): Koa.Middleware {
  const turn = createLogThrottle(REFUSAL_LOG_INTERVAL_MS);
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !sameToken(match[1] as string, token)) {
      const now = turn();
      if (now) {
        logger.warn({ ip: ctx.ip, method: ctx.method, path: ctx.path, token: header ? 'wrong' : 'missing', suppressed: now.suppressed }, 'admin request refused: not authorized');
      }
      ctx.set('WWW-Authenticate', 'Bearer realm="audian-bridge admin"');
      ctx.set('Connection', 'close');
      throw new BridgeError('UNAUTHORIZED', header ? 'the bearer token is not the configured admin.token' : 'send Authorization: Bearer <admin.token>');
    }
    await next();
  };
}

/** As on the webhook port, before any route reads a byte: no content encoding, no declared length over the limit. */
const refuseBodyFraming: Koa.Middleware = async (ctx, next) => {
  checkBodyFraming(ctx, BODY_LIMIT);
  await next();
};

/** The JSON body of a POST; an empty body is `{}`. */
async function jsonBody(ctx: Koa.Context): Promise<unknown> {
  const raw = await readRawBody(ctx.req, { limit: BODY_LIMIT, timeoutMs: BODY_TIMEOUT_MS, take: () => true });
  if (raw.length === 0) return {};
  if (!ctx.is('json')) throw new BridgeError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  return parseJsonBody(raw, MAX_JSON_DEPTH);
}

/** The query as own keys: assigning `__proto__` to a plain object would drop it, and the unknown filter go unrefused. */
function queryOf(ctx: Koa.Context): Query {
  return Object.fromEntries(
    Object.entries(ctx.query).map(([key, value]) => {
      if (Array.isArray(value)) throw new BridgeError('INVALID_REQUEST', `give ${key} once`);
      return [key, value];
    }),
  );
}

/** Who acts through the API: whoever holds the bearer token, from the client's address. */
function apiActor(ctx: Koa.Context): AuditActor {
  return { via: 'api', who: 'bearer token', address: ctx.ip };
}

/** 405 with the Allow header, for `/admin/deliveries/replay`: the `:id` route would otherwise take `replay` for a delivery id (400). */
function methodNotAllowed(ctx: Koa.Context, allowed: readonly string[]): BridgeError {
  ctx.set('Allow', allowed.join(', '));
  return new BridgeError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path} (see the Allow header)`);
}

/** Every route served, read off the router itself so the index never lags behind it. */
function endpointsOf(router: Router): { method: string; path: string }[] {
  return router.stack.flatMap((layer) => layer.methods.filter((method) => method !== 'HEAD').map((method) => ({ method, path: String(layer.path) })));
}

/** The reads: deliveries, events, connectors, calls, the config in force and the audit, each as JSON. */
function addReadRoutes(router: Router, operations: AdminAppDeps['operations']): void {
  router.get('/admin/deliveries', async (ctx) => {
    ctx.body = await operations.listDeliveries(queryOf(ctx));
  });
  router.get('/admin/deliveries/count', async (ctx) => {
    ctx.body = await operations.countDeliveries(queryOf(ctx));
  });
  router.get('/admin/deliveries/:id', async (ctx) => {
    if (ctx.params.id === 'replay') throw methodNotAllowed(ctx, ['POST']);
    if (ctx.params.id === 'count') throw methodNotAllowed(ctx, ['GET']);
    ctx.body = await operations.showDelivery(ctx.params.id as string);
  });
  router.get('/admin/events', async (ctx) => {
    ctx.body = await operations.listEvents(queryOf(ctx));
  });
  router.get('/admin/events/:id', async (ctx) => {
    ctx.body = await operations.event(ctx.params.id as string);
  });
  router.get('/admin/connectors', async (ctx) => {
    ctx.body = await operations.connectors();
  });
  router.get('/admin/calls', async (ctx) => {
    ctx.body = await operations.calls(queryOf(ctx));
  });
  router.get('/admin/calls/:id', async (ctx) => {
    ctx.body = await operations.call(ctx.params.id as string);
  });
  router.get('/admin/config', (ctx) => {
    ctx.body = operations.configuration();
  });
  router.get('/admin/audit', async (ctx) => {
    ctx.body = await operations.audit(queryOf(ctx));
  });
}

/**
 * The admin API (docs/operations.md), on its own listener: every
 * request needs the bearer token; answers are JSON, errors go through the
 * same middleware and table as the webhook port.
 */
export function createAdminApp(deps: AdminAppDeps): Koa {
  const { operations } = deps;
  const logger = deps.logger.child({ component: 'admin' });
  const app = new Koa({ proxy: deps.trustProxy === true, maxIpsCount: 1 });
  const router = new Router();

  addReadRoutes(router, operations);
  router.post('/admin/deliveries/replay', async (ctx) => {
    const answer = await operations.replay(await jsonBody(ctx), apiActor(ctx));
    logger.info({ queued: answer.ids, skipped: answer.skipped }, 'deliveries replayed');
    ctx.body = answer;
  });
  router.post('/admin/connectors/:name/pause', async (ctx) => {
    const answer = await operations.pause(ctx.params.name as string, apiActor(ctx));
    logger.info({ connector: answer.connector, changed: answer.changed }, 'connector paused');
    ctx.body = answer;
  });
  router.post('/admin/connectors/:name/resume', async (ctx) => {
    const answer = await operations.resume(ctx.params.name as string, apiActor(ctx));
    logger.info({ connector: answer.connector, changed: answer.changed }, 'connector resumed');
    ctx.body = answer;
  });
  router.post('/admin/reload', async (ctx) => {
    if (!deps.reload) throw new BridgeError('NOT_IMPLEMENTED', 'this bridge cannot reload its configuration; restart it');
    // Recorded before it runs: a reload the audit could not record does not happen (docs/operations.md, "Audit").
    await operations.recordAudit({ action: 'reload', actor: apiActor(ctx), count: 1 });
    const answer = await deps.reload();
    // The answer carries every issue; the running config stays whatever the status.
    if (!answer.reloaded) ctx.status = RELOAD_REFUSED_STATUS[answer.error.code] ?? 422;
    ctx.body = answer;
  });
  if (deps.subscriptions) addSubscriptionRoutes(router, deps.subscriptions);
  const { tail, counts } = deps;
  if (tail) router.get('/admin/tail', (ctx) => tail.serve(ctx, activityFilterOf(queryOf(ctx))));
  if (counts) {
    router.get('/admin/counts', (ctx) => {
      ctx.body = counts();
    });
  }
  router.get('/metrics', metricsRoute(deps.metrics));
  router.get('/admin', (ctx) => {
    ctx.body = { endpoints: endpointsOf(router), ...(deps.console ? { console: '/ui/' } : {}), docs: 'docs/http-api.md' };
  });

  app.on('error', (err: Error) => logger.debug({ err: err.message }, 'connection error'));
  app.use(errorHandler(logger));
  // Before the bearer check: the console signs people in with a session of its own.
  if (deps.console) app.use(deps.console);
  app.use(requireToken(deps.token, logger));
  app.use(refuseBodyFraming);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/**
 * The admin listener's sockets: a short time for the request head, and
 * connections that sent none give way to new ones at the cap, so idle
 * connections without a token cannot lock operators out for `request_timeout`.
 */
export function createAdminServer(app: Koa, options: { readonly requestTimeoutMs: number; readonly logger: Logger }): Server {
  return createHttpServer(app, { ...options, headersTimeoutMs: HEADERS_TIMEOUT_MS, maxConnections: MAX_CONNECTIONS, evictIdle: true });
}
