import { statSync } from 'node:fs';
import type { CanonicalEvent } from '../../dialects/index.js';
import { BridgeError } from '../../errors.js';
import { dedupeKeyOf } from '../dedupe.js';
import type {
  Admission,
  CallKey,
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
import { createCallQueries } from './calls.js';
import { createConnectorStateQueries } from './connector-state.js';
import { openDatabase, syncsWalItself, type Db, type Synchronous } from './db.js';
import { createDeliveryQueries } from './deliveries.js';
import { failsEveryWrite, guarded, retryingContention, toStoreError } from './errors.js';
import { createGroupCommit } from './group-commit.js';
import { createKeyedQueue } from './keyed-queue.js';
import { lockForServing } from './process-lock.js';
import { createWalSync } from './wal-sync.js';

/** The store on one SQLite file, for one process. */
export interface SqliteStore extends Store {
  /** The connection itself, for tests and maintenance only: code above the store uses `Store`. */
  readonly db: Db;
  /** At `full` on a file: the store syncs the WAL itself before each answer (SQLite itself then runs at NORMAL). */
  readonly syncsWal: boolean;
}

/** What one accepted event writes, all in one transaction. */
interface EventWrite {
  readonly admission: Admission;
  readonly dedupeKey: string;
  readonly receivedAt: number;
}

const DUPLICATE: CommitResult = { duplicate: true };

function callKeyOf(source: string, callId: string): string {
  return `${source}\u0000${callId}`;
}

export interface SqliteStoreOptions {
  /** For the process that serves from the file: refuse to open while another one does (STORE_LOCKED). */
  readonly exclusive?: boolean;
  /** `false` opens an existing file only (the CLI's inspection commands): a missing one is `STORE_NOT_FOUND`. */
  readonly create?: boolean;
  /** `full` (the default): an acknowledged event survives power loss; `normal`: a crash of the process only. */
  readonly synchronous?: Synchronous;
  /** Commits waiting at once (for their call, their read, their write) beyond which `commit` answers OVERLOADED at once. */
  readonly maxPendingCommits?: number;
}

export function createSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const lock = options.exclusive && path !== ':memory:' ? lockForServing(path) : undefined;
  let db: Db;
  try {
    db = openDatabase(path, options);
  } catch (err) {
    lock?.release();
    throw toStoreError(err, `open ${path}`);
  }
  // At `full`, nothing is answered before the WAL holding it is synced; the sync runs off the event loop.
  const walSync = syncsWalItself(path, options.synchronous) ? createWalSync(path) : undefined;
  const durable = () => walSync?.durable() ?? Promise.resolve();
  const deliveries = createDeliveryQueries(db);
  const calls = createCallQueries(db);
  const connectorState = createConnectorStateQueries(db, durable);
  // Every writer of a call lives in this process, so a keyed queue is the per-call serialization.
  const queue = createKeyedQueue();
  const maxPending = options.maxPendingCommits ?? Number.POSITIVE_INFINITY;
  let pending = 0;

  const exists = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM events WHERE dedupe_key = ?');
  const insertEvent = db.prepare(
    `INSERT INTO events (dedupe_key, id, source, type, subject, received_at, body)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
  );
  const eventByKey = db.prepare<[string], { body: string }>('SELECT body FROM events WHERE dedupe_key = ?');
  const eventsOfCall = db.prepare<[string, string], { body: string }>('SELECT body FROM events WHERE source = ? AND subject = ? ORDER BY seq');
  const pruneEvents = db.prepare(
    `DELETE FROM events WHERE seq IN
       (SELECT seq FROM events WHERE received_at < @olderThan
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq AND d.status IN ('pending', 'dead'))
           AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.end_event_seq = events.seq AND c.missed_check_at IS NOT NULL)
           -- A call's summary reads all its events: they stay until it falls due (the watcher takes it then).
           AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.source = events.source AND c.call_id = events.subject
                             AND c.summary_check_at > @now)
         ORDER BY received_at LIMIT @limit)`,
  );
  const eventsById = db.prepare<[string], { seq: number; body: string; received_at: number; source: string; subject: string | null }>(
    'SELECT seq, body, received_at, source, subject FROM events WHERE id = ? ORDER BY seq DESC',
  );
  const ping = db.prepare('SELECT 1');
  const probe = db.prepare('INSERT INTO store_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at');

  /** The last write's failure, until a write succeeds again: readiness reports it. */
  let writesFailing: BridgeError | undefined;
  async function write<T>(doing: string, task: () => T | Promise<T>): Promise<T> {
    try {
      const result = await retryingContention(() => guarded(doing, task));
      writesFailing = undefined;
      return result;
    } catch (err) {
      if (err instanceof BridgeError && err.code === 'STORE_UNAVAILABLE') writesFailing = err;
      throw err;
    }
  }

  /** A write of its own (a webhook's commit is the group commit's): answered once it is durable. */
  function writeAlone<T>(doing: string, task: () => T): Promise<T> {
    return write(doing, () => {
      const result = task();
      return durable().then(() => result);
    });
  }

  /** One event's rows; the group commit runs it inside its transaction. */
  const writeEvent = (input: EventWrite): CommitResult => {
    const { event, call, targets } = input.admission;
    const inserted = insertEvent.run(
      input.dedupeKey,
      event.id,
      event.source,
      event.type,
      event.subject ?? null,
      input.receivedAt,
      JSON.stringify(event),
    );
    if (inserted.changes === 0) return DUPLICATE;
    const seq = Number(inserted.lastInsertRowid);
    if (call) calls.save(call, input.receivedAt);
    // Deliveries of one call share an ordering key so they leave in the order accepted.
    const orderKey = event.subject === undefined ? `#${seq}` : callKeyOf(event.source, event.subject);
    for (const target of targets) deliveries.insert(seq, target.route, target.connector, orderKey, input.receivedAt);
    return { duplicate: false, targets };
  };
  // Concurrent webhooks share one transaction and one fsync; each still resolves only after it.
  const groupCommit = createGroupCommit(db, writeEvent, failsEveryWrite, durable);

  /** The commit path; the caller holds the event's call in `queue` when it has one. */
  async function commitInOrder(request: CommitRequest): Promise<CommitResult> {
    const { event } = request;
    const dedupeKey = dedupeKeyOf(event);
    // Cheap early answer for retries; the unique key in `writeEvent` is what actually decides.
    if (await guarded('read events', () => exists.get(dedupeKey) !== undefined)) return DUPLICATE;
    const stored = event.subject === undefined ? undefined : await guarded('read a call', () => calls.get(event.source, event.subject as string));
    const admission = await request.advance(stored);
    return write('commit an event', () => groupCommit({ admission, dedupeKey, receivedAt: request.receivedAt }));
  }

  async function decideInOrder(key: CallKey, now: number, verdict: MissedVerdict): Promise<MissedDecision> {
    const state = await guarded('read a call', () => calls.get(key.source, key.callId));
    if (!state || state.missedCheckAt === undefined || state.missedCheckAt > now) return { outcome: 'not_due' };
    const ending = state.endEventKey === undefined ? undefined : await guarded('read an event', () => readEvent(state.endEventKey as string));
    const derived = await verdict(state, ending);
    if (derived) {
      // Committing `call.missed` advances the call to "emitted" through the same path as any event.
      const result = await commitInOrder(derived);
      if (!result.duplicate) return { outcome: 'emitted', event: derived.event, targets: result.targets };
    }
    // A duplicate derived id is recorded as not missed too, or the check would stay due for ever.
    await writeAlone('record a missed-call decision', () => calls.markNotMissed(key.source, key.callId, now));
    return derived ? { outcome: 'duplicate' } : { outcome: 'not_missed' };
  }

  async function summarizeInOrder(key: CallKey, now: number, verdict: SummaryVerdict): Promise<SummaryDecision> {
    const state = await guarded('read a call', () => calls.get(key.source, key.callId));
    if (!state || state.summaryCheckAt === undefined || state.summaryCheckAt > now) return { outcome: 'not_due' };
    const events = await guarded('read events', () => eventsOfCall.all(key.source, key.callId).map((row) => JSON.parse(row.body) as CanonicalEvent));
    const derived = await verdict(state, events);
    if (derived) {
      const committed: CanonicalEvent[] = [];
      const targets: RouteTarget[] = [];
      // Companions first: if the process dies before the summary, the check is still due and they dedupe next time.
      for (const request of [...derived.companions, derived.summary]) {
        const result = await commitInOrder(request);
        if (result.duplicate) continue;
        committed.push(request.event);
        targets.push(...result.targets);
      }
      if (committed.at(-1) === derived.summary.event) return { outcome: 'emitted', events: committed, targets };
    }
    // A taken summary id ends the check too, or it would stay due for ever.
    const revision = derived ? Number(derived.summary.event.data.revision) || 0 : 0;
    await writeAlone('end a summary check', () => calls.endSummaryCheck(key.source, key.callId, revision, now));
    return derived ? { outcome: 'duplicate' } : { outcome: 'none' };
  }

  function readEvent(dedupeKey: string): CanonicalEvent | undefined {
    const row = eventByKey.get(dedupeKey);
    return row ? (JSON.parse(row.body) as CanonicalEvent) : undefined;
  }

  function trace(eventId: string): EventTrace[] {
    return eventsById.all(eventId).map((row) => ({
      event: JSON.parse(row.body) as CanonicalEvent,
      receivedAt: row.received_at,
      call: row.subject === null ? undefined : calls.get(row.source, row.subject),
      deliveries: deliveries.ofEvent(row.seq),
    }));
  }

  /** The database file and its WAL, as the disk holds them. */
  function sizeBytes(): number | undefined {
    if (path === ':memory:') return undefined;
    let total = 0;
    for (const file of [path, `${path}-wal`]) {
      try {
        total += statSync(file).size;
      } catch {
        // no WAL file right now
      }
    }
    return total;
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    // Commits already queued for the group finish first: their callers were promised an answer.
    await new Promise((resolve) => setImmediate(resolve));
    await walSync?.close();
    if (db.open) db.close();
    lock?.release();
  }

  return {
    db,
    syncsWal: walSync !== undefined,
    commit(request: CommitRequest): Promise<CommitResult> {
      // A bounded wait: past it the provider hears 503 at once and retries, instead of a queue that only grows.
      if (pending >= maxPending) return Promise.reject(new BridgeError('OVERLOADED', 'too many webhooks are waiting for the store; retry shortly'));
      pending++;
      const { event } = request;
      const done = event.subject === undefined ? commitInOrder(request) : queue(callKeyOf(event.source, event.subject), () => commitInOrder(request));
      return done.finally(() => pending--);
    },
    dueMissedChecks: (now, limit) => guarded('read calls', () => calls.dueMissedChecks(now, limit)),
    decideMissed(key: CallKey, now: number, verdict: MissedVerdict): Promise<MissedDecision> {
      return queue(callKeyOf(key.source, key.callId), () => decideInOrder(key, now, verdict));
    },
    dueSummaries: (now, limit) => guarded('read calls', () => calls.dueSummaries(now, limit)),
    decideSummary(key: CallKey, now: number, verdict: SummaryVerdict): Promise<SummaryDecision> {
      return queue(callKeyOf(key.source, key.callId), () => summarizeInOrder(key, now, verdict));
    },
    claim: (connector, now, options) => guarded('claim deliveries', () => deliveries.claim(connector, now, options)),
    async settle(outcomes, now) {
      const result = await writeAlone('record delivery outcomes', () => deliveries.settle(outcomes, now));
      deliveries.release(outcomes, result);
      return result;
    },
    nextDueAt: (connector) => guarded('read deliveries', () => deliveries.nextDueAt(connector)),
    pendingStats: () => guarded('read deliveries', () => deliveries.pendingStats()),
    list: (filter) => guarded('read deliveries', () => deliveries.list(filter)),
    deadStats: () => guarded('read deliveries', () => deliveries.deadStats()),
    delivery: (id) => guarded('read a delivery', () => deliveries.delivery(id)),
    requeue: (ids, now) => writeAlone('requeue deliveries', () => deliveries.requeue(ids, now)),
    replay: (selection, now) => writeAlone('replay deliveries', () => deliveries.replay(selection, now)),
    purgeDead: (before, filter) => writeAlone('purge deliveries', () => deliveries.purgeDead(before, filter.connector)),
    trace: (eventId) => guarded('read an event', () => trace(eventId)),
    pause: (connector, now) => writeAlone('pause a connector', () => deliveries.pause(connector, now)),
    resume: (connector, now) => writeAlone('resume a connector', () => deliveries.resume(connector, now)),
    paused: () => guarded('read pauses', () => deliveries.paused()),
    sizeBytes: () => guarded('read its size', () => sizeBytes()),
    prune: (now, ttlMs, limit) =>
      writeAlone('prune', () =>
        db.transaction(() => {
          const events = pruneEvents.run({ olderThan: now - ttlMs, now, limit }).changes;
          const removedCalls = calls.prune(now - ttlMs, now, limit);
          return { events, calls: removedCalls, more: events === limit || removedCalls === limit };
        }).immediate(),
      ),
    connectorState: (connector, now) => connectorState.scope(connector, now),
    async ping() {
      await guarded('answer', () => void ping.get());
      // Reads work while another connection holds the write lock or the disk is full: try a write.
      if (writesFailing) await writeAlone('write', () => void probe.run(Date.now()));
    },
    close: () => (closing ??= close()),
  };
}
