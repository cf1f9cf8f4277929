import { statSync } from 'node:fs';
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
import { createCallReads } from './calls.js';
import { createConnectorStateQueries } from './connector-state.js';
import { openDatabase, syncsWalItself, type Db, type Synchronous } from './db.js';
import { createDeliveryReads } from './deliveries.js';
import { guarded, toStoreError } from './errors.js';
import { createKeyedQueue } from './keyed-queue.js';
import { lockForServing } from './process-lock.js';
import { createProviderReads } from './provider-reads.js';
import { createWriter, type Writer } from './writer.js';
import { startWriterThread } from './writer-thread.js';
import { callKeyOf, type WriteName, type WriteResult, type Writes } from './writes.js';

/** The store on one SQLite file, for one process. */
export interface SqliteStore extends Store {
  /** The connection itself, for tests and maintenance only: code above the store uses `Store`. */
  readonly db: Db;
  /** At `full` on a file: the store syncs the WAL itself before each answer (SQLite itself then runs at NORMAL). */
  readonly syncsWal: boolean;
  /** Where the writes run: on the writer thread (writer-thread.ts, `writer.thread` is set) or on this connection. For tests. */
  readonly writer: Writer;
}

const DUPLICATE: CommitResult = { duplicate: true };

/** How many calls the commit path keeps in memory as last committed (`recentCalls`). */
const RECENT_CALLS = 10_000;

