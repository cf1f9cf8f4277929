import type { Context } from 'koa';
import { BridgeError } from '../errors.js';
import { sameToken } from '../http/admin.js';
import { checkBodyFraming, readRawBody } from '../http/body.js';

/** The console's forms hold a token and a few fields. */
const FORM_LIMIT = 16 * 1024;
const FORM_TIMEOUT_MS = 10_000;
/** The hidden field every form of a signed-in page carries. */
export const CSRF_FIELD = '_csrf';

/** The console's own origin as this request reached it (`X-Forwarded-Proto` counts only with `admin.trust_proxy`). */
export function ownOrigin(ctx: Context): string {
  return `${ctx.protocol}://${ctx.host}`;
}

/**
 * A state-changing request must come from the console's own pages. A
 * browser says where a request comes from in `Sec-Fetch-Site`; Chromium
 * sends `Origin: null` on the console's own form posts (its pages say
 * `Referrer-Policy: no-referrer`), so `Origin` alone cannot tell. Accepted:
 * `Sec-Fetch-Site: same-origin`, or no `Sec-Fetch-Site` and an `Origin` equal
 * to the console's own; an `Origin` of another site is refused either way.
 */
export function requireSameOrigin(ctx: Context): void {
  const site = ctx.get('sec-fetch-site');
  const origin = ctx.get('origin');
  const foreignOrigin = origin !== '' && origin !== 'null' && origin !== ownOrigin(ctx);
  const fromConsole = site !== '' ? site === 'same-origin' : origin === ownOrigin(ctx);
  if (foreignOrigin || !fromConsole) {
    throw new BridgeError('CSRF_REJECTED', 'this request did not come from the console itself; open the console and use its buttons');
  }
}

/** A form POST's fields (`application/x-www-form-urlencoded`, at most 16 KB). */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  checkBodyFraming(ctx, FORM_LIMIT);
  if (ctx.request.type !== 'application/x-www-form-urlencoded') {
    throw new BridgeError('UNSUPPORTED_MEDIA_TYPE', 'send the form as application/x-www-form-urlencoded');
  }
  const raw = await readRawBody(ctx.req, { limit: FORM_LIMIT, timeoutMs: FORM_TIMEOUT_MS, take: () => true });
  return new URLSearchParams(raw.toString('utf8'));
}

/** The form's token must be the session's own: another site cannot read it from the console's pages. */
export function requireCsrfToken(form: URLSearchParams, expected: string): void {
  const given = form.get(CSRF_FIELD);
  if (given === null || !sameToken(given, expected)) {
    throw new BridgeError('CSRF_REJECTED', 'the form token is missing or not this session\'s; reload the page and try again');
  }
}
