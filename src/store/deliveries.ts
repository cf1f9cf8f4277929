import type { CanonicalEvent } from '../dialects/index.js';
import type { Db } from './db.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface DueDelivery {
  readonly id: number;
  readonly route: string;
  readonly connector: string;
  /** Attempts already made before this one. */
  readonly attempts: number;
  readonly event: CanonicalEvent;
}

export interface DeliveryRecord {
  readonly id: number;
  readonly eventId: string;
  readonly type: string;
  readonly route: string;
  readonly connector: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
  readonly updatedAt: number;
}

export function createDeliveryQueries(db: Db) {
  const insert = db.prepare(
    `INSERT INTO deliveries (event_seq, route, connector, order_key, status, next_attempt_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
  );
  // The earliest pending delivery of each ordering key (one call's events, per
  // connector), if it is due. Later ones of the same call wait behind it, so a
  // retry never lets a later event of the call overtake an earlier one.
  const due = db.prepare<[string, number, number], { id: number; route: string; connector: string; attempts: number; body: string }>(
    `SELECT d.id, d.route, d.connector, d.attempts, e.body
       FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE d.connector = ? AND d.status = 'pending' AND d.next_attempt_at <= ?
        AND NOT EXISTS (SELECT 1 FROM deliveries p
                         WHERE p.connector = d.connector AND p.order_key = d.order_key
                           AND p.status = 'pending' AND p.id < d.id)
      ORDER BY d.id LIMIT ?`,
  );
  const nextDue = db.prepare<[string], { at: number | null }>(
    "SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE connector = ? AND status = 'pending'",
  );
  const delivered = db.prepare(
    "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL, updated_at = ? WHERE id = ?",
  );
  const retry = db.prepare(
    'UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?',
  );
  const dead = db.prepare(
    "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?",
  );
  const pendingStats = db.prepare<[], { connector: string; n: number; oldest: number }>(
    "SELECT connector, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status = 'pending' GROUP BY connector",
  );
  const list = db.prepare<[{ status: string | null; connector: string | null; limit: number }], {
    id: number; event_id: string; type: string; route: string; connector: string; status: DeliveryStatus;
    attempts: number; next_attempt_at: number; last_error: string | null; updated_at: number;
  }>(
    `SELECT d.id, e.id AS event_id, e.type, d.route, d.connector, d.status, d.attempts, d.next_attempt_at,
            d.last_error, d.updated_at
       FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE (@status IS NULL OR d.status = @status) AND (@connector IS NULL OR d.connector = @connector)
      ORDER BY d.id DESC LIMIT @limit`,
  );
  const requeue = db.prepare(
    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'dead'",
  );

  return {
    /** Must run inside the transaction that stored event `eventSeq`. */
    insert(eventSeq: number, route: string, connector: string, orderKey: string, now: number): void {
      insert.run(eventSeq, route, connector, orderKey, now, now, now);
    },
    due(connector: string, now: number, limit: number): DueDelivery[] {
      return due.all(connector, now, limit).map((row) => ({
        id: row.id,
        route: row.route,
        connector: row.connector,
        attempts: row.attempts,
        event: JSON.parse(row.body) as CanonicalEvent,
      }));
    },
    /** When the connector's next pending delivery falls due, if it has any. */
    nextDueAt(connector: string): number | undefined {
      return nextDue.get(connector)?.at ?? undefined;
    },
    markDelivered: db.transaction((ids: readonly number[], now: number) => {
      for (const id of ids) delivered.run(now, id);
    }),
    markRetry(id: number, nextAttemptAt: number, error: string, now: number): void {
      retry.run(nextAttemptAt, error, now, id);
    },
    markDead(id: number, error: string, now: number): void {
      dead.run(error, now, id);
    },
    /** Per connector: pending deliveries and when the oldest of them was created. */
    pendingStats(): { connector: string; n: number; oldest: number }[] {
      return pendingStats.all();
    },
    list(filter: { status?: DeliveryStatus; connector?: string; limit?: number }): DeliveryRecord[] {
      return list.all({ status: filter.status ?? null, connector: filter.connector ?? null, limit: filter.limit ?? 100 }).map((row) => ({
        id: row.id,
        eventId: row.event_id,
        type: row.type,
        route: row.route,
        connector: row.connector,
        status: row.status,
        attempts: row.attempts,
        nextAttemptAt: row.next_attempt_at,
        lastError: row.last_error,
        updatedAt: row.updated_at,
      }));
    },
    /** Puts dead deliveries back in the queue (an operator's replay). Returns how many moved. */
    requeueDead: db.transaction((ids: readonly number[], now: number): number => {
      let moved = 0;
      for (const id of ids) moved += requeue.run(now, now, id).changes;
      return moved;
    }),
  };
}

export type DeliveryQueries = ReturnType<typeof createDeliveryQueries>;
