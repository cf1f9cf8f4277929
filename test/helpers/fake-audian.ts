import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { signAudianRequest } from '../../src/verify/sign.js';

/**
 * A local stand-in for Audian's two management APIs, built from their
 * documents (test/fixtures/seeds/000_*.txt: the accounts API; 002_*.txt: the
 * webhooks API), as a real HTTP server on 127.0.0.1:
 *
 * - both APIs check `X-Auth-Token` on every call and refuse request fields
 *   their documents do not name (so a client sending another shape fails);
 * - the webhooks API: list (`data` + `pagination`, pages of at most
 *   `pageSize`), create (answering `signing_secret`), PATCH, DELETE, `/test`
 *   (answering the id of the event it sends, then sending it), `/logs`
 *   (paginated, `since`), `/rotate-secret` (later webhooks signed with the new
 *   secret `rotateSwitchMs` after the answer);
 * - the accounts API: list with `paginate=false` (pages of `accountsPageSize`
 *   with `next_start_key` when set), PUT, POST, DELETE, `/test`; every answer
 *   echoes `auth_token`, as the document shows;
 * - every event is sent as a real signed webhook (src/verify/sign.ts), retried
 *   `deliveryRetryDelaysMs` apart, and logged `delivered` or `failed`;
 * - `inject` makes the next matching calls answer 401, 429 (`Retry-After`),
 *   500, a malformed body, or hang.
 */

export interface FakeWebhook {
  readonly id: string;
  url: string;
  events: string[];
  active: boolean;
  description: string | undefined;
  version: string | undefined;
  secret: string;
  readonly createdAt: string;
}

export interface FakeAccountWebhook {
  readonly id: string;
  name: string;
  uri: string;
  readonly hook: string;
  httpVerb: string;
  retries: number;
  enabled: boolean;
}

export interface LogEntry {
  readonly id: string;
  readonly webhook_id: string;
  readonly event: string;
  readonly timestamp: string;
  status: string;
  response_status: number | null;
  attempts: number;
}

/** One attempt to deliver a webhook, as the fake made it. */
export interface DeliveryAttempt {
  readonly eventId: string;
  readonly webhookId: string;
  readonly attempt: number;
  /** The bridge's status, or 0 when it could not be reached. */
  readonly status: number;
  /** Which of the webhook's secrets signed it. */
  readonly secret: string;
  readonly at: number;
}

export interface ApiCall {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly token: string | undefined;
  readonly body: unknown;
}

export type InjectedAnswer = { readonly status: number; readonly retryAfter?: string; readonly body?: string } | 'malformed' | 'hang';

export interface Injection {
  readonly method?: string;
  readonly path?: RegExp;
  /** How many matching calls get it (default 1). */
  times?: number;
  readonly answer: InjectedAnswer;
}

export interface FakeAudianOptions {
  readonly token?: string;
  readonly accountId?: string;
  /** The secret the accounts API's webhooks are signed with (set in its dashboard). */
  readonly accountsSecret?: string;
  /** Largest page of lists and logs (webhooks API). */
  readonly pageSize?: number;
  /** Accounts API: answer pages of this many with `next_start_key`, even with paginate=false. */
  readonly accountsPageSize?: number;
  readonly rotateSwitchMs?: number;
  readonly deliveryRetryDelaysMs?: readonly number[];
  /** Answer `/test` without naming the event (the documents show no answer). */
  readonly testAnswersWithoutId?: boolean;
  /** Ignore `since` on `/logs` (the documents do not say it is taken). */
  readonly logsIgnoreSince?: boolean;
}

const WEBHOOK_FIELDS = new Set(['url', 'events', 'active', 'description', 'version']);
const ACCOUNT_FIELDS = new Set(['name', 'uri', 'hook', 'http_verb', 'retries', 'enabled']);

