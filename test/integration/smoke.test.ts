import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import { readEvents, startBridge, type TestBridge } from '../helpers/bridge.js';
import { waitFor } from '../helpers/wait.js';

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(() => bridge.stop());

it('accepts a signed event and writes it to the file connector', async () => {
  const res = await bridge.post('/webhooks/audian', { id: 'evt_smoke', timestamp: '2026-01-01T00:00:00Z', event: 'call.ringing', data: { call_id: 'c1', direction: 'inbound', from: '+1', to: '+2' } });
  expect(res).toMatchObject({ status: 200, body: { id: 'evt_smoke', deliveries: 1 } });
  const events = await waitFor(() => readEvents(join(bridge.dir, 'events.jsonl')).filter((e) => e.id === 'evt_smoke').length === 1 && readEvents(join(bridge.dir, 'events.jsonl')));
  expect(events[0]).toMatchObject({ type: 'call.ringing', subject: 'c1', source: 'audian/main', dialect: 'audian.v2' });
});
