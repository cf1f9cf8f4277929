import type pg from 'pg';
import type { CanonicalEvent } from '../../dialects/index.js';
import { BridgeError } from '../../errors.js';
import { dedupeKeyOf } from '../dedupe.js';
import type {
  Admission,
  CallKey,
  CallState,
  CommitRequest,
  CommitResult,
  EventTrace,
  MissedDecision,
  MissedVerdict,
  RouteTarget,
  Store,
  SummaryDecision,
  SummaryVerdict,
} from '../types.js';
import { callKeyOf, callQueries, toStoredKey } from './calls.js';
import { createConnectorStateQueries } from './connector-state.js';
import { createPool, inTransaction, LOCKS, migrate, type PoolOptions, type Sql } from './db.js';
import { createDeliveryQueries } from './deliveries.js';
import { contention, isContention, isUnavailable, retryingContention, toStoreError, type Guard } from './errors.js';
import { createGroupCommit, InputFailure } from './group-commit.js';
import { createProviderReads } from './provider-reads.js';

/** The store on one PostgreSQL database, for any number of processes (replicas) at once. */
export interface PostgresStore extends Store {
  /** The connections themselves, for tests and maintenance only: code above the store uses `Store`. */
  readonly pool: pg.Pool;
}

export interface PostgresStoreOptions extends PoolOptions {
  /** `false` opens a database the bridge has used already (the CLI's inspection commands): one without its schema is `STORE_NOT_FOUND`. */
  readonly create?: boolean;
  /** Commits waiting at once beyond which `commit` answers OVERLOADED at once. */
  readonly maxPendingCommits?: number;
}

/** The calls of one transaction, locked, as each commit in it leaves them. */
type LockedCalls = Map<string, CallState | undefined>;

const DUPLICATE: CommitResult = { duplicate: true };

/** Connects, migrates (once, however many replicas start at the same time) and opens the store on `url`. */
export async function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const pool = createPool(url, options);
  try {
    if (options.create === false) await requireSchema(pool);
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw toStoreError(err, 'connect and migrate');
  }
  return openOn(pool, options);
}

async function requireSchema(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ found: string | null }>("SELECT to_regclass('schema_migrations')::text AS found");
  if (rows[0]?.found === null) {
    throw new BridgeError('STORE_NOT_FOUND', 'the database at store.url holds no bridge store: is store.url right, and has the bridge run against it yet? (nothing was created)');
  }
}

