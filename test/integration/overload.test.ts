import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../../src/store/sqlite/driver.js';
import YAML from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signAudianRequest } from '../../src/verify/index.js';
import { baseConfig, postWebhook, TEST_SECRET } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';

const MAX_PENDING = 4;
const BURST = 16;

let dir: string;
let bridge: ChildBridge | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-overload-'));
  const config = baseConfig(dir, { store: { path: join(dir, 'bridge.db'), max_pending_commits: MAX_PENDING } });
  writeFileSync(join(dir, 'config.yaml'), YAML.stringify(config));
  bridge = await startChildBridge(join(dir, 'config.yaml'));
});
afterAll(async () => {
  if (bridge) await stopChildBridge(bridge, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function webhook(index: number) {
  return { id: `evt_overload_${index}`, timestamp: '2026-03-01T12:00:00Z', event: 'call.initiated', data: { call_id: `call_overload_${index}` } };
}

async function post(index: number) {
  const body = JSON.stringify(webhook(index));
  const started = performance.now();
  const response = await fetch(`${bridge!.url}/webhooks/audian`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signAudianRequest(body, TEST_SECRET) },
    body,
  });
  const answer = (await response.json()) as { error?: { code: string } };
  return { index, status: response.status, code: answer.error?.code, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started };
}

it('past store.max_pending_commits a webhook is answered 503 OVERLOADED with Retry-After at once, not queued; nothing refused is stored', async () => {
  // An operator's `BEGIN IMMEDIATE` holds the write lock: the first commits wait on it, the queue fills.
  const operator = new Database(join(dir, 'bridge.db'));
  operator.exec('BEGIN IMMEDIATE');
  let answers: Awaited<ReturnType<typeof post>>[];
  try {
    answers = await Promise.all(Array.from({ length: BURST }, (_, index) => post(index)));
  } finally {
    operator.exec('ROLLBACK');
  }
  const overloaded = answers.filter((answer) => answer.code === 'OVERLOADED');
  const waited = answers.filter((answer) => answer.code !== 'OVERLOADED');
  // At most MAX_PENDING reached the store at a time; the rest were turned away.
  expect(overloaded.length).toBeGreaterThanOrEqual(BURST - 2 * MAX_PENDING);
  for (const answer of overloaded) expect(answer).toMatchObject({ status: 503, retryAfter: '5' });
  // Those that waited for the lock heard STORE_UNAVAILABLE after the store's retries; the refused ones, before any of them.
  for (const answer of waited) expect(answer).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
  expect(Math.max(...overloaded.map((answer) => answer.ms))).toBeLessThan(Math.min(...waited.map((answer) => answer.ms)));

  const db = new Database(join(dir, 'bridge.db'), { readonly: true });
  try {
    expect(db.prepare("SELECT count(*) AS n FROM events WHERE id LIKE 'evt_overload_%'").get()).toEqual({ n: 0 });
  } finally {
    db.close();
  }
  // The queue drained with the lock: the next webhook is taken.
  expect((await postWebhook(`${bridge!.url}/webhooks/audian`, webhook(BURST))).status).toBe(200);
});
