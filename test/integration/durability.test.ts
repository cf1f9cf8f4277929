import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { baseConfig, postWebhook, readEvents } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let crm: RecordingServer;
let bridge: ChildBridge | undefined;
let configPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-durability-'));
  crm = await startRecordingServer(() => ({ status: 503 })); // the CRM is down while events arrive
  configPath = join(dir, 'config.yaml');
  const config = baseConfig(dir, {
    log: { level: 'info' },
    dispatch: { retry_initial: '50ms', retry_max: '500ms', poll_interval: '100ms', max_attempts: 1000 },
    connectors: {
      events: { type: 'file', path: join(dir, 'events.jsonl') },
      crm: { type: 'http', url: `${crm.url}/events` },
    },
    routes: [{ name: 'all', to: ['events', 'crm'] }],
  });
  writeFileSync(configPath, YAML.stringify(config));
});
afterAll(async () => {
  if (bridge) await stopChildBridge(bridge, 'SIGKILL');
  await crm.close();
  rmSync(dir, { recursive: true, force: true });
});

it('every acknowledged event is delivered after a SIGKILL right after the 200s', async () => {
  bridge = await startChildBridge(configPath);
  const url = `${bridge.url}/webhooks/audian`;
  const acknowledged: string[] = [];
  // 60 events of 12 calls, 6 at a time; the process dies the moment the last 200 arrives.
  const events = Array.from({ length: 60 }, (_, index) => ({
    id: `evt_durable_${index}`,
    timestamp: new Date(Date.UTC(2026, 2, 1, 12, 0, index)).toISOString(),
    event: 'call.initiated',
    data: { call_id: `call_durable_${index % 12}`, direction: 'outbound' },
  }));
  for (let start = 0; start < events.length; start += 6) {
    const answers = await Promise.all(events.slice(start, start + 6).map((event) => postWebhook(url, event)));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      acknowledged.push(answer.body.id as string);
    }
  }
  bridge.process.kill('SIGKILL');
  expect(await bridge.exited).toBe('SIGKILL');
  expect(acknowledged).toHaveLength(60);

  // The CRM comes back; only what it receives from now on counts as delivered there.
  const upFrom = crm.requests.length;
  crm.respondWith(() => ({ status: 200 }));
  bridge = await startChildBridge(configPath);
  // Each request's body is the canonical event; the connector's health probe (a HEAD) comes here too.
  const delivered = () =>
    crm.requests
      .slice(upFrom)
      .filter((request) => request.method !== 'HEAD')
      .map((request) => (JSON.parse(request.body) as { id: string }).id);
  await waitFor(() => acknowledged.every((id) => delivered().includes(id)), { what: 'all 60 events at the CRM', timeoutMs: 20_000 });
  await waitFor(
    () => {
      const written = new Set(readEvents(join(dir, 'events.jsonl')).map((event) => event.id));
      return acknowledged.every((id) => written.has(id));
    },
    { what: 'all 60 events in the file', timeoutMs: 20_000 },
  );

  // Each call's events reached the CRM in the order they were accepted, across the crash.
  const firstDelivery = (id: string) => delivered().indexOf(id);
  for (let call = 0; call < 12; call++) {
    const ids = events.filter((_, index) => index % 12 === call).map((event) => event.id);
    const positions = ids.map(firstDelivery);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  }

  expect(await stopChildBridge(bridge)).toBe(0); // a clean SIGTERM exit
  bridge = undefined;
});

it('SIGTERM lets the send in flight finish and records it before exiting', async () => {
  crm.respondWith(() => ({ status: 200, delayMs: 1500 }));
  const before = crm.requests.length;
  bridge = await startChildBridge(configPath);
  const answer = await postWebhook(`${bridge.url}/webhooks/audian`, { id: 'evt_in_flight', timestamp: '2026-03-01T13:00:00Z', event: 'call.initiated', data: { call_id: 'call_in_flight' } });
  expect(answer.status).toBe(200);
  await waitFor(() => crm.requests.slice(before).some((request) => request.method !== 'HEAD' && (JSON.parse(request.body) as { id: string }).id === 'evt_in_flight'), { what: 'the request in flight' });
  expect(await stopChildBridge(bridge)).toBe(0);
  bridge = undefined;

  const store = await openStore({ path: join(dir, 'bridge.db') });
  try {
    const rows = (await store.list({ connector: 'crm', limit: 500 })).filter((row) => row.eventId === 'evt_in_flight');
    expect(rows.map((row) => row.status)).toEqual(['delivered']);
  } finally {
    await store.close();
  }
});
