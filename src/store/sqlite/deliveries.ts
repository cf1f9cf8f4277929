import { randomUUID } from 'node:crypto';
import type { CanonicalEvent } from '../../dialects/index.js';
import type {
  ClaimedDelivery,
  ClaimOptions,
  DeliveryFilter,
  DeliveryOutcome,
  DeliveryRecord,
  DeliveryStatus,
  PendingStats,
  SettleResult,
} from '../types.js';
import type { Db } from './db.js';

interface Lease {
  readonly token: string;
  readonly until: number;
  readonly connector: string;
  readonly orderKey: string;
}

/**
 * The outbox. Leases live in memory: only one process dispatches from a
 * SQLite file, and a crash then releases every lease with the process, so a
 * restart sends what was in flight at once instead of waiting for leases to
 * lapse (at-least-once, DESIGN.md "The data flow").
 */
export function createDeliveryQueries(db: Db) {
  const leases = new Map<number, Lease>();

  const insert = db.prepare(
    `INSERT INTO deliveries (event_seq, route, connector, order_key, status, next_attempt_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
  );
  // The earliest pending deliveries of each ordering key (one call's events, per
  // connector), if due: at most `perCall` of them, none behind one that is not
  // due, none of a key that is leased. So a retry never lets a later event of
  // the call overtake an earlier one. The OFFSET probe bounds the look back.
  const due = db.prepare<
    [{ connector: string; now: number; leased: string; skip: number; limit: number }],
    { id: number; route: string; connector: string; attempts: number; order_key: string; body: string }
  >(
    `SELECT d.id, d.route, d.connector, d.attempts, d.order_key, e.body
       FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE d.connector = @connector AND d.status = 'pending' AND d.next_attempt_at <= @now
        AND NOT EXISTS (SELECT 1 FROM deliveries p
                         WHERE p.connector = d.connector AND p.order_key = d.order_key
                           AND p.status = 'pending' AND p.id < d.id
                         ORDER BY p.id LIMIT 1 OFFSET @skip)
        AND NOT EXISTS (SELECT 1 FROM deliveries p
                         WHERE p.connector = d.connector AND p.order_key = d.order_key
                           AND p.status = 'pending' AND p.id < d.id AND p.next_attempt_at > @now)
        AND d.order_key NOT IN (SELECT value FROM json_each(@leased))
      ORDER BY d.id LIMIT @limit`,
  );
  const nextDue = db.prepare<[string], { at: number | null }>(
    "SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE connector = ? AND status = 'pending'",
  );
  const delivered = db.prepare(
    "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL, updated_at = ? WHERE id = ?",
  );
  const skipped = db.prepare(
    "UPDATE deliveries SET status = 'delivered', skip_reason = ?, attempts = attempts + 1, last_error = NULL, updated_at = ? WHERE id = ?",
  );
  const retry = db.prepare(
    'UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?',
  );
  const dead = db.prepare(
    "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?",
  );
  const pendingStats = db.prepare<[], PendingStats>(
    "SELECT connector, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status = 'pending' GROUP BY connector",
  );
  const list = db.prepare<[{ status: string | null; connector: string | null; limit: number }], {
    id: number; event_id: string; type: string; route: string; connector: string; status: DeliveryStatus;
    attempts: number; next_attempt_at: number; last_error: string | null; updated_at: number; skip_reason: string | null;
  }>(
    // A skipped delivery is stored as delivered with its reason (migration 4) and read back as 'skipped'.
    `SELECT d.id, e.id AS event_id, e.type, d.route, d.connector,
            CASE WHEN d.skip_reason IS NOT NULL THEN 'skipped' ELSE d.status END AS status,
            d.attempts, d.next_attempt_at, d.last_error, d.updated_at, d.skip_reason
       FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE (@status IS NULL
             OR (@status = 'skipped' AND d.skip_reason IS NOT NULL)
             OR (d.status = @status AND d.skip_reason IS NULL))
        AND (@connector IS NULL OR d.connector = @connector)
      ORDER BY d.id DESC LIMIT @limit`,
  );
  const requeue = db.prepare(
    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'dead'",
  );

  function leasedKeys(connector: string, now: number): string[] {
    const keys = new Set<string>();
    for (const [id, lease] of leases) {
      if (lease.until <= now) leases.delete(id);
      else if (lease.connector === connector) keys.add(lease.orderKey);
    }
    return [...keys];
  }

  const settle = db.transaction((outcomes: readonly DeliveryOutcome[], now: number): SettleResult => {
    const refused: number[] = [];
    let written = 0;
    for (const outcome of outcomes) {
      // A lapsed lease nobody took over still counts: the send it reports was the only one.
      if (leases.get(outcome.id)?.token !== outcome.lease) {
        refused.push(outcome.id);
        continue;
      }
      if (outcome.outcome === 'delivered') delivered.run(now, outcome.id);
      else if (outcome.outcome === 'skipped') skipped.run(outcome.reason, now, outcome.id);
      else if (outcome.outcome === 'retry') retry.run(outcome.at, outcome.error, now, outcome.id);
      else dead.run(outcome.error, now, outcome.id);
      written += 1;
    }
    return { written, refused };
  });

  return {
    /** Must run inside the transaction that stored event `eventSeq`. */
    insert(eventSeq: number, route: string, connector: string, orderKey: string, now: number): void {
      insert.run(eventSeq, route, connector, orderKey, now, now, now);
    },
    claim(connector: string, now: number, options: ClaimOptions): ClaimedDelivery[] {
      const rows = due.all({
        connector,
        now,
        leased: JSON.stringify(leasedKeys(connector, now)),
        skip: Math.max(1, options.maxPerCall) - 1,
        limit: options.limit,
      });
      const token = randomUUID();
      return rows.map((row) => {
        leases.set(row.id, { token, until: now + options.leaseMs, connector, orderKey: row.order_key });
        return {
          id: row.id,
          route: row.route,
          connector: row.connector,
          attempts: row.attempts,
          event: JSON.parse(row.body) as CanonicalEvent,
          lease: token,
        };
      });
    },
    settle(outcomes: readonly DeliveryOutcome[], now: number): SettleResult {
      const result = settle(outcomes, now);
      // Only once the write is durable does the call's next delivery become claimable.
      const refused = new Set(result.refused);
      for (const outcome of outcomes) if (!refused.has(outcome.id)) leases.delete(outcome.id);
      return result;
    },
    nextDueAt(connector: string): number | undefined {
      return nextDue.get(connector)?.at ?? undefined;
    },
    pendingStats(): PendingStats[] {
      return pendingStats.all();
    },
    list(filter: DeliveryFilter): DeliveryRecord[] {
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
        ...(row.skip_reason !== null ? { skipReason: row.skip_reason } : {}),
        updatedAt: row.updated_at,
      }));
    },
    requeue: db.transaction((ids: readonly number[], now: number): number => {
      let moved = 0;
      for (const id of ids) moved += requeue.run(now, now, id).changes;
      return moved;
    }),
  };
}
