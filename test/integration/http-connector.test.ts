import { Writable } from 'node:stream';
import { pino } from 'pino';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { httpConnector, httpSchema, idempotencyKey } from '../../connectors/http/index.js';
import { parseConfig } from '../../src/config/load.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { ConfigError } from '../../src/errors.js';
import type { Delivery } from '../../src/sdk/index.js';
import { baseConfig, startBridge, type TestBridge } from '../helpers/bridge.js';
import { startRecordingServer, type RecordingServer, type Responder } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

const PATH = '/webhooks/audian';
let crm: RecordingServer;
let bridge: TestBridge;
let sequence = 0;

beforeAll(async () => {
  crm = await startRecordingServer();
  bridge = await startBridge((dir) =>
    baseConfig(dir, {
      dispatch: { retry_initial: '50ms', retry_max: '5s', poll_interval: '100ms', max_attempts: 5 },
      connectors: {
        crm: { type: 'http', url: `${crm.url}/calls/{subject}/events`, method: 'PUT', headers: { Authorization: 'Bearer crm-token', 'X-Event-Type': '{type}' } },
        mapped: { type: 'http', url: `${crm.url}/mapped`, body: '{ "call": subject, "kind": type, "caller": data.call.from }' },
        tagged: { type: 'http', url: `${crm.url}/tagged/{subject}`, headers: { 'X-Caller': '{data.from}' } },
      },
      routes: [
        { name: 'to-crm', match: { type: 'call.*' }, to: 'crm' },
        { name: 'mapped', match: { type: 'recording.*' }, to: 'mapped' },
        { name: 'tagged', match: { type: 'ivr.*' }, to: 'tagged' },
      ],
    }),
  );
});
afterAll(async () => {
  await bridge.stop();
  await crm.close();
});
beforeEach(() => {
  crm.requests.length = 0;
});
afterEach(() => crm.respondWith(() => ({ status: 200 })));

/** The idempotency key each event sent here was delivered with: routes and connectors by type, as configured above. */
const keys = new Map<string, string>();
function expectedKey(id: string, type: string): string {
  const [route, connector] = type.startsWith('recording.') ? ['mapped', 'mapped'] : type.startsWith('ivr.') ? ['tagged', 'tagged'] : ['to-crm', 'crm'];
  return idempotencyKey({ source: 'audian/main', type, id }, route, connector);
}
function send(type = 'call.initiated', callId = `call/http ${++sequence}`, from = '+14155550100') {
  const id = `evt_http_${++sequence}`;
  keys.set(id, expectedKey(id, type));
  return bridge.post(PATH, { id, timestamp: '2026-03-01T12:00:00Z', event: type, data: { call_id: callId, from, direction: 'inbound' } }).then((answer) => {
    expect(answer.status).toBe(200);
    return id;
  });
}
function requestsWithKey(key: string) {
  return crm.requests.filter((request) => request.headers['idempotency-key'] === key);
}
function requestsFor(id: string) {
  return requestsWithKey(keys.get(id) ?? `no key for ${id}`);
}
function delivery(id: string) {
  return bridge.db
    .prepare("SELECT d.status, d.attempts, d.last_error AS lastError FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.id = ?")
    .get(id) as { status: string; attempts: number; lastError: string | null };
}

it('sends the canonical event to the URL template with method and headers; 2xx is delivered', async () => {
  const id = await send('call.initiated', 'call/http 1');
  await waitFor(() => delivery(id).status === 'delivered', { what: 'delivered' });
  const [request] = requestsFor(id);
  expect(request).toBeDefined();
  expect(request!.method).toBe('PUT');
  expect(request!.url).toBe('/calls/call%2Fhttp%201/events'); // placeholders are URL-encoded
  expect(request!.headers).toMatchObject({
    authorization: 'Bearer crm-token',
    'x-event-type': 'call.initiated',
    'content-type': 'application/cloudevents+json; charset=utf-8',
  });
  const body = JSON.parse(request!.body) as CanonicalEvent;
  expect(body).toMatchObject({ specversion: '1.0', id, type: 'call.initiated', subject: 'call/http 1', source: 'audian/main' });
  expect(delivery(id)).toEqual({ status: 'delivered', attempts: 1, lastError: null });
});

