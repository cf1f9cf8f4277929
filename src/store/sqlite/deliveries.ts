import { randomUUID } from 'node:crypto';
import type {
  AttemptRecord,
  ClaimedDelivery,
  ClaimOptions,
  DeadStats,
  DeliveryDetail,
  DeliveryFilter,
  DeliveryOutcome,
  DeliveryRecord,
  PauseRecord,
  PendingStats,
} from '../types.js';
import { claimedFromRow, recordFromRow, type ClaimedRow, type RecordRow } from '../rows.js';
import type { Db } from './db.js';

/**
 * The columns a `RecordRow` reads, from deliveries `d` joined with events `e`. A skipped delivery is stored
 * as delivered with its reason (migration 5) and read back as 'skipped'.
 */
const RECORD_COLUMNS = `d.id, e.id AS event_id, e.type, e.source, e.subject, d.route, d.connector,
  CASE WHEN d.skip_reason IS NOT NULL THEN 'skipped' ELSE d.status END AS status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.replay, d.skip_reason`;

/** A pending delivery as a claim reads it. */
interface ClaimRow extends ClaimedRow {
  order_key: string; next_attempt_at: number;
}

interface Lease {
  readonly token: string;
  readonly until: number;
  readonly connector: string;
  readonly orderKey: string;
  /** Its outcome is being written: held, lapsed or not, until the write ends (`release`). */
  readonly settling?: boolean;
}

/**
 * The outbox as the dispatcher and the admin API read it: claims and their
 * leases, outcomes checked against those leases, listings. Its writes are
 * outbox-writes.ts, on the writer's connection. Leases live in memory: only
 * one process dispatches from a SQLite file, and a crash then releases every
 * lease with the process, so a restart sends what was in flight at once
 * instead of waiting for leases to lapse (at-least-once, DESIGN.md "The data
 * flow").
 */