const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;
const isLoopbackOrHttps = (url: unknown) => typeof url === 'string' && (/^https:\/\//.test(url) || /^http:\/\/(127\.|\[::1\]|localhost)/.test(url));

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeAudian(given: FakeAudianOptions = {}) {
  /** Changeable while running, e.g. `fake.options.testAnswersWithoutId = true`. */
  const options: { -readonly [K in keyof FakeAudianOptions]: FakeAudianOptions[K] } = { ...given };
  const token = options.token ?? 'tok_fake_audian_0123456789';
  const accountId = options.accountId ?? 'acc_test';
  const accountsSecret = options.accountsSecret ?? 'whsec_accounts_dashboard';
  const pageSize = options.pageSize ?? 2;
  const retryDelays = options.deliveryRetryDelaysMs ?? [100, 200];
  const webhooks = new Map<string, FakeWebhook>();
  const accountWebhooks = new Map<string, FakeAccountWebhook>();
  const logs: LogEntry[] = [];
  const deliveries: DeliveryAttempt[] = [];
  const calls: ApiCall[] = [];
  /** Each rotate-secret: when it was answered and when later webhooks began to be signed with the new secret. */
  const rotations: { webhookId: string; previous: string; secret: string; answeredAt: number; switchedAt?: number }[] = [];
  const injections: Injection[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  function publicWebhook(webhook: FakeWebhook) {
    return { id: webhook.id, url: webhook.url, events: webhook.events, active: webhook.active, description: webhook.description, created_at: webhook.createdAt };
  }
  function publicAccountWebhook(webhook: FakeAccountWebhook) {
    return { id: webhook.id, name: webhook.name, uri: webhook.uri, hook: webhook.hook, http_verb: webhook.httpVerb, retries: webhook.retries, enabled: webhook.enabled };
  }
  const envelope = (data: unknown, extra: Record<string, unknown> = {}) => ({ auth_token: token, data, request_id: newId('req'), status: 'success', ...extra });

  /** `{page, limit}` from the query: limit capped at pageSize. */
  function pageOf(query: Record<string, string>, total: number) {
    const page = Math.max(1, Number(query.page ?? 1) || 1);
    const limit = Math.min(pageSize, Math.max(1, Number(query.limit ?? pageSize) || pageSize));
    return { page, limit, total, from: (page - 1) * limit };
  }

  function checkFields(body: unknown, allowed: Set<string>, where: string): Record<string, unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Refusal(400, `${where}: the body must be a JSON object`);
    const unknown = Object.keys(body).filter((key) => !allowed.has(key));
    if (unknown.length > 0) throw new Refusal(400, `${where}: unknown field(s) ${unknown.join(', ')}`);
    return body as Record<string, unknown>;
  }

  function checkWebhookFields(fields: Record<string, unknown>, creating: boolean): void {
    if ((creating || fields.url !== undefined) && !isLoopbackOrHttps(fields.url)) throw new Refusal(400, 'url must be an HTTPS URL');
    if ((creating || fields.events !== undefined) && !(Array.isArray(fields.events) && fields.events.length > 0 && fields.events.every((item) => typeof item === 'string'))) {
      throw new Refusal(400, 'events must be a non-empty list of event names');
    }
    if (fields.active !== undefined && typeof fields.active !== 'boolean') throw new Refusal(400, 'active must be a boolean');
    if (fields.description !== undefined && typeof fields.description !== 'string') throw new Refusal(400, 'description must be a string');
  }

  // ---- the webhooks API (seed 002) ----

  function webhooksApi(method: string, parts: string[], query: Record<string, string>, body: unknown): { status: number; body?: unknown } {
    const [id, action] = parts;
    if (id === undefined) {
      if (method === 'GET') {
        const all = [...webhooks.values()];
        const { page, limit, total, from } = pageOf(query, all.length);
        return { status: 200, body: { data: all.slice(from, from + limit).map(publicWebhook), pagination: { page, limit, total } } };
      }
      if (method === 'POST') {
        const fields = checkFields(body, WEBHOOK_FIELDS, 'POST /v2/webhooks');
        checkWebhookFields(fields, true);
        const webhook: FakeWebhook = {
          id: newId('wh'),
          url: fields.url as string,
          events: fields.events as string[],
          active: (fields.active as boolean | undefined) ?? true,
          description: fields.description as string | undefined,
          version: fields.version as string | undefined,
          secret: newId('whsec'),
          createdAt: new Date().toISOString(),
        };
        webhooks.set(webhook.id, webhook);
        return { status: 201, body: { ...publicWebhook(webhook), signing_secret: webhook.secret } };
      }
      throw new Refusal(405, 'method not allowed');
    }
    const webhook = webhooks.get(id);
    if (!webhook) throw new Refusal(404, `no webhook ${id}`);
    if (action === undefined && method === 'PATCH') {
      const fields = checkFields(body, WEBHOOK_FIELDS, 'PATCH /v2/webhooks/{id}');
      checkWebhookFields(fields, false);
      if (fields.url !== undefined) webhook.url = fields.url as string;
      if (fields.events !== undefined) webhook.events = fields.events as string[];
      if (fields.active !== undefined) webhook.active = fields.active as boolean;
      if (fields.description !== undefined) webhook.description = fields.description as string;
      return { status: 200, body: publicWebhook(webhook) };
    }
    if (action === undefined && method === 'DELETE') {
      webhooks.delete(id);
      return { status: 204 };
    }
    if (action === 'test' && method === 'POST') {
      const fields = body === undefined ? {} : checkFields(body, new Set(['event']), 'POST /v2/webhooks/{id}/test');
      const event = typeof fields.event === 'string' ? fields.event : 'call.completed';
      const eventId = newId('evt');
      later(0, () => void send(webhook, eventId, v2Payload(eventId, event, true)));
      return { status: 200, body: options.testAnswersWithoutId ? { webhook_id: webhook.id, event } : { id: eventId, webhook_id: webhook.id, event } };
    }
    if (action === 'logs' && method === 'GET') {
      const since = options.logsIgnoreSince || query.since === undefined ? Number.NEGATIVE_INFINITY : Date.parse(query.since);
      const entries = logs.filter((entry) => entry.webhook_id === id && Date.parse(entry.timestamp) >= since).reverse();
      const { page, limit, total, from } = pageOf(query, entries.length);
      return { status: 200, body: { data: entries.slice(from, from + limit), pagination: { page, limit, total } } };
    }
    if (action === 'rotate-secret' && method === 'POST') {
      const secret = newId('whsec');
      const rotation: (typeof rotations)[number] = { webhookId: webhook.id, previous: webhook.secret, secret, answeredAt: Date.now() };
      rotations.push(rotation);
      // The answer goes out first; later webhooks are signed with the new secret a moment after.
      later(options.rotateSwitchMs ?? 500, () => {
        webhook.secret = secret;
        rotation.switchedAt = Date.now();
      });
      return { status: 200, body: { id: webhook.id, signing_secret: secret } };
    }
    throw new Refusal(404, 'no such endpoint');
  }

  // ---- the accounts API (seed 000) ----

  function accountsApi(method: string, account: string, parts: string[], query: Record<string, string>, body: unknown): { status: number; body?: unknown } {
    if (account !== accountId) throw new Refusal(404, `no account ${account}`);
    const [id, action] = parts;
    if (id === undefined) {
      if (method === 'GET') {
        const all = [...accountWebhooks.values()];
        const size = options.accountsPageSize;
        if (size === undefined) return { status: 200, body: envelope(all.map(publicAccountWebhook)) };
        const start = Number(query.start_key ?? 0);
        const next = start + size < all.length ? String(start + size) : undefined;
        return { status: 200, body: envelope(all.slice(start, start + size).map(publicAccountWebhook), next ? { next_start_key: next } : {}) };
      }
      if (method === 'PUT') {
        const data = checkFields(checkFields(body, new Set(['data']), 'PUT .../webhooks').data, ACCOUNT_FIELDS, 'PUT .../webhooks data');
        if (!isLoopbackOrHttps(data.uri) || typeof data.hook !== 'string' || typeof data.name !== 'string') throw new Refusal(400, 'name, uri and hook are required');
        const webhook: FakeAccountWebhook = {
          id: newId('webhook'),
          name: data.name,
          uri: data.uri as string,
          hook: data.hook,
          httpVerb: (data.http_verb as string | undefined) ?? 'post',
          retries: (data.retries as number | undefined) ?? 3,
          enabled: (data.enabled as boolean | undefined) ?? true,
        };
        accountWebhooks.set(webhook.id, webhook);
        return { status: 201, body: envelope(publicAccountWebhook(webhook)) };
      }
      throw new Refusal(405, 'method not allowed');
    }
    const webhook = accountWebhooks.get(id);
    if (!webhook) throw new Refusal(404, `no webhook ${id}`);
    if (action === undefined && method === 'POST') {
      const data = checkFields(checkFields(body, new Set(['data']), 'POST .../webhooks/{id}').data, ACCOUNT_FIELDS, 'POST .../webhooks/{id} data');
      if (data.hook !== undefined && data.hook !== webhook.hook) throw new Refusal(400, 'hook cannot change');
      if (data.uri !== undefined) webhook.uri = data.uri as string;
      if (data.enabled !== undefined) webhook.enabled = data.enabled as boolean;
      if (data.name !== undefined) webhook.name = data.name as string;
      return { status: 200, body: envelope(publicAccountWebhook(webhook)) };
    }
    if (action === undefined && method === 'DELETE') {
      accountWebhooks.delete(id);
      return { status: 200, body: envelope({ id }) };
    }
    if (action === 'test' && method === 'POST') {
      const eventId = newId('evt');
      later(0, () => void send({ id: webhook.id, url: webhook.uri, secret: accountsSecret }, eventId, hooksPayload(eventId, webhook.hook)));
      return { status: 200, body: envelope(options.testAnswersWithoutId ? {} : { id: eventId }) };
    }
    throw new Refusal(404, 'no such endpoint');
  }

  // ---- sending webhooks ----

  function v2Payload(eventId: string, event: string, isTest = false, data: Record<string, unknown> = {}) {
    return { id: eventId, event, timestamp: new Date().toISOString(), ...(isTest ? { is_test: true } : {}), data: { call_id: `call_${eventId}`, ...data } };
  }
  function hooksPayload(eventId: string, hook: string) {
    return { id: eventId, account_id: accountId, hook, timestamp: new Date().toISOString(), data: { call_id: `call_${eventId}`, caller_id_number: '+14155559999', callee_id_number: '+14155552671' } };
  }

  /** Sends one event to one webhook, retrying as the document's retry policy says; resolves with the final log status. */
  function send(target: { id: string; url: string; secret: string }, eventId: string, payload: unknown): Promise<string> {
    const entry: LogEntry = {
      id: eventId,
      webhook_id: target.id,
      event: (payload as { event?: string; hook?: string }).event ?? (payload as { hook: string }).hook,
      timestamp: new Date().toISOString(),
      status: 'pending',
      response_status: null,
      attempts: 0,
    };
    logs.push(entry);
    const body = JSON.stringify(payload);
    const run = (async () => {
      for (let attempt = 1; attempt <= retryDelays.length + 1 && !closed; attempt++) {
        // The secret in force when this attempt goes out (a rotation switches it a moment after answering).
        const secret = webhooks.get(target.id)?.secret ?? target.secret;
        const status = await post(target.url, body, secret);
        entry.attempts = attempt;
        entry.response_status = status === 0 ? null : status;
        deliveries.push({ eventId, webhookId: target.id, attempt, status, secret, at: Date.now() });
        if (status >= 200 && status < 300) {
          entry.status = 'delivered';
          return entry.status;
        }
        if (attempt <= retryDelays.length) await new Promise((resolve) => setTimeout(resolve, retryDelays[attempt - 1]));
      }
      entry.status = 'failed';
      return entry.status;
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
    return run;
  }

  async function post(url: string, body: string, secret: string): Promise<number> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signAudianRequest(body, secret) },
        body,
        signal: AbortSignal.timeout(5_000),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  // ---- the server ----

  function injected(method: string, path: string): InjectedAnswer | undefined {
    const index = injections.findIndex((rule) => (rule.method === undefined || rule.method === method) && (rule.path === undefined || rule.path.test(path)));
    if (index === -1) return undefined;
    const rule = injections[index]!;
    rule.times = (rule.times ?? 1) - 1;
    if (rule.times <= 0) injections.splice(index, 1);
    return rule.answer;
  }

  function route(method: string, path: string, query: Record<string, string>, body: unknown): { status: number; body?: unknown } {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'v2') throw new Refusal(404, 'no such endpoint');
    if (parts[1] === 'webhooks') return webhooksApi(method, parts.slice(2), query, body);
    if (parts[1] === 'accounts' && parts[3] === 'webhooks') return accountsApi(method, parts[2] ?? '', parts.slice(4), query, body);
    throw new Refusal(404, 'no such endpoint');
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const given = req.headers['x-auth-token'];
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = Symbol('not json');
    }
    calls.push({ method: req.method ?? '', path: url.pathname, query, token: typeof given === 'string' ? given : undefined, body });
    const reply = (status: number, answer?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { ...(answer === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(answer === undefined ? undefined : typeof answer === 'string' ? answer : JSON.stringify(answer));
    };
    const fault = injected(req.method ?? '', url.pathname);
    if (fault === 'hang') return;
    if (fault === 'malformed') return reply(200, '{"data": [ {"id": ');
    if (fault) return reply(fault.status, fault.body ?? JSON.stringify({ error: { message: `injected ${fault.status}` } }), fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
    if (given !== token) return reply(401, { auth_token: null, error: { message: 'invalid X-Auth-Token' }, status: 'error' });
    if (typeof body === 'symbol') return reply(400, { error: { message: 'the body is not JSON' } });
    try {
      const answer = route(req.method ?? '', url.pathname, query, body);
      reply(answer.status, answer.body);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      reply(err.status, url.pathname.startsWith('/v2/accounts') ? { auth_token: token, error: { message: err.message }, status: 'error' } : { error: { message: err.message } });
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    options,
    token,
    accountId,
    accountsSecret,
    webhooks,
    accountWebhooks,
    logs,
    deliveries,
    calls,
    rotations,
    /** The next matching calls answer as given instead. */
    inject(rule: Injection): void {
      injections.push({ ...rule });
    },
    /** A webhook someone made at the provider for another purpose (webhooks API, no ownership mark). */
    addForeignWebhook(fields: { url: string; events?: string[]; description?: string }): FakeWebhook {
      const webhook: FakeWebhook = {
        id: newId('wh'), url: fields.url, events: fields.events ?? ['*'], active: true, description: fields.description, version: undefined,
        secret: newId('whsec'), createdAt: new Date().toISOString(),
      };
      webhooks.set(webhook.id, webhook);
      return webhook;
    },
    /**
     * An event happens: sent to every active webhooks-API webhook subscribed to it.
     * Resolves with its id once every delivery is final (delivered or failed).
     */
    async emit(event = 'call.completed', data: Record<string, unknown> = {}): Promise<{ id: string; statuses: string[] }> {
      const id = newId('evt');
      const targets = [...webhooks.values()].filter((webhook) => webhook.active && (webhook.events.includes('*') || webhook.events.includes(event)));
      const statuses = await Promise.all(targets.map((webhook) => send(webhook, id, v2Payload(id, event, false, data))));
      return { id, statuses };
    },
    /** A log entry for an event the provider says it delivered but never sent (a gap on the bridge's side, for reconcile). */
    logUnsent(webhookId: string, event = 'call.completed'): string {
      const id = newId('evt');
      logs.push({ id, webhook_id: webhookId, event, timestamp: new Date().toISOString(), status: 'delivered', response_status: 200, attempts: 1 });
      return id;
    },
    /** Resolves once every delivery under way is final. */
    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    async close(): Promise<void> {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all([...inFlight]);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeAudian = Awaited<ReturnType<typeof startFakeAudian>>;
