import { DUPLICATE } from '../../lifecycle/dedupe.js';
import type { CallState, CommitResult, DeliveryOutcome, PruneResult, ReplayResult, ReplaySelection, RouteTarget } from '../types.js';
import { createCallWrites } from './calls.js';
import type { Db } from './db.js';
import { createOutboxWrites } from './outbox-writes.js';

/** What one accepted event writes, all in one transaction; plain data, so it can cross to the writer thread. */
export interface EventWrite {
  readonly dedupeKey: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string | undefined;
  /** The event as stored and delivered, already serialized. */
  readonly body: string;
  /** The call's row after the event; absent when the event does not change it. */
  readonly call: CallState | undefined;
  readonly targets: readonly RouteTarget[];
  readonly receivedAt: number;
}

/** Events of one call share this ordering key, so their deliveries leave in the order accepted. */
export function callKeyOf(source: string, callId: string): string {
  return `${source}\u0000${callId}`;
}

/**
 * Every write the SQLite store makes, as synchronous driver code over plain
 * data: the writer runs them (connection-writer.ts), on the caller's connection or on the
 * writer thread's. Each runs inside the group's transaction; one that needs
 * several statements is a transaction of its own (a savepoint inside the group's).
 */
export function createNamedWrites(db: Db) {
  const deliveries = createOutboxWrites(db);
  const calls = createCallWrites(db);

  const insertEvent = db.prepare(
    `INSERT INTO events (dedupe_key, id, source, type, subject, received_at, body)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
  );
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
  const probe = db.prepare('INSERT INTO store_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at');
  const expireState = db.prepare('DELETE FROM connector_state WHERE expires_at <= ?');
  const upsertState = db.prepare(
    `INSERT INTO connector_state (connector, key, value, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
  );

  return {
    /** An event, its call row and its deliveries; a duplicate (its dedupe key stored already) writes nothing. */
    event(input: EventWrite): CommitResult {
      const inserted = insertEvent.run(input.dedupeKey, input.id, input.source, input.type, input.subject ?? null, input.receivedAt, input.body);
      if (inserted.changes === 0) return DUPLICATE;
      const seq = Number(inserted.lastInsertRowid);
      if (input.call) calls.save(input.call, input.receivedAt);
      const orderKey = input.subject === undefined ? `#${seq}` : callKeyOf(input.source, input.subject);
      for (const target of input.targets) deliveries.insert(seq, target.route, target.connector, orderKey, input.receivedAt);
      return { duplicate: false, targets: input.targets };
    },
    /** Outcomes whose leases the caller has checked (deliveries.ts `acceptOutcomes`). */
    outcomes(outcomes: readonly DeliveryOutcome[], now: number): void {
      deliveries.writeOutcomes(outcomes, now);
    },
    markNotMissed(source: string, callId: string, now: number): void {
      calls.markNotMissed(source, callId, now);
    },
    endSummaryCheck(source: string, callId: string, revision: number, now: number): void {
      calls.endSummaryCheck(source, callId, revision, now);
    },
    requeue(ids: readonly number[], now: number): number {
      return deliveries.requeue(ids, now);
    },
    replay(selection: ReplaySelection, now: number): ReplayResult {
      return deliveries.replay(selection, now);
    },
    purgeDead(before: number, connector: string | undefined): number {
      return deliveries.purgeDead(before, connector);
    },
    pause(connector: string, now: number): boolean {
      return deliveries.pause(connector, now);
    },
    resume(connector: string, now: number): boolean {
      return deliveries.resume(connector, now);
    },
    prune: db.transaction((now: number, ttlMs: number, limit: number): PruneResult => {
      const events = pruneEvents.run({ olderThan: now - ttlMs, now, limit }).changes;
      const removedCalls = calls.prune(now - ttlMs, now, limit);
      return { events, calls: removedCalls, more: events === limit || removedCalls === limit };
    }),
    /** A small write that tells whether writes work again (readiness). */
    probe(now: number): void {
      probe.run(now);
    },
    connectorState(connector: string, key: string, value: string, expiresAt: number, now: number): void {
      expireState.run(now);
      upsertState.run(connector, key, value, expiresAt);
    },
  };
}

export type Writes = ReturnType<typeof createNamedWrites>;
export type WriteName = keyof Writes;
/** One write as it travels: its name and its arguments, plain data. */
export type WriteRequest = { [K in WriteName]: { readonly name: K; readonly args: Parameters<Writes[K]> } }[WriteName];
export type WriteResult<K extends WriteName> = ReturnType<Writes[K]>;