it('sends a JSONata-mapped body when configured', async () => {
  const id = await send('recording.completed', 'call_mapped');
  await waitFor(() => delivery(id).status === 'delivered', { what: 'delivered' });
  const [request] = requestsFor(id);
  expect(request!.method).toBe('POST');
  expect(request!.headers['content-type']).toBe('application/json');
  expect(JSON.parse(request!.body)).toEqual({ call: 'call_mapped', kind: 'recording.completed', caller: '+14155550100' });
});

it('retries a 500 and delivers on the next success, with the same idempotency key', async () => {
  const failFirst: Responder = (request) => (requestsWithKey(request.headers['idempotency-key'] as string).length <= 1 ? { status: 500, body: '{"error":"db down"}' } : { status: 201 });
  crm.respondWith(failFirst);
  const id = await send();
  await waitFor(() => delivery(id).status === 'delivered', { what: 'delivered after a retry' });
  const requests = requestsFor(id);
  expect(requests).toHaveLength(2);
  expect(requests[0]!.body).toBe(requests[1]!.body);
  expect(delivery(id)).toMatchObject({ status: 'delivered', attempts: 2 });
});

it('waits for Retry-After on a 429 before trying again', async () => {
  const times: number[] = [];
  crm.respondWith((request) => {
    times.push(Date.now());
    return requestsWithKey(request.headers['idempotency-key'] as string).length <= 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 };
  });
  const id = await send();
  await waitFor(() => delivery(id).status === 'delivered', { what: 'delivered after the rate limit', timeoutMs: 10_000 });
  expect(requestsFor(id)).toHaveLength(2);
  // Backoff alone would retry after ~50 ms; the receiver asked for a second.
  expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
});

it('a 400 is permanent: the delivery is dead with its error, never retried, and later events still flow', async () => {
  crm.respondWith((request) => (request.headers['x-event-type'] === 'call.failed' ? { status: 400, body: '{"message":"unknown field"}' } : { status: 200 }));
  const poisoned = await send('call.failed', 'call_400');
  const after = await send('call.completed', 'call_400'); // same call: must not be blocked behind the dead one
  await waitFor(() => delivery(after).status === 'delivered', { what: 'the later event of the call' });
  expect(delivery(poisoned)).toMatchObject({ status: 'dead', attempts: 1 });
  expect(delivery(poisoned).lastError).toMatch(/400/);
  expect(requestsFor(poisoned)).toHaveLength(1);
});

it('gives up after max_attempts of retriable failures and keeps the last error', async () => {
  // 503s for one call only: the other calls' deliveries go through, so the connector stays up (docs/delivery.md#connector-health).
  crm.respondWith((request) => (request.url.includes('maintenance-call') ? { status: 503, body: 'maintenance' } : { status: 200 }));
  const id = await send('call.initiated', 'maintenance-call');
  await waitFor(() => delivery(id).status === 'dead', { what: 'dead after 5 attempts', timeoutMs: 15_000 });
  expect(requestsFor(id)).toHaveLength(5);
  expect(delivery(id)).toMatchObject({ status: 'dead', attempts: 5 });
  expect(delivery(id).lastError).toMatch(/503/);
});

