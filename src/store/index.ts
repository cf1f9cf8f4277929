import type { CanonicalEvent } from '../dialects/index.js';
import type { CallState } from '../lifecycle/call-state.js';
import { createCallQueries } from './calls.js';
import { createConnectorStateQueries } from './connector-state.js';
import { openDatabase, type Db } from './db.js';
import { createDeliveryQueries } from './deliveries.js';

/** What one accepted webhook writes, all in one transaction. */
export interface EventCommit {
  readonly event: CanonicalEvent;
  readonly dedupeKey: string;
  readonly receivedAt: number;
  /** The call's row after this event, when it concerns a call. */
  readonly call?: CallState;
  readonly targets: readonly { readonly route: string; readonly connector: string }[];
}

export type CommitResult = { readonly duplicate: true } | { readonly duplicate: false; readonly seq: number; readonly deliveries: number };

/**
 * Dedupe key: the provider's event id within its source and type. The type is
 * part of it because the provider's own examples reuse one id across types
 * (seed 001 gives every example `evt_1234567890abcdef`); a retry resends the
 * same type and id.
 */
export function dedupeKeyOf(event: Pick<CanonicalEvent, 'source' | 'type' | 'id'>): string {
  return `${event.source}\u0000${event.type}\u0000${event.id}`;
}

export function createStore(path: string) {
  const db: Db = openDatabase(path);
  const deliveries = createDeliveryQueries(db);
  const calls = createCallQueries(db);
  const connectorState = createConnectorStateQueries(db);

  const exists = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM events WHERE dedupe_key = ?');
  const insertEvent = db.prepare(
    `INSERT INTO events (dedupe_key, id, source, type, subject, received_at, body)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
  );
  const eventByKey = db.prepare<[string], { body: string }>('SELECT body FROM events WHERE dedupe_key = ?');
  const pruneEvents = db.prepare(
    `DELETE FROM events WHERE received_at < ?
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq AND d.status = 'pending')
       AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.end_event_seq = events.seq AND c.missed_check_at IS NOT NULL)`,
  );
  const ping = db.prepare('SELECT 1');

  const commit = db.transaction((input: EventCommit): CommitResult => {
    const { event } = input;
    const inserted = insertEvent.run(
      input.dedupeKey,
      event.id,
      event.source,
      event.type,
      event.subject ?? null,
      input.receivedAt,
      JSON.stringify(event),
    );
    if (inserted.changes === 0) return { duplicate: true };
    const seq = Number(inserted.lastInsertRowid);
    if (input.call) calls.save(input.call, input.receivedAt);
    // Deliveries of one call share an ordering key so they leave in the order accepted.
    const orderKey = event.subject === undefined ? `#${seq}` : `${event.source}\u0000${event.subject}`;
    for (const target of input.targets) {
      deliveries.insert(seq, target.route, target.connector, orderKey, input.receivedAt);
    }
    return { duplicate: false, seq, deliveries: input.targets.length };
  });

  return {
    db,
    deliveries,
    calls,
    connectorState,
    /** Stores the event, its call row and its deliveries atomically; a second copy of an event stores nothing. */
    commit,
    hasEvent(dedupeKey: string): boolean {
      return exists.get(dedupeKey) !== undefined;
    },
    getEvent(dedupeKey: string): CanonicalEvent | undefined {
      const row = eventByKey.get(dedupeKey);
      return row ? (JSON.parse(row.body) as CanonicalEvent) : undefined;
    },
    /**
     * Forgets events older than the dedupe TTL, with their deliveries, unless a
     * delivery is still pending or a missed-call decision still needs them.
     */
    prune(now: number, ttlMs: number): { events: number; calls: number } {
      return db.transaction(() => ({
        events: pruneEvents.run(now - ttlMs).changes,
        calls: calls.prune(now - ttlMs),
      }))();
    },
    /** Throws when the database cannot answer. */
    ping(): void {
      ping.get();
    },
    close(): void {
      if (db.open) db.close();
    },
  };
}

export type Store = ReturnType<typeof createStore>;
export type { DueDelivery, DeliveryRecord, DeliveryStatus } from './deliveries.js';
