import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { BridgeError, type ErrorCode } from '../errors.js';

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * The one place errors become responses: `{"error": {"code", "message"}}`.
 * Known errors keep their code and status; anything else is a bare 500,
 * logged once here and never described to the client.
 */
export function errorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new BridgeError('NOT_FOUND', `nothing is served at ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      let status = 500;
      let code: ErrorCode = 'INTERNAL_ERROR';
      let message = 'internal error';
      if (err instanceof BridgeError) {
        status = err.status;
        code = err.code;
        if (err.expose) message = err.message;
        if (err.status === 503) ctx.set('Retry-After', '5');
      } else if (isHttpError(err) && err.status < 500 && CODE_BY_STATUS[err.status]) {
        status = err.status;
        code = CODE_BY_STATUS[err.status] as ErrorCode;
        message = err.message;
        if (err.headers) ctx.set(err.headers);
      }
      if (status >= 500) logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      ctx.status = status;
      ctx.body = { error: { code, message } };
      ctx.state.errorCode = code;
    }
  };
}

function isHttpError(err: unknown): err is { status: number; message: string; headers?: Record<string, string> } {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}
