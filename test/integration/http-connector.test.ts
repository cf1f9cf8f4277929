import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
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
      },
      routes: [
        { name: 'to-crm', match: { type: 'call.*' }, to: 'crm' },
        { name: 'mapped', match: { type: 'recording.*' }, to: 'mapped' },
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

function send(type = 'call.initiated', callId = `call/http ${++sequence}`) {
  const id = `evt_http_${++sequence}`;
  return bridge.post(PATH, { id, timestamp: '2026-03-01T12:00:00Z', event: type, data: { call_id: callId, from: '+14155550100', direction: 'inbound' } }).then((answer) => {
    expect(answer.status).toBe(200);
    return id;
  });
}
function requestsFor(id: string) {
  return crm.requests.filter((request) => request.headers['idempotency-key'] === id);
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
  const failFirst: Responder = (request) => (requestsFor(request.headers['idempotency-key'] as string).length <= 1 ? { status: 500, body: '{"error":"db down"}' } : { status: 201 });
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
    return requestsFor(request.headers['idempotency-key'] as string).length <= 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 };
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
  crm.respondWith(() => ({ status: 503, body: 'maintenance' }));
  const id = await send();
  await waitFor(() => delivery(id).status === 'dead', { what: 'dead after 5 attempts', timeoutMs: 15_000 });
  expect(requestsFor(id)).toHaveLength(5);
  expect(delivery(id)).toMatchObject({ status: 'dead', attempts: 5 });
  expect(delivery(id).lastError).toMatch(/503/);
});
