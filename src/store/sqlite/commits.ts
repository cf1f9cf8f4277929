import type { CanonicalEvent } from '../../dialects/index.js';
import type { CheckEnd } from '../../lifecycle/call-checks.js';
import { dedupeKeyOf, DUPLICATE } from '../../lifecycle/dedupe.js';
import type { Admission, CallKey, CallState, CommitRequest, CommitResult } from '../../lifecycle/types.js';
import type { CallsAdapter, LockedCall } from '../core/adapter.js';
import { encodeRawHeaders } from '../raw.js';
import type { CallReads } from './calls.js';
import type { Writer } from './connection-writer.js';
import type { Db } from './db.js';
import { createKeyedQueue } from './keyed-queue.js';
import { callKeyOf } from './named-writes.js';

/** How many calls the commit path keeps in memory as last committed (`createRecentCalls`). */
const RECENT_CALLS = 10_000;

/** The calls of the SQLite store: commits under each call's queue, and a call held there while its check is decided. */
export interface SqliteCalls extends CallsAdapter {
  /** Forgets every call kept in memory: pruning removed some, and does not say which. */
  forget(): void;
}

/**
 * Every writer of a call lives in this process, so a keyed queue is the
 * per-call lock: reading a call's row, advancing it (routing is asynchronous)
 * and writing it never interleave with another writer of the same call.
 */
export function createSqliteCalls(db: Db, calls: CallReads, writer: Writer): SqliteCalls {
  const queue = createKeyedQueue();
  const recent = createRecentCalls();
  const exists = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM events WHERE dedupe_key = ?');
  const eventByKey = db.prepare<[string], { body: string }>('SELECT body FROM events WHERE dedupe_key = ?');
  const eventsOfCall = db.prepare<[string, string], { body: string }>('SELECT body FROM events WHERE source = ? AND subject = ? ORDER BY seq');

  /** The commit path; the caller holds the event's call in `queue` when it has one. */
  async function commitInOrder(request: CommitRequest): Promise<CommitResult> {
    const { event } = request;
    const dedupeKey = dedupeKeyOf(event);
    // Cheap early answer for retries; the unique key (named-writes.ts `event`) is what actually decides.
    if (exists.get(dedupeKey) !== undefined) return DUPLICATE;
    const key = event.subject === undefined ? undefined : callKeyOf(event.source, event.subject);
    const stored = key === undefined ? undefined : (recent.get(key) ?? calls.get(event.source, event.subject as string));
    const admission = await request.advance(stored);
    try {
      const result = await writer.write('event', eventWrite(admission, dedupeKey, request));
      const committed = admission.call ?? stored;
      if (key !== undefined && !result.duplicate && committed) recent.remember(key, committed);
      return result;
    } catch (err) {
      // Whether it was written is not known: the next event of the call reads it.
      if (key !== undefined) recent.forget(key);
      throw err;
    }
  }

  function lockedCall(key: CallKey, now: number): LockedCall {
    return {
      event: (dedupeKey) => parsed(eventByKey.get(dedupeKey)),
      events: () => eventsOfCall.all(key.source, key.callId).map((row) => JSON.parse(row.body) as CanonicalEvent),
      async commit(requests) {
        const results: CommitResult[] = [];
        for (const request of requests) results.push(await commitInOrder(request));
        return results;
      },
      async end(end: CheckEnd) {
        recent.forget(callKeyOf(key.source, key.callId));
        await writer.write('endCheck', key.source, key.callId, end, now);
      },
    };
  }

  return {
    commit(request) {
      const { event } = request;
      return event.subject === undefined ? commitInOrder(request) : queue(callKeyOf(event.source, event.subject), () => commitInOrder(request));
    },
    withCall: (key, now, task) => queue(callKeyOf(key.source, key.callId), () => task(calls.get(key.source, key.callId), lockedCall(key, now))),
    dueMissedChecks: (now, limit) => calls.dueMissedChecks(now, limit),
    dueSummaries: (now, limit) => calls.dueSummaries(now, limit),
    forget: () => recent.clear(),
  };
}

/** What one admitted event writes (named-writes.ts `event`), as plain data. */
function eventWrite(admission: Admission, dedupeKey: string, { receivedAt, raw }: CommitRequest) {
  const { event, call, targets } = admission;
  const rawBody = raw?.body ?? null;
  const rawHeaders = raw ? encodeRawHeaders(raw.headers) : null;
  return { dedupeKey, id: event.id, source: event.source, type: event.type, subject: event.subject, body: JSON.stringify(event), call, targets, receivedAt, rawBody, rawHeaders };
}

function parsed(row: { body: string } | undefined): CanonicalEvent | undefined {
  return row ? (JSON.parse(row.body) as CanonicalEvent) : undefined;
}

/**
 * The rows of the calls committed lately, as committed, so a call's next event
 * needs no read. Every writer of a call is in this process and under its
 * queue; a write that changes a row otherwise (a decision, pruning) forgets
 * it. Oldest first: the least recently committed goes when it is full.
 */
function createRecentCalls() {
  const rows = new Map<string, CallState>();
  return {
    get: (key: string) => rows.get(key),
    remember(key: string, state: CallState): void {
      rows.delete(key);
      rows.set(key, state);
      if (rows.size > RECENT_CALLS) rows.delete(rows.keys().next().value as string);
    },
    forget: (key: string) => rows.delete(key),
    clear: () => rows.clear(),
  };
}
