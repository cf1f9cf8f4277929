import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readEvents, startBridge, type TestBridge } from '../helpers/bridge.js';
import { waitFor } from '../helpers/wait.js';

const PATH = '/webhooks/audian';
let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(() => bridge.stop());

function eventsWithId(id: string) {
  return readEvents(join(bridge.dir, 'events.jsonl')).filter((event) => event.id === id);
}
function rowsFor(id: string): { events: number; deliveries: number } {
  const events = (bridge.db.prepare('SELECT count(*) AS n FROM events WHERE id = ?').get(id) as { n: number }).n;
  const deliveries = (
    bridge.db.prepare('SELECT count(*) AS n FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.id = ?').get(id) as { n: number }
  ).n;
  return { events, deliveries };
}

it('the same event sent twice is stored and routed once; the second answer says duplicate', async () => {
  const event = { id: 'evt_dup_seq', timestamp: '2026-03-01T12:00:00Z', event: 'call.initiated', data: { call_id: 'call_dup_seq', direction: 'inbound' } };
  const first = await bridge.post(PATH, event);
  const second = await bridge.post(PATH, event); // a provider retry is signed anew
  expect(first).toMatchObject({ status: 200, body: { id: 'evt_dup_seq', deliveries: 1 } });
  expect(second).toEqual({ status: 200, body: { id: 'evt_dup_seq', duplicate: true } });
  expect(rowsFor('evt_dup_seq')).toEqual({ events: 1, deliveries: 1 });
  // A marker event sent afterwards proves the dispatcher has drained past the duplicate.
  await bridge.post(PATH, { id: 'evt_dup_marker', timestamp: '2026-03-01T12:00:01Z', event: 'call.initiated', data: { call_id: 'call_dup_seq' } });
  await waitFor(() => eventsWithId('evt_dup_marker').length === 1, { what: 'the marker event' });
  expect(eventsWithId('evt_dup_seq')).toHaveLength(1);
});

it('twenty concurrent copies of one event: exactly one accepted, nineteen duplicates, one delivery', async () => {
  const body = JSON.stringify({ id: 'evt_dup_par', timestamp: '2026-03-01T12:00:00Z', event: 'call.ringing', data: { call_id: 'call_dup_par' } });
  const answers = await Promise.all(Array.from({ length: 20 }, () => bridge.post(PATH, body)));
  expect(answers.every((answer) => answer.status === 200)).toBe(true);
  expect(answers.filter((answer) => answer.body.duplicate === true)).toHaveLength(19);
  expect(answers.filter((answer) => answer.body.deliveries === 1)).toHaveLength(1);
  expect(rowsFor('evt_dup_par')).toEqual({ events: 1, deliveries: 1 });
  await bridge.post(PATH, { id: 'evt_dup_par_marker', timestamp: '2026-03-01T12:00:01Z', event: 'call.answered', data: { call_id: 'call_dup_par' } });
  await waitFor(() => eventsWithId('evt_dup_par_marker').length === 1, { what: 'the marker event' });
  expect(eventsWithId('evt_dup_par')).toHaveLength(1);
});

it('concurrent copies across different calls are deduped independently', async () => {
  const bodies = Array.from({ length: 10 }, (_, index) =>
    JSON.stringify({ id: `evt_multi_${index}`, timestamp: '2026-03-01T12:00:00Z', event: 'call.initiated', data: { call_id: `call_multi_${index}` } }),
  );
  const answers = await Promise.all(bodies.flatMap((body) => [bridge.post(PATH, body), bridge.post(PATH, body), bridge.post(PATH, body)]));
  expect(answers.filter((answer) => answer.status === 200 && answer.body.deliveries === 1)).toHaveLength(10);
  expect(answers.filter((answer) => answer.status === 200 && answer.body.duplicate === true)).toHaveLength(20);
});

it('a voice payload, which has no id, is deduped by its body: a retry resends the same bytes', async () => {
  const body = JSON.stringify({ event_type: 'call_ringing', timestamp_utc: 1760084555, payload: { call_id: 4242, direction: 'inbound' }, is_test: false });
  const first = await bridge.post(PATH, body);
  const retry = await bridge.post(PATH, body);
  const other = await bridge.post(PATH, body.replace('1760084555', '1760084556'));
  expect(first.status).toBe(200);
  expect(retry.body).toEqual({ id: first.body.id, duplicate: true });
  expect(other.body.id).not.toBe(first.body.id);
  expect(other.body.duplicate).toBeUndefined();
});

it('a dedupe entry expires after dedupe_ttl: the same event is new again', async () => {
  const event = { id: 'evt_ttl', timestamp: '2026-03-01T12:00:00Z', event: 'recording.started', data: { call_id: 'call_ttl' } };
  expect((await bridge.post(PATH, event)).body.deliveries).toBe(1);
  // Delivered as the outbox records it (the file line appears just before that), so pruning may take it.
  await waitFor(async () => (await bridge.store.list({ status: 'delivered', limit: 1000 })).some((row) => row.eventId === 'evt_ttl'), { what: 'the first delivery' });
  const sevenDays = 7 * 24 * 3600 * 1000;
  expect((await bridge.store.prune(Date.now() + sevenDays - 60_000, sevenDays, 1000)).events).toBe(0);
  expect((await bridge.post(PATH, event)).body.duplicate).toBe(true);
  expect((await bridge.store.prune(Date.now() + sevenDays + 60_000, sevenDays, 1000)).events).toBeGreaterThan(0);
  expect((await bridge.post(PATH, event)).body).toEqual({ id: 'evt_ttl', deliveries: 1 });
});
