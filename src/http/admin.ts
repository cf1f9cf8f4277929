import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { BridgeError, type ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Operations, Query } from '../ops/operations.js';
import { addSubscriptionRoutes, type SubscriptionsAdmin } from '../provider/admin-routes.js';
import type { ReloadAnswer } from '../reload.js';
import { metricsRoute } from './app.js';
import { parseJsonBody, readRawBody } from './body.js';
import { errorHandler } from './error-handler.js';

/** Admin requests are small JSON documents: a list of ids at most. */
const BODY_LIMIT = 256 * 1024;
const BODY_TIMEOUT_MS = 10_000;
const MAX_JSON_DEPTH = 8;
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
  /** The provider's routes (`/admin/subscriptions...`); absent: not served. */
  readonly subscriptions?: SubscriptionsAdmin;
}

/** Equal length digests, so the comparison takes the same time whatever the token or the guess. */
function sameToken(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function requireToken(token: string): Koa.Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !sameToken(match[1] as string, token)) {
      ctx.set('WWW-Authenticate', 'Bearer realm="audian-bridge admin"');
      throw new BridgeError('UNAUTHORIZED', header ? 'the bearer token is not the configured admin.token' : 'send Authorization: Bearer <admin.token>');
    }
    await next();
  };
}

/** The JSON body of a POST; an empty body is `{}`. */
async function jsonBody(ctx: Koa.Context): Promise<unknown> {
  const raw = await readRawBody(ctx.req, { limit: BODY_LIMIT, timeoutMs: BODY_TIMEOUT_MS, take: () => true });
  if (raw.length === 0) return {};
  if (!ctx.is('json')) throw new BridgeError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  return parseJsonBody(raw, MAX_JSON_DEPTH);
}

function queryOf(ctx: Koa.Context): Query {
  const query: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(ctx.query)) {
    if (Array.isArray(value)) throw new BridgeError('INVALID_REQUEST', `give ${key} once`);
    query[key] = value;
  }
  return query;
}

/**
 * The admin API (DESIGN.md, "Admin surface"), on its own listener: every
 * request needs the bearer token; answers are JSON, errors go through the
 * same middleware and table as the webhook port.
 */
export function createAdminApp(deps: AdminAppDeps): Koa {
  const { operations } = deps;
  const logger = deps.logger.child({ component: 'admin' });
  const app = new Koa({ proxy: false });
  const router = new Router();

  router.get('/admin/deliveries', async (ctx) => {
    ctx.body = await operations.listDeliveries(queryOf(ctx));
  });
  router.post('/admin/deliveries/replay', async (ctx) => {
    const answer = await operations.replay(await jsonBody(ctx));
    logger.info({ queued: answer.ids, skipped: answer.skipped }, 'deliveries replayed');
    ctx.body = answer;
  });
  router.get('/admin/deliveries/:id', async (ctx) => {
    ctx.body = await operations.showDelivery(ctx.params.id as string);
  });
  router.get('/admin/events/:id', async (ctx) => {
    ctx.body = await operations.event(ctx.params.id as string);
  });
  router.post('/admin/connectors/:name/pause', async (ctx) => {
    const answer = await operations.pause(ctx.params.name as string);
    logger.info({ connector: answer.connector, changed: answer.changed }, 'connector paused');
    ctx.body = answer;
  });
  router.post('/admin/connectors/:name/resume', async (ctx) => {
    const answer = await operations.resume(ctx.params.name as string);
    logger.info({ connector: answer.connector, changed: answer.changed }, 'connector resumed');
    ctx.body = answer;
  });
  router.post('/admin/reload', async (ctx) => {
    if (!deps.reload) throw new BridgeError('NOT_IMPLEMENTED', 'this bridge cannot reload its configuration; restart it');
    const answer = await deps.reload();
    // The answer carries every issue; the running config stays whatever the status.
    if (!answer.reloaded) ctx.status = RELOAD_REFUSED_STATUS[answer.error.code] ?? 422;
    ctx.body = answer;
  });
  if (deps.subscriptions) addSubscriptionRoutes(router, deps.subscriptions);
  router.get('/metrics', metricsRoute(deps.metrics));

  app.on('error', (err: Error) => logger.debug({ err: err.message }, 'connection error'));
  app.use(errorHandler(logger));
  app.use(requireToken(deps.token));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
