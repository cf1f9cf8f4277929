import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Acceptor } from '../accept/acceptor.js';
import { normalizePayload, type DialectId } from '../dialects/index.js';
import { BridgeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Verifier } from '../verify/index.js';
import { parseJsonBody, readRawBody } from './body.js';
import { errorHandler } from './error-handler.js';

/** Nesting no Audian payload comes near (the seeds go four levels deep). */
export const MAX_JSON_DEPTH = 32;

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
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Whether webhooks are taken now (false while starting or shutting down); checked on every request. */
  readonly accepting: () => boolean;
  /** For /readyz: accepting, and the store answers. */
  readonly readiness: () => Promise<{ ready: boolean; reason?: string }>;
  readonly now?: () => number;
}

/** Store failures are the service's fault and temporary: 503 asks the provider to retry. */
function isStoreFailure(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  const message = (err as { message?: string } | null)?.message ?? '';
  return name === 'SqliteError' || /database connection is not open/i.test(message);
}

export function createHttpApp(deps: HttpAppDeps): Koa {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'http' });
  const { metrics } = deps;
  const app = new Koa({ proxy: false });
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const { ready, reason } = await deps.readiness();
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? { status: 'ready' } : { status: 'not ready', reason };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  for (const source of deps.sources) {
    const cloudEventsSource = `audian/${source.name}`;
    router.post(source.path, async (ctx) => {
      const receivedAt = now();
      const stopTimer = metrics.requestSeconds.startTimer({ source: source.name });
      try {
        if (!deps.accepting()) throw new BridgeError('SHUTTING_DOWN', 'the bridge is not accepting webhooks right now; retry shortly');
        const rawBody = await readRawBody(ctx, deps.bodyLimit);
        source.verify({ rawBody, headers: ctx.request.headers, now: receivedAt });
        const body = parseJsonBody(rawBody, MAX_JSON_DEPTH);
        const event = normalizePayload(body, {
          rawBody,
          source: cloudEventsSource,
          receivedAt,
          ...(source.dialects ? { accept: source.dialects } : {}),
        });
        let result;
        try {
          result = await deps.acceptor.accept(event, receivedAt);
        } catch (err) {
          if (!isStoreFailure(err)) throw err;
          logger.error({ err, eventId: event.id }, 'store unavailable; answering 503 so the provider retries');
          throw new BridgeError('STORE_UNAVAILABLE', 'the event store is unavailable; retry later', { cause: err });
        }
        if (result.duplicate) {
          ctx.body = { id: result.id, duplicate: true };
          metrics.webhooks.inc({ source: source.name, outcome: 'duplicate' });
        } else {
          ctx.body = { id: result.id, deliveries: result.deliveries };
          metrics.webhooks.inc({ source: source.name, outcome: 'accepted' });
          metrics.events.inc({ source: source.name, dialect: event.dialect, type: event.type });
        }
        logger.debug({ source: source.name, eventId: event.id, type: event.type, duplicate: result.duplicate }, 'webhook accepted');
      } catch (err) {
        const code = err instanceof BridgeError ? err.code : 'INTERNAL_ERROR';
        metrics.webhooks.inc({ source: source.name, outcome: code });
        if (err instanceof BridgeError && err.status === 401) {
          logger.warn({ source: source.name, code, ip: ctx.ip }, 'webhook rejected: not verified');
        } else if (err instanceof BridgeError && err.status < 500) {
          logger.info({ source: source.name, code, message: err.message }, 'webhook rejected');
        }
        throw err;
      } finally {
        stopTimer();
      }
    });
  }

  app.use(errorHandler(logger));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
