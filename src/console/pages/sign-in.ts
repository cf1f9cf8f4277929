import type { Context } from 'koa';
import { sameToken } from '../../http/admin.js';
import { createLogThrottle, REFUSAL_LOG_INTERVAL_MS } from '../../http/log-throttle.js';
import { clearSessionCookie, consoleActor, SESSION_COOKIE, setSessionCookie } from '../access.js';
import { readForm, requireSameOrigin } from '../guard.js';
import type { Sessions } from '../sessions.js';
import type { SignInLimit } from '../sign-in-limit.js';
import { noticeOf, type Site } from '../site.js';

const HOME = '/ui/';
/** Only for reading `next` as a path: an absolute or scheme-relative URL resolves elsewhere and is refused. */
const BASE = 'http://console.invalid';

/** Where to go after signing in: a console page, never another site, else the overview. */
export function nextPage(value: string | null | undefined): string {
  if (!value) return HOME;
  try {
    const url = new URL(value, BASE);
    if (url.origin === BASE && url.pathname.startsWith('/ui/') && !url.pathname.startsWith('/ui/login')) return `${url.pathname}${url.search}`;
  } catch {
    // not a URL at all
  }
  return HOME;
}

/**
 * The login page and signing in and out. The token is posted in a form,
 * never in a URL; a right one starts a new session (a new random id in the
 * cookie); wrong ones count against the client's address (sign-in-limit.ts).
 */
export function registerSignIn(site: Site, deps: { readonly token: string; readonly sessions: Sessions; readonly limit: SignInLimit }): void {
  const { router, render, logger } = site;
  const refusals = createLogThrottle(REFUSAL_LOG_INTERVAL_MS);

  function loginPage(ctx: Context, status: number, options: { next: string; notice?: string; error?: { code: string; message: string } }): void {
    render.page(ctx, 'login', { title: 'Sign in', ...(options.notice ? { notice: options.notice } : {}) }, { next: options.next, error: options.error });
    ctx.status = status;
  }

  router.get('/ui/login', async (ctx) => {
    if (deps.sessions.find(ctx.cookies.get(SESSION_COOKIE)).state === 'active') return ctx.redirect(nextPage(ctx.query.next as string | undefined));
    const notice = noticeOf(ctx.query.notice);
    loginPage(ctx, 200, { next: nextPage(ctx.query.next as string | undefined), ...(notice ? { notice } : {}) });
  });

  router.post('/ui/login', async (ctx) => {
    requireSameOrigin(ctx);
    const form = await readForm(ctx);
    const next = nextPage(form.get('next'));
    const address = ctx.ip;
    const limited = () => {
      const seconds = deps.limit.retryAfter(address);
      if (seconds === 0) return false;
      ctx.set('Retry-After', String(seconds));
      loginPage(ctx, 429, { next, error: { code: 'SIGN_IN_RATE_LIMITED', message: `Too many wrong tokens from this address: try again in ${Math.ceil(seconds / 60)} min.` } });
      return true;
    };
    if (limited()) return;
    const given = form.get('token') ?? '';
    if (given === '' || !sameToken(given, deps.token)) {
      deps.limit.failed(address);
      const turn = refusals();
      if (turn) logger.warn({ ip: address, token: given === '' ? 'missing' : 'wrong', suppressed: turn.suppressed }, 'console sign-in refused');
      // The refusal stands whether or not its row is stored; the rate limit bounds how many one address writes.
      await site.operations.recordAudit({ action: 'sign_in_failed', actor: consoleActor(ctx, undefined), count: 0 }).catch((err: unknown) => {
        logger.error({ err, ip: address }, 'a refused console sign-in could not be recorded in the audit');
      });
      if (limited()) return;
      return loginPage(ctx, 401, { next, error: { code: 'UNAUTHORIZED', message: 'That is not the admin token (admin.token in the configuration).' } });
    }
    deps.limit.succeeded(address);
    const previous = ctx.cookies.get(SESSION_COOKIE);
    if (previous) deps.sessions.end(previous);
    const session = deps.sessions.create();
    try {
      // Nobody holds a session the audit does not know of: a sign-in that cannot be recorded is refused (STORE_UNAVAILABLE).
      await site.operations.recordAudit({ action: 'sign_in', actor: consoleActor(ctx, session), count: 1 });
    } catch (err) {
      deps.sessions.end(session.id);
      throw err;
    }
    // Its idle time starts when the browser gets it, not before the audit's write.
    deps.sessions.touch(session);
    setSessionCookie(ctx, session.id);
    logger.info({ ip: address }, 'console sign-in');
    ctx.status = 303;
    ctx.redirect(next);
  });

  router.post(
    '/ui/logout',
    site.access.action(async (ctx, session) => {
      deps.sessions.end(session.id);
      clearSessionCookie(ctx);
      logger.info({ ip: ctx.ip }, 'console sign-out');
      // Signing out only takes access away: it happens even when its row cannot be stored.
      await site.operations.recordAudit({ action: 'sign_out', actor: consoleActor(ctx, session), count: 1 }).catch((err: unknown) => {
        logger.error({ err, ip: ctx.ip }, 'a console sign-out could not be recorded in the audit');
      });
      return '/ui/login?notice=signed-out';
    }),
  );
}
