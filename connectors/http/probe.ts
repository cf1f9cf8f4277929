import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { compileTemplate, nonEmpty, type ProbeResult } from '../../src/sdk/index.js';
import { networkReason, withDeadline } from '../probe-reason.js';
import { redactQuery } from './redact.js';
import { authorizationOf, type RequestOptions } from './request.js';
import type { UrlTemplate } from './url.js';

/**
 * A path (and query) on the target's own origin: the probe carries the
 * connector's credentials, so it never goes to another host.
 */
function healthPath() {
  return nonEmpty().superRefine((value, ctx) => {
    const problem = pathProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

function pathProblem(value: string): string | undefined {
  if (!value.startsWith('/') || value.startsWith('//')) return 'write a path on the target\'s host, starting with one "/", e.g. /health';
  if (/[{}]/.test(value)) return 'a health path has no event to fill placeholders from: write it literally';
  const base = 'http://health.invalid';
  const parsed = URL.canParse(value, base) ? new URL(value, base) : undefined;
  if (!parsed || parsed.origin !== base || `${parsed.pathname}${parsed.search}` !== value.split('#')[0]) {
    return 'not a path in normal form (a space or another character to percent-encode, or a "." or ".." segment?)';
  }
  return undefined;
}

/**
 * The http connector's `health` option: the request its probe sends
 * (docs/connectors/http.md, "Health probe"). Absent: `HEAD /` on the
 * target's origin.
 */
export const healthSchema = z.strictObject({
  /** Methods that change nothing on the target (RFC 9110 §9.2.1). */
  method: z.enum(['HEAD', 'GET', 'OPTIONS']).default('HEAD'),
  path: healthPath().default('/'),
});

export type HealthOptions = z.output<typeof healthSchema>;

/** What the probe needs of the connector: where it sends, its credentials and headers, its timeout, its dispatcher and fetch. */
export interface HttpProbeSetup extends RequestOptions {
  readonly health?: HealthOptions | undefined;
  readonly timeout: number;
  readonly url: UrlTemplate;
  readonly dispatcher: Dispatcher;
  readonly fetch: typeof fetch;
}

/** The configured headers whose values are literal (a template needs an event), with the credentials, without a body's. */
function probeHeaders(setup: HttpProbeSetup): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'audian-bridge' };
  for (const [header, value] of Object.entries(setup.headers)) {
    const name = header.toLowerCase();
    if (name !== 'content-type' && compileTemplate(value).placeholders.length === 0) headers[name] = value;
  }
  const authorization = authorizationOf(setup.auth, setup.url);
  if (authorization) headers.authorization = authorization;
  return headers;
}

/**
 * The http connector's probe: one `health` request (default `HEAD /` on the
 * target's origin) with the connector's credentials and literal headers,
 * within its `timeout`, never with a body. Any answer below 500 but 401 and
 * 403 says the target is there (a 404 or 405 too: the server answered);
 * 401 and 403 say the credentials are refused; 5xx, no answer, DNS, TLS
 * and refused connections say why it is not reachable.
 */
export function createHttpProbe(setup: HttpProbeSetup): (signal: AbortSignal) => Promise<ProbeResult> {
  const method = setup.health?.method ?? 'HEAD';
  const target = `${setup.url.origin}${setup.health?.path ?? '/'}`;
  const label = `${method} ${redactQuery(target)}`;
  const headers = probeHeaders(setup);
  return (signal) =>
    withDeadline(label, setup.timeout, signal, async (both) => {
      let response: Response;
      try {
        response = await setup.fetch(target, {
          method,
          headers,
          signal: both,
          redirect: 'manual',
          // Node's fetch is undici's; its `dispatcher` option is not in the DOM types.
          ...({ dispatcher: setup.dispatcher } as object),
        });
      } catch (err) {
        if (both.aborted) throw err;
        return { ok: false, reason: `${label}: ${networkReason(err)}` };
      }
      await response.body?.cancel().catch(() => undefined);
      return judge(label, response.status);
    });
}

/** An answer's meaning for the probe; see createHttpProbe. */
export function judge(label: string, status: number): ProbeResult {
  if (status === 401 || status === 403) return { ok: false, reason: `${label} answered HTTP ${status}: credentials refused (check auth or the Authorization header)` };
  if (status >= 500) return { ok: false, reason: `${label} answered HTTP ${status}` };
  return { ok: true, detail: `${label} answered HTTP ${status}` };
}
