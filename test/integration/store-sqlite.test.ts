import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../../src/store/sqlite/driver.js';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
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

describe('sqlite: migrations', () => {
  it('a file at version 4 keeps its attempt history through version 5, which also admits skipped attempts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-migrate-'));
    const path = join(dir, 'bridge.db');
    try {
      // A file as the release before version 5 left it, with one delivery and two attempts.
      const old = new Database(path);
      old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      for (const migration of MIGRATIONS.filter((m) => m.version <= 4)) {
        old.exec(migration.sql);
        old.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(migration.version);
      }
      old.exec(`INSERT INTO events (dedupe_key, id, source, type, subject, received_at, body)
                VALUES ('k', 'evt-old', 'audian/main', 'call.initiated', 'call-old', 1, '{}')`);
      old.exec(`INSERT INTO deliveries (event_seq, route, connector, order_key, status, next_attempt_at, created_at, updated_at, budget_from)
                VALUES (1, 'all', 'sink', 'x', 'delivered', 1, 1, 1, 1)`);
      old.exec(`INSERT INTO delivery_attempts (delivery_id, at, outcome, error, duration_ms) VALUES (1, 10, 'retry', 'busy', 4), (1, 20, 'delivered', NULL, 2)`);
      old.close();

      const store = createSqliteStore(path);
      try {
        expect((await store.delivery(1))?.history).toEqual([
          { at: 10, outcome: 'retry', error: 'busy', durationMs: 4 },
          { at: 20, outcome: 'delivered', error: null, durationMs: 2 },
        ]);
        store.db.prepare("INSERT INTO delivery_attempts (delivery_id, at, outcome, error) VALUES (1, 30, 'skipped', 'stale')").run();
        expect(() => store.db.prepare("INSERT INTO delivery_attempts (delivery_id, at, outcome) VALUES (1, 40, 'bogus')").run()).toThrow(/CHECK/);
        expect(store.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 5 });
        // Still gone with its delivery.
        store.db.prepare('DELETE FROM deliveries WHERE id = 1').run();
        expect(store.db.prepare('SELECT COUNT(*) AS n FROM delivery_attempts').get()).toEqual({ n: 0 });
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
