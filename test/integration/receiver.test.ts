import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, postWebhook, readEvents, startBridge, TEST_SECRET, type TestBridge } from '../helpers/bridge.js';
import { waitFor } from '../helpers/wait.js';
import Database from '../../src/store/sqlite/driver.js';
import { signAudianRequest } from '../../src/verify/index.js';

const PATH = '/webhooks/audian';
let bridge: TestBridge;
let sequence = 0;

function v2Event(overrides: Record<string, unknown> = {}) {
  sequence++;
  return { id: `evt_rx_${sequence}`, timestamp: '2026-03-01T12:00:00Z', event: 'call.ringing', data: { call_id: `call_rx_${sequence}`, direction: 'inbound' }, ...overrides };
}

function storedEvents(): number {
  return (bridge.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
}
function storedDeliveries(): number {
  return (bridge.db.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number }).n;
}

beforeAll(async () => {
  bridge = await startBridge((dir) =>
    baseConfig(dir, {
      sources: [
        { name: 'main', path: PATH, verify: { hmac: { secrets: [TEST_SECRET, 'whsec_previous'], tolerance: '300s' } } },
        { name: 'voice', verify: { header: { name: 'X-Api-Key', value: 'voice-key' } }, dialects: ['voice'] },
        { name: 'open', verify: { none: true } },
      ],
    }),
  );
});
afterAll(() => bridge.stop());

describe('verification over HTTP', () => {
  let before: { events: number; deliveries: number };
  beforeAll(() => {
    before = { events: storedEvents(), deliveries: storedDeliveries() };
  });
  afterEach(() => {
    // A rejected request leaves nothing behind.
    expect({ events: storedEvents(), deliveries: storedDeliveries() }).toEqual(before);
  });

  const cases: [string, string, () => Promise<{ status: number; body: { error?: { code: string } } }>][] = [
    ['unsigned request', 'SIGNATURE_MISSING', () => postWebhook(bridge.url + PATH, v2Event(), { sign: false })],
    ['wrong secret', 'SIGNATURE_MISMATCH', () => postWebhook(bridge.url + PATH, v2Event(), { secret: 'whsec_wrong' })],
    ['stale timestamp', 'TIMESTAMP_OUT_OF_TOLERANCE', () => postWebhook(bridge.url + PATH, v2Event(), { timestamp: Math.floor(Date.now() / 1000) - 301 })],
    // Whole seconds, rounded down: one second past the tolerance would be inside it once the request crosses a second
    // boundary on its way (a stale timestamp only gets staler).
    ['future timestamp', 'TIMESTAMP_OUT_OF_TOLERANCE', () => postWebhook(bridge.url + PATH, v2Event(), { timestamp: Math.floor(Date.now() / 1000) + 310 })],
    [
      'body altered by one byte after signing',
      'SIGNATURE_MISMATCH',
      () => {
        const body = JSON.stringify(v2Event());
        const headers = signAudianRequest(body, TEST_SECRET);
        return postWebhook(bridge.url + PATH, body.replace('inbound', 'inbounD'), { sign: false, headers });
      },
    ],
    [
      'missing timestamp header',
      'TIMESTAMP_MISSING',
      () => {
        const body = JSON.stringify(v2Event());
        const { 'x-audian-signature': signature } = signAudianRequest(body, TEST_SECRET);
        return postWebhook(bridge.url + PATH, body, { sign: false, headers: { 'x-audian-signature': signature! } });
      },
    ],
    ['static header missing', 'AUTH_HEADER_MISSING', () => postWebhook(`${bridge.url}/webhooks/voice`, { event_type: 'call_initiated', timestamp_utc: 1, payload: { call_id: 1 } }, { sign: false })],
    [
      'static header wrong',
      'AUTH_HEADER_MISMATCH',
      () => postWebhook(`${bridge.url}/webhooks/voice`, { event_type: 'call_initiated', timestamp_utc: 1, payload: { call_id: 1 } }, { sign: false, headers: { 'x-api-key': 'nope' } }),
    ],
  ];
  it.each(cases)('%s → 401 %s', async (_name, code, send) => {
    const answer = await send();
    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe(code);
  });

  it('accepts the old secret during a rotation, and the bare hex signature form', async () => {
    const rotated = await postWebhook(bridge.url + PATH, v2Event(), { secret: 'whsec_previous' });
    expect(rotated.status).toBe(200);
    const body = JSON.stringify(v2Event());
    const headers = signAudianRequest(body, TEST_SECRET, { prefix: false });
    expect(headers['x-audian-signature']).toMatch(/^[0-9a-f]{64}$/);
    const bare = await postWebhook(bridge.url + PATH, body, { sign: false, headers });
    expect(bare.status).toBe(200);
    before = { events: storedEvents(), deliveries: storedDeliveries() };
  });

  it('accepts the static header and an explicitly unverified source', async () => {
    const voice = await postWebhook(`${bridge.url}/webhooks/voice`, { event_type: 'call_initiated', timestamp_utc: 1760084505, payload: { call_id: 77 } }, { sign: false, headers: { 'x-api-key': 'voice-key' } });
    expect(voice).toMatchObject({ status: 200, body: { deliveries: 1 } });
    const open = await postWebhook(`${bridge.url}/webhooks/open`, v2Event(), { sign: false });
    expect(open.status).toBe(200);
    before = { events: storedEvents(), deliveries: storedDeliveries() };
  });
});

