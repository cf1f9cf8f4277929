import jsonata from 'jsonata';
import { compileTemplate, type CanonicalEvent } from '../../src/sdk/index.js';
import type { UrlTemplate } from './url.js';

/** Fetch refuses these in a header value; a literal one is a config error, a rendered one a permanent failure. */
export const BREAKS_HEADER = /[\r\n\0]/;
/** HTTP header values are bytes; fetch takes Latin-1 only. */
export const NOT_LATIN1 = /[^\u0000-\u00ff]/;

export interface Request {
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The JSON value sent, and its text. */
  readonly body: unknown;
  readonly text: string;
}

/** The request for an event, or why there can be none (a permanent failure). */
export type PlannedRequest = { ok: true; request: Request } | { ok: false; error: string };

/** The options that shape a request (the connector's `headers`, `body` and `auth`, validated). */
export interface RequestOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  readonly auth?: { readonly bearer: string } | { readonly basic: { readonly username: string; readonly password: string } } | undefined;
}

/** The `Authorization` header value: from `auth`, else from the URL's user info, else none. */
export function authorizationOf(auth: RequestOptions['auth'], url: UrlTemplate): string | undefined {
  if (!auth) return url.authorization;
  return 'bearer' in auth ? `Bearer ${auth.bearer}` : `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64')}`;
}

/**
 * Compiles the header templates and the body mapping once, and plans each
 * event's request with them: the URL, the connector's own headers and the
 * configured ones, and the body. A header or URL the event has no value for,
 * or would make unsafe, is a failure to send, never a request.
 */
export function createRequestPlanner(options: RequestOptions, url: UrlTemplate): (event: CanonicalEvent, key: string) => Promise<PlannedRequest> {
  const headers = Object.entries(options.headers).map(([header, value]) => [header.toLowerCase(), compileTemplate(value)] as const);
  const body = options.body === undefined ? undefined : jsonata(options.body);
  const authorization = authorizationOf(options.auth, url);

  return async (event, key) => {
    const target = url.render(event);
    if (!target.ok) return target;
    const requestHeaders: Record<string, string> = {
      'content-type': body ? 'application/json' : 'application/cloudevents+json; charset=utf-8',
      'idempotency-key': key,
      'user-agent': 'audian-bridge',
      ...(authorization ? { authorization } : {}),
    };
    for (const [header, value] of headers) {
      const rendered = value.render(event);
      if (!rendered.ok) return { ok: false, error: `header ${header} has no value for {${rendered.missing.join('}, {')}}` };
      if (BREAKS_HEADER.test(rendered.value)) return { ok: false, error: `header ${header}: a value contains CR, LF or NUL, which could forge headers; not sent` };
      if (NOT_LATIN1.test(rendered.value)) return { ok: false, error: `header ${header}: a value has characters beyond Latin-1, which an HTTP header cannot carry` };
      requestHeaders[header] = rendered.value;
    }
    try {
      const payload: unknown = body ? await body.evaluate(event) : event;
      return { ok: true, request: { url: target.url, headers: requestHeaders, body: payload, text: JSON.stringify(payload) ?? 'null' } };
    } catch (err) {
      return { ok: false, error: `body mapping failed: ${(err as Error).message}` };
    }
  };
}