function openOn(pool: pg.Pool, options: PostgresStoreOptions): PostgresStore {
  const deliveries = createDeliveryQueries(pool);
  const maxPending = options.maxPendingCommits ?? Number.POSITIVE_INFINITY;
  let pending = 0;
  let closed = false;

  const guarded: Guard = async (doing, task) => {
    if (closed) throw new BridgeError('STORE_UNAVAILABLE', `the PostgreSQL store cannot ${doing}: it is closed`);
    try {
      return await task();
    } catch (err) {
      throw toStoreError(err, doing);
    }
  };

  /** The last write's failure, until a write succeeds again: readiness reports it. */
  let writesFailing: BridgeError | undefined;
  async function written<T>(doing: string, task: () => Promise<T>): Promise<T> {
    try {
      const result = await guarded(doing, task);
      writesFailing = undefined;
      return result;
    } catch (err) {
      if (err instanceof BridgeError && err.code === 'STORE_UNAVAILABLE') writesFailing = err;
      throw err;
    }
  }
  /** A write in a transaction of its own, run again (whole) after a deadlock. */
  const write = <T>(doing: string, task: () => Promise<T>): Promise<T> => written(doing, () => retryingContention(task));

  /** One transaction that runs only where no other replica runs the same periodic task right now. */
  function exclusively<T>(lock: number, idle: T, task: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(pool, async (client) => {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [lock]);
      return rows[0]?.locked ? task(client) : idle;
    });
  }

  /**
   * Stores events inside a transaction that holds their calls' locks (`calls` has each call as this
   * transaction leaves it). Each request is advanced in turn from where the one before left its call, in
   * memory; then all are written in three statements: events, deliveries, call rows. A request whose
   * `advance` throws is reported as an `InputFailure` before anything is written.
   */
  async function admitAll(client: pg.PoolClient, requests: readonly CommitRequest[], calls: LockedCalls): Promise<CommitResult[]> {
    // Under the calls' locks this check is final for an event of a call: another writer of the call has committed.
    const stored = await storedKeysOf(client, requests);
    const results: CommitResult[] = requests.map(() => DUPLICATE);
    const admitted: { index: number; dedupeKey: string; orderKey: string | null; admission: Admission; receivedAt: number }[] = [];
    for (const [index, request] of requests.entries()) {
      const dedupeKey = toStoredKey(dedupeKeyOf(request.event));
      if (stored.has(dedupeKey)) continue;
      stored.add(dedupeKey);
      const { subject, source } = request.event;
      const key = subject === undefined ? undefined : callKeyOf(source, subject);
      let admission: Admission;
      try {
        admission = await request.advance(key === undefined ? undefined : calls.get(key));
      } catch (err) {
        throw new InputFailure(index, err);
      }
      if (admission.call) calls.set(callKeyOf(admission.call.source, admission.call.callId), admission.call);
      admitted.push({ index, dedupeKey, orderKey: key ?? null, admission, receivedAt: request.receivedAt });
    }
    if (admitted.length === 0) return results;

    // The unique key decides: another transaction storing one of these events right now makes this insert wait
    // for its COMMIT, then skip that row.
    const inserted = await client.query<{ seq: number; dedupe_key: string }>(
      `INSERT INTO events (dedupe_key, id, source, type, subject, received_at, body)
       SELECT dedupe_key, id, source, type, subject, received_at, body
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
              WITH ORDINALITY AS e (dedupe_key, id, source, type, subject, received_at, body, n)
        ORDER BY n
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq, dedupe_key`,
      [
        admitted.map((entry) => entry.dedupeKey),
        admitted.map((entry) => entry.admission.event.id),
        admitted.map((entry) => entry.admission.event.source),
        admitted.map((entry) => entry.admission.event.type),
        admitted.map((entry) => entry.admission.event.subject ?? null),
        admitted.map((entry) => entry.receivedAt),
        admitted.map((entry) => JSON.stringify(entry.admission.event)),
      ],
    );
    const seqOf = new Map(inserted.rows.map((row) => [row.dedupe_key, row.seq]));
    // Taken since the check only by a writer that did not hold the call's lock (the same id and type under another
    // call): this group's call rows would then hold an advance of an event it did not store. Run it again whole.
    if (admitted.some((entry) => !seqOf.has(entry.dedupeKey) && entry.admission.call)) {
      throw contention('an event of this group was stored meanwhile by a writer of another call');
    }

    // Deliveries of one call share an ordering key so they leave in the order accepted; their ids come from the
    // sequence while the call's lock is held, in arrival order here: the order in which the lock was taken.
    const outbox = admitted.flatMap((entry) => {
      const seq = seqOf.get(entry.dedupeKey);
      if (seq === undefined) return [];
      results[entry.index] = { duplicate: false, targets: entry.admission.targets };
      return entry.admission.targets.map((target) => ({ seq, target, orderKey: entry.orderKey ?? `#${seq}`, at: entry.receivedAt }));
    });
    await client.query(
      `INSERT INTO deliveries (event_seq, route, connector, order_key, status, next_attempt_at, created_at, updated_at, budget_from)
       SELECT seq, route, connector, order_key, 'pending', at, at, at, at
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS d (seq, route, connector, order_key, at, n)
        ORDER BY n`,
      [
        outbox.map((row) => row.seq),
        outbox.map((row) => row.target.route),
        outbox.map((row) => row.target.connector),
        outbox.map((row) => row.orderKey),
        outbox.map((row) => row.at),
      ],
    );

    // Each call once, as the last of its events left it.
    const saves = new Map<string, { state: CallState; now: number }>();
    for (const entry of admitted) {
      const { call } = entry.admission;
      if (call && seqOf.has(entry.dedupeKey)) saves.set(callKeyOf(call.source, call.callId), { state: call, now: entry.receivedAt });
    }
    await callQueries.saveAll(client, [...saves.values()]);
    return results;
  }

  /** Which of the requests' events are stored already, in one query. */
  async function storedKeysOf(client: pg.PoolClient, requests: readonly CommitRequest[]): Promise<Set<string>> {
    const keys = requests.map((request) => toStoredKey(dedupeKeyOf(request.event)));
    const { rows } = await client.query<{ dedupe_key: string }>('SELECT dedupe_key FROM events WHERE dedupe_key = ANY($1::text[])', [keys]);
    return new Set(rows.map((row) => row.dedupe_key));
  }

  /** Locks the calls the requests belong to (in one sorted order: see `callQueries.lock`). */
  function lockCallsOf(client: pg.PoolClient, requests: readonly CommitRequest[], now: number): Promise<LockedCalls> {
    const keys = new Map<string, CallKey>();
    for (const { event } of requests) {
      if (event.subject !== undefined) keys.set(callKeyOf(event.source, event.subject), { source: event.source, callId: event.subject });
    }
    return callQueries.lock(client, [...keys.values()], now);
  }

  /**
   * One group of commits in one transaction: the calls' locks first, then each request in arrival order, each
   * advancing its call from where the one before left it. A request's own failure is reported as such.
   */
  async function writeGroup(requests: readonly CommitRequest[]): Promise<CommitResult[]> {
    return retryingContention(() =>
      inTransaction(pool, async (client) => {
        const calls = await lockCallsOf(client, requests, Math.max(...requests.map((request) => request.receivedAt)));
        return admitAll(client, requests, calls);
      }),
    );
  }
  // Concurrent webhooks share one transaction and one COMMIT; each still resolves only after it.
  const group = createGroupCommit(writeGroup, (err) => isUnavailable(err) || isContention(err));

  /** Reads the event stored under `storedKey` (see `toStoredKey`), if it still is. */
  async function readEvent(sql: Sql, storedKey: string): Promise<CanonicalEvent | undefined> {
    const { rows } = await sql.query<{ body: string }>('SELECT body FROM events WHERE dedupe_key = $1', [storedKey]);
    return rows[0] ? (JSON.parse(rows[0].body) as CanonicalEvent) : undefined;
  }

  /**
   * Decides under the call's row lock, and commits the derived event in the same transaction: of any number of
   * replicas asking at once, the first decides and the others then find the check decided.
   */
  function decideMissed(key: CallKey, now: number, verdict: MissedVerdict): Promise<MissedDecision> {
    return write('decide a missed call', () =>
      inTransaction(pool, async (client): Promise<MissedDecision> => {
        const state = await callQueries.lockExisting(client, key);
        if (!state || state.missedCheckAt === undefined || state.missedCheckAt > now) return { outcome: 'not_due' };
        const ending = state.endEventKey === undefined ? undefined : await readEvent(client, toStoredKey(state.endEventKey));
        const derived = await verdict(state, ending);
        if (derived) {
          // Committing `call.missed` advances the call to "emitted" through the same path as any event.
          const calls = await lockedWith(client, key, state, [derived], now);
          const [result] = await admitAll(client, [derived], calls);
          if (result && !result.duplicate) return { outcome: 'emitted', event: derived.event, targets: result.targets };
        }
        // A duplicate derived id is recorded as not missed too, or the check would stay due for ever.
        await callQueries.markNotMissed(client, key, now);
        return derived ? { outcome: 'duplicate' } : { outcome: 'not_missed' };
      }),
    );
  }

  /** The locked call `key`, plus the locks of any other call the derived requests belong to. */
  async function lockedWith(client: pg.PoolClient, key: CallKey, state: CallState, requests: readonly CommitRequest[], now: number): Promise<LockedCalls> {
    const own = callKeyOf(key.source, key.callId);
    const others = requests.filter(({ event }) => event.subject !== undefined && callKeyOf(event.source, event.subject) !== own);
    // Taken after the call's own lock, out of the sorted order: a deadlock this may cause is retried whole.
    const calls = others.length > 0 ? await lockCallsOf(client, others, now) : new Map<string, CallState | undefined>();
    calls.set(own, state);
    return calls;
  }

  function decideSummary(key: CallKey, now: number, verdict: SummaryVerdict): Promise<SummaryDecision> {
    return write('summarize a call', () =>
      inTransaction(pool, async (client): Promise<SummaryDecision> => {
        const state = await callQueries.lockExisting(client, key);
        if (!state || state.summaryCheckAt === undefined || state.summaryCheckAt > now) return { outcome: 'not_due' };
        const { rows } = await client.query<{ body: string }>('SELECT body FROM events WHERE source = $1 AND subject = $2 ORDER BY seq', [
          key.source,
          key.callId,
        ]);
        const derived = await verdict(state, rows.map((row) => JSON.parse(row.body) as CanonicalEvent));
        if (derived) {
          const requests = [...derived.companions, derived.summary];
          const calls = await lockedWith(client, key, state, requests, now);
          // Companions first, each seeing the call as the one before left it; the summary's commit ends the check.
          const results = await admitAll(client, requests, calls);
          const committed: CanonicalEvent[] = [];
          const targets: RouteTarget[] = [];
          results.forEach((result, index) => {
            if (result.duplicate) return;
            committed.push((requests[index] as CommitRequest).event);
            targets.push(...result.targets);
          });
          if (committed.at(-1) === derived.summary.event) return { outcome: 'emitted', events: committed, targets };
        }
        // A taken summary id ends the check too, or it would stay due for ever.
        const revision = derived ? Number(derived.summary.event.data.revision) || 0 : 0;
        await callQueries.endSummaryCheck(client, key, revision, now);
        return derived ? { outcome: 'duplicate' } : { outcome: 'none' };
      }),
    );
  }

  async function trace(eventId: string): Promise<EventTrace[]> {
    const { rows } = await pool.query<{ seq: number; body: string; received_at: number; source: string; subject: string | null }>(
      'SELECT seq, body, received_at, source, subject FROM events WHERE id = $1 ORDER BY seq DESC',
      [eventId],
    );
    return Promise.all(
      rows.map(async (row) => ({
        event: JSON.parse(row.body) as CanonicalEvent,
        receivedAt: row.received_at,
        call: row.subject === null ? undefined : await callQueries.get(pool, row.source, row.subject),
        deliveries: await deliveries.ofEvent(row.seq),
      })),
    );
  }

  async function prune(now: number, ttlMs: number, limit: number) {
    // One replica prunes at a time; the others find the lock taken and leave the round to it.
    return exclusively(LOCKS.prune, { events: 0, calls: 0, more: false }, async (client) => {
      const removed = await client.query(
        `DELETE FROM events WHERE seq IN
           (SELECT seq FROM events ev WHERE received_at < $1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = ev.seq AND d.status IN ('pending', 'dead'))
               AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.end_event_seq = ev.seq AND c.missed_check_at IS NOT NULL)
               -- A call's summary reads all its events: they stay until it falls due (the watcher takes it then).
               AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.source = ev.source AND c.call_id = ev.subject AND c.summary_check_at > $2)
             ORDER BY received_at LIMIT $3 FOR UPDATE SKIP LOCKED)`,
        [now - ttlMs, now, limit],
      );
      const events = removed.rowCount ?? 0;
      const removedCalls = await callQueries.prune(client, now - ttlMs, now, limit);
      return { events, calls: removedCalls, more: events === limit || removedCalls === limit };
    });
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    // Commits already asked for finish first: their callers were promised an answer.
    await group.drained();
    closed = true;
    await pool.end();
  }

  const connectorState = createConnectorStateQueries(pool, guarded);
  const providerReads = createProviderReads(pool);
  return {
    pool,
    commit(request: CommitRequest): Promise<CommitResult> {
      // A bounded wait: past it the provider hears 503 at once and retries, instead of a queue that only grows.
      if (pending >= maxPending) return Promise.reject(new BridgeError('OVERLOADED', 'too many webhooks are waiting for the store; retry shortly'));
      pending++;
      // The group retries its own deadlocks, in arrival order.
      return written('commit an event', () => group.commit(request)).finally(() => pending--);
    },
    dueMissedChecks: (now, limit) =>
      guarded('read calls', () => exclusively(LOCKS.missedSweep, [], (client) => callQueries.dueMissedChecks(client, now, limit))),
    decideMissed,
    dueSummaries: (now, limit) =>
      guarded('read calls', () => exclusively(LOCKS.summarySweep, [], (client) => callQueries.dueSummaries(client, now, limit))),
    decideSummary,
    claim: (connector, now, options) => write('claim deliveries', () => deliveries.claim(connector, now, options)),
    settle: (outcomes, now) => write('record delivery outcomes', () => deliveries.settle(outcomes, now)),
    nextDueAt: (connector) => guarded('read deliveries', () => deliveries.nextDueAt(connector)),
    pendingStats: () => guarded('read deliveries', () => deliveries.pendingStats()),
    list: (filter) => guarded('read deliveries', () => deliveries.list(filter)),
    deadStats: () => guarded('read deliveries', () => deliveries.deadStats()),
    delivery: (id) => guarded('read a delivery', () => deliveries.delivery(id)),
    requeue: (ids, now) => write('requeue deliveries', () => deliveries.requeue(ids, now)),
    replay: (selection, now) => write('replay deliveries', () => deliveries.replay(selection, now)),
    purgeDead: (before, filter) => write('purge deliveries', () => deliveries.purgeDead(before, filter.connector)),
    trace: (eventId) => guarded('read an event', () => trace(eventId)),
    pause: (connector, now) => write('pause a connector', () => deliveries.pause(connector, now)),
    resume: (connector, now) => write('resume a connector', () => deliveries.resume(connector, now)),
    paused: () => guarded('read pauses', () => deliveries.paused()),
    sizeBytes: () =>
      guarded('read its size', async () => {
        const { rows } = await pool.query<{ size: number }>('SELECT pg_database_size(current_database()) AS size');
        return rows[0]?.size;
      }),
    prune: (now, ttlMs, limit) => write('prune', () => prune(now, ttlMs, limit)),
    connectorState: (connector, now) => connectorState.scope(connector, now),
    lastReceivedAt: (source, exceptTypes) => guarded('read events', () => providerReads.lastReceivedAt(source, exceptTypes)),
    storedEventIds: (source, ids) => guarded('read events', () => providerReads.storedEventIds(source, ids)),
    async ping() {
      await guarded('answer', () => pool.query('SELECT 1'));
      // Reads work on a standby after a failover, or while the disk is full: try a write.
      if (writesFailing) {
        await write('write', () => pool.query('INSERT INTO store_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at', [Date.now()]));
      }
    },
    close: () => (closing ??= close()),
  };
}
