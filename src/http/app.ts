import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Acceptor } from '../accept/acceptor.js';
import { normalizePayload, type CanonicalEvent, type DialectId } from '../dialects/index.js';
import { BridgeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ActivityFeed, WebhookActivity } from '../ops/activity.js';
import type { Verifier } from '../verify/index.js';
import { checkBodyHead, createBodyBudget, parseJsonBody, readRawBody, WEBHOOK_JSON_DEPTH, type BodyBudget } from './body.js';
import { errorHandler } from './error-handler.js';
import { createLogThrottle, REFUSAL_LOG_INTERVAL_MS } from './log-throttle.js';

export interface HttpSource {
  readonly name: string;
  readonly path: string;
  readonly verify: Verifier;
  readonly dialects?: readonly DialectId[];
}

export interface HttpAppDeps {
  readonly sources: readonly HttpSource[];
  readonly acceptor: Acceptor;
  readonly bodyLimit: number;
  /** How long reading one body may take once its headers passed. */
  readonly bodyTimeoutMs: number;
  /** Body bytes in flight across all requests; past it, 503 OVERLOADED. */
  readonly maxInflightBody: number;
  /** The budget of `maxInflightBody` to draw on, when apps built by a reload share one; else the app's own. */
  readonly bodyBudget?: BodyBudget;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Whether webhooks are taken now (false while starting or shutting down); checked on every request. */
  readonly accepting: () => boolean;
  /** For /readyz: accepting, and the store answers. */
  readonly readiness: () => Promise<{ ready: boolean; reason?: string; warnings?: readonly string[] }>;
  readonly now?: () => number;
  /** false keeps /metrics off this port (`server.metrics`). */
  readonly serveMetrics?: boolean;
  /** Told of each webhook answered: the live tails and the per-minute counts read it (src/ops/activity.ts). */
  readonly activity?: Pick<ActivityFeed, 'publish'>;
}

/** GET /metrics: the Prometheus text exposition of `metrics` (webhook and admin ports alike). */
export function metricsRoute(metrics: Metrics): Koa.Middleware {
  return async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  };
}

export function createHttpApp(deps: HttpAppDeps): Koa {
  const logger = deps.logger.child({ component: 'http' });
  const budget = deps.bodyBudget ?? createBodyBudget(deps.maxInflightBody);
  const app = new Koa({ proxy: false });
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const { ready, reason, warnings } = await deps.readiness();
    ctx.status = ready ? 200 : 503;
    // Warnings (a subscription's silent source) are for people: they never make a replica unready.
    ctx.body = ready ? { status: 'ready', ...(warnings ? { warnings } : {}) } : { status: 'not ready', reason };
  });
  if (deps.serveMetrics !== false) router.get('/metrics', metricsRoute(deps.metrics));
  for (const source of deps.sources) router.post(source.path, webhookRoute(source, deps, budget, logger));

  // Errors outside the middleware (a client gone while its answer is written) are the client's; Koa would print them to stderr.
  app.on('error', (err: Error) => logger.debug({ err: err.message }, 'connection error'));
  app.use(errorHandler(logger));
  app.use(unknownPathLog(deps.sources, logger));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/**
 * A POST that no route took: the answer stays a plain 404 (a scanner learns
 * nothing), and the log names the configured source paths, so that a
 * provider pointed at the wrong one is found. Rate-limited: anyone can cause it.
 */
function unknownPathLog(sources: readonly HttpSource[], logger: Logger): Koa.Middleware {
  const turn = createLogThrottle(REFUSAL_LOG_INTERVAL_MS);
  const paths = sources.map((source) => source.path);
  return async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.status !== 404 || (ctx.body !== undefined && ctx.body !== null)) return;
    const now = turn();
    if (!now) return;
    logger.warn(
      { method: ctx.method, path: ctx.path, ip: ctx.ip, sources: paths, suppressed: now.suppressed },
      `webhook to ${ctx.path}, where no source listens; the configured source paths are ${paths.join(', ') || 'none'}`,
    );
  };
}

/**
 * POST to a source's path: checks, reads, verifies, normalizes and accepts
 * one webhook, refusing whatever it can before reading the body. Every
 * answer is timed and counted by outcome; an error goes on to the error
 * middleware.
 */
