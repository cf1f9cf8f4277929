import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { BridgeError } from '../errors.js';
import type { Operations } from '../ops/operations.js';
import { createAccess } from './access.js';
import { loadAssets, serveAsset } from './assets.js';
import { registerAuditPage } from './pages/audit.js';
import { registerBulkReplay } from './pages/bulk-replay.js';
import { registerCallPages } from './pages/calls.js';
import { registerConfigPage, type ConsoleReload } from './pages/config.js';
import { registerConnectorPages } from './pages/connectors.js';
import { registerDeliveryPages } from './pages/deliveries.js';
import { registerOverview } from './pages/overview.js';
import { registerSignIn } from './pages/sign-in.js';
import { registerTailPage, type ConsoleActivity } from './pages/tail.js';
import { createRenderer, type Renderer } from './render.js';
import { createSessions } from './sessions.js';
import { createSignInLimit } from './sign-in-limit.js';
import type { Readiness, Site } from './site.js';

export type { Readiness } from './site.js';

export interface ConsoleDeps {
  readonly operations: Operations;
  /** `admin.token`: what signing in takes. */
  readonly token: string;
  /** `admin.session_ttl`: a session ends after this long without a request. */
  readonly sessionTtlMs: number;
  readonly readiness: () => Promise<Readiness>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** This process's activity: the live tail page and the overview's per-minute charts; absent, neither is shown. */
  readonly activity?: ConsoleActivity;
  /** Reloading the config from the configuration page, and the latest reload's answer; absent, the page offers no reload. */
  readonly reload?: ConsoleReload;
}

/** No inline script or style, no eval, nothing from elsewhere, never in a frame, forms post here only. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** On every answer under /ui, errors and assets included (assets then say they may be cached). */
const securityHeaders: Middleware = async (ctx, next) => {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/** Errors as an HTML page with their status and stable code; anything unexpected is a bare 500, logged once. */
function htmlErrors(render: Renderer, logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined && ctx.status === 404) throw new BridgeError('NOT_FOUND', `there is no console page at ${ctx.path}`);
      if (ctx.body === undefined && ctx.status === 405) throw new BridgeError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`);
    } catch (err) {
      const known = err instanceof BridgeError ? err : undefined;
      if (!known || known.status >= 500) logger.error({ err, method: ctx.method, path: ctx.path }, 'console request failed');
      if (!ctx.req.complete) ctx.set('Connection', 'close');
      const status = known?.status ?? 500;
      const code = known?.code ?? 'INTERNAL_ERROR';
      render.page(ctx, 'error', { title: status === 404 ? 'Not found' : 'Refused' }, { status, code, message: known?.expose ? known.message : 'internal error' });
      ctx.status = status;
    }
  };
}

/**
 * The operators' console (docs/console.md): server-rendered pages under
 * /ui on the admin listener, signed in with `admin.token`. Paths outside
 * /ui go on to the admin API.
 */
export function createConsole(deps: ConsoleDeps): Middleware {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'console' });
  const sessions = createSessions({ ttlMs: deps.sessionTtlMs, now });
  const assets = loadAssets();
  const render = createRenderer({ css: assets.css.path, script: assets.tailScript.path, now });
  // Strict: `/ui` and `/ui/` are two paths (the first only sends to the second).
  const router = new Router({ strict: true });
  const site: Site = { router, access: createAccess(sessions), render, operations: deps.operations, logger };

  router.get('/ui', (ctx) => ctx.redirect('/ui/'));
  for (const asset of assets.all) router.get(asset.path, (ctx) => serveAsset(ctx, asset));
  registerSignIn(site, { token: deps.token, sessions, limit: createSignInLimit(now) });
  registerOverview(site, deps.readiness, deps.activity?.counts);
  // Before the delivery pages: /ui/deliveries/replay is no delivery id.
  registerBulkReplay(site);
  registerDeliveryPages(site);
  registerAuditPage(site);
  registerCallPages(site);
  registerConnectorPages(site);
  registerConfigPage(site, deps.reload);
  if (deps.activity) registerTailPage(site, deps.activity);

  // The console's own chain; a request under /ui ends in it, never reaching the API's token check.
  const chain: Middleware[] = [securityHeaders, htmlErrors(render, logger), router.routes() as Middleware, router.allowedMethods() as Middleware];
  const run = async (ctx: Context, index: number): Promise<void> => {
    await chain[index]?.(ctx, () => run(ctx, index + 1));
  };
  return (ctx: Context, next: Next) => (ctx.path === '/ui' || ctx.path.startsWith('/ui/') ? run(ctx, 0) : next());
}