describe('bad input', () => {
  let before: { events: number; deliveries: number };
  beforeAll(() => {
    before = { events: storedEvents(), deliveries: storedDeliveries() };
  });
  afterEach(() => {
    expect({ events: storedEvents(), deliveries: storedDeliveries() }).toEqual(before);
  });

  function deep(levels: number): string {
    return `{"event":"call.ringing","id":"evt_deep","data":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
  }
  const oneMegabyte = 1024 * 1024;
  function padded(total: number): string {
    const core = JSON.stringify(v2Event());
    return core.slice(0, -1) + `,"pad":"${'x'.repeat(total - core.length - 9)}"}`;
  }

  const cases: [string, number, string, unknown, { contentType?: string; headers?: Record<string, string> }][] = [
    ['malformed JSON', 400, 'INVALID_JSON', '{"event": "call.ringing", "data": {', {}],
    ['empty body', 400, 'INVALID_JSON', '', {}],
    ['invalid UTF-8', 400, 'INVALID_JSON', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), {}],
    ['a JSON array', 422, 'NOT_AN_OBJECT', '[{"event":"call.ringing","data":{}}]', {}],
    ['a JSON string', 422, 'NOT_AN_OBJECT', '"call.ringing"', {}],
    ['1 MB + 1 byte', 413, 'BODY_TOO_LARGE', 'PADDED', {}],
    ['text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE', JSON.stringify({ event: 'call.ringing', data: {} }), { contentType: 'text/plain' }],
    ['form encoded', 415, 'UNSUPPORTED_MEDIA_TYPE', 'event=call.ringing', { contentType: 'application/x-www-form-urlencoded' }],
    ['JSON in Latin-1', 415, 'UNSUPPORTED_MEDIA_TYPE', JSON.stringify({ event: 'call.ringing', data: {} }), { contentType: 'application/json; charset=iso-8859-1' }],
    ['deeply nested JSON', 400, 'JSON_TOO_DEEP', deep(64), {}],
    ['a __proto__ key', 400, 'FORBIDDEN_JSON_KEY', '{"event":"call.ringing","id":"evt_p","data":{"call_id":"c","__proto__":{"polluted":true}}}', {}],
    ['JSON of no dialect', 422, 'UNKNOWN_DIALECT', JSON.stringify({ type: 'call.ringing', payload: {} }), {}],
    ['a number beyond a double (1e400)', 400, 'NUMBER_OUT_OF_RANGE', '{"id":"evt_inf","event":"call.ringing","data":{"call_id":"c","n":1e400}}', {}],
    ['a NUL in the call id', 400, 'NUL_CHARACTER', '{"id":"evt_nul","event":"call.ringing","data":{"call_id":"c\\u0000d"}}', {}],
    ['a lone surrogate in the call id', 400, 'LONE_SURROGATE', '{"id":"evt_lone","event":"call.ringing","data":{"call_id":"cs_\\ud800"}}', {}],
    ['a gzip body', 415, 'UNSUPPORTED_CONTENT_ENCODING', gzipSync(JSON.stringify(v2Event())), { headers: { 'content-encoding': 'gzip' } }],
    ['a deflate body', 415, 'UNSUPPORTED_CONTENT_ENCODING', JSON.stringify(v2Event()), { headers: { 'content-encoding': 'deflate' } }],
    ['a brotli body', 415, 'UNSUPPORTED_CONTENT_ENCODING', JSON.stringify(v2Event()), { headers: { 'content-encoding': 'br' } }],
  ];
  it.each(cases)('%s → %i %s', async (_name, status, code, body, options) => {
    const raw = body === 'PADDED' ? padded(oneMegabyte + 1) : body;
    if (body === 'PADDED') expect(Buffer.byteLength(raw as string)).toBe(oneMegabyte + 1);
    const answer = await postWebhook(bridge.url + PATH, raw, options);
    expect(answer.status).toBe(status);
    expect(answer.body.error?.code).toBe(code);
    expect(typeof answer.body.error?.message).toBe('string');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a dialect the source does not accept → 422 DIALECT_NOT_ACCEPTED', async () => {
    const answer = await postWebhook(`${bridge.url}/webhooks/voice`, v2Event(), { sign: false, headers: { 'x-api-key': 'voice-key' } });
    expect(answer).toMatchObject({ status: 422, body: { error: { code: 'DIALECT_NOT_ACCEPTED' } } });
  });

  it('a body of exactly the limit is read (the limit is inclusive)', async () => {
    const raw = padded(oneMegabyte);
    expect(Buffer.byteLength(raw)).toBe(oneMegabyte);
    const answer = await postWebhook(bridge.url + PATH, raw);
    expect(answer.status).toBe(200);
    before = { events: storedEvents(), deliveries: storedDeliveries() };
  });
});

describe('unknown event types', () => {
  it('are normalized and routed, not rejected', async () => {
    const answer = await bridge.post(PATH, { id: 'evt_unknown_1', timestamp: '2026-03-01T12:00:00Z', event: 'Conference.Participant_Joined', data: { call_id: 'call_conf', who: 'x' } });
    expect(answer).toMatchObject({ status: 200, body: { id: 'evt_unknown_1', deliveries: 1 } });
    const hooks = await bridge.post(PATH, { id: 'evt_unknown_2', account_id: 'acc', hook: 'parking_lot_update', timestamp: '2026-03-01T12:00:00Z', data: { slot: 3 } });
    expect(hooks.status).toBe(200);
    const events = await waitFor(() => {
      const found = readEvents(join(bridge.dir, 'events.jsonl')).filter((event) => event.id.startsWith('evt_unknown_'));
      return found.length === 2 && found;
    });
    expect(events.map((event) => event.type).sort()).toEqual(['conference.participant_joined', 'parking.lot_update']);
    expect(events.find((event) => event.id === 'evt_unknown_1')?.data).toMatchObject({ who: 'x' });
  });
});

describe('HTTP surface', () => {
  it('serves liveness, readiness and metrics', async () => {
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${bridge.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/audian_bridge_webhooks_total\{[^}]*outcome="accepted"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/audian_bridge_webhooks_total\{[^}]*outcome="SIGNATURE_MISMATCH"[^}]*\} [1-9]/);
  });

  it('answers unknown paths and wrong methods with JSON errors', async () => {
    const missing = await fetch(`${bridge.url}/webhooks/nope`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const wrongMethod = await fetch(bridge.url + PATH);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(await wrongMethod.json()).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });
  });

  it('answers a method the receiver does not implement with 501 NOT_IMPLEMENTED, not 500', async () => {
    const answer = await fetch(bridge.url + PATH, { method: 'PURGE' });
    expect(answer.status).toBe(501);
    expect(await answer.json()).toMatchObject({ error: { code: 'NOT_IMPLEMENTED' } });
  });

  it('answers 503 STORE_UNAVAILABLE when the store refuses the write, and stores nothing', async () => {
    const before = storedEvents();
    // Another connection holds the file's write lock for longer than the store waits.
    const holder = new Database(bridge.db.name);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const answer = await bridge.post(PATH, v2Event());
      expect(answer).toMatchObject({ status: 503, body: { error: { code: 'STORE_UNAVAILABLE' } } });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(storedEvents()).toBe(before);
  });
});

describe('hostile payloads', () => {
  function stored(id: string): { type: string; subject?: string; data: Record<string, unknown> }[] {
    return (bridge.db.prepare('SELECT body FROM events WHERE id = ?').all(id) as { body: string }[]).map((row) => JSON.parse(row.body));
  }

  it.each([
    ['event', { id: 'evt_proto_1', timestamp: '2026-03-01T12:00:00Z', event: 'constructor', data: { call_id: 'call_proto_1' } }, 'constructor'],
    ['hook', { id: 'evt_proto_2', hook: '__proto__', timestamp: '2026-03-01T12:00:00Z', data: { call_id: 'call_proto_2', status: 'toString' } }, 'proto'],
    ['event_type', { event_type: 'toString', timestamp_utc: 1760084505, payload: { call_id: 'call_proto_3' } }, 'tostring'],
  ])('a prototype name as %s is an ordinary unknown type: 200, stored, routed', async (_field, body, type) => {
    const answer = await bridge.post(PATH, body);
    expect(answer).toMatchObject({ status: 200, body: { deliveries: 1 } });
    expect(stored(answer.body.id as string).map((event) => event.type)).toEqual([type]);
  });

  it('a payload key toString is stored as toString, with its value', async () => {
    const answer = await bridge.post(PATH, { id: 'evt_proto_key', hook: 'channel_create', timestamp: '2026-03-01T12:00:00Z', data: { call_id: 'call_pk', toString: 'kept', valueOf: 3 } });
    expect(answer.status).toBe(200);
    const [event] = stored('evt_proto_key');
    expect(event!.data).toMatchObject({ toString: 'kept', valueOf: 3 });
  });

  it('event ids 9007199254740993 and 9007199254740992 are two events, not a duplicate', async () => {
    const first = await bridge.post(PATH, '{"id": 9007199254740993, "timestamp": "2026-03-01T12:00:00Z", "event": "call.ringing", "data": {"call_id": "call_big_ids"}}');
    const second = await bridge.post(PATH, '{"id": 9007199254740992, "timestamp": "2026-03-01T12:00:00Z", "event": "call.ringing", "data": {"call_id": "call_big_ids"}}');
    expect(first).toEqual({ status: 200, body: { id: '9007199254740993', deliveries: 1 } });
    expect(second).toEqual({ status: 200, body: { id: '9007199254740992', deliveries: 1 } });
    expect(stored('9007199254740993')).toHaveLength(1);
    expect(stored('9007199254740992')).toHaveLength(1);
  });

  it('numeric call ids beyond 2^53 stay two calls', async () => {
    await bridge.post(PATH, '{"id": "evt_big_call_a", "timestamp": "2026-03-01T12:00:00Z", "event": "call.initiated", "data": {"call_id": 9007199254740993, "call_type": "inbound"}}');
    await bridge.post(PATH, '{"id": "evt_big_call_b", "timestamp": "2026-03-01T12:00:00Z", "event": "call.initiated", "data": {"call_id": 9007199254740992, "call_type": "outbound"}}');
    const [a] = stored('evt_big_call_a');
    const [b] = stored('evt_big_call_b');
    expect([a!.subject, a!.data.call_id, (a!.data.call as { id: string }).id]).toEqual(['9007199254740993', '9007199254740993', '9007199254740993']);
    expect([b!.subject, (b!.data.call as { direction: string }).direction]).toEqual(['9007199254740992', 'outbound']);
    const calls = bridge.db.prepare("SELECT count(*) AS n FROM calls WHERE call_id IN ('9007199254740993', '9007199254740992')").get() as { n: number };
    expect(calls.n).toBe(2);
  });
});
