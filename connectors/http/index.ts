import { createHash } from 'node:crypto';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { z } from 'zod';
import { boolean, duration, integer, jsonataExpression, memoryState, nonEmpty, permanent, retriable, secret, sent, template, type CanonicalEvent, type ConnectorDefinition, type ConnectorFault, type Delivery, type Preview, type SendResult } from '../../src/sdk/index.js';
import { parseRetryAfter } from '../retry-after.js';
import { redactHeaders, redactQuery } from './redact.js';
import { createHttpProbe, healthSchema } from './probe.js';
import { BREAKS_HEADER, createRequestPlanner, NOT_LATIN1, type PlannedRequest, type Request } from './request.js';
import { createStaleGuard } from './stale-guard.js';
import { compileUrlTemplate, withoutUserInfo } from './url.js';

export { REDACTED, redactHeaders } from './redact.js';
export { STALE_GUARD_TTL_MS } from './stale-guard.js';

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
  /** The probe's request (probe.ts); absent: `HEAD /` on the target's origin. */
  health: healthSchema.optional(),
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

/** The variables EnvHttpProxyAgent takes a proxy from. */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

/**
 * EnvHttpProxyAgent when a proxy is set; else a plain Agent, which connects
 * directly as EnvHttpProxyAgent would without one. Node prints an
 * "experimental" warning (UNDICI-EHPA) on stderr for every EnvHttpProxyAgent
 * created, so creating it only where it is used keeps stderr to log lines.
 */
export function proxyAwareAgent(env: Readonly<Record<string, string | undefined>>): Dispatcher {
  return PROXY_VARIABLES.some((name) => env[name]) ? new EnvHttpProxyAgent() : new Agent();
}

/** What a request needs beside itself: how it is sent, where, and for how long. */
interface Exchange {
  readonly method: string;
  readonly timeoutMs: number;
  /** The target's scheme, host and port, for messages. */
  readonly origin: string;
  readonly dispatcher: Dispatcher;
  readonly fetch: typeof fetch;
  readonly now: () => number;
}

/**
 * Sends one request and reads the answer: 2xx is delivered; 408, 429, 5xx and
 * a failed request are retriable (with `Retry-After`); anything else is
 * permanent.
 */
async function exchange(request: Request, how: Exchange, signal: AbortSignal): Promise<SendResult> {
  const timeout = AbortSignal.timeout(how.timeoutMs);
  let response: Response;
  try {
    response = await how.fetch(request.url, {
      method: how.method,
      headers: request.headers,
      body: request.text,
      signal: AbortSignal.any([signal, timeout]),
      redirect: 'manual',
      // Node's fetch is undici's; its `dispatcher` option is not in the DOM types.
      ...({ dispatcher: how.dispatcher } as object),
    });
  } catch (err) {
    // Refused, reset, DNS, TLS or timed out: the target, not this delivery.
    return retriable(`request to ${how.origin} failed: ${timeout.aborted ? `timed out after ${how.timeoutMs} ms` : describe(err)}`, undefined, 'unreachable');
  }
  // Drain the body so the connection goes back to the pool; keep a little for the error message.
  const text = (await response.text().catch(() => '')).slice(0, 300);
  if (response.ok) return sent;
  const detail = `${how.method} ${how.origin} answered ${response.status}${text ? `: ${text}` : ''}`;
  if (response.status === 408 || response.status === 429 || response.status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), how.now());
    return retriable(detail, retryAfterMs, faultOf(response.status, retryAfterMs));
  }
  return permanent(detail);
}

/** A 5xx is the server's; a 429 naming its wait holds the whole connector; a 408 or a bare 429 stays this delivery's. */
function faultOf(status: number, retryAfterMs: number | undefined): ConnectorFault | undefined {
  if (status >= 500) return 'server';
  return status === 429 && retryAfterMs !== undefined ? 'throttled' : undefined;
}

/** What a preview shows of a planned request: secrets redacted. */
function previewOf(planned: PlannedRequest, method: string): Preview {
  if (!planned.ok) return { outcome: 'fail', error: planned.error };
  const { request } = planned;
  const shownUrl = redactQuery(request.url);
  return {
    outcome: 'send',
    target: `${method} ${shownUrl}`,
    message: { method, url: shownUrl, headers: redactHeaders(request.headers), body: request.body },
  };
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
    const plan = createRequestPlanner(options, url);
    const guard = createStaleGuard(options.stale_guard, context.state ?? memoryState(context.now), context.now);
    // HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read once; without them it connects directly. No I/O until a request.
    const dispatcher = proxyAwareAgent(process.env);
    const how: Exchange = { method: options.method, timeoutMs: options.timeout, origin: url.origin, dispatcher, fetch: context.fetch, now: context.now };
    let closing: Promise<void> | undefined;
    const probe = createHttpProbe({ ...options, url, dispatcher, fetch: context.fetch });

    /** Past the stale guard, planned with its idempotency key, then sent. */
    async function sendOne(delivery: Delivery, signal: AbortSignal): Promise<SendResult> {
      const { event } = delivery;
      const admitted = await guard.admit(delivery);
      if ('stale' in admitted) return admitted.stale;
      const planned = await plan(event, idempotencyKey(event, delivery.route, name, delivery.replay ?? 0));
      if (!planned.ok) return permanent(planned.error);
      const result = await exchange(planned.request, how, signal);
      if (result.ok) await admitted.delivered();
      return result;
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
      probe,
      async preview(event, route) {
        return previewOf(await plan(event, route === undefined ? PER_ROUTE : idempotencyKey(event, route, name)), options.method);
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