export interface SqliteStoreOptions {
  /** For the process that serves from the file: refuse to open while another one does (STORE_LOCKED). */
  readonly exclusive?: boolean;
  /** `false` opens an existing file only (the CLI's inspection commands): a missing one is `STORE_NOT_FOUND`. */
  readonly create?: boolean;
  /** `full` (the default): an acknowledged event survives power loss; `normal`: a crash of the process only. */
  readonly synchronous?: Synchronous;
  /** Commits waiting at once (for their call, their read, their write) beyond which `commit` answers OVERLOADED at once. */
  readonly maxPendingCommits?: number;
  /**
   * Writes from a thread of their own, on a connection of their own, so the
   * caller's event loop never runs a commit (default: for the serving process,
   * on a file). Without it they run on the caller's connection.
   */
  readonly writerThread?: boolean;
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
  const threaded = (options.writerThread ?? options.exclusive === true) && path !== ':memory:';
  const writerOptions = { path, ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }) };
  // At `full`, nothing is answered before the WAL holding it is synced; the sync runs off the event loop.
  const writer: Writer = threaded ? startWriterThread(writerOptions) : createWriter(db, writerOptions);
  const deliveries = createDeliveryReads(db);
  const calls = createCallReads(db);
  const providerReads = createProviderReads(db);
  // Every writer of a call lives in this process, so a keyed queue is the per-call serialization.
  const queue = createKeyedQueue();
  // The rows of the calls committed lately, as committed, so a call's next event needs no read. Every
  // writer of a call is in this process and under `queue`; a write that changes a row otherwise (a
  // decision, pruning) forgets it. Oldest first: the least recently committed goes when it is full.
  const recentCalls = new Map<string, CallState>();
  function remember(key: string, state: CallState): void {
    recentCalls.delete(key);
    recentCalls.set(key, state);
    if (recentCalls.size > RECENT_CALLS) recentCalls.delete(recentCalls.keys().next().value as string);
  }
  const maxPending = options.maxPendingCommits ?? Number.POSITIVE_INFINITY;
  let pending = 0;

  const exists = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM events WHERE dedupe_key = ?');
  const eventByKey = db.prepare<[string], { body: string }>('SELECT body FROM events WHERE dedupe_key = ?');
  const eventsOfCall = db.prepare<[string, string], { body: string }>('SELECT body FROM events WHERE source = ? AND subject = ? ORDER BY seq');
  const eventsById = db.prepare<[string], { seq: number; body: string; received_at: number; source: string; subject: string | null }>(
    'SELECT seq, body, received_at, source, subject FROM events WHERE id = ? ORDER BY seq DESC',
  );
  const ping = db.prepare('SELECT 1');

  /** The last write's failure, until a write succeeds again: readiness reports it. */
  let writesFailing: BridgeError | undefined;
  /** One write (writes.ts), answered once it is durable; every write of a turn shares one transaction and one sync. */
  async function write<K extends WriteName>(doing: string, name: K, ...args: Parameters<Writes[K]>): Promise<WriteResult<K>> {
    try {
      const result = await writer.write(doing, name, ...args);
      writesFailing = undefined;
      return result;
    } catch (err) {
      if (err instanceof BridgeError && err.code === 'STORE_UNAVAILABLE') writesFailing = err;
      throw err;
    }
  }
  const connectorState = createConnectorStateQueries(db, (connector, key, value, expiresAt, now) =>
    write('write connector state', 'connectorState', connector, key, value, expiresAt, now),
  );

  function commitAdmission(admission: Admission, dedupeKey: string, receivedAt: number): Promise<CommitResult> {
    const { event, call, targets } = admission;
    return write('commit an event', 'event', {
      dedupeKey,
      id: event.id,
      source: event.source,
      type: event.type,
      subject: event.subject,
      body: JSON.stringify(event),
      call,
      targets,
      receivedAt,
    });
  }

  /** The commit path; the caller holds the event's call in `queue` when it has one. */
  async function commitInOrder(request: CommitRequest): Promise<CommitResult> {
    const { event } = request;
    const dedupeKey = dedupeKeyOf(event);
    // Cheap early answer for retries; the unique key (writes.ts `event`) is what actually decides.
    if (await guarded('read events', () => exists.get(dedupeKey) !== undefined)) return DUPLICATE;
    const key = event.subject === undefined ? undefined : callKeyOf(event.source, event.subject);
    const stored = key === undefined ? undefined : (recentCalls.get(key) ?? (await guarded('read a call', () => calls.get(event.source, event.subject as string))));
    const admission = await request.advance(stored);
    try {
      const result = await commitAdmission(admission, dedupeKey, request.receivedAt);
      const committed = admission.call ?? stored;
      if (key !== undefined && !result.duplicate && committed) remember(key, committed);
      return result;
    } catch (err) {
      // Whether it was written is not known: the next event of the call reads it.
      if (key !== undefined) recentCalls.delete(key);
      throw err;
    }
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
    recentCalls.delete(callKeyOf(key.source, key.callId));
    await write('record a missed-call decision', 'markNotMissed', key.source, key.callId, now);
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
    recentCalls.delete(callKeyOf(key.source, key.callId));
    await write('end a summary check', 'endSummaryCheck', key.source, key.callId, revision, now);
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
    await writer.close();
    if (db.open) db.close();
    lock?.release();
  }

  return {
    db,
    syncsWal: syncsWalItself(path, options.synchronous),
    writer,
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
      const { accepted, refused } = deliveries.acceptOutcomes(outcomes);
      let written = false;
      try {
        if (accepted.length > 0) await write('record delivery outcomes', 'outcomes', accepted, now);
        written = true;
      } finally {
        deliveries.release(accepted, written);
      }
      return { written: accepted.length, refused };
    },
    nextDueAt: (connector) => guarded('read deliveries', () => deliveries.nextDueAt(connector)),
    pendingStats: () => guarded('read deliveries', () => deliveries.pendingStats()),
    list: (filter) => guarded('read deliveries', () => deliveries.list(filter)),
    deadStats: () => guarded('read deliveries', () => deliveries.deadStats()),
    delivery: (id) => guarded('read a delivery', () => deliveries.delivery(id)),
    requeue: (ids, now) => write('requeue deliveries', 'requeue', ids, now),
    replay: (selection, now) => write('replay deliveries', 'replay', selection, now),
    purgeDead: (before, filter) => write('purge deliveries', 'purgeDead', before, filter.connector),
    trace: (eventId) => guarded('read an event', () => trace(eventId)),
    pause: (connector, now) => write('pause a connector', 'pause', connector, now),
    resume: (connector, now) => write('resume a connector', 'resume', connector, now),
    paused: () => guarded('read pauses', () => deliveries.paused()),
    sizeBytes: () => guarded('read its size', () => sizeBytes()),
    async prune(now, ttlMs, limit) {
      const result = await write('prune', 'prune', now, ttlMs, limit);
      // Which calls went is not told; the calls of the next events are read again.
      if (result.calls > 0) recentCalls.clear();
      return result;
    },
    connectorState: (connector, now) => connectorState.scope(connector, now),
    lastReceivedAt: (source, exceptTypes) => guarded('read events', () => providerReads.lastReceivedAt(source, exceptTypes)),
    storedEventIds: (source, ids) => guarded('read events', () => providerReads.storedEventIds(source, ids)),
    async ping() {
      await guarded('answer', () => void ping.get());
      // Reads work while another connection holds the write lock or the disk is full: try a write.
      if (writesFailing) await write('write', 'probe', Date.now());
    },
    close: () => (closing ??= close()),
  };
}