describe('payload values never steer the request', () => {
  const final = (id: string) => ['delivered', 'dead'].includes(delivery(id).status);

  it('`/`, `?`, `#`, `%2e%2e` and `../x` in a call id stay inside one path segment', async () => {
    const callIds = ['a/b', 'q?x=1', 'h#frag', '%2e%2e', '%2E%2E', '../x', 'x/../../admin'];
    const ids = await Promise.all(callIds.map((callId) => send('call.initiated', callId)));
    await waitFor(() => ids.every((id) => delivery(id).status === 'delivered'), { what: 'every event delivered' });
    callIds.forEach((callId, index) => {
      const [request] = requestsFor(ids[index]!);
      const segments = request!.url.split('/');
      expect(segments, request!.url).toHaveLength(4); // '', 'calls', the call id, 'events'
      expect([segments[1], decodeURIComponent(segments[2]!), segments[3]]).toEqual(['calls', callId, 'events']);
    });
  });

  it('a call id `.` or `..` is a permanent failure of that delivery, never a request to another path', async () => {
    const ids = [await send('call.initiated', '..'), await send('call.initiated', '.')];
    const after = await send('call.answered', '..'); // later events of the call still flow (and fail alike)
    await waitFor(() => [...ids, after].every(final), { what: 'outcomes recorded' });
    for (const id of [...ids, after]) {
      expect(delivery(id)).toMatchObject({ status: 'dead', attempts: 1 });
      expect(delivery(id).lastError).toMatch(/path segment/);
      expect(requestsFor(id)).toHaveLength(0);
    }
    expect(crm.requests.filter((request) => !request.url.startsWith('/calls/'))).toHaveLength(0);
  });

  it('the host cannot be steered: values aimed at another host arrive, encoded, at the configured one', async () => {
    const decoy = await startRecordingServer();
    try {
      const other = new URL(decoy.url).host;
      const callIds = [`@${other}`, `//${other}/`, `\\${other}\\x`, `x@${other}:1`];
      const ids = await Promise.all(callIds.map((callId) => send('call.initiated', callId)));
      await waitFor(() => ids.every((id) => delivery(id).status === 'delivered'), { what: 'every event delivered' });
      for (const id of ids) expect(requestsFor(id)).toHaveLength(1);
      expect(decoy.requests).toHaveLength(0);
    } finally {
      await decoy.close();
    }
  });

  it('a placeholder in the scheme, host or port is a config error naming the key', () => {
    for (const url of ['http://{data.host}/calls', `${crm.url.replace(/:\d+$/, ':')}{data.port}/x`, '{data.url}', 'not a url', 'gopher://crm/x']) {
      const text = YAML.stringify(baseConfig('/tmp/unused', { connectors: { crm: { type: 'http', url } }, routes: [{ name: 'all', to: 'crm' }] }));
      let error: unknown;
      try {
        parseConfig(text, {}, CONNECTORS);
      } catch (err) {
        error = err;
      }
      expect(error, url).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('CONFIG_INVALID');
      expect((error as ConfigError).issues.map((issue) => `${issue.path} ${issue.code}`), url).toEqual(['connectors.crm.url CONFIG_BAD_VALUE']);
    }
  });

  it('a header value with CR/LF is a permanent failure of that delivery, not retried; other headers are sent', async () => {
    const forged = await send('ivr.input_received', 'call_crlf', '+1415\r\nX-Injected: yes');
    const fine = await send('ivr.input_received', 'call_crlf_ok', '+14155550100');
    await waitFor(() => final(forged) && final(fine), { what: 'outcomes recorded' });
    expect(delivery(forged)).toMatchObject({ status: 'dead', attempts: 1 });
    expect(delivery(forged).lastError).toMatch(/header x-caller: .*CR, LF/);
    expect(requestsFor(forged)).toHaveLength(0);
    expect(delivery(fine).status).toBe('delivered');
    expect(requestsFor(fine)[0]!.headers['x-caller']).toBe('+14155550100');
    expect(crm.requests.some((request) => request.headers['x-injected'] !== undefined)).toBe(false);
  });

  it('one bad event among 19 good ones in the service: 19 delivered once each, the bad one dead', async () => {
    const callIds = Array.from({ length: 20 }, (_, index) => (index === 7 ? '..' : `call_batch_${index}`));
    const ids = await Promise.all(callIds.map((callId) => send('call.initiated', callId)));
    await waitFor(() => ids.every(final), { what: 'all 20 outcomes' });
    ids.forEach((id, index) => {
      if (index === 7) {
        expect(delivery(id)).toMatchObject({ status: 'dead', attempts: 1 });
        expect(requestsFor(id)).toHaveLength(0);
      } else {
        expect(delivery(id)).toMatchObject({ status: 'delivered', attempts: 1 });
        expect(requestsFor(id)).toHaveLength(1);
      }
    });
  });
});

