import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, TEST_SECRET, type TestBridge } from '../helpers/bridge.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { openSse, type SseMessage } from '../helpers/sse.js';

/**
 * `GET /admin/tail`: this process's webhooks and delivery outcomes as
 * Server-Sent Events, behind the admin token, with filters; and
 * `GET /admin/counts`, the per-minute counts the same feed keeps.
 */
const TOKEN = 'tail-admin-token-5e1c9a7b';
const auth = { authorization: `Bearer ${TOKEN}` };

let bridge: TestBridge;
let admin: string;

beforeAll(async () => {
  bridge = await startBridge((dir) => ({
    server: { host: '127.0.0.1', port: 0 },
    store: { path: `${dir}/bridge.db` },
    admin: { host: '127.0.0.1', port: 0, token: TOKEN },
    dispatch: { poll_interval: '100ms' },
    sources: [
      { name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [TEST_SECRET] } } },
      { name: 'other', path: '/webhooks/other', verify: { hmac: { secrets: [TEST_SECRET] } } },
    ],
    connectors: { events: { type: 'file', path: `${dir}/events.jsonl` }, calls: { type: 'file', path: `${dir}/calls.jsonl` } },
    routes: [{ name: 'all', to: 'events' }, { name: 'initiated', match: { type: 'call.initiated' }, to: 'calls' }],
  }));
  admin = bridge.adminUrl!;
});
afterAll(async () => {
  await bridge?.stop();
});

const data = (message: SseMessage) => message.data as Record<string, unknown>;
let calls = 0;
const callId = () => `tail-${process.pid}-${++calls}`;

describe('GET /admin/tail', () => {
  it('needs the bearer token: 401 without it or with another', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all' }] as Record<string, string>[]) {
      const response = await fetch(`${admin}/admin/tail`, { headers });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
  });

  it('refuses an unknown filter with INVALID_REQUEST', async () => {
    const response = await fetch(`${admin}/admin/tail?colour=red`, { headers: auth });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
  });

  it('streams a webhook sent meanwhile within 2 s, with its delivery outcomes', async () => {
    const stream = await openSse(`${admin}/admin/tail`, auth);
    try {
      expect(stream.status).toBe(200);
      const call = callId();
      const sent = Date.now();
      const posted = await bridge.post('/webhooks/audian', audianV2Calls.initiated(call, { direction: 'inbound', from: '+14155550100', to: '+14155550199' }, Date.now()));
      expect(posted.status).toBe(200);
      const webhook = await stream.next((m) => m.event === 'webhook' && data(m).callId === call, 2_000, 'the webhook');
      expect(Date.now() - sent).toBeLessThan(2_000);
      expect(webhook.data).toMatchObject({ kind: 'webhook', source: 'main', outcome: 'accepted', type: 'call.initiated', from: '+14155550100', to: '+14155550199' });
      const delivered = await stream.next((m) => m.event === 'delivery' && data(m).callId === call && data(m).connector === 'calls', 5_000, 'the delivery');
      expect(delivered.data).toMatchObject({ kind: 'delivery', route: 'initiated', outcome: 'delivered', attempt: 1, source: 'main' });
      expect(typeof data(delivered).latencyMs).toBe('number');

      await bridge.post('/webhooks/audian', audianV2Calls.initiated(call, { direction: 'inbound' }, Date.now()));
      await stream.next((m) => data(m).callId === call && data(m).outcome === 'duplicate', 2_000, 'the duplicate');
      const refused = await bridge.post('/webhooks/audian', { event: 'call.initiated' }, { secret: 'not-the-secret' });
      expect(refused.status).toBe(401);
      const rejected = await stream.next((m) => data(m).outcome === 'rejected', 2_000, 'the rejected webhook');
      expect(rejected.data).toMatchObject({ kind: 'webhook', source: 'main', code: refused.body.error?.code });
    } finally {
      stream.close();
    }
  });

  it('applies each filter: source, type (a glob), connector, call', async () => {
    const call = callId();
    const other = callId();
    const streams = await Promise.all([
      openSse(`${admin}/admin/tail?source=other`, auth),
      openSse(`${admin}/admin/tail?type=call.answ*`, auth),
      openSse(`${admin}/admin/tail?connector=calls`, auth),
      openSse(`${admin}/admin/tail?call=${encodeURIComponent(call)}`, auth),
    ]);
    const [bySource, byType, byConnector, byCall] = streams;
    try {
      await bridge.post('/webhooks/audian', audianV2Calls.initiated(call, { direction: 'inbound' }, Date.now()));
      await bridge.post('/webhooks/other', audianV2Calls.initiated(other, { direction: 'inbound' }, Date.now()));
      await bridge.post('/webhooks/audian', audianV2Calls.answered(call, Date.now()));
      // The last to arrive of everything these filters could see: each stream has had its chance.
      await byConnector!.next((m) => data(m).callId === other, 5_000, 'the other call delivered to calls');
      await byCall!.next((m) => data(m).type === 'call.answered' && m.event === 'delivery', 5_000, 'the answer delivered');

      expect(bySource!.messages.length).toBeGreaterThan(0);
      expect(bySource!.messages.every((m) => data(m).source === 'other')).toBe(true);
      expect(byType!.messages.some((m) => data(m).callId === call && m.event === 'webhook')).toBe(true);
      expect(byType!.messages.every((m) => data(m).type === 'call.answered')).toBe(true);
      expect(byConnector!.messages.every((m) => m.event === 'delivery' && data(m).connector === 'calls')).toBe(true);
      expect(byCall!.messages.some((m) => m.event === 'webhook')).toBe(true);
      expect(byCall!.messages.every((m) => data(m).callId === call)).toBe(true);
    } finally {
      for (const stream of streams) stream.close();
    }
  });
});

describe('GET /admin/counts', () => {
  it('counts this process\'s webhooks by outcome and code, and attempts per connector, in the last hour', async () => {
    const before = (await (await fetch(`${admin}/admin/counts`, { headers: auth })).json()) as { lastHour: { accepted: number; rejected: Record<string, number>; connectors: Record<string, { delivered: number }> } };
    await bridge.post('/webhooks/audian', audianV2Calls.initiated(callId(), { direction: 'inbound' }, Date.now()));
    const refused = await bridge.post('/webhooks/audian', '{', { sign: true });
    const code = refused.body.error!.code;
    const response = await fetch(`${admin}/admin/counts`, { headers: auth });
    expect(response.status).toBe(200);
    const after = (await response.json()) as typeof before & { hour: { buckets: unknown[] }; day: { buckets: unknown[] } };
    expect(after.lastHour.accepted).toBe(before.lastHour.accepted + 1);
    expect(after.lastHour.rejected[code]).toBe((before.lastHour.rejected[code] ?? 0) + 1);
    expect(after.lastHour.connectors.events?.delivered).toBeGreaterThan(0);
    expect(after.hour.buckets).toHaveLength(60);
    expect(after.day.buckets).toHaveLength(24);
    expect((await fetch(`${admin}/admin/counts`)).status).toBe(401);
  });
});

describe('shutdown', () => {
  it('ends open streams at once instead of waiting for them', async () => {
    const stream = await openSse(`${admin}/admin/tail`, auth);
    expect(stream.status).toBe(200);
    const started = Date.now();
    const stopping = bridge.stop();
    await stream.ended;
    expect(Date.now() - started).toBeLessThan(2_000);
    await stopping;
  });
});
