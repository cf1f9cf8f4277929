import { Agent } from 'undici';
import { isLoopbackHost } from '../config/subscriptions.js';
import { BridgeError } from '../errors.js';

/**
 * One call to the provider's management API, the way every call is made:
 * `X-Auth-Token` on each, a deadline on each, redirects not followed (the
 * token would go with them), 429 and 5xx retried with bounded backoff that
 * honours `Retry-After`, TLS verified (with `ca` for a private PKI). Errors name
 * the endpoint and what to fix; they never hold the token or a response body
 * as it came (the accounts API echoes an `auth_token` in every answer).
 */

export interface ProviderHttpOptions {
  /** The API's base URL (`provider.url`); https, or http on a loopback address. */
  readonly baseUrl: string;
  readonly token: string;
  readonly timeoutMs: number;
  /** Tries after the first one. */
  readonly retries: number;
  /** PEM text of the CA(s) to trust instead of the system's. */
  readonly ca?: string;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** First backoff step; doubles per try up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A `Retry-After` longer than this is not waited for: the call fails at once, saying how long the provider asked for. */
  readonly maxRetryAfterMs?: number;
}

export interface ProviderRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  /** What a 404 means, e.g. `webhook wh_123`. */
  readonly subject?: string;
}

export interface ProviderResponse {
  readonly status: number;
  /** The parsed JSON answer; undefined for an empty one. */
  readonly body: unknown;
}

export type ProviderHttp = (request: ProviderRequest) => Promise<ProviderResponse>;

/** Larger answers are refused rather than held in memory: a list page or a log page is far smaller. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createProviderHttp(options: ProviderHttpOptions): ProviderHttp {
  const base = new URL(options.baseUrl);
  if (base.protocol === 'http:' && !isLoopbackHost(base.hostname)) {
    throw new BridgeError('CONFIG_INVALID', 'provider.url: plain http is accepted only on a loopback address; use https');
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? sleepFor;
  const now = options.now ?? Date.now;
  const backoffMs = options.backoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 8_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const dispatcher = options.ca === undefined ? undefined : new Agent({ connect: { ca: options.ca } });
  const scrub = (text: string) => text.split(options.token).join('***');

  /** The answer, or why there is none and whether the request surely never reached the provider. */
  async function once(request: ProviderRequest, endpoint: string): Promise<Response | { failure: BridgeError; unsent: boolean }> {
    const url = new URL(`${base.pathname.replace(/\/+$/, '')}${request.path}`, base);
    for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const timeout = AbortSignal.timeout(options.timeoutMs);
    try {
      return await fetchFn(url, {
        method: request.method,
        headers: {
          'x-auth-token': options.token,
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        redirect: 'manual',
        signal: timeout,
        // Node's fetch is undici's; its `dispatcher` option is not in the DOM types.
        ...(dispatcher ? ({ dispatcher } as object) : {}),
      });
    } catch (err) {
      if (timeout.aborted) return { failure: new BridgeError('PROVIDER_TIMEOUT', `${endpoint} did not answer within ${options.timeoutMs} ms (provider.timeout)`), unsent: false };
      const reason = networkReason(err);
      return { failure: new BridgeError('PROVIDER_UNAVAILABLE', `${endpoint}: cannot reach ${base.origin}: ${scrub(reason)}`), unsent: /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(reason) };
    }
  }

  async function call(request: ProviderRequest): Promise<ProviderResponse> {
    const endpoint = `${request.method} ${request.path}`;
    for (let attempt = 0; ; attempt++) {
      const outcome = await once(request, endpoint);
      const response = 'failure' in outcome ? undefined : outcome;
      // A request that may have reached the provider is sent again only when that changes nothing (GET);
      // an answer of 429 or 5xx is the provider saying it did not do it.
      const retriable = response ? response.status === 429 || response.status >= 500 : (outcome as { unsent: boolean }).unsent || request.method === 'GET';
      if (!retriable || attempt >= options.retries) {
        if (!response) throw (outcome as { failure: BridgeError }).failure;
        return answer(response, request, endpoint, attempt + 1, scrub);
      }
      const asked = response ? retryAfterMs(response.headers.get('retry-after'), now()) : undefined;
      await response?.body?.cancel().catch(() => undefined);
      if (asked !== undefined && asked > maxRetryAfterMs) {
        throw new BridgeError('PROVIDER_UNAVAILABLE', `${endpoint} answered ${response!.status} and asks to wait ${Math.ceil(asked / 1000)} s (Retry-After); try again later`);
      }
      await sleep(asked ?? Math.min(maxBackoffMs, backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }

  return call;
}

/** A final answer as the caller's result, or the error its status means; `scrub` masks the token in what the provider said. */
async function answer(response: Response, request: ProviderRequest, endpoint: string, tries: number, scrub: (text: string) => string): Promise<ProviderResponse> {
  const text = await readBounded(response, endpoint);
  let body: unknown;
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
      if (response.ok) throw new BridgeError('PROVIDER_MALFORMED', `${endpoint} answered ${response.status} with a body that is not JSON`);
    }
  }
  if (response.ok) return { status: response.status, body };
  const said = providerMessage(body);
  const detail = said ? `: the provider says "${scrub(said)}"` : '';
  const status = response.status;
  if (status === 401 || status === 403) {
    throw new BridgeError('PROVIDER_UNAUTHORIZED', `${endpoint} answered ${status}: the provider refused provider.token (is it set, current, and allowed to manage webhooks?)`);
  }
  if (status === 404) throw new BridgeError('PROVIDER_NOT_FOUND', `${endpoint} answered 404: the provider has no ${request.subject ?? 'such resource'}${detail}`);
  if (status >= 300 && status < 400) {
    throw new BridgeError('PROVIDER_REJECTED', `${endpoint} answered a redirect (${status}), which is not followed (the token would go with it): set provider.url to the API's own address`);
  }
  if (status === 429 || status >= 500) {
    throw new BridgeError('PROVIDER_UNAVAILABLE', `${endpoint} answered ${status}${tries > 1 ? ` ${tries} times` : ''}; giving up (provider.retries is ${tries - 1})${detail}`);
  }
  throw new BridgeError('PROVIDER_REJECTED', `${endpoint} answered ${status}${detail}`);
}

/** The body as text, refusing answers beyond MAX_RESPONSE_BYTES. */
async function readBounded(response: Response, endpoint: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw new BridgeError('PROVIDER_MALFORMED', `${endpoint} answered with ${declared} bytes, more than ${MAX_RESPONSE_BYTES} (is provider.url the API?)`);
  }
  const text = await response.text().catch(() => {
    throw new BridgeError('PROVIDER_UNAVAILABLE', `${endpoint}: the answer broke off`);
  });
  if (text.length > MAX_RESPONSE_BYTES) throw new BridgeError('PROVIDER_MALFORMED', `${endpoint} answered with more than ${MAX_RESPONSE_BYTES} bytes`);
  return text;
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A short human message from an error answer (`message`, `error`, `error.message`), never the body itself. */
function providerMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const error = record.error;
  const candidates = [record.message, typeof error === 'object' && error !== null ? (error as Record<string, unknown>).message : error];
  const found = candidates.find((value): value is string => typeof value === 'string' && value.trim() !== '');
  return found === undefined ? undefined : found.replace(/[\r\n\t]+/g, ' ').slice(0, 200);
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(code)) return `${code}: the TLS certificate is not trusted (for a private CA, set provider.ca)`;
  return code ?? cause?.message ?? (err as Error).message;
}
