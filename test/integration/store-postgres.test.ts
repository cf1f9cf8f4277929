import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { BridgeError } from '../../src/errors.js';
import type { CallState, ClaimedDelivery, CommitRequest } from '../../src/store/index.js';
import { openStore } from '../../src/store/index.js';
import { pino } from 'pino';
import { createDispatcher } from '../../src/dispatch/dispatcher.js';
import { retriable, sent, type Connector } from '../../src/sdk/index.js';
import { LOCKS } from '../../src/store/postgres/db.js';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { createPostgresStore, type PostgresStore } from '../../src/store/postgres/index.js';
import { describeStoreContract, event, MANY_PER_CALL, SOURCE, T0, TO_SINK } from '../contract/store.js';
import { createDatabase, withClient, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/**
 * A real PostgreSQL server: the one the global setup provides (`inject('postgres')`), else
 * AUDIAN_TEST_POSTGRES_URL. Its URL is an admin's; this file makes a database of its own on it
 * (one schema per test) and drops it at the end.
 */
function findServer(): { url: string | null; skipReason: string | null } {
  const provided = (inject as (key: string) => unknown)('postgres') as { url: string | null; skipReason: string | null } | undefined;
  if (provided?.url) return provided;
  const fromEnv = process.env.AUDIAN_TEST_POSTGRES_URL?.trim();
  if (fromEnv) return { url: fromEnv, skipReason: null };
  return { url: null, skipReason: provided?.skipReason ?? 'no PostgreSQL server (set AUDIAN_TEST_POSTGRES_URL to an admin URL)' };
}
const server = findServer();
if (!server.url) skipOrFail('PostgreSQL store tests', server.skipReason ?? 'no PostgreSQL server');

let created: Promise<TestDatabase> | undefined;
let schemas = 0;

function urlWith(base: string, changes: { searchPath?: string }): string {
  const url = new URL(base);
  if (changes.searchPath) url.searchParams.set('options', `-c search_path=${changes.searchPath}`);
  return url.toString();
}

/** This file's database, made on first use. */
function databaseUrl(): Promise<string> {
  created ??= createDatabase(server.url as string, 'audian_store');
  return created.then((database) => database.url);
}

/** A URL whose connections see only a new, empty schema of this file's database, and how to drop it. */
async function freshSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = await databaseUrl();
  const schema = `s${++schemas}`;
  await withClient(base, (client) => client.query(`CREATE SCHEMA ${schema}`));
  return { url: urlWith(base, { searchPath: schema }), drop: () => withClient(base, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`)).then(() => undefined) };
}

afterAll(async () => {
  if (created) await (await created).drop();
});

/** A commit that counts its call's events in the call's tags, and reports the count it saw. */
function counting(ev: CanonicalEvent, seen?: (count: number) => void, delayMs = 0): CommitRequest {
  return {
    event: ev,
    receivedAt: T0,
    async advance(stored) {
      const count = Number(stored?.tags?.count ?? 0);
      seen?.(count);
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const call: CallState | undefined =
        ev.subject === undefined ? undefined : { ...(stored ?? { source: ev.source, callId: ev.subject, answered: false }), tags: { count: count + 1 } };
      return { event: ev, ...(call ? { call } : {}), targets: TO_SINK };
    },
  };
}

const title = server.url ? 'postgres' : `postgres (SKIPPED: ${server.skipReason})`;

describe.skipIf(!server.url)(title, () => {
  describeStoreContract('postgres', async () => {
    const schema = await freshSchema();
    const store = await createPostgresStore(schema.url);
    return {
      store,
      async dispose() {
        await store.close();
        await schema.drop();
      },
    };
  });

  /** Two stores (two replicas) on one fresh schema. */
  async function replicas(count = 2): Promise<{ stores: PostgresStore[]; url: string; dispose(): Promise<void> }> {
    const schema = await freshSchema();
    const stores: PostgresStore[] = [];
    for (let n = 0; n < count; n++) stores.push(await createPostgresStore(schema.url));
    return {
      stores,
      url: schema.url,
      async dispose() {
        await Promise.all(stores.map((store) => store.close()));
        await schema.drop();
      },
    };
  }

  describe('postgres: replicas on one database', () => {
    it('connector health is shared: one replica finds the target down, both stop sending, one probes at a time, and its probe brings both back', async () => {
      const { stores, dispose } = await replicas();
      let reachable = false;
      const probes = [0, 0];
      const sink = (replica: number): Connector => ({
        name: 'sink',
        async start() {},
        async send(batch) {
          return batch.map(() => (reachable ? sent : retriable('connect ECONNREFUSED', undefined, 'unreachable')));
        },
        async probe() {
          probes[replica]! += 1;
          return reachable ? { ok: true } : { ok: false, reason: 'connect ECONNREFUSED' };
        },
        async stop() {},
      });
      const dispatchers = stores.map((store, replica) =>
        createDispatcher({
          store,
          connectors: new Map([['sink', { connector: sink(replica), batchSize: 10, maxPerCall: 1 }]]),
          options: { retry: { schedule: [5_000], maxAgeMs: 3_600_000 }, pollIntervalMs: 50, sendTimeoutMs: 5_000 },
          logger: pino({ level: 'silent' }),
          health: { probeIntervalMs: 100 },
        }),
      );
      try {
        for (const n of ['1', '2', '3', '4']) await stores[0]!.commit(counting(event(`evt-h${n}`, `call-h${n}`)));
        for (const dispatcher of dispatchers) dispatcher.start();
        await waitFor(async () => (await stores[1]!.connectorHealth())[0]?.state === 'down', { what: 'the connector down' });
        await new Promise((resolve) => setTimeout(resolve, 300));
        const before = probes[0]! + probes[1]!;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        // One probe slot per 80-120 ms for both replicas together: each probing on its own would make twice as many.
        const during = probes[0]! + probes[1]! - before;
        expect(during).toBeGreaterThanOrEqual(4);
        expect(during).toBeLessThanOrEqual(13);
        expect((await stores[0]!.list({})).map((record) => [record.status, record.attempts])).toEqual(Array.from({ length: 4 }, () => ['pending', 0]));

        reachable = true;
        const delivered = await waitFor(async () => {
          const records = await stores[1]!.list({});
          return records.every((record) => record.status === 'delivered') && records;
        }, { what: 'every delivery once a probe answers' });
        expect(delivered.map((record) => record.attempts)).toEqual([1, 1, 1, 1]);
        expect(await stores[0]!.connectorHealth()).toMatchObject([{ connector: 'sink', state: 'up' }]);
      } finally {
        await Promise.all(dispatchers.map((dispatcher) => dispatcher.stop(1_000)));
        await dispose();
      }
    });

    it('the same event committed by both at once is stored once', async () => {
      const { stores, dispose } = await replicas();
      try {
        const copies = stores.flatMap((store) => Array.from({ length: 10 }, () => store.commit(counting(event('evt-dup', 'call-dup')))));
        const results = await Promise.all(copies);
        expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
        expect(await stores[0]!.list({})).toHaveLength(1);
        expect((await stores[1]!.trace('evt-dup'))[0]?.call?.tags).toEqual({ count: 1 });
      } finally {
        await dispose();
      }
    });

    it('commits of one call from both land in the call row, and their deliveries are numbered in lock order', async () => {
      const { stores, dispose } = await replicas();
      try {
        const seenBy = new Map<string, number>();
        const record = (id: string) => (count: number) => seenBy.set(id, count);
        // The call's row exists already: the race is for its lock, not for who inserts it.
        await stores[0]!.commit(counting(event('evt-first', 'call-shared'), record('evt-first')));
        await Promise.all(
          stores.flatMap((store, n) =>
            Array.from({ length: 10 }, (_, i) => {
              const id = `evt-${n}-${i}`;
              return store.commit(counting(event(id, 'call-shared'), record(id), 2));
            }),
          ),
        );
        await stores[0]!.commit(counting(event('evt-probe', 'call-shared'), record('evt-probe')));
        expect(seenBy.get('evt-probe')).toBe(21);
        // Each event saw the count its predecessor in lock order left: ids follow that order exactly.
        const claimed = await stores[1]!.claim('sink', T0, MANY_PER_CALL);
        expect(claimed.map((delivery) => seenBy.get(delivery.event.id))).toEqual(Array.from({ length: 22 }, (_, i) => i));
      } finally {
        await dispose();
      }
    });

    it('concurrent claims never hand out deliveries of one call to both, and each call goes out in order', async () => {
      const { stores, dispose } = await replicas();
      try {
        const calls = ['a', 'b', 'c', 'd', 'e', 'f'];
        for (let i = 0; i < 4; i++) for (const call of calls) await stores[i % 2]!.commit(counting(event(`evt-${call}-${i}`, `call-${call}`)));
        const sent = new Map<string, string[]>();
        for (let round = 0; round < 12 && [...sent.values()].flat().length < 24; round++) {
          const options = { limit: 100, leaseMs: 60_000, maxPerCall: 1 + (round % 3) };
          const [first, second] = await Promise.all(stores.map((store) => store.claim('sink', T0, options)));
          const callsOf = (claimed: readonly ClaimedDelivery[]) => new Set(claimed.map((delivery) => delivery.event.subject));
          for (const call of callsOf(first!)) expect(callsOf(second!).has(call)).toBe(false);
          for (const delivery of [...first!, ...second!]) {
            const subject = delivery.event.subject as string;
            sent.set(subject, [...(sent.get(subject) ?? []), delivery.event.id]);
          }
          await Promise.all(
            [first!, second!].map((claimed, n) => stores[n]!.settle(claimed.map(({ id, lease }) => ({ id, lease, outcome: 'delivered' as const })), T0)),
          );
        }
        for (const call of calls) expect(sent.get(`call-${call}`)).toEqual([0, 1, 2, 3].map((i) => `evt-${call}-${i}`));
      } finally {
        await dispose();
      }
    });

    it('a lease that lapses is claimed by the other replica, and the first one settling is refused', async () => {
      const { stores, dispose } = await replicas();
      try {
        const [a, b] = stores as [PostgresStore, PostgresStore];
        await a.commit(counting(event('evt-lease', 'call-lease')));
        const [held] = await a.claim('sink', T0, { limit: 10, leaseMs: 1_000, maxPerCall: 1 });
        expect(await b.claim('sink', T0 + 999, MANY_PER_CALL)).toEqual([]);
        const [taken] = await b.claim('sink', T0 + 1_000, MANY_PER_CALL);
        expect(taken?.id).toBe(held?.id);
        expect(await a.settle([{ id: held!.id, lease: held!.lease, outcome: 'delivered' }], T0 + 1_001)).toEqual({ written: 0, refused: [held!.id] });
        expect(await b.settle([{ id: taken!.id, lease: taken!.lease, outcome: 'delivered' }], T0 + 1_002)).toEqual({ written: 1, refused: [] });
        expect(await a.delivery(held!.id)).toMatchObject({ status: 'delivered', attempts: 1 });
      } finally {
        await dispose();
      }
    });

    it('a missed-call check raced from both replicas is decided exactly once', async () => {
      const { stores, dispose } = await replicas();
      try {
        const ending = event('call-m-end', 'call-m', 'call.completed');
        await stores[0]!.commit({
          event: ending,
          receivedAt: T0,
          advance: () => ({
            event: ending,
            call: { source: SOURCE, callId: 'call-m', answered: false, endEventKey: `${SOURCE}\u0000call.completed\u0000call-m-end`, missedCheckAt: T0 },
            targets: TO_SINK,
          }),
        });
        let verdicts = 0;
        const decisions = await Promise.all(
          stores.flatMap((store) =>
            [1, 2, 3].map(() =>
              store.decideMissed({ source: SOURCE, callId: 'call-m' }, T0, async (call) => {
                verdicts += 1;
                await new Promise((resolve) => setTimeout(resolve, 10));
                const missed = event('call-m-end.missed', 'call-m', 'call.missed');
                return { event: missed, receivedAt: T0, advance: () => ({ event: missed, call: { ...call, missed: 'emitted' as const, missedCheckAt: undefined }, targets: TO_SINK }) };
              }),
            ),
          ),
        );
        expect(decisions.filter((decision) => decision.outcome === 'emitted')).toHaveLength(1);
        expect(decisions.filter((decision) => decision.outcome === 'not_due')).toHaveLength(5);
        expect(verdicts).toBe(1);
        expect(await stores[1]!.list({ event: 'call-m-end.missed' })).toHaveLength(1);
      } finally {
        await dispose();
      }
    });

    it('periodic work runs on one replica at a time: a prune while another holds its lock does nothing', async () => {
      const { stores, dispose } = await replicas();
      try {
        const DAY = 24 * 3600 * 1000;
        await stores[0]!.commit({ event: event('evt-old', undefined, 'object.created'), receivedAt: T0, advance: () => ({ event: event('evt-old', undefined, 'object.created'), targets: [] }) });
        const holder = await stores[0]!.pool.connect();
        try {
          await holder.query('BEGIN');
          // The lock the pruning replica takes: held here, as if another replica were pruning right now.
          await holder.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.prune]);
          expect(await stores[1]!.prune(T0 + 2 * DAY, DAY, 100)).toEqual({ events: 0, calls: 0, more: false });
          await holder.query('COMMIT');
        } finally {
          holder.release();
        }
        expect(await stores[1]!.prune(T0 + 2 * DAY, DAY, 100)).toMatchObject({ events: 1 });
      } finally {
        await dispose();
      }
    });
  });

  describe('postgres: opening', () => {
    it('openStore picks PostgreSQL for a postgres:// or postgresql:// url, whatever path says', async () => {
      const schema = await freshSchema();
      try {
        const urls = { postgres: schema.url, postgresql: schema.url.replace(/^postgres:/, 'postgresql:') };
        for (const [scheme, url] of Object.entries(urls)) {
          const store = await openStore({ path: '/nonexistent/dir/bridge.db', url, serving: true });
          try {
            expect('pool' in store).toBe(true);
            await store.commit(counting(event(`evt-open-${scheme}`, 'call-open')));
          } finally {
            await store.close();
          }
        }
        const store = await createPostgresStore(schema.url, { create: false });
        expect((await store.list({})).map((record) => record.eventId).sort()).toEqual(['evt-open-postgres', 'evt-open-postgresql']);
        await store.close();
      } finally {
        await schema.drop();
      }
    });
  });

  describe('postgres: migrations', () => {
    it('several replicas starting at once migrate once, and all open', async () => {
      const schema = await freshSchema();
      const stores = await Promise.all([1, 2, 3, 4].map(() => createPostgresStore(schema.url)));
      try {
        const { rows } = await stores[0]!.pool.query<{ version: number; n: number }>('SELECT version, COUNT(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version');
        expect(rows).toEqual(MIGRATIONS.map((migration) => ({ version: migration.version, n: 1 })));
        for (const store of stores) await expect(store.ping()).resolves.toBeUndefined();
      } finally {
        await Promise.all(stores.map((store) => store.close()));
        await schema.drop();
      }
    });

    it('create: false on a database the bridge never used is STORE_NOT_FOUND, and creates nothing', async () => {
      const schema = await freshSchema();
      try {
        await expect(createPostgresStore(schema.url, { create: false })).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
        const { rows } = await withClient(schema.url, (client) => client.query("SELECT to_regclass('events')::text AS found"));
        expect(rows).toEqual([{ found: null }]);
      } finally {
        await schema.drop();
      }
    });
  });

  describe('postgres: availability', () => {
    it('after the server ends every connection of the pool, commits fail with STORE_UNAVAILABLE at worst, and work again', async () => {
      const { stores, url, dispose } = await replicas(1);
      try {
        const store = stores[0]!;
        await store.commit(counting(event('evt-before', 'call-t')));
        const database = new URL(url).pathname.slice(1);
        await withClient(url, (client) =>
          client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]),
        );
        const next = await store.commit(counting(event('evt-after', 'call-t'))).then(
          () => undefined,
          (err: unknown) => err,
        );
        if (next !== undefined) {
          expect(next).toBeInstanceOf(BridgeError);
          expect((next as BridgeError).code).toBe('STORE_UNAVAILABLE');
        }
        await waitFor(async () => (await store.commit(counting(event('evt-later', 'call-t')))).duplicate === false, { what: 'a commit after the reconnect' });
        await expect(store.ping()).resolves.toBeUndefined();
        expect((await store.list({ call: 'call-t' })).length).toBeGreaterThanOrEqual(2);
      } finally {
        await dispose();
      }
    });

    it('a server that cannot be reached is STORE_UNAVAILABLE at open, never a driver error', async () => {
      const unreachable = urlWith(server.url as string, {});
      const url = new URL(unreachable);
      url.port = '1';
      const err = await createPostgresStore(url.toString()).then(() => undefined, (error: unknown) => error);
      expect(err).toBeInstanceOf(BridgeError);
      expect((err as BridgeError).code).toBe('STORE_UNAVAILABLE');
    });

    it('tls options reach the connection and win over the URL: a server without a trusted certificate refuses, as STORE_UNAVAILABLE', async () => {
      // The test servers speak no TLS (or only with a certificate nobody here trusts): connecting with TLS required
      // must fail, and it does only if the options are used; sslmode=disable in the URL must not undo them.
      const url = new URL(server.url as string);
      url.searchParams.set('sslmode', 'disable');
      const err = await createPostgresStore(url.toString(), { tls: { rejectUnauthorized: true } }).then(
        async (store) => void (await store.close()),
        (error: unknown) => error,
      );
      expect(err).toBeInstanceOf(BridgeError);
      expect((err as BridgeError).code).toBe('STORE_UNAVAILABLE');
    });

    it('past max pending commits a commit fails at once with OVERLOADED; the pending ones still commit', async () => {
      const schema = await freshSchema();
      const store = await createPostgresStore(schema.url, { maxPendingCommits: 2 });
      try {
        let open!: () => void;
        const release = new Promise<void>((resolve) => (open = resolve));
        const slow = (id: string): CommitRequest => ({
          event: event(id, `call-${id}`),
          receivedAt: T0,
          async advance() {
            await release;
            return { event: event(id, `call-${id}`), targets: TO_SINK };
          },
        });
        const pending = [store.commit(slow('a')), store.commit(slow('b'))];
        await expect(store.commit(slow('c'))).rejects.toMatchObject({ code: 'OVERLOADED' });
        open();
        expect((await Promise.all(pending)).map((result) => result.duplicate)).toEqual([false, false]);
        await expect(store.commit(slow('c'))).resolves.toMatchObject({ duplicate: false });
      } finally {
        await store.close();
        await schema.drop();
      }
    });

    const failures: [string, CommitRequest][] = [
      // The group's statement fails (PostgreSQL text cannot hold NUL), and each commit is then written on its own.
      ['a write the database refuses', { event: event('evt-bad', 'call-x'), receivedAt: T0, advance: () => ({ event: event('evt-bad', 'call-x'), targets: [{ route: 'all', connector: 'bad\u0000name' }] }) }],
      // Nothing was written yet: the others are written again without it.
      ['an advance that throws', { event: event('evt-bad', 'call-x'), receivedAt: T0, advance: () => {
        throw new Error('routing failed');
      } }],
    ];
    it.each(failures)('%s fails that commit alone; the others of its group are stored', async (_, failing) => {
      const schema = await freshSchema();
      const store = await createPostgresStore(schema.url);
      try {
        const results = await Promise.allSettled([store.commit(counting(event('evt-1', 'call-x'))), store.commit(failing), store.commit(counting(event('evt-2', 'call-x')))]);
        expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((await store.list({})).map((record) => record.eventId)).toEqual(['evt-2', 'evt-1']);
        expect((await store.trace('evt-2'))[0]?.call?.tags).toEqual({ count: 2 });
      } finally {
        await store.close();
        await schema.drop();
      }
    });

    it('a call id the database keeps as other text fails that commit with STORE_KEY_MISMATCH in bounded time; the rest of its group is stored, nothing stays locked', async () => {
      const schema = await freshSchema();
      const store = await createPostgresStore(schema.url);
      try {
        // PostgreSQL keeps a lone surrogate as U+FFFD: the call id 'cs_\ud800' is written as the existing 'cs_\ufffd'
        // (the receiver refuses it; the store is called directly here) and read back as that.
        await store.commit(counting(event('evt-0', 'cs_\ufffd')));
        const results = await within(10_000, Promise.allSettled([
          store.commit(counting(event('evt-1', 'call-x'))),
          store.commit(counting(event('evt-bad', 'cs_\ud800'))),
          store.commit(counting(event('evt-2', 'cs_\ufffd'))),
        ]));
        expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        const failure = (results[1] as PromiseRejectedResult).reason as BridgeError;
        expect(failure).toBeInstanceOf(BridgeError);
        expect([failure.code, failure.status]).toEqual(['STORE_KEY_MISMATCH', 503]);

        expect((await store.list({})).map((record) => record.eventId).sort()).toEqual(['evt-0', 'evt-1', 'evt-2']);
        expect((await store.trace('evt-2'))[0]?.call?.tags).toEqual({ count: 2 });
        const { rows } = await withClient(schema.url, (client) =>
          client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"),
        );
        expect(rows).toEqual([{ n: 0 }]);
        // The call's row is free: its next commit does not wait.
        await expect(within(5_000, store.commit(counting(event('evt-3', 'cs_\ufffd'))))).resolves.toMatchObject({ duplicate: false });
        await expect(store.ping()).resolves.toBeUndefined();
      } finally {
        await store.close();
        await schema.drop();
      }
    });
  });
});

/** `promise`, or a failure once `ms` have passed: a commit that waits for ever fails the test instead of hanging it. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