describe('the http connector on its own, against a real server', () => {
  let seq = 0;
  function deliveryOf(subject: string, data: Record<string, unknown> = {}): Delivery {
    seq++;
    const event = { specversion: '1.0', id: `evt_direct_${seq}`, source: 'audian/main', type: 'call.initiated', subject, time: '2026-03-01T12:00:00.000Z', datacontenttype: 'application/json', dialect: 'audian.v2', test: false, data } as CanonicalEvent;
    keys.set(event.id, idempotencyKey(event, 'direct', 'direct'));
    return { id: seq, route: 'direct', attempt: 1, event };
  }
  function create(url: string, logger = pino({ level: 'silent' })) {
    return httpConnector.create('direct', httpSchema.parse({ type: 'http', url, concurrency: 8 }), { logger, fetch: globalThis.fetch, now: Date.now });
  }

  it('one bad event in one batch of 20: one permanent result, the other 19 sent exactly once', async () => {
    const connector = create(`${crm.url}/direct/{subject}`);
    const batch = Array.from({ length: 20 }, (_, index) => deliveryOf(index === 12 ? '..' : `call_direct_${index}`));
    const results = await connector.send(batch, new AbortController().signal);
    expect(results).toHaveLength(20);
    results.forEach((result, index) => expect(result, `delivery ${index}`).toEqual(index === 12 ? { ok: false, retriable: false, error: expect.stringMatching(/path segment/) } : { ok: true }));
    for (const [index, { event }] of batch.entries()) expect(requestsFor(event.id)).toHaveLength(index === 12 ? 0 : 1);
  });

  it('credentials in the URL go in an Authorization header and never into logs or errors, at any level', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
    const working = create(`${crm.url.replace('http://', 'http://alice:hunter2@')}/auth/{subject}`, logger);
    await working.start();
    const delivered = deliveryOf('call_auth');
    expect(await working.send([delivered], new AbortController().signal)).toEqual([{ ok: true }]);
    const [request] = requestsFor(delivered.event.id);
    expect(request!.url).toBe('/auth/call_auth');
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from('alice:hunter2').toString('base64')}`);

    const broken = create('http://alice:hunter2@127.0.0.1:9/auth/{subject}', logger);
    await broken.start();
    const [result] = await broken.send([deliveryOf('call_auth_broken')], new AbortController().signal);
    expect(result).toMatchObject({ ok: false, retriable: true });
    expect(JSON.stringify(result)).toContain('127.0.0.1:9');
    expect(JSON.stringify(result)).not.toContain('hunter2');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain('hunter2');
    expect(lines.join('')).not.toContain('alice:');
  });
});

it('a target that hangs on one call holds that call only: the other calls are delivered meanwhile', async () => {
  crm.respondWith((request) => (request.url.includes('hanging') ? { status: 200, delayMs: 20_000 } : { status: 200 }));
  const stuck = await send('call.initiated', 'call hanging');
  await waitFor(() => requestsFor(stuck).length === 1, { what: 'the hanging request' });
  const others: string[] = [];
  for (let i = 0; i < 8; i++) others.push(await send('call.initiated'));
  await waitFor(() => others.every((id) => delivery(id).status === 'delivered'), { what: 'the other calls delivered' });
  // Still the first attempt, in flight: nothing waited for its timeout.
  expect(delivery(stuck)).toMatchObject({ status: 'pending', attempts: 0 });
});
