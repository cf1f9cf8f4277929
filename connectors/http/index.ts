import { createHash } from 'node:crypto';
import jsonata from 'jsonata';
import { EnvHttpProxyAgent } from 'undici';
import { z } from 'zod';
import { boolean, compileTemplate, duration, integer, jsonataExpression, memoryState, nonEmpty, permanent, retriable, secret, sent, skipped, template, type CanonicalEvent, type ConnectorDefinition, type Delivery, type SendResult } from '../../src/sdk/index.js';
import { parseRetryAfter } from '../retry-after.js';
import { compileUrlTemplate, withoutUserInfo } from './url.js';

const TYPE = 'http';

/** A URL template that passes the rules of url.ts. */
function urlTemplate() {
  return nonEmpty().superRefine((value, ctx) => {
    try {
      compileUrlTemplate(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
}

/** Fetch refuses these in a header value; a literal one is a config error, a rendered one a permanent failure. */
const BREAKS_HEADER = /[\r\n\0]/;
/** HTTP header values are bytes; fetch takes Latin-1 only. */
const NOT_LATIN1 = /[^\u0000-\u00ff]/;

function headerTemplate() {
  return template().refine((value) => !BREAKS_HEADER.test(value), 'a header value cannot contain CR, LF or NUL');
}

/** A credential value: it goes into the Authorization header, so it must be one. */
function credential() {
  return nonEmpty()
    .refine((value) => !BREAKS_HEADER.test(value), 'cannot contain CR, LF or NUL')
    .refine((value) => !NOT_LATIN1.test(value), 'cannot contain characters beyond Latin-1 (an HTTP header cannot carry them)');
}

/** `Authorization` from the config (values from the environment: `${CRM_TOKEN}`). */
const authSchema = z.union([
  z.strictObject({ bearer: secret(credential()) }),
  z.strictObject({ basic: z.strictObject({ username: credential().refine((value) => !value.includes(':'), 'cannot contain ":"'), password: secret(credential()) }) }),
]);

export const httpSchema = z.strictObject({
  type: z.literal(TYPE),
  /**
   * URL template, e.g. `https://crm.example.com/api/calls/{subject}`: fixed
   * scheme, host and port; placeholders in path segments and query values,
   * percent-encoded (url.ts).
   */
  url: urlTemplate(),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
  /** Header values are templates too, e.g. `Authorization: Bearer ${CRM_TOKEN}`. */
  headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid header name'), headerTemplate()).default({}),
  /** JSONata expression over the canonical event giving the body; default: the event itself. */
  body: jsonataExpression().optional(),
  timeout: duration().default(10_000),
  /** Requests in flight at once; events of one call are never sent concurrently. */
  concurrency: integer(1, 64).default(4),
  /** `{ bearer: TOKEN }` or `{ basic: { username, password } }`, sent as the `Authorization` header. */
  auth: authSchema.optional(),
  /** Skip an update for a call older (event time, then acceptance order) than the last one delivered for it. */
  stale_guard: boolean().default(false),
}).superRefine((options, ctx) => {
  if (options.auth === undefined) return;
  if (Object.keys(options.headers).some((header) => header.toLowerCase() === 'authorization')) {
    ctx.addIssue({ code: 'custom', path: ['auth'], message: 'give either auth or an Authorization header, not both', params: { code: 'CONFIG_BAD_VALUE' } });
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*@/.test(options.url)) {
    ctx.addIssue({ code: 'custom', path: ['auth'], message: 'give either auth or credentials in the URL, not both', params: { code: 'CONFIG_BAD_VALUE' } });
  }
});

export type HttpOptions = z.output<typeof httpSchema>;

/** How long the stale guard remembers a call's last delivered update. */
export const STALE_GUARD_TTL_MS = 30 * 24 * 3600_000;

/**
 * The `Idempotency-Key` of one delivery: unique per (source, type, event id,
 * route, connector), because providers reuse an event id across types (seed
 * 001) and one event may go to one CRM by two routes. The same across retries;
 * an operator's n-th resend of a delivered delivery carries `<key>.replay-<n>`,
 * so the receiver does not drop it as a repeat of the original.
 */
export function idempotencyKey(event: Pick<CanonicalEvent, 'source' | 'type' | 'id'>, route: string, connector: string, replay = 0): string {
  const key = createHash('sha256').update(JSON.stringify([event.source, event.type, event.id, route, connector])).digest('hex');
  return replay > 0 ? `${key}.replay-${replay}` : key;
}

/** Where an update stands in its call's order: event time, then acceptance order (the outbox id). */
interface Mark {
  readonly time: number;
  readonly order: number;
}

function isOlder(mark: Mark, than: Mark): boolean {
  return mark.time < than.time || (mark.time === than.time && mark.order < than.order);
}

/** Headers whose values a preview never shows: credentials, and anything named like one. */
const SECRET_HEADER = /^(?:authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|password|auth|session|signature/i;
/** Query parameters a preview never shows, by the same rule. */
const SECRET_PARAM = /token|secret|key|password|passwd|auth|session|signature|sig$/i;
/** The connector's own headers: known values, never secret. */
const OWN_HEADERS = new Set(['content-type', 'idempotency-key', 'user-agent']);
export const REDACTED = '[redacted]';

interface Request {
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The JSON value sent, and its text. */
  readonly body: unknown;
  readonly text: string;
}

/**
 * Sends each event to a URL. 2xx is delivered; 408, 429, 5xx and network
 * failures are retried (honouring `Retry-After`); any other status is
 * permanent, and so is an event that cannot make a safe request (a template
 * without a value, a value that would steer the URL, CR/LF in a header).
 */
export const httpConnector: ConnectorDefinition<typeof httpSchema> = {
  type: TYPE,
  schema: httpSchema,
  // One request per batch, `concurrency` batches in flight: a target that hangs
  // on one call holds one of them, and the other calls keep flowing.
  batchSize: 1,
  maxPerCall: 1,
  create(name, options, context) {
    const logger = context.logger.child({ connector: name });
    const url = compileUrlTemplate(options.url);
    const headers = Object.entries(options.headers).map(([header, value]) => [header.toLowerCase(), compileTemplate(value)] as const);
    const body = options.body === undefined ? undefined : jsonata(options.body);
    const authorization = options.auth
      ? 'bearer' in options.auth
        ? `Bearer ${options.auth.bearer}`
        : `Basic ${Buffer.from(`${options.auth.basic.username}:${options.auth.basic.password}`).toString('base64')}`
      : url.authorization;
    // HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read once; without them it connects directly. No I/O until a request.
    const dispatcher = new EnvHttpProxyAgent();
    const state = context.state ?? memoryState(context.now);
    let closing: Promise<void> | undefined;

    /** The request for an event with its idempotency key, or why there can be none (a permanent failure). */
    async function plan(event: CanonicalEvent, key: string): Promise<{ ok: true; request: Request } | { ok: false; error: string }> {
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
    }

    /** The state key of the call's last delivered update, when the stale guard applies to the event. */
    function guardKey(event: CanonicalEvent): string | undefined {
      return options.stale_guard && event.subject !== undefined ? `stale-guard\u0000${event.source}\u0000${event.subject}` : undefined;
    }

    async function lastDelivered(key: string): Promise<Mark | undefined> {
      const value = await state.get(key);
      return value === undefined ? undefined : (JSON.parse(value) as Mark);
    }

    async function sendOne(delivery: Delivery, signal: AbortSignal): Promise<SendResult> {
      const { event } = delivery;
      const replay = delivery.replay ?? 0;
      const markKey = guardKey(event);
      const mark: Mark = { time: Date.parse(event.time), order: delivery.id };
      const last = markKey === undefined ? undefined : await lastDelivered(markKey);
      // An operator's replay is sent whatever its age: resending an old update is what was asked for.
      if (last && replay === 0 && isOlder(mark, last)) {
        return skipped(`stale: ${event.type} of ${event.time} is older than the update of ${new Date(last.time).toISOString()} already delivered for call ${event.subject}`);
      }
      const planned = await plan(event, idempotencyKey(event, delivery.route, name, replay));
      if (!planned.ok) return permanent(planned.error);
      const { request } = planned;
      const timeout = AbortSignal.timeout(options.timeout);
      let response: Response;
      try {
        response = await context.fetch(request.url, {
          method: options.method,
          headers: request.headers,
          body: request.text,
          signal: AbortSignal.any([signal, timeout]),
          redirect: 'manual',
          // Node's fetch is undici's; its `dispatcher` option is not in the DOM types.
          ...({ dispatcher } as object),
        });
      } catch (err) {
        return retriable(`request to ${url.origin} failed: ${timeout.aborted ? `timed out after ${options.timeout} ms` : describe(err)}`);
      }
      // Drain the body so the connection goes back to the pool; keep a little for the error message.
      const text = (await response.text().catch(() => '')).slice(0, 300);
      if (response.ok) {
        // The mark only moves forward (a replay of an old update leaves it).
        if (markKey !== undefined && (!last || isOlder(last, mark))) await state.set(markKey, JSON.stringify(mark), context.now() + STALE_GUARD_TTL_MS);
        return sent;
      }
      const detail = `${options.method} ${url.origin} answered ${response.status}${text ? `: ${text}` : ''}`;
      if (response.status === 408 || response.status === 429 || response.status >= 500) {
        return retriable(detail, parseRetryAfter(response.headers.get('retry-after'), context.now()));
      }
      return permanent(detail);
    }

    return {
      name,
      concurrency: options.concurrency,
      async start() {
        logger.debug({ url: withoutUserInfo(options.url) }, 'http connector ready');
      },
      async send(batch, signal) {
        const results: SendResult[] = [];
        for (const delivery of batch) {
          // One delivery's surprise is its own result, never the batch's: the others were sent.
          results.push(await sendOne(delivery, signal).catch((err: unknown) => retriable(`request to ${url.origin} failed: ${describe(err)}`)));
        }
        return results;
      },
      async preview(event, route) {
        const planned = await plan(event, route === undefined ? PER_ROUTE : idempotencyKey(event, route, name));
        if (!planned.ok) return { outcome: 'fail', error: planned.error };
        const { request } = planned;
        const shownUrl = redactQuery(request.url);
        return {
          outcome: 'send',
          target: `${options.method} ${shownUrl}`,
          message: { method: options.method, url: shownUrl, headers: redactHeaders(request.headers), body: request.body },
        };
      },
      async stop() {
        // Idempotent: the dispatcher may stop a connector that `start` never reached, or stop it twice.
        closing ??= dispatcher.close();
        await closing;
      },
    };
  },
};

/** A preview's idempotency key when it knows no route. */
const PER_ROUTE = '[one per route: see idempotencyKey]';

/** An error's message and its cause's (fetch says "fetch failed" and puts the reason in `cause`), without any URL user info. */
function describe(err: unknown): string {
  const error = err as { message?: unknown; cause?: { message?: unknown; code?: unknown } };
  const cause = typeof error?.cause?.message === 'string' && error.cause.message !== '' ? `: ${error.cause.message}` : '';
  return `${String(error?.message ?? err)}${cause}`.replace(/\/\/[^/?#@\s]*@/g, '//');
}

export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, !OWN_HEADERS.has(name) && SECRET_HEADER.test(name) ? REDACTED : value]));
}

function redactQuery(url: string): string {
  const parsed = new URL(url);
  if (![...parsed.searchParams.keys()].some((key) => SECRET_PARAM.test(key))) return url;
  // Rebuilt by hand: URLSearchParams would re-encode every other value.
  const [head, query] = [url.slice(0, url.indexOf('?')), url.slice(url.indexOf('?') + 1).split('#')[0]!];
  const shown = query.split('&').map((pair) => {
    const [key = '', ...value] = pair.split('=');
    return value.length > 0 && SECRET_PARAM.test(decodeURIComponent(key)) ? `${key}=${REDACTED}` : pair;
  });
  return `${head}?${shown.join('&')}${parsed.hash}`;
}
