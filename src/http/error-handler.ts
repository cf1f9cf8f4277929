import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { BridgeError } from '../errors.js';
import { createLogThrottle, REFUSAL_LOG_INTERVAL_MS } from './log-throttle.js';

/** What the router leaves behind when no route answered: a status and no body. */
function routerOutcome(status: number, method: string, path: string): BridgeError | undefined {
  if (status === 404) return new BridgeError('NOT_FOUND', `nothing is served at ${method} ${path}`);
  if (status === 405) return new BridgeError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path} (see the Allow header)`);
  if (status === 501) return new BridgeError('NOT_IMPLEMENTED', `the method ${method} is not implemented here`);
  return undefined;
}

/**
 * The one place errors become responses: `{"error": {"code", "message"}}`.
 * Bridge errors carry their status from `ERRORS`; anything else is a bare 500,
 * never described to the client. Every 5xx is logged here, once, but a 501:
 * a method nothing here implements (`PURGE`) is the client's doing, which it
 * can repeat at will, so it is a warning, rate-limited.
 */
export function errorHandler(logger: Logger): Middleware {
  const notImplemented = createLogThrottle(REFUSAL_LOG_INTERVAL_MS);
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        const outcome = routerOutcome(ctx.status, ctx.method, ctx.path);
        if (outcome) throw outcome;
      }
    } catch (err) {
      const known = err instanceof BridgeError ? err : undefined;
      const status = known?.status ?? 500;
      const code = known?.code ?? 'INTERNAL_ERROR';
      if (status === 501) {
        const now = notImplemented();
        if (now) logger.warn({ code, method: ctx.method, path: ctx.path, ip: ctx.ip, suppressed: now.suppressed }, known?.message ?? 'not implemented');
      } else if (status >= 500) {
        if (known) logger.error({ code, method: ctx.method, path: ctx.path, cause: known.cause }, known.message);
        else logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      }
      if (status === 503) ctx.set('Retry-After', '5');
      // A body nobody read is not drained: the answer closes the connection instead.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
      ctx.status = status;
      ctx.body = { error: { code, message: known?.expose ? known.message : 'internal error' } };
    }
  };
}