export function createDeliveryReads(db: Db) {
  const leases = new Map<number, Lease>();

  // Only the earliest pending deliveries of an ordering key (one call's events,
  // per connector) can be handed out, so a claim looks at each key's head, oldest
  // first, and takes the run of due deliveries right behind it: at most
  // `maxPerCall`, none behind one that is not due, none of a key that is leased.
  // A retry thus never lets a later event of the call overtake an earlier one.
  // Each run is an index seek (deliveries_pending), so a claim costs the same
  // whether a call has two pending deliveries or two thousand; the former single
  // query probed every pending delivery's predecessors, quadratic in a backlog.
  // The calls are found by seeking from one ordering key to the next in the index
  // (SQLite has no loose index scan of its own), so a backlog of 100,000 over 500
  // calls costs 500 seeks, not a pass over 100,000 entries per claim. Every head
  // must be known to put them in order, so this reads only the index and each
  // head's row; the events' bodies are read for the deliveries taken: a head with
  // nothing behind it (most calls, under ingest) in one statement for all of them
  // (`byIds`), a longer run by a seek of its own.
  const heads = db.prepare<{ connector: string }, { id: number; order_key: string; next_attempt_at: number; pending: number }>(
    `WITH RECURSIVE keys (key) AS (
       SELECT MIN(order_key) FROM deliveries WHERE connector = @connector AND status = 'pending'
       UNION ALL
       SELECT (SELECT MIN(order_key) FROM deliveries WHERE connector = @connector AND status = 'pending' AND order_key > keys.key)
         FROM keys WHERE keys.key IS NOT NULL
     ),
     h (head, pending) AS (
       -- pending: counted up to 2, all a claim needs to know
       SELECT (SELECT MIN(id) FROM deliveries WHERE connector = @connector AND status = 'pending' AND order_key = keys.key),
              (SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE connector = @connector AND status = 'pending' AND order_key = keys.key LIMIT 2))
         FROM keys WHERE keys.key IS NOT NULL
     )
     SELECT d.id, d.order_key, d.next_attempt_at, h.pending FROM h JOIN deliveries d ON d.id = h.head ORDER BY h.head`,
  );
  const CLAIM_COLUMNS = 'd.id, d.route, d.connector, d.attempts, d.order_key, d.next_attempt_at, e.body, d.budget_from, d.replay';
  const byIds = db.prepare<[string], ClaimRow>(
    `SELECT ${CLAIM_COLUMNS} FROM json_each(?) ids JOIN deliveries d ON d.id = ids.value JOIN events e ON e.seq = d.event_seq`,
  );
  // Read lazily and left when the run ends, without a LIMIT: a bound LIMIT made each run cost 4× as much
  // (63 µs against 15 for a run of one, with better-sqlite3's SQLite).
  const run = db.prepare<[string, string], ClaimRow>(
    `SELECT ${CLAIM_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE d.connector = ? AND d.order_key = ? AND d.status = 'pending'
      ORDER BY d.id`,
  );
  const nextDue = db.prepare<[string], { at: number | null }>(
    "SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE connector = ? AND status = 'pending'",
  );
  const pendingStats = db.prepare<[], PendingStats>(
    "SELECT connector, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status = 'pending' GROUP BY connector",
  );
  const deadStats = db.prepare<[], DeadStats>(
    "SELECT connector, COUNT(*) AS n FROM deliveries WHERE status = 'dead' GROUP BY connector",
  );
  type ListParams = { status: string | null; connector: string | null; route: string | null; event: string | null; call: string | null; since: number | null; before: number | null; limit: number };
  const list = db.prepare<[ListParams], RecordRow>(
    `SELECT ${RECORD_COLUMNS}
       FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE (@status IS NULL
             OR (@status = 'skipped' AND d.skip_reason IS NOT NULL)
             OR (d.status = @status AND d.skip_reason IS NULL))
        AND (@connector IS NULL OR d.connector = @connector)
        AND (@route IS NULL OR d.route = @route) AND (@event IS NULL OR e.id = @event)
        AND (@call IS NULL OR e.subject = @call) AND (@since IS NULL OR d.created_at >= @since)
        AND (@before IS NULL OR d.id < @before)
      ORDER BY d.id DESC LIMIT @limit`,
  );
  const one = db.prepare<[number], RecordRow>(`SELECT ${RECORD_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ?`);
  const ofEvent = db.prepare<[number], RecordRow>(
    `SELECT ${RECORD_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.event_seq = ? ORDER BY d.id`,
  );
  const history = db.prepare<[number], { at: number; outcome: AttemptRecord['outcome']; error: string | null; duration_ms: number | null }>(
    'SELECT at, outcome, error, duration_ms FROM delivery_attempts WHERE delivery_id = ? ORDER BY rowid',
  );
  const isPaused = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM connector_pauses WHERE connector = ?');
  const pauses = db.prepare<[], { connector: string; paused_at: number }>('SELECT connector, paused_at FROM connector_pauses ORDER BY connector');

  function leasedKeys(connector: string, now: number): Set<string> {
    const keys = new Set<string>();
    for (const [id, lease] of leases) {
      if (lease.until <= now && !lease.settling) leases.delete(id);
      else if (lease.connector === connector) keys.add(lease.orderKey);
    }
    return keys;
  }

  // One read transaction for the whole claim: its statements share one snapshot and one read lock.
  const claimDue = db.transaction((connector: string, now: number, options: ClaimOptions): ClaimedDelivery[] => {
    const leased = leasedKeys(connector, now);
    const perCall = Math.max(1, options.maxPerCall);
    const rows: ClaimRow[] = [];
    // Heads taken alone: their rows are read together after the walk.
    const alone: number[] = [];
    for (const head of heads.iterate({ connector })) {
      const left = options.limit - rows.length - alone.length;
      if (left <= 0) break;
      if (leased.has(head.order_key) || head.next_attempt_at > now) continue;
      const room = Math.min(perCall, left);
      if (head.pending === 1 || room === 1) {
        alone.push(head.id);
        continue;
      }
      // The first one behind the head that is not due ends the run, as does the room left.
      const end = rows.length + room;
      for (const row of run.iterate(connector, head.order_key)) {
        if (row.next_attempt_at > now) break;
        rows.push(row);
        if (rows.length === end) break;
      }
    }
    if (alone.length > 0) rows.push(...byIds.all(JSON.stringify(alone)));
    rows.sort((a, b) => a.id - b.id);
    const token = randomUUID();
    return rows.map((row) => {
      leases.set(row.id, { token, until: now + options.leaseMs, connector, orderKey: row.order_key });
      return claimedFromRow(row, token);
    });
  });

  return {
    claim(connector: string, now: number, options: ClaimOptions): ClaimedDelivery[] {
      if (isPaused.get(connector)) return [];
      return claimDue(connector, now, options);
    },
    /**
     * Splits outcomes into those whose lease this process still holds and those
     * refused (claimed again after it lapsed). The accepted ones' leases are held
     * until `release`, however long their write takes, so nobody claims a delivery
     * whose outcome is on its way to the file.
     */
    acceptOutcomes(outcomes: readonly DeliveryOutcome[]): { accepted: DeliveryOutcome[]; refused: number[] } {
      const accepted: DeliveryOutcome[] = [];
      const refused: number[] = [];
      for (const outcome of outcomes) {
        const lease = leases.get(outcome.id);
        // A lapsed lease nobody took over still counts: the send it reports was the only one.
        if (lease?.token !== outcome.lease) {
          refused.push(outcome.id);
          continue;
        }
        leases.set(outcome.id, { ...lease, settling: true });
        accepted.push(outcome);
      }
      return { accepted, refused };
    },
    /** Once the outcomes are durable the call's next delivery becomes claimable; after a failed write, their leases lapse as they would have. */
    release(outcomes: readonly DeliveryOutcome[], written: boolean): void {
      for (const outcome of outcomes) {
        const lease = leases.get(outcome.id);
        if (lease?.token !== outcome.lease) continue;
        if (written) leases.delete(outcome.id);
        else leases.set(outcome.id, { ...lease, settling: false });
      }
    },
    nextDueAt(connector: string): number | undefined {
      if (isPaused.get(connector)) return undefined;
      return nextDue.get(connector)?.at ?? undefined;
    },
    pendingStats(): PendingStats[] {
      return pendingStats.all();
    },
    deadStats(): DeadStats[] {
      return deadStats.all();
    },
    list(filter: DeliveryFilter): DeliveryRecord[] {
      return list
        .all({
          status: filter.status ?? null,
          connector: filter.connector ?? null,
          route: filter.route ?? null,
          event: filter.event ?? null,
          call: filter.call ?? null,
          since: filter.since ?? null,
          before: filter.before ?? null,
          limit: filter.limit ?? 100,
        })
        .map(recordFromRow);
    },
    delivery(id: number): DeliveryDetail | undefined {
      const row = one.get(id);
      if (!row) return undefined;
      const attempts = history.all(id).map((entry) => ({ at: entry.at, outcome: entry.outcome, error: entry.error, durationMs: entry.duration_ms }));
      return { ...recordFromRow(row), history: attempts };
    },
    /** The deliveries of one stored event (by its sequence number), in creation order. */
    ofEvent(eventSeq: number): DeliveryRecord[] {
      return ofEvent.all(eventSeq).map(recordFromRow);
    },
    paused(): PauseRecord[] {
      return pauses.all().map((row) => ({ connector: row.connector, since: row.paused_at }));
    },
  };
}
