import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../../src/store/sqlite/driver.js';
import YAML from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signAudianRequest } from '../../src/verify/index.js';
import { baseConfig, postWebhook, readEvents, TEST_SECRET, waitForOutboxDelivered } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let crm: RecordingServer;
let bridge: ChildBridge | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-faults-'));
  // Slow answers, so the sends are still running when the lock is taken and complete while it is held.
  crm = await startRecordingServer(() => ({ status: 200, delayMs: 1_500 }));
  const config = baseConfig(dir, {
    log: { level: 'info' },
    connectors: {
      events: { type: 'file', path: join(dir, 'events.jsonl') },
      crm: { type: 'http', url: `${crm.url}/events` },
    },
    routes: [{ name: 'all', to: ['events', 'crm'] }],
  });
  writeFileSync(join(dir, 'config.yaml'), YAML.stringify(config));
});
afterAll(async () => {
  if (bridge) await stopChildBridge(bridge, 'SIGKILL');
  await crm.close();
  rmSync(dir, { recursive: true, force: true });
});

const CALLS = 5;

function webhook(index: number) {
  return {
    id: `evt_fault_${index}`,
    timestamp: new Date(Date.UTC(2026, 2, 1, 12, 0, index)).toISOString(),
    event: 'call.initiated',
    data: { call_id: `call_fault_${index % CALLS}`, direction: 'outbound' },
  };
}

async function timed<T>(task: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await task();
  return { value, ms: performance.now() - started };
}

it('another connection holding the write lock: 503 and not ready meanwhile, no freeze, no exit; afterwards every event delivered once', async () => {
  bridge = await startChildBridge(join(dir, 'config.yaml'));
  const url = `${bridge.url}/webhooks/audian`;
  const acknowledged: string[] = [];
  for (let index = 0; index < 10; index++) {
    const answer = await postWebhook(url, webhook(index));
    expect(answer.status).toBe(200);
    acknowledged.push(answer.body.id as string);
  }

  // An operator's `sqlite3 bridge.db` then `BEGIN IMMEDIATE;`, while the CRM sends are in flight.
  const operator = new Database(join(dir, 'bridge.db'));
  operator.exec('BEGIN IMMEDIATE');
  try {
    const body = JSON.stringify(webhook(10));
    const refused = await timed(() => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...signAudianRequest(body, TEST_SECRET) }, body }));
    expect(refused.value.status).toBe(503);
    expect(refused.value.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.value.json()).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
    expect(refused.ms).toBeLessThan(3_000);

    const readyz = await fetch(`${bridge.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.headers.get('content-type')).toMatch(/json/);

    // A CRM send completes while the lock is held: its outcome cannot be written yet.
    await waitFor(() => /could not record delivery outcomes/.test(bridge!.output()), { what: 'an outcome the store refused' });
    // The event loop stays free the whole time.
    const deadline = Date.now() + 2_500;
    while (Date.now() < deadline) {
      const health = await timed(() => fetch(`${bridge!.url}/healthz`));
      expect(health.value.status).toBe(200);
      expect(health.ms).toBeLessThan(500);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(bridge.process.exitCode).toBeNull();
  } finally {
    operator.exec('ROLLBACK');
    operator.close();
  }

  // It resumes by itself.
  await waitFor(async () => (await fetch(`${bridge!.url}/readyz`)).status === 200, { what: 'ready again' });
  const late = await postWebhook(url, webhook(10));
  expect(late.status).toBe(200);
  acknowledged.push(late.body.id as string);

  expect(await waitForOutboxDelivered(join(dir, 'bridge.db'))).toBe(acknowledged.length * 2);
  const lines = readEvents(join(dir, 'events.jsonl')).map((event) => event.id);
  expect(lines.sort()).toEqual([...acknowledged].sort());
  // The CRM gets the canonical event itself (no body mapping): its id is the event's.
  const sent = crm.requests.map((request) => (JSON.parse(request.body) as { id: string }).id);
  expect(sent.sort()).toEqual([...acknowledged].sort());
  expect(bridge.output()).toMatch(/delivery outcomes recorded after the store recovered/);
}, 60_000);
