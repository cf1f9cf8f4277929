import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import type { CommitRequest } from '../../src/store/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { describeStoreContract } from '../contract/store.js';

// On a real file (WAL, synchronous=FULL), as the bridge runs it.
describeStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-'));
  const store = createSqliteStore(join(dir, 'bridge.db'));
  return {
    store,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite: one serving process per file', () => {
  it('a second exclusive store on the file is refused with STORE_LOCKED until the first closes; a plain one opens beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-lock-'));
    const path = join(dir, 'not-yet', 'bridge.db'); // the folder is created, as for the embedded default
    try {
      const serving = createSqliteStore(path, { exclusive: true });
      expect(() => createSqliteStore(path, { exclusive: true })).toThrow(expect.objectContaining({ code: 'STORE_LOCKED' }));
      const maintenance = createSqliteStore(path);
      expect(await maintenance.list({})).toEqual([]);
      await maintenance.close();
      await serving.close();
      const next = createSqliteStore(path, { exclusive: true });
      await next.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite: bounded wait for the store', () => {
  function slowRequest(id: string, subject: string | undefined, release: Promise<void>): CommitRequest {
    const event: CanonicalEvent = {
      specversion: '1.0',
      id,
      source: 'audian/bound',
      type: 'call.ringing',
      ...(subject === undefined ? {} : { subject }),
      time: '2026-03-01T12:00:00.000Z',
      datacontenttype: 'application/json',
      dialect: 'audian.v2',
      test: false,
      data: {},
    };
    return {
      event,
      receivedAt: Date.now(),
      async advance() {
        await release; // routing that takes its time: the commit stays pending
        return { event, targets: [{ route: 'all', connector: 'sink' }] };
      },
    };
  }

  it('past max pending commits a commit fails at once with OVERLOADED; the pending ones still commit, and a later one is taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-bound-'));
    const store = createSqliteStore(join(dir, 'bridge.db'), { maxPendingCommits: 3 });
    try {
      let open!: () => void;
      const release = new Promise<void>((resolve) => (open = resolve));
      // Two waiting behind one call, one without a call: three pending.
      const pending = [slowRequest('a', 'call-1', release), slowRequest('b', 'call-1', release), slowRequest('c', undefined, release)].map((r) => store.commit(r));
      const started = Date.now();
      const refused = await store.commit(slowRequest('d', 'call-2', release)).then(() => undefined, (err: unknown) => err);
      expect(refused).toMatchObject({ code: 'OVERLOADED' });
      expect(Date.now() - started).toBeLessThan(1_000);
      open();
      expect(await Promise.all(pending)).toEqual([1, 2, 3].map(() => ({ duplicate: false, targets: [{ route: 'all', connector: 'sink' }] })));
      await expect(store.commit(slowRequest('d', 'call-2', release))).resolves.toMatchObject({ duplicate: false });
      expect((await store.list({})).map((record) => record.eventId).sort()).toEqual(['a', 'b', 'c', 'd']);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite: durability modes', () => {
  it.each([
    [{}, 2],
    [{ synchronous: 'full' as const }, 2],
    [{ synchronous: 'normal' as const }, 1],
  ])('%o opens the file with synchronous = %i (2 FULL, 1 NORMAL), in WAL', async (options, expected) => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-sync-'));
    const store = createSqliteStore(join(dir, 'bridge.db'), options);
    try {
      expect(store.db.pragma('synchronous', { simple: true })).toBe(expected);
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
