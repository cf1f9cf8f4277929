import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Web API call as the fake received it; `params` decoded from the form or JSON body. */
export interface SlackCall {
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly authorization: string | undefined;
  /** ms, by the fake's clock. */
  readonly at: number;
  /** What the fake answered. */
  readonly status: number;
  readonly error?: string;
}

/** A `chat.postMessage` the fake accepted, with its JSON arguments parsed. */
export interface PostedMessage {
  readonly channel: string;
  readonly ts: string;
  readonly text?: string;
  readonly blocks?: unknown[];
  readonly thread_ts?: string;
  readonly params: Record<string, unknown>;
  readonly at: number;
}

/** What to answer a `chat.postMessage` instead of the usual; undefined lets it through. */
export type SlackFault =
  | { readonly kind: 'rate_limited'; /** The header's raw value; omitted: no header. */ readonly retryAfter?: string }
  | { readonly kind: 'error'; readonly error: string }
  | { readonly kind: 'http'; readonly status: number; readonly body: string };

export interface FakeSlackOptions {
  readonly token?: string;
  /** Channels the bot is a member of, by name -> ID. */
  readonly channels?: Record<string, string>;
}

/**
 * A local stand-in for Slack's Web API (https://slack.com/api/<method>):
 * the shape `@slack/web-api` talks to. It checks the bearer token, knows a few
 * channels, answers `auth.test` and `chat.postMessage` like Slack (HTTP 200
 * with `{ok, error}`), and can be told to answer 429 with `Retry-After` or any
 * error. Point `api_url` at `fake.apiUrl`.
 */
export async function startFakeSlack(options: FakeSlackOptions = {}) {
  const token = options.token ?? 'xoxb-test-token';
  const channels = new Map(Object.entries(options.channels ?? { alerts: 'C0ALERTS' }));
  const ids = new Set(channels.values());
  const calls: SlackCall[] = [];
  const messages: PostedMessage[] = [];
  let fault: (call: { method: string; params: Record<string, unknown>; index: number }) => SlackFault | undefined = () => undefined;
  let postIndex = 0;
  let seq = 0;

  function decode(req: IncomingMessage, raw: string): Record<string, unknown> {
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('application/json')) return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const params: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(raw)) params[key] = value;
    return params;
  }

  function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\/api\//, '').replace(/\?.*$/, '');
      const params = decode(req, Buffer.concat(chunks).toString('utf8'));
      const authorization = req.headers.authorization;
      const record = (status: number, error?: string) => calls.push({ method, params, authorization, at: Date.now(), status, ...(error ? { error } : {}) });

      const injected = method === 'chat.postMessage' ? fault({ method, params, index: postIndex++ }) : undefined;
      if (injected?.kind === 'rate_limited') {
        record(429, 'ratelimited');
        return reply(res, 429, { ok: false, error: 'ratelimited' }, injected.retryAfter === undefined ? {} : { 'retry-after': injected.retryAfter });
      }
      if (injected?.kind === 'error') {
        record(200, injected.error);
        return reply(res, 200, { ok: false, error: injected.error });
      }
      if (injected?.kind === 'http') {
        record(injected.status);
        return reply(res, injected.status, injected.body);
      }

      if (!authorization) {
        record(200, 'not_authed');
        return reply(res, 200, { ok: false, error: 'not_authed' });
      }
      if (authorization !== `Bearer ${token}`) {
        record(200, 'invalid_auth');
        return reply(res, 200, { ok: false, error: 'invalid_auth' });
      }
      if (method === 'auth.test') {
        record(200);
        return reply(res, 200, { ok: true, url: 'https://test.slack.com/', team: 'Test', user: 'audian-bridge', team_id: 'T0TEST', user_id: 'U0BRIDGE', bot_id: 'B0BRIDGE' });
      }
      if (method !== 'chat.postMessage') {
        record(200, 'unknown_method');
        return reply(res, 200, { ok: false, error: 'unknown_method' });
      }
      const requested = String(params.channel ?? '');
      const channel = channels.get(requested.replace(/^#/, '')) ?? (ids.has(requested) ? requested : undefined);
      if (!channel) {
        record(200, 'channel_not_found');
        return reply(res, 200, { ok: false, error: 'channel_not_found' });
      }
      seq++;
      const ts = `${1_770_000_000 + seq}.${String(seq).padStart(6, '0')}`;
      const parseJson = (value: unknown) => (typeof value === 'string' ? (JSON.parse(value) as unknown[]) : (value as unknown[] | undefined));
      messages.push({
        channel,
        ts,
        ...(typeof params.text === 'string' ? { text: params.text } : {}),
        ...(params.blocks !== undefined ? { blocks: parseJson(params.blocks) } : {}),
        ...(typeof params.thread_ts === 'string' ? { thread_ts: params.thread_ts } : {}),
        params,
        at: Date.now(),
      });
      record(200);
      return reply(res, 200, { ok: true, channel, ts, message: { type: 'message', text: params.text, ts } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    token,
    url,
    /** For the connector's `api_url`. */
    apiUrl: `${url}/api/`,
    calls,
    messages,
    /** `chat.postMessage` calls only, accepted or not. */
    posts: () => calls.filter((call) => call.method === 'chat.postMessage'),
    /** Decides a fault for each `chat.postMessage` that follows (index counts every post since start). */
    failWith(next: typeof fault) {
      fault = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type FakeSlack = Awaited<ReturnType<typeof startFakeSlack>>;

/** The text of every mrkdwn/plain_text object in a message's blocks, joined; for finding a call's message. */
export function blocksText(message: PostedMessage): string {
  return JSON.stringify(message.blocks ?? []);
}
