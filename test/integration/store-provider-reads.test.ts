import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createDatabase, type TestDatabase } from '../helpers/postgres.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/**
 * The store's two reads for the provider's side, on both stores: when a
 * source last received an event (derived types left out), and which of a list
 * of ids a source stored.
 */

const T0 = Date.parse('2026-03-01T12:00:00Z');
const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-provider-reads-'));
let database: TestDatabase | undefined;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await database?.drop();
});

function event(id: string, source: string, type = 'call.completed'): CanonicalEvent {
  return { specversion: '1.0', id, source, type, time: new Date(T0).toISOString(), datacontenttype: 'application/json', dialect: 'audian.v2', test: false, data: {} };
}

async function commit(store: Store, ev: CanonicalEvent, receivedAt: number): Promise<void> {
  await store.commit({ event: ev, receivedAt, advance: () => ({ event: ev, targets: [] }) });
}

async function exercise(store: Store): Promise<void> {
  expect(await store.lastReceivedAt('audian/main', [])).toBeUndefined();
  await commit(store, event('evt-1', 'audian/main'), T0);
  await commit(store, event('evt-2', 'audian/main'), T0 + 1_000);
  await commit(store, event('evt-3', 'audian/other'), T0 + 5_000);
  await commit(store, event('evt-2.summary', 'audian/main', 'call.summary'), T0 + 9_000);
  expect(await store.lastReceivedAt('audian/main', [])).toBe(T0 + 9_000);
  expect(await store.lastReceivedAt('audian/main', ['call.missed', 'call.summary'])).toBe(T0 + 1_000);
  expect(await store.lastReceivedAt('audian/nowhere', ['call.summary'])).toBeUndefined();

  expect([...(await store.storedEventIds('audian/main', ['evt-1', 'evt-3', 'evt-9', 'evt-2']))].sort()).toEqual(['evt-1', 'evt-2']);
  expect([...(await store.storedEventIds('audian/other', ['evt-3']))]).toEqual(['evt-3']);
  expect((await store.storedEventIds('audian/main', [])).size).toBe(0);
  // More ids than one statement takes.
  const many = Array.from({ length: 1_234 }, (_, index) => `x-${index}`);
  expect([...(await store.storedEventIds('audian/main', [...many, 'evt-1']))]).toEqual(['evt-1']);
}

describe('provider reads', () => {
  it('SQLite', async () => {
    const store = await openStore({ path: join(dir, 'bridge.db') });
    try {
      await exercise(store);
    } finally {
      await store.close();
    }
  });

  const server = (inject as (key: string) => unknown)('postgres') as { url: string | null; skipReason: string | null } | undefined;
  const url = server?.url ?? process.env.AUDIAN_TEST_POSTGRES_URL?.trim() ?? null;
  if (!url) skipOrFail('PostgreSQL provider reads', server?.skipReason ?? 'no PostgreSQL server');
  it.runIf(url)('PostgreSQL', async () => {
    database = await createDatabase(url as string, 'audian_provider_reads');
    const store = await openStore({ path: '', url: database.url });
    try {
      await exercise(store);
    } finally {
      await store.close();
    }
  });
});
