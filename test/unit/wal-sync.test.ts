import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import Database from '../../src/store/sqlite/driver.js';
import { createWalSync } from '../../src/store/sqlite/wal-sync.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A real WAL database with one write in its log. */
function walDatabase() {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-wal-sync-'));
  dirs.push(dir);
  const path = join(dir, 'x.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (v INTEGER)');
  return { db, path };
}

it('resolves once a sync has completed; callers waiting together share the next one', async () => {
  const { db, path } = walDatabase();
  const sync = createWalSync(path);
  try {
    await sync.durable();
    expect(sync.completed()).toBe(1);
    // Asked while one runs: that one may have started before their writes, so they share the next.
    const first = sync.durable();
    db.prepare('INSERT INTO t VALUES (1)').run();
    const waiting = [sync.durable(), sync.durable(), sync.durable()];
    await first;
    expect(sync.completed()).toBe(2);
    await Promise.all(waiting);
    expect(sync.completed()).toBe(3);
  } finally {
    await sync.close();
    db.close();
  }
});

it('a missing WAL is STORE_UNAVAILABLE, and a WAL created later is synced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-wal-sync-'));
  dirs.push(dir);
  const sync = createWalSync(join(dir, 'none.db'));
  await expect(sync.durable()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  const db = new Database(join(dir, 'none.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (v INTEGER)');
  try {
    await sync.durable();
    expect(sync.completed()).toBe(1);
  } finally {
    await sync.close();
    db.close();
  }
});
