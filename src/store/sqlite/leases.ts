import { randomUUID } from 'node:crypto';
import type { ClaimedDelivery, ClaimOptions, DeliveryOutcome } from '../types.js';
import { claimedFromRow, type ClaimedRow } from '../rows.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

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

// Only the earliest pending deliveries of an ordering key (one call's events,
// per connector) can be handed out, so a claim looks at each key's head, oldest
// first, and takes the run of due deliveries right behind it: at most
// `maxPerCall`, none behind one that is not due, none of a key that is leased.
// A retry thus never lets a later event of the call overtake an earlier one.
// Each run is an index seek (deliveries_pending), so a claim costs the same
// whether a call has two pending deliveries or two thousand. The calls are
// found by seeking from one ordering key to the next in the index (SQLite has
// no loose index scan of its own), so a backlog over many calls costs one seek
// per call, not a pass over every pending delivery per claim. Every head must
// be known to put them in order, so this reads only the index and each head's
// row; the events' bodies are read for the deliveries taken: a head with
// nothing behind it (most calls, under ingest) in one statement for all of them
// (`BY_IDS`), a longer run by a seek of its own (`RUN`).
const HEADS = `WITH RECURSIVE keys (key) AS (
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
  SELECT d.id, d.order_key, d.next_attempt_at, h.pending FROM h JOIN deliveries d ON d.id = h.head ORDER BY h.head`;

const CLAIM_COLUMNS = 'd.id, d.route, d.connector, d.attempts, d.order_key, d.next_attempt_at, e.body, d.budget_from, d.replay';

const BY_IDS = `SELECT ${CLAIM_COLUMNS} FROM json_each(?) ids JOIN deliveries d ON d.id = ids.value JOIN events e ON e.seq = d.event_seq`;

// Read lazily and left when the run ends, without a LIMIT: a bound LIMIT made each run costlier.
const RUN = `SELECT ${CLAIM_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
  WHERE d.connector = ? AND d.order_key = ? AND d.status = 'pending'
  ORDER BY d.id`;

/**
 * The outbox's claims and their leases, and outcomes checked against those
 * leases. Leases live in memory: only one process dispatches from a SQLite
 * file, and a crash then releases every lease with the process, so a restart
 * sends what was in flight at once instead of waiting for leases to lapse
 * (at-least-once). The outcomes are written by outbox-writes.ts.
 */
export function createLeases(db: Db) {
  const leases = new Map<number, Lease>();
  const statements: ClaimStatements = {
    heads: db.prepare<{ connector: string }, HeadRow>(HEADS),
    byIds: db.prepare<[string], ClaimRow>(BY_IDS),
    run: db.prepare<[string, string], ClaimRow>(RUN),
  };

  function leasedKeys(connector: string, now: number): Set<string> {
    const keys = new Set<string>();
    for (const [id, lease] of leases) {
      if (lease.until <= now && !lease.settling) leases.delete(id);
      else if (lease.connector === connector) keys.add(lease.orderKey);
    }
    return keys;
  }

  // One read transaction for the whole claim: its statements share one snapshot and one read lock.
  const claim = db.transaction((connector: string, now: number, options: ClaimOptions): ClaimedDelivery[] => {
    const rows = dueRuns(statements, connector, leasedKeys(connector, now), now, options);
    const token = randomUUID();
    return rows.map((row) => {
      leases.set(row.id, { token, until: now + options.leaseMs, connector, orderKey: row.order_key });
      return claimedFromRow(row, token);
    });
  });

  return {
    claim: (connector: string, now: number, options: ClaimOptions): ClaimedDelivery[] => claim(connector, now, options),
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
  };
}

export type Leases = ReturnType<typeof createLeases>;

interface HeadRow {
  id: number; order_key: string; next_attempt_at: number; pending: number;
}

interface ClaimStatements {
  readonly heads: Statement<[{ connector: string }], HeadRow>;
  readonly byIds: Statement<[string], ClaimRow>;
  readonly run: Statement<[string, string], ClaimRow>;
}

/** The deliveries a claim hands out, oldest first: a run of each ordering key not `leased` whose head is due (see `HEADS`). */
function dueRuns(statements: ClaimStatements, connector: string, leased: ReadonlySet<string>, now: number, options: ClaimOptions): ClaimRow[] {
  const perCall = Math.max(1, options.maxPerCall);
  const rows: ClaimRow[] = [];
  // Heads taken alone: their rows are read together after the walk.
  const alone: number[] = [];
  for (const head of statements.heads.iterate({ connector })) {
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
    for (const row of statements.run.iterate(connector, head.order_key)) {
      if (row.next_attempt_at > now) break;
      rows.push(row);
      if (rows.length === end) break;
    }
  }
  if (alone.length > 0) rows.push(...statements.byIds.all(JSON.stringify(alone)));
  return rows.sort((a, b) => a.id - b.id);
}
