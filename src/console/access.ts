import type { Context, Middleware } from 'koa';
import type { AuditActor } from '../store/index.js';
import { readForm, requireCsrfToken, requireSameOrigin } from './guard.js';
import type { Session, Sessions } from './sessions.js';

/** The session cookie: an opaque random id, never the token (sessions.ts). */
export const SESSION_COOKIE = 'audian_console';

/** Where a page sends someone not signed in: the login page, which comes back here after. */
export function loginLocation(ctx: Context, notice?: 'expired'): string {
  const params = new URLSearchParams();
  if (notice) params.set('notice', notice);
  if (ctx.method === 'GET' && ctx.path !== '/ui/') params.set('next', ctx.url);
  const query = params.toString();
  return `/ui/login${query ? `?${query}` : ''}`;
}

/**
 * `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
 * sends it), `Path=/ui`, and `Secure` when the console is reached over https
 * (`ctx.protocol` believes X-Forwarded-Proto only with `admin.trust_proxy`).
 */
export function setSessionCookie(ctx: Context, id: string): void {
  ctx.cookies.set(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', path: '/ui', secure: ctx.protocol === 'https', overwrite: true });
}

export function clearSessionCookie(ctx: Context): void {
  ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/ui', secure: ctx.protocol === 'https', overwrite: true, maxAge: 0 });
}

/** Characters of the session id the audit shows: enough to tell sessions apart, far too few to be one. */
const SESSION_PREFIX = 8;

/** Who acts from the console: the session, by the first characters of its id, and the client's address. */
export function consoleActor(ctx: Context, session: Pick<Session, 'id'> | undefined): AuditActor {
  return { via: 'console', who: session ? `session ${session.id.slice(0, SESSION_PREFIX)}` : 'not signed in', address: ctx.ip };
}

/** A page of a signed-in operator. */
export type View = (ctx: Context, session: Session) => Promise<void>;
/** A state change of a signed-in operator; answers where to go next (a page that shows the result). */
export type Action = (ctx: Context, session: Session, form: URLSearchParams) => Promise<string>;

/**
 * The two doors into the console. `view`: a GET that needs a session; without
 * one (or with an expired one), the login page. `action`: a POST that changes
 * something; it must come from the console's own page (Sec-Fetch-Site /
 * Origin), carry its session, and its session's form token; else 403
 * CSRF_REJECTED (or the login page, without a session) and nothing changes.
 * Then 303 to the page that shows the result.
 */
export function createAccess(sessions: Sessions) {
  function signedIn(ctx: Context): Session | undefined {
    const found = sessions.find(ctx.cookies.get(SESSION_COOKIE));
    if (found.state === 'active') {
      sessions.touch(found.session);
      return found.session;
    }
    if (found.state === 'expired') clearSessionCookie(ctx);
    ctx.status = 303;
    ctx.redirect(loginLocation(ctx, found.state === 'expired' ? 'expired' : undefined));
    return undefined;
  }

  return {
    /** Whether `session` is still signed in (not ended, not idle past its time), without counting as a request. */
    active(session: Pick<Session, 'id'>): boolean {
      return sessions.find(session.id).state === 'active';
    },
    view(handler: View): Middleware {
      return async (ctx) => {
        const session = signedIn(ctx);
        if (session) await handler(ctx, session);
      };
    },
    action(handler: Action): Middleware {
      return async (ctx) => {
        requireSameOrigin(ctx);
        const session = signedIn(ctx);
        if (!session) return;
        const form = await readForm(ctx);
        requireCsrfToken(form, session.csrf);
        const location = await handler(ctx, session, form);
        ctx.status = 303;
        ctx.redirect(location);
      };
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