function webhookRoute(source: HttpSource, deps: HttpAppDeps, budget: BodyBudget, logger: Logger): Koa.Middleware {
  const now = deps.now ?? Date.now;
  const { metrics, activity } = deps;
  const cloudEventsSource = `audian/${source.name}`;
  return async (ctx) => {
    const receivedAt = now();
    const stopTimer = metrics.requestSeconds.startTimer({ source: source.name });
    const reservation = budget.reserve();
    try {
      if (!deps.accepting()) throw new BridgeError('SHUTTING_DOWN', 'the bridge is not accepting webhooks right now; retry shortly');
      // Everything that needs no body is refused before a byte of it is read.
      checkBodyHead(ctx, deps.bodyLimit);
      source.verify.checkHeaders(ctx.request.headers, receivedAt);
      const declared = ctx.request.length;
      if (declared !== undefined && !reservation.take(declared)) {
        throw new BridgeError('OVERLOADED', 'too many request bodies are being received at once; retry shortly');
      }
      const rawBody = await readRawBody(ctx.req, {
        limit: deps.bodyLimit,
        timeoutMs: deps.bodyTimeoutMs,
        take: declared === undefined ? (bytes) => reservation.take(bytes) : () => true,
      });
      source.verify.verify({ rawBody, headers: ctx.request.headers, now: receivedAt });
      const body = parseJsonBody(rawBody, WEBHOOK_JSON_DEPTH);
      const event = normalizePayload(body, {
        rawBody,
        source: cloudEventsSource,
        receivedAt,
        ...(source.dialects ? { accept: source.dialects } : {}),
      });
      // Kept with the event unless `store.keep_raw` is off; the store leaves out the verification headers' values.
      const raw = { body: rawBody, headers: headerPairs(ctx.req.rawHeaders), secretHeaders: source.verify.secretHeaders };
      const result = await deps.acceptor.accept(event, receivedAt, raw);
      if (result.duplicate) {
        ctx.body = { id: result.id, duplicate: true };
        metrics.webhooks.inc({ source: source.name, outcome: 'duplicate' });
      } else {
        ctx.body = { id: result.id, deliveries: result.deliveries };
        metrics.webhooks.inc({ source: source.name, outcome: 'accepted' });
      }
      logger.info(
        { source: source.name, eventId: event.id, type: event.type, callId: event.subject, deliveries: result.deliveries, duplicate: result.duplicate },
        result.duplicate ? 'webhook accepted: duplicate' : 'webhook accepted',
      );
      activity?.publish(acceptedActivity(source.name, event, receivedAt, result.duplicate));
    } catch (err) {
      const known = err instanceof BridgeError ? err : undefined;
      metrics.webhooks.inc({ source: source.name, outcome: known?.code ?? 'INTERNAL_ERROR' });
      activity?.publish({ kind: 'webhook', at: receivedAt, source: source.name, outcome: 'rejected', code: known?.code ?? 'INTERNAL_ERROR' });
      if (known?.status === 401) {
        logger.warn({ source: source.name, code: known.code, ip: ctx.ip }, 'webhook rejected: not verified');
      } else if (known && known.status < 500) {
        logger.info({ source: source.name, code: known.code, message: known.message }, 'webhook rejected');
      }
      throw err;
    } finally {
      reservation.release();
      stopTimer();
    }
  };
}

/** Node's `rawHeaders` (name, value, name, value ...: as sent, repeats included) as pairs. */
function headerPairs(flat: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let index = 0; index + 1 < flat.length; index += 2) pairs.push([flat[index] as string, flat[index + 1] as string]);
  return pairs;
}

/** A webhook taken, as the activity feed tells it: its parties as the call lifecycle knows them by now. */
function acceptedActivity(source: string, event: CanonicalEvent, at: number, duplicate: boolean): WebhookActivity {
  const call = event.data.call;
  return {
    kind: 'webhook',
    at,
    source,
    outcome: duplicate ? 'duplicate' : 'accepted',
    eventId: event.id,
    type: event.type,
    ...(event.subject === undefined ? {} : { callId: event.subject }),
    ...(typeof call?.from === 'string' ? { from: call.from } : {}),
    ...(typeof call?.to === 'string' ? { to: call.to } : {}),
  };
}
