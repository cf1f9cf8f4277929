import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from '../../src/store/sqlite/driver.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import type { CommitRequest } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { createSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { describeStoreContract, event, MANY_PER_CALL, SOURCE, T0, TO_SINK } from '../contract/store.js';

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

// The same with the writes on the writer thread, as the serving process runs them.
describeStoreContract('sqlite, writer thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-thread-'));
  const store = createSqliteStore(join(dir, 'bridge.db'), { writerThread: true });
  return {
    store,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite: the writer thread', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-writer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const commitOf = (id: string, subject: string): CommitRequest => ({
    event: event(id, subject),
    receivedAt: T0,
    advance: (stored) => ({ event: event(id, subject), call: { ...(stored ?? { source: SOURCE, callId: subject, answered: false }) }, targets: TO_SINK }),
  });
  /** Rows this connection itself inserted, updated or deleted since it opened. */
  const changesBy = (store: SqliteStore) => (store.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;

  it('the serving store writes from its thread, on a connection of its own: the caller\'s connection only reads', async () => {
    const serving = createSqliteStore(join(dir, 'bridge.db'), { exclusive: true });
    const inline = createSqliteStore(join(dir, 'other.db'));
    // Opening a new file migrates it, on the caller's connection.
    const opened = { serving: changesBy(serving), inline: changesBy(inline) };
    try {
      for (const store of [serving, inline]) {
        await store.commit(commitOf('evt-1', 'call-1'));
        const [claimed] = await store.claim('sink', T0, MANY_PER_CALL);
        await store.settle([{ id: claimed!.id, lease: claimed!.lease, outcome: 'delivered' }], T0);
        expect(await store.list({})).toMatchObject([{ eventId: 'evt-1', status: 'delivered' }]);
      }
      expect(serving.writer.thread?.()).toBeDefined();
      expect(changesBy(serving)).toBe(opened.serving);
      expect(inline.writer.thread).toBeUndefined();
      expect(changesBy(inline)).toBeGreaterThan(opened.inline);
    } finally {
      await serving.close();
      await inline.close();
    }
  });

  it('a thread that stops fails its writes in flight with STORE_UNAVAILABLE, and the next write starts another', async () => {
    const store = createSqliteStore(join(dir, 'bridge.db'), { writerThread: true });
    try {
      await store.commit(commitOf('evt-1', 'call-1'));
      const thread = store.writer.thread?.();
      expect(thread).toBeDefined();
      const inFlight = store.writer.write('probe', T0);
      await thread!.terminate();
      await expect(inFlight).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await expect(store.commit(commitOf('evt-2', 'call-1'))).resolves.toMatchObject({ duplicate: false });
      expect(store.writer.thread?.()).not.toBe(thread);
      expect((await store.list({})).map((record) => record.eventId)).toEqual(['evt-2', 'evt-1']);
    } finally {
      await store.close();
    }
  });

  it('close answers the writes already asked for before the thread lets go of the file', async () => {
    const path = join(dir, 'bridge.db');
    const store = createSqliteStore(path, { writerThread: true });
    const commits = ['a', 'b', 'c'].map((id) => store.commit(commitOf(id, `call-${id}`)));
    await new Promise((resolve) => setImmediate(resolve));
    const closed = store.close();
    expect(await Promise.all(commits)).toEqual([1, 2, 3].map(() => ({ duplicate: false, targets: TO_SINK })));
    await closed;
    await expect(store.commit(commitOf('d', 'call-d'))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const reopened = createSqliteStore(path);
    try {
      expect((await reopened.list({})).map((record) => record.eventId).sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await reopened.close();
    }
  });

  it('a burst of writes in one turn travels to the thread in parts of at most 16, and each commits once, in the order asked', async () => {
    const store = createSqliteStore(join(dir, 'bridge.db'), { writerThread: true });
    try {
      await store.commit(commitOf('first', 'call-first'));
      const thread = store.writer.thread?.();
      const sizes: number[] = [];
      const post = thread!.postMessage.bind(thread);
      thread!.postMessage = (message: unknown) => {
        if (Array.isArray(message)) sizes.push(message.length);
        post(message);
      };
      const ids = Array.from({ length: 50 }, (_, index) => `burst-${index}`);
      const results = await Promise.all(ids.map((id) => store.commit(commitOf(id, `call-${id}`))));
      expect(results).toEqual(ids.map(() => ({ duplicate: false, targets: TO_SINK })));
      expect(sizes).toEqual([16, 16, 16, 2]);
      const stored = store.db.prepare('SELECT id FROM events ORDER BY seq').all() as { id: string }[];
      expect(stored.map((row) => row.id)).toEqual(['first', ...ids]);
    } finally {
      await store.close();
    }
  });

  it('with a commit window, commits asked for while others are written wait for them and travel as one; each is answered only once stored, in order', async () => {
    const path = join(dir, 'bridge.db');
    const store = createSqliteStore(path, { writerThread: true, commitWindowMs: 60_000 });
    const other = new Database(path);
    try {
      await store.commit(commitOf('first', 'call-first'));
      const thread = store.writer.thread?.();
      const sizes: number[] = [];
      const post = thread!.postMessage.bind(thread);
      thread!.postMessage = (message: unknown) => {
        if (Array.isArray(message)) sizes.push(message.length);
        post(message);
      };
      // Another connection holds the write lock: the writes posted cannot be answered until it lets go.
      other.exec('BEGIN IMMEDIATE');
      const stored = (id: string) => other.prepare('SELECT 1 FROM events WHERE id = ?').get(id) !== undefined;
      const answeredBeforeStored: string[] = [];
      // Each on a call of its own: the commits of one call wait for each other before they reach the writer.
      const commit = (id: string) =>
        store.commit(commitOf(id, `call-${id}`)).then((result) => {
          if (!stored(id)) answeredBeforeStored.push(id);
          return result;
        });
      const committing = [commit('a')];
      while (sizes.length === 0) await new Promise((resolve) => setImmediate(resolve));
      for (const id of ['b', 'c', 'd', 'e']) {
        committing.push(commit(id));
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(sizes).toEqual([1]);
      other.exec('COMMIT');
      expect(await Promise.all(committing)).toEqual(['a', 'b', 'c', 'd', 'e'].map(() => ({ duplicate: false, targets: TO_SINK })));
      expect(answeredBeforeStored).toEqual([]);
      expect(sizes).toEqual([1, 4]);
      const order = store.db.prepare('SELECT id FROM events ORDER BY seq').all() as { id: string }[];
      expect(order.map((row) => row.id)).toEqual(['first', 'a', 'b', 'c', 'd', 'e']);
    } finally {
      other.close();
      await store.close();
    }
  });

  it('close answers the writes the commit window still holds', async () => {
    const path = join(dir, 'bridge.db');
    const store = createSqliteStore(path, { writerThread: true, commitWindowMs: 60_000 });
    const other = new Database(path);
    try {
      await store.commit(commitOf('first', 'call-first'));
      other.exec('BEGIN IMMEDIATE');
      const thread = store.writer.thread?.();
      let posted = 0;
      const post = thread!.postMessage.bind(thread);
      thread!.postMessage = (message: unknown) => {
        if (Array.isArray(message)) posted++;
        post(message);
      };
      const a = store.commit(commitOf('a', 'call-a'));
      while (posted === 0) await new Promise((resolve) => setImmediate(resolve));
      const b = store.commit(commitOf('b', 'call-b'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(posted).toBe(1);
      const closed = store.close();
      await new Promise((resolve) => setImmediate(resolve));
      other.exec('COMMIT');
      expect(await Promise.all([a, b])).toEqual([TO_SINK, TO_SINK].map((targets) => ({ duplicate: false, targets })));
      await closed;
    } finally {
      other.close();
    }
    const reopened = createSqliteStore(path);
    try {
      expect((await reopened.list({})).map((record) => record.eventId).sort()).toEqual(['a', 'b', 'first']);
    } finally {
      await reopened.close();
    }
  });

  it.each([false, true])('an outcome on its way to the file keeps its lease: nobody claims the delivery meanwhile (writer thread: %s)', async (writerThread) => {
    const store = createSqliteStore(join(dir, 'bridge.db'), { writerThread });
    try {
      await store.commit(commitOf('evt-1', 'call-1'));
      const [claimed] = await store.claim('sink', T0, { limit: 10, leaseMs: 1, maxPerCall: 1 });
      const settling = store.settle([{ id: claimed!.id, lease: claimed!.lease, outcome: 'retry', at: T0, error: 'busy' }], T0 + 5);
      // The lease has lapsed by the clock, but its outcome is being written.
      expect(await store.claim('sink', T0 + 10, { limit: 10, leaseMs: 60_000, maxPerCall: 1 })).toEqual([]);
      expect(await settling).toEqual({ written: 1, refused: [] });
      expect((await store.claim('sink', T0 + 10, { limit: 10, leaseMs: 60_000, maxPerCall: 1 })).map((d) => d.attempts)).toEqual([1]);
    } finally {
      await store.close();
    }
  });
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
  it('version 6 drops the index no query used; a call\'s events are still read through events_call', async () => {
    const store = createSqliteStore(':memory:');
    try {
      const indexes = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name").pluck().all();
      expect(indexes).toEqual(['events_call', 'events_id', 'events_received_at']);
      const plan = store.db.prepare('EXPLAIN QUERY PLAN SELECT body FROM events WHERE source = ? AND subject = ? ORDER BY seq').all('s', 'c') as { detail: string }[];
      expect(plan.map((step) => step.detail).join('; ')).toMatch(/USING INDEX events_call/);
    } finally {
      await store.close();
    }
  });

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
        expect(store.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: MIGRATIONS.at(-1)!.version });
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
  // `full` is kept by the store's own sync of the WAL before each answer, off the event loop, over SQLite's NORMAL.
  it.each([
    [{}, true],
    [{ synchronous: 'full' as const }, true],
    [{ synchronous: 'normal' as const }, false],
  ])('%o opens the file in WAL at synchronous = NORMAL; the store syncs the WAL itself before answering: %s', async (options, syncsWal) => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-sync-'));
    const store = createSqliteStore(join(dir, 'bridge.db'), options);
    try {
      expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.syncsWal).toBe(syncsWal);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
